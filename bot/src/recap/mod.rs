//! Stream recaps and weekly digests to Discord and Slack.
//!
//! # Layout
//! - [`target`]: where a recap goes ([`Target`], stored as `discord:channel` ...), the secret
//!   [`target::Webhook`] URL, ISO weeks.
//! - [`content`]: the [`content::Recap`] of a stream's figures (`audience`: its viewers, watch
//!   time and regulars lines); [`digest`]: the weekly digest.
//! - [`discord`], [`slack`]: the two wire formats and their requests; [`outcome`]: what an
//!   answer means (sent, retry when, revoked, refused) and the backoff.
//! - this module: [`RecapConfig`] and the [`Recaps`] worker: [`worker`](self) its loop and
//!   deliveries, `schedule` what becomes due, `send` the messages; `metrics` its counters.
//!
//! # Exactly once
//! The worker polls the store. Streams that ended within [`RecapConfig::lookback`] get one
//! `summaries` row per configured target (an insert that ignores existing rows; older history
//! is never posted). A due row is *claimed* (state `sending`, attempt counted, due again only
//! after [`RecapConfig::claim_lease`]) with an update that only one worker can win, then
//! sent, then marked `sent` (or `pending` with its next attempt, `failed`, `disabled`) by an
//! update that only the claim's holder can make. A restart before the send finds the row
//! pending; a restart after the mark finds it sent. The one window left: a crash after the
//! service accepted the message but before the mark is written leaves the row `sending`, and
//! it is sent again once the lease ends (at least once, never lost).

mod audience;
pub mod content;
pub mod digest;
pub mod discord;
mod metrics;
pub mod outcome;
mod schedule;
mod send;
pub mod slack;
pub mod target;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatters_core::domain::Timestamp;
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::{Channel, ChannelKey, StreamKey, SummaryState};
use secrecy::SecretString;

use self::outcome::Outcome;
use self::target::Webhook;
pub use self::target::{Kind, Scope, Service, Target, Week};

/// Rows delivered per pass at most (the rest wait for the next pass).
const BATCH: i64 = 50;

/// The worker's timing and destinations.
#[derive(Clone)]
pub struct RecapConfig {
    /// How often the store is polled for ended streams and due recaps.
    pub poll_interval: Duration,
    /// Streams that ended longer ago than this get no recap (never flood old history).
    pub lookback: Duration,
    /// First retry delay; doubled per failed attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// A recap still failing this long after it was recorded is given up.
    pub give_up_after: Duration,
    /// How long a claimed recap is left to its worker before another may send it.
    pub claim_lease: Duration,
    /// Timeout of one webhook request.
    pub http_timeout: Duration,
    /// Base of the public chart links (Slack image blocks).
    pub public_base_url: String,
    /// `DISCORD_WEBHOOK_URL`.
    pub discord_webhook_url: Option<SecretString>,
    /// `SLACK_WEBHOOK_URL`.
    pub slack_webhook_url: Option<SecretString>,
}

impl std::fmt::Debug for RecapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecapConfig")
            .field("poll_interval", &self.poll_interval)
            .field("lookback", &self.lookback)
            .field("retry_base", &self.retry_base)
            .field("retry_max", &self.retry_max)
            .field("give_up_after", &self.give_up_after)
            .field("claim_lease", &self.claim_lease)
            .field("public_base_url", &self.public_base_url)
            .field("discord_webhook_url", &self.discord_webhook_url.is_some())
            .field("slack_webhook_url", &self.slack_webhook_url.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for RecapConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(15),
            lookback: Duration::from_secs(24 * 3600),
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            claim_lease: Duration::from_secs(5 * 60),
            // Well inside the 30 s shutdown grace: a send in progress is finished on shutdown.
            http_timeout: Duration::from_secs(15),
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            discord_webhook_url: None,
            slack_webhook_url: None,
        }
    }
}

impl RecapConfig {
    /// The defaults with the settings' webhooks and public base URL.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            public_base_url: settings.public_base_url.clone(),
            discord_webhook_url: settings.discord_webhook_url.clone(),
            slack_webhook_url: settings.slack_webhook_url.clone(),
            ..Self::default()
        }
    }
}

/// The wall clock in Unix milliseconds (replaceable in tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The recap worker.
pub struct Recaps {
    /// Figures (and the store under them).
    figures: Figures,
    /// Timing and global destinations.
    config: RecapConfig,
    /// Client for Discord (serenity's reqwest).
    discord: serenity_reqwest::Client,
    /// Client for Slack.
    slack: reqwest::Client,
    /// Counters.
    metrics: Arc<RecapMetrics>,
    /// Now, in Unix milliseconds.
    clock: Clock,
    /// What this process has already recorded summaries for (so a poll only looks at what is
    /// new; a restart looks at the whole lookback once, harmlessly).
    examined: Mutex<Examined>,
}

/// Streams and digest weeks whose summaries were recorded by this process.
#[derive(Debug, Default)]
struct Examined {
    /// Stream key → its end (forgotten once out of the lookback).
    streams: HashMap<StreamKey, Timestamp>,
    /// (channel, week) of digests recorded (forgotten when the week changes).
    digests: HashSet<(ChannelKey, Week)>,
}

impl std::fmt::Debug for Recaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recaps")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Where one summary goes, resolved now.
struct Destination {
    channel: Channel,
    target: Target,
    webhook: Webhook,
}

/// What one attempt came to.
enum Attempt {
    /// A request was made (or refused before it): its outcome.
    Made(Outcome),
    /// Nothing to send any more (target unset, or disabled earlier): a terminal state.
    Dropped(SummaryState, &'static str),
}

pub use self::metrics::{Delivery, RecapMetrics};
