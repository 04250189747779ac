//! The HTTP layer under both [`crate::auth`] (OAuth) and [`crate::helix`] (Helix): our
//! `twitch_api::HttpClient` ([`TwitchHttp`]: per-instance base URLs, one rate-limit budget per
//! token, metrics) and its [`TransportError`]. It imports neither of them, so `auth` and
//! `helix` share it without importing each other both ways (`helix` uses `auth` for tokens).
//!
//! # Layout
//! - [`client`]: the HTTP client; [`ratelimit`]: the per-token bucket fed by `Ratelimit-*`;
//!   [`metrics`]: call counters; [`error`]: [`TransportError`].
//!
//! This file only declares and re-exports.

pub mod client;
pub mod error;
pub mod metrics;
pub mod ratelimit;

pub use client::{HttpConfig, TwitchHttp};
pub use error::{TransportError, TransportKind};
pub use metrics::{HelixMetrics, MetricsSnapshot};
