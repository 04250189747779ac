//! Storage: the [`Store`] trait, one implementation per backend (SQLite, MariaDB, PostgreSQL)
//! generated from one SQL body in [`sql`], the [`Batch`] of row changes the ingestion writer
//! commits, and [`open`] which picks the backend from `DATABASE_URL`.
//!
//! Storage grows with *changes*: a user present in many consecutive snapshots is one presence
//! interval, one row per stream and one row per channel, however many snapshots saw them.

mod batch;
mod sql;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

pub use batch::{
    Batch, ChannelUserDelta, SeriesRow, Sighting, StreamRef, StreamUserDelta, UserRow,
};
pub use sql::{MySqlStore, PostgresStore, SqliteStore};

use crate::domain::{Login, StreamId, Timestamp, UserId};

/// Internal key of a channel row (not the Twitch id, which may be unknown at first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKey(pub i64);

/// Internal key of a stream row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey(pub i64);

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path` (created with WAL on first run).
    Sqlite,
    /// `mysql://` or `mariadb://` (MariaDB 10.11+).
    MySql,
    /// `postgres://` or `postgresql://` (PostgreSQL 15+).
    Postgres,
}

impl Backend {
    /// The backend named by a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedUrl(scheme.to_owned())),
        }
    }
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL's scheme is not one chatters supports.
    #[error("unsupported database URL scheme {0:?} (expected sqlite://, mysql:// or postgres://)")]
    UnsupportedUrl(String),
    /// The database could not be reached within the start-up grace period.
    #[error("database at {host} unreachable: {reason}")]
    Unreachable {
        /// Host (never the password).
        host: String,
        /// Last connection error (its text; sqlx never puts the password in it).
        reason: sqlx::Error,
    },
    /// A migration failed to apply.
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Sql(sqlx::Error),
    /// A channel that was never added.
    #[error("channel {0} is not tracked (add it first)")]
    UnknownChannel(Login),
    /// A value stored in the database that does not parse.
    #[error("corrupt value in column {column}: {value:?}")]
    Corrupt {
        /// Column.
        column: &'static str,
        /// What was found.
        value: String,
    },
}

// The cause is part of each message above, so it is not also exposed as `source()`: error
// chains print it once.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(e)
    }
}

/// A channel row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Internal key.
    pub key: ChannelKey,
    /// Login.
    pub login: Login,
    /// Broadcaster's Twitch user id, once known.
    pub twitch_id: Option<UserId>,
    /// True when added by `chatters channel add` (joined on every start).
    pub wanted: bool,
    /// When the row was created.
    pub added_at: Timestamp,
}

/// A stream row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Internal key.
    pub key: StreamKey,
    /// Twitch's stream id.
    pub id: StreamId,
    /// Channel.
    pub channel: ChannelKey,
    /// Helix `started_at`.
    pub started_at: Timestamp,
    /// First offline poll; `None` while live.
    pub ended_at: Option<Timestamp>,
    /// Title.
    pub title: String,
    /// Largest IRC-tracked presence (used when no snapshot was taken during the stream).
    pub irc_peak: i64,
}

/// How a login is treated by the known-bot list of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotRule {
    /// `bots.add`: excluded from figures in this channel.
    Add,
    /// `bots.allow`: a shipped bot counted as a chatter in this channel.
    Allow,
}

impl BotRule {
    fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Allow => "allow",
        }
    }
}

/// Raw per-stream aggregates, over users not in the excluded set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamCounts {
    /// Users with a non-part observation.
    pub unique: i64,
    /// Of those, first observed ever in the channel during the stream.
    pub new: i64,
    /// Users whose message carried `first-msg=1`.
    pub first_time: i64,
    /// Messages.
    pub messages: i64,
    /// Unique users without a message.
    pub lurkers: i64,
}

/// One user's figures in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelUser {
    /// Id.
    pub user_id: UserId,
    /// Current login.
    pub login: Login,
    /// Display name (the login when unknown).
    pub display_name: String,
    /// First observation in the channel.
    pub first_seen: Timestamp,
    /// Latest recorded observation.
    pub last_seen: Timestamp,
    /// Messages in the channel.
    pub messages: i64,
    /// Streams in which the user was a unique chatter.
    pub streams_attended: i64,
}

/// A user's identity row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Current login.
    pub login: Login,
    /// Display name, when different from the login in more than case.
    pub display_name: Option<String>,
    /// Account creation (Helix), when known.
    pub created_at: Option<Timestamp>,
}

/// One login a user was seen with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRecord {
    /// The login.
    pub login: Login,
    /// First time seen under it.
    pub first_seen: Timestamp,
    /// Last time seen under it (`None` for the current login: see the user's last seen).
    pub last_seen: Option<Timestamp>,
}

