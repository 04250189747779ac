//! Load test of the IRC path: the fake Twitch IRC server (own thread and runtime) pushes
//! PRIVMSG lines (real tag set, ~50k distinct users) across many channels at a fixed rate into
//! the real twitch-irc client, our translation, and `Ingest` on a temporary SQLite store.
//! Reports end-to-end ingested messages/s (everything committed), peak RSS, process CPU, where
//! the backlog sits each second, and the single-core cost per line of twitch-irc's parsing and
//! of our translation.
//!
//! ```sh
//! cargo run --release -p chatters-bot --example irc_load -- \
//!     --rate 100000 --channels 1000 --seconds 20
//! ```
//!
//! (The `fake` feature comes from the package's dev-dependency on itself.) For the CPU split
//! between parsing, tracking and storage, run the built binary under
//! `perf record -F 199 --call-graph dwarf` and group the samples by the innermost frame of
//! `twitch_irc`, `chatters_bot::irc`, `chatters_core::{ingest,tracker}` and `sqlx`/`sqlite3`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::BytesMut;
use chatters_bot::irc::fake::FakeIrc;
use chatters_bot::irc::{self, IrcConfig};
use chatters_bot::observed::Observed;
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::Event;
use chatters_core::ingest::{Ingest, IngestConfig, IngestHandle};
use chatters_core::store::{self, ConnectOptions};
use chatters_core::tracker::TrackerConfig;
use clap::Parser;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use twitch_irc::message::{IRCMessage, ServerMessage};

mod lines;
use lines::{Lines, generate, routes};

/// Drive the IRC client at a fixed message rate.
#[derive(Debug, Parser)]
struct Args {
    /// Chat messages per second, over all channels.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Channels.
    #[arg(long, default_value_t = 1_000)]
    channels: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Distinct chatters.
    #[arg(long, default_value_t = 50_000)]
    users: u64,
    /// Count translated messages without ingesting them (isolates the IRC path).
    #[arg(long)]
    no_store: bool,
    /// Channels per IRC connection (twitch-irc's default: 90).
    #[arg(long, default_value_t = 90)]
    per_connection: usize,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

fn channel_name(c: u64) -> String {
    format!("chan{c:04}")
}

fn login(s: &str) -> anyhow::Result<Login> {
    Login::parse(s).context("login")
}

/// Forwards translated messages to ingestion in batches; counts them.
async fn forward(
    mut events: mpsc::Receiver<Observed>,
    ingest: Option<IngestHandle>,
    count: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(1024);
    while events.recv_many(&mut batch, 1024).await > 0 {
        let list: Vec<Event> = batch
            .drain(..)
            .filter_map(|e| match e {
                Observed::Event(e) => Some(e),
                _ => None,
            })
            .collect();
        let n = list.len() as u64;
        if let Some(ingest) = &ingest
            && ingest.send_all(list).await.is_err()
        {
            return;
        }
        count.fetch_add(n, Ordering::Relaxed);
    }
}

/// Prints, every second, where the messages are: not yet written by the fake server, inside
/// the bot (twitch-irc and our task), or queued for ingestion.
async fn progress(
    fake: Arc<FakeIrc>,
    generated: Arc<AtomicU64>,
    forwarded: Arc<AtomicU64>,
    ingest: IngestHandle,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let g = generated.load(Ordering::Relaxed);
        let w = fake.bytes_written();
        println!(
            "  t: fake queue {:.1} MB, bot received {}, forwarded {}, ingest queue {} commands, RSS {:.0} MiB",
            g.saturating_sub(w) as f64 / 1e6,
            irc::client::lines_received(),
            forwarded.load(Ordering::Relaxed),
            ingest.queue_depth(),
            rss_mib("VmRSS:")
        );
    }
}

/// Peak resident set size (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    rss_mib("VmHWM:")
}

/// A `/proc/self/status` memory line, in MiB.
fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Single-core cost per line, in microseconds, of twitch-irc's work on a line (parse, typed
/// message, the clone it makes) and of our translation.
fn stage_costs(args: &Args) -> (f64, f64) {
    let mut lines = Lines::new(args.channels, args.users);
    let raw: Vec<String> = (0..100_000)
        .map(|_| {
            let mut b = BytesMut::new();
            let pick = lines.pick();
            lines.render(pick, 1_700_000_000_000, &mut b);
            String::from_utf8_lossy(&b).trim_end().to_owned()
        })
        .collect();
    let started = Instant::now();
    let parsed: Vec<ServerMessage> = raw
        .iter()
        .filter_map(|l| IRCMessage::parse(l).ok())
        .filter_map(|m| ServerMessage::try_from(m).ok())
        .map(|m| {
            // twitch-irc hands on a clone and drops its own copy.
            let delivered = m.clone();
            drop(m);
            delivered
        })
        .collect();
    let parse = started.elapsed().as_secs_f64() * 1e6 / raw.len() as f64;
    let own = Login::parse("justinfan1").expect("a valid login");
    let started = Instant::now();
    let events: usize = parsed
        .iter()
        .map(|m| irc::translate(m, Timestamp(0), &own).len())
        .sum();
    let translate = started.elapsed().as_secs_f64() * 1e6 / raw.len() as f64;
    assert_eq!(events, raw.len());
    (parse, translate)
}

