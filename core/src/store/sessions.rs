//! Dashboard sessions kept in the database (`web_sessions`): the hash of the session id (never
//! the id), who signed in, the session's CSRF token, the channels the user broadcasts or
//! moderates as Twitch listed them, and when the session expires (moved on use: idle expiry).
//! With `REDIS_URL` the web side keeps the same record in Redis instead.

use sqlx::QueryBuilder;

use super::dialect::login;
use super::error::StoreError;
use super::pool::{Store, with_pool};
use crate::domain::{Login, Timestamp, UserId};

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// The Twitch account.
    pub user_id: UserId,
    /// Its login at sign-in.
    pub login: Login,
    /// The token every form of this session carries (hidden field `csrf`).
    pub csrf: String,
    /// Sign-in time.
    pub created_at: Timestamp,
    /// The session ends at this time unless used before (then moved forward).
    pub expires_at: Timestamp,
    /// The channels the user broadcasts (their own) or moderates, as Twitch listed them.
    pub channels: Vec<Login>,
    /// When Twitch listed them.
    pub channels_at: Timestamp,
}

type SessionTuple = (i64, String, String, i64, i64, Option<String>, i64);

fn session_row(
    (user, name, csrf, created, expires, channels, channels_at): SessionTuple,
) -> Result<WebSession, StoreError> {
    let channels = channels
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| login(c.to_owned()))
        .collect::<Result<_, _>>()?;
    Ok(WebSession {
        user_id: UserId(user),
        login: login(name)?,
        csrf,
        created_at: Timestamp(created),
        expires_at: Timestamp(expires),
        channels,
        channels_at: Timestamp(channels_at),
    })
}

/// The stored form of a channel list.
fn joined(channels: &[Login]) -> String {
    channels
        .iter()
        .map(Login::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

impl Store {
    /// Stores a new session under the hash of its id.
    pub async fn create_web_session(
        &self,
        id_hash: &str,
        session: &WebSession,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO web_sessions (id_hash, user_id, login, csrf, created_at, expires_at, \
                 channels, channels_at) VALUES (",
            );
            let mut sep = qb.separated(", ");
            sep.push_bind(id_hash.to_owned())
                .push_bind(session.user_id.0)
                .push_bind(session.login.as_str().to_owned())
                .push_bind(session.csrf.clone())
                .push_bind(session.created_at.0)
                .push_bind(session.expires_at.0)
                .push_bind(joined(&session.channels))
                .push_bind(session.channels_at.0);
            qb.push(")");
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// The session with this id hash, unless it expired by `now`.
    pub async fn web_session(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> Result<Option<WebSession>, StoreError> {
        let row: Option<SessionTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT user_id, login, csrf, created_at, expires_at, channels, channels_at \
                 FROM web_sessions WHERE id_hash = ",
            );
            qb.push_bind(id_hash.to_owned())
                .push(" AND expires_at > ")
                .push_bind(now.0);
            qb.build_query_as().fetch_optional(pool).await?
        });
        row.map(session_row).transpose()
    }

    /// Moves a session's expiry (idle expiry: every use extends it).
    pub async fn touch_web_session(
        &self,
        id_hash: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE web_sessions SET expires_at = ");
            qb.push_bind(expires_at.0)
                .push(" WHERE id_hash = ")
                .push_bind(id_hash.to_owned());
            qb.build().execute(pool).await?;
        });
        Ok(())
    }

    /// Ends a session; true when it existed.
    pub async fn delete_web_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("DELETE FROM web_sessions WHERE id_hash = ");
            qb.push_bind(id_hash.to_owned());
            Ok(qb.build().execute(pool).await?.rows_affected() > 0)
        })
    }

    /// Deletes the sessions expired by `now`; returns how many.
    pub async fn delete_expired_web_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("DELETE FROM web_sessions WHERE expires_at <= ");
            qb.push_bind(now.0);
            Ok(qb.build().execute(pool).await?.rows_affected())
        })
    }
}
