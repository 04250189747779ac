//! The three [`Store`] implementations. The SQL is written once in [`store_impl!`]; the
//! differences between SQLite, MariaDB and PostgreSQL (upsert syntax, `MIN`/`LEAST`, integer
//! casts) come from [`Dialect`], placeholders from sqlx's `QueryBuilder`.

use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use rustc_hash::FxHashMap;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{MySql, MySqlPool, PgPool, Postgres, QueryBuilder, Row, Sqlite, SqlitePool};

use super::{
    ApiKeyId, ApiKeyRecord, Backend, Batch, BotRule, Channel, ChannelKey, ChannelUser,
    ConnectOptions, DisabledTarget, NameRecord, NewChatter, Raid, SeriesPoint, Store, StoreError,
    Stream, StreamCounts, StreamKey, Summary, SummaryState, SummaryUpdate, User, UserCount,
    url_host,
};
use crate::domain::{Login, StreamId, Timestamp, UserId};

/// Rows per multi-row statement (SQLite allows 32,766 bound values; the widest row binds 12).
const CHUNK: usize = 2_000;

/// Splits rows into chunks of a few fixed sizes (`CHUNK`, then smaller powers of five), so a
/// multi-row statement has one of a handful of shapes and stays in the prepared-statement
/// cache instead of evicting it (MariaDB answers an eviction's close late over TCP).
fn fixed_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    const SIZES: [usize; 6] = [CHUNK, 400, 80, 16, 4, 1];
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = SIZES
            .iter()
            .copied()
            .find(|s| *s <= rest.len())
            .unwrap_or(1);
        let (head, tail) = rest.split_at(size);
        rest = tail;
        Some(head)
    })
}

/// SQL that differs between backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    MySql,
    Postgres,
}

impl Dialect {
    /// Start of the update part of an upsert on `key`.
    fn upsert(self, key: &str) -> String {
        match self {
            Self::MySql => " ON DUPLICATE KEY UPDATE ".to_owned(),
            _ => format!(" ON CONFLICT ({key}) DO UPDATE SET "),
        }
    }

    /// The value that was proposed for `col` in an upsert.
    fn ex(self, col: &str) -> String {
        match self {
            Self::MySql => format!("VALUES({col})"),
            _ => format!("excluded.{col}"),
        }
    }

    fn least(self) -> &'static str {
        match self {
            Self::Sqlite => "MIN",
            _ => "LEAST",
        }
    }

    fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "MAX",
            _ => "GREATEST",
        }
    }

    /// An integer expression decodable as `i64` (SUM gives NUMERIC/DECIMAL elsewhere).
    fn int(self, expr: &str) -> String {
        match self {
            Self::Sqlite => expr.to_owned(),
            Self::MySql => format!("CAST({expr} AS SIGNED)"),
            Self::Postgres => format!("CAST({expr} AS BIGINT)"),
        }
    }

    /// `INSERT` that silently skips rows whose key exists: (prefix, suffix).
    fn insert_ignore(self) -> (&'static str, &'static str) {
        match self {
            Self::Sqlite => ("INSERT OR IGNORE INTO ", ""),
            Self::MySql => ("INSERT IGNORE INTO ", ""),
            Self::Postgres => ("INSERT INTO ", " ON CONFLICT DO NOTHING"),
        }
    }
}

/// Rows per PostgreSQL `UNNEST` upsert. The statement has the same text whatever the row
/// count (one array per column), so this only bounds the size of one message.
const PG_CHUNK: usize = 20_000;

/// The slices a batched write is cut into: [`fixed_chunks`] for SQLite and MariaDB (one
/// prepared statement per chunk size), plain `PG_CHUNK`s for PostgreSQL's `UNNEST` upserts.
fn write_chunks<T>(d: Dialect, rows: &[T]) -> Box<dyn Iterator<Item = &[T]> + Send + '_>
where
    T: Sync,
{
    match d {
        Dialect::Postgres => Box::new(rows.chunks(PG_CHUNK)),
        _ => Box::new(fixed_chunks(rows)),
    }
}

/// One column of a PostgreSQL `UNNEST` upsert, bound as one array.
enum Col {
    Int(Vec<i64>),
    OptInt(Vec<Option<i64>>),
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
}

impl Col {
    fn cast(&self) -> &'static str {
        match self {
            Self::Int(_) | Self::OptInt(_) => "bigint[]",
            Self::Text(_) | Self::OptText(_) => "text[]",
        }
    }
}

/// Bulk statements only PostgreSQL runs: arrays bound as one parameter each, so a write of
/// any number of rows is one statement with one cached plan. The other backends never call
/// these (their bulk writes are multi-row `VALUES` lists).
trait PgArrays: sqlx::Database {
    /// `insert` (`INSERT INTO t (a, b) `) `SELECT * FROM UNNEST($1::bigint[], ...)`, then
    /// `tail` (the `ON CONFLICT` clause). Rows go in array order.
    async fn upsert_unnest(
        tx: &mut sqlx::Transaction<'static, Self>,
        insert: &str,
        cols: Vec<Col>,
        tail: &str,
    ) -> Result<(), StoreError>;

    /// `select` (`SELECT ... WHERE col`) `= ANY($1)` with `ids` bound as one array.
    async fn select_any(
        tx: &mut sqlx::Transaction<'static, Self>,
        select: &str,
        ids: Vec<i64>,
    ) -> Result<Vec<Self::Row>, StoreError>;
}

macro_rules! no_pg_arrays {
    ($db:ty) => {
        impl PgArrays for $db {
            async fn upsert_unnest(
                _: &mut sqlx::Transaction<'static, Self>,
                _: &str,
                _: Vec<Col>,
                _: &str,
            ) -> Result<(), StoreError> {
                unreachable!("UNNEST upserts are PostgreSQL only")
            }

            async fn select_any(
                _: &mut sqlx::Transaction<'static, Self>,
                _: &str,
                _: Vec<i64>,
            ) -> Result<Vec<Self::Row>, StoreError> {
                unreachable!("= ANY(array) is PostgreSQL only")
            }
        }
    };
}
no_pg_arrays!(Sqlite);
no_pg_arrays!(MySql);

impl PgArrays for Postgres {
    async fn upsert_unnest(
        tx: &mut sqlx::Transaction<'static, Self>,
        insert: &str,
        cols: Vec<Col>,
        tail: &str,
    ) -> Result<(), StoreError> {
        let mut sql = format!("{insert}SELECT * FROM UNNEST(");
        for (i, col) in cols.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}::{}", i + 1, col.cast());
        }
        sql.push(')');
        sql.push_str(tail);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for col in cols {
            query = match col {
                Col::Int(v) => query.bind(v),
                Col::OptInt(v) => query.bind(v),
                Col::Text(v) => query.bind(v),
                Col::OptText(v) => query.bind(v),
            };
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }

    async fn select_any(
        tx: &mut sqlx::Transaction<'static, Self>,
        select: &str,
        ids: Vec<i64>,
    ) -> Result<Vec<Self::Row>, StoreError> {
        let sql = format!("{select} = ANY($1)");
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?)
    }
}

/// ` AND col NOT IN (1,2,3)` (integers only, so inlining is safe), or nothing.
fn not_in(col: &str, ids: &[UserId]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let mut s = format!(" AND {col} NOT IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", id.0);
    }
    s.push(')');
    s
}

/// `(1,2,3)` for a non-empty id list.
fn id_list(ids: &[UserId]) -> String {
    let mut s = String::from("(");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", id.0);
    }
    s.push(')');
    s
}

fn login(value: String) -> Result<Login, StoreError> {
    Login::parse(&value).map_err(|_| StoreError::Corrupt {
        column: "login",
        value,
    })
}

fn stream_id(value: String) -> Result<StreamId, StoreError> {
    StreamId::parse(&value).map_err(|_| StoreError::Corrupt {
        column: "streams.twitch_id",
        value,
    })
}

fn bot_rule(value: String) -> Result<BotRule, StoreError> {
    match value.as_str() {
        "add" => Ok(BotRule::Add),
        "allow" => Ok(BotRule::Allow),
        _ => Err(StoreError::Corrupt {
            column: "channel_bots.rule",
            value,
        }),
    }
}

type ChannelTuple = (i64, String, Option<i64>, i64, i64);

fn channel_row(
    (key, name, twitch_id, wanted, added_at): ChannelTuple,
) -> Result<Channel, StoreError> {
    Ok(Channel {
        key: ChannelKey(key),
        login: login(name)?,
        twitch_id: twitch_id.map(UserId),
        wanted: wanted != 0,
        added_at: Timestamp(added_at),
    })
}

type StreamTuple = (i64, String, i64, i64, Option<i64>, String, i64);

const STREAM_COLS: &str = "id, twitch_id, channel_id, started_at, ended_at, title, irc_peak";

