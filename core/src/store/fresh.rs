//! The keyed reads that add ingestion's uncommitted rows to committed figures
//! ([`Overlay`](super::Overlay), `Figures::fresh`): the stored rows of just the users the
//! overlay touches, so the figures subtract what those rows gave and add the merged rows.

use rustc_hash::{FxHashMap, FxHashSet};

use super::dialect::{id_list, login};
use super::error::StoreError;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, with_pool};
use crate::domain::{Login, Timestamp, UserId};

/// A stored (stream, user) row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRow {
    /// First observation in the stream.
    pub first_seen: Timestamp,
    /// Latest recorded observation.
    pub last_seen: Timestamp,
    /// Messages.
    pub messages: i64,
    /// A message carried `first-msg=1`.
    pub first_msg: bool,
    /// A unique chatter (an observation other than a part).
    pub active: bool,
    /// New to the channel in this stream.
    pub is_new: bool,
    /// Watch time of closed intervals, seconds.
    pub watch_time: i64,
    /// Start of the user's open presence interval (`None`: not present).
    pub open_since: Option<Timestamp>,
    /// A regular of the (marked) stream.
    pub is_regular: bool,
    /// In the (marked) stream's previous stream.
    pub in_previous: bool,
}

type RowTuple = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
);

impl Store {
    /// The stored rows of `users` in `stream`.
    pub async fn stream_rows_of(
        &self,
        stream: StreamKey,
        users: &[UserId],
    ) -> Result<FxHashMap<UserId, StoredRow>, StoreError> {
        let mut out = FxHashMap::default();
        for chunk in users.chunks(10_000) {
            let sql = format!(
                "SELECT user_id, first_seen, last_seen, messages, first_msg, active, is_new, \
                 watch_time, open_since, is_regular, in_previous FROM stream_users \
                 WHERE stream_id = {s} AND user_id IN {ids}",
                s = stream.0,
                ids = id_list(chunk),
            );
            let rows: Vec<RowTuple> = with_pool!(self, |pool, Db, d| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await?
            });
            for (u, first, last, m, fm, a, n, w, open, r, p) in rows {
                out.insert(
                    UserId(u),
                    StoredRow {
                        first_seen: Timestamp(first),
                        last_seen: Timestamp(last),
                        messages: m,
                        first_msg: fm != 0,
                        active: a != 0,
                        is_new: n != 0,
                        watch_time: w,
                        open_since: open.map(Timestamp),
                        is_regular: r != 0,
                        in_previous: p != 0,
                    },
                );
            }
        }
        Ok(out)
    }

    /// First observation in `channel` of each of `users` who has one.
    pub async fn channel_first_seen(
        &self,
        channel: ChannelKey,
        users: &[UserId],
    ) -> Result<FxHashMap<UserId, Timestamp>, StoreError> {
        let mut out = FxHashMap::default();
        for chunk in users.chunks(10_000) {
            let sql = format!(
                "SELECT user_id, first_seen FROM channel_users WHERE channel_id = {c} AND user_id IN {ids}",
                c = channel.0,
                ids = id_list(chunk),
            );
            let rows: Vec<(i64, i64)> = with_pool!(self, |pool, Db, d| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await?
            });
            out.extend(rows.into_iter().map(|(u, t)| (UserId(u), Timestamp(t))));
        }
        Ok(out)
    }

    /// Current logins of `users` (those stored).
    pub async fn logins_of(
        &self,
        users: &[UserId],
    ) -> Result<FxHashMap<UserId, Login>, StoreError> {
        let mut out = FxHashMap::default();
        for chunk in users.chunks(10_000) {
            let sql = format!("SELECT id, login FROM users WHERE id IN {}", id_list(chunk));
            let rows: Vec<(i64, String)> = with_pool!(self, |pool, Db, d| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await?
            });
            for (u, l) in rows {
                out.insert(UserId(u), login(l)?);
            }
        }
        Ok(out)
    }

    /// Which of `users` are regulars of `stream` as of its start (its `stream_regulars`), and
    /// which were unique chatters of `previous`: the marks a new row of a marked stream gets.
    pub async fn marks_among(
        &self,
        stream: StreamKey,
        previous: Option<StreamKey>,
        users: &[UserId],
    ) -> Result<(FxHashSet<UserId>, FxHashSet<UserId>), StoreError> {
        let mut regulars = FxHashSet::default();
        let mut in_previous = FxHashSet::default();
        for chunk in users.chunks(10_000) {
            let ids = id_list(chunk);
            let mut sets = vec![(
                &mut regulars,
                format!(
                    "SELECT user_id FROM stream_regulars WHERE stream_id = {s} AND user_id IN {ids}",
                    s = stream.0
                ),
            )];
            if let Some(p) = previous {
                sets.push((
                    &mut in_previous,
                    format!(
                        "SELECT user_id FROM stream_users WHERE stream_id = {p} AND active = 1 AND user_id IN {ids}",
                        p = p.0
                    ),
                ));
            }
            for (set, sql) in sets {
                let rows: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await?
                });
                set.extend(rows.into_iter().map(|(u,)| UserId(u)));
            }
        }
        Ok((regulars, in_previous))
    }

    /// The latest Helix snapshot point of a channel (`None`: none taken).
    pub async fn last_snapshot(
        &self,
        channel: ChannelKey,
    ) -> Result<Option<Timestamp>, StoreError> {
        let sql = format!(
            "SELECT MAX(at) FROM series WHERE total IS NOT NULL AND channel_id = {}",
            channel.0
        );
        let (at,): (Option<i64>,) = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?
        });
        Ok(at.map(Timestamp))
    }
}
