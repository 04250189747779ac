//! [`StoreError`]: every way a storage call can fail.

use crate::domain::Login;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL's scheme is not one chatters supports.
    #[error("unsupported database URL scheme {0:?} (expected sqlite://, mysql:// or postgres://)")]
    UnsupportedUrl(String),
    /// The database could not be reached within the start-up grace period.
    #[error("database at {host} unreachable: {reason}")]
    Unreachable {
        /// Host (never the password).
        host: String,
        /// Last connection error (its text; sqlx never puts the password in it).
        reason: sqlx::Error,
    },
    /// A migration failed to apply.
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error: {0}")]
    Sql(sqlx::Error),
    /// A channel that was never added.
    #[error("channel {0} is not tracked (add it first)")]
    UnknownChannel(Login),
    /// A value stored in the database that does not parse.
    #[error("corrupt value in column {column}: {value:?}")]
    Corrupt {
        /// Column.
        column: &'static str,
        /// What was found.
        value: String,
    },
}

impl StoreError {
    /// Whether the database was unreachable (connection refused or lost, pool timed out): the
    /// same call may well succeed later, where other errors would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Sql(e) => matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
                    | sqlx::Error::Protocol(_)
            ),
            _ => false,
        }
    }
}

// The cause is part of each message above, so it is not also exposed as `source()`: error
// chains print it once.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(e)
    }
}
