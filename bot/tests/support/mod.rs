//! Fakes for the bot's integration tests: an IRC server speaking Twitch's dialect, a
//! Helix/OAuth HTTP server returning Twitch's documented JSON, and a webhook sink standing in
//! for Discord and Slack.
#![allow(dead_code)]

pub mod fake_helix;
pub mod fake_irc;
pub mod webhook_sink;
