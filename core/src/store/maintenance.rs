//! Upkeep for operators: which migrations are still to apply (`chatters doctor`) and an online
//! copy of an SQLite database (`chatters backup`).

use std::path::Path;

use sqlx::QueryBuilder;

use super::connect::{MYSQL_MIGRATOR, POSTGRES_MIGRATOR, SQLITE_MIGRATOR};
use super::error::StoreError;
use super::pool::{Pool, Store, with_pool};

impl Store {
    /// The versions of the embedded migrations not applied yet (all of them on an empty
    /// database), oldest first.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let migrator = match &self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATOR,
            Pool::MySql(_) => &MYSQL_MIGRATOR,
            Pool::Postgres(_) => &POSTGRES_MIGRATOR,
        };
        let applied: Vec<(i64,)> = with_pool!(self, |pool, Db, d| {
            match sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(pool)
                .await
            {
                Ok(rows) => rows,
                // No bookkeeping table yet: nothing was applied.
                Err(sqlx::Error::Database(_)) => Vec::new(),
                Err(other) => return Err(other.into()),
            }
        });
        let applied: Vec<i64> = applied.into_iter().map(|(v,)| v).collect();
        Ok(migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    /// Copies an SQLite database to `path` while it is in use (`VACUUM INTO`: one consistent
    /// snapshot, compacted). `None` on MariaDB and PostgreSQL, whose own tools do this
    /// (`mariadb-dump --single-transaction`, `pg_dump`).
    pub async fn backup_sqlite(&self, path: &Path) -> Option<Result<(), StoreError>> {
        let Pool::Sqlite(pool) = &self.pool else {
            return None;
        };
        let target = path.to_string_lossy().into_owned();
        let mut qb = QueryBuilder::<sqlx::Sqlite>::new("VACUUM INTO ");
        qb.push_bind(target);
        Some(
            qb.build()
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(Into::into),
        )
    }
}
