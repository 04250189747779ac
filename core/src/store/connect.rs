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
            marks: Default::default(),
            totals: Default::default(),
            commits: Default::default(),
        },
        Backend::Postgres => Store {
            pool: Pool::Postgres(connect_postgres(url, options).await?),
            _checkpointer: None,
            marks: Default::default(),
            totals: Default::default(),
            commits: Default::default(),
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

pub(super) static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
pub(super) static MYSQL_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/mysql");
pub(super) static POSTGRES_MIGRATOR: sqlx::migrate::Migrator =
    sqlx::migrate!("../migrations/postgres");

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

    /// SQLite's `PRAGMA quick_check`: `None` when the file is sound, else the first problems
    /// it names. MariaDB and PostgreSQL look after their own files: always `None`.
    pub async fn integrity_check(&self) -> Result<Option<String>, StoreError> {
        let Pool::Sqlite(pool) = &self.pool else {
            return Ok(None);
        };
        let lines: Vec<String> = match sqlx::query_scalar("PRAGMA quick_check(5)")
            .fetch_all(pool)
            .await
        {
            Ok(lines) => lines,
            // SQLITE_CORRUPT or SQLITE_NOTADB: the check itself hit the damage.
            Err(sqlx::Error::Database(e)) if sqlite_damaged(e.code().as_deref()) => {
                return Ok(Some(e.message().to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        if lines.iter().all(|l| l == "ok") {
            Ok(None)
        } else {
            Ok(Some(lines.join("; ")))
        }
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        with_pool!(self, |pool, Db, d| pool.close().await);
    }
}

/// SQLITE_CORRUPT (11) or SQLITE_NOTADB (26), extended codes included.
fn sqlite_damaged(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 11 | 26))
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
    if !url.contains("mode=memory") {
        create_private(opts.get_filename())?;
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .connect_with(opts)
        .await?;
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(checkpoint(pool.clone(), stop.clone()));
    Ok(Store {
        pool: Pool::Sqlite(pool),
        _checkpointer: Some(Arc::new(stop.drop_guard())),
        marks: Default::default(),
        totals: Default::default(),
        commits: Default::default(),
    })
}

/// Creates the database file, when missing, readable and writable by its owner only (0600):
/// it holds tokens and webhook URLs. SQLite gives its `-wal` and `-shm` files the mode of the
/// database file.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Sql(sqlx::Error::Io(e))),
    }
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
    // Notices ("relation ... already exists, skipping" from the migrations table's `CREATE
    // TABLE IF NOT EXISTS`) would be logged on every command's stderr: the server sends only
    // warnings and errors.
    let opts = PgConnectOptions::from_str(url)?.options([("client_min_messages", "warning")]);
    let max = options.max_connections;
    connect_with_retry(url, options.retry_for, || {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
    })
    .await
}