/// A stored raid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raid {
    /// Raided channel.
    pub channel: ChannelKey,
    /// Stream live at the time, if any.
    pub stream: Option<StreamKey>,
    /// Raiding broadcaster.
    pub from: UserId,
    /// Their login then.
    pub from_login: Login,
    /// Announced viewers.
    pub viewers: i64,
    /// When.
    pub at: Timestamp,
}

/// A per-user message count (top chatters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCount {
    /// Id.
    pub user_id: UserId,
    /// Current login.
    pub login: Login,
    /// Count.
    pub count: i64,
}

/// A stream's new chatter (for `!new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChatter {
    /// Id.
    pub user_id: UserId,
    /// Current login.
    pub login: Login,
    /// First observation (in the channel, hence in this stream).
    pub first_seen: Timestamp,
    /// Also a first-time chatter (`first-msg=1`).
    pub first_time: bool,
}

/// A point of the chatter-count series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesPoint {
    /// When.
    pub at: Timestamp,
    /// Counted users present.
    pub chatters: i64,
    /// Helix `total`, for snapshot points (`None`: IRC-only point).
    pub total: Option<i64>,
}

// ---- API keys and exports (issue 5) ----

/// Id of an API key row (what `chatters apikey list` shows and `revoke` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(pub i64);

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored API key: its hash and scope, never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Row id.
    pub id: ApiKeyId,
    /// Lower-case hex SHA-256 of the key (see `crate::apikey`).
    pub key_hash: String,
    /// Free text given at creation (may be empty).
    pub label: String,
    /// Channels the key may read, by login.
    pub channels: Vec<(ChannelKey, Login)>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked (`None`: valid).
    pub revoked_at: Option<Timestamp>,
}

// ---- recaps and digests (issue 6) ----

/// Where a summary (a recap or digest for one target) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SummaryState {
    /// Waiting for its `next_at`.
    Pending,
    /// Claimed by a worker until its `next_at` (the lease); due again after it.
    Sending,
    /// Delivered (terminal).
    Sent,
    /// Given up after retrying (terminal).
    Failed,
    /// Not sent: the target's webhook was revoked (terminal).
    Disabled,
}

impl SummaryState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Disabled => "disabled",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "disabled" => Self::Disabled,
            _ => return None,
        })
    }
}

/// A summary row: one recap (or weekly digest) for one target. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The stream's key for a recap, the channel's key for a digest (target `digest:...`).
    pub subject: i64,
    /// Non-secret target key (`discord:channel`, `digest:2026-W48:slack:global`, ...).
    pub target: String,
    /// Where it stands.
    pub state: SummaryState,
    /// Delivery attempts started.
    pub attempts: i64,
    /// Pending: when it is due; sending: when the claim expires.
    pub next_at: Option<i64>,
    /// When it was delivered.
    pub sent_at: Option<i64>,
    /// When the row was written.
    pub created_at: Option<i64>,
    /// The last failure, for operators (never a URL).
    pub last_error: Option<String>,
}

/// The result of a delivery attempt, written to a claimed summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryUpdate {
    /// New state.
    pub state: SummaryState,
    /// Next attempt (pending) or `None`.
    pub next_at: Option<i64>,
    /// Delivery time (sent) or `None`.
    pub sent_at: Option<i64>,
    /// Failure text (never a URL) or `None`.
    pub last_error: Option<String>,
}

/// A recap target disabled for a channel after its webhook was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledTarget {
    /// Channel.
    pub channel: ChannelKey,
    /// Target key without period (`discord:global`, `slack:channel`, ...).
    pub target: String,
    /// Truncated SHA-256 of the URL that was revoked (a new URL enables the target again).
    pub url_hash: String,
    /// The HTTP status that revoked it.
    pub status: i64,
    /// When (Unix seconds).
    pub disabled_at: Timestamp,
}

