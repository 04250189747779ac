//! Load test of the IRC path through the whole process as `chatters run` wires it
//! ([`chatters::run::run_with`]: credentials, Helix, the twitch-irc client, our translation,
//! identity, ingestion on a temporary SQLite file, the web half): the fake Twitch IRC server
//! (own thread and runtime) pushes PRIVMSG lines (real tag set, ~50k distinct users) across
//! many live channels at a fixed rate. Reports end-to-end ingested messages/s (everything
//! committed), peak RSS, process CPU, where the backlog sits each second, and the single-core
//! cost per line of twitch-irc's parsing and of our translation.
//!
//! ```sh
//! cargo run --release --example irc_load -- --rate 100000 --channels 1000 --seconds 20
//! ```
//!
//! For the CPU split between parsing, tracking and storage, run the built binary under
//! `perf record -F 199 --call-graph dwarf` and group the samples by the innermost frame of
//! `twitch_irc`, `chatters_bot::irc`, `chatters_core::{ingest,tracker}` and `sqlx`/`sqlite3`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::BytesMut;
use chatters_bot::irc::{self, fake::FakeIrc};
use chatters_core::domain::{Login, Timestamp};
use chatters_core::metrics::{Metrics, sample};
use clap::Parser;
use twitch_irc::message::{IRCMessage, ServerMessage};

mod lines;
mod twitch;
mod vocab;
use lines::{Lines, generate, routes};

/// Drive the IRC client at a fixed message rate.
#[derive(Debug, Parser)]
struct Args {
    /// Chat messages per second, over all channels.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Channels (all live, all moderated by the bot).
    #[arg(long, default_value_t = 1_000)]
    channels: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Distinct chatters.
    #[arg(long, default_value_t = 50_000)]
    users: u64,
    /// Tokio worker threads of the process.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Only measure the single-core cost per line of parsing, translation and the chat-signal
    /// scan (no load run).
    #[arg(long)]
    costs_only: bool,
}

/// The process's ingestion counters, read from its registry as `/metrics` would serve them.
struct Ingested {
    /// Chat messages accepted by ingestion.
    messages: f64,
    /// Events of every kind accepted.
    accepted: f64,
    committed: f64,
    batches: f64,
    commit_seconds: f64,
    queue: f64,
}

impl Ingested {
    fn read(metrics: &Metrics) -> Self {
        let text = metrics.encode();
        let get = |series: &str| sample(&text, series).unwrap_or(0.0);
        let accepted = text
            .lines()
            .filter(|l| l.starts_with("chatters_events_ingested_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        Self {
            messages: get("chatters_events_ingested_total{kind=\"message\"}"),
            accepted,
            committed: get("chatters_events_committed_total"),
            batches: get("chatters_ingest_batches_total"),
            commit_seconds: get("chatters_ingest_commit_seconds_sum"),
            queue: get("chatters_ingest_queue_depth"),
        }
    }
}

/// Prints, every second, where the messages are: not yet written by the fake server, inside
/// the bot (read by twitch-irc, not yet accepted by ingestion), or queued for ingestion.
async fn progress(fake: Arc<FakeIrc>, generated: Arc<AtomicU64>, metrics: Metrics) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let g = generated.load(Ordering::Relaxed);
        let w = fake.bytes_written();
        let m = Ingested::read(&metrics);
        let queued = g.saturating_sub(w) as f64;
        let rss = rss_mib("VmRSS:");
        let bot = (rss - queued / (1024.0 * 1024.0)).max(0.0) as u64;
        PEAK_BOT_MIB.fetch_max(bot, Ordering::Relaxed);
        println!(
            "  t: fake queue {:.1} MB, bot received {}, backlog {}{}, ingested {:.0}, ingest queue {:.0} commands, RSS {:.0} MiB (bot ≈ {bot} MiB)",
            queued / 1e6,
            irc::client::lines_received(),
            irc::pressure::backlog(),
            if irc::pressure::paused() {
                " (reading paused)"
            } else {
                ""
            },
            m.messages,
            m.queue,
            rss
        );
    }
}

/// The largest RSS seen by the progress probe less the chat the fake server holds for the
/// bot (Twitch's side of the socket, in this process only because the fake is), in MiB.
static PEAK_BOT_MIB: AtomicU64 = AtomicU64::new(0);

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

/// Single-core cost of the chat-signal scan (emotes and moods) on these lines, with full sets
/// as the fake providers serve them: (microseconds per line, nanoseconds per word).
fn signal_costs(parsed: &[ServerMessage]) -> (f64, f64) {
    use chatters_core::signals::{EmoteSet, Lexicon, Matcher, Provider, Shared};
    let sets = vocab::provider_sets();
    let set = |p: Provider, e: &Vec<(String, String)>| EmoteSet {
        provider: p,
        emotes: e.clone(),
    };
    let globals: Vec<EmoteSet> = Provider::THIRD_PARTY
        .into_iter()
        .zip(&sets)
        .map(|(p, (g, _))| set(p, g))
        .collect();
    let channel: Vec<EmoteSet> = Provider::THIRD_PARTY
        .into_iter()
        .zip(&sets)
        .map(|(p, (_, c))| set(p, c))
        .collect();
    let shared = Arc::new(Shared::new(&Lexicon::shipped(), &globals));
    let matcher = Matcher::new(shared, &channel, &[]);
    let inputs: Vec<(&str, Option<&str>)> = parsed
        .iter()
        .map(|m| {
            let raw = m.source();
            let text = raw.params.get(1).map_or("", String::as_str);
            (text, raw.tags.0.get("emotes").map(String::as_str))
        })
        .collect();
    let words: usize = inputs.iter().map(|(t, _)| t.split(' ').count()).sum();
    let mut found = 0usize;
    let started = Instant::now();
    for _ in 0..5 {
        for (text, tag) in &inputs {
            let s = matcher.scan(text, *tag);
            found += s.emotes.len() + usize::from(!s.mood.is_empty());
        }
    }
    let secs = started.elapsed().as_secs_f64() / 5.0;
    assert!(found > 0);
    (secs * 1e6 / inputs.len() as f64, secs * 1e9 / words as f64)
}

