//! Latency of chat commands under load: the whole process as `chatters run` wires it
//! ([`chatters::run::run_with`]: credentials, Helix, IRC, identity, scheduler, ingestion on
//! SQLite, commands, the reply outbox, and the web half) against
//! the fake Twitch, while the fake IRC server pushes chat at a fixed rate into live streams. A
//! moderator asks a command every `--every-ms`, cycling through the commands and channels; the
//! latency of one is from the fake writing the asking line to the fake reading the threaded
//! reply (both on the fake's clock), so it includes the bot's socket reads and writes.
//!
//! ```sh
//! cargo run --release --example command_latency -- \
//!     --rate 20000 --channels 100 --seconds 60 [--slow-commits-ms 100]
//! ```
//!
//! Commands are asked below Twitch's moderator limit (100 replies per 30 s) so that the outbox
//! never has to hold one back: what is measured is the bot's own work.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use chatters_bot::irc::fake::ConnSender;
use chatters_core::domain::Timestamp;
use clap::Parser;

#[path = "irc_load/lines.rs"]
mod lines;
#[path = "irc_load/twitch.rs"]
mod twitch;
#[path = "irc_load/vocab.rs"]
mod vocab;
use lines::{generate, routes};
use twitch::channel_name;

/// Drive chat at a fixed rate and time a moderator's commands.
#[derive(Debug, Parser)]
struct Args {
    /// Chat messages per second, over all channels.
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Channels (all live, all moderated by the bot).
    #[arg(long, default_value_t = 100)]
    channels: u64,
    /// Seconds of load.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Distinct chatters.
    #[arg(long, default_value_t = 50_000)]
    users: u64,
    /// A command every this many milliseconds (400 = 75 per 30 s, below the limit of 100).
    #[arg(long, default_value_t = 400)]
    every_ms: u64,
    /// Tokio worker threads of the bot.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Hold every batch's transaction open this many milliseconds more before its commit, as
    /// a slow disk would (0: as fast as this machine commits).
    #[arg(long, default_value_t = 0)]
    slow_commits_ms: u64,
}

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COMMANDS: [&str; 9] = [
    "!stats",
    "!top 10",
    "!new 10",
    "!chatters",
    "!seen user7",
    "!lurkers",
    "!raid",
    "!accounts",
    "!chart",
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // `COMMAND_LATENCY_LOG=chatters_bot::commands=debug` prints where each answer's time went
    // (to stderr).
    if let Ok(filter) = std::env::var("COMMAND_LATENCY_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter)?)
            .with_writer(std::io::stderr)
            .init();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?
        .block_on(load(args))
}

async fn load(args: Args) -> anyhow::Result<()> {
    let running = twitch::start(args.channels, None).await?;
    running
        .store
        .slow_commits(Duration::from_millis(args.slow_commits_ms));
    let (fake, server, names) = (&running.irc, &running.server, &running.names);
    let (routes, senders) = routes(fake, names);
    println!(
        "{} live channels over {} connections; {} msg/s for {} s ({} users); a command every {} ms",
        args.channels,
        senders.len(),
        args.rate,
        args.seconds,
        args.users,
        args.every_ms
    );

    let shape = (args.rate, args.seconds, args.channels, args.users);
    let chat = server.spawn(generate(
        shape,
        fake.clone(),
        names.clone(),
        Arc::new(AtomicU64::new(0)),
    ));
    let asks = server.spawn(ask(
        args.seconds,
        args.every_ms,
        routes,
        senders,
        args.channels,
    ));
    let (generated, _lost) = chat.await?;
    let asked = asks.await?;
    // Replies still in flight.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let replied: HashMap<String, Instant> = fake
        .state()
        .sent
        .iter()
        .filter_map(|s| {
            let rest = s.line.strip_prefix("@reply-parent-msg-id=")?;
            let (id, _) = rest.split_once(' ')?;
            Some((id.to_owned(), s.at))
        })
        .collect();
    let mut latencies: Vec<Duration> = asked
        .iter()
        .filter_map(|(id, at)| replied.get(id).map(|r| r.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1e3
    };
    println!(
        "chat: {} lines sent; commands: {} asked, {} answered",
        generated,
        asked.len(),
        latencies.len()
    );
    println!(
        "latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    // The process's own counters, as Prometheus would scrape them.
    let metrics = running.source.metrics().await?;
    for line in metrics.lines().filter(|l| {
        !l.starts_with('#')
            && [
                "chatters_ingest",
                "chatters_commands",
                "chatters_command_reads",
                "chatters_replies",
                "chatters_reply",
            ]
            .iter()
            .any(|p| l.starts_with(p))
    }) {
        println!("  {line}");
    }
    running.stop().await
}

/// A moderator asks a command every `every_ms`; returns each ask's id and send time.
async fn ask(
    seconds: u64,
    every_ms: u64,
    routes: Vec<Option<usize>>,
    senders: Vec<ConnSender>,
    channels: u64,
) -> Vec<(String, Instant)> {
    let mut asked = Vec::new();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(every_ms.max(1)));
    tick.tick().await;
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        // Channels and commands cycle so that no ask falls in a cooldown.
        let c = (n * 7) % channels;
        let command = COMMANDS[(n % COMMANDS.len() as u64) as usize];
        let id = format!("cmd-{n}");
        let line = format!(
            "@badge-info=;badges=moderator/1;color=;display-name=Mod;emotes=;first-msg=0;flags=;id={id};mod=1;returning-chatter=0;room-id={};subscriber=0;tmi-sent-ts={};turbo=0;user-id=42;user-type=mod :mod!mod@mod.tmi.twitch.tv PRIVMSG #{} :{command}\r\n",
            1_000_000 + c,
            Timestamp::now().0 * 1000,
            channel_name(c),
        );
        let at = Instant::now();
        if let Some(r) = routes[c as usize] {
            senders[r].send(bytes::Bytes::from(line));
        }
        asked.push((id, at));
        n += 1;
    }
    asked
}
