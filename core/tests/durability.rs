//! What survives a crash and a clean stop.
//!
//! - SIGKILL in the middle of ingestion (SQLite): the test re-executes itself as a child that
//!   ingests message batches into a database file and reports each committed total; the parent
//!   kills it mid-flight, a few times over on the same file, each time at a slightly different
//!   moment, and checks the file: intact, nothing reported as committed lost, usable by a fresh
//!   pipeline.
//! - A cancelled pipeline commits, before its task ends, everything it was sent.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{StreamId, Timestamp};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::stats::Figures;
use chatters_core::store::{self, ChannelUser, ConnectOptions, Store};
use chatters_core::testing::*;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const STREAM: &str = "9001";
/// Set in the child: the database file to ingest into until killed.
const CHILD_ENV: &str = "CHATTERS_CRASH_CHILD";
/// Set in the child: which kill round this is (its events start at second `round * 100_000`).
const ROUND_ENV: &str = "CHATTERS_CRASH_ROUND";
/// This test's name, for the child's `--exact`.
const CRASH_TEST: &str = "a_killed_process_keeps_every_committed_batch";
const USERS: i64 = 100;
const BATCH: i64 = 1_000;
/// Committed reports the parent waits for before the kill.
const REPORTS_BEFORE_KILL: usize = 20;
/// How long after the last awaited report each round's kill comes (to land in different
/// phases: queueing, tracking, committing).
const KILL_DELAYS_MICROS: [u64; 5] = [0, 2_000, 4_000, 6_000, 8_000];

fn viewers() -> Vec<UserRef> {
    (0..USERS)
        .map(|i| user(1_000 + i, &format!("viewer{i}")))
        .collect()
}

/// `BATCH` messages, every viewer in turn, all at second `at`.
fn message_batch(users: &[UserRef], at: i64) -> Vec<Event> {
    (0..BATCH)
        .map(|i| msg(CHAN, ROOM, &users[(i % USERS) as usize], at))
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn open(url: &str) -> Arc<Store> {
    let store = store::open(url, &ConnectOptions::default())
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    store
}

/// Prints one line for the parent, flushed at once.
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .expect("stdout");
}

/// Child mode: ingests batches, printing `sending <total>` before and `committed <total>` after
/// each flush, until killed (or, should the parent be gone, after a bounded run).
fn run_child(path: &str, round: i64) {
    runtime().block_on(async {
        let store = open(&format!("sqlite://{path}")).await;
        let (ingest, _task) =
            Ingest::start(store, IngestConfig::default(), CancellationToken::new())
                .await
                .expect("start ingestion");
        ingest
            .send(online(CHAN, ROOM, STREAM, 0))
            .await
            .expect("send");
        let users = viewers();
        let parent = std::os::unix::process::parent_id();
        for n in 1..=5_000 {
            if std::os::unix::process::parent_id() != parent {
                break;
            }
            report(&format!("sending {}", n * BATCH));
            for e in message_batch(&users, round * 100_000 + n) {
                ingest.send(e).await.expect("send");
            }
            ingest.flush().await.expect("flush");
            report(&format!("committed {}", n * BATCH));
        }
    });
}

/// What the child printed: the last committed total, the largest total it started sending.
#[derive(Debug, Default)]
struct Reports {
    committed: i64,
    sending: i64,
    count: usize,
}

impl Reports {
    fn read(&mut self, line: &str) {
        // libtest may print its own text on the same line before ours.
        if let Some(n) = line.split("committed ").nth(1) {
            self.committed = self
                .committed
                .max(n.trim().parse().expect("committed total"));
            self.count += 1;
        } else if let Some(n) = line.split("sending ").nth(1) {
            self.sending = self.sending.max(n.trim().parse().expect("sending total"));
        }
    }
}

/// Runs one child on `path` and SIGKILLs it `delay` after its 20th committed report.
fn kill_child_mid_ingestion(path: &Path, round: i64, delay: Duration) -> Reports {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", CRASH_TEST, "--nocapture"])
        .env(CHILD_ENV, path)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut reports = Reports::default();
    while reports.count < REPORTS_BEFORE_KILL {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => reports.read(&line),
            Err(e) => {
                child.kill().ok();
                panic!("the child stopped reporting after {reports:?}: {e}");
            }
        }
    }
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was killed, not finished: {status:?}"
    );
    // Lines still in the pipe: the child may have started, or finished, another batch.
    reader.join().expect("reader");
    for line in lines.try_iter() {
        reports.read(&line);
    }
    assert!(reports.committed >= REPORTS_BEFORE_KILL as i64 * BATCH);
    assert!(reports.sending >= reports.committed);
    reports
}