/// Single-core cost per line, in microseconds, of twitch-irc's work on a line (parse, typed
/// message, the clone it makes), of our translation and of the chat-signal scan.
fn stage_costs(args: &Args) -> (f64, f64, (f64, f64)) {
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
    (parse, translate, signal_costs(&parsed))
}

/// As in the `chatters` binary: twitch-irc allocates on the connection tasks and the bot frees
/// on its own, and glibc malloc serializes such cross-thread frees (measured: 35k vs 84k
/// messages/s).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // `IRC_LOAD_LOG=chatters_core::store=debug` prints each commit's timings (to stderr).
    if let Ok(filter) = std::env::var("IRC_LOAD_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter)?)
            .with_writer(std::io::stderr)
            .init();
    }
    if args.costs_only {
        let (parse_us, translate_us, (signals_us, word_ns)) = stage_costs(&args);
        println!(
            "per line   twitch-irc parse {parse_us:.2} us, translate {translate_us:.2} us, \
             emote + mood scan {signals_us:.3} us ({word_ns:.1} ns per word), one core"
        );
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?
        .block_on(load(args))
}

async fn load(args: Args) -> anyhow::Result<()> {
    let running = twitch::start(args.channels).await?;
    let connections = routes(&running.irc, &running.names).1.len();
    println!(
        "joined {} live channels over {} connections; sending {} msg/s for {} s ({} users)",
        args.channels, connections, args.rate, args.seconds, args.users
    );

    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let before = Ingested::read(&running.metrics);
    let generated = Arc::new(AtomicU64::new(0));
    let probe = tokio::spawn(progress(
        running.irc.clone(),
        generated.clone(),
        running.metrics.clone(),
    ));
    let shape = (args.rate, args.seconds, args.channels, args.users);
    let (sent, lost) = running
        .server
        .spawn(generate(
            shape,
            running.irc.clone(),
            running.names.clone(),
            generated.clone(),
        ))
        .await?;
    let send_secs = started.elapsed().as_secs_f64();
    // Every line sent and not lost accepted by ingestion, then everything accepted committed.
    // Lines queued for a connection that then closed are lost too (the client reconnects when
    // a PONG waits behind more chat than it reads in 5 s): then the run ends once nothing has
    // arrived for 5 s, with everything that arrived committed.
    let deadline = started + Duration::from_secs(args.seconds * 10 + 60);
    let mut last = (0.0, Instant::now());
    let arrived = loop {
        let now = Ingested::read(&running.metrics);
        let arrived = now.messages - before.messages;
        let settled = now.committed >= now.accepted;
        if arrived >= (sent - lost) as f64 && settled {
            break arrived;
        }
        if arrived > last.0 {
            last = (arrived, Instant::now());
        } else if settled && last.1.elapsed() > Duration::from_secs(5) {
            break arrived;
        }
        if Instant::now() > deadline {
            bail!("only {arrived} of {sent} messages arrived");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let total_secs = started.elapsed().as_secs_f64()
        - if arrived < (sent - lost) as f64 {
            5.0
        } else {
            0.0
        };
    let cpu = cpu_seconds() - cpu0;
    let after = Ingested::read(&running.metrics);
    let committed = after.messages - before.messages;
    let commit_secs = after.commit_seconds - before.commit_seconds;
    let batches = after.batches - before.batches;
    probe.abort();
    let reconnects = running.irc.state().conns.len().saturating_sub(connections);
    running.stop().await?;

    let peak_rss = peak_rss_mib();
    let (parse_us, translate_us, (signals_us, word_ns)) = stage_costs(&args);
    let rate = committed / total_secs;
    println!(
        "sent       {sent} messages in {send_secs:.2} s ({:.0}/s offered)",
        sent as f64 / send_secs
    );
    println!(
        "lost       {lost} sent to a closed connection or a channel not joined, {:.0} more queued at the fake for a connection that closed",
        (sent - lost) as f64 - committed
    );
    println!("reconnects {reconnects} (connections opened beyond the first {connections})");
    println!(
        "ingested   {committed:.0} messages committed in {total_secs:.2} s = {rate:.0} messages/s end to end"
    );
    println!(
        "drain      {:.2} s after the last line was sent",
        total_secs - send_secs
    );
    println!(
        "storage    {batches:.0} batches, {commit_secs:.2} s in commits ({:.0}% of wall time)",
        100.0 * commit_secs / total_secs
    );
    println!(
        "peak RSS   {peak_rss:.0} MiB (VmHWM, fake server and generator included); the bot's part ≈ {} MiB at most (RSS less the fake's queue, sampled each second)",
        PEAK_BOT_MIB.load(Ordering::Relaxed)
    );
    println!(
        "CPU        {cpu:.1} s = {:.2} cores on average (generator + fake server included)",
        cpu / total_secs
    );
    println!(
        "per line   twitch-irc parse {parse_us:.2} us, translate {translate_us:.2} us (one core) = {:.2} cores at {rate:.0}/s",
        (parse_us + translate_us) * rate / 1e6
    );
    println!(
        "signals    emote + mood scan {signals_us:.3} us per line, {word_ns:.1} ns per word (one core) = {:.3} cores at {rate:.0}/s",
        signals_us * rate / 1e6
    );
    Ok(())
}
