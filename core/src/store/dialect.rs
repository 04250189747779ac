//! SQL text shared by every concern: the [`Dialect`] differences between SQLite, MariaDB and
//! PostgreSQL (upsert syntax, `MIN`/`LEAST`, integer casts), the fixed chunk sizes of
//! multi-row statements, inlined id lists, and decoding of stored logins and stream ids.

use std::fmt::Write as _;

use super::error::StoreError;
use crate::domain::{Login, StreamId, UserId};

/// Rows per multi-row statement (SQLite allows 32,766 bound values; the widest row binds 12).
pub(super) const CHUNK: usize = 2_000;

/// Splits rows into chunks of a few fixed sizes (`CHUNK`, then smaller powers of five), so a
/// multi-row statement has one of a handful of shapes and stays in the prepared-statement
/// cache instead of evicting it (MariaDB answers an eviction's close late over TCP).
pub(super) fn fixed_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    const SIZES: [usize; 6] = [CHUNK, 400, 80, 16, 4, 1];
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = SIZES
            .iter()
            .copied()
            .find(|s| *s <= rest.len())
            .unwrap_or(1);
        let (head, tail) = rest.split_at(size);
        rest = tail;
        Some(head)
    })
}

/// Rows per PostgreSQL `UNNEST` upsert. The statement has the same text whatever the row
/// count (one array per column), so this only bounds the size of one message.
pub(super) const PG_CHUNK: usize = 20_000;

/// SQL that differs between backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    MySql,
    Postgres,
}

impl Dialect {
    /// Start of the update part of an upsert on `key`.
    pub(super) fn upsert(self, key: &str) -> String {
        match self {
            Self::MySql => " ON DUPLICATE KEY UPDATE ".to_owned(),
            _ => format!(" ON CONFLICT ({key}) DO UPDATE SET "),
        }
    }

    /// The value that was proposed for `col` in an upsert.
    pub(super) fn ex(self, col: &str) -> String {
        match self {
            Self::MySql => format!("VALUES({col})"),
            _ => format!("excluded.{col}"),
        }
    }

    /// The smaller of two values.
    pub(super) fn least(self) -> &'static str {
        match self {
            Self::Sqlite => "MIN",
            _ => "LEAST",
        }
    }

    /// The larger of two values.
    pub(super) fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "MAX",
            _ => "GREATEST",
        }
    }

    /// An integer expression decodable as `i64` (SUM gives NUMERIC/DECIMAL elsewhere).
    pub(super) fn int(self, expr: &str) -> String {
        match self {
            Self::Sqlite => expr.to_owned(),
            Self::MySql => format!("CAST({expr} AS SIGNED)"),
            Self::Postgres => format!("CAST({expr} AS BIGINT)"),
        }
    }

    /// `INSERT` that silently skips rows whose key exists: (prefix, suffix).
    pub(super) fn insert_ignore(self) -> (&'static str, &'static str) {
        match self {
            Self::Sqlite => ("INSERT OR IGNORE INTO ", ""),
            Self::MySql => ("INSERT IGNORE INTO ", ""),
            Self::Postgres => ("INSERT INTO ", " ON CONFLICT DO NOTHING"),
        }
    }

    /// The slices a batched write is cut into: [`fixed_chunks`] for SQLite and MariaDB (one
    /// prepared statement per chunk size), plain `PG_CHUNK`s for PostgreSQL's `UNNEST` upserts.
    pub(super) fn write_chunks<T: Sync>(
        self,
        rows: &[T],
    ) -> Box<dyn Iterator<Item = &[T]> + Send + '_> {
        match self {
            Self::Postgres => Box::new(rows.chunks(PG_CHUNK)),
            _ => Box::new(fixed_chunks(rows)),
        }
    }
}

/// ` AND col NOT IN (1,2,3)` (integers only, so inlining is safe), or nothing.
pub(super) fn not_in(col: &str, ids: &[UserId]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    format!(" AND {col} NOT IN {}", id_list(ids))
}

/// `(1,2,3)` for a non-empty id list.
pub(super) fn id_list(ids: &[UserId]) -> String {
    let mut s = String::from("(");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", id.0);
    }
    s.push(')');
    s
}

/// A stored login.
pub(super) fn login(value: String) -> Result<Login, StoreError> {
    Login::parse(&value).map_err(|_| StoreError::Corrupt {
        column: "login",
        value,
    })
}

/// A stored Twitch stream id.
pub(super) fn stream_id(value: String) -> Result<StreamId, StoreError> {
    StreamId::parse(&value).map_err(|_| StoreError::Corrupt {
        column: "streams.twitch_id",
        value,
    })
}
