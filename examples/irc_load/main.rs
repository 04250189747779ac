//! Load test of the IRC path through the whole process as `chatters run` wires it
//! ([`chatters::run::run_with`]: credentials, Helix, the twitch-irc client and the chat lines
//! read past it, identity, ingestion on a temporary SQLite file, the web half): the fake
//! Twitch IRC server (own thread and runtime) pushes PRIVMSG lines (real tag set, ~50k
//! distinct users) across many live channels at a fixed rate. Reports end-to-end ingested
//! messages/s (everything committed), peak RSS, process CPU, where the backlog sits each
//! second, and the single-core cost per line of cutting and reading chat lines (beside, as a
//! same-run reference, twitch-irc's parsing and our translation of its messages, the path
//! before).
//!
//! ```sh
//! cargo run --release --example irc_load -- --rate 100000 --channels 1000 --seconds 20
//! ```
//!
//! With `--bot-binary target/release/chatters` the process under load is that binary
//! (`chatters run`), a child of this one: its peak RSS is then its own (VmHWM of its
//! `/proc/<pid>/status`), apart from the chat the fake server queues for it, and the lag is
//! read off its `/metrics` as Prometheus would.
//!
//! For the CPU split between parsing, tracking and storage, run the built binary under
//! `perf record -F 199 --call-graph dwarf` and group the samples by the innermost frame of
//! `twitch_irc`, `chatters_bot::irc`, `chatters_core::{ingest,tracker}` and `sqlx`/`sqlite3`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::BytesMut;
use chatters_bot::irc::scan::Detail;
use chatters_bot::irc::{self, fake::FakeIrc};
use chatters_core::domain::{Login, Timestamp};
use chatters_core::metrics::sample;
use clap::Parser;
use twitch_irc::message::{IRCMessage, ServerMessage};

mod lines;
mod twitch;
mod vocab;
use lines::{Lines, generate, routes};
use twitch::Source;

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
    /// Only measure the single-core cost per line of cutting, reading (and, for reference,
    /// twitch-irc's parse and translation) and the chat-signal scan (no load run).
    #[arg(long)]
    costs_only: bool,
    /// Run this `chatters` binary as the process under load (a child process) instead of the
    /// process in this one.
    #[arg(long)]
    bot_binary: Option<PathBuf>,
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
    /// Channel and stream rows held across batches, not yet written.
    held: f64,
    /// Lines read off the sockets and not yet taken by the bot (`chatters_irc_backlog`).
    backlog: f64,
    /// Whether reading the sockets is paused for the backlog.
    paused: bool,
}

impl Ingested {
    async fn read(source: &Source) -> anyhow::Result<Self> {
        let text = source.metrics().await?;
        let get = |series: &str| sample(&text, series).unwrap_or(0.0);
        let accepted = text
            .lines()
            .filter(|l| l.starts_with("chatters_events_ingested_total{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        Ok(Self {
            messages: get("chatters_events_ingested_total{kind=\"message\"}"),
            accepted,
            committed: get("chatters_events_committed_total"),
            batches: get("chatters_ingest_batches_total"),
            commit_seconds: get("chatters_ingest_commit_seconds_sum"),
            queue: get("chatters_ingest_queue_depth"),
            held: get("chatters_ingest_rows_held"),
            backlog: get("chatters_irc_backlog"),
            paused: get("chatters_irc_reading_paused") > 0.0,
        })
    }
}

/// Prints, every second, where the messages are: not yet written by the fake server, inside
/// the bot (read off the sockets, not yet accepted by ingestion), or queued for ingestion.
async fn progress(fake: Arc<FakeIrc>, generated: Arc<AtomicU64>, source: Source) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let g = generated.load(Ordering::Relaxed);
        let w = fake.bytes_written();
        let m = match Ingested::read(&source).await {
            Ok(m) => m,
            Err(error) => {
                println!("  t: /metrics unreadable: {error:#}");
                continue;
            }
        };
        let queued = g.saturating_sub(w) as f64;
        let rss = rss_mib(source.pid(), "VmRSS:");
        let bot = match source.pid() {
            Some(_) => rss,
            None => (rss - queued / (1024.0 * 1024.0)).max(0.0),
        } as u64;
        PEAK_BOT_MIB.fetch_max(bot, Ordering::Relaxed);
        let received = match source.pid() {
            Some(_) => String::new(),
            None => format!("bot received {}, ", irc::client::lines_received()),
        };
        println!(
            "  t: fake queue {:.1} MB, {received}backlog {}{}, ingested {:.0} messages, committed {:.0} events, {:.0} rows held, ingest queue {:.0} commands, RSS {:.0} MiB (bot ≈ {bot} MiB)",
            queued / 1e6,
            m.backlog,
            if m.paused { " (reading paused)" } else { "" },
            m.messages,
            m.committed,
            m.held,
            m.queue,
            rss
        );
    }
}