/// As in the `chatters` binary: twitch-irc allocates on the connection tasks and the bot frees
/// on its own, and glibc malloc serializes such cross-thread frees (measured: 35k vs 84k
/// messages/s).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?
        .block_on(load(args))
}

async fn load(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/load.db", dir.path().display());
    let store = store::open(&url, &ConnectOptions::default()).await?;
    store.migrate().await?;
    let cancel = CancellationToken::new();
    let config = IngestConfig {
        tracker: TrackerConfig {
            bot_user: None,
            bot_login: None,
            presence_timeout: 900,
            snapshot_stale_after: 3600,
            bots: KnownBots::shipped(),
        },
        ..IngestConfig::default()
    };
    let (ingest, ingest_task) = Ingest::start(store.clone(), config, cancel.clone()).await?;
    let names: Vec<String> = (0..args.channels).map(channel_name).collect();
    let mut online = Vec::new();
    for (c, name) in names.iter().enumerate() {
        online.push(Event::StreamOnline {
            channel: login(name)?,
            broadcaster: Some(UserId(1_000_000 + c as i64)),
            stream: StreamId::parse(&format!("{}", 500_000 + c))?,
            started_at: Timestamp::now().plus(-60),
            title: "load".into(),
        });
    }
    ingest.send_all(online).await?;
    ingest.flush().await?;

    // The fake Twitch runs on its own thread and runtime, as a remote server would.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fake-twitch")
        .enable_all()
        .build()?;
    let fake = Arc::new(server.spawn(FakeIrc::start()).await??);
    let irc_config = IrcConfig {
        new_connection_every: Duration::from_millis(20),
        max_channels_per_connection: args.per_connection,
        ..IrcConfig::new(fake.url())
    };
    let wanted: BTreeSet<Login> = names.iter().map(|n| login(n)).collect::<Result<_, _>>()?;
    let (_wanted_tx, wanted_rx) = watch::channel(wanted);
    let (events_tx, events_rx) = mpsc::channel(65_536);
    let irc_task = tokio::spawn(irc::run(
        irc_config,
        irc::anonymous(),
        wanted_rx,
        events_tx,
        cancel.clone(),
    ));
    let forwarded = Arc::new(AtomicU64::new(0));
    let forward_task = tokio::spawn(forward(
        events_rx,
        (!args.no_store).then(|| ingest.clone()),
        forwarded.clone(),
    ));

    let all_joined = fake
        .wait_for(Duration::from_secs(120), |s| {
            names.iter().all(|n| s.joined(n).len() == 1)
        })
        .await;
    if !all_joined {
        bail!("not every channel was joined within 2 minutes");
    }
    let (routes, senders) = routes(&fake, &names);
    println!(
        "joined {} channels over {} connections; sending {} msg/s for {} s ({} users)",
        args.channels,
        senders.len(),
        args.rate,
        args.seconds,
        args.users
    );

    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let committed0 = ingest.metrics().committed.load(Ordering::Relaxed);
    let generated = Arc::new(AtomicU64::new(0));
    let probe = tokio::spawn(progress(
        fake.clone(),
        generated.clone(),
        forwarded.clone(),
        ingest.clone(),
    ));
    let shape = (args.rate, args.seconds, args.channels, args.users);
    let sent = server
        .spawn(generate(shape, routes, senders, generated.clone()))
        .await?;
    let send_secs = started.elapsed().as_secs_f64();
    while forwarded.load(Ordering::Relaxed) < sent {
        if started.elapsed() > Duration::from_secs(args.seconds * 10 + 60) {
            bail!(
                "only {} of {sent} messages arrived",
                forwarded.load(Ordering::Relaxed)
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ingest.flush().await?;
    let total_secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let m = ingest.metrics();
    let committed = m.committed.load(Ordering::Relaxed) - committed0;
    let commit_secs = m.commit_micros_total.load(Ordering::Relaxed) as f64 / 1e6;
    let batches = m.batches.load(Ordering::Relaxed);

    probe.abort();
    cancel.cancel();
    irc_task.await?.context("irc task")?;
    forward_task.await?;
    ingest_task.await?.context("ingestion")?;
    store.close().await;
    drop(fake);
    server.shutdown_background();

    let peak_rss = peak_rss_mib();
    let (parse_us, translate_us) = stage_costs(&args);
    let rate = committed as f64 / total_secs;
    println!(
        "sent       {sent} messages in {send_secs:.2} s ({:.0}/s offered)",
        sent as f64 / send_secs
    );
    println!(
        "ingested   {committed} events committed in {total_secs:.2} s = {rate:.0} messages/s end to end"
    );
    println!(
        "drain      {:.2} s after the last line was sent",
        total_secs - send_secs
    );
    println!(
        "storage    {batches} batches, {commit_secs:.2} s in commits ({:.0}% of wall time)",
        100.0 * commit_secs / total_secs
    );
    println!("peak RSS   {peak_rss:.0} MiB (VmHWM, fake server and generator included)");
    println!(
        "CPU        {cpu:.1} s = {:.2} cores on average (generator + fake server included)",
        cpu / total_secs
    );
    println!(
        "per line   twitch-irc parse {parse_us:.2} us, translate {translate_us:.2} us (one core) = {:.2} cores at {rate:.0}/s",
        (parse_us + translate_us) * rate / 1e6
    );
    Ok(())
}
