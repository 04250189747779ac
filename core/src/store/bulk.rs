//! The one bulk upsert every batched write goes through ([`upsert`]).
//!
//! - PostgreSQL: one array per column, `INSERT ... SELECT * FROM UNNEST($1::bigint[], ...)`,
//!   up to `PG_CHUNK` rows per statement. Whatever the row count, the statement text is the
//!   same, so it is planned once and stays cached (a multi-row `VALUES` of thousands of bound
//!   parameters was planned afresh every time).
//! - SQLite and MariaDB: multi-row `VALUES` lists cut into a few fixed chunk sizes
//!   ([`fixed_chunks`](super::dialect::fixed_chunks)), so each shape stays in the
//!   prepared-statement cache.
//!
//! A row is given as a tuple of owned column values (`i64`, `Option<i64>`, `String`,
//! `Option<String>`), produced by a closure from the caller's row; rows go in slice order.

use std::fmt::Write as _;

use sqlx::encode::Encode;
use sqlx::query_builder::Separated;
use sqlx::{Database, MySql, QueryBuilder, Sqlite, Type};

use super::error::StoreError;
use super::pool::Tx;

/// One column of a PostgreSQL `UNNEST` upsert, bound as one array.
pub(super) enum Column {
    Int(Vec<i64>),
    OptInt(Vec<Option<i64>>),
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
}

impl Column {
    fn cast(&self) -> &'static str {
        match self {
            Self::Int(_) | Self::OptInt(_) => "bigint[]",
            Self::Text(_) | Self::OptText(_) => "text[]",
        }
    }
}

/// A column value type: how a column of them is bound as one PostgreSQL array.
pub(super) trait Value: Sized {
    /// The column's values as one array.
    fn column(values: Vec<Self>) -> Column;
}

impl Value for i64 {
    fn column(values: Vec<Self>) -> Column {
        Column::Int(values)
    }
}

impl Value for Option<i64> {
    fn column(values: Vec<Self>) -> Column {
        Column::OptInt(values)
    }
}

impl Value for String {
    fn column(values: Vec<Self>) -> Column {
        Column::Text(values)
    }
}

impl Value for Option<String> {
    fn column(values: Vec<Self>) -> Column {
        Column::OptText(values)
    }
}

/// A row of a multi-row `VALUES` list on `Db`.
pub(super) trait Row<Db: Database> {
    /// Binds the row's values in column order.
    fn push(self, b: &mut Separated<'_, Db, &'static str>);
}

/// Rows turned into columns (PostgreSQL arrays).
pub(super) trait Columns: Sized {
    /// One [`Column`] per tuple field, in field order.
    fn columns(rows: impl Iterator<Item = Self>) -> Vec<Column>;
}

/// [`Row`] and [`Columns`] for tuples of [`Value`]s.
macro_rules! tuple_row {
    ($($t:ident $i:tt),+) => {
        impl<Db: Database, $($t),+> Row<Db> for ($($t,)+)
        where
            $($t: for<'t> Encode<'t, Db> + Type<Db>),+
        {
            fn push(self, b: &mut Separated<'_, Db, &'static str>) {
                $(b.push_bind(self.$i);)+
            }
        }

        impl<$($t: Value),+> Columns for ($($t,)+) {
            fn columns(rows: impl Iterator<Item = Self>) -> Vec<Column> {
                let mut cols = ($(Vec::<$t>::new(),)+);
                for row in rows {
                    $(cols.$i.push(row.$i);)+
                }
                vec![$($t::column(cols.$i)),+]
            }
        }
    };
}

tuple_row!(A 0, B 1, C 2, D 3);
tuple_row!(A 0, B 1, C 2, D 3, E 4);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// `insert` (`INSERT INTO t (a, b) `) the `rows`, mapped to column values by `values`, then
/// `tail` (the `ON CONFLICT` / `ON DUPLICATE KEY` clause), in chunks: one array per column
/// through `UNNEST` on PostgreSQL, fixed-size multi-row `VALUES` lists elsewhere. The caller
/// sorts rows by key (each b-tree page is then visited once, in order) and gives each key once
/// (PostgreSQL refuses a statement that touches a row twice).
pub(super) async fn upsert<R, V>(
    tx: &mut Tx,
    insert: &str,
    tail: &str,
    rows: &[R],
    values: impl Fn(&R) -> V,
) -> Result<(), StoreError>
where
    R: Sync,
    V: Row<Sqlite> + Row<MySql> + Columns,
{
    match tx {
        Tx::Postgres(tx) => {
            for chunk in super::dialect::Dialect::Postgres.write_chunks(rows) {
                let cols = V::columns(chunk.iter().map(&values));
                let mut sql = format!("{insert}SELECT * FROM UNNEST(");
                for (i, col) in cols.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    let _ = write!(sql, "${}::{}", i + 1, col.cast());
                }
                sql.push(')');
                sql.push_str(tail);
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for col in cols {
                    query = match col {
                        Column::Int(v) => query.bind(v),
                        Column::OptInt(v) => query.bind(v),
                        Column::Text(v) => query.bind(v),
                        Column::OptText(v) => query.bind(v),
                    };
                }
                query.execute(&mut **tx).await?;
            }
        }
        Tx::Sqlite(tx) => {
            for chunk in super::dialect::fixed_chunks(rows) {
                let mut qb = QueryBuilder::<Sqlite>::new(insert);
                qb.push_values(chunk, |mut b, row| values(row).push(&mut b));
                qb.push(tail);
                qb.build().execute(&mut **tx).await?;
            }
        }
        Tx::MySql(tx) => {
            for chunk in super::dialect::fixed_chunks(rows) {
                let mut qb = QueryBuilder::<MySql>::new(insert);
                qb.push_values(chunk, |mut b, row| values(row).push(&mut b));
                qb.push(tail);
                qb.build().execute(&mut **tx).await?;
            }
        }
    }
    Ok(())
}
