//! [`TestDb`]: a fresh, migrated database for one test. SQLite is a temporary file; MariaDB
//! and PostgreSQL come from `TEST_MYSQL_URL` and `TEST_POSTGRES_URL` (set by `.ci/run`), where
//! each test creates its own database `chatters_t_<pid>_<n>` and drops it afterwards (`.ci/run`
//! removes the ones an aborted run left behind).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection};

use crate::store::{self, Backend, ConnectOptions, Store};

/// Databases created by this process so far (the `<n>` of [`database_name`]).
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database for one test; call [`TestDb::cleanup`] at the end to drop a server database.
#[derive(Debug)]
pub struct TestDb {
    /// The migrated store over it.
    pub store: Arc<Store>,
    /// Its URL.
    pub url: String,
    /// The admin URL and database name to drop, on a server.
    drop_with: Option<(String, String)>,
    /// The directory of a SQLite file, removed when dropped.
    _dir: Option<tempfile::TempDir>,
}

/// A database name no other test of any process uses: `chatters_t_<pid>_<n>`.
pub fn database_name() -> String {
    format!(
        "chatters_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The server URL in the environment variable `var`. Unset or empty, the backend is skipped
/// with a note (`None`), except when `CI` is set: there a missing server is a failure (panic).
pub fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("{var} must be set in CI"),
        _ => {
            eprintln!("{var} not set: skipping this backend (CI sets it)");
            None
        }
    }
}

/// `url` with its database (path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("valid test database URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

impl TestDb {
    /// A migrated SQLite database in a fresh temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/chatters.db", dir.path().display());
        let store = store::open(&url, &ConnectOptions::default())
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Self {
            store,
            url,
            drop_with: None,
            _dir: Some(dir),
        }
    }

    /// A migrated MariaDB database on `TEST_MYSQL_URL` (`None`: not set, see [`server_url`]).
    pub async fn mysql() -> Option<Self> {
        let admin = server_url("TEST_MYSQL_URL")?;
        let name = database_name();
        let mut conn = sqlx::MySqlConnection::connect(&admin)
            .await
            .expect("connect to TEST_MYSQL_URL");
        sqlx::query(AssertSqlSafe(format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4"
        )))
        .execute(&mut conn)
        .await
        .expect("create test database");
        conn.close().await.ok();
        Some(Self::server(&admin, name).await)
    }

    /// A migrated PostgreSQL database on `TEST_POSTGRES_URL` (`None`: not set, see
    /// [`server_url`]).
    pub async fn postgres() -> Option<Self> {
        let admin = server_url("TEST_POSTGRES_URL")?;
        let name = database_name();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect to TEST_POSTGRES_URL");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        Some(Self::server(&admin, name).await)
    }

    /// A migrated database of `backend` ([`TestDb::sqlite`], [`TestDb::mysql`] or
    /// [`TestDb::postgres`]).
    pub async fn of(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::MySql => Self::mysql().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    async fn server(admin: &str, name: String) -> Self {
        let url = with_database(admin, &name);
        let store = store::open(&url, &ConnectOptions::default())
            .await
            .expect("open test database");
        store.migrate().await.expect("migrate");
        Self {
            store,
            url,
            drop_with: Some((admin.to_owned(), name)),
            _dir: None,
        }
    }

    /// Runs a query on a separate connection and returns every row as nullable integers
    /// (every column must be an integer). For checks the [`Store`] API does not expose.
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Option<i64>>> {
        fn decode<R: sqlx::Row>(rows: Vec<R>) -> Vec<Vec<Option<i64>>>
        where
            usize: sqlx::ColumnIndex<R>,
            Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        {
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<i64>, _>(i).expect("an integer column"))
                        .collect()
                })
                .collect()
        }
        let sql = AssertSqlSafe(sql.to_owned());
        match Backend::from_url(&self.url).expect("test URL") {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect");
                decode(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
            Backend::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&self.url)
                    .await
                    .expect("connect");
                decode(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect");
                decode(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
        }
    }

    /// Runs `sql` (one or more statements) on a separate connection, e.g. to bring the schema
    /// back to an earlier migration's.
    pub async fn execute(&self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_owned());
        match Backend::from_url(&self.url).expect("test URL") {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect");
                sqlx::raw_sql(sql).execute(&mut c).await.expect("execute");
            }
            Backend::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&self.url)
                    .await
                    .expect("connect");
                sqlx::raw_sql(sql).execute(&mut c).await.expect("execute");
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect");
                sqlx::raw_sql(sql).execute(&mut c).await.expect("execute");
            }
        }
    }

    /// One integer: the first column of the first row of `query`, cast to a 64-bit integer
    /// (SUM is NUMERIC/DECIMAL on the servers); `None` for SQL NULL.
    pub async fn int(&self, query: &str) -> Option<i64> {
        let ty = match Backend::from_url(&self.url).expect("test URL") {
            Backend::Sqlite => "INTEGER",
            Backend::MySql => "SIGNED",
            Backend::Postgres => "BIGINT",
        };
        let rows = self.rows(&format!("SELECT CAST(({query}) AS {ty})")).await;
        rows[0][0]
    }

    /// Rows of `table` matching `filter` (`"1=1"` for all).
    pub async fn count(&self, table: &str, filter: &str) -> i64 {
        self.int(&format!("SELECT COUNT(*) FROM {table} WHERE {filter}"))
            .await
            .expect("a count")
    }

    /// Closes the pool and drops a server database (a SQLite file goes with its directory).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.drop_with {
            let sql = format!("DROP DATABASE IF EXISTS {name}");
            if admin.starts_with("postgres") {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    sqlx::query(AssertSqlSafe(sql)).execute(&mut c).await.ok();
                }
            } else if let Ok(mut c) = sqlx::MySqlConnection::connect(&admin).await {
                sqlx::query(AssertSqlSafe(sql)).execute(&mut c).await.ok();
            }
        }
    }
}