fn stream_row(
    (key, id, channel, started, ended, title, peak): StreamTuple,
) -> Result<Stream, StoreError> {
    Ok(Stream {
        key: StreamKey(key),
        id: stream_id(id)?,
        channel: ChannelKey(channel),
        started_at: Timestamp(started),
        ended_at: ended.map(Timestamp),
        title,
        irc_peak: peak,
    })
}

type ChannelUserTuple = (i64, String, Option<String>, i64, i64, i64, i64);

fn channel_user_row(
    (id, name, display, first, last, messages, streams): ChannelUserTuple,
) -> Result<ChannelUser, StoreError> {
    let login = login(name)?;
    Ok(ChannelUser {
        user_id: UserId(id),
        display_name: display.unwrap_or_else(|| login.to_string()),
        login,
        first_seen: Timestamp(first),
        last_seen: Timestamp(last),
        messages,
        streams_attended: streams,
    })
}

/// Users of a channel with their totals: the channel row holds first sighting, offline
/// messages and the last sighting written at departure; live messages and sightings are in the
/// stream rows, added here. `one_user` narrows the aggregate to one id (empty: everyone).
fn channel_user_query(d: Dialect, channel: ChannelKey, filter: &str, one_user: &str) -> String {
    let narrow = if one_user.is_empty() {
        String::new()
    } else {
        format!(" AND su.user_id = {one_user}")
    };
    format!(
        "SELECT cu.user_id, u.login, u.display_name, cu.first_seen, \
         {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)), \
         {messages}, {streams} \
         FROM channel_users cu JOIN users u ON u.id = cu.user_id \
         LEFT JOIN (SELECT su.user_id, MAX(su.last_seen) AS last_seen, SUM(su.messages) AS messages, \
         SUM(su.active) AS streams FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c}{narrow} GROUP BY su.user_id) agg ON agg.user_id = cu.user_id \
         WHERE cu.channel_id = {c}{filter} ORDER BY cu.user_id",
        g = d.greatest(),
        messages = d.int("cu.messages + COALESCE(agg.messages, 0)"),
        streams = d.int("COALESCE(agg.streams, 0)"),
        c = channel.0,
    )
}

/// A display name worth storing: `None` when it is the login in another case.
fn display_to_store<'a>(login: &Login, display: Option<&'a str>) -> Option<&'a str> {
    display.filter(|d| !d.eq_ignore_ascii_case(login.as_str()))
}

// ---- API keys and exports (issue 5) ----

type SummaryTuple = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

const SUMMARY_COLS: &str =
    "stream_id, target, state, attempts, next_at, sent_at, created_at, last_error";

fn summary_row(
    (subject, target, state, attempts, next_at, sent_at, created_at, last_error): SummaryTuple,
) -> Result<Summary, StoreError> {
    let state = SummaryState::parse(&state).ok_or(StoreError::Corrupt {
        column: "summaries.state",
        value: state,
    })?;
    Ok(Summary {
        subject,
        target,
        state,
        attempts,
        next_at,
        sent_at,
        created_at,
        last_error,
    })
}

type ApiKeyTuple = (i64, String, String, i64, Option<i64>);

const API_KEY_COLS: &str = "id, key_hash, label, created_at, revoked_at";

/// Joins key rows with their `(key id, channel key, channel login)` rows (sorted by key id).
fn api_key_records(
    rows: Vec<ApiKeyTuple>,
    channels: Vec<(i64, i64, String)>,
) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut scopes: FxHashMap<i64, Vec<(ChannelKey, Login)>> = FxHashMap::default();
    for (key, channel, name) in channels {
        scopes
            .entry(key)
            .or_default()
            .push((ChannelKey(channel), login(name)?));
    }
    Ok(rows
        .into_iter()
        .map(|(id, key_hash, label, created, revoked)| ApiKeyRecord {
            id: ApiKeyId(id),
            key_hash,
            label,
            channels: scopes.remove(&id).unwrap_or_default(),
            created_at: Timestamp(created),
            revoked_at: revoked.map(Timestamp),
        })
        .collect())
}

/// Users per page of an export (see [`export_page_end`]).
const EXPORT_PAGE: i64 = 10_000;

/// The last user id of the export page after user id `after` (`NULL` when no user is left).
///
/// An export reads a channel's users in pages bounded by user ids (see [`export_page`]): a
/// whole-channel [`channel_user_query`] aggregates every stream row of the channel before its
/// first row and joins that aggregate through an index built for it (SQLite builds one
/// automatically), which costs as much again as the data and holds it all at once. A page reads
/// only its own range of each stream's rows (their key is (stream, user)), so the cost stays
/// linear and the memory one page, with one connection at a time.
fn export_page_end(
    channel: ChannelKey,
    after: i64,
    until: Timestamp,
    excluded: &[UserId],
) -> String {
    format!(
        "SELECT MAX(t.user_id) FROM (SELECT cu.user_id FROM channel_users cu WHERE cu.channel_id = {c} \
         AND cu.user_id > {after} AND cu.first_seen <= {until}{x} ORDER BY cu.user_id LIMIT {EXPORT_PAGE}) t",
        c = channel.0,
        until = until.0,
        x = not_in("cu.user_id", excluded),
    )
}

/// The rows of the export page `(after, last]` seen at or after `since`, by user id, with the
/// values [`channel_user_query`] gives.
fn export_page(
    d: Dialect,
    channel: ChannelKey,
    (after, last): (i64, i64),
    since: Timestamp,
    until: Timestamp,
    excluded: &[UserId],
) -> String {
    let g = d.greatest();
    format!(
        "SELECT cu.user_id, u.login, u.display_name, cu.first_seen, \
         {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)), {messages}, {streams} \
         FROM channel_users cu JOIN users u ON u.id = cu.user_id \
         LEFT JOIN (SELECT su.user_id, MAX(su.last_seen) AS last_seen, SUM(su.messages) AS messages, \
         SUM(su.active) AS streams FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c} AND su.user_id > {after} AND su.user_id <= {last} GROUP BY su.user_id) agg \
         ON agg.user_id = cu.user_id \
         WHERE cu.channel_id = {c} AND cu.user_id > {after} AND cu.user_id <= {last} \
         AND cu.first_seen <= {until}{x} \
         AND {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)) >= {since} ORDER BY cu.user_id",
        messages = d.int("cu.messages + COALESCE(agg.messages, 0)"),
        streams = d.int("COALESCE(agg.streams, 0)"),
        c = channel.0,
        until = until.0,
        since = since.0,
        x = not_in("cu.user_id", excluded),
    )
}

/// A page's users packed in one JSON text (SQLite only, see [`sqlite_export_page`]): id, login,
/// display name, first seen, last seen, messages of each channel row.
fn sqlite_page_people(
    channel: ChannelKey,
    (after, last): (i64, i64),
    until: Timestamp,
    excluded: &[UserId],
) -> String {
    format!(
        "SELECT json_group_array(json_array(cu.user_id, u.login, u.display_name, cu.first_seen, cu.last_seen, cu.messages)) \
         FROM channel_users cu JOIN users u ON u.id = cu.user_id \
         WHERE cu.channel_id = {c} AND cu.user_id > {after} AND cu.user_id <= {last} AND cu.first_seen <= {until}{x}",
        c = channel.0,
        until = until.0,
        x = not_in("cu.user_id", excluded),
    )
}

/// The page's stream rows packed in one JSON text: user, last seen, messages, active.
fn sqlite_page_streams(channel: ChannelKey, (after, last): (i64, i64)) -> String {
    format!(
        "SELECT json_group_array(json_array(su.user_id, su.last_seen, su.messages, su.active)) \
         FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c} AND su.user_id > {after} AND su.user_id <= {last}",
        c = channel.0,
    )
}

/// Joins a page's packed channel rows and stream rows (see [`sqlite_page_people`]) into the
/// values [`channel_user_query`] gives, by user id, keeping users seen at or after `since`.
///
/// SQLite hands every result row from its worker thread to the async task through a channel,
/// about a microsecond a row; one JSON text per page and table makes that cost vanish, and the
/// join (a merge of two sorted lists) is cheaper here than SQLite's GROUP BY and automatic
/// index. MariaDB and PostgreSQL read plain rows from their socket and use [`export_page`].
fn sqlite_export_page(
    people: &str,
    streams: &str,
    since: Timestamp,
) -> Result<Vec<ChannelUser>, StoreError> {
    let corrupt = |column: &'static str| {
        move |e: serde_json::Error| StoreError::Corrupt {
            column,
            value: e.to_string(),
        }
    };
    let mut people: Vec<(i64, String, Option<String>, i64, i64, i64)> =
        serde_json::from_str(people).map_err(corrupt("channel_users"))?;
    let mut streams: Vec<(i64, i64, i64, i64)> =
        serde_json::from_str(streams).map_err(corrupt("stream_users"))?;
    people.sort_unstable_by_key(|p| p.0);
    streams.sort_unstable_by_key(|s| s.0);
    let mut out = Vec::with_capacity(people.len());
    let mut rest = streams.as_slice();
    for (id, name, display, first, last, messages) in people {
        let skip = rest.iter().take_while(|s| s.0 < id).count();
        rest = &rest[skip..];
        let mine = rest.iter().take_while(|s| s.0 == id).count();
        let (own, later) = rest.split_at(mine);
        rest = later;
        let last = own.iter().map(|s| s.1).fold(last, i64::max);
        let messages = messages + own.iter().map(|s| s.2).sum::<i64>();
        let streams = own.iter().map(|s| s.3).sum::<i64>();
        if last >= since.0 {
            out.push(channel_user_row((
                id, name, display, first, last, messages, streams,
            ))?);
        }
    }
    Ok(out)
}

