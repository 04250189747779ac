//! `RETENTION`'s storage side: stream figures frozen when a stream ended (table
//! `stream_figures`, the API's JSON object as text), and the pruning of per-user history older
//! than the cut-off: per-user rows of streams ended before it (only once their figures are
//! frozen), closed presence and series points before it, and users not seen since it with their
//! name history and channel rows.

use sqlx::QueryBuilder;

use super::dialect::id_list;
use super::error::StoreError;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, with_pool};
use super::streams::{STREAM_COLS, Stream, StreamTuple, stream_row};
use super::totals::unprune_sql;
use crate::domain::{Timestamp, UserId};

/// Tables of per-channel time series pruned by time: `(table, time column)`. Rows whose time is
/// before the cut-off are deleted.
pub const TIMED_TABLES: &[(&str, &str)] = &[
    ("series", "at"),
    ("stream_samples", "at"),
    ("chat_activity", "minute"),
];

/// Users deleted per statement.
const USER_CHUNK: usize = 1000;

/// What one pruning deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Streams whose per-user rows were deleted.
    pub streams: u64,
    /// Per-user stream rows deleted.
    pub stream_users: u64,
    /// Closed presence intervals deleted.
    pub presence: u64,
    /// Rows of [`TIMED_TABLES`] deleted.
    pub timed: u64,
    /// Users deleted (with their name history and channel rows).
    pub users: u64,
}

impl Store {
    /// Ended streams without frozen figures, oldest end first, at most `limit`.
    pub async fn streams_to_freeze(&self, limit: i64) -> Result<Vec<Stream>, StoreError> {
        let rows: Vec<StreamTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {STREAM_COLS} FROM streams WHERE ended_at IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM stream_figures f WHERE f.stream_id = streams.id) \
                 ORDER BY ended_at, id LIMIT "
            ));
            qb.push_bind(limit);
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(stream_row).collect()
    }

    /// Stores a stream's frozen figures (JSON); a stream already frozen keeps its first ones.
    pub async fn freeze_figures(
        &self,
        stream: StreamKey,
        figures: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let (pre, post) = d.insert_ignore();
            let mut qb = QueryBuilder::<Db>::new(format!(
                "{pre}stream_figures (stream_id, figures, frozen_at) VALUES ("
            ));
            qb.push_bind(stream.0)
                .push(", ")
                .push_bind(figures.to_owned())
                .push(", ")
                .push_bind(at.0)
                .push(")")
                .push(post);
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// A stream's frozen figures (JSON), if frozen.
    pub async fn frozen_figures(&self, stream: StreamKey) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, |pool, Db, d| {
            let mut qb =
                QueryBuilder::<Db>::new("SELECT figures FROM stream_figures WHERE stream_id = ");
            qb.push_bind(stream.0);
            qb.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(f,)| f))
    }

    /// Deletes the per-user history older than `cutoff` (see the module). Streams ended before
    /// it lose their per-user rows only once frozen. Each step is its own statement: an
    /// interrupted pruning is finished by the next one.
    pub async fn prune(&self, cutoff: Timestamp, now: Timestamp) -> Result<Pruned, StoreError> {
        let mut pruned = Pruned::default();
        let c = cutoff.0;
        let prunable = format!(
            "SELECT f.stream_id, s.channel_id FROM stream_figures f JOIN streams s ON s.id = f.stream_id \
             WHERE s.ended_at < {c} AND f.pruned_at IS NULL"
        );
        // Materialized first: MariaDB refuses a subquery on the table being updated.
        let streams: Vec<(i64, i64)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(prunable))
                .fetch_all(pool)
                .await?
        });
        let d = self.dialect();
        for (stream, channel) in streams {
            // The totals of the stream's users lose its rows: subtracted (what other processes
            // hold in memory for them still adds up), the last sighting recounted without them.
            let [reset, add] = unprune_sql(d, ChannelKey(channel), StreamKey(stream));
            let statements = [
                reset,
                add,
                format!("DELETE FROM stream_users WHERE stream_id = {stream}"),
                format!("DELETE FROM stream_regulars WHERE stream_id = {stream}"),
                format!(
                    "UPDATE stream_figures SET pruned_at = {} WHERE stream_id = {stream}",
                    now.0
                ),
            ];
            // Totals held between commits are written first: the recount counts their rows.
            let _gate = self.totals.gate().await;
            self.write_held_totals().await?;
            let deleted = self.execute_all(&statements).await?;
            pruned.stream_users += deleted[2];
            pruned.streams += 1;
        }
        pruned.presence = self
            .execute_all(&[format!(
                "DELETE FROM presence WHERE until IS NOT NULL AND until < {c}"
            )])
            .await?[0];
        for (table, column) in TIMED_TABLES {
            pruned.timed += self
                .execute_all(&[format!("DELETE FROM {table} WHERE {column} < {c}")])
                .await?[0];
        }
        let _gate = self.totals.gate().await;
        self.write_held_totals().await?;
        let stale = self.unseen_users(cutoff).await?;
        for chunk in stale.chunks(USER_CHUNK) {
            let ids = id_list(chunk);
            self.execute_all(&[
                format!("DELETE FROM channel_users WHERE user_id IN {ids}"),
                format!("DELETE FROM presence WHERE user_id IN {ids}"),
                format!("DELETE FROM name_history WHERE user_id IN {ids}"),
                format!("DELETE FROM users WHERE id IN {ids}"),
            ])
            .await?;
        }
        pruned.users = stale.len() as u64;
        Ok(pruned)
    }

    /// Users not seen since `cutoff` anywhere: no channel row or login seen since, no row in a
    /// stream that is kept, not present now.
    async fn unseen_users(&self, cutoff: Timestamp) -> Result<Vec<UserId>, StoreError> {
        let c = cutoff.0;
        let sql = format!(
            "SELECT u.id FROM users u \
             WHERE NOT EXISTS (SELECT 1 FROM channel_users cu WHERE cu.user_id = u.id AND cu.last_seen >= {c}) \
             AND NOT EXISTS (SELECT 1 FROM name_history n WHERE n.user_id = u.id AND n.last_seen >= {c}) \
             AND NOT EXISTS (SELECT 1 FROM stream_users su WHERE su.user_id = u.id) \
             AND NOT EXISTS (SELECT 1 FROM presence p WHERE p.user_id = u.id AND p.until IS NULL) \
             ORDER BY u.id"
        );
        let rows: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(id,)| UserId(id)).collect())
    }

    /// Runs `statements` in one transaction; returns the rows each affected.
    pub(super) async fn execute_all(&self, statements: &[String]) -> Result<Vec<u64>, StoreError> {
        let mut affected = Vec::with_capacity(statements.len());
        with_pool!(self, |pool, Db, d| {
            let mut tx = pool.begin().await?;
            for sql in statements {
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .execute(&mut *tx)
                    .await?;
                affected.push(done.rows_affected());
            }
            tx.commit().await?;
        });
        Ok(affected)
    }
}
