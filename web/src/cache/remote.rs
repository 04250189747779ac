//! The Redis side of the chart cache: bodies shared by every web instance, under keys that
//! carry the channel's data version, expiring with their maximum age.
//!
//! Redis is an optimisation: when it is down or slow, requests render locally (each failure is
//! logged) and never fail because of it. The connection manager reconnects by itself, but the
//! first command after a disconnect fails: every command is retried once.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError};
use secrecy::{ExposeSecret, SecretString};

/// How long one Redis command may take before the request renders locally instead.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// The Redis key of a cache key at a data version.
pub(super) fn key(key: &str, version: u64) -> String {
    format!("chatters:chart:v1:{key}:{version:016x}")
}

/// A lazily connected Redis connection manager.
pub(crate) struct RemoteCache {
    manager: ConnectionManager,
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCache").finish_non_exhaustive()
    }
}

impl RemoteCache {
    /// A manager for `url`, connecting on first use. `None` (logged) when the URL is invalid;
    /// settings validated it already, so that does not happen in practice.
    pub(crate) fn connect(url: &SecretString) -> Option<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let made = redis::Client::open(url.expose_secret())
            .and_then(|client| ConnectionManager::new_lazy_with_config(client, config));
        match made {
            Ok(manager) => Some(Self { manager }),
            Err(error) => {
                tracing::warn!(%error, "chart cache: Redis unusable, caching in process only");
                None
            }
        }
    }

    /// The body under `key`, if Redis has it and answers.
    pub(super) async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        match self.run::<Option<Vec<u8>>>(&cmd).await {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(%error, "chart cache: Redis GET failed");
                None
            }
        }
    }

    /// Stores `body` under `key` for `ttl` (at least one second).
    pub(super) async fn set(&self, key: &str, body: &[u8], ttl: Duration) {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(body).arg("EX").arg(ttl.as_secs().max(1));
        if let Err(error) = self.run::<()>(&cmd).await {
            tracing::warn!(%error, "chart cache: Redis SET failed");
        }
    }

    /// Runs `cmd`, once more after a connection failure (the manager reconnects in between).
    pub(crate) async fn run<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisError> {
        match self.once(cmd).await {
            Err(e) if retryable(&e) => self.once(cmd).await,
            other => other,
        }
    }

    async fn once<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisError> {
        let mut manager = self.manager.clone();
        cmd.query_async(&mut manager).await
    }
}

fn retryable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TEST_REDIS_URL` (set by `.ci/run`); skipped without it outside CI.
    fn redis_url() -> Option<SecretString> {
        match std::env::var("TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(SecretString::from(url)),
            _ if std::env::var_os("CI").is_some() => panic!("TEST_REDIS_URL must be set in CI"),
            _ => {
                eprintln!("TEST_REDIS_URL not set: skipping (CI sets it)");
                None
            }
        }
    }

    #[tokio::test]
    async fn bodies_round_trip_and_expire_with_their_ttl() {
        let Some(url) = redis_url() else { return };
        let remote = RemoteCache::connect(&url).expect("a valid URL");
        let name = key(&format!("test/{}/roundtrip", std::process::id()), 7);

        remote
            .set(&name, b"\x89PNG body", Duration::from_secs(30))
            .await;
        let body = remote.get(&name).await;
        let ttl: i64 = remote.run(redis::cmd("TTL").arg(&name)).await.expect("TTL");

        assert_eq!(body.as_deref(), Some(&b"\x89PNG body"[..]));
        assert!((1..=30).contains(&ttl), "{ttl}");
        assert_eq!(remote.get(&key("test/never-stored", 1)).await, None);
    }

    #[tokio::test]
    async fn the_first_command_after_a_disconnect_is_retried() {
        let Some(url) = redis_url() else { return };
        let remote = RemoteCache::connect(&url).expect("a valid URL");
        let id: i64 = remote
            .run(redis::cmd("CLIENT").arg("ID"))
            .await
            .expect("CLIENT ID");
        let client = redis::Client::open(url.expose_secret()).expect("URL");
        let mut other = client
            .get_multiplexed_async_connection()
            .await
            .expect("second connection");
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut other)
            .await
            .expect("CLIENT KILL");
        assert_eq!(killed, 1);

        let pong: String = remote
            .run(&redis::cmd("PING"))
            .await
            .expect("answered after one retry");

        assert_eq!(pong, "PONG");
        let new_id: i64 = remote
            .run(redis::cmd("CLIENT").arg("ID"))
            .await
            .expect("CLIENT ID");
        assert_ne!(new_id, id, "reconnected");
    }
}
