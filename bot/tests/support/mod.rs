//! Fakes of Twitch for the bot's integration tests: an IRC server speaking Twitch's dialect and
//! a Helix/OAuth HTTP server returning Twitch's documented JSON.
#![allow(dead_code)]

pub mod fake_helix;
pub mod fake_irc;
