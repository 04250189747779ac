//! The dashboard's chatter table: one page of a channel's users with their totals (the same
//! figures as the export, [`ChannelUser`]), sorted by any column, optionally only the logins
//! starting with a prefix.
//!
//! The table is all-time (no window): every figure is one of the totals the commit keeps in
//! the channel row (`all_messages`, `all_last_seen`, `all_streams`, `all_watch`, see
//! [`totals`](super::totals)), equal to what [`Store::channel_users`] adds up from the stream
//! rows over all time. Each sortable column has an index `(channel_id, column, user_id)`, so a
//! page reads its rows off one index (or, with a short list of logins matching a prefix, sorts
//! only those).

use super::dialect::{Dialect, not_in};
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

    /// The expression it orders by (its index's column).
    fn order(self, d: Dialect) -> &'static str {
        match self {
            Self::Login => login_order(d),
            Self::FirstSeen => "cu.first_seen",
            Self::LastSeen => "cu.all_last_seen",
            Self::Messages => "cu.all_messages",
            Self::Streams => "cu.all_streams",
        }
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

/// Candidates beyond which a page is found faster by walking the sort column's index than by
/// sorting them all (and below which the other way round).
const WALK_ABOVE: i64 = 20_000;

/// How the two tables are joined. PostgreSQL's and MariaDB's planners choose from statistics
/// on the logins; SQLite's cannot tell how many logins a prefix matches nor how many users
/// of the table a channel holds, so it is told, after counting at most [`WALK_ABOVE`]
/// candidates (`CROSS JOIN` keeps SQLite's join order as written):
/// - a prefix matching many logins, sorted by any other column: the channel's index on that
///   column is walked, each user's login checked, until the page is full;
/// - no prefix, sorted by login, in a channel with many users: the login index is walked, each
///   user's channel row looked up;
/// - otherwise the candidates (the logins matching the prefix, or the channel's few users)
///   are read and sorted.
///
/// PostgreSQL estimates a two-character prefix at 1% of the logins whatever it matches, so
/// for a prefix matching fewer (~3,900 of 1,000,000) it walked the sort column's index
/// checking each login: 26,000 user lookups, a p95 of 77-187 ms. The same capped count tells
/// it too: below [`WALK_ABOVE`] candidates it reads them first (`OFFSET 0` keeps the
/// subquery apart) and looks up only their channel rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Planner,
    WalkColumn,
    WalkLogins,
    Candidates,
}

impl Join {
    fn sql(self, d: Dialect, prefix: Option<&str>) -> String {
        match self {
            Self::Planner => "channel_users cu JOIN users u ON u.id = cu.user_id".to_owned(),
            Self::WalkColumn => {
                "channel_users cu CROSS JOIN users u ON u.id = cu.user_id".to_owned()
            }
            Self::WalkLogins => {
                "users u CROSS JOIN channel_users cu ON u.id = cu.user_id".to_owned()
            }
            Self::Candidates => format!(
                "(SELECT u.id, u.login FROM users u WHERE 1 = 1{} OFFSET 0) u \
                 JOIN channel_users cu ON cu.user_id = u.id",
                prefix_filter(d, prefix)
            ),
        }
    }
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
        let join = self.join(channel, query.sort, prefix.as_deref()).await?;
        let rows: Vec<ChannelUserTuple> = with_pool!(self, |pool, Db, d| {
            // The page's ids first (from index pages alone where the indexes cover the sort
            // keys), then only their rows.
            let sql = format!(
                "SELECT cu.user_id, u.login, u.display_name, cu.first_seen, cu.all_last_seen, \
                 cu.all_messages, cu.all_streams, cu.all_watch \
                 FROM (SELECT cu.user_id FROM {j} WHERE cu.channel_id = {c}{p}{x} \
                 ORDER BY {o} {dir}, cu.user_id {dir} LIMIT {limit} OFFSET {offset}) page \
                 JOIN channel_users cu ON cu.channel_id = {c} AND cu.user_id = page.user_id \
                 JOIN users u ON u.id = cu.user_id ORDER BY {o} {dir}, cu.user_id {dir}",
                j = join.sql(d, prefix.as_deref()),
                c = channel.0,
                p = prefix_filter(d, prefix.as_deref()),
                x = not_in("cu.user_id", excluded),
                o = query.sort.order(d),
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(channel_user_row).collect()
    }

    /// The [`Join`] of a page (a capped count on SQLite, see there).
    async fn join(
        &self,
        channel: ChannelKey,
        sort: ChatterSort,
        prefix: Option<&str>,
    ) -> Result<Join, StoreError> {
        let d = self.dialect();
        let (candidates, walk) = match (prefix, sort) {
            _ if d == Dialect::MySql => return Ok(Join::Planner),
            (Some(_), ChatterSort::Login) => return Ok(Join::Planner),
            (Some(_), _) => (
                format!(
                    "SELECT 1 FROM users u WHERE 1 = 1{}",
                    prefix_filter(d, prefix)
                ),
                Join::WalkColumn,
            ),
            _ if d == Dialect::Postgres => return Ok(Join::Planner),
            (None, ChatterSort::Login) => (
                format!(
                    "SELECT 1 FROM channel_users WHERE channel_id = {}",
                    channel.0
                ),
                Join::WalkLogins,
            ),
            (None, _) => return Ok(Join::Planner),
        };
        let (count,): (i64,) = with_pool!(self, |pool, Db, d| {
            let sql = format!("SELECT COUNT(*) FROM ({candidates} LIMIT {WALK_ABOVE}) t");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await?
        });
        Ok(match (d, count >= WALK_ABOVE) {
            (Dialect::Postgres, true) => Join::Planner,
            (Dialect::Postgres, false) => Join::Candidates,
            (_, true) => walk,
            (_, false) => Join::Planner,
        })
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
