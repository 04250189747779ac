//! Marked streams: a stream's `regulars_present` and retention (`shared` with the previous
//! stream) from the one pass over its rows that gives its counts.
//!
//! Both figures intersect the stream's unique chatters with a set fixed before the stream
//! started: its regulars as of its start, and the previous stream's unique chatters. Read as
//! intersections they cost a pass each over 100,000 rows (SQLite joins by one key lookup per
//! row, or merges two ordered scans). A stream opened live is instead *marked*
//! ([`Store::mark_stream`]) before any of its rows is written: its regulars are computed and its
//! previous stream recorded. Each batch commit then inserts its rows of a marked stream with
//! `is_regular` and `in_previous` set from those two sets, held in memory per stream
//! ([`MarkCache`], loaded once per stream and process), so the figures read two more sums in
//! the counts' pass. Streams that are not marked (opened before this, rows written before the
//! mark, imported history) are read with the intersections as before.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::batch::Batch;
use super::error::StoreError;
use super::keys::StreamKey;
pub(super) use super::mark_cache::{MarkCache, Marks, PREVIOUS, REGULAR};
use super::pool::{Store, Tx, with_pool, with_tx};
use crate::domain::UserId;

impl Store {
    /// Marks a stream that has just opened live, before any of its rows is written: computes
    /// its regulars (as of its start) and records its previous stream. Returns whether it is
    /// marked; a stream with rows already is left unmarked (its figures are read as before).
    /// Call it once every earlier batch is committed, so that the previous stream's end and
    /// rows are in.
    pub async fn mark_stream(&self, key: StreamKey) -> Result<bool, StoreError> {
        let Some(stream) = self.stream_by_key(key).await? else {
            return Ok(false);
        };
        if stream.marked {
            return Ok(true);
        }
        let d = self.dialect();
        let rows = self
            .int_one(format!(
                "SELECT {} FROM (SELECT 1 AS one FROM stream_users WHERE stream_id = {} LIMIT 1) x",
                d.int("COUNT(*)"),
                key.0
            ))
            .await?;
        if rows > 0 {
            return Ok(false);
        }
        self.ensure_regulars(&stream).await?;
        let previous = self.previous_stream(&stream).await?.map(|p| p.key.0);
        with_pool!(self, |pool, Db, d| {
            let mut qb =
                sqlx::QueryBuilder::<Db>::new("UPDATE streams SET marked = 1, previous_id = ");
            qb.push_bind(previous)
                .push(" WHERE id = ")
                .push_bind(key.0)
                .push(" AND marked = 0");
            qb.build().execute(pool).await?;
        });
        // A commit that failed before may have cached it as not marked.
        self.marks.forget([key]);
        Ok(true)
    }
}

/// The marks of every stream `batch` writes rows to (loaded in `tx` when not cached).
pub(super) async fn batch_marks(
    cache: &MarkCache,
    tx: &mut Tx,
    batch: &Batch,
) -> Result<FxHashMap<StreamKey, Option<Arc<Marks>>>, StoreError> {
    let mut out: FxHashMap<StreamKey, Option<Arc<Marks>>> = FxHashMap::default();
    for (stream, _) in batch.stream_users.keys() {
        if out.contains_key(stream) {
            continue;
        }
        let marks = match cache.get(*stream) {
            Some(m) => m,
            None => {
                let m = load(tx, *stream).await?;
                cache.put(*stream, m.clone());
                m
            }
        };
        out.insert(*stream, marks);
    }
    Ok(out)
}

/// The bits of `user`'s row in `stream`.
pub(super) fn bits(
    marks: &FxHashMap<StreamKey, Option<Arc<Marks>>>,
    stream: StreamKey,
    user: UserId,
) -> u8 {
    marks
        .get(&stream)
        .and_then(Option::as_ref)
        .and_then(|m| m.get(&user))
        .copied()
        .unwrap_or(0)
}

async fn load(tx: &mut Tx, stream: StreamKey) -> Result<Option<Arc<Marks>>, StoreError> {
    let s = stream.0;
    let sql = format!("SELECT marked, previous_id FROM streams WHERE id = {s}");
    let row: Option<(i64, Option<i64>)> = with_tx!(tx, |tx, Db, d| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_optional(&mut **tx)
            .await?
    });
    let Some((marked, previous)) = row else {
        return Ok(None);
    };
    if marked == 0 {
        return Ok(None);
    }
    let mut marks = Marks::default();
    let mut sets = vec![(
        REGULAR,
        format!("SELECT user_id FROM stream_regulars WHERE stream_id = {s}"),
    )];
    if let Some(p) = previous {
        sets.push((
            PREVIOUS,
            format!("SELECT user_id FROM stream_users WHERE stream_id = {p} AND active = 1"),
        ));
    }
    for (bit, sql) in sets {
        let ids: Vec<(i64,)> = with_tx!(tx, |tx, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut **tx)
                .await?
        });
        for (id,) in ids {
            *marks.entry(UserId(id)).or_default() |= bit;
        }
    }
    Ok(Some(Arc::new(marks)))
}
