//! Upkeep around ingestion: closing presence intervals a crash left open, opting users out
//! (every row about them deleted) and back in, and small pieces of process state.

use sqlx::QueryBuilder;

use super::error::StoreError;
use super::keys::ChannelKey;
use super::pool::{Store, with_pool};
use crate::domain::{Timestamp, UserId};

impl Store {
    /// Closes presence intervals left open by a crash, at their user's last recorded sighting:
    /// in `channel`, or in every channel (only right for a single instance: with leases, others
    /// hold open presence of their own channels).
    pub async fn close_dangling_presence(
        &self,
        channel: Option<ChannelKey>,
    ) -> Result<u64, StoreError> {
        // The last sighting is in the channel row, or (for messages while live) in the stream
        // rows of streams that ran during the interval.
        let until = format!(
            "{g}(presence.since, \
             COALESCE((SELECT cu.last_seen FROM channel_users cu \
             WHERE cu.channel_id = presence.channel_id AND cu.user_id = presence.user_id), presence.since), \
             COALESCE((SELECT MAX(su.last_seen) FROM stream_users su JOIN streams s ON s.id = su.stream_id \
             WHERE s.channel_id = presence.channel_id AND su.user_id = presence.user_id \
             AND (s.ended_at IS NULL OR s.ended_at >= presence.since)), presence.since)) + 1",
            g = self.dialect().greatest(),
        );
        // An integer key, never text from outside.
        let only = channel.map_or(String::new(), |key| {
            format!(" AND presence.channel_id = {}", key.0)
        });
        // Live streams keep the watch time of the intervals about to be closed.
        self.credit_dangling_watch(&until, &only).await?;
        // Nobody is present there any more: no stream row of a live stream keeps an open
        // interval (also when an earlier run stopped between these statements).
        let streams = channel.map_or(String::new(), |key| format!(" AND channel_id = {}", key.0));
        let closed = with_pool!(self, |pool, Db, d| {
            let sql = format!("UPDATE presence SET until = {until} WHERE until IS NULL{only}");
            let closed = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await?
                .rows_affected();
            let sql = format!(
                "UPDATE stream_users SET open_since = NULL WHERE stream_id IN \
                 (SELECT id FROM streams WHERE ended_at IS NULL{streams}) AND open_since IS NOT NULL"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
            closed
        });
        // Totals held in memory by a run that stopped without writing them are recounted.
        self.recount_open_streams(channel).await?;
        Ok(closed)
    }

    /// Deletes every row about a user and records the opt-out, in one transaction.
    pub async fn opt_out(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        let _gate = self.totals.gate().await;
        self.totals.forget_user(user);
        let u = user.0;
        // The user no longer counts in any series point they were present for.
        let statements = [
            format!(
                "UPDATE series SET chatters = chatters - 1 WHERE chatters > 0 AND EXISTS (SELECT 1 FROM presence p \
                 WHERE p.user_id = {u} AND p.channel_id = series.channel_id AND p.since <= series.at \
                 AND (p.until IS NULL OR p.until > series.at))"
            ),
            format!(
                "DELETE FROM presence WHERE channel_id IN (SELECT id FROM channels) AND user_id = {u}"
            ),
            format!(
                "DELETE FROM stream_users WHERE stream_id IN (SELECT id FROM streams) AND user_id = {u}"
            ),
            format!(
                "DELETE FROM stream_regulars WHERE stream_id IN (SELECT id FROM streams) AND user_id = {u}"
            ),
            format!(
                "DELETE FROM channel_users WHERE channel_id IN (SELECT id FROM channels) AND user_id = {u}"
            ),
            format!("DELETE FROM name_history WHERE user_id = {u}"),
            format!("DELETE FROM raids WHERE from_id = {u}"),
            format!("DELETE FROM web_sessions WHERE user_id = {u}"),
            format!("DELETE FROM users WHERE id = {u}"),
        ];
        with_pool!(self, |pool, Db, d| {
            let mut tx = pool.begin().await?;
            for sql in statements {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await?;
            }
            let (pre, post) = d.insert_ignore();
            let mut qb = QueryBuilder::<Db>::new(format!("{pre}opt_outs (user_id, at) VALUES ("));
            qb.push_bind(u)
                .push(", ")
                .push_bind(at.0)
                .push(")")
                .push(post);
            qb.build().execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Lifts an opt-out.
    pub async fn opt_in(&self, user: UserId) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("DELETE FROM opt_outs WHERE user_id = ");
            qb.push_bind(user.0);
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// Every opted-out user.
    pub async fn opted_out(&self) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as("SELECT user_id FROM opt_outs ORDER BY user_id")
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(u,)| UserId(u)).collect())
    }

    /// The bot account's id, as the last `chatters run` that logged in recorded it: processes
    /// that never log in (`chatters export`, `chatters web` alone) leave it out of the figures
    /// too.
    pub async fn bot_user(&self) -> Result<Option<UserId>, StoreError> {
        let value = self.state(BOT_USER_STATE).await?;
        Ok(value.and_then(|v| v.parse().ok()).map(UserId))
    }

    /// Records the bot account's id (see [`Store::bot_user`]).
    pub async fn set_bot_user(&self, id: UserId) -> Result<(), StoreError> {
        self.set_state(BOT_USER_STATE, &id.0.to_string()).await
    }

    /// A small piece of process state (e.g. the rotated refresh token), by name.
    pub async fn state(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("SELECT value FROM bot_state WHERE name = ");
            qb.push_bind(name.to_owned());
            qb.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(v,)| v))
    }

    /// Sets a piece of process state.
    pub async fn set_state(&self, name: &str, value: &str) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO bot_state (name, value) VALUES (");
            qb.push_bind(name.to_owned())
                .push(", ")
                .push_bind(value.to_owned())
                .push(")");
            qb.push(d.upsert("name"))
                .push(format!("value = {}", d.ex("value")));
            qb.build().execute(pool).await?;
        });
        Ok(())
    }
}

/// The `bot_state` row holding the bot account's id.
const BOT_USER_STATE: &str = "bot_user_id";
