//! The dashboard's chatter table: one page of a channel's users with their totals (the same
//! figures as the export, [`ChannelUser`]), sorted by any column, optionally only the logins
//! starting with a prefix.
//!
//! Sorting by login or first sighting needs no totals: the page's ids are chosen first (from
//! `channel_users` and the login index), then only those 100 users are totalled. Sorting by a
//! total (messages, last seen, streams) totals every candidate: all users of the channel, or
//! with a prefix only theirs (the login index narrows them first).

use super::dialect::{Dialect, id_list, not_in};
use super::error::StoreError;
use super::keys::ChannelKey;
use super::pool::{Store, with_pool};
use super::users::{ChannelUser, ChannelUserTuple, channel_user_row};
use crate::domain::UserId;

/// A column of the chatter table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatterSort {
    /// Current login.
    Login,
    /// First observation in the channel.
    FirstSeen,
    /// Latest observation.
    LastSeen,
    /// Messages in the channel.
    Messages,
    /// Streams attended.
    Streams,
}

impl ChatterSort {
    /// Every column, in table order.
    pub const ALL: [ChatterSort; 5] = [
        Self::Login,
        Self::FirstSeen,
        Self::LastSeen,
        Self::Messages,
        Self::Streams,
    ];

    /// The column's name in URLs (`sort=messages`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::FirstSeen => "first_seen",
            Self::LastSeen => "last_seen",
            Self::Messages => "messages",
            Self::Streams => "streams",
        }
    }

    /// The column named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The result column it orders by (see [`page_sql`]).
    fn column(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::FirstSeen => "first_seen",
            Self::LastSeen => "last_seen",
            Self::Messages => "messages",
            Self::Streams => "streams",
        }
    }

    /// Whether the order is known without the users' totals.
    fn without_totals(self) -> bool {
        matches!(self, Self::Login | Self::FirstSeen)
    }
}

/// What page of the table to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatterQuery {
    /// Order.
    pub sort: ChatterSort,
    /// Largest first.
    pub descending: bool,
    /// Only logins starting with this (lower case letters, digits and `_`; others are
    /// dropped).
    pub prefix: Option<String>,
    /// Rows skipped.
    pub offset: i64,
    /// Rows read.
    pub limit: i64,
}

/// The login filter, or an empty string: `GLOB` on SQLite (case-sensitive, served by the login
/// index), `LIKE` elsewhere (served by the index on MariaDB and by `users_login_prefix` on
/// PostgreSQL). The prefix holds only `[a-z0-9_]`: nothing to quote, `_` escaped for `LIKE`.
fn prefix_filter(d: Dialect, prefix: Option<&str>) -> String {
    let Some(prefix) = prefix.filter(|p| !p.is_empty()) else {
        return String::new();
    };
    match d {
        Dialect::Sqlite => format!(" AND u.login GLOB '{prefix}*'"),
        _ => format!(
            " AND u.login LIKE '{}%' ESCAPE '!'",
            prefix.replace('_', "!_")
        ),
    }
}

/// Keeps the characters a login may hold.
fn clean_prefix(prefix: Option<&str>) -> Option<String> {
    prefix
        .map(|p| {
            p.trim()
                .trim_start_matches(['@', '#'])
                .to_ascii_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(25)
                .collect::<String>()
        })
        .filter(|p| !p.is_empty())
}

/// The users of a channel with their totals: `users` narrows the candidates (an SQL condition
/// on `u` and `cu`), `narrow_su` the stream rows read for them.
fn totals_sql(d: Dialect, channel: ChannelKey, users: &str, narrow_su: &str) -> String {
    format!(
        "SELECT cu.user_id AS user_id, u.login AS login, u.display_name AS display_name, \
         cu.first_seen AS first_seen, \
         {g}(cu.last_seen, COALESCE(agg.last_seen, cu.last_seen)) AS last_seen, \
         {messages} AS messages, {streams} AS streams, {watched} AS watch_time \
         FROM channel_users cu JOIN users u ON u.id = cu.user_id \
         LEFT JOIN (SELECT su.user_id, MAX(su.last_seen) AS last_seen, SUM(su.messages) AS messages, \
         SUM(su.active) AS streams, SUM(su.watch_time) AS watched \
         FROM stream_users su JOIN streams s ON s.id = su.stream_id \
         WHERE s.channel_id = {c}{narrow_su} GROUP BY su.user_id) agg ON agg.user_id = cu.user_id \
         WHERE cu.channel_id = {c}{users}",
        g = d.greatest(),
        messages = d.int("cu.messages + COALESCE(agg.messages, 0)"),
        streams = d.int("COALESCE(agg.streams, 0)"),
        watched = d.int("COALESCE(agg.watched, 0)"),
        c = channel.0,
    )
}