/// The largest RSS of the process under load seen by the progress probe, in MiB: the child's,
/// or this process's less the chat the fake server holds for the bot (Twitch's side of the
/// socket, in this process only because the fake is).
static PEAK_BOT_MIB: AtomicU64 = AtomicU64::new(0);

/// Peak resident set size (VmHWM) of a process (`None`: this one), in MiB.
fn peak_rss_mib(pid: Option<u32>) -> f64 {
    rss_mib(pid, "VmHWM:")
}

/// A `/proc/<pid>/status` memory line of a process (`None`: this one), in MiB.
fn rss_mib(pid: Option<u32>, field: &str) -> f64 {
    let path = pid.map_or_else(
        || "/proc/self/status".to_owned(),
        |p| format!("/proc/{p}/status"),
    );
    let status = std::fs::read_to_string(path).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU seconds of a process (`None`: this one).
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).unwrap_or_default();
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

/// Single-core cost per line, in microseconds, over 100,000 lines of the load.
struct StageCosts {
    /// The socket's whole work on a line (`irc::divert`, reads of 8 KiB): cut, route, read to
    /// what identity takes (`Observed`, badges and message id included, the signals' scan with
    /// the lexicon only).
    split: f64,
    /// Of which the line scanner to `Observed`.
    scanner: f64,
    /// The path before, for reference: twitch-irc's work on a line (parse, typed message, the
    /// clone it makes) ...
    parse: f64,
    /// ... and our translation of the typed message.
    translate: f64,
    /// The emote and mood scan, per line and per word (nanoseconds).
    signals: (f64, f64),
}

fn stage_costs(args: &Args) -> StageCosts {
    let mut lines = Lines::new(args.channels, args.users);
    let raw: Vec<String> = (0..100_000)
        .map(|_| {
            let mut b = BytesMut::new();
            let pick = lines.pick();
            lines.render(pick, 1_700_000_000_000, &mut b);
            String::from_utf8_lossy(&b).trim_end().to_owned()
        })
        .collect();
    // The socket cuts each read into lines: reads of 8 KiB here.
    let bytes: Vec<u8> = raw
        .iter()
        .flat_map(|l| [l.as_bytes(), b"\r\n"].concat())
        .collect();
    let own = Login::parse("justinfan1").expect("a valid login");
    let reader = irc::reader::LineReader::new(own.clone(), None, Default::default());
    let (divert, mut chunks) = irc::divert::Divert::new(reader);
    let mut splitter = irc::divert::Splitter::new(Some(divert));
    let started = Instant::now();
    let cut: usize = bytes.chunks(8192).map(|read| splitter.feed(read)).sum();
    let split = started.elapsed().as_secs_f64() * 1e6 / raw.len() as f64;
    assert_eq!(cut, raw.len(), "every line cut");
    let mut ours = 0;
    while let Ok(chunk) = chunks.try_recv() {
        ours += chunk.ours;
    }
    assert_eq!(ours, raw.len(), "every line goes to the irc task");
    let started = Instant::now();
    let mut observed = Vec::with_capacity(raw.len());
    for line in &raw {
        if let Some(fields) = chatters_bot::irc::scan::Fields::parse(line) {
            fields.observe(Timestamp(0), &own, Detail::Full, &mut observed);
        }
    }
    let scanner = started.elapsed().as_secs_f64() * 1e6 / raw.len() as f64;
    assert_eq!(observed.len(), raw.len(), "the scanner read every line");
    drop(observed);
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
    let started = Instant::now();
    let events: usize = parsed
        .iter()
        .map(|m| irc::translate(m, Timestamp(0), &own).len())
        .sum();
    let translate = started.elapsed().as_secs_f64() * 1e6 / raw.len() as f64;
    assert_eq!(events, raw.len());
    StageCosts {
        split,
        scanner,
        parse,
        translate,
        signals: signal_costs(&parsed),
    }
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
        let costs = stage_costs(&args);
        print_costs(&costs, None);
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?
        .block_on(load(args))
}

