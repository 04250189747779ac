//! Opening the database: [`open`] picks the [`Backend`] from the URL, builds its pool
//! (retrying a server that is still starting; SQLite with WAL and a background checkpointer),
//! and [`Store::migrate`] applies that backend's embedded migrations.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{MySqlPool, PgPool, SqlitePool};

use super::error::StoreError;
use super::pool::{Pool, Store, with_pool};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path` (created with WAL on first run).
    Sqlite,
    /// `mysql://` or `mariadb://` (MariaDB 10.11+).
    MySql,
    /// `postgres://` or `postgresql://` (PostgreSQL 15+).
    Postgres,
}

impl Backend {
    /// The backend named by a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedUrl(scheme.to_owned())),
        }
    }
}

/// Connection options common to every backend.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// How long an unreachable server is retried before giving up.
    pub retry_for: Duration,
    /// Pool size.
    pub max_connections: u32,
    /// SQLite page cache per connection, in KiB (a one-off bulk writer such as an import needs
    /// far less than a long-running process).
    pub sqlite_cache_kib: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            retry_for: Duration::from_secs(30),
            max_connections: 8,
            sqlite_cache_kib: 65_536,
        }
    }
}

/// Opens the database named by `url` (migrations are not applied: call [`Store::migrate`]).
pub async fn open(url: &str, options: &ConnectOptions) -> Result<Arc<Store>, StoreError> {
    Ok(Arc::new(match Backend::from_url(url)? {
        Backend::Sqlite => connect_sqlite(url, options).await?,
        Backend::MySql => Store {
            pool: Pool::MySql(connect_mysql(url, options).await?),
            _checkpointer: None,
        },
        Backend::Postgres => Store {
            pool: Pool::Postgres(connect_postgres(url, options).await?),
            _checkpointer: None,
        },
    }))
}

/// The host part of a database URL, for error messages (never the credentials).
pub fn url_host(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => u.path().to_owned(),
        },
        Err(_) => "<unparsable url>".to_owned(),
    }
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static MYSQL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/mysql");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl Store {
    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::MySql(_) => Backend::MySql,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations of this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Pool::MySql(pool) => MYSQL_MIGRATOR.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// A trivial round trip (`/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, |pool, Db, d| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        with_pool!(self, |pool, Db, d| pool.close().await);
    }
}

/// Retries connecting until `retry_for` has passed (the server may still be starting).
async fn connect_with_retry<T, F, Fut>(
    url: &str,
    retry_for: Duration,
    mut connect: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let deadline = tokio::time::Instant::now() + retry_for;
    let mut delay = Duration::from_millis(100);
    loop {
        match connect().await {
            Ok(pool) => return Ok(pool),
            Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)))
                if tokio::time::Instant::now() + delay < deadline =>
            {
                tracing::warn!(host = %url_host(url), error = %e, "database not reachable yet, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))) => {
                return Err(StoreError::Unreachable {
                    host: url_host(url),
                    reason: e,
                });
            }
            Err(e) => return Err(StoreError::Sql(e)),
        }
    }
}

/// How often the WAL is checkpointed in the background.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// SQLite (the default; one file, WAL): opens (creating when missing) the database file named
/// by a `sqlite:` URL and starts its background checkpointer.
async fn connect_sqlite(url: &str, options: &ConnectOptions) -> Result<Store, StoreError> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9);
        // only an OS crash or power loss can lose the last commits.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .pragma("temp_store", "memory")
        .pragma("cache_size", format!("-{}", options.sqlite_cache_kib))
        // Checkpoints run beside the writes instead of inside the commit that crosses the
        // threshold, which would stall it (and a command waiting for it) for many ms.
        .pragma("wal_autocheckpoint", "0");
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .connect_with(opts)
        .await?;
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(checkpoint(pool.clone(), stop.clone()));
    Ok(Store {
        pool: Pool::Sqlite(pool),
        _checkpointer: Some(Arc::new(stop.drop_guard())),
    })
}

/// Copies the WAL into the database file every [`CHECKPOINT_EVERY`] without blocking readers
/// or the writer (`PASSIVE`), so the WAL stays small and commits never do it themselves.
async fn checkpoint(pool: SqlitePool, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if pool.is_closed() {
            break;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::debug!(%error, "WAL checkpoint failed (retried on the next tick)");
        }
    }
}

/// MariaDB 10.11+ (also MySQL 8): connects, retrying an unreachable server for
/// `options.retry_for`.
async fn connect_mysql(url: &str, options: &ConnectOptions) -> Result<MySqlPool, StoreError> {
    let url_fixed = url.replacen("mariadb://", "mysql://", 1);
    let opts = MySqlConnectOptions::from_str(&url_fixed)?;
    let max = options.max_connections;
    connect_with_retry(url, options.retry_for, || {
        MySqlPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
    })
    .await
}

/// PostgreSQL 15+: connects, retrying an unreachable server for `options.retry_for`.
async fn connect_postgres(url: &str, options: &ConnectOptions) -> Result<PgPool, StoreError> {
    let opts = PgConnectOptions::from_str(url)?;
    let max = options.max_connections;
    connect_with_retry(url, options.retry_for, || {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
    })
    .await
}