/// Logins in byte order on every backend (MariaDB's and PostgreSQL's collations would put
/// `axb` before `a_b`).
fn login_order(d: Dialect) -> &'static str {
    match d {
        Dialect::Sqlite => "u.login",
        Dialect::MySql => "BINARY u.login",
        Dialect::Postgres => "u.login COLLATE \"C\"",
    }
}

fn direction(descending: bool) -> &'static str {
    if descending { "DESC" } else { "ASC" }
}

impl Store {
    /// One page of a channel's chatter table (users in `excluded` left out).
    pub async fn chatter_page(
        &self,
        channel: ChannelKey,
        query: &ChatterQuery,
        excluded: &[UserId],
    ) -> Result<Vec<ChannelUser>, StoreError> {
        let prefix = clean_prefix(query.prefix.as_deref());
        let dir = direction(query.descending);
        let (limit, offset) = (query.limit.max(0), query.offset.max(0));
        if query.sort.without_totals() {
            let ids: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
                let order = match query.sort {
                    ChatterSort::Login => {
                        format!("{} {dir}, cu.user_id {dir}", login_order(d))
                    }
                    _ => format!("cu.first_seen {dir}, cu.user_id {dir}"),
                };
                let sql = format!(
                    "SELECT cu.user_id FROM channel_users cu JOIN users u ON u.id = cu.user_id \
                     WHERE cu.channel_id = {c}{p}{x} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
                    c = channel.0,
                    p = prefix_filter(d, prefix.as_deref()),
                    x = not_in("cu.user_id", excluded),
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await?
            });
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<UserId> = ids.into_iter().map(|(id,)| UserId(id)).collect();
            let list = id_list(&ids);
            let rows: Vec<ChannelUserTuple> = with_pool!(self, |pool, Db, d| {
                let sql = totals_sql(
                    d,
                    channel,
                    &format!(" AND cu.user_id IN {list}"),
                    &format!(" AND su.user_id IN {list}"),
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await?
            });
            let mut users = rows
                .into_iter()
                .map(channel_user_row)
                .collect::<Result<Vec<_>, _>>()?;
            let rank = |u: &ChannelUser| ids.iter().position(|id| *id == u.user_id);
            users.sort_by_key(rank);
            return Ok(users);
        }
        let rows: Vec<ChannelUserTuple> = with_pool!(self, |pool, Db, d| {
            let filter = prefix_filter(d, prefix.as_deref());
            let narrow = if filter.is_empty() {
                String::new()
            } else {
                format!(" AND su.user_id IN (SELECT u.id FROM users u WHERE 1 = 1{filter})")
            };
            let sql = format!(
                "SELECT user_id, login, display_name, first_seen, last_seen, messages, streams, watch_time \
                 FROM ({inner}) t ORDER BY {col} {dir}, user_id {dir} LIMIT {limit} OFFSET {offset}",
                inner = totals_sql(
                    d,
                    channel,
                    &format!("{filter}{}", not_in("cu.user_id", excluded)),
                    &narrow
                ),
                col = query.sort.column(),
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(channel_user_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_keep_only_login_characters_and_escape_like_wildcards() {
        assert_eq!(clean_prefix(Some(" @Ab_c%'; ")), Some("ab_c".to_owned()));
        assert_eq!(clean_prefix(Some("%")), None);
        assert_eq!(
            prefix_filter(Dialect::Postgres, Some("a_b")),
            " AND u.login LIKE 'a!_b%' ESCAPE '!'"
        );
        assert_eq!(
            prefix_filter(Dialect::Sqlite, Some("a_b")),
            " AND u.login GLOB 'a_b*'"
        );
    }

    #[test]
    fn every_column_parses_back_from_its_name() {
        for sort in ChatterSort::ALL {
            assert_eq!(ChatterSort::parse(sort.name()), Some(sort));
        }
        assert_eq!(ChatterSort::parse("password"), None);
    }
}
