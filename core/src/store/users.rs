//! Users: their identity and name history, ids by login, account creation days, and their
//! totals in a channel (the channel row plus the stream rows of the channel's streams).

use sqlx::QueryBuilder;

use super::dialect::{CHUNK, Dialect, id_list, login, not_in};
use super::error::StoreError;
use super::keys::ChannelKey;
use super::pool::{Store, with_pool};
use crate::domain::{Login, Timestamp, UserId};

/// A user's identity row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Current login.
    pub login: Login,
    /// Display name, when different from the login in more than case.
    pub display_name: Option<String>,
    /// Account creation (Helix), when known.
    pub created_at: Option<Timestamp>,
}

/// One login a user was seen with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRecord {
    /// The login.
    pub login: Login,
    /// First time seen under it.
    pub first_seen: Timestamp,
    /// Last time seen under it (`None` for the current login: see the user's last seen).
    pub last_seen: Option<Timestamp>,
}

/// One user's figures in one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelUser {
    /// Id.
    pub user_id: UserId,
    /// Current login.
    pub login: Login,
    /// Display name (the login when unknown).
    pub display_name: String,
    /// First observation in the channel.
    pub first_seen: Timestamp,
    /// Latest recorded observation.
    pub last_seen: Timestamp,
    /// Messages in the channel.
    pub messages: i64,
    /// Streams in which the user was a unique chatter.
    pub streams_attended: i64,
    /// Watch time in the streams of the window (all streams for one user's record), seconds.
    pub watch_time: i64,
}

/// A [`ChannelUser`] as read: id, login, display name, first seen, last seen, messages,
/// streams attended, watch time.
pub(super) type ChannelUserTuple = (i64, String, Option<String>, i64, i64, i64, i64, i64);

/// Decodes a [`ChannelUserTuple`].
pub(super) fn channel_user_row(
    (id, name, display, first, last, messages, streams, watched): ChannelUserTuple,
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
        watch_time: watched,
    })
}

/// Users of a channel with their totals: the channel row holds first sighting, offline
/// messages and the last sighting written at departure; live messages and sightings are in the
/// stream rows, added here. `one_user` narrows the aggregate to one id (empty: everyone).
fn channel_user_query(
    d: Dialect,
    channel: ChannelKey,
    filter: &str,
    one_user: &str,
    window: &str,
) -> String {
    let narrow = if one_user.is_empty() {
        String::new()
    } else {
        format!(" AND su.user_id = {one_user}")
    };
    format!(
        "SELECT cu.user_id, u.login, u.display_name, cu.first_seen, \
         {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)), \
         {messages}, {streams}, {watched} \
         FROM channel_users cu JOIN users u ON u.id = cu.user_id \
         LEFT JOIN (SELECT su.user_id, MAX(su.last_seen) AS last_seen, SUM(su.messages) AS messages, \
         SUM(su.active) AS streams, SUM(CASE WHEN {window} THEN su.watch_time ELSE 0 END) AS watched \
         FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c}{narrow} GROUP BY su.user_id) agg ON agg.user_id = cu.user_id \
         WHERE cu.channel_id = {c}{filter} ORDER BY cu.user_id",
        g = d.greatest(),
        messages = d.int("cu.messages + COALESCE(agg.messages, 0)"),
        streams = d.int("COALESCE(agg.streams, 0)"),
        watched = d.int("COALESCE(agg.watched, 0)"),
        c = channel.0,
    )
}

/// Streams of the channel overlapping `[since, until]` (alias `s`): whose watch time a
/// windowed chatter row adds up.
pub(super) fn in_window(since: Timestamp, until: Timestamp) -> String {
    format!(
        "s.started_at <= {} AND (s.ended_at IS NULL OR s.ended_at >= {})",
        until.0, since.0
    )
}

impl Store {
    /// Users' ids by current login (unknown logins are left out).
    pub async fn user_ids(&self, logins: &[Login]) -> Result<Vec<(Login, UserId)>, StoreError> {
        let mut out = Vec::new();
        for chunk in logins.chunks(CHUNK) {
            let rows: Vec<(String, i64)> = with_pool!(self, |pool, Db, d| {
                let mut qb =
                    QueryBuilder::<Db>::new("SELECT login, id FROM users WHERE login IN (");
                let mut sep = qb.separated(", ");
                for l in chunk {
                    sep.push_bind(l.as_str().to_owned());
                }
                qb.push(")");
                qb.build_query_as().fetch_all(pool).await?
            });
            for (l, id) in rows {
                out.push((login(l)?, UserId(id)));
            }
        }
        Ok(out)
    }

    /// One user's identity.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row: Option<(i64, String, Option<String>, Option<i64>)> =
            with_pool!(self, |pool, Db, d| {
                let mut qb = QueryBuilder::<Db>::new(
                    "SELECT id, login, display_name, created_at FROM users WHERE id = ",
                );
                qb.push_bind(id.0);
                qb.build_query_as().fetch_optional(pool).await?
            });
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

    /// Every login a user was seen with, oldest first.
    pub async fn name_history(&self, id: UserId) -> Result<Vec<NameRecord>, StoreError> {
        // Past logins (login, first seen, last seen), then the current one (login, since).
        type Names = (Vec<(String, i64, i64)>, Option<(String, i64)>);
        let (rows, current): Names = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT login, first_seen, last_seen FROM name_history WHERE user_id = ",
            );
            qb.push_bind(id.0).push(" ORDER BY first_seen, login");
            let rows = qb.build_query_as().fetch_all(pool).await?;
            let mut qb =
                QueryBuilder::<Db>::new("SELECT login, login_since FROM users WHERE id = ");
            qb.push_bind(id.0);
            (rows, qb.build_query_as().fetch_optional(pool).await?)
        });
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

    /// Account creation days of the given users: `(user, login, created_at)` for known ones.
    pub async fn accounts(
        &self,
        ids: &[UserId],
    ) -> Result<Vec<(UserId, Login, Timestamp)>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(10_000) {
            let sql = format!(
                "SELECT id, login, created_at FROM users WHERE created_at IS NOT NULL AND id IN {}",
                id_list(chunk)
            );
            let rows: Vec<(i64, String, i64)> = with_pool!(self, |pool, Db, d| {
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await?
            });
            for (id, l, created) in rows {
                out.push((UserId(id), login(l)?, Timestamp(created)));
            }
        }
        Ok(out)
    }

    /// A user's record in a channel.
    pub async fn channel_user(
        &self,
        channel: ChannelKey,
        user: UserId,
    ) -> Result<Option<ChannelUser>, StoreError> {
        let row: Option<ChannelUserTuple> = with_pool!(self, |pool, Db, d| {
            let sql = channel_user_query(
                d,
                channel,
                &format!(" AND cu.user_id = {}", user.0),
                user.0.to_string().as_str(),
                "1 = 1",
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_optional(pool)
                .await?
        });
        row.map(channel_user_row).transpose()
    }

    /// Every user of a channel seen in `[since, until]`, by id (exports).
    pub async fn channel_users(
        &self,
        channel: ChannelKey,
        since: Timestamp,
        until: Timestamp,
        excluded: &[UserId],
    ) -> Result<Vec<ChannelUser>, StoreError> {
        let rows: Vec<ChannelUserTuple> = with_pool!(self, |pool, Db, d| {
            let filter = format!(
                " AND {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)) >= {since} AND cu.first_seen <= {until}{x}",
                g = d.greatest(),
                since = since.0,
                until = until.0,
                x = not_in("cu.user_id", excluded),
            );
            let sql = channel_user_query(d, channel, &filter, "", &in_window(since, until));
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(channel_user_row).collect()
    }
}
