//! The dashboard's chatter table at scale (BENCHMARKS.md, "Dashboard chatter table"): one
//! channel with 1,000,000 users and 100 streams of ~33,000 chatters each (3.3 million stream
//! rows), then `Store::chatter_page` timed for the queries the page makes: each sort, with and
//! without a login prefix search. The rows are inserted directly, then their totals counted
//! once (`Store::recount_totals`, what migration 0007 does for existing rows).
//!
//! ```text
//! nice -n 19 cargo run --release -p chatters-core --example chatter_table -- sqlite:///tmp/ct.db
//! nice -n 19 cargo run --release -p chatters-core --example chatter_table -- postgres://postgres@127.0.0.1/ct
//! ```
//!
//! The database must be empty (it is migrated and filled once; a second run reuses the data).
//! Logins are `<8 hex digits>_<id>` with the hex part spread evenly, so a two-character prefix
//! matches ~3,900 users and a one-character prefix ~62,500.

use std::time::{Duration, Instant};

use chatters_core::domain::Login;
use chatters_core::store::{ChatterQuery, ChatterSort, ConnectOptions, Store, open};

const USERS: i64 = 1_000_000;
const STREAMS: i64 = 100;
const RUNS: usize = 60;

/// A case's query for its i-th run.
type QueryOf = Box<dyn Fn(usize) -> ChatterQuery>;
async fn fill_sqlite(url: &str, channel: i64) -> Result<(), sqlx::Error> {
    let pool = sqlx::SqlitePool::connect(url).await?;
    let users = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {USERS}) \
         INSERT INTO users (id, login, login_since) \
         SELECT i, printf('%08x', (i * 2654435761) % 4294967296) || '_' || i, 0 FROM n"
    );
    sqlx::query(sqlx::AssertSqlSafe(users))
        .execute(&pool)
        .await?;
    let channel_users = format!(
        "INSERT INTO channel_users (channel_id, user_id, first_seen, last_seen, messages) \
         SELECT {channel}, id, 1700000000 + id % 86400, 1700100000 + (id * 7) % 864000, id % 3 FROM users"
    );
    sqlx::query(sqlx::AssertSqlSafe(channel_users))
        .execute(&pool)
        .await?;
    for k in 0..STREAMS {
        let start = 1_700_100_000 + k * 8640;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO streams (twitch_id, channel_id, started_at, ended_at) VALUES ('s{k}', {channel}, {start}, {end})",
            end = start + 7200
        )))
        .execute(&pool)
        .await?;
        let per = USERS / 30;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j < {per}) \
             INSERT INTO stream_users (stream_id, user_id, first_seen, last_seen, messages, active) \
             SELECT (SELECT id FROM streams WHERE twitch_id = 's{k}'), 1 + {r} + 30 * j, {start}, {start} + 60, \
             (j * {m}) % 7, 1 FROM n WHERE 1 + {r} + 30 * j <= {USERS}",
            r = k % 30,
            m = k + 1,
        )))
        .execute(&pool)
        .await?;
    }
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;
    Ok(())
}

