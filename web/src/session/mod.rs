//! Dashboard sessions, server-side: a 256-bit random id in the browser's cookie, its SHA-256
//! as the key where the session is kept (the database's `web_sessions`, or Redis when
//! `REDIS_URL` is set, so that every `chatters web` instance knows every session), 7 days of
//! idle expiry (each use moves it), and the session's own CSRF token.
//!
//! Layout: this file ([`Sessions`]); `cookie` (reading and writing the cookies).

pub(crate) mod cookie;

use std::sync::Arc;
use std::time::Duration;

use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::store::{Store, StoreError, WebSession};
use redis::RedisError;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cache::remote::RemoteCache;

/// Idle expiry: a session unused this long is gone.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A session's expiry is written again only when it moved by more than this (no write per
/// request).
const TOUCH_EVERY: i64 = 60;

/// Why a session could not be read or written (the dashboard answers 503).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The database failed.
    #[error("session store: {0}")]
    Store(#[from] StoreError),
    /// Redis failed.
    #[error("session store (Redis): {0}")]
    Redis(#[from] RedisError),
    /// A stored session could not be read back.
    #[error("session store: unreadable session: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// No randomness.
    #[error("no randomness for a session id: {0}")]
    Random(getrandom::Error),
}

/// Where sessions live.
pub struct Sessions {
    store: Arc<Store>,
    redis: Option<RemoteCache>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

/// A session as kept in Redis (the database has its own columns).
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    user_id: i64,
    login: Login,
    csrf: String,
    created_at: i64,
    expires_at: i64,
    channels: Vec<Login>,
    channels_at: i64,
}

impl From<&WebSession> for Stored {
    fn from(s: &WebSession) -> Self {
        Self {
            user_id: s.user_id.0,
            login: s.login.clone(),
            csrf: s.csrf.clone(),
            created_at: s.created_at.0,
            expires_at: s.expires_at.0,
            channels: s.channels.clone(),
            channels_at: s.channels_at.0,
        }
    }
}

impl From<Stored> for WebSession {
    fn from(s: Stored) -> Self {
        Self {
            user_id: UserId(s.user_id),
            login: s.login,
            csrf: s.csrf,
            created_at: Timestamp(s.created_at),
            expires_at: Timestamp(s.expires_at),
            channels: s.channels,
            channels_at: Timestamp(s.channels_at),
        }
    }
}

/// 32 random bytes as 64 hex digits.
pub fn random_token() -> Result<String, SessionError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(SessionError::Random)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored for a session id: its SHA-256, hex.
fn id_hash(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

fn redis_key(hash: &str) -> String {
    format!("chatters:session:v1:{hash}")
}

fn idle() -> i64 {
    IDLE_EXPIRY.as_secs() as i64
}

impl Sessions {
    /// Sessions in the database, or in Redis when `redis_url` is given.
    pub fn new(store: Arc<Store>, redis_url: Option<&secrecy::SecretString>) -> Self {
        Self {
            store,
            redis: redis_url.and_then(RemoteCache::connect),
        }
    }

    /// Whether sessions are kept in Redis.
    pub fn in_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Starts a session for a user who just signed in; returns the id for the cookie.
    pub async fn create(
        &self,
        user_id: UserId,
        login: Login,
        channels: Vec<Login>,
        now: Timestamp,
    ) -> Result<(String, WebSession), SessionError> {
        let id = random_token()?;
        let session = WebSession {
            user_id,
            login,
            csrf: random_token()?,
            created_at: now,
            expires_at: now.plus(idle()),
            channels,
            channels_at: now,
        };
        let hash = id_hash(&id);
        match &self.redis {
            Some(redis) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(redis_key(&hash))
                    .arg(serde_json::to_string(&Stored::from(&session))?)
                    .arg("EX")
                    .arg(idle());
                redis.run::<()>(&cmd).await?;
            }
            None => {
                // Expired rows go when someone signs in: no task of its own.
                self.store.delete_expired_web_sessions(now).await?;
                self.store.create_web_session(&hash, &session).await?;
            }
        }
        Ok((id, session))
    }

    /// The live session of a cookie's id, its idle expiry moved forward.
    pub async fn get(&self, id: &str, now: Timestamp) -> Result<Option<WebSession>, SessionError> {
        let hash = id_hash(id);
        match &self.redis {
            Some(redis) => {
                let key = redis_key(&hash);
                let mut get = redis::cmd("GET");
                get.arg(&key);
                let Some(json) = redis.run::<Option<String>>(&get).await? else {
                    return Ok(None);
                };
                let mut session: WebSession = serde_json::from_str::<Stored>(&json)?.into();
                let mut expire = redis::cmd("EXPIRE");
                expire.arg(&key).arg(idle());
                redis.run::<i64>(&expire).await?;
                session.expires_at = now.plus(idle());
                Ok(Some(session))
            }
            None => {
                let Some(mut session) = self.store.web_session(&hash, now).await? else {
                    return Ok(None);
                };
                let expires = now.plus(idle());
                if expires.0 - session.expires_at.0 > TOUCH_EVERY {
                    self.store.touch_web_session(&hash, expires).await?;
                    session.expires_at = expires;
                }
                Ok(Some(session))
            }
        }
    }

    /// Ends a session (nothing happens for an unknown id).
    pub async fn delete(&self, id: &str) -> Result<(), SessionError> {
        let hash = id_hash(id);
        match &self.redis {
            Some(redis) => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(redis_key(&hash));
                redis.run::<i64>(&cmd).await?;
            }
            None => {
                self.store.delete_web_session(&hash).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_256_random_bits_and_stored_as_their_sha256() {
        let (a, b) = (
            random_token().expect("random"),
            random_token().expect("random"),
        );
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(
            id_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(id_hash(&a), a);
    }
}
