//! The [`Store`] handle: one connection pool of whichever backend was opened, and the
//! dispatch macros that write a method body once and expand it per backend.
//!
//! `with_pool!(self, |pool, Db, d| body)` expands `body` three times, once per [`Pool`]
//! variant, with `pool` the backend's pool, `Db` its `sqlx` database type and `d` its
//! [`Dialect`](super::dialect::Dialect). `with_tx!(tx, |tx, Db, d| body)` does the same for an
//! open [`Tx`]. The methods themselves live next to their concern (`channels`, `commit`, ...).

use std::sync::Arc;

use sqlx::{MySql, MySqlPool, PgPool, Postgres, Sqlite, SqlitePool};

use super::error::StoreError;

/// The database behind chatters: a cheaply clonable handle on one SQLite, MariaDB or
/// PostgreSQL pool (see [`open`](super::open)). Every method is one transaction or one read.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) pool: Pool,
    /// Stops the SQLite WAL checkpointer when the last clone is dropped (`None` elsewhere).
    pub(super) _checkpointer: Option<Arc<tokio_util::sync::DropGuard>>,
    /// The marks of the streams batches wrote to ([`super::marks`]), loaded once per stream.
    pub(super) marks: super::mark_cache::MarkCache,
    /// The chatter-table totals held between commits ([`super::held_totals`]).
    pub(super) totals: super::held_totals::HeldTotals,
    /// Which of ingestion's batches are committed ([`super::commit_clock`]).
    pub(super) commits: super::commit_clock::CommitClock,
}

/// The pool of the opened backend.
#[derive(Debug, Clone)]
pub(super) enum Pool {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
    Postgres(PgPool),
}

/// An open transaction on the opened backend (a batch commit spans several helpers).
#[derive(Debug)]
pub(super) enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    MySql(sqlx::Transaction<'static, MySql>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Store {
    /// Starts a transaction.
    pub(super) async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.pool {
            // A write transaction takes SQLite's write lock at once: a deferred one that reads
            // first fails with SQLITE_BUSY_SNAPSHOT (517, busy_timeout does not apply) when
            // another connection commits between its first read and its first write.
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Pool::MySql(pool) => Tx::MySql(pool.begin().await?),
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

impl Tx {
    /// Commits the transaction.
    pub(super) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(tx) => tx.commit().await?,
            Self::MySql(tx) => tx.commit().await?,
            Self::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Expands `$body` once per variant of the `$enum` (`Pool` or `Tx`) that `$value` holds.
macro_rules! dispatch {
    ($enum:ident, $value:expr, |$x:ident, $db:ident, $d:ident| $body:expr) => {
        match $value {
            $crate::store::pool::$enum::Sqlite($x) => {
                $crate::store::pool::dispatch!(@arm $db, $d, Sqlite, $body)
            }
            $crate::store::pool::$enum::MySql($x) => {
                $crate::store::pool::dispatch!(@arm $db, $d, MySql, $body)
            }
            $crate::store::pool::$enum::Postgres($x) => {
                $crate::store::pool::dispatch!(@arm $db, $d, Postgres, $body)
            }
        }
    };
    (@arm $db:ident, $d:ident, $backend:ident, $body:expr) => {{
        #[allow(dead_code, reason = "bodies that bind no values never name the database type")]
        type $db = sqlx::$backend;
        #[allow(unused_variables, reason = "bodies without backend-specific SQL ignore the dialect")]
        let $d = $crate::store::dialect::Dialect::$backend;
        $body
    }};
}

/// `with_pool!(store, |pool, Db, d| body)`: `body` once per backend, on the store's pool.
macro_rules! with_pool {
    ($store:expr, |$pool:ident, $db:ident, $d:ident| $body:expr) => {
        $crate::store::pool::dispatch!(Pool, &$store.pool, |$pool, $db, $d| $body)
    };
}

/// `with_tx!(tx, |tx, Db, d| body)`: `body` once per backend, on an open [`Tx`].
macro_rules! with_tx {
    ($tx:expr, |$conn:ident, $db:ident, $d:ident| $body:expr) => {
        $crate::store::pool::dispatch!(Tx, $tx, |$conn, $db, $d| $body)
    };
}

pub(super) use {dispatch, with_pool, with_tx};
