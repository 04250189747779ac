//! Each user's all-time totals in a channel, kept in `channel_users` so the dashboard's chatter
//! table reads a page off an index whatever the column it sorts by. Migration 0007 defines
//! them: the channel row's own figures plus the sums over the user's rows of the channel's
//! streams, exactly what a chatter row adds up from `stream_users` over all time:
//!
//! - `all_messages` = `messages` + Σ `stream_users.messages`,
//! - `all_last_seen` = the larger of `last_seen` and every `stream_users.last_seen`,
//! - `all_streams` = Σ `stream_users.active` (streams attended),
//! - `all_watch` = Σ `stream_users.watch_time`.
//!
//! The commit adds what each batch changes ([`batch_totals`], written with the channel rows by
//! [`write_totals`]); the other writers of stream rows (the watch time credited to intervals a
//! crash left open, the pruning of old streams' rows) recount the users they touch from the
//! stream rows ([`recount_sql`]).

use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::Row as _;

use super::batch::{Batch, ChannelUserDelta};
use super::bulk;
use super::dialect::{Dialect, id_list};
use super::error::StoreError;
use super::held_totals::TotalsDelta;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, Tx, with_pool, with_tx};
use crate::domain::UserId;

/// Ids per statement of the reads here.
const IDS: usize = 10_000;
/// Streams per statement of [`active_rows`]: each is one term of an `OR`, and SQLite refuses
/// an expression deeper than 1,000 (a batch of 1,000 live channels made every commit fail).
const STREAMS: usize = 200;

/// `keys` (sorted by stream) cut into the key lists of [`active_rows`] statements: at most
/// [`IDS`] keys and [`STREAMS`] streams each.
fn statements(keys: &[(StreamKey, UserId)]) -> Vec<&[(StreamKey, UserId)]> {
    let mut out = Vec::new();
    let (mut start, mut streams) = (0, 0);
    for i in 0..keys.len() {
        let new_stream = i == start || keys[i].0 != keys[i - 1].0;
        if i > start && (i - start == IDS || (new_stream && streams == STREAMS)) {
            out.push(&keys[start..i]);
            (start, streams) = (i, 0);
        }
        if new_stream || i == start {
            streams += 1;
        }
    }
    if start < keys.len() {
        out.push(&keys[start..]);
    }
    out
}

/// The totals each (channel, user) of `batch` gains, read before its stream rows are written:
/// a stream row counts as newly attended when the batch makes it active and it is not active
/// yet. Only rows the tracker may not have recorded (`maybe_first`) are read: a sighting of a
/// user it recorded in the live stream follows an active row written by an earlier batch or
/// merged into this one (batches commit in order, each retried until it is stored).
pub(super) async fn batch_totals(
    tx: &mut Tx,
    batch: &Batch,
) -> Result<FxHashMap<(ChannelKey, UserId), TotalsDelta>, StoreError> {
    let mut candidates: Vec<(StreamKey, UserId)> = batch
        .stream_users
        .iter()
        .filter(|(_, d)| d.active && d.maybe_first)
        .map(|(k, _)| *k)
        .collect();
    candidates.sort_unstable();
    let mut attended = FxHashSet::default();
    for chunk in statements(&candidates) {
        attended.extend(active_rows(tx, chunk).await?);
    }
    let mut totals: FxHashMap<(ChannelKey, UserId), TotalsDelta> = FxHashMap::default();
    for (key, d) in &batch.channel_users {
        let t = totals
            .entry(*key)
            .or_insert_with(|| TotalsDelta::new(d.first_seen.0, d.last_seen.0));
        t.messages += d.messages;
        // The channel row is written anyway.
        t.now = true;
    }
    for ((stream, user), d) in &batch.stream_users {
        let t = totals
            .entry((d.channel, *user))
            .or_insert_with(|| TotalsDelta::new(d.first_seen.0, d.last_seen.0));
        t.first_seen = t.first_seen.min(d.first_seen.0);
        t.last_seen = t.last_seen.max(d.last_seen.0);
        t.messages += d.messages;
        t.watch += d.watch;
        let newly = d.active && d.maybe_first && !attended.contains(&(*stream, *user));
        t.streams += i64::from(newly);
        // The channel row may not exist yet.
        t.now |= d.maybe_first;
    }
    Ok(totals)
}

