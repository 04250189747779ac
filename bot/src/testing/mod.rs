//! Fakes of Twitch for the integration tests and examples (cargo feature `fake`; never in the
//! shipped binary).
//!
//! - [`fake_helix`]: a Helix/OAuth HTTP server speaking Twitch's documented JSON, with real
//!   per-token rate-limit buckets, failure injection and a record of every call.
//! - [`webhook_sink`]: an HTTP server standing in for Discord and Slack webhooks.

pub mod fake_helix;
pub mod webhook_sink;