async fn load(args: Args) -> anyhow::Result<()> {
    let running = twitch::start(args.channels, args.bot_binary.as_deref()).await?;
    let pid = running.source.pid();
    let connections = routes(&running.irc, &running.names).1.len();
    println!(
        "joined {} live channels over {} connections; sending {} msg/s for {} s ({} users)",
        args.channels, connections, args.rate, args.seconds, args.users
    );

    let cpu0 = cpu_seconds(None);
    let child_cpu0 = pid.map(|p| cpu_seconds(Some(p)));
    let started = Instant::now();
    let before = Ingested::read(&running.source).await?;
    let generated = Arc::new(AtomicU64::new(0));
    let probe = tokio::spawn(progress(
        running.irc.clone(),
        generated.clone(),
        running.source.clone(),
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
    // Every line sent and not lost accepted by ingestion, then everything accepted committed,
    // rows held across batches included.
    // Lines queued for a connection that then closed are lost too (the client reconnects when
    // a PONG waits behind more chat than it reads in 5 s): then the run ends once nothing has
    // arrived for 5 s, with everything that arrived committed.
    let deadline = started + Duration::from_secs(args.seconds * 10 + 60);
    let mut last = (0.0, Instant::now());
    // When every message's event was in a committed batch (their rows may still be held).
    let mut events_committed: Option<f64> = None;
    let arrived = loop {
        let now = Ingested::read(&running.source).await?;
        let arrived = now.messages - before.messages;
        if events_committed.is_none()
            && arrived >= (sent - lost) as f64
            && now.committed >= now.accepted
        {
            events_committed = Some(started.elapsed().as_secs_f64());
        }
        let settled = now.committed >= now.accepted && now.held == 0.0;
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
        // A child's `/metrics` is read over HTTP: not so often that reading it loads it.
        let every = if pid.is_some() { 100 } else { 5 };
        tokio::time::sleep(Duration::from_millis(every)).await;
    };
    let total_secs = started.elapsed().as_secs_f64()
        - if arrived < (sent - lost) as f64 {
            5.0
        } else {
            0.0
        };
    let cpu = cpu_seconds(None) - cpu0;
    let child_cpu = pid.zip(child_cpu0).map(|(p, c0)| cpu_seconds(Some(p)) - c0);
    let after = Ingested::read(&running.source).await?;
    let committed = after.messages - before.messages;
    let commit_secs = after.commit_seconds - before.commit_seconds;
    let batches = after.batches - before.batches;
    probe.abort();
    // Before the child exits and its `/proc` entry goes.
    let child_peak = pid.map(|p| peak_rss_mib(Some(p)));
    let reconnects = running.irc.state().conns.len().saturating_sub(connections);
    running.stop().await?;

    let peak_rss = peak_rss_mib(None);
    let costs = stage_costs(&args);
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
    if let Some(at) = events_committed {
        println!(
            "           every message's event in a committed batch {:.2} s after the start = {:.0} messages/s (their rows then held at most 2 s more; the wait for none held also waits out rows the stream polls keep adding)",
            at,
            committed / at,
        );
    }
    println!(
        "storage    {batches:.0} batches, {commit_secs:.2} s in commits ({:.0}% of wall time)",
        100.0 * commit_secs / total_secs
    );
    match (child_peak, child_cpu) {
        (Some(child_peak), Some(child_cpu)) => {
            println!(
                "peak RSS   {child_peak:.0} MiB (VmHWM of the chatters process); this process (fake Twitch, generator) {peak_rss:.0} MiB"
            );
            println!(
                "CPU        chatters {child_cpu:.1} s = {:.2} cores on average; fake Twitch and generator {cpu:.1} s = {:.2} cores",
                child_cpu / total_secs,
                cpu / total_secs
            );
        }
        _ => {
            println!(
                "peak RSS   {peak_rss:.0} MiB (VmHWM, fake server and generator included); the bot's part ≈ {} MiB at most (RSS less the fake's queue, sampled each second)",
                PEAK_BOT_MIB.load(Ordering::Relaxed)
            );
            println!(
                "CPU        {cpu:.1} s = {:.2} cores on average (generator + fake server included)",
                cpu / total_secs
            );
        }
    }
    print_costs(&costs, Some(rate));
    Ok(())
}

/// The stage costs, and the cores they take at `rate` lines a second.
fn print_costs(costs: &StageCosts, rate: Option<f64>) {
    let cores = |us: f64| {
        rate.map_or(String::new(), |r| {
            format!(" = {:.3} cores at {r:.0}/s", us * r / 1e6)
        })
    };
    println!(
        "per line   socket side: cut, route and read to Observed {:.2} us, of which the scanner {:.2} us (one core){}",
        costs.split,
        costs.scanner,
        cores(costs.split)
    );
    let before = costs.parse + costs.translate;
    println!(
        "           the path before, same run: twitch-irc parse {:.2} us + translate {:.2} us{}",
        costs.parse,
        costs.translate,
        cores(before)
    );
    let (signals_us, word_ns) = costs.signals;
    println!(
        "signals    emote + mood scan {signals_us:.3} us per line, {word_ns:.1} ns per word (one core){}",
        cores(signals_us)
    );
}
