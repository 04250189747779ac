//! The reads behind the figures: per-stream aggregates, peaks, overlap between streams, top
//! and new chatters, raids, retention, chatters over a window and the chatter-count series.

use sqlx::{QueryBuilder, Row as _};

use super::dialect::{Dialect, id_list, login, not_in};
use super::error::StoreError;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, with_pool};
use super::streams::Stream;
use crate::domain::{Login, Timestamp, UserId};

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

/// Watch time of a live stream row's open presence interval up to `now`, clipped to the stream
/// (started at `started`, an integer or a column), 0 when the user is not present (`open_since`
/// is NULL): the rows carry the interval's start, so no read goes to `presence`.
pub(super) fn open_watch(d: Dialect, row: &str, started: &str, now: Timestamp) -> String {
    format!(
        "CASE WHEN {row}open_since < {now} THEN {now} - {g}({row}open_since, {started}) ELSE 0 END",
        now = now.0,
        g = d.greatest(),
    )
}

/// The first value of a row of integers.
pub(super) fn first(row: &[i64]) -> Result<i64, StoreError> {
    row.first().copied().ok_or(StoreError::Corrupt {
        column: "aggregate",
        value: String::new(),
    })
}

impl Store {
    /// `cols` (integer aggregates that add up: `COUNT`, `SUM`) over a stream's active rows,
    /// minus the same over the rows of `excluded` users: what filtering `user_id NOT IN (…)`
    /// gives, without testing every row (SQLite looks each one up in a temporary index for
    /// `NOT IN`, about a third of the pass; the excluded users' rows are a few key lookups).
    pub(super) async fn active_sums(
        &self,
        stream: StreamKey,
        cols: &str,
        excluded: &[UserId],
    ) -> Result<Vec<i64>, StoreError> {
        let all = format!(
            "SELECT {cols} FROM stream_users WHERE stream_id = {s} AND active = 1",
            s = stream.0
        );
        let mut sums = self.int_row(all).await?;
        if !excluded.is_empty() {
            let only = format!(
                "SELECT {cols} FROM stream_users WHERE stream_id = {s} AND active = 1 AND user_id IN {ids}",
                s = stream.0,
                ids = id_list(excluded),
            );
            for (sum, part) in sums.iter_mut().zip(self.int_row(only).await?) {
                *sum -= part;
            }
        }
        Ok(sums)
    }

    /// The one integer `sql` returns.
    pub(super) async fn int_one(&self, sql: String) -> Result<i64, StoreError> {
        first(&self.int_row(sql).await?)
    }