/// What a file holds after a kill.
#[derive(Debug)]
struct Stored {
    /// `SUM(messages)` over stream_users.
    in_streams: i64,
    /// The channel's users as the store reports them (their totals include live messages).
    users: Vec<ChannelUser>,
    /// Open presence intervals.
    open: i64,
    /// Each user's latest interval end (`None`: still open).
    latest_until: Vec<(i64, Option<i64>)>,
}

/// Checks `PRAGMA integrity_check`, then reads the file through the store and SQL.
async fn inspect(url: &str) -> Stored {
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .expect("check");
    assert_eq!(check, vec!["ok".to_owned()]);
    let (in_streams, open_intervals): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT SUM(messages) FROM stream_users), \
         (SELECT COUNT(*) FROM presence WHERE until IS NULL)",
    )
    .fetch_one(&mut conn)
    .await
    .expect("sums");
    // Intervals of later rounds start later; an open one sorts last.
    let latest_until: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT p.user_id, p.until FROM presence p WHERE p.since = \
         (SELECT MAX(q.since) FROM presence q WHERE q.user_id = p.user_id) ORDER BY p.user_id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("presence");
    conn.close().await.ok();
    let store = open(url).await;
    let chan = store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let users = store
        .channel_users(chan.key, Timestamp(i64::MIN), Timestamp(i64::MAX), &[])
        .await
        .expect("channel users");
    store.close().await;
    Stored {
        in_streams,
        users,
        open: open_intervals,
        latest_until,
    }
}

#[test]
fn a_killed_process_keeps_every_committed_batch() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let round = std::env::var(ROUND_ENV)
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        run_child(&path, round);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("chatters.db");
    let url = format!("sqlite://{}", path.display());
    let rt = runtime();
    let mut stored = 0;
    for (round, delay) in (0..).zip(KILL_DELAYS_MICROS) {
        let before = stored;
        let reports = kill_child_mid_ingestion(&path, round, Duration::from_micros(delay));
        let now = rt.block_on(inspect(&url));
        let total = now.in_streams;
        eprintln!("round {round}: killed after {reports:?}; {total} messages stored");
        assert!(
            before + reports.committed <= total && total <= before + reports.sending,
            "round {round}: {total} messages stored; {before} before, then {reports:?}"
        );
        // The channel totals agree with the streams' (one transaction per batch).
        assert_eq!(now.users.len() as i64, USERS);
        assert_eq!(now.users.iter().map(|u| u.messages).sum::<i64>(), total);
        assert_eq!(
            now.open, USERS,
            "every viewer's presence was left open by the kill"
        );
        stored = total;
    }

    // A new process on the same file: repairs presence, ingests, reads figures.
    rt.block_on(async {
        let store = open(&url).await;
        let cancel = CancellationToken::new();
        let (ingest, task) = Ingest::start(store.clone(), IngestConfig::default(), cancel.clone())
            .await
            .expect("restart");
        let repaired = inspect(&url).await;
        assert_eq!(repaired.open, 0);
        // Every interval ends 1 s after its user's last recorded sighting (a message of the
        // last committed batch).
        let expected: Vec<_> = repaired
            .users
            .iter()
            .map(|u| (u.user_id.0, Some(u.last_seen.0 + 1)))
            .collect();
        assert_eq!(repaired.latest_until, expected);
        for e in message_batch(&viewers(), 1_000_000) {
            ingest.send(e).await.expect("send");
        }
        ingest.flush().await.expect("flush");
        cancel.cancel();
        task.await.expect("join").expect("final flush");
        let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
        let stream = store
            .stream(&StreamId::parse(STREAM).expect("id"))
            .await
            .expect("read")
            .expect("the stream survived");
        let f = figures.stream(&stream).await.expect("figures");
        assert_eq!(
            [f.unique_chatters, f.new_chatters, f.messages, f.lurkers],
            [USERS, USERS, stored + BATCH, 0]
        );
        assert_eq!(f.ended_at, None, "still live");
        store.close().await;
    });
}