/// Which of `keys` (sorted) are stored active stream rows: one statement, each stream's users
/// as one range of the primary key.
async fn active_rows(
    tx: &mut Tx,
    keys: &[(StreamKey, UserId)],
) -> Result<Vec<(StreamKey, UserId)>, StoreError> {
    let mut ranges = Vec::new();
    for group in keys.chunk_by(|a, b| a.0 == b.0) {
        let users: Vec<UserId> = group.iter().map(|(_, u)| *u).collect();
        ranges.push(format!(
            "(stream_id = {} AND user_id IN {})",
            group[0].0.0,
            id_list(&users)
        ));
    }
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT stream_id, user_id FROM stream_users WHERE active = 1 AND ({})",
        ranges.join(" OR ")
    );
    let mut out = Vec::new();
    with_tx!(tx, |tx, Db, d| {
        for row in sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut **tx)
            .await?
        {
            out.push((
                StreamKey(row.try_get::<i64, _>(0)?),
                UserId(row.try_get::<i64, _>(1)?),
            ));
        }
    });
    Ok(out)
}

/// The totals columns' upsert assignments: each adds the batch's value.
fn totals_tail(d: Dialect) -> String {
    format!(
        "all_messages = channel_users.all_messages + {m}, \
         all_last_seen = {g}(channel_users.all_last_seen, {ls}), \
         all_streams = channel_users.all_streams + {s}, \
         all_watch = channel_users.all_watch + {w}",
        g = d.greatest(),
        m = d.ex("all_messages"),
        ls = d.ex("all_last_seen"),
        s = d.ex("all_streams"),
        w = d.ex("all_watch"),
    )
}

const INSERT: &str = "INSERT INTO channel_users (channel_id, user_id, first_seen, last_seen, \
                      messages, all_messages, all_last_seen, all_streams, all_watch) ";

/// Writes the batch's channel rows with their totals (`channel_tail`: the assignments of the
/// channel row's own columns), then the totals of the users seen only in stream rows (their
/// channel row is left as is).
pub(super) async fn write_totals(
    tx: &mut Tx,
    channel_users: &FxHashMap<(ChannelKey, UserId), ChannelUserDelta>,
    totals: &FxHashMap<(ChannelKey, UserId), TotalsDelta>,
    channel_tail: &str,
) -> Result<(), StoreError> {
    let d = with_tx!(tx, |_tx, Db, d| d);
    let zero = TotalsDelta::new(0, 0);
    // Key order: each b-tree page is visited once, in order.
    let mut rows: Vec<_> = channel_users.iter().collect();
    rows.sort_unstable_by_key(|(k, _)| **k);
    let tail = format!("{channel_tail}, {}", totals_tail(d));
    bulk::upsert(tx, INSERT, &tail, &rows, |(key, delta)| {
        let t = totals.get(*key).unwrap_or(&zero);
        (
            key.0.0,
            key.1.0,
            delta.first_seen.0,
            delta.last_seen.0,
            delta.messages,
            t.messages,
            t.last_seen,
            t.streams,
            t.watch,
        )
    })
    .await?;
    let mut rows: Vec<_> = totals
        .iter()
        .filter(|(k, _)| !channel_users.contains_key(*k))
        .collect();
    rows.sort_unstable_by_key(|(k, _)| **k);
    let tail = format!("{}{}", d.upsert("channel_id, user_id"), totals_tail(d));
    bulk::upsert(tx, INSERT, &tail, &rows, |(key, t)| {
        (
            key.0.0,
            key.1.0,
            t.first_seen,
            t.last_seen,
            0_i64,
            t.messages,
            t.last_seen,
            t.streams,
            t.watch,
        )
    })
    .await
}

/// Statements recounting the totals of the users of `channel` matching `users` (an SQL
/// condition on their id, e.g. `IN (1,2)`; empty: every user of the channel) from their stream
/// rows.
pub(super) fn recount_sql(d: Dialect, channel: ChannelKey, users: &str) -> [String; 2] {
    let c = channel.0;
    let only = |col: &str| {
        if users.is_empty() {
            String::new()
        } else {
            format!(" AND {col} {users}")
        }
    };
    let agg = format!(
        "SELECT su.user_id, SUM(su.messages) AS messages, MAX(su.last_seen) AS last_seen, \
         SUM(su.active) AS streams, SUM(su.watch_time) AS watched \
         FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c}{u} GROUP BY su.user_id",
        u = only("su.user_id"),
    );
    // The users left without stream rows; the others get their sums (each row written once).
    let reset = format!(
        "UPDATE channel_users SET all_messages = messages, all_last_seen = last_seen, \
         all_streams = 0, all_watch = 0 WHERE channel_id = {c}{u} AND NOT EXISTS \
         (SELECT 1 FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE su.user_id = channel_users.user_id AND s.channel_id = {c})",
        u = only("user_id"),
    );
    let add = match d {
        Dialect::MySql => format!(
            "UPDATE channel_users JOIN ({agg}) agg \
             ON channel_users.channel_id = {c} AND channel_users.user_id = agg.user_id \
             SET channel_users.all_messages = channel_users.messages + agg.messages, \
             channel_users.all_last_seen = GREATEST(channel_users.last_seen, agg.last_seen), \
             channel_users.all_streams = agg.streams, channel_users.all_watch = agg.watched"
        ),
        _ => format!(
            "UPDATE channel_users SET all_messages = channel_users.messages + agg.messages, \
             all_last_seen = {g}(channel_users.last_seen, agg.last_seen), \
             all_streams = agg.streams, all_watch = agg.watched \
             FROM ({agg}) agg WHERE channel_users.channel_id = {c} AND channel_users.user_id = agg.user_id",
            g = d.greatest(),
        ),
    };
    [reset, add]
}

