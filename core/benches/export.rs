//! Export benchmark: a channel with 1,000,000 users (3 streams, each user in two of
//! them) in SQLite, exported as CSV and JSON through [`chatters_core::export::export`] (the
//! code the API and `chatters export` run), into a byte-counting sink.
//!
//! `cargo bench -p chatters-core --bench export [-- --users N]`. Prints rows/s, MB/s, the time
//! to the first chunk, and the resident memory: the peak during each export (the high-water
//! mark is reset before it, Linux `clear_refs`) and the RSS sampled every 100,000 rows, to
//! show it stays flat. `EXPORT_BENCH_DB=/path/db.sqlite` keeps the database for measuring the
//! binary (`/usr/bin/time -v chatters export ...`, see BENCHMARKS.md), and with
//! `EXPORT_BENCH_REUSE=1` a later run uses it instead of building it again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::export::{self, ExportFormat};
use chatters_core::store::{
    self, Batch, ChannelUserDelta, ConnectOptions, Store, StreamKey, StreamUserDelta, UserRow,
};
use futures::StreamExt as _;

const T0: i64 = 1_704_067_200;
/// Users committed per transaction while building the data.
const BUILD_BATCH: u64 = 100_000;

fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

/// Resident set size and its high-water mark, in MiB (Linux `/proc/self/status`).
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time used by the process so far (user + system), in seconds (Linux `/proc/self/stat`,
/// 100 ticks a second): on a shared machine it says what the export costs whatever the load.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resets the high-water mark to the current RSS (Linux 4.0+).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn build(store: &Arc<Store>, users: u64) {
    let channel = store.add_channel(&login("bench")).await.expect("channel");
    let mut streams: Vec<(StreamKey, Timestamp)> = Vec::new();
    for s in 0..3_i64 {
        let started = Timestamp(T0 + s * 86_400);
        let id = StreamId::parse(&format!("9{s}")).expect("id");
        let key = store
            .open_stream(channel.key, &id, started, "bench")
            .await
            .expect("stream");
        streams.push((key, started));
    }
    let started = Instant::now();
    let mut next = 0_u64;
    while next < users {
        let end = (next + BUILD_BATCH).min(users);
        let mut batch = Batch::default();
        for i in next..end {
            let id = UserId(1_000_000 + i as i64);
            let name = login(&format!("viewer{i}"));
            let at = Timestamp(T0 + (i % 80_000) as i64);
            let display = (i % 7 == 0).then(|| format!("Viewer, \"{i}\""));
            batch.users.insert(
                id,
                UserRow {
                    login: name,
                    display_name: display,
                    at,
                },
            );
            batch.channel_users.insert(
                (channel.key, id),
                ChannelUserDelta {
                    first_seen: at,
                    last_seen: at,
                    messages: (i % 5) as i64,
                },
            );
            // Each user attends two of the three streams.
            for (s, (key, stream_started)) in streams.iter().enumerate() {
                if (i + s as u64) % 3 == 2 {
                    continue;
                }
                let seen = Timestamp(stream_started.0 + (i % 3600) as i64);
                batch.stream_users.insert(
                    (*key, id),
                    StreamUserDelta {
                        channel: channel.key,
                        stream_started: *stream_started,
                        first_seen: seen,
                        last_seen: seen,
                        messages: (i % 3) as i64,
                        first_msg: false,
                        active: true,
                        watch: 0,
                        maybe_first: false,
                    },
                );
            }
        }
        store.commit(&batch).await.expect("commit");
        next = end;
    }
    println!(
        "built {users} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

struct Run {
    cpu: f64,
    rows: u64,
    bytes: u64,
    first_chunk: Duration,
    total: Duration,
    rss_min: f64,
    rss_max: f64,
    peak: f64,
}

async fn run(store: &Arc<Store>, format: Option<ExportFormat>) -> Run {
    let channel = store
        .channel(&login("bench"))
        .await
        .expect("read")
        .expect("channel")
        .key;
    reset_peak();
    let (mut rss_min, mut rss_max) = (f64::MAX, 0.0_f64);
    let mut sample = || {
        let (now, _) = rss();
        rss_min = rss_min.min(now);
        rss_max = rss_max.max(now);
    };
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut first_chunk = Duration::ZERO;
    let (mut rows, mut bytes) = (0_u64, 0_u64);
    let (since, until) = (Timestamp(0), Timestamp(i64::MAX));
    match format {
        None => {
            let mut stream = store.channel_users_stream(channel, since, until, &[]);
            while let Some(row) = stream.next().await {
                std::hint::black_box(row.expect("row"));
                if rows == 0 {
                    first_chunk = started.elapsed();
                }
                rows += 1;
                if rows % 100_000 == 0 {
                    sample();
                }
            }
        }
        Some(format) => {
            let mut chunks = export::export(store.as_ref(), channel, since, until, &[], format);
            let mut lines = 0_u64;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.expect("chunk");
                if bytes == 0 {
                    first_chunk = started.elapsed();
                }
                bytes += chunk.len() as u64;
                let before = lines / 100_000;
                lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
                if lines / 100_000 > before {
                    sample();
                }
            }
            // CSV: one line per row plus the header; JSON rows are counted by the encoder's
            // separators instead (one object per row).
            rows = match format {
                ExportFormat::Csv => lines - 1,
                ExportFormat::Json => 0,
            };
        }
    }
    let total = started.elapsed();
    let cpu = cpu_seconds() - cpu;
    sample();
    Run {
        cpu,
        rows,
        bytes,
        first_chunk,
        total,
        rss_min,
        rss_max,
        peak: rss().1,
    }
}

fn report(label: &str, users: u64, r: &Run) {
    let rows = if r.rows == 0 { users } else { r.rows };
    assert_eq!(rows, users, "{label}: every user exported");
    let secs = r.total.as_secs_f64();
    println!(
        "{label:<5} {rows} rows in {secs:.2} s = {:>9.0} rows/s ({:.2} s CPU), {:>6.1} MB/s, first chunk after {:.0} ms, \
         RSS {:.1}-{:.1} MiB while streaming, peak {:.1} MiB",
        rows as f64 / secs,
        r.cpu,
        r.bytes as f64 / 1e6 / secs,
        r.first_chunk.as_secs_f64() * 1000.0,
        r.rss_min,
        r.rss_max,
        r.peak,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let users = args
        .iter()
        .position(|a| a == "--users")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000_u64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = std::env::var("EXPORT_BENCH_DB")
            .unwrap_or_else(|_| format!("{}/export.db", dir.path().display()));
        // EXPORT_BENCH_REUSE=1 keeps a database built by an earlier run.
        let reuse = std::env::var_os("EXPORT_BENCH_REUSE").is_some()
            && std::path::Path::new(&path).exists();
        if !reuse {
            let _ = std::fs::remove_file(&path);
        }
        let url = format!("sqlite://{path}");
        let store = store::open(&url, &ConnectOptions::default())
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        if !reuse {
            build(&store, users).await;
        }
        println!("RSS after building: {:.1} MiB", rss().0);
        for _ in 0..2 {
            report("rows", users, &run(&store, None).await);
            let csv = run(&store, Some(ExportFormat::Csv)).await;
            report("csv", users, &csv);
            let json = run(&store, Some(ExportFormat::Json)).await;
            report("json", users, &json);
        }
        store.close().await;
        if std::env::var_os("EXPORT_BENCH_DB").is_some() {
            println!("database kept at {path}");
        }
    });
}
