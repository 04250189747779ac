//! Storage: the [`Store`] handle on one SQLite, MariaDB or PostgreSQL database, split by
//! concern, each concern's SQL written once for the three backends next to its row types.
//!
//! Storage grows with *changes*: a user present in many consecutive snapshots is one presence
//! interval, one row per stream and one row per channel, however many snapshots saw them.
//!
//! # Layout
//! - `pool`: the [`Store`] type, its backend pool and the per-backend dispatch macros.
//! - `connect`: [`open`], [`Backend`], [`ConnectOptions`], migrations, the SQLite checkpointer.
//! - `error`, `keys`: [`StoreError`], [`ChannelKey`] and [`StreamKey`].
//! - `dialect`: SQL differences between the backends, chunk sizes, inlined id lists.
//! - `bulk`: the one bulk upsert (PostgreSQL `UNNEST` arrays, fixed-size `VALUES` elsewhere).
//! - `batch`, `commit`: the [`Batch`] of row changes and its commit in one transaction;
//!   `totals`: each user's all-time totals in a channel, kept in the channel row.
//! - `channels`, `streams`, `users`, `figures`: rows and the reads behind the figures.
//! - `tracking`: dangling presence, opt-out/in, process state.
//! - `audience`: stream samples and game names, watch time, regulars per stream.
//! - `apikeys`, `summaries`, `export`: API keys, recap/digest bookkeeping, export paging.
//! - `sessions`, `chatter_table`: dashboard sessions and the dashboard's chatter table pages.
//! - `signals`: chat activity and mood per minute, emote uses per stream (never text).
//! - `retention`: frozen stream figures and the pruning of old per-user history (`RETENTION`);
//!   `maintenance`: pending migrations and SQLite backups.
//!
//! Every public type is re-exported here (`chatters_core::store::X`).

mod apikeys;
mod audience;
mod batch;
mod bulk;
mod channels;
mod chatter_table;
mod commit;
mod commit_clock;
mod connect;
mod dialect;
mod error;
mod export;
mod figures;
mod fresh;
mod held_totals;
mod keys;
mod maintenance;
mod mark_cache;
mod marks;
mod pool;
mod retention;
mod sessions;
mod signals;
mod stream_sums;
mod streams;
mod summaries;
mod totals;
mod tracking;
mod uncommitted;
mod users;

pub use apikeys::{ApiKeyId, ApiKeyRecord};
pub use audience::{REGULAR_MIN, REGULAR_STREAMS, RegularRow, Sample, StreamSample, UserWatch};
pub use batch::{
    Batch, ChannelUserDelta, SeriesRow, Sighting, StreamRef, StreamUserDelta, UserRow,
};
pub use channels::{BotRule, Channel};
pub use chatter_table::{ChatterQuery, ChatterSort};
pub use commit_clock::{ClockState, CommitWatch};
pub use connect::{Backend, ConnectOptions, open, url_host};
pub use error::StoreError;
pub use figures::{NewChatter, Raid, SeriesPoint, UserCount};
pub use fresh::StoredRow;
pub use keys::{ChannelKey, StreamKey};
pub use pool::Store;
pub use retention::{Pruned, TIMED_TABLES};
pub use sessions::WebSession;
pub(crate) use signals::rank_emotes;
pub use signals::{EmoteRow, MinuteDelta, MinuteRow, SignalsBatch};
pub use stream_sums::StreamCounts;
pub use streams::Stream;
pub use summaries::{DisabledTarget, Summary, SummaryState, SummaryUpdate};
pub use totals::totals_written_mark;
pub use uncommitted::{ChannelSlice, Overlay, PendingRow, Uncommitted};
pub use users::{ChannelUser, NameRecord, User};
