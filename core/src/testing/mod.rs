//! Test support shared by the tests of every crate (behind the `testing` cargo feature): a
//! fresh database per test on SQLite, MariaDB and PostgreSQL ([`TestDb`],
//! [`on_every_backend!`](crate::on_every_backend)), event builders on a timeline
//! ([`Timeline`] and the free functions on [`FIXED`]), the real ingestion pipeline
//! ([`Pipeline`]) and a scripted channel with two streams ([`scripted_channel`]).
//!
//! Use it from a dev-dependency: `chatters-core = { path = "../core", features = ["testing"] }`.
//! Its functions panic on failure: they are for tests only.

mod db;
mod events;
mod pipeline;
mod proxy;
mod script;
mod sums;

pub use db::{TestDb, database_name, server_url};
pub use events::{
    FIXED, T0, Timeline, first_msg, join, login, message_in, msg, offline, online, part, snapshot,
    t, user,
};
pub use pipeline::{Pipeline, tracker_config};
pub use proxy::Proxy;
pub use script::{FIRST_STREAM, SECOND_STREAM, scripted_channel};
pub use sums::assert_kept_sums;

pub use crate::on_every_backend;

/// Declares each listed `async fn name(store: Arc<Store>)` as a test on all three backends
/// (a module per backend: `sqlite::name`, `mysql::name`, `postgres::name`). Tests that also
/// need SQL access to the database (row counts) follow `; with_db:` and take `db: &TestDb`
/// instead: `on_every_backend!(a, b; with_db: c)`. An unset server URL skips that backend's
/// tests, except under `CI` (see [`server_url`]). The calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)? $(; with_db: $($db_name:ident),+ $(,)?)?) => {
        $crate::backend_tests!(sqlite, Some($crate::testing::TestDb::sqlite().await); $($name),*; $($($db_name),+)?);
        $crate::backend_tests!(mysql, $crate::testing::TestDb::mysql().await; $($name),*; $($($db_name),+)?);
        $crate::backend_tests!(postgres, $crate::testing::TestDb::postgres().await; $($name),*; $($($db_name),+)?);
    };
}

/// One backend's module of [`on_every_backend!`].
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