/// Statements taking the rows of `stream` (of `channel`) out of its users' totals, before the
/// rows are deleted: the sums lose the rows' values (relative, so totals held in memory by any
/// process still add up right), the last sighting is the latest without them.
pub(super) fn unprune_sql(d: Dialect, channel: ChannelKey, stream: StreamKey) -> [String; 2] {
    let (c, s) = (channel.0, stream.0);
    let subtract = match d {
        Dialect::MySql => format!(
            "UPDATE channel_users JOIN stream_users su ON su.stream_id = {s} \
             AND channel_users.channel_id = {c} AND channel_users.user_id = su.user_id \
             SET channel_users.all_messages = channel_users.all_messages - su.messages, \
             channel_users.all_streams = channel_users.all_streams - su.active, \
             channel_users.all_watch = channel_users.all_watch - su.watch_time"
        ),
        _ => format!(
            "UPDATE channel_users SET all_messages = channel_users.all_messages - su.messages, \
             all_streams = channel_users.all_streams - su.active, \
             all_watch = channel_users.all_watch - su.watch_time \
             FROM stream_users su WHERE su.stream_id = {s} AND channel_users.channel_id = {c} \
             AND channel_users.user_id = su.user_id"
        ),
    };
    let last_seen = format!(
        "UPDATE channel_users SET all_last_seen = {g}(channel_users.last_seen, \
         COALESCE((SELECT MAX(su.last_seen) FROM stream_users su JOIN streams st ON st.id = su.stream_id \
         WHERE st.channel_id = {c} AND su.user_id = channel_users.user_id AND su.stream_id <> {s}), \
         channel_users.last_seen)) \
         WHERE channel_id = {c} AND user_id IN (SELECT user_id FROM stream_users WHERE stream_id = {s})",
        g = d.greatest(),
    );
    [subtract, last_seen]
}

/// Recounts the totals of `users` of `channel` (see [`recount_sql`]) in `tx`.
pub(super) async fn recount(
    tx: &mut Tx,
    channel: ChannelKey,
    users: &[UserId],
) -> Result<(), StoreError> {
    let d = with_tx!(tx, |_tx, Db, d| d);
    for chunk in users.chunks(IDS) {
        for sql in recount_sql(d, channel, &format!("IN {}", id_list(chunk))) {
            with_tx!(tx, |tx, Db, d| {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut **tx)
                    .await?;
            });
        }
    }
    Ok(())
}

impl Store {
    /// True when a batch committed now holding totals for `hold` would write some held ones
    /// (see [`super::Batch::hold_totals`]): ingestion commits for them with no events too.
    pub fn totals_pending(&self, hold: std::time::Duration) -> bool {
        self.totals.pending(hold, std::time::Instant::now())
    }

    /// Writes every total held between commits ([`super::held_totals`]); the caller holds the
    /// gate.
    pub(super) async fn write_held_totals(&self) -> Result<(), StoreError> {
        if self.totals.len() == 0 {
            return Ok(());
        }
        let plan = self.totals.plan(
            FxHashMap::default(),
            std::time::Duration::ZERO,
            std::time::Instant::now(),
        );
        let mut tx = self.begin().await?;
        write_totals(&mut tx, &FxHashMap::default(), &plan.write, "").await?;
        tx.commit().await?;
        self.totals.settle(plan);
        Ok(())
    }

