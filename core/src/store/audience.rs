//! The audience's storage (SPEC "Viewers and categories", "Watch time"): stream samples from
//! Get Streams polls with the game names they carry, watch time per stream row (credited by the
//! tracker when an interval closes or the stream ends; intervals still open while a stream is
//! live are added here when read), and the regulars of each stream, computed once.
//!
//! Samples are small: one `(channel, at, viewers, game id)` row per poll of a live channel,
//! game names once in `games`.

use rustc_hash::FxHashMap;
use sqlx::{QueryBuilder, Row as _};

use super::bulk;
use super::dialect::{Dialect, id_list, login, not_in};
use super::error::StoreError;
use super::figures::open_watch;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, Tx, with_pool, with_tx};
use super::streams::{STREAM_COLS, Stream, StreamTuple, stream_row};
use crate::domain::{Login, Timestamp, UserId};

/// Ended streams that decide who is a regular.
pub const REGULAR_STREAMS: i64 = 5;
/// Of those, how many a regular attended at least.
pub const REGULAR_MIN: i64 = 3;

/// One successful Get Streams answer for a live channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSample {
    /// When the answer came.
    pub at: Timestamp,
    /// Helix `viewer_count`.
    pub viewers: i64,
    /// Helix `game_id` (`""`: no category).
    pub game_id: String,
    /// Helix `game_name`.
    pub game_name: String,
}

/// A stored sample with its watcher count and category, per-second precision.
pub type Sample = StreamSample;

/// A user's watch time in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserWatch {
    /// Id.
    pub user_id: UserId,
    /// Current login.
    pub login: Login,
    /// Seconds.
    pub watch_time: i64,
}

/// A regular of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegularRow {
    /// Id.
    pub user_id: UserId,
    /// Current login.
    pub login: Login,
    /// Of the deciding streams, how many they were a unique chatter of.
    pub attended: i64,
    /// Their watch time over those streams, seconds.
    pub watch_time: i64,
}

