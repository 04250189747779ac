//! Export paging: [`Store::channel_users_stream`] reads a channel's users in pages bounded by
//! user ids, so an export of a million users never holds them all in memory.

use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};

use super::dialect::{Dialect, not_in};
use super::error::StoreError;
use super::keys::ChannelKey;
use super::pool::{Store, with_pool};
use super::users::{ChannelUser, ChannelUserTuple, channel_user_row, in_window};
use crate::domain::{Timestamp, UserId};

/// Users per page of an export (see [`export_page_end`]).
const EXPORT_PAGE: i64 = 10_000;

/// The last user id of the export page after user id `after` (`NULL` when no user is left).
///
/// An export reads a channel's users in pages bounded by user ids (see [`export_page`]): a
/// whole-channel query (as in [`Store::channel_users`]) aggregates every stream row of the channel before its
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
/// values [`Store::channel_users`] gives.
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
         {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)), {messages}, {streams}, {watched} \
         FROM channel_users cu JOIN users u ON u.id = cu.user_id \
         LEFT JOIN (SELECT su.user_id, MAX(su.last_seen) AS last_seen, SUM(su.messages) AS messages, \
         SUM(su.active) AS streams, SUM(CASE WHEN {window} THEN su.watch_time ELSE 0 END) AS watched \
         FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c} AND su.user_id > {after} AND su.user_id <= {last} GROUP BY su.user_id) agg \
         ON agg.user_id = cu.user_id \
         WHERE cu.channel_id = {c} AND cu.user_id > {after} AND cu.user_id <= {last} \
         AND cu.first_seen <= {until}{x} \
         AND {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)) >= {since} ORDER BY cu.user_id",
        messages = d.int("cu.messages + COALESCE(agg.messages, 0)"),
        streams = d.int("COALESCE(agg.streams, 0)"),
        watched = d.int("COALESCE(agg.watched, 0)"),
        window = in_window(since, until),
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

/// The page's stream rows packed in one JSON text: user, last seen, messages, active, watch
/// time (0 for streams outside the window).
fn sqlite_page_streams(
    channel: ChannelKey,
    (after, last): (i64, i64),
    (since, until): (Timestamp, Timestamp),
) -> String {
    format!(
        "SELECT json_group_array(json_array(su.user_id, su.last_seen, su.messages, su.active, \
         CASE WHEN {window} THEN su.watch_time ELSE 0 END)) \
         FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c} AND su.user_id > {after} AND su.user_id <= {last}",
        c = channel.0,
        window = in_window(since, until),
    )
}

/// Joins a page's packed channel rows and stream rows (see [`sqlite_page_people`]) into the
/// values [`Store::channel_users`] gives, by user id, keeping users seen at or after `since`.
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
    let mut streams: Vec<(i64, i64, i64, i64, i64)> =
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
        let watched = own.iter().map(|s| s.4).sum::<i64>();
        if last >= since.0 {
            out.push(channel_user_row((
                id, name, display, first, last, messages, streams, watched,
            ))?);
        }
    }
    Ok(out)
}

impl Store {
    /// The rows of [`Store::channel_users`], by user id, read from the database as they are
    /// consumed (an export of a million users never holds them all in memory).
    pub fn channel_users_stream<'a>(
        &'a self,
        channel: ChannelKey,
        since: Timestamp,
        until: Timestamp,
        excluded: &'a [UserId],
    ) -> BoxStream<'a, Result<ChannelUser, StoreError>> {
        with_pool!(self, |pool, Db, d| {
            // One page at a time: find where the next page ends, then stream its rows.
            let pages = futures::stream::try_unfold(Some(0_i64), move |after| async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let end = export_page_end(channel, after, until, excluded);
                let (last,): (Option<i64>,) = sqlx::query_as(sqlx::AssertSqlSafe(end))
                    .fetch_one(pool)
                    .await?;
                let Some(last) = last else {
                    return Ok(None);
                };
                let page = (after, last);
                let rows = if d == Dialect::Sqlite {
                    let people = sqlite_page_people(channel, page, until, excluded);
                    let (people,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(people))
                        .fetch_one(pool)
                        .await?;
                    let streams = sqlite_page_streams(channel, page, (since, until));
                    let (streams,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(streams))
                        .fetch_one(pool)
                        .await?;
                    let rows = sqlite_export_page(&people, &streams, since)?;
                    futures::stream::iter(rows.into_iter().map(Ok)).boxed()
                } else {
                    let sql = export_page(d, channel, page, since, until, excluded);
                    sqlx::query_as::<_, ChannelUserTuple>(sqlx::AssertSqlSafe(sql))
                        .fetch(pool)
                        .map(|row| channel_user_row(row?))
                        .boxed()
                };
                Ok::<_, StoreError>(Some((rows, Some(last))))
            });
            pages.try_flatten().fuse().boxed()
        })
    }
}
