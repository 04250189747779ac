//! A chart server for load tests: a temporary SQLite database holding 30 days of a busy
//! channel (`bench`: a snapshot every 5 minutes, an evening stream a day, a raid every other
//! day), fed through the real ingestion pipeline, served by the real router.
//!
//! ```sh
//! cargo run --release -p chatters-web --example chart_server -- 127.0.0.1:8099
//! wrk -t1 -c32 -d10s --latency 'http://127.0.0.1:8099/c/bench/chatters.png?range=30d'
//! ```
//!
//! It prints the address and the size of the charts once the data is in, then serves until
//! interrupted. The share page is at `/c/bench`.

use std::sync::Arc;
use std::time::Instant;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::store::{self, ConnectOptions};
use chatters_core::tracker::TrackerConfig;
use chatters_web::{AppState, WebConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "bench";
const ROOM: i64 = 1;
const DAYS: i64 = 30;
const STEP: i64 = 300;

fn login(s: &str) -> Login {
    Login::parse(s).expect("a valid login")
}

/// Viewers present at `at`: a few hundred offline, a few thousand in the evening stream.
fn present_at(at: i64, start: i64) -> i64 {
    let minute = (at - start) / 60;
    let hour = (minute / 60) % 24;
    let base = if (18..22).contains(&hour) { 2_500 } else { 200 };
    base + (minute.wrapping_mul(2_654_435_761) >> 7).rem_euclid(base / 20 + 1)
        + (minute % 1440) / 20
}

/// The script: a snapshot every 5 minutes for 30 days, streams, raids, in time order.
fn events(start: i64, users: &[UserRef]) -> Vec<Event> {
    let channel = login(CHANNEL);
    let mut out = Vec::new();
    let mut at = start;
    while at < start + DAYS * 86_400 {
        let day = (at - start) / 86_400;
        let second_of_day = (at - start) % 86_400;
        if second_of_day == 18 * 3600 {
            out.push(Event::StreamOnline {
                channel: channel.clone(),
                broadcaster: Some(UserId(ROOM)),
                stream: StreamId::parse(&format!("{}", 10_000 + day)).expect("valid id"),
                started_at: Timestamp(at),
                title: format!("day {day}"),
            });
        }
        if second_of_day == 22 * 3600 {
            out.push(Event::StreamOffline {
                channel: channel.clone(),
                at: Timestamp(at),
            });
        }
        if second_of_day == 19 * 3600 && day % 2 == 0 {
            out.push(Event::Raid {
                channel: channel.clone(),
                from: UserRef::new(UserId(9_000_000 + day), login(&format!("raider{day}"))),
                viewers: u64::try_from(50 + day * 7).unwrap_or(50),
                at: Timestamp(at),
            });
        }
        let n = usize::try_from(present_at(at, start))
            .unwrap_or(0)
            .min(users.len());
        // A rotating window over the user pool, so people come and go.
        let offset = usize::try_from((at - start) / STEP).unwrap_or(0) * 7 % users.len();
        let present: Vec<UserRef> = (0..n)
            .map(|i| users[(offset + i) % users.len()].clone())
            .collect();
        out.push(Event::Snapshot {
            channel: channel.clone(),
            at: Timestamp(at),
            total: present.len() as u64,
            users: present,
        });
        at += STEP;
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_owned());
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/bench.db?mode=rwc", dir.path().display());
    let store = store::open(&url, &ConnectOptions::default()).await?;
    store.migrate().await?;

    let loading = Instant::now();
    let cancel = CancellationToken::new();
    let config = IngestConfig {
        tracker: TrackerConfig {
            bots: KnownBots::shipped(),
            ..TrackerConfig::default()
        },
        ..IngestConfig::default()
    };
    let (ingest, writer) = Ingest::start(store.clone(), config, cancel.clone()).await?;
    let users: Vec<UserRef> = (0..4_000)
        .map(|i| UserRef::new(UserId(100 + i), login(&format!("viewer{i}"))))
        .collect();
    let now = Timestamp::now().0;
    let start = now - DAYS * 86_400 - (now % 86_400);
    for chunk in events(start, &users).chunks(500) {
        ingest.send_all(chunk.to_vec()).await?;
    }
    ingest.flush().await?;
    eprintln!(
        "loaded 30 days of `{CHANNEL}` in {:.1} s",
        loading.elapsed().as_secs_f64()
    );

    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    let state = AppState::with_config(
        Arc::clone(&store),
        WebConfig {
            public_base_url: format!("http://{local}"),
            ..WebConfig::default()
        },
    );
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(chatters_web::serve(listener, state, shutdown.clone()));
    for path in [
        "chatters.png",
        "chatters.png?range=7d",
        "chatters.png?range=30d",
    ] {
        let body = fetch(&local.to_string(), &format!("/c/{CHANNEL}/{path}")).await?;
        eprintln!("GET /c/{CHANNEL}/{path}: {} bytes", body);
    }
    println!("serving on http://{local}/c/{CHANNEL} (Ctrl-C stops)");
    tokio::signal::ctrl_c().await?;
    shutdown.cancel();
    server.await??;
    cancel.cancel();
    writer.await??;
    Ok(())
}

/// `GET path` over HTTP/1.0; returns the body length.
async fn fetch(addr: &str, path: &str) -> Result<usize, Box<dyn std::error::Error>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n").as_bytes())
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    if !answer.starts_with(b"HTTP/1.0 200") && !answer.starts_with(b"HTTP/1.1 200") {
        return Err(String::from_utf8_lossy(&answer[..head_end])
            .into_owned()
            .into());
    }
    Ok(answer.len() - head_end - 4)
}