impl Store {
    /// Records the samples of one poll (one per live channel, by login; channels not tracked
    /// are skipped), with the games' current names.
    pub async fn record_samples(
        &self,
        samples: &[(Login, StreamSample)],
    ) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        with_pool!(self, |pool, Db, d| {
            let mut tx = pool.begin().await?;
            for (channel, s) in samples {
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO games (id, name) VALUES (");
                qb.push_bind(s.game_id.clone())
                    .push(", ")
                    .push_bind(s.game_name.clone())
                    .push(")")
                    .push(d.upsert("id"))
                    .push(format!("name = {}", d.ex("name")));
                qb.build().execute(&mut *tx).await?;
                let (pre, post) = d.insert_ignore();
                let mut qb = QueryBuilder::<Db>::new(format!(
                    "{pre}stream_samples (channel_id, at, viewers, game_id) SELECT id, "
                ));
                qb.push_bind(s.at.0)
                    .push(", ")
                    .push_bind(s.viewers)
                    .push(", ")
                    .push_bind(s.game_id.clone())
                    .push(" FROM channels WHERE login = ")
                    .push_bind(channel.as_str().to_owned())
                    .push(post);
                qb.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Samples of a channel in `[from, to]`, oldest first, with game names.
    pub async fn samples(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Sample>, StoreError> {
        let rows: Vec<(i64, i64, String, Option<String>)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT s.at, s.viewers, s.game_id, g.name FROM stream_samples s \
                 LEFT JOIN games g ON g.id = s.game_id WHERE s.channel_id = ",
            );
            qb.push_bind(channel.0)
                .push(" AND s.at >= ")
                .push_bind(from.0)
                .push(" AND s.at <= ")
                .push_bind(to.0)
                .push(" ORDER BY s.at");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(at, viewers, game_id, name)| Sample {
                at: Timestamp(at),
                viewers,
                game_id,
                game_name: name.unwrap_or_default(),
            })
            .collect())
    }

    /// The latest sample of a channel at or before `at`.
    pub async fn sample_at(
        &self,
        channel: ChannelKey,
        at: Timestamp,
    ) -> Result<Option<Sample>, StoreError> {
        let row: Option<(i64, i64, String, Option<String>)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT s.at, s.viewers, s.game_id, g.name FROM stream_samples s \
                 LEFT JOIN games g ON g.id = s.game_id WHERE s.channel_id = ",
            );
            qb.push_bind(channel.0)
                .push(" AND s.at <= ")
                .push_bind(at.0)
                .push(" ORDER BY s.at DESC LIMIT 1");
            qb.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(at, viewers, game_id, name)| Sample {
            at: Timestamp(at),
            viewers,
            game_id,
            game_name: name.unwrap_or_default(),
        }))
    }

    /// The longest watchers of a stream (ties by login), at most `limit`.
    pub async fn top_watchers(
        &self,
        stream: &Stream,
        excluded: &[UserId],
        limit: i64,
        now: Timestamp,
    ) -> Result<Vec<UserWatch>, StoreError> {
        let rows: Vec<(i64, String, i64)> = with_pool!(self, |pool, Db, d| {
            let total = if stream.ended_at.is_some() {
                "su.watch_time".to_owned()
            } else {
                format!(
                    "su.watch_time + {}",
                    open_watch(d, "su.", &stream.started_at.0.to_string(), now)
                )
            };
            let sql = format!(
                "SELECT su.user_id, u.login, {t} AS total FROM stream_users su JOIN users u ON u.id = su.user_id \
                 WHERE su.stream_id = {s} AND su.active = 1{x} ORDER BY total DESC, u.login LIMIT {limit}",
                t = d.int(&total),
                s = stream.key.0,
                x = not_in("su.user_id", excluded),
                limit = limit.max(0),
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(id, l, watch_time)| {
                Ok(UserWatch {
                    user_id: UserId(id),
                    login: login(l)?,
                    watch_time,
                })
            })
            .collect()
    }

    /// One user's watch time in one stream (a live one up to `now`).
    pub async fn stream_user_watch(
        &self,
        stream: &Stream,
        user: UserId,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let d = self.dialect();
        let open = if stream.ended_at.is_some() {
            "0".to_owned()
        } else {
            open_watch(d, "", &stream.started_at.0.to_string(), now)
        };
        self.int_one(format!(
            "SELECT {sum} FROM stream_users WHERE stream_id = {s} AND user_id = {u}",
            sum = d.int(&format!("COALESCE(SUM(watch_time + {open}), 0)")),
            s = stream.key.0,
            u = user.0,
        ))
        .await
    }

    /// One user's watch time in the streams of a channel overlapping `[since, until]` (a live
    /// one up to `now`).
    pub async fn user_watch(
        &self,
        channel: ChannelKey,
        user: UserId,
        since: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let d = self.dialect();
        self.int_one(format!(
            "SELECT {sum} FROM stream_users su JOIN streams s ON s.id = su.stream_id \
             WHERE s.channel_id = {c} AND su.user_id = {u} AND s.started_at <= {until} \
             AND (s.ended_at IS NULL OR s.ended_at >= {since})",
            sum = d.int(&format!(
                "COALESCE(SUM(su.watch_time + CASE WHEN s.ended_at IS NULL THEN {} ELSE 0 END), 0)",
                open_watch(d, "su.", "s.started_at", now)
            )),
            c = channel.0,
            u = user.0,
            until = until.0,
            since = since.0,
        ))
        .await
    }

    /// The last [`REGULAR_STREAMS`] streams of a channel that ended at or before `at`, newest
    /// first.
    pub async fn deciding_streams(
        &self,
        channel: ChannelKey,
        at: Timestamp,
    ) -> Result<Vec<Stream>, StoreError> {
        let rows: Vec<StreamTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {STREAM_COLS} FROM streams WHERE channel_id = "
            ));
            qb.push_bind(channel.0)
                .push(" AND ended_at IS NOT NULL AND ended_at <= ")
                .push_bind(at.0)
                .push(" ORDER BY ended_at DESC, id DESC LIMIT ")
                .push_bind(REGULAR_STREAMS);
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(stream_row).collect()
    }

    /// Regulars of a stream (as of its start) outside `excluded`: how many there are, and how
    /// many of them are unique chatters of the stream. The set is computed once per stream.
    pub async fn regulars_of_stream(
        &self,
        stream: &Stream,
        excluded: &[UserId],
    ) -> Result<(i64, i64), StoreError> {
        self.ensure_regulars(stream).await?;
        with_pool!(self, |pool, Db, d| {
            let sql = format!(
                "SELECT {n}, {p} FROM stream_regulars r LEFT JOIN stream_users su \
                 ON su.stream_id = r.stream_id AND su.user_id = r.user_id AND su.active = 1 \
                 WHERE r.stream_id = {s}{x}",
                n = d.int("COUNT(*)"),
                p = d.int("COUNT(su.user_id)"),
                s = stream.key.0,
                x = not_in("r.user_id", excluded),
            );
            let (n, p): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?;
            Ok((n, p))
        })
    }

    /// How many of a stream's regulars (as of its start) outside `excluded` are its unique
    /// chatters (`regulars_present`). The set is computed once per stream.
    pub async fn regulars_present(
        &self,
        stream: &Stream,
        excluded: &[UserId],
    ) -> Result<i64, StoreError> {
        self.ensure_regulars(stream).await?;
        let s = stream.key.0;
        let d = self.dialect();
        let count = d.int("COUNT(*)");
        let joined = |x: &str| {
            format!(
                "SELECT {count} FROM stream_regulars r JOIN stream_users su ON su.stream_id = r.stream_id \
                 AND su.user_id = r.user_id AND su.active = 1 WHERE r.stream_id = {s}{x}"
            )
        };
        if d != Dialect::Sqlite {
            return self.int_one(joined(&not_in("r.user_id", excluded))).await;
        }
        // As `shared_unique`: a merge of the two user-ordered sets rather than a key lookup
        // per regular, minus the excluded users of it.
        let mut n = self
            .int_one(format!(
                "SELECT COUNT(*) FROM (SELECT user_id FROM stream_regulars WHERE stream_id = {s} \
                 INTERSECT SELECT user_id FROM stream_users WHERE stream_id = {s} AND active = 1 ORDER BY 1)"
            ))
            .await?;
        if !excluded.is_empty() {
            n -= self
                .int_one(joined(&format!(" AND r.user_id IN {}", id_list(excluded))))
                .await?;
        }
        Ok(n)
    }

    /// Computes a stream's regulars once (insert-ignore: a concurrent computation agrees).
    pub(super) async fn ensure_regulars(&self, stream: &Stream) -> Result<(), StoreError> {
        let known: Option<(i64,)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("SELECT regulars_known FROM streams WHERE id = ");
            qb.push_bind(stream.key.0);
            qb.build_query_as().fetch_optional(pool).await?
        });
        if known.is_some_and(|(k,)| k != 0) {
            return Ok(());
        }
        let deciding = self
            .deciding_streams(stream.channel, stream.started_at)
            .await?;
        let mut statements = Vec::new();
        if !deciding.is_empty() {
            let ids: Vec<UserId> = deciding.iter().map(|s| UserId(s.key.0)).collect();
            let (pre, post) = self.dialect().insert_ignore();
            statements.push(format!(
                "{pre}stream_regulars (stream_id, user_id, attended) SELECT {s}, user_id, COUNT(*) \
                 FROM stream_users WHERE stream_id IN {ids} AND active = 1 GROUP BY user_id \
                 HAVING COUNT(*) >= {REGULAR_MIN}{post}",
                s = stream.key.0,
                ids = id_list(&ids),
            ));
        }
        statements.push(format!(
            "UPDATE streams SET regulars_known = 1 WHERE id = {}",
            stream.key.0
        ));
        let mut tx = self.begin().await?;
        for sql in statements {
            with_tx!(&mut tx, |tx, Db, d| {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut **tx)
                    .await?;
            });
        }
        tx.commit().await
    }

    /// The regulars decided by `streams` (the deciding streams), outside `excluded`, by
    /// attended then watch time descending (then login).
    pub async fn regulars(
        &self,
        streams: &[StreamKey],
        excluded: &[UserId],
    ) -> Result<Vec<RegularRow>, StoreError> {
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<UserId> = streams.iter().map(|s| UserId(s.0)).collect();
        let rows: Vec<(i64, String, i64, i64)> = with_pool!(self, |pool, Db, d| {
            let sql = format!(
                "SELECT su.user_id, u.login, {n} AS attended, {w} AS watched FROM stream_users su \
                 JOIN users u ON u.id = su.user_id WHERE su.stream_id IN {ids} AND su.active = 1{x} \
                 GROUP BY su.user_id, u.login HAVING COUNT(*) >= {REGULAR_MIN} \
                 ORDER BY attended DESC, watched DESC, u.login",
                n = d.int("COUNT(*)"),
                w = d.int("COALESCE(SUM(su.watch_time), 0)"),
                ids = id_list(&ids),
                x = not_in("su.user_id", excluded),
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(id, l, attended, watch_time)| {
                Ok(RegularRow {
                    user_id: UserId(id),
                    login: login(l)?,
                    attended,
                    watch_time,
                })
            })
            .collect()
    }

    /// Credits the watch time of presence intervals a crash or a stop left open to the live
    /// streams whose chatters they are, up to the time they are about to be closed at
    /// (`until`, the expression [`Store::close_dangling_presence`] closes them with).
    pub(super) async fn credit_dangling_watch(
        &self,
        until: &str,
        only: &str,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT su.stream_id, su.user_id, {g}(0, ({until}) - {g}(presence.since, s.started_at)), s.channel_id \
             FROM presence JOIN streams s ON s.channel_id = presence.channel_id AND s.ended_at IS NULL \
             JOIN stream_users su ON su.stream_id = s.id AND su.user_id = presence.user_id \
             WHERE presence.until IS NULL{only}",
            g = self.dialect().greatest(),
        );
        let mut credits: Vec<(i64, i64, i64, i64)> = with_pool!(self, |pool, Db, d| {
            let mut out = Vec::new();
            for row in sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
            {
                out.push((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                ));
            }
            out
        });
        credits.retain(|c| c.2 > 0);
        if credits.is_empty() {
            return Ok(());
        }
        credits.sort_unstable();
        // The credited users' totals in their channels follow their stream rows.
        let mut users: FxHashMap<ChannelKey, Vec<UserId>> = FxHashMap::default();
        for (_, user, _, channel) in &credits {
            users
                .entry(ChannelKey(*channel))
                .or_default()
                .push(UserId(*user));
        }
        let mut tx = self.begin().await?;
        add_watch(&mut tx, &credits).await?;
        for (channel, mut ids) in users {
            ids.sort_unstable();
            ids.dedup();
            super::totals::recount(&mut tx, channel, &ids).await?;
        }
        tx.commit().await
    }

    /// The opened backend's dialect.
    pub(super) fn dialect(&self) -> Dialect {
        with_pool!(self, |_pool, Db, d| d)
    }
}

/// Adds watch time to existing stream rows: `(stream, user, seconds, channel)`, sorted by key.
async fn add_watch(tx: &mut Tx, credits: &[(i64, i64, i64, i64)]) -> Result<(), StoreError> {
    let d = with_tx!(tx, |_tx, Db, d| d);
    let tail = format!(
        "{}watch_time = stream_users.watch_time + {}",
        d.upsert("stream_id, user_id"),
        d.ex("watch_time")
    );
    bulk::upsert(
        tx,
        "INSERT INTO stream_users (stream_id, user_id, first_seen, last_seen, watch_time) ",
        &tail,
        credits,
        |(s, u, w, _)| (*s, *u, 0_i64, 0_i64, *w),
    )
    .await
}