    /// Recounts the totals of the users of `channel`'s open streams (every channel's when
    /// `None`) from the stream rows: what a crash lost of the totals held between commits. A
    /// channel whose last holder wrote everything it held ([`totals_written_mark`], with its
    /// last batch or its release) and whose open streams have no row seen since is skipped:
    /// the stop was clean. The marks of the scope are then removed: this run holds totals now.
    pub(super) async fn recount_open_streams(
        &self,
        channel: Option<ChannelKey>,
    ) -> Result<(), StoreError> {
        let _gate = self.totals.gate().await;
        self.write_held_totals().await?;
        let only = channel.map_or(String::new(), |key| format!(" AND channel_id = {}", key.0));
        let channels: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT DISTINCT channel_id FROM streams WHERE ended_at IS NULL{only}"
            )))
            .fetch_all(pool)
            .await?
        });
        let d = self.dialect();
        for (channel,) in channels {
            if self.written_cleanly(ChannelKey(channel)).await? {
                continue;
            }
            let users = format!(
                "IN (SELECT su.user_id FROM stream_users su JOIN streams s ON s.id = su.stream_id \
                 WHERE s.channel_id = {channel} AND s.ended_at IS NULL)"
            );
            self.execute_all(&recount_sql(d, ChannelKey(channel), &users))
                .await?;
        }
        let marks = match channel {
            Some(key) => format!("name = '{}'", totals_written_mark(key)),
            None => format!("name LIKE '{TOTALS_WRITTEN}%'"),
        };
        self.execute_all(&[format!("DELETE FROM bot_state WHERE {marks}")])
            .await?;
        Ok(())
    }

    /// Whether `channel`'s totals were all written by its last holder (its mark is there) and
    /// no row of its open streams was seen after that (a holder that wrote no mark, e.g. an
    /// older version, may have held their totals).
    async fn written_cleanly(&self, channel: ChannelKey) -> Result<bool, StoreError> {
        let Some(at) = self
            .state(&totals_written_mark(channel))
            .await?
            .and_then(|v| v.parse::<i64>().ok())
        else {
            return Ok(false);
        };
        let later = self
            .int_one(format!(
                "SELECT {n} FROM (SELECT 1 AS x FROM stream_users su JOIN streams s ON s.id = su.stream_id \
                 WHERE s.channel_id = {c} AND s.ended_at IS NULL AND su.last_seen > {at} LIMIT 1) later",
                n = self.dialect().int("COUNT(*)"),
                c = channel.0,
            ))
            .await?;
        Ok(later == 0)
    }

    /// Recounts the kept totals of every user of `channel` from the stream rows (what
    /// migration 0007 did for existing rows): for rows written around the commit, e.g. a bulk
    /// load.
    pub async fn recount_totals(&self, channel: ChannelKey) -> Result<(), StoreError> {
        let _gate = self.totals.gate().await;
        self.write_held_totals().await?;
        let mut tx = self.begin().await?;
        let d = with_tx!(&mut tx, |_tx, Db, d| d);
        for sql in recount_sql(d, channel, "") {
            with_tx!(&mut tx, |tx, Db, d| {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut **tx)
                    .await?;
            });
        }
        tx.commit().await
    }
}

/// Prefix of the `bot_state` rows saying a channel's totals were all written.
const TOTALS_WRITTEN: &str = "totals_written:";

/// The `bot_state` row an instance writes with its last batch for each channel it tracked
/// (with the batch releasing it, under leases), valued with the time: none of the channel's
/// totals are held any more, so the next start (or lease) need not recount them.
pub fn totals_written_mark(channel: ChannelKey) -> String {
    format!("{TOTALS_WRITTEN}{}", channel.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(streams: i64, users: i64) -> Vec<(StreamKey, UserId)> {
        (0..streams)
            .flat_map(|s| (0..users).map(move |u| (StreamKey(s), UserId(u))))
            .collect()
    }

    #[test]
    fn statements_hold_at_most_200_streams_and_10000_keys_and_every_key_once() {
        for (streams, users) in [
            (0, 0),
            (1, 1),
            (200, 1),
            (201, 1),
            (1_100, 1),
            (3, 9_000),
            (450, 30),
        ] {
            let all = keys(streams, users);
            let parts = statements(&all);
            let joined: Vec<_> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            assert_eq!(joined, all, "{streams} × {users}");
            for p in &parts {
                assert!(!p.is_empty() && p.len() <= IDS);
                let distinct = p.chunk_by(|a, b| a.0 == b.0).count();
                assert!(distinct <= STREAMS, "{distinct} streams");
            }
        }
        assert_eq!(statements(&keys(1_100, 1)).len(), 6);
        assert_eq!(statements(&keys(3, 9_000)).len(), 3);
    }
}