/// The database behind chatters. One implementation per backend; every method is one
/// transaction or one read.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Applies the embedded migrations of this backend.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// A trivial round trip (`/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Closes the pool, waiting for connections to finish.
    async fn close(&self);

    // ---- channels ----
    /// Marks a channel wanted (creating it when new). Idempotent.
    async fn add_channel(&self, login: &Login) -> Result<Channel, StoreError>;
    /// Stops wanting a channel; its history stays. False when it was not wanted.
    async fn remove_channel(&self, login: &Login) -> Result<bool, StoreError>;
    /// Every channel row, wanted or not, by login.
    async fn channels(&self) -> Result<Vec<Channel>, StoreError>;
    /// The channel row for a login, created (not wanted) when missing.
    async fn ensure_channel(&self, login: &Login) -> Result<Channel, StoreError>;
    /// A channel by login.
    async fn channel(&self, login: &Login) -> Result<Option<Channel>, StoreError>;
    /// Records the broadcaster's Twitch id.
    async fn set_channel_twitch_id(&self, key: ChannelKey, id: UserId) -> Result<(), StoreError>;
    /// Sets (or with `None` clears) a per-channel setting.
    async fn set_channel_setting(
        &self,
        key: ChannelKey,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Every setting of a channel, by name.
    async fn channel_settings(&self, key: ChannelKey) -> Result<Vec<(String, String)>, StoreError>;
    /// Sets (or with `None` removes) a per-channel known-bot rule.
    async fn set_bot_rule(
        &self,
        key: ChannelKey,
        login: &Login,
        rule: Option<BotRule>,
    ) -> Result<(), StoreError>;
    /// Per-channel known-bot rules.
    async fn bot_rules(&self, key: ChannelKey) -> Result<Vec<(Login, BotRule)>, StoreError>;

    // ---- ingestion ----
    /// Creates (or finds, on restart) a stream; returns its key.
    async fn open_stream(
        &self,
        channel: ChannelKey,
        id: &StreamId,
        started_at: Timestamp,
        title: &str,
    ) -> Result<StreamKey, StoreError>;
    /// Streams without `ended_at` (resumed after a restart).
    async fn live_streams(&self) -> Result<Vec<Stream>, StoreError>;
    /// Commits one batch of row changes in one transaction.
    async fn commit(&self, batch: &Batch) -> Result<(), StoreError>;
    /// Closes presence intervals left open by a crash, at their user's last recorded sighting.
    async fn close_dangling_presence(&self) -> Result<u64, StoreError>;
    /// Deletes every row about a user and records the opt-out, in one transaction.
    async fn opt_out(&self, user: UserId, at: Timestamp) -> Result<(), StoreError>;
    /// Lifts an opt-out.
    async fn opt_in(&self, user: UserId) -> Result<(), StoreError>;
    /// Every opted-out user.
    async fn opted_out(&self) -> Result<Vec<UserId>, StoreError>;

    /// A small piece of process state (e.g. the rotated refresh token), by name.
    async fn state(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Sets a piece of process state.
    async fn set_state(&self, name: &str, value: &str) -> Result<(), StoreError>;

    // ---- reads for the figures ----
    /// Users' ids by current login (unknown logins are left out).
    async fn user_ids(&self, logins: &[Login]) -> Result<Vec<(Login, UserId)>, StoreError>;
    /// One user's identity.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// Every login a user was seen with, oldest first.
    async fn name_history(&self, id: UserId) -> Result<Vec<NameRecord>, StoreError>;
    /// A stream by Twitch id.
    async fn stream(&self, id: &StreamId) -> Result<Option<Stream>, StoreError>;
    /// A stream by key.
    async fn stream_by_key(&self, key: StreamKey) -> Result<Option<Stream>, StoreError>;
    /// A channel's streams, newest first, at most `limit`.
    async fn streams(&self, channel: ChannelKey, limit: i64) -> Result<Vec<Stream>, StoreError>;
    /// The stream before `stream` in its channel.
    async fn previous_stream(&self, stream: &Stream) -> Result<Option<Stream>, StoreError>;
    /// Aggregates of a stream over users outside `excluded`.
    async fn stream_counts(
        &self,
        stream: &Stream,
        excluded: &[UserId],
    ) -> Result<StreamCounts, StoreError>;
    /// Highest snapshot point in `[from, to]` (`None` when no snapshot was taken).
    async fn snapshot_peak(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<i64>, StoreError>;
    /// Users of `stream` who are unique chatters of both it and `other`.
    async fn shared_unique(
        &self,
        stream: StreamKey,
        other: StreamKey,
        excluded: &[UserId],
    ) -> Result<i64, StoreError>;
    /// Unique chatters of `stream` among `excluded` (the known bots counted separately).
    async fn count_unique_among(
        &self,
        stream: StreamKey,
        ids: &[UserId],
    ) -> Result<i64, StoreError>;
    /// Top chatters of a stream by messages (ties by login).
    async fn top_chatters(
        &self,
        stream: StreamKey,
        excluded: &[UserId],
        limit: i64,
    ) -> Result<Vec<UserCount>, StoreError>;
    /// New chatters of a stream, newest first.
    async fn new_chatters(
        &self,
        stream: &Stream,
        excluded: &[UserId],
        limit: i64,
    ) -> Result<Vec<NewChatter>, StoreError>;
    /// Raids received by a channel in `[from, to]`, oldest first.
    async fn raids(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Raid>, StoreError>;
    /// Of users first observed in the channel within `[from, to]` during `stream` and outside
    /// `excluded`: how many, and how many were observed at or after `later`.
    async fn arrivals_retained(
        &self,
        stream: &Stream,
        from: Timestamp,
        to: Timestamp,
        later: Timestamp,
        excluded: &[UserId],
    ) -> Result<(i64, i64), StoreError>;
    /// Distinct unique chatters of the channel's streams overlapping `[since, until]`, as ids.
    async fn window_chatters(
        &self,
        channel: ChannelKey,
        since: Timestamp,
        until: Timestamp,
        excluded: &[UserId],
    ) -> Result<Vec<UserId>, StoreError>;
    /// Account creation days of the given users: `(user, login, created_at)` for known ones.
    async fn accounts(&self, ids: &[UserId])
    -> Result<Vec<(UserId, Login, Timestamp)>, StoreError>;
    /// Unique chatters of one stream, as ids.
    async fn stream_chatters(
        &self,
        stream: StreamKey,
        excluded: &[UserId],
    ) -> Result<Vec<UserId>, StoreError>;
    /// A user's record in a channel.
    async fn channel_user(
        &self,
        channel: ChannelKey,
        user: UserId,
    ) -> Result<Option<ChannelUser>, StoreError>;
    /// Every user of a channel seen in `[since, until]`, by id (exports).
    async fn channel_users(
        &self,
        channel: ChannelKey,
        since: Timestamp,
        until: Timestamp,
        excluded: &[UserId],
    ) -> Result<Vec<ChannelUser>, StoreError>;
    /// Series points of a channel in `[from, to]`, oldest first.
    async fn series(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError>;

    // ---- API keys and exports (issue 5) ----
    /// Stores a new API key (its hash) scoped to `channels`, in one transaction; returns its id.
    async fn create_api_key(
        &self,
        key_hash: &str,
        label: &str,
        channels: &[ChannelKey],
        at: Timestamp,
    ) -> Result<ApiKeyId, StoreError>;
    /// The key with this hash, revoked or not, with its channels.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Every key, revoked ones included, by id.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key at `at`. False when no key has this id or it was already revoked.
    async fn revoke_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<bool, StoreError>;
    /// The rows of [`Store::channel_users`], by user id, read from the database as they are
    /// consumed (an export of a million users never holds them all in memory).
    fn channel_users_stream<'a>(
        &'a self,
        channel: ChannelKey,
        since: Timestamp,
        until: Timestamp,
        excluded: &'a [UserId],
    ) -> BoxStream<'a, Result<ChannelUser, StoreError>>;
    // ---- recaps and digests (issue 6) ----
    /// Streams that ended at or after `since`, by end time.
    async fn ended_streams(&self, since: Timestamp) -> Result<Vec<Stream>, StoreError>;
    /// Channels whose setting `name` has this value.
    async fn channels_with_setting(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Vec<ChannelKey>, StoreError>;
    /// Records pending summaries of `subject` for `targets`, due at `at_ms`; rows that exist
    /// are left alone. Returns how many were new.
    async fn add_summaries(
        &self,
        subject: i64,
        targets: &[String],
        at_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Pending summaries due at `now_ms` and sending ones whose claim expired, oldest first.
    async fn due_summaries(&self, now_ms: i64, limit: i64) -> Result<Vec<Summary>, StoreError>;
    /// Claims a due summary read with `attempts` attempts: marks it sending until
    /// `lease_until_ms` and counts the attempt. False when another worker got there first.
    async fn claim_summary(
        &self,
        subject: i64,
        target: &str,
        attempts: i64,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Writes the result of the attempt a claim started (`attempts` counts it). False when the
    /// claim was lost (expired and taken over), in which case nothing changes.
    async fn finish_summary(
        &self,
        subject: i64,
        target: &str,
        attempts: i64,
        update: &SummaryUpdate,
    ) -> Result<bool, StoreError>;
    /// Every summary of a subject, by target.
    async fn summaries(&self, subject: i64) -> Result<Vec<Summary>, StoreError>;
    /// Disables a target for a channel (replacing an earlier record of it).
    async fn disable_recap_target(&self, disabled: &DisabledTarget) -> Result<(), StoreError>;
    /// The disabled targets of a channel, by target.
    async fn disabled_recap_targets(
        &self,
        channel: ChannelKey,
    ) -> Result<Vec<DisabledTarget>, StoreError>;
}

/// Connection options common to every backend.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long an unreachable server is retried before giving up.
    pub retry_for: Duration,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            retry_for: Duration::from_secs(30),
            max_connections: 8,
        }
    }
}

/// Opens the database named by `url` (migrations are not applied: call [`Store::migrate`]).
pub async fn open(url: &str, options: &ConnectOptions) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url, options).await?),
        Backend::MySql => Arc::new(MySqlStore::connect(url, options).await?),
        Backend::Postgres => Arc::new(PostgresStore::connect(url, options).await?),
    })
}

/// The host part of a database URL, for error messages (never the credentials).
pub fn url_host(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => u.path().to_owned(),
        },
        Err(_) => "<unparsable url>".to_owned(),
    }
}
