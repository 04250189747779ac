//! Test support of the root package: [`live`] runs the whole process ([`chatters::run::run_until`])
//! against the fake Twitch IRC and Helix servers of `chatters-bot` (feature `fake`);
//! [`process`] runs the `chatters` binary itself, as a user would.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

pub mod cdp;
pub mod dashboard;
pub mod live;
pub mod process;