/// Retries connecting until `retry_for` has passed (the server may still be starting).
async fn connect_with_retry<T, F, Fut>(
    url: &str,
    retry_for: Duration,
    mut connect: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = tokio::time::Instant::now() + retry_for;
    let mut delay = Duration::from_millis(100);
    loop {
        match connect().await {
            Ok(pool) => return Ok(pool),
            Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)))
                if tokio::time::Instant::now() + delay < deadline =>
            {
                tracing::warn!(host = %url_host(url), error = %e, "database not reachable yet, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))) => {
                return Err(StoreError::Unreachable {
                    host: url_host(url),
                    reason: e,
                });
            }
            Err(e) => return Err(StoreError::Sql(e)),
        }
    }
}

/// SQLite (the default; one file, WAL).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Stops the background checkpointer when the last clone is dropped.
    _checkpointer: Arc<tokio_util::sync::DropGuard>,
}

/// How often the WAL is checkpointed in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

impl SqliteStore {
    /// Opens (creating when missing) the database file named by a `sqlite:` URL.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9);
            // only an OS crash or power loss can lose the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536")
            // Checkpoints run beside the writes instead of inside the commit that crosses the
            // threshold, which would stall it (and a command waiting for it) for many ms.
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(opts)
            .await?;
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(checkpoint(pool.clone(), stop.clone()));
        Ok(Self {
            pool,
            _checkpointer: Arc::new(stop.drop_guard()),
        })
    }
}

/// Copies the WAL into the database file every [`CHECKPOINT_EVERY`] without blocking readers
/// or the writer (`PASSIVE`), so the WAL stays small and commits never do it themselves.
async fn checkpoint(pool: SqlitePool, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if pool.is_closed() {
            break;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::debug!(%error, "WAL checkpoint failed (retried on the next tick)");
        }
    }
}

/// MariaDB 10.11+ (also MySQL 8).
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects, retrying an unreachable server for `options.retry_for`.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let url_fixed = url.replacen("mariadb://", "mysql://", 1);
        let opts = MySqlConnectOptions::from_str(&url_fixed)?;
        let max = options.max_connections;
        let pool = connect_with_retry(url, options.retry_for, || {
            MySqlPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts.clone())
        })
        .await?;
        Ok(Self { pool })
    }
}

/// PostgreSQL 15+.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects, retrying an unreachable server for `options.retry_for`.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let opts = PgConnectOptions::from_str(url)?;
        let max = options.max_connections;
        let pool = connect_with_retry(url, options.retry_for, || {
            PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts.clone())
        })
        .await?;
        Ok(Self { pool })
    }
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static MYSQL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/mysql");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

