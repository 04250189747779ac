//! Helix capacity: how many single-page Get Chatters snapshots the client sustains against the
//! fake Twitch's REAL token bucket (800 points a minute, refilled continuously, 429 when empty),
//! on the wall clock, and whether it ever meets a 429.
//!
//! ```text
//! cargo run --release -p chatters-bot --example helix_capacity [seconds=70] [workers=8]
//! ```
//!
//! The bucket starts full (800 points), so the first second is a burst; the steady state is
//! measured from 10 s on and compared with the budget (800 calls a minute).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use chatters_bot::auth::{Auth, AuthConfig};
use chatters_bot::helix::{Helix, TwitchHttp};
use chatters_bot::testing::fake_helix::{
    CLIENT_ID, CLIENT_SECRET, DEFAULT_POINTS_PER_MINUTE, Endpoint, FakeHelix, FakeToken, FakeUser,
};
use chatters_core::domain::{Login, UserId};
use secrecy::SecretString;
use tokio::time::Instant;

/// Steady state starts after the initial burst has drained the full bucket.
const WARM_UP: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args
        .next()
        .map_or(Ok(70), |a| a.parse())
        .context("seconds")?;
    let workers: usize = args
        .next()
        .map_or(Ok(8), |a| a.parse())
        .context("workers")?;
    let run_for = Duration::from_secs(seconds);
    anyhow::ensure!(
        run_for > WARM_UP,
        "run for more than {} s",
        WARM_UP.as_secs()
    );

    let fake = FakeHelix::start().await.context("starting the fake")?;
    let bot = FakeUser::new("1000", "chattersbot");
    fake.add_token(FakeToken::user(
        "tok",
        "ref",
        &bot,
        &["moderator:read:chatters"],
    ));
    let chatters = (0..50).map(|i| FakeUser::new(&(10_000 + i).to_string(), &format!("viewer{i}")));
    fake.set_chatters("1000", chatters.collect());

    let config = AuthConfig {
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: Some(SecretString::from(CLIENT_SECRET)),
        bot_login: Some(Login::parse("chattersbot")?),
        bot_token: Some(SecretString::from("tok")),
        refresh_token: Some(SecretString::from("ref")),
    };
    let http = TwitchHttp::new(fake.http_config())?;
    let helix = Helix::new(Auth::start(config, http, None).await?);

    println!(
        "budget {DEFAULT_POINTS_PER_MINUTE} points/minute per token; {workers} workers for {seconds} s"
    );
    let start = Instant::now();
    let done: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let failures = Arc::new(Mutex::new(0_u64));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (helix, done, failures) = (helix.clone(), done.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < run_for {
                match helix.chatters(UserId(1000), UserId(1000)).await {
                    Ok(c) if c.users.len() == 50 => {
                        let mut done = done.lock().unwrap_or_else(PoisonError::into_inner);
                        done.push(start.elapsed());
                    }
                    _ => *failures.lock().unwrap_or_else(PoisonError::into_inner) += 1,
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }

    let done = done.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let elapsed = start.elapsed();
    let window =
        |from: Duration, to: Duration| done.iter().filter(|t| **t >= from && **t < to).count();
    let steady = window(WARM_UP, run_for);
    let steady_secs = (run_for - WARM_UP).as_secs_f64();
    let per_minute = steady as f64 / steady_secs * 60.0;
    let budget = f64::from(DEFAULT_POINTS_PER_MINUTE);
    let metrics = helix.metrics();

    println!(
        "useful snapshots: {} in {:.1} s",
        done.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "  first second (full bucket): {}",
        window(Duration::ZERO, Duration::from_secs(1))
    );
    for s in (0..seconds).step_by(10) {
        let (from, to) = (
            Duration::from_secs(s),
            Duration::from_secs((s + 10).min(seconds)),
        );
        println!("  {:>3}-{:>3} s: {:>5}", s, to.as_secs(), window(from, to));
    }
    println!(
        "steady state ({}-{} s): {steady} calls = {per_minute:.1} calls/minute = {:.1}% of the budget",
        WARM_UP.as_secs(),
        seconds,
        per_minute / budget * 100.0
    );
    println!(
        "429 answers: {} (fake) / {} (client metrics); failed calls: {}; retries: {}",
        fake.answered(429),
        metrics.count("chat/chatters", "429"),
        failures.lock().unwrap_or_else(PoisonError::into_inner),
        metrics.retries
    );
    println!(
        "Get Chatters calls received by the fake: {}; time spent waiting for budget: {:.1} s (all workers)",
        fake.calls_to(Endpoint::Chatters).len(),
        metrics.budget_wait.as_secs_f64()
    );
    Ok(())
}
