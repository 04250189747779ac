//! Foundation benchmarks: durable ingestion, snapshot diffs, tracker memory, storage per user,
//! and the figures of a 100,000-chatter stream.
//!
//! `cargo bench -p chatters-core --bench foundation [-- <section>...]` where sections are
//! `ingest`, `snapshot`, `memory`, `storage`, `figures`, `audience` (all when none is given). Ingestion into
//! MariaDB and PostgreSQL runs when `TEST_MYSQL_URL` / `TEST_POSTGRES_URL` are set (each run
//! creates and drops its own database). Results are printed as a table; BENCHMARKS.md records
//! them.

// The counting allocator below is the only unsafe code in the workspace: a benchmark-only
// wrapper that forwards to the system allocator.
#![allow(
    unsafe_code,
    reason = "a counting global allocator, benchmark only, forwarding to the system one"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::{Event, Message, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::metrics::{Metrics, sample};
use chatters_core::stats::Figures;
use chatters_core::store::{self, Batch, Store};
use chatters_core::tracker::{Tracker, TrackerConfig};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use chatters_core::testing::TestDb as Db;

/// `BENCH_PROFILE=1`'s timing of one store read: 21 runs, the median and the maximum printed
/// under `section/profile`.
macro_rules! profile_read {
    ($section:expr, $what:expr, $call:expr) => {{
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            $call.await.expect($what);
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{}/profile {}: median {:.2} ms, max {:.2} ms",
            $section,
            $what,
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }};
}
pub(crate) use profile_read;

#[path = "foundation/audience.rs"]
mod audience;

/// Counts live heap bytes, to measure the tracker's memory.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const T0: i64 = 1_704_067_200;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

fn user(i: u64) -> UserRef {
    UserRef {
        id: UserId(1_000_000 + i as i64),
        login: login(&format!("user{i}")),
        display_name: Some(format!("User{i}")),
    }
}

fn channel_name(c: u64) -> String {
    format!("channel{c}")
}

/// The mixed stream: 90% messages, 5% joins, 5% parts; users skewed (a few chat a lot), each
/// with a home channel (85%) and a second one.
fn mixed_events(total: usize, channels: u64, users: u64, rate: u64) -> Vec<Vec<Event>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let names: Vec<Login> = (0..channels).map(|c| login(&channel_name(c))).collect();
    let people: Vec<UserRef> = (0..users).map(user).collect();
    let mut chunks = Vec::new();
    let mut chunk = Vec::with_capacity(10_000);
    for i in 0..total {
        let r = rng.unit();
        let u = ((r * r) * users as f64) as u64 % users;
        let home = u.wrapping_mul(2_654_435_761) % channels;
        let c = if rng.below(100) < 85 {
            home
        } else {
            (home + 1 + u % 7) % channels
        };
        let at = Timestamp(T0 + (i as u64 / rate) as i64);
        let person = people[u as usize].clone();
        let channel = names[c as usize].clone();
        let kind = rng.below(100);
        let event = if kind < 90 {
            Event::Message(Box::new(Message {
                channel,
                user: person,
                at,
                room_id: Some(UserId(1 + c as i64)),
                source_room_id: None,
                first_msg: rng.below(1000) == 0,
                returning_chatter: false,
                badges: Vec::new(),
                has_text: true,
                id: None,
                signals: Default::default(),
            }))
        } else if kind < 95 {
            Event::Join {
                channel,
                user: person,
                at,
            }
        } else {
            Event::Part {
                channel,
                user: person,
                at,
            }
        };
        chunk.push(event);
        if chunk.len() == 10_000 {
            chunks.push(std::mem::take(&mut chunk));
            chunk.reserve(10_000);
        }
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

fn tracker_config() -> TrackerConfig {
    TrackerConfig {
        bot_user: None,
        bot_login: None,
        presence_timeout: 900,
        snapshot_stale_after: 3600,
        bots: KnownBots::shipped(),
    }
}

async fn ingest(db: &Db, label: &str, total: usize) {
    const CHANNELS: u64 = 500;
    const USERS: u64 = 200_000;
    let chunks = mixed_events(total, CHANNELS, USERS, 500_000);
    let cancel = CancellationToken::new();
    let config = IngestConfig {
        tracker: tracker_config(),
        ..IngestConfig::default()
    };
    let (handle, task) = Ingest::start(db.store.clone(), config, cancel.clone())
        .await
        .expect("start");
    // Every channel is live, as during a busy evening.
    let online: Vec<Event> = (0..CHANNELS)
        .map(|c| Event::StreamOnline {
            channel: login(&channel_name(c)),
            broadcaster: Some(UserId(1 + c as i64)),
            stream: StreamId::parse(&format!("{}", 90_000 + c)).expect("id"),
            started_at: Timestamp(T0 - 60),
            title: "bench".into(),
        })
        .collect();
    handle.send_all(online).await.expect("send");
    handle.flush().await.expect("flush");
    let started = Instant::now();
    for chunk in chunks {
        handle.send_all(chunk).await.expect("send");
    }
    handle.flush().await.expect("flush");
    let elapsed = started.elapsed();
    let scraped = {
        let metrics = Metrics::default();
        handle.register_metrics(&metrics);
        metrics.encode()
    };
    let batches = handle.metrics().batches.load(Ordering::Relaxed);
    let commit_ms = sample(&scraped, "chatters_ingest_commit_seconds_sum").unwrap_or(0.0) * 1000.0;
    cancel.cancel();
    task.await.expect("join").expect("final flush");
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "ingest/{label}: {total} events (500 channels, 200k users) in {:.2} s = {:.0} events/s; {batches} batches, {:.0} ms in commits",
        elapsed.as_secs_f64(),
        rate,
        commit_ms
    );
}

/// A channel with a live stream, its row written, and a tracker that knows both.
async fn live_channel(
    store: &Arc<Store>,
    name: &str,
    stream: &str,
    broadcaster: Option<UserId>,
) -> (Tracker, Login) {
    let chan = login(name);
    let row = store.ensure_channel(&chan).await.expect("channel");
    let key = store
        .open_stream(
            row.key,
            &StreamId::parse(stream).expect("id"),
            Timestamp(T0),
            name,
        )
        .await
        .expect("stream");
    // As ingestion does when a stream opens live.
    assert!(store.mark_stream(key).await.expect("mark"));
    let mut tracker = Tracker::new(tracker_config());
    tracker.add_channel(chan.clone(), row.key, broadcaster, Default::default());
    let mut batch = Batch::default();
    tracker.stream_online(&chan, key, Timestamp(T0), broadcaster, &mut batch);
    store.commit(&batch).await.expect("commit");
    (tracker, chan)
}

async fn snapshot_diff() {
    let db = Db::sqlite().await;
    let store = &db.store;
    let (mut tracker, chan) = live_channel(store, "bigchannel", "777", None).await;
    let mut users: Vec<UserRef> = (0..100_000).map(user).collect();
    let mut next = 100_000;
    let mut times = Vec::new();
    for round in 0..11 {
        let at = Timestamp(T0 + 300 * (round + 1));
        if round > 0 {
            // 5% churn: 5,000 leave, 5,000 arrive.
            users.drain(0..5_000);
            users.extend((next..next + 5_000).map(user));
            next += 5_000;
        }
        let started = Instant::now();
        let mut batch = Batch::default();
        tracker.snapshot(&chan, &users, users.len() as u64, at, &mut batch);
        let diffed = started.elapsed();
        store.commit(&batch).await.expect("commit");
        let total = started.elapsed();
        if round == 0 {
            println!(
                "snapshot/first 100k (all arrivals): diff {:.1} ms, diff+commit {:.1} ms",
                ms(diffed),
                ms(total)
            );
        } else {
            times.push((diffed, total));
        }
    }
    times.sort_by_key(|t| t.1);
    let (d, t) = times[times.len() / 2];
    println!(
        "snapshot/100k with 5% churn: diff {:.1} ms, diff+commit {:.1} ms (median of {})",
        ms(d),
        ms(t),
        times.len()
    );
    // Unchanged list: nothing but one series row to write.
    let started = Instant::now();
    let mut batch = Batch::default();
    tracker.snapshot(
        &chan,
        &users,
        users.len() as u64,
        Timestamp(T0 + 99_999),
        &mut batch,
    );
    store.commit(&batch).await.expect("commit");
    println!(
        "snapshot/100k unchanged: diff+commit {:.1} ms ({} rows written)",
        ms(started.elapsed()),
        batch.rows()
    );
    db.cleanup().await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn tracker_memory() {
    const CHANNELS: u64 = 1_000;
    const PRESENT: u64 = 1_000_000;
    let chans: Vec<Login> = (0..CHANNELS).map(|c| login(&channel_name(c))).collect();
    let people: Vec<UserRef> = (0..PRESENT).map(user).collect();
    let before = LIVE.load(Ordering::Relaxed);
    let mut tracker = Tracker::new(tracker_config());
    for (i, c) in chans.iter().enumerate() {
        tracker.add_channel(
            c.clone(),
            store::ChannelKey(i as i64 + 1),
            None,
            Default::default(),
        );
    }
    let base = LIVE.load(Ordering::Relaxed);
    let mut batch = Batch::default();
    for (i, u) in people.iter().enumerate() {
        let c = &chans[i % CHANNELS as usize];
        tracker.join(c, u, Timestamp(T0 + i as i64 / 1000), &mut batch);
        if batch.events > 50_000 || i % 50_000 == 0 {
            batch = Batch::default();
        }
        batch.events += 1;
    }
    drop(batch);
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(tracker.present_total(), PRESENT as usize);
    let per_user = (after - base) as f64 / PRESENT as f64;
    println!(
        "memory/tracker: {} present users in {} channels: {:.1} MB, {:.1} bytes per present user (empty channels: {:.1} KB)",
        PRESENT,
        CHANNELS,
        (after - base) as f64 / 1e6,
        per_user,
        (base - before) as f64 / 1e3
    );
    drop(tracker);
}

async fn storage() {
    const USERS: u64 = 10_000;
    let db = Db::sqlite().await;
    let store = &db.store;
    let (mut tracker, chan) = live_channel(store, "steady", "888", None).await;
    let users: Vec<UserRef> = (0..USERS).map(user).collect();
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let mut sizes = Vec::new();
    for round in 0..100 {
        let mut batch = Batch::default();
        tracker.snapshot(
            &chan,
            &users,
            USERS,
            Timestamp(T0 + 300 * (round + 1)),
            &mut batch,
        );
        store.commit(&batch).await.expect("commit");
        if round == 0 || round == 9 || round == 99 {
            sizes.push((round + 1, file_size(&db, &path).await));
        }
    }
    let mut batch = Batch::default();
    tracker.stream_offline(&chan, Timestamp(T0 + 30_500), &mut batch);
    store.commit(&batch).await.expect("commit");
    sizes.push((100, file_size(&db, &path).await));
    for (snapshots, bytes) in &sizes[..3] {
        println!(
            "storage/sqlite: {USERS} users after {snapshots:>3} snapshots: {bytes} bytes = {:.0} bytes per user per stream",
            *bytes as f64 / USERS as f64
        );
    }
    let (_, end) = sizes[3];
    println!(
        "storage/sqlite: after the stream ended: {:.0} bytes per user per stream",
        end as f64 / USERS as f64
    );
    db.cleanup().await;
}

async fn file_size(db: &Db, path: &str) -> u64 {
    // Fold the WAL into the database file so its size is what is stored.
    let mut conn = sqlx::SqliteConnection::connect(&db.url)
        .await
        .expect("connect");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    conn.close().await.ok();
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

async fn figures_100k() {
    let db = Db::sqlite().await;
    let store = &db.store;
    let (mut tracker, chan) = live_channel(store, "huge", "999", Some(UserId(1))).await;
    let users: Vec<UserRef> = (0..100_000).map(user).collect();
    // Two snapshots of 60k and 80k users, plus messages from 50k users: 100k unique.
    for (i, slice) in [&users[..60_000], &users[20_000..]].into_iter().enumerate() {
        let mut batch = Batch::default();
        tracker.snapshot(
            &chan,
            slice,
            slice.len() as u64,
            Timestamp(T0 + 300 * (i as i64 + 1)),
            &mut batch,
        );
        store.commit(&batch).await.expect("commit");
    }
    let mut batch = Batch::default();
    for (i, u) in users.iter().enumerate().step_by(2) {
        let m = Message {
            channel: chan.clone(),
            user: u.clone(),
            at: Timestamp(T0 + 700 + (i as i64 % 600)),
            room_id: Some(UserId(1)),
            source_room_id: None,
            first_msg: i % 10 == 0,
            returning_chatter: false,
            badges: Vec::new(),
            has_text: true,
            id: None,
            signals: Default::default(),
        };
        tracker.message(&m, &mut batch);
    }
    store.commit(&batch).await.expect("commit");
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
    let stream = store
        .stream(&StreamId::parse("999").expect("id"))
        .await
        .expect("read")
        .expect("stream");
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..21 {
        let started = Instant::now();
        let f = figures.stream(&stream).await.expect("figures");
        times.push(started.elapsed());
        last = Some(f);
    }
    times.sort();
    if std::env::var_os("BENCH_PROFILE").is_some() {
        figures_profile(store, &figures, &stream).await;
    }
    let f = last.expect("ran");
    println!(
        "figures/stream with {} unique chatters (unique, new, returning, first-time, peak, messages, lurkers, retention, bots): median {:.1} ms, max {:.1} ms",
        f.unique_chatters,
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    assert_eq!(f.unique_chatters, 100_000);
    assert_eq!(f.messages, 50_000);
    assert_eq!(f.peak_chatters, 80_000);
    db.cleanup().await;
}

/// `BENCH_PROFILE=1`: the median of the store reads behind `Figures::stream` (21 runs each).
async fn figures_profile(store: &Arc<Store>, figures: &Figures, stream: &store::Stream) {
    let channel = store
        .channel(&login("huge"))
        .await
        .expect("read")
        .expect("channel");
    let excluded = figures.excluded(&channel).await.expect("excluded");
    let bots = figures.bot_ids(&channel).await.expect("bots");
    let now = Timestamp::now();
    macro_rules! time {
        ($what:expr, $call:expr) => {
            profile_read!("figures", $what, $call)
        };
    }
    time!("excluded", figures.excluded(&channel));
    time!("stream_counts", store.stream_counts(stream, &excluded, now));
    time!(
        "snapshot_peak",
        store.snapshot_peak(stream.channel, stream.started_at, Timestamp(i64::MAX))
    );
    time!("previous_stream", store.previous_stream(stream));
    time!(
        "count_unique_among",
        store.count_unique_among(stream.key, &bots)
    );
    time!("stream_chat", figures.stream_chat(stream));
}

fn main() {
    if let Ok(filter) = std::env::var("BENCH_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if run("memory") {
        tracker_memory();
    }
    rt.block_on(async {
        if run("ingest") {
            let db = Db::sqlite().await;
            ingest(&db, "sqlite", 3_000_000).await;
            db.cleanup().await;
            for (label, var) in [
                ("mariadb", "TEST_MYSQL_URL"),
                ("postgres", "TEST_POSTGRES_URL"),
            ] {
                let db = if label == "mariadb" {
                    Db::mysql().await
                } else {
                    Db::postgres().await
                };
                match db {
                    Some(db) => {
                        ingest(&db, label, 1_000_000).await;
                        db.cleanup().await;
                    }
                    None => println!("ingest/{label}: skipped ({var} not set)"),
                }
            }
        }
        if run("snapshot") {
            snapshot_diff().await;
        }
        if run("storage") {
            storage().await;
        }
        if run("figures") {
            figures_100k().await;
        }
        if run("audience") {
            audience::run().await;
        }
    });
}
