//! The bot half of chatters: Twitch connectivity, scheduling, chat commands and recaps. The
//! binary (the root package `chatters`) wires it beside the web half; the two never import
//! each other and meet only in `chatters-core`.
//!
//! # Layout
//! - [`twitch`]: credentials and Helix ([`twitch::connect`]), then every Twitch task
//!   ([`twitch::spawn`]) into [`tasks::Tasks`]; [`error::ConfigError`]: what makes the binary
//!   exit 2.
//! - [`twitch_http`]: our own `twitch_api::HttpClient` (base URLs, rate-limit budget,
//!   metrics), under [`helix`]: the typed Helix calls (retries, refresh on 401), and
//!   [`auth`]: token validation, refresh, app tokens.
//! - [`irc`]: the twitch-irc client (custom connector, membership, reconnects) and the
//!   translation of IRC lines into observations.
//! - [`observed`]: what the Twitch side observes ([`observed::Observed`]), the one type from
//!   the IRC translation to identity resolution.
//! - [`emote_sets`]: 7TV, BetterTTV and FrankerFaceZ sets and mood rules → the matchers
//!   the IRC task scans messages with (chat signals).
//! - [`identity`]: login → user id resolution (Helix Get Users, cached).
//! - [`scheduler`]: wanted channels, snapshots, stream polling.
//! - [`recap`]: stream recaps and weekly digests to Discord and Slack, exactly once.
//! - `testing` (feature `fake`): a fake Twitch Helix/OAuth server for tests and examples.

pub mod api;
pub mod auth;
pub mod commands;
pub mod emote_sets;
pub mod error;
pub mod helix;
pub mod identity;
pub mod irc;
pub mod lease;
pub mod observed;
pub mod recap;
pub mod scheduler;
pub mod tasks;
#[cfg(feature = "fake")]
#[doc(hidden)]
pub mod testing;
pub mod twitch;
pub mod twitch_http;
