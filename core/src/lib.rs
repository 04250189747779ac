//! Core of chatters: the domain model, storage, ingestion and the SPEC figures.
//!
//! # Layout
//! - [`domain`]: validated newtypes (user ids, logins, stream ids, timestamps).
//! - [`event`]: the [`event::Event`] enum everything is ingested as.
//! - [`store`]: the [`store::Store`] handle on SQLite, MariaDB or PostgreSQL, split by concern,
//!   and the [`store::Batch`] of row changes.
//! - [`tracker`]: in-memory presence per channel, clock-free; turns events into row changes.
//! - [`ingest`]: the bounded queue and batched writer around the tracker.
//! - [`metrics`]: the Prometheus registry both halves register their counters with.
//! - [`bots`]: the shipped known-bot list and per-channel rules.
//! - [`channel_settings`]: per-channel settings, typed; the `channel set` parser; roles and
//!   per-command access.
//! - [`stats`]: every SPEC definition, computed over the store.
//! - [`audience`]: viewers and categories, watch time and regulars (second wave).
//! - [`signals`]: emotes and moods counted from message text on its way in (the text is
//!   never kept), the mood lexicon, per-channel matchers, activity and mood figures.
//! - [`retention`]: `RETENTION`: stream figures frozen at their end, daily pruning.
//! - [`charts`]: series, streams and account clusters as PNG (plotters, embedded font).
//! - [`settings`]: the validated configuration.
//! - [`apikey`]: API keys (generation, stored hash, constant-time check).
//! - [`export`]: CSV/JSON exports of a channel's chatters, streamed in chunks.
//! - [`health`]: the components `/healthz` reports (database, IRC, Helix) and the SQLite
//!   integrity check.
//! - `testing` (cargo feature `testing`): per-test databases on every backend, event
//!   builders and the ingestion pipeline, for the tests of every crate.

pub mod apikey;
pub mod audience;
pub mod bots;
pub mod channel_settings;
pub mod charts;
pub mod domain;
pub mod event;
pub mod export;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod retention;
pub mod settings;
pub mod signals;
pub mod stats;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tracker;
