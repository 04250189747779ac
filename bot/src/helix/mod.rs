//! Helix, the Twitch API: the typed calls chatters makes ([`Helix`]), over the HTTP client
//! shared with OAuth ([`crate::twitch_http`], re-exported here: [`TwitchHttp`],
//! [`TransportError`], the call metrics).
//!
//! # Layout
//! This file only declares the submodules and re-exports their public items.
//! - `client`: [`Helix`] (HTTP client, credentials, retry policy).
//! - `endpoints`: the typed calls and their answers ([`HelixUser`], [`Chatters`], [`LiveStream`]).
//! - `call`: one GET with retries, token refresh on 401 and error classification; pagination.
//! - `retry`: [`RetryPolicy`].
//! - [`error`] holds [`HelixError`].
//!
//! Values Twitch sends that do not parse as our domain types (a login with a space, a user id
//! that is not a number) are skipped with a warning, never a panic and never a failed call.

mod call;
mod client;
mod endpoints;
pub mod error;
mod retry;

pub use client::Helix;
pub use endpoints::{BATCH, CHATTERS_PAGE, Chatters, HelixUser, LiveStream};
pub use error::HelixError;
pub use retry::RetryPolicy;

pub use crate::twitch_http::{
    HelixMetrics, HttpConfig, MetricsSnapshot, TransportError, TransportKind, TwitchHttp,
};