macro_rules! store_impl {
    ($store:ty, $db:ty, $dialect:expr, $backend:expr, $migrator:expr) => {
        impl $store {
            const D: Dialect = $dialect;

            /// Channels of the keys in `rows` (issue 5: API keys).
            async fn scoped(&self, rows: Vec<ApiKeyTuple>) -> Result<Vec<ApiKeyRecord>, StoreError> {
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<UserId> = rows.iter().map(|r| UserId(r.0)).collect();
                let sql = format!(
                    "SELECT kc.key_id, c.id, c.login FROM api_key_channels kc JOIN channels c ON c.id = kc.channel_id \
                     WHERE kc.key_id IN {} ORDER BY kc.key_id, c.login",
                    id_list(&ids)
                );
                let channels: Vec<(i64, i64, String)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                api_key_records(rows, channels)
            }

            async fn commit_users(
                tx: &mut sqlx::Transaction<'static, $db>,
                batch: &Batch,
            ) -> Result<(), StoreError> {
                let d = Self::D;
                // Key order: each b-tree page is visited once, in order.
                let mut rows: Vec<_> = batch.users.iter().collect();
                rows.sort_unstable_by_key(|(k, _)| **k);
                for chunk in write_chunks(d, &rows) {
                    // Which of these users are stored under another login: their old name
                    // goes to the history before the row is overwritten.
                    let ids: Vec<UserId> = chunk.iter().map(|(id, _)| **id).collect();
                    let found = if d == Dialect::Postgres {
                        let ids = ids.iter().map(|id| id.0).collect();
                        <$db as PgArrays>::select_any(tx, "SELECT id, login, login_since FROM users WHERE id", ids).await?
                    } else {
                        let sql = format!("SELECT id, login, login_since FROM users WHERE id IN {}", id_list(&ids));
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await?
                    };
                    let mut stored: FxHashMap<i64, (String, i64)> = FxHashMap::default();
                    for row in found {
                        stored.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
                    }
                    let renamed: Vec<_> = chunk
                        .iter()
                        .filter_map(|(id, row)| {
                            stored
                                .get(&id.0)
                                .filter(|(old, _)| old.as_str() != row.login.as_str())
                                .map(|(old, since)| (id.0, old.clone(), *since, row.at.0))
                        })
                        .collect();
                    if !renamed.is_empty() {
                        // One (user, old login) per row: a chunk holds each user once.
                        let insert = "INSERT INTO name_history (user_id, login, first_seen, last_seen) ";
                        let tail = format!(
                            "{}first_seen = {l}(name_history.first_seen, {f}), last_seen = {g}(name_history.last_seen, {ls})",
                            d.upsert("user_id, login"),
                            l = d.least(),
                            g = d.greatest(),
                            f = d.ex("first_seen"),
                            ls = d.ex("last_seen"),
                        );
                        if d == Dialect::Postgres {
                            let cols = vec![
                                Col::Int(renamed.iter().map(|r| r.0).collect()),
                                Col::Text(renamed.iter().map(|r| r.1.clone()).collect()),
                                Col::Int(renamed.iter().map(|r| r.2).collect()),
                                Col::Int(renamed.iter().map(|r| r.3).collect()),
                            ];
                            <$db as PgArrays>::upsert_unnest(tx, insert, cols, &tail).await?;
                        } else {
                            let mut qb = QueryBuilder::<$db>::new(insert);
                            qb.push_values(&renamed, |mut b, (id, old, since, at)| {
                                b.push_bind(*id).push_bind(old.clone()).push_bind(*since).push_bind(*at);
                            });
                            qb.push(tail);
                            qb.build().execute(&mut **tx).await?;
                        }
                    }
                    let insert = "INSERT INTO users (id, login, display_name, login_since) ";
                    // login_since first: MariaDB evaluates these left to right on the new values.
                    let tail = format!(
                        "{}login_since = CASE WHEN users.login = {l} THEN users.login_since ELSE {s} END, \
                         display_name = {dn}, login = {l}",
                        d.upsert("id"),
                        l = d.ex("login"),
                        s = d.ex("login_since"),
                        dn = d.ex("display_name"),
                    );
                    let display = |login: &Login, display: &Option<String>| {
                        display_to_store(login, display.as_deref()).map(str::to_owned)
                    };
                    if d == Dialect::Postgres {
                        let cols = vec![
                            Col::Int(chunk.iter().map(|(id, _)| id.0).collect()),
                            Col::Text(chunk.iter().map(|(_, row)| row.login.as_str().to_owned()).collect()),
                            Col::OptText(chunk.iter().map(|(_, row)| display(&row.login, &row.display_name)).collect()),
                            Col::Int(chunk.iter().map(|(_, row)| row.at.0).collect()),
                        ];
                        <$db as PgArrays>::upsert_unnest(tx, insert, cols, &tail).await?;
                    } else {
                        let mut qb = QueryBuilder::<$db>::new(insert);
                        qb.push_values(chunk, |mut b, (id, row)| {
                            b.push_bind(id.0)
                                .push_bind(row.login.as_str().to_owned())
                                .push_bind(display(&row.login, &row.display_name))
                                .push_bind(row.at.0);
                        });
                        qb.push(tail);
                        qb.build().execute(&mut **tx).await?;
                    }
                }
                for (id, created) in &batch.accounts {
                    let mut qb = QueryBuilder::<$db>::new("UPDATE users SET created_at = ");
                    qb.push_bind(created.0).push(" WHERE id = ").push_bind(id.0);
                    qb.build().execute(&mut **tx).await?;
                }
                Ok(())
            }

            async fn commit_observations(
                tx: &mut sqlx::Transaction<'static, $db>,
                batch: &Batch,
            ) -> Result<(), StoreError> {
                let d = Self::D;
                let step = std::time::Instant::now();
                // channel_users first: stream_users.is_new compares against the earliest
                // observation in the channel, this batch's included.
                // Key order: each b-tree page is visited once, in order.
                let mut rows: Vec<_> = batch.channel_users.iter().collect();
                rows.sort_unstable_by_key(|(k, _)| **k);
                let insert = "INSERT INTO channel_users (channel_id, user_id, first_seen, last_seen, messages) ";
                let tail = format!(
                    "{}first_seen = {l}(channel_users.first_seen, {f}), \
                     last_seen = {g}(channel_users.last_seen, {ls}), \
                     messages = channel_users.messages + {m}",
                    d.upsert("channel_id, user_id"),
                    l = d.least(),
                    g = d.greatest(),
                    f = d.ex("first_seen"),
                    ls = d.ex("last_seen"),
                    m = d.ex("messages"),
                );
                for chunk in write_chunks(d, &rows) {
                    if d == Dialect::Postgres {
                        let cols = vec![
                            Col::Int(chunk.iter().map(|((c, _), _)| c.0).collect()),
                            Col::Int(chunk.iter().map(|((_, u), _)| u.0).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| delta.first_seen.0).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| delta.last_seen.0).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| delta.messages).collect()),
                        ];
                        <$db as PgArrays>::upsert_unnest(tx, insert, cols, &tail).await?;
                        continue;
                    }
                    let mut qb = QueryBuilder::<$db>::new(insert);
                    qb.push_values(chunk, |mut b, ((c, u), delta)| {
                        b.push_bind(c.0)
                            .push_bind(u.0)
                            .push_bind(delta.first_seen.0)
                            .push_bind(delta.last_seen.0)
                            .push_bind(delta.messages);
                    });
                    qb.push(&tail);
                    qb.build().execute(&mut **tx).await?;
                }
                // Key order: each b-tree page is visited once, in order.
                let mut rows: Vec<_> = batch.stream_users.iter().collect();
                rows.sort_unstable_by_key(|(k, _)| **k);
                let insert = "INSERT INTO stream_users (stream_id, user_id, first_seen, last_seen, messages, first_msg, active) ";
                let tail = format!(
                    "{}first_seen = {l}(stream_users.first_seen, {f}), \
                     last_seen = {g}(stream_users.last_seen, {ls}), \
                     messages = stream_users.messages + {m}, \
                     first_msg = {g}(stream_users.first_msg, {fm}), \
                     active = {g}(stream_users.active, {a})",
                    d.upsert("stream_id, user_id"),
                    l = d.least(),
                    g = d.greatest(),
                    f = d.ex("first_seen"),
                    ls = d.ex("last_seen"),
                    m = d.ex("messages"),
                    fm = d.ex("first_msg"),
                    a = d.ex("active"),
                );
                for chunk in write_chunks(d, &rows) {
                    if d == Dialect::Postgres {
                        let cols = vec![
                            Col::Int(chunk.iter().map(|((s, _), _)| s.0).collect()),
                            Col::Int(chunk.iter().map(|((_, u), _)| u.0).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| delta.first_seen.0).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| delta.last_seen.0).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| delta.messages).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| i64::from(delta.first_msg)).collect()),
                            Col::Int(chunk.iter().map(|(_, delta)| i64::from(delta.active)).collect()),
                        ];
                        <$db as PgArrays>::upsert_unnest(tx, insert, cols, &tail).await?;
                        continue;
                    }
                    let mut qb = QueryBuilder::<$db>::new(insert);
                    qb.push_values(chunk, |mut b, ((s, u), delta)| {
                        b.push_bind(s.0)
                            .push_bind(u.0)
                            .push_bind(delta.first_seen.0)
                            .push_bind(delta.last_seen.0)
                            .push_bind(delta.messages)
                            .push_bind(i64::from(delta.first_msg))
                            .push_bind(i64::from(delta.active));
                    });
                    qb.push(&tail);
                    qb.build().execute(&mut **tx).await?;
                }
                let t_upserts = step.elapsed();
                // New = no observation in the channel before the stream started. It only
                // depends on channel_users (just written), so rows that may have been inserted
                // by this batch are (re)evaluated in one statement per stream.
                let mut first: FxHashMap<(StreamKey, ChannelKey, Timestamp), Vec<UserId>> = FxHashMap::default();
                for ((s, u), delta) in &batch.stream_users {
                    if delta.maybe_first {
                        first.entry((*s, delta.channel, delta.stream_started)).or_default().push(*u);
                    }
                }
                for ((stream, channel, started), mut users) in first {
                    users.sort_unstable();
                    for chunk in users.chunks(10_000) {
                        let sql = format!(
                            "SELECT user_id FROM channel_users WHERE channel_id = {c} AND first_seen < {t} AND user_id IN {ids}",
                            c = channel.0,
                            t = started.0,
                            ids = id_list(chunk),
                        );
                        let mut known = rustc_hash::FxHashSet::default();
                        for row in sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await? {
                            known.insert(row.try_get::<i64, _>(0)?);
                        }
                        let new: Vec<UserId> = chunk.iter().copied().filter(|u| !known.contains(&u.0)).collect();
                        if new.is_empty() {
                            continue;
                        }
                        let sql = format!(
                            "UPDATE stream_users SET is_new = 1 WHERE stream_id = {s} AND is_new = 0 AND user_id IN {ids}",
                            s = stream.0,
                            ids = id_list(&new),
                        );
                        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
                    }
                }
                let t_new = step.elapsed();
                let mut rows: Vec<_> = batch.presence.iter().collect();
                rows.sort_unstable_by_key(|(k, _)| **k);
                let insert = "INSERT INTO presence (channel_id, user_id, since, until) ";
                let tail = format!("{}until = {}", d.upsert("channel_id, user_id, since"), d.ex("until"));
                for chunk in write_chunks(d, &rows) {
                    if d == Dialect::Postgres {
                        let cols = vec![
                            Col::Int(chunk.iter().map(|((c, _, _), _)| c.0).collect()),
                            Col::Int(chunk.iter().map(|((_, u, _), _)| u.0).collect()),
                            Col::Int(chunk.iter().map(|((_, _, since), _)| since.0).collect()),
                            Col::OptInt(chunk.iter().map(|(_, until)| until.map(|t| t.0)).collect()),
                        ];
                        <$db as PgArrays>::upsert_unnest(tx, insert, cols, &tail).await?;
                        continue;
                    }
                    let mut qb = QueryBuilder::<$db>::new(insert);
                    qb.push_values(chunk, |mut b, ((c, u, since), until)| {
                        b.push_bind(c.0)
                            .push_bind(u.0)
                            .push_bind(since.0)
                            .push_bind(until.map(|t| t.0));
                    });
                    qb.push(&tail);
                    qb.build().execute(&mut **tx).await?;
                }
                tracing::trace!(
                    upserts_ms = t_upserts.as_millis() as u64,
                    is_new_ms = (t_new - t_upserts).as_millis() as u64,
                    presence_ms = (step.elapsed() - t_new).as_millis() as u64,
                    "observation steps"
                );
                // One row per (channel, at), the latest: PostgreSQL refuses a multi-row upsert
                // that touches a row twice, and an IRC-only tick can share its second with the
                // channel's first snapshot.
                let mut kept = rustc_hash::FxHashSet::default();
                let mut series: Vec<_> = batch.series.iter().rev().filter(|p| kept.insert((p.channel, p.at))).collect();
                series.reverse();
                for chunk in fixed_chunks(&series) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO series (channel_id, at, chatters, total) ",
                    );
                    qb.push_values(chunk, |mut b, p| {
                        b.push_bind(p.channel.0)
                            .push_bind(p.at.0)
                            .push_bind(p.chatters)
                            .push_bind(p.total);
                    });
                    qb.push(d.upsert("channel_id, at"));
                    qb.push(format!("chatters = {}, total = {}", d.ex("chatters"), d.ex("total")));
                    qb.build().execute(&mut **tx).await?;
                }
                Ok(())
            }

            async fn commit_rest(
                tx: &mut sqlx::Transaction<'static, $db>,
                batch: &Batch,
            ) -> Result<(), StoreError> {
                let d = Self::D;
                for (stream, peak) in &batch.stream_peaks {
                    let mut qb = QueryBuilder::<$db>::new(format!("UPDATE streams SET irc_peak = {}(irc_peak, ", d.greatest()));
                    qb.push_bind(*peak).push(") WHERE id = ").push_bind(stream.0);
                    qb.build().execute(&mut **tx).await?;
                }
                for (stream, at) in &batch.stream_ends {
                    let mut qb = QueryBuilder::<$db>::new("UPDATE streams SET ended_at = ");
                    qb.push_bind(at.0).push(" WHERE id = ").push_bind(stream.0).push(" AND ended_at IS NULL");
                    qb.build().execute(&mut **tx).await?;
                }
                if !batch.raids.is_empty() {
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO raids (channel_id, stream_id, from_id, from_login, viewers, at) ",
                    );
                    qb.push_values(&batch.raids, |mut b, r| {
                        b.push_bind(r.channel.0)
                            .push_bind(r.stream.map(|s| s.0))
                            .push_bind(r.from.0)
                            .push_bind(r.from_login.as_str().to_owned())
                            .push_bind(r.viewers)
                            .push_bind(r.at.0);
                    });
                    qb.build().execute(&mut **tx).await?;
                }
                for (channel, id) in &batch.channel_ids {
                    let mut qb = QueryBuilder::<$db>::new("UPDATE channels SET twitch_id = ");
                    qb.push_bind(id.0).push(" WHERE id = ").push_bind(channel.0);
                    qb.build().execute(&mut **tx).await?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn migrate(&self) -> Result<(), StoreError> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn add_channel(&self, login: &Login) -> Result<Channel, StoreError> {
                self.ensure_channel(login).await?;
                let mut qb = QueryBuilder::<$db>::new("UPDATE channels SET wanted = 1 WHERE login = ");
                qb.push_bind(login.as_str().to_owned());
                qb.build().execute(&self.pool).await?;
                self.channel(login).await?.ok_or_else(|| StoreError::UnknownChannel(login.clone()))
            }

            async fn remove_channel(&self, login: &Login) -> Result<bool, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("UPDATE channels SET wanted = 0 WHERE wanted = 1 AND login = ");
                qb.push_bind(login.as_str().to_owned());
                Ok(qb.build().execute(&self.pool).await?.rows_affected() > 0)
            }

            async fn channels(&self) -> Result<Vec<Channel>, StoreError> {
                let rows: Vec<ChannelTuple> = sqlx::query_as(
                    "SELECT id, login, twitch_id, wanted, added_at FROM channels ORDER BY login",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(channel_row).collect()
            }

            async fn ensure_channel(&self, login: &Login) -> Result<Channel, StoreError> {
                if let Some(c) = self.channel(login).await? {
                    return Ok(c);
                }
                let (pre, post) = Self::D.insert_ignore();
                let mut qb = QueryBuilder::<$db>::new(format!("{pre}channels (login, wanted, added_at) VALUES ("));
                qb.push_bind(login.as_str().to_owned())
                    .push(", 0, ")
                    .push_bind(Timestamp::now().0)
                    .push(")")
                    .push(post);
                qb.build().execute(&self.pool).await?;
                self.channel(login).await?.ok_or_else(|| StoreError::UnknownChannel(login.clone()))
            }

            async fn channel(&self, login: &Login) -> Result<Option<Channel>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT id, login, twitch_id, wanted, added_at FROM channels WHERE login = ",
                );
                qb.push_bind(login.as_str().to_owned());
                let row: Option<ChannelTuple> = qb.build_query_as().fetch_optional(&self.pool).await?;
                row.map(channel_row).transpose()
            }

            async fn set_channel_twitch_id(&self, key: ChannelKey, id: UserId) -> Result<(), StoreError> {
                let mut qb = QueryBuilder::<$db>::new("UPDATE channels SET twitch_id = ");
                qb.push_bind(id.0).push(" WHERE id = ").push_bind(key.0);
                qb.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn set_channel_setting(
                &self,
                key: ChannelKey,
                name: &str,
                value: Option<&str>,
            ) -> Result<(), StoreError> {
                let d = Self::D;
                let mut qb = match value {
                    Some(v) => {
                        let mut qb = QueryBuilder::<$db>::new("INSERT INTO channel_settings (channel_id, name, value) VALUES (");
                        qb.push_bind(key.0).push(", ").push_bind(name.to_owned()).push(", ").push_bind(v.to_owned()).push(")");
                        qb.push(d.upsert("channel_id, name")).push(format!("value = {}", d.ex("value")));
                        qb
                    }
                    None => {
                        let mut qb = QueryBuilder::<$db>::new("DELETE FROM channel_settings WHERE channel_id = ");
                        qb.push_bind(key.0).push(" AND name = ").push_bind(name.to_owned());
                        qb
                    }
                };
                qb.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn channel_settings(&self, key: ChannelKey) -> Result<Vec<(String, String)>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("SELECT name, value FROM channel_settings WHERE channel_id = ");
                qb.push_bind(key.0).push(" ORDER BY name");
                Ok(qb.build_query_as().fetch_all(&self.pool).await?)
            }

            async fn set_bot_rule(
                &self,
                key: ChannelKey,
                name: &Login,
                rule: Option<BotRule>,
            ) -> Result<(), StoreError> {
                let d = Self::D;
                let mut qb = match rule {
                    Some(r) => {
                        let mut qb = QueryBuilder::<$db>::new("INSERT INTO channel_bots (channel_id, login, rule) VALUES (");
                        qb.push_bind(key.0).push(", ").push_bind(name.as_str().to_owned()).push(", ").push_bind(r.as_str()).push(")");
                        qb.push(d.upsert("channel_id, login")).push(format!("rule = {}", d.ex("rule")));
                        qb
                    }
                    None => {
                        let mut qb = QueryBuilder::<$db>::new("DELETE FROM channel_bots WHERE channel_id = ");
                        qb.push_bind(key.0).push(" AND login = ").push_bind(name.as_str().to_owned());
                        qb
                    }
                };
                qb.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn bot_rules(&self, key: ChannelKey) -> Result<Vec<(Login, BotRule)>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("SELECT login, rule FROM channel_bots WHERE channel_id = ");
                qb.push_bind(key.0).push(" ORDER BY login");
                let rows: Vec<(String, String)> = qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(|(l, r)| Ok((login(l)?, bot_rule(r)?))).collect()
            }

            async fn open_stream(
                &self,
                channel: ChannelKey,
                id: &StreamId,
                started_at: Timestamp,
                title: &str,
            ) -> Result<StreamKey, StoreError> {
                let (pre, post) = Self::D.insert_ignore();
                let title: String = title.chars().take(500).collect();
                let mut qb = QueryBuilder::<$db>::new(format!("{pre}streams (twitch_id, channel_id, started_at, title) VALUES ("));
                qb.push_bind(id.as_str().to_owned())
                    .push(", ")
                    .push_bind(channel.0)
                    .push(", ")
                    .push_bind(started_at.0)
                    .push(", ")
                    .push_bind(title)
                    .push(")")
                    .push(post);
                qb.build().execute(&self.pool).await?;
                let stream = self.stream(id).await?.ok_or_else(|| StoreError::Corrupt {
                    column: "streams.twitch_id",
                    value: id.to_string(),
                })?;
                Ok(stream.key)
            }

            async fn live_streams(&self) -> Result<Vec<Stream>, StoreError> {
                let sql = format!("SELECT {STREAM_COLS} FROM streams WHERE ended_at IS NULL ORDER BY id");
                let rows: Vec<StreamTuple> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.into_iter().map(stream_row).collect()
            }

            async fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
                if batch.is_empty() {
                    return Ok(());
                }
                let started = std::time::Instant::now();
                let mut tx = self.pool.begin().await?;
                Self::commit_users(&mut tx, batch).await?;
                let users = started.elapsed();
                Self::commit_observations(&mut tx, batch).await?;
                let observations = started.elapsed();
                Self::commit_rest(&mut tx, batch).await?;
                tx.commit().await?;
                tracing::debug!(
                    events = batch.events,
                    users = batch.users.len(),
                    channel_users = batch.channel_users.len(),
                    stream_users = batch.stream_users.len(),
                    presence = batch.presence.len(),
                    users_ms = users.as_millis() as u64,
                    observations_ms = (observations - users).as_millis() as u64,
                    total_ms = started.elapsed().as_millis() as u64,
                    "batch committed"
                );
                Ok(())
            }

            async fn close_dangling_presence(&self) -> Result<u64, StoreError> {
                let d = Self::D;
                // The last sighting is in the channel row, or (for messages while live) in the
                // stream rows of streams that ran during the interval.
                let sql = format!(
                    "UPDATE presence SET until = {g}(presence.since, \
                     COALESCE((SELECT cu.last_seen FROM channel_users cu \
                     WHERE cu.channel_id = presence.channel_id AND cu.user_id = presence.user_id), presence.since), \
                     COALESCE((SELECT MAX(su.last_seen) FROM stream_users su JOIN streams s ON s.id = su.stream_id \
                     WHERE s.channel_id = presence.channel_id AND su.user_id = presence.user_id \
                     AND (s.ended_at IS NULL OR s.ended_at >= presence.since)), presence.since)) + 1 \
                     WHERE until IS NULL",
                    g = d.greatest()
                );
                Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&self.pool).await?.rows_affected())
            }

            async fn opt_out(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
                let u = user.0;
                let mut tx = self.pool.begin().await?;
                // The user no longer counts in any series point they were present for.
                let statements = [
                    format!(
                        "UPDATE series SET chatters = chatters - 1 WHERE chatters > 0 AND EXISTS (SELECT 1 FROM presence p \
                         WHERE p.user_id = {u} AND p.channel_id = series.channel_id AND p.since <= series.at \
                         AND (p.until IS NULL OR p.until > series.at))"
                    ),
                    format!("DELETE FROM presence WHERE channel_id IN (SELECT id FROM channels) AND user_id = {u}"),
                    format!("DELETE FROM stream_users WHERE stream_id IN (SELECT id FROM streams) AND user_id = {u}"),
                    format!("DELETE FROM channel_users WHERE channel_id IN (SELECT id FROM channels) AND user_id = {u}"),
                    format!("DELETE FROM name_history WHERE user_id = {u}"),
                    format!("DELETE FROM raids WHERE from_id = {u}"),
                    format!("DELETE FROM web_sessions WHERE user_id = {u}"),
                    format!("DELETE FROM users WHERE id = {u}"),
                ];
                for sql in statements {
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
                }
                let (pre, post) = Self::D.insert_ignore();
                let mut qb = QueryBuilder::<$db>::new(format!("{pre}opt_outs (user_id, at) VALUES ("));
                qb.push_bind(u).push(", ").push_bind(at.0).push(")").push(post);
                qb.build().execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn opt_in(&self, user: UserId) -> Result<(), StoreError> {
                let mut qb = QueryBuilder::<$db>::new("DELETE FROM opt_outs WHERE user_id = ");
                qb.push_bind(user.0);
                qb.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn opted_out(&self) -> Result<Vec<UserId>, StoreError> {
                let rows: Vec<(i64,)> = sqlx::query_as("SELECT user_id FROM opt_outs ORDER BY user_id")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
            }

            async fn state(&self, name: &str) -> Result<Option<String>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("SELECT value FROM bot_state WHERE name = ");
                qb.push_bind(name.to_owned());
                let row: Option<(String,)> = qb.build_query_as().fetch_optional(&self.pool).await?;
                Ok(row.map(|(v,)| v))
            }

            async fn set_state(&self, name: &str, value: &str) -> Result<(), StoreError> {
                let d = Self::D;
                let mut qb = QueryBuilder::<$db>::new("INSERT INTO bot_state (name, value) VALUES (");
                qb.push_bind(name.to_owned()).push(", ").push_bind(value.to_owned()).push(")");
                qb.push(d.upsert("name")).push(format!("value = {}", d.ex("value")));
                qb.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn user_ids(&self, logins: &[Login]) -> Result<Vec<(Login, UserId)>, StoreError> {
                let mut out = Vec::new();
                for chunk in logins.chunks(CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new("SELECT login, id FROM users WHERE login IN (");
                    let mut sep = qb.separated(", ");
                    for l in chunk {
                        sep.push_bind(l.as_str().to_owned());
                    }
                    qb.push(")");
                    let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
                    for (l, id) in rows {
                        out.push((login(l)?, UserId(id)));
                    }
                }
                Ok(out)
            }

            async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("SELECT id, login, display_name, created_at FROM users WHERE id = ");
                qb.push_bind(id.0);
                let row: Option<(i64, String, Option<String>, Option<i64>)> =
                    qb.build_query_as().fetch_optional(&self.pool).await?;
                row.map(|(id, l, display_name, created)| {
                    Ok(User {
                        id: UserId(id),
                        login: login(l)?,
                        display_name,
                        created_at: created.map(Timestamp),
                    })
                })
                .transpose()
            }

            async fn name_history(&self, id: UserId) -> Result<Vec<NameRecord>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT login, first_seen, last_seen FROM name_history WHERE user_id = ",
                );
                qb.push_bind(id.0).push(" ORDER BY first_seen, login");
                let rows: Vec<(String, i64, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
                let mut out = rows
                    .into_iter()
                    .map(|(l, f, s)| {
                        Ok(NameRecord {
                            login: login(l)?,
                            first_seen: Timestamp(f),
                            last_seen: Some(Timestamp(s)),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let mut qb = QueryBuilder::<$db>::new("SELECT login, login_since FROM users WHERE id = ");
                qb.push_bind(id.0);
                let current: Option<(String, i64)> = qb.build_query_as().fetch_optional(&self.pool).await?;
                if let Some((l, since)) = current {
                    let current = login(l)?;
                    out.retain(|r| r.login != current);
                    out.push(NameRecord {
                        login: current,
                        first_seen: Timestamp(since),
                        last_seen: None,
                    });
                }
                Ok(out)
            }

            async fn stream(&self, id: &StreamId) -> Result<Option<Stream>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {STREAM_COLS} FROM streams WHERE twitch_id = "));
                qb.push_bind(id.as_str().to_owned());
                let row: Option<StreamTuple> = qb.build_query_as().fetch_optional(&self.pool).await?;
                row.map(stream_row).transpose()
            }

            async fn stream_by_key(&self, key: StreamKey) -> Result<Option<Stream>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {STREAM_COLS} FROM streams WHERE id = "));
                qb.push_bind(key.0);
                let row: Option<StreamTuple> = qb.build_query_as().fetch_optional(&self.pool).await?;
                row.map(stream_row).transpose()
            }

            async fn streams(&self, channel: ChannelKey, limit: i64) -> Result<Vec<Stream>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {STREAM_COLS} FROM streams WHERE channel_id = "));
                qb.push_bind(channel.0).push(" ORDER BY started_at DESC, id DESC LIMIT ").push_bind(limit);
                let rows: Vec<StreamTuple> = qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(stream_row).collect()
            }

            async fn previous_stream(&self, stream: &Stream) -> Result<Option<Stream>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {STREAM_COLS} FROM streams WHERE channel_id = "));
                qb.push_bind(stream.channel.0)
                    .push(" AND (started_at < ")
                    .push_bind(stream.started_at.0)
                    .push(" OR (started_at = ")
                    .push_bind(stream.started_at.0)
                    .push(" AND id < ")
                    .push_bind(stream.key.0)
                    .push(")) ORDER BY started_at DESC, id DESC LIMIT 1");
                let row: Option<StreamTuple> = qb.build_query_as().fetch_optional(&self.pool).await?;
                row.map(stream_row).transpose()
            }

            async fn stream_counts(&self, stream: &Stream, excluded: &[UserId]) -> Result<StreamCounts, StoreError> {
                let d = Self::D;
                let sql = format!(
                    "SELECT {c}, {n}, {f}, {m}, {l} FROM stream_users WHERE stream_id = {s} AND active = 1{x}",
                    c = d.int("COUNT(*)"),
                    n = d.int("COALESCE(SUM(is_new), 0)"),
                    f = d.int("COALESCE(SUM(first_msg), 0)"),
                    m = d.int("COALESCE(SUM(messages), 0)"),
                    l = d.int("COALESCE(SUM(CASE WHEN messages = 0 THEN 1 ELSE 0 END), 0)"),
                    s = stream.key.0,
                    x = not_in("user_id", excluded),
                );
                let (unique, new, first_time, messages, lurkers): (i64, i64, i64, i64, i64) =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(&self.pool).await?;
                Ok(StreamCounts { unique, new, first_time, messages, lurkers })
            }

            async fn snapshot_peak(
                &self,
                channel: ChannelKey,
                from: Timestamp,
                to: Timestamp,
            ) -> Result<Option<i64>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("SELECT MAX(chatters) FROM series WHERE channel_id = ");
                qb.push_bind(channel.0)
                    .push(" AND total IS NOT NULL AND at >= ")
                    .push_bind(from.0)
                    .push(" AND at <= ")
                    .push_bind(to.0);
                let (peak,): (Option<i64>,) = qb.build_query_as().fetch_one(&self.pool).await?;
                Ok(peak)
            }

            async fn shared_unique(
                &self,
                stream: StreamKey,
                other: StreamKey,
                excluded: &[UserId],
            ) -> Result<i64, StoreError> {
                let sql = format!(
                    "SELECT {c} FROM stream_users a WHERE a.stream_id = {s} AND a.active = 1{x} AND EXISTS \
                     (SELECT 1 FROM stream_users b WHERE b.stream_id = {o} AND b.user_id = a.user_id AND b.active = 1)",
                    c = Self::D.int("COUNT(*)"),
                    s = stream.0,
                    o = other.0,
                    x = not_in("a.user_id", excluded),
                );
                let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(&self.pool).await?;
                Ok(n)
            }

            async fn count_unique_among(&self, stream: StreamKey, ids: &[UserId]) -> Result<i64, StoreError> {
                if ids.is_empty() {
                    return Ok(0);
                }
                let sql = format!(
                    "SELECT {c} FROM stream_users WHERE stream_id = {s} AND active = 1 AND user_id IN {l}",
                    c = Self::D.int("COUNT(*)"),
                    s = stream.0,
                    l = id_list(ids),
                );
                let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(&self.pool).await?;
                Ok(n)
            }

            async fn top_chatters(
                &self,
                stream: StreamKey,
                excluded: &[UserId],
                limit: i64,
            ) -> Result<Vec<UserCount>, StoreError> {
                let sql = format!(
                    "SELECT su.user_id, u.login, su.messages FROM stream_users su JOIN users u ON u.id = su.user_id \
                     WHERE su.stream_id = {s} AND su.messages > 0{x} ORDER BY su.messages DESC, u.login LIMIT {limit}",
                    s = stream.0,
                    x = not_in("su.user_id", excluded),
                    limit = limit.max(0),
                );
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(id, l, count)| Ok(UserCount { user_id: UserId(id), login: login(l)?, count }))
                    .collect()
            }

            async fn new_chatters(
                &self,
                stream: &Stream,
                excluded: &[UserId],
                limit: i64,
            ) -> Result<Vec<NewChatter>, StoreError> {
                let sql = format!(
                    "SELECT su.user_id, u.login, su.first_seen, su.first_msg FROM stream_users su JOIN users u ON u.id = su.user_id \
                     WHERE su.stream_id = {s} AND su.active = 1 AND su.is_new = 1{x} \
                     ORDER BY su.first_seen DESC, u.login LIMIT {limit}",
                    s = stream.key.0,
                    x = not_in("su.user_id", excluded),
                    limit = limit.max(0),
                );
                let rows: Vec<(i64, String, i64, i64)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(id, l, first, fm)| {
                        Ok(NewChatter {
                            user_id: UserId(id),
                            login: login(l)?,
                            first_seen: Timestamp(first),
                            first_time: fm != 0,
                        })
                    })
                    .collect()
            }

            async fn raids(&self, channel: ChannelKey, from: Timestamp, to: Timestamp) -> Result<Vec<Raid>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT channel_id, stream_id, from_id, from_login, viewers, at FROM raids WHERE channel_id = ",
                );
                qb.push_bind(channel.0)
                    .push(" AND at >= ")
                    .push_bind(from.0)
                    .push(" AND at <= ")
                    .push_bind(to.0)
                    .push(" ORDER BY at, id");
                let rows: Vec<(i64, Option<i64>, i64, String, i64, i64)> =
                    qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter()
                    .map(|(c, s, f, l, v, at)| {
                        Ok(Raid {
                            channel: ChannelKey(c),
                            stream: s.map(StreamKey),
                            from: UserId(f),
                            from_login: login(l)?,
                            viewers: v,
                            at: Timestamp(at),
                        })
                    })
                    .collect()
            }

            async fn arrivals_retained(
                &self,
                stream: &Stream,
                from: Timestamp,
                to: Timestamp,
                later: Timestamp,
                excluded: &[UserId],
            ) -> Result<(i64, i64), StoreError> {
                let d = Self::D;
                // A present user's stream row is refreshed when they leave or the stream ends;
                // until then the channel's latest snapshot (which listed them) is their last sighting.
                let (last_snapshot,): (Option<i64>,) = {
                    let mut qb = QueryBuilder::<$db>::new("SELECT MAX(at) FROM series WHERE total IS NOT NULL AND channel_id = ");
                    qb.push_bind(stream.channel.0);
                    qb.build_query_as().fetch_one(&self.pool).await?
                };
                let last_snapshot = last_snapshot.unwrap_or(i64::MIN);
                let still_present = if last_snapshot >= later.0 {
                    format!(
                        " OR EXISTS (SELECT 1 FROM presence p WHERE p.channel_id = {c} AND p.user_id = su.user_id \
                         AND p.until IS NULL AND p.since <= {last_snapshot})",
                        c = stream.channel.0
                    )
                } else {
                    String::new()
                };
                let sql = format!(
                    "SELECT {n}, {r} FROM stream_users su JOIN channel_users cu \
                     ON cu.channel_id = {c} AND cu.user_id = su.user_id \
                     WHERE su.stream_id = {s} AND cu.first_seen >= {from} AND cu.first_seen <= {to}{x}",
                    n = d.int("COUNT(*)"),
                    r = d.int(&format!(
                        "COALESCE(SUM(CASE WHEN su.last_seen >= {later}{still_present} THEN 1 ELSE 0 END), 0)",
                        later = later.0
                    )),
                    c = stream.channel.0,
                    s = stream.key.0,
                    from = from.0,
                    to = to.0,
                    x = not_in("su.user_id", excluded),
                );
                let (n, r): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(&self.pool).await?;
                Ok((n, r))
            }

            async fn window_chatters(
                &self,
                channel: ChannelKey,
                since: Timestamp,
                until: Timestamp,
                excluded: &[UserId],
            ) -> Result<Vec<UserId>, StoreError> {
                let sql = format!(
                    "SELECT DISTINCT su.user_id FROM stream_users su JOIN streams s ON s.id = su.stream_id \
                     WHERE s.channel_id = {c} AND s.started_at <= {until} AND (s.ended_at IS NULL OR s.ended_at >= {since}) \
                     AND su.active = 1{x} ORDER BY su.user_id",
                    c = channel.0,
                    until = until.0,
                    since = since.0,
                    x = not_in("su.user_id", excluded),
                );
                let rows: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
            }

            async fn accounts(&self, ids: &[UserId]) -> Result<Vec<(UserId, Login, Timestamp)>, StoreError> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(10_000) {
                    let sql = format!(
                        "SELECT id, login, created_at FROM users WHERE created_at IS NOT NULL AND id IN {}",
                        id_list(chunk)
                    );
                    let rows: Vec<(i64, String, i64)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                    for (id, l, created) in rows {
                        out.push((UserId(id), login(l)?, Timestamp(created)));
                    }
                }
                Ok(out)
            }

            async fn stream_chatters(&self, stream: StreamKey, excluded: &[UserId]) -> Result<Vec<UserId>, StoreError> {
                let sql = format!(
                    "SELECT user_id FROM stream_users WHERE stream_id = {s} AND active = 1{x} ORDER BY user_id",
                    s = stream.0,
                    x = not_in("user_id", excluded),
                );
                let rows: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
            }

            async fn channel_user(&self, channel: ChannelKey, user: UserId) -> Result<Option<ChannelUser>, StoreError> {
                let sql = channel_user_query(Self::D, channel, &format!(" AND cu.user_id = {}", user.0), user.0.to_string().as_str());
                let row: Option<ChannelUserTuple> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_optional(&self.pool).await?;
                row.map(channel_user_row).transpose()
            }

            async fn channel_users(
                &self,
                channel: ChannelKey,
                since: Timestamp,
                until: Timestamp,
                excluded: &[UserId],
            ) -> Result<Vec<ChannelUser>, StoreError> {
                let filter = format!(
                    " AND {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)) >= {since} AND cu.first_seen <= {until}{x}",
                    g = Self::D.greatest(),
                    since = since.0,
                    until = until.0,
                    x = not_in("cu.user_id", excluded),
                );
                let sql = channel_user_query(Self::D, channel, &filter, "");
                let rows: Vec<ChannelUserTuple> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.into_iter().map(channel_user_row).collect()
            }

            async fn series(&self, channel: ChannelKey, from: Timestamp, to: Timestamp) -> Result<Vec<SeriesPoint>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("SELECT at, chatters, total FROM series WHERE channel_id = ");
                qb.push_bind(channel.0)
                    .push(" AND at >= ")
                    .push_bind(from.0)
                    .push(" AND at <= ")
                    .push_bind(to.0)
                    .push(" ORDER BY at");
                let rows: Vec<(i64, i64, Option<i64>)> = qb.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows
                    .into_iter()
                    .map(|(at, chatters, total)| SeriesPoint { at: Timestamp(at), chatters, total })
                    .collect())
            }

            // ---- API keys and exports (issue 5) ----

            async fn create_api_key(
                &self,
                key_hash: &str,
                label: &str,
                channels: &[ChannelKey],
                at: Timestamp,
            ) -> Result<ApiKeyId, StoreError> {
                let mut channels = channels.to_vec();
                channels.sort_unstable();
                channels.dedup();
                let mut tx = self.pool.begin().await?;
                let mut qb = QueryBuilder::<$db>::new("INSERT INTO api_keys (key_hash, label, created_at) VALUES (");
                qb.push_bind(key_hash.to_owned())
                    .push(", ")
                    .push_bind(label.to_owned())
                    .push(", ")
                    .push_bind(at.0)
                    .push(")");
                qb.build().execute(&mut *tx).await?;
                // No portable RETURNING (MySQL 8 lacks it); the hash is unique.
                let mut qb = QueryBuilder::<$db>::new("SELECT id FROM api_keys WHERE key_hash = ");
                qb.push_bind(key_hash.to_owned());
                let (id,): (i64,) = qb.build_query_as().fetch_one(&mut *tx).await?;
                if !channels.is_empty() {
                    let mut qb = QueryBuilder::<$db>::new("INSERT INTO api_key_channels (key_id, channel_id) ");
                    qb.push_values(&channels, |mut b, c| {
                        b.push_bind(id).push_bind(c.0);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(ApiKeyId(id))
            }

            async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {API_KEY_COLS} FROM api_keys WHERE key_hash = "));
                qb.push_bind(key_hash.to_owned());
                let row: Option<ApiKeyTuple> = qb.build_query_as().fetch_optional(&self.pool).await?;
                Ok(self.scoped(row.into_iter().collect()).await?.pop())
            }

            async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
                let sql = format!("SELECT {API_KEY_COLS} FROM api_keys ORDER BY id");
                let rows: Vec<ApiKeyTuple> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                self.scoped(rows).await
            }

            async fn revoke_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<bool, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("UPDATE api_keys SET revoked_at = ");
                qb.push_bind(at.0)
                    .push(" WHERE revoked_at IS NULL AND id = ")
                    .push_bind(id.0);
                Ok(qb.build().execute(&self.pool).await?.rows_affected() > 0)
            }

            // ---- recaps and digests (issue 6) ----

            async fn ended_streams(&self, since: Timestamp) -> Result<Vec<Stream>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {STREAM_COLS} FROM streams WHERE ended_at >= "));
                qb.push_bind(since.0).push(" ORDER BY ended_at, id");
                let rows: Vec<StreamTuple> = qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(stream_row).collect()
            }

            async fn channels_with_setting(&self, name: &str, value: &str) -> Result<Vec<ChannelKey>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("SELECT channel_id FROM channel_settings WHERE name = ");
                qb.push_bind(name.to_owned()).push(" AND value = ").push_bind(value.to_owned()).push(" ORDER BY channel_id");
                let rows: Vec<(i64,)> = qb.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(|(k,)| ChannelKey(k)).collect())
            }

            async fn add_summaries(&self, subject: i64, targets: &[String], at_ms: i64) -> Result<u64, StoreError> {
                if targets.is_empty() {
                    return Ok(0);
                }
                let (pre, post) = Self::D.insert_ignore();
                let mut qb = QueryBuilder::<$db>::new(format!(
                    "{pre}summaries (stream_id, target, state, attempts, next_at, created_at) "
                ));
                qb.push_values(targets, |mut b, target| {
                    b.push_bind(subject)
                        .push_bind(target.clone())
                        .push_bind(SummaryState::Pending.as_str())
                        .push_bind(0_i64)
                        .push_bind(at_ms)
                        .push_bind(at_ms);
                });
                qb.push(post);
                Ok(qb.build().execute(&self.pool).await?.rows_affected())
            }

            async fn due_summaries(&self, now_ms: i64, limit: i64) -> Result<Vec<Summary>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!(
                    "SELECT {SUMMARY_COLS} FROM summaries WHERE state IN ('pending', 'sending') AND next_at <= "
                ));
                qb.push_bind(now_ms).push(" ORDER BY next_at, stream_id, target LIMIT ").push_bind(limit);
                let rows: Vec<SummaryTuple> = qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(summary_row).collect()
            }

            async fn claim_summary(
                &self,
                subject: i64,
                target: &str,
                attempts: i64,
                lease_until_ms: i64,
            ) -> Result<bool, StoreError> {
                // The attempt count read with the row is the version: of two workers that read
                // the same due row, one update matches.
                let mut qb = QueryBuilder::<$db>::new("UPDATE summaries SET state = 'sending', attempts = attempts + 1, next_at = ");
                qb.push_bind(lease_until_ms)
                    .push(" WHERE stream_id = ")
                    .push_bind(subject)
                    .push(" AND target = ")
                    .push_bind(target.to_owned())
                    .push(" AND attempts = ")
                    .push_bind(attempts)
                    .push(" AND state IN ('pending', 'sending')");
                Ok(qb.build().execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn finish_summary(
                &self,
                subject: i64,
                target: &str,
                attempts: i64,
                update: &SummaryUpdate,
            ) -> Result<bool, StoreError> {
                let mut qb = QueryBuilder::<$db>::new("UPDATE summaries SET state = ");
                qb.push_bind(update.state.as_str())
                    .push(", next_at = ")
                    .push_bind(update.next_at)
                    .push(", sent_at = ")
                    .push_bind(update.sent_at)
                    .push(", last_error = ")
                    .push_bind(update.last_error.clone())
                    .push(" WHERE stream_id = ")
                    .push_bind(subject)
                    .push(" AND target = ")
                    .push_bind(target.to_owned())
                    .push(" AND attempts = ")
                    .push_bind(attempts)
                    .push(" AND state = 'sending'");
                Ok(qb.build().execute(&self.pool).await?.rows_affected() == 1)
            }

            async fn summaries(&self, subject: i64) -> Result<Vec<Summary>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(format!("SELECT {SUMMARY_COLS} FROM summaries WHERE stream_id = "));
                qb.push_bind(subject).push(" ORDER BY target");
                let rows: Vec<SummaryTuple> = qb.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map(summary_row).collect()
            }

            async fn disable_recap_target(&self, disabled: &DisabledTarget) -> Result<(), StoreError> {
                let d = Self::D;
                let mut qb = QueryBuilder::<$db>::new(
                    "INSERT INTO recap_disabled (channel_id, target, url_hash, status, disabled_at) VALUES (",
                );
                qb.push_bind(disabled.channel.0)
                    .push(", ")
                    .push_bind(disabled.target.clone())
                    .push(", ")
                    .push_bind(disabled.url_hash.clone())
                    .push(", ")
                    .push_bind(disabled.status)
                    .push(", ")
                    .push_bind(disabled.disabled_at.0)
                    .push(")");
                qb.push(d.upsert("channel_id, target")).push(format!(
                    "url_hash = {}, status = {}, disabled_at = {}",
                    d.ex("url_hash"),
                    d.ex("status"),
                    d.ex("disabled_at")
                ));
                qb.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn disabled_recap_targets(&self, channel: ChannelKey) -> Result<Vec<DisabledTarget>, StoreError> {
                let mut qb = QueryBuilder::<$db>::new(
                    "SELECT target, url_hash, status, disabled_at FROM recap_disabled WHERE channel_id = ",
                );
                qb.push_bind(channel.0).push(" ORDER BY target");
                let rows: Vec<(String, String, i64, i64)> = qb.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows
                    .into_iter()
                    .map(|(target, url_hash, status, at)| DisabledTarget {
                        channel,
                        target,
                        url_hash,
                        status,
                        disabled_at: Timestamp(at),
                    })
                    .collect())
            }

            fn channel_users_stream<'a>(
                &'a self,
                channel: ChannelKey,
                since: Timestamp,
                until: Timestamp,
                excluded: &'a [UserId],
            ) -> BoxStream<'a, Result<ChannelUser, StoreError>> {
                let d = Self::D;
                // One page at a time: find where the next page ends, then stream its rows.
                let pages = futures::stream::try_unfold(Some(0_i64), move |after| async move {
                    let Some(after) = after else {
                        return Ok(None);
                    };
                    let end = export_page_end(channel, after, until, excluded);
                    let (last,): (Option<i64>,) =
                        sqlx::query_as(sqlx::AssertSqlSafe(end)).fetch_one(&self.pool).await?;
                    let Some(last) = last else {
                        return Ok(None);
                    };
                    let page = (after, last);
                    let rows = if d == Dialect::Sqlite {
                        let people = sqlite_page_people(channel, page, until, excluded);
                        let (people,): (String,) =
                            sqlx::query_as(sqlx::AssertSqlSafe(people)).fetch_one(&self.pool).await?;
                        let streams = sqlite_page_streams(channel, page);
                        let (streams,): (String,) =
                            sqlx::query_as(sqlx::AssertSqlSafe(streams)).fetch_one(&self.pool).await?;
                        let rows = sqlite_export_page(&people, &streams, since)?;
                        futures::stream::iter(rows.into_iter().map(Ok)).boxed()
                    } else {
                        let sql = export_page(d, channel, page, since, until, excluded);
                        sqlx::query_as::<_, ChannelUserTuple>(sqlx::AssertSqlSafe(sql))
                            .fetch(&self.pool)
                            .map(|row| channel_user_row(row?))
                            .boxed()
                    };
                    Ok::<_, StoreError>(Some((rows, Some(last))))
                });
                pages.try_flatten().fuse().boxed()
            }
        }
    };
}

store_impl!(
    SqliteStore,
    Sqlite,
    Dialect::Sqlite,
    Backend::Sqlite,
    SQLITE_MIGRATOR
);
store_impl!(
    MySqlStore,
    MySql,
    Dialect::MySql,
    Backend::MySql,
    MYSQL_MIGRATOR
);
store_impl!(
    PostgresStore,
    Postgres,
    Dialect::Postgres,
    Backend::Postgres,
    POSTGRES_MIGRATOR
);