    /// The one row of integers `sql` returns.
    pub(super) async fn int_row(&self, sql: String) -> Result<Vec<i64>, StoreError> {
        let row: Vec<i64> = with_pool!(self, |pool, Db, d| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?;
            let mut out = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                out.push(row.try_get::<i64, _>(i)?);
            }
            out
        });
        Ok(row)
    }

    /// The rows of integers `sql` returns.
    pub(super) async fn int_rows(&self, sql: String) -> Result<Vec<Vec<i64>>, StoreError> {
        let rows: Vec<Vec<i64>> = with_pool!(self, |pool, Db, d| {
            let mut out = Vec::new();
            for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
            {
                let mut values = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    values.push(row.try_get::<i64, _>(i)?);
                }
                out.push(values);
            }
            out
        });
        Ok(rows)
    }

    /// Highest snapshot point in `[from, to]` (`None` when no snapshot was taken).
    pub async fn snapshot_peak(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let (peak,): (Option<i64>,) = with_pool!(self, |pool, Db, d| {
            let mut qb =
                QueryBuilder::<Db>::new("SELECT MAX(chatters) FROM series WHERE channel_id = ");
            qb.push_bind(channel.0)
                .push(" AND total IS NOT NULL AND at >= ")
                .push_bind(from.0)
                .push(" AND at <= ")
                .push_bind(to.0);
            qb.build_query_as().fetch_one(pool).await?
        });
        Ok(peak)
    }

    /// Users of `stream` who are unique chatters of both it and `other`.
    pub async fn shared_unique(
        &self,
        stream: StreamKey,
        other: StreamKey,
        excluded: &[UserId],
    ) -> Result<i64, StoreError> {
        let (s, o) = (stream.0, other.0);
        let d = self.dialect();
        let count = d.int("COUNT(*)");
        let both = |x: &str| {
            format!(
                "SELECT {count} FROM stream_users a WHERE a.stream_id = {s} AND a.active = 1{x} AND EXISTS \
                 (SELECT 1 FROM stream_users b WHERE b.stream_id = {o} AND b.user_id = a.user_id AND b.active = 1)"
            )
        };
        if d != Dialect::Sqlite {
            // Hash or index semi-joins: one pass.
            return self.int_one(both(&not_in("a.user_id", excluded))).await;
        }
        // SQLite joins by one key lookup per row; both row sets are in user order, so the
        // intersection is a merge of two ordered scans, minus the excluded users of it.
        let all = format!(
            "SELECT COUNT(*) FROM (SELECT user_id FROM stream_users WHERE stream_id = {s} AND active = 1 \
             INTERSECT SELECT user_id FROM stream_users WHERE stream_id = {o} AND active = 1 ORDER BY 1)"
        );
        let mut n = self.int_one(all).await?;
        if !excluded.is_empty() {
            n -= self
                .int_one(both(&format!(" AND a.user_id IN {}", id_list(excluded))))
                .await?;
        }
        Ok(n)
    }

    /// Unique chatters of `stream` among `excluded` (the known bots counted separately).
    pub async fn count_unique_among(
        &self,
        stream: StreamKey,
        ids: &[UserId],
    ) -> Result<i64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let (n,): (i64,) = with_pool!(self, |pool, Db, d| {
            let sql = format!(
                "SELECT {c} FROM stream_users WHERE stream_id = {s} AND active = 1 AND user_id IN {l}",
                c = d.int("COUNT(*)"),
                s = stream.0,
                l = id_list(ids),
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Top chatters of a stream by messages (ties by login).
    pub async fn top_chatters(
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
        let rows: Vec<(i64, String, i64)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(id, l, count)| {
                Ok(UserCount {
                    user_id: UserId(id),
                    login: login(l)?,
                    count,
                })
            })
            .collect()
    }

    /// New chatters of a stream, newest first.
    pub async fn new_chatters(
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
        let rows: Vec<(i64, String, i64, i64)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
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

    /// Raids received by a channel in `[from, to]`, oldest first.
    pub async fn raids(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Raid>, StoreError> {
        let rows: Vec<(i64, Option<i64>, i64, String, i64, i64)> = with_pool!(
            self,
            |pool, Db, d| {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT channel_id, stream_id, from_id, from_login, viewers, at FROM raids WHERE channel_id = ",
                );
                qb.push_bind(channel.0)
                    .push(" AND at >= ")
                    .push_bind(from.0)
                    .push(" AND at <= ")
                    .push_bind(to.0)
                    .push(" ORDER BY at, id");
                qb.build_query_as().fetch_all(pool).await?
            }
        );
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

    /// Of users first observed in the channel within `[from, to]` during `stream` and outside
    /// `excluded`: how many, and how many were observed at or after `later`.
    pub async fn arrivals_retained(
        &self,
        stream: &Stream,
        from: Timestamp,
        to: Timestamp,
        later: Timestamp,
        excluded: &[UserId],
    ) -> Result<(i64, i64), StoreError> {
        with_pool!(self, |pool, Db, d| {
            // A present user's stream row is refreshed when they leave or the stream ends;
            // until then the channel's latest snapshot (which listed them) is their last
            // sighting.
            let (last_snapshot,): (Option<i64>,) = {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT MAX(at) FROM series WHERE total IS NOT NULL AND channel_id = ",
                );
                qb.push_bind(stream.channel.0);
                qb.build_query_as().fetch_one(pool).await?
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
            let (n, r): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?;
            Ok((n, r))
        })
    }

    /// Distinct unique chatters of the channel's streams overlapping `[since, until]`, as ids.
    pub async fn window_chatters(
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
        let rows: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
    }

    /// Unique chatters of one stream, as ids.
    pub async fn stream_chatters(
        &self,
        stream: StreamKey,
        excluded: &[UserId],
    ) -> Result<Vec<UserId>, StoreError> {
        let sql = format!(
            "SELECT user_id FROM stream_users WHERE stream_id = {s} AND active = 1{x} ORDER BY user_id",
            s = stream.0,
            x = not_in("user_id", excluded),
        );
        let rows: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
    }

    /// Series points of a channel in `[from, to]`, oldest first.
    pub async fn series(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        let rows: Vec<(i64, i64, Option<i64>)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT at, chatters, total FROM series WHERE channel_id = ",
            );
            qb.push_bind(channel.0)
                .push(" AND at >= ")
                .push_bind(from.0)
                .push(" AND at <= ")
                .push_bind(to.0)
                .push(" ORDER BY at");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(at, chatters, total)| SeriesPoint {
                at: Timestamp(at),
                chatters,
                total,
            })
            .collect())
    }
}
