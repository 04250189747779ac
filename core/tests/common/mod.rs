//! Test helpers: a fresh database per test on every backend, and event builders.
//!
//! SQLite is a temporary file. MariaDB and PostgreSQL come from `TEST_MYSQL_URL` and
//! `TEST_POSTGRES_URL` (set by `.ci/run`); each test creates its own database there and drops it
//! afterwards. Without the variable the test is skipped with a note, unless `CI` is set, where a
//! missing server is a failure.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::{Event, Message, UserRef};
use chatters_core::store::{self, ConnectOptions, Store};
use sqlx::{AssertSqlSafe, Connection};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database for one test.
pub struct TestDb {
    pub store: Arc<Store>,
    pub url: String,
    drop_with: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

fn unique_name() -> String {
    format!(
        "chatters_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("{var} must be set in CI"),
        _ => {
            eprintln!("{var} not set: skipping this backend (CI sets it)");
            None
        }
    }
}

fn with_database(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("valid test database URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

impl TestDb {
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

    pub async fn mysql() -> Option<Self> {
        let admin = server_url("TEST_MYSQL_URL")?;
        let name = unique_name();
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

    pub async fn postgres() -> Option<Self> {
        let admin = server_url("TEST_POSTGRES_URL")?;
        let name = unique_name();
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
        match store::Backend::from_url(&self.url).expect("test URL") {
            store::Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("connect");
                decode(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
            store::Backend::MySql => {
                let mut c = sqlx::MySqlConnection::connect(&self.url)
                    .await
                    .expect("connect");
                decode(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
            store::Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url)
                    .await
                    .expect("connect");
                decode(sqlx::query(sql).fetch_all(&mut c).await.expect("query"))
            }
        }
    }

    /// One integer: the first column of the first row of `query`, cast to a 64-bit integer
    /// (SUM is NUMERIC/DECIMAL on the servers); `None` for SQL NULL.
    pub async fn int(&self, query: &str) -> Option<i64> {
        let ty = match store::Backend::from_url(&self.url).expect("test URL") {
            store::Backend::Sqlite => "INTEGER",
            store::Backend::MySql => "SIGNED",
            store::Backend::Postgres => "BIGINT",
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

    /// Closes the pool and drops a server database.
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

/// Declares each listed `async fn name(store: Arc<Store>)` as a test on all three backends.
/// Tests that also need SQL access to the database (row counts) follow `; with_db:` and take
/// `db: &TestDb` instead: `on_every_backend!(a, b; with_db: c)`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)? $(; with_db: $($db_name:ident),+ $(,)?)?) => {
        $crate::backend_tests!(sqlite, Some($crate::common::TestDb::sqlite().await); $($name),*; $($($db_name),+)?);
        $crate::backend_tests!(mysql, $crate::common::TestDb::mysql().await; $($name),*; $($($db_name),+)?);
        $crate::backend_tests!(postgres, $crate::common::TestDb::postgres().await; $($name),*; $($($db_name),+)?);
    };
}

/// One backend's module of [`on_every_backend!`] (an unset server URL skips its tests).
#[doc(hidden)]
#[macro_export]
macro_rules! backend_tests {
    ($backend:ident, $open:expr; $($name:ident),*; $($db_name:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $open else { return };
                    super::$name(db.store.clone()).await;
                    db.cleanup().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $db_name() {
                    let Some(db) = $open else { return };
                    super::$db_name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

// ---- event builders ----

/// 2024-01-01T00:00:00Z: scenario times are offsets from here.
pub const T0: i64 = 1_704_067_200;

pub fn t(offset: i64) -> Timestamp {
    Timestamp(T0 + offset)
}

pub fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

pub fn user(id: i64, name: &str) -> UserRef {
    UserRef::new(UserId(id), login(name))
}

pub fn join(channel: &str, u: &UserRef, at: i64) -> Event {
    Event::Join {
        channel: login(channel),
        user: u.clone(),
        at: t(at),
    }
}

pub fn part(channel: &str, u: &UserRef, at: i64) -> Event {
    Event::Part {
        channel: login(channel),
        user: u.clone(),
        at: t(at),
    }
}

pub fn message_in(channel: &str, room: i64, u: &UserRef, at: i64) -> Message {
    Message {
        channel: login(channel),
        user: u.clone(),
        at: t(at),
        room_id: Some(UserId(room)),
        source_room_id: None,
        first_msg: false,
        returning_chatter: false,
        badges: Vec::new(),
        has_text: true,
        id: None,
    }
}

pub fn msg(channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
    Event::Message(Box::new(message_in(channel, room, u, at)))
}

pub fn first_msg(channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
    let mut m = message_in(channel, room, u, at);
    m.first_msg = true;
    Event::Message(Box::new(m))
}

pub fn snapshot(channel: &str, users: &[&UserRef], at: i64) -> Event {
    Event::Snapshot {
        channel: login(channel),
        at: t(at),
        users: users.iter().map(|u| (*u).clone()).collect(),
        total: users.len() as u64,
    }
}

pub fn online(channel: &str, broadcaster: i64, id: &str, at: i64) -> Event {
    Event::StreamOnline {
        channel: login(channel),
        broadcaster: Some(UserId(broadcaster)),
        stream: StreamId::parse(id).expect("valid stream id"),
        started_at: t(at),
        title: format!("stream {id}"),
    }
}

pub fn offline(channel: &str, at: i64) -> Event {
    Event::StreamOffline {
        channel: login(channel),
        at: t(at),
    }
}
