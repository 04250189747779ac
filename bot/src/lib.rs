//! The `chatters` bot: Twitch connectivity, scheduling, chat commands and recaps, and the
//! process around them. The binary (`src/main.rs`) only calls [`startup::main`].
//!
//! # Layout
//! - [`startup`]: `.env`, settings, logging, exit codes; [`cli`]: the command line;
//!   [`app`]: dispatches a subcommand; [`run`]: the long-lived tasks until a signal;
//!   [`channel`]: `chatters channel ...`; [`apikey`]: `chatters apikey ...`; [`export`]:
//!   `chatters export`; [`import`]: `chatters import` (backfill from raw IRC logs).
//! - [`twitch_http`]: our own `twitch_api::HttpClient` (base URLs, rate-limit budget,
//!   metrics), under [`helix`]: the typed Helix calls (retries, refresh on 401), and
//!   [`auth`]: token validation, refresh, app tokens.
//! - [`irc`]: the twitch-irc client (custom connector, membership, reconnects) and the
//!   translation of IRC lines into observations.
//! - [`observed`]: what the Twitch side observes ([`observed::Observed`]), the one type from
//!   the IRC translation to identity resolution.
//! - [`identity`]: login → user id resolution (Helix Get Users, cached).
//! - [`scheduler`]: wanted channels, snapshots, stream polling.
//! - [`recap`]: stream recaps and weekly digests to Discord and Slack, exactly once.
//! - `testing` (feature `fake`): a fake Twitch Helix/OAuth server for tests and examples.

pub mod api;
pub mod apikey;
pub mod app;
pub mod auth;
pub mod channel;
pub mod cli;
pub mod commands;
pub mod export;
pub mod helix;
pub mod identity;
pub mod import;
pub mod irc;
pub mod lease;
pub mod observed;
pub mod recap;
pub mod run;
pub mod scheduler;
pub mod startup;
#[cfg(feature = "fake")]
#[doc(hidden)]
pub mod testing;
pub mod twitch;
pub mod twitch_http;
