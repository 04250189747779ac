//! Fakes for the bot's integration tests: a Helix/OAuth HTTP server returning Twitch's documented
//! JSON and a webhook sink standing in for Discord and Slack (the fake IRC server is
//! `chatters_bot::irc::fake`).
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fakes"
)]

pub mod fake_helix;
pub mod webhook_sink;
