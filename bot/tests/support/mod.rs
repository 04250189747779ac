//! Fakes for the bot's integration tests: the Helix/OAuth server of `chatters_bot::testing` with
//! test-only helpers (the fake IRC server is `chatters_bot::irc::fake`, the webhook sink
//! `chatters_bot::testing::webhook_sink`).
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fakes"
)]

pub mod fake_helix;