/// Cancelling the token commits everything sent before, though nothing was flushed.
async fn cancel_commits_events_that_were_sent_but_never_flushed(db: &TestDb) {
    let config = IngestConfig {
        // No size trigger and no timer tick but the interval's immediate first one: whatever
        // that tick did not take can only be committed by the final flush.
        flush_interval: Duration::from_secs(3_600),
        batch_events: 1_000_000,
        ..IngestConfig::default()
    };
    let cancel = CancellationToken::new();
    let (ingest, task) = Ingest::start(db.store.clone(), config, cancel.clone())
        .await
        .expect("start");
    let users = viewers();
    ingest
        .send(online(CHAN, ROOM, STREAM, 0))
        .await
        .expect("send");
    for n in 0..10_000 {
        ingest
            .send(msg(CHAN, ROOM, &users[(n % USERS) as usize], 1 + n / USERS))
            .await
            .expect("send");
    }
    cancel.cancel();
    task.await.expect("join").expect("final flush");
    assert_eq!(
        ingest.metrics().committed.load(Ordering::Relaxed),
        10_001,
        "every event sent was committed"
    );
    assert_eq!(
        db.int("SELECT SUM(messages) FROM stream_users").await,
        Some(10_000)
    );
    // Every viewer: 100 messages from 1 s to 100 s, in one stream; the shutdown checkpoint
    // wrote their last sighting.
    let chan = db
        .store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let records: Vec<_> = db
        .store
        .channel_users(chan.key, Timestamp(i64::MIN), Timestamp(i64::MAX), &[])
        .await
        .expect("channel users")
        .iter()
        .map(|u| {
            (
                u.user_id,
                u.first_seen,
                u.last_seen,
                u.messages,
                u.streams_attended,
            )
        })
        .collect();
    let expected: Vec<_> = viewers()
        .iter()
        .map(|u| (u.id, t(1), t(100), 100, 1))
        .collect();
    assert_eq!(records, expected);
}

/// Other writers (stream samples, here) committing while ingestion commits its batches: no
/// batch commit fails. A deferred SQLite transaction that reads first failed with
/// SQLITE_BUSY_SNAPSHOT (517) whenever another connection committed between its first read and
/// its first write, and the reply waiting for that batch waited out the retry.
async fn other_writers_never_fail_a_batch_commit(db: &TestDb) {
    let config = IngestConfig {
        flush_interval: Duration::from_millis(5),
        ..IngestConfig::default()
    };
    let cancel = CancellationToken::new();
    let (ingest, task) = Ingest::start(db.store.clone(), config, cancel.clone())
        .await
        .expect("start");
    ingest
        .send(online(CHAN, ROOM, STREAM, 0))
        .await
        .expect("send");
    ingest.flush().await.expect("flush");
    let store = db.store.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_writer = stop.clone();
    let polls = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let writer_polls = polls.clone();
    let writer = tokio::spawn(async move {
        let mut n = 0_i64;
        while !stop_writer.load(Ordering::Relaxed) {
            n += 1;
            let sample = store::StreamSample {
                at: Timestamp(n),
                viewers: n,
                game_id: format!("{}", n % 7),
                game_name: format!("game {}", n % 7),
            };
            store
                .record_samples(&[(login(CHAN), sample)])
                .await
                .expect("samples");
            writer_polls.store(n, Ordering::Relaxed);
        }
        n
    });
    let mut sent = 0_i64;
    // At least 300 rounds, and on until the other writer has written 20 times among them (a
    // loaded machine may give it few turns in the first 300).
    let mut round = 0_i64;
    while round < 300 || (polls.load(Ordering::Relaxed) < 20 && round < 30_000) {
        // New users every round: each commit first reads which of them are stored.
        for i in 0..20 {
            let u = user(100_000 + round * 20 + i, &format!("u{round}x{i}"));
            ingest
                .send(msg(CHAN, ROOM, &u, 1 + round))
                .await
                .expect("send");
            sent += 1;
        }
        ingest.flush().await.expect("flush");
        round += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let samples = writer.await.expect("writer");
    cancel.cancel();
    task.await.expect("join").expect("final flush");
    assert!(
        samples >= 20,
        "the other writer ran alongside ({samples} polls in {round} rounds)"
    );
    assert_eq!(
        ingest.metrics().commit_errors.load(Ordering::Relaxed),
        0,
        "no batch commit failed"
    );
    assert_eq!(
        db.int("SELECT SUM(messages) FROM stream_users").await,
        Some(sent)
    );
}

on_every_backend!(; with_db: cancel_commits_events_that_were_sent_but_never_flushed, other_writers_never_fail_a_batch_commit);
