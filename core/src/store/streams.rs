//! Streams: opening one when a channel goes live, and reading them back (live ones after a
//! restart, one by id or key, a channel's latest, the one before, those that ended).

use sqlx::QueryBuilder;

use super::dialect::stream_id;
use super::error::StoreError;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, with_pool};
use crate::domain::{StreamId, Timestamp};

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
    /// Marked when it opened ([`Store::mark_stream`]): its rows say whether their user is one
    /// of its regulars and was a unique chatter of [`Self::previous`].
    pub marked: bool,
    /// The previous stream its rows' `in_previous` refers to (marked streams only).
    pub previous: Option<StreamKey>,
}

pub(super) type StreamTuple = (
    i64,
    String,
    i64,
    i64,
    Option<i64>,
    String,
    i64,
    i64,
    Option<i64>,
);

pub(super) const STREAM_COLS: &str =
    "id, twitch_id, channel_id, started_at, ended_at, title, irc_peak, marked, previous_id";

pub(super) fn stream_row(
    (key, id, channel, started, ended, title, peak, marked, previous): StreamTuple,
) -> Result<Stream, StoreError> {
    Ok(Stream {
        key: StreamKey(key),
        id: stream_id(id)?,
        channel: ChannelKey(channel),
        started_at: Timestamp(started),
        ended_at: ended.map(Timestamp),
        title,
        irc_peak: peak,
        marked: marked != 0,
        previous: previous.map(StreamKey),
    })
}

impl Store {
    /// Creates (or finds, on restart) a stream; returns its key.
    pub async fn open_stream(
        &self,
        channel: ChannelKey,
        id: &StreamId,
        started_at: Timestamp,
        title: &str,
    ) -> Result<StreamKey, StoreError> {
        let title: String = title.chars().take(500).collect();
        with_pool!(self, |pool, Db, d| {
            let (pre, post) = d.insert_ignore();
            let mut qb = QueryBuilder::<Db>::new(format!(
                "{pre}streams (twitch_id, channel_id, started_at, title) VALUES ("
            ));
            qb.push_bind(id.as_str().to_owned())
                .push(", ")
                .push_bind(channel.0)
                .push(", ")
                .push_bind(started_at.0)
                .push(", ")
                .push_bind(title.clone())
                .push(")")
                .push(post);
            qb.build().execute(pool).await?;
        });
        let stream = self.stream(id).await?.ok_or_else(|| StoreError::Corrupt {
            column: "streams.twitch_id",
            value: id.to_string(),
        })?;
        Ok(stream.key)
    }

    /// Streams without `ended_at` (resumed after a restart).
    pub async fn live_streams(&self) -> Result<Vec<Stream>, StoreError> {
        let sql = format!("SELECT {STREAM_COLS} FROM streams WHERE ended_at IS NULL ORDER BY id");
        let rows: Vec<StreamTuple> = with_pool!(self, |pool, Db, d| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(stream_row).collect()
    }

    /// A stream by Twitch id.
    pub async fn stream(&self, id: &StreamId) -> Result<Option<Stream>, StoreError> {
        let row: Option<StreamTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {STREAM_COLS} FROM streams WHERE twitch_id = "
            ));
            qb.push_bind(id.as_str().to_owned());
            qb.build_query_as().fetch_optional(pool).await?
        });
        row.map(stream_row).transpose()
    }

    /// A stream by key.
    pub async fn stream_by_key(&self, key: StreamKey) -> Result<Option<Stream>, StoreError> {
        let row: Option<StreamTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb =
                QueryBuilder::<Db>::new(format!("SELECT {STREAM_COLS} FROM streams WHERE id = "));
            qb.push_bind(key.0);
            qb.build_query_as().fetch_optional(pool).await?
        });
        row.map(stream_row).transpose()
    }

    /// A channel's streams, newest first, at most `limit`.
    pub async fn streams(
        &self,
        channel: ChannelKey,
        limit: i64,
    ) -> Result<Vec<Stream>, StoreError> {
        let rows: Vec<StreamTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {STREAM_COLS} FROM streams WHERE channel_id = "
            ));
            qb.push_bind(channel.0)
                .push(" ORDER BY started_at DESC, id DESC LIMIT ")
                .push_bind(limit);
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(stream_row).collect()
    }

    /// The stream before `stream` in its channel.
    pub async fn previous_stream(&self, stream: &Stream) -> Result<Option<Stream>, StoreError> {
        let row: Option<StreamTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {STREAM_COLS} FROM streams WHERE channel_id = "
            ));
            qb.push_bind(stream.channel.0)
                .push(" AND (started_at < ")
                .push_bind(stream.started_at.0)
                .push(" OR (started_at = ")
                .push_bind(stream.started_at.0)
                .push(" AND id < ")
                .push_bind(stream.key.0)
                .push(")) ORDER BY started_at DESC, id DESC LIMIT 1");
            qb.build_query_as().fetch_optional(pool).await?
        });
        row.map(stream_row).transpose()
    }

    /// Streams that ended at or after `since`, by end time.
    pub async fn ended_streams(&self, since: Timestamp) -> Result<Vec<Stream>, StoreError> {
        let rows: Vec<StreamTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {STREAM_COLS} FROM streams WHERE ended_at >= "
            ));
            qb.push_bind(since.0).push(" ORDER BY ended_at, id");
            qb.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(stream_row).collect()
    }
}