async fn fill_postgres(url: &str, channel: i64) -> Result<(), sqlx::Error> {
    let pool = sqlx::PgPool::connect(url).await?;
    let users = format!(
        "INSERT INTO users (id, login, login_since) \
         SELECT i, lpad(to_hex((i * 2654435761) % 4294967296), 8, '0') || '_' || i, 0 \
         FROM generate_series(1, {USERS}) i"
    );
    sqlx::query(sqlx::AssertSqlSafe(users))
        .execute(&pool)
        .await?;
    let channel_users = format!(
        "INSERT INTO channel_users (channel_id, user_id, first_seen, last_seen, messages) \
         SELECT {channel}, id, 1700000000 + id % 86400, 1700100000 + (id * 7) % 864000, id % 3 FROM users"
    );
    sqlx::query(sqlx::AssertSqlSafe(channel_users))
        .execute(&pool)
        .await?;
    for k in 0..STREAMS {
        let start = 1_700_100_000 + k * 8640;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO streams (twitch_id, channel_id, started_at, ended_at) VALUES ('s{k}', {channel}, {start}, {end})",
            end = start + 7200
        )))
        .execute(&pool)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO stream_users (stream_id, user_id, first_seen, last_seen, messages, active) \
             SELECT (SELECT id FROM streams WHERE twitch_id = 's{k}'), u, {start}, {start} + 60, \
             (u * {m}) % 7, 1 FROM generate_series(1 + {r}, {USERS}, 30) u",
            r = k % 30,
            m = k + 1,
        )))
        .execute(&pool)
        .await?;
    }
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// p50 and p95 of `RUNS` runs of `query` (after two warm-ups), and the rows of the last.
async fn measure(
    store: &Store,
    channel: chatters_core::store::ChannelKey,
    runs: usize,
    make: impl Fn(usize) -> ChatterQuery,
) -> (Duration, Duration, usize) {
    for i in 0..2 {
        store
            .chatter_page(channel, &make(i), &[])
            .await
            .expect("warm-up");
    }
    let mut times = Vec::with_capacity(runs);
    let mut rows = 0;
    for i in 0..runs {
        let started = Instant::now();
        rows = store
            .chatter_page(channel, &make(i), &[])
            .await
            .expect("page")
            .len();
        times.push(started.elapsed());
    }
    times.sort();
    (times[runs / 2], times[runs * 95 / 100], rows)
}

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: chatter_table <DATABASE_URL>");
    let store = open(&url, &ConnectOptions::default())
        .await
        .expect("open the database");
    store.migrate().await.expect("migrate");
    let login = Login::parse("bigchannel").expect("login");
    let channel = match store.channel(&login).await.expect("read") {
        Some(c) => c,
        None => {
            let c = store.add_channel(&login).await.expect("add");
            let started = Instant::now();
            if url.starts_with("sqlite") {
                fill_sqlite(&url, c.key.0).await.expect("fill");
            } else {
                fill_postgres(&url, c.key.0).await.expect("fill");
            }
            println!("filled in {:.1?}", started.elapsed());
            // The rows above bypass the commit: their totals are counted once, as migration
            // 0007 does for existing rows.
            let started = Instant::now();
            store.recount_totals(c.key).await.expect("recount");
            println!("totals recounted in {:.1?}", started.elapsed());
            c
        }
    };
    let hex = |i: usize| format!("{:02x}", (i * 37 + 11) % 256);
    let page = |sort: ChatterSort, descending: bool, offset: i64| -> QueryOf {
        Box::new(move |_| ChatterQuery {
            sort,
            descending,
            prefix: None,
            offset,
            limit: 101,
        })
    };
    let cases: Vec<(&str, QueryOf)> = vec![
        (
            "messages desc, prefix of 2 (~3,900 users)",
            Box::new(move |i| ChatterQuery {
                sort: ChatterSort::Messages,
                descending: true,
                prefix: Some(hex(i)),
                offset: 0,
                limit: 101,
            }),
        ),
        (
            "messages desc, prefix of 1 (~62,500 users)",
            Box::new(|i| ChatterQuery {
                sort: ChatterSort::Messages,
                descending: true,
                prefix: Some(format!("{:x}", i % 16)),
                offset: 0,
                limit: 101,
            }),
        ),
        (
            "streams asc, prefix of 1",
            Box::new(|i| ChatterQuery {
                sort: ChatterSort::Streams,
                descending: false,
                prefix: Some(format!("{:x}", i % 16)),
                offset: 0,
                limit: 101,
            }),
        ),
        (
            "messages desc, no search",
            page(ChatterSort::Messages, true, 0),
        ),
        (
            "messages asc, no search",
            page(ChatterSort::Messages, false, 0),
        ),
        (
            "messages desc, no search, page 50",
            page(ChatterSort::Messages, true, 4900),
        ),
        (
            "streams desc, no search",
            page(ChatterSort::Streams, true, 0),
        ),
        (
            "last seen desc, no search",
            page(ChatterSort::LastSeen, true, 0),
        ),
        (
            "first seen asc, no search",
            page(ChatterSort::FirstSeen, false, 0),
        ),
        ("login asc, no search", page(ChatterSort::Login, false, 0)),
        (
            "login desc, no search, page 50",
            page(ChatterSort::Login, true, 4900),
        ),
        (
            "login asc, prefix of 2",
            Box::new(move |i| ChatterQuery {
                sort: ChatterSort::Login,
                descending: false,
                prefix: Some(hex(i)),
                offset: 0,
                limit: 101,
            }),
        ),
    ];
    for (name, make) in cases {
        let (p50, p95, rows) = measure(&store, channel.key, RUNS, make).await;
        println!("{name:<50} p50 {p50:>9.1?}  p95 {p95:>9.1?}  ({rows} rows, {RUNS} runs)");
    }
}
