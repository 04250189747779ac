//! Stream recaps and weekly digests to Discord and Slack (issue 6).
//!
//! # Layout
//! - [`target`]: where a recap goes ([`Target`], stored as `discord:channel` ...), the secret
//!   [`target::Webhook`] URL, ISO weeks.
//! - [`content`]: the [`content::Recap`] of a stream's figures; [`digest`]: the weekly digest.
//! - [`discord`], [`slack`]: the two wire formats and their requests; [`outcome`]: what an
//!   answer means (sent, retry when, revoked, refused) and the backoff.
//! - this module: the [`Recaps`] worker.
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

pub mod content;
pub mod digest;
pub mod discord;
pub mod outcome;
pub mod slack;
pub mod target;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use chatters_core::charts::{self, ChartSpec};
use chatters_core::domain::Timestamp;
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::{
    Channel, ChannelKey, DisabledTarget, StoreError, StreamKey, Summary, SummaryState,
    SummaryUpdate,
};
use chatters_web::cache::{PUBLIC_PAGE, is_off};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use self::content::Recap;
use self::digest::Digest;
use self::discord::DiscordWebhook;
use self::outcome::{Outcome, backoff};
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

/// What became of an attempt, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered.
    Sent,
    /// Failed, retried later.
    Retried,
    /// Failed for good (after 24 h of retries, or refused).
    GivenUp,
    /// The webhook was revoked; the target is disabled for the channel.
    Disabled,
}

impl Delivery {
    const ALL: [Delivery; 4] = [Self::Sent, Self::Retried, Self::GivenUp, Self::Disabled];

    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retried => "retried",
            Self::GivenUp => "given_up",
            Self::Disabled => "disabled",
        }
    }
}

/// Recap counters by service and result (`chatters_recaps_total`).
#[derive(Debug, Default)]
pub struct RecapMetrics {
    counts: [[AtomicU64; 4]; 2],
}

impl RecapMetrics {
    fn slot(&self, service: Service, result: Delivery) -> &AtomicU64 {
        let s = match service {
            Service::Discord => 0,
            Service::Slack => 1,
        };
        let r = Delivery::ALL.iter().position(|d| *d == result).unwrap_or(0);
        &self.counts[s][r]
    }

    fn inc(&self, service: Service, result: Delivery) {
        self.slot(service, result).fetch_add(1, Ordering::Relaxed);
    }

    /// The count of one service and result.
    pub fn get(&self, service: Service, result: Delivery) -> u64 {
        self.slot(service, result).load(Ordering::Relaxed)
    }

    /// Publishes the counters on the web endpoint's `/metrics`.
    pub fn register(self: &Arc<Self>, metrics: &chatters_web::metrics::Metrics) {
        let this = self.clone();
        metrics.register(move |w| {
            for service in [Service::Discord, Service::Slack] {
                for result in Delivery::ALL {
                    w.counter_with(
                        "chatters_recaps_total",
                        "Recap and digest delivery attempts by service and result \
                         (sent, retried, given_up, disabled).",
                        &[("service", service.as_str()), ("result", result.as_str())],
                        this.get(service, result),
                    );
                }
            }
        });
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

impl Recaps {
    /// A worker over `figures`' store.
    pub fn new(figures: Figures, config: RecapConfig) -> anyhow::Result<Self> {
        let discord = serenity_reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .context("building the Discord HTTP client")?;
        let slack = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .context("building the Slack HTTP client")?;
        Ok(Self {
            figures,
            config,
            discord,
            slack,
            metrics: Arc::new(RecapMetrics::default()),
            clock: system_clock(),
        })
    }

    /// Replaces the wall clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<RecapMetrics> {
        &self.metrics
    }

    /// Polls and delivers until `cancel` fires (a send in progress is finished first). A
    /// failing pass (database unavailable) is logged and retried at the next poll.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        info!(config = ?self.config, "recaps started");
        loop {
            if let Err(error) = self.pass(&cancel).await {
                warn!(error = format!("{error:#}"), "recap pass failed");
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// One pass: record the recaps and digests now due, then deliver what is due.
    pub async fn pass(&self, cancel: &CancellationToken) -> anyhow::Result<()> {
        self.schedule_recaps().await.context("recording recaps")?;
        self.schedule_digests().await.context("recording digests")?;
        let now = (self.clock)();
        let due = self
            .figures
            .store()
            .due_summaries(now, BATCH)
            .await
            .context("reading due recaps")?;
        for row in due {
            if cancel.is_cancelled() {
                break;
            }
            self.deliver(row).await?;
        }
        Ok(())
    }

    fn now(&self) -> Timestamp {
        Timestamp((self.clock)().div_euclid(1000))
    }

    async fn channels(&self) -> Result<HashMap<ChannelKey, Channel>, StoreError> {
        Ok(self
            .figures
            .store()
            .channels()
            .await?
            .into_iter()
            .map(|c| (c.key, c))
            .collect())
    }

    /// A channel's settings by name.
    async fn settings(&self, channel: &Channel) -> Result<HashMap<String, String>, StoreError> {
        Ok(self
            .figures
            .store()
            .channel_settings(channel.key)
            .await?
            .into_iter()
            .collect())
    }

    /// The webhook of `target` for a channel with these settings, if one is set.
    fn webhook(&self, target: Target, settings: &HashMap<String, String>) -> Option<Webhook> {
        let url = match target.scope {
            Scope::Global => match target.service {
                Service::Discord => self.config.discord_webhook_url.clone(),
                Service::Slack => self.config.slack_webhook_url.clone(),
            },
            Scope::Channel => settings
                .get(target.service.setting())
                .filter(|v| !v.trim().is_empty())
                .map(|v| SecretString::from(v.clone())),
        };
        url.map(Webhook::new)
    }

    /// The configured, enabled destinations of a channel's recaps.
    async fn destinations(&self, channel: &Channel) -> Result<Vec<(Target, Webhook)>, StoreError> {
        let settings = self.settings(channel).await?;
        let disabled = self
            .figures
            .store()
            .disabled_recap_targets(channel.key)
            .await?;
        let mut out: Vec<(Target, Webhook)> = Vec::new();
        for target in Target::ALL {
            let Some(webhook) = self.webhook(target, &settings) else {
                continue;
            };
            let print = webhook.fingerprint();
            let revoked = disabled
                .iter()
                .any(|d| d.target == target.key() && d.url_hash == print);
            // The same webhook set globally and for the channel gets one recap.
            let twice = out
                .iter()
                .any(|(t, w)| t.service == target.service && w.fingerprint() == print);
            if !revoked && !twice {
                out.push((target, webhook));
            }
        }
        Ok(out)
    }

    /// Records a pending recap per destination of every stream that ended recently.
    async fn schedule_recaps(&self) -> Result<(), StoreError> {
        let now = self.now();
        let since = now.plus(-i64::try_from(self.config.lookback.as_secs()).unwrap_or(i64::MAX));
        let store = self.figures.store();
        let streams = store.ended_streams(since).await?;
        if streams.is_empty() {
            return Ok(());
        }
        let channels = self.channels().await?;
        for stream in streams {
            let Some(channel) = channels.get(&stream.channel) else {
                continue;
            };
            let keys: Vec<String> = self
                .destinations(channel)
                .await?
                .iter()
                .map(|(t, _)| Kind::Recap(*t).key())
                .collect();
            let added = store
                .add_summaries(stream.key.0, &keys, (self.clock)())
                .await?;
            if added > 0 {
                info!(channel = %channel.login, stream = %stream.id, targets = added, "recap recorded");
            }
        }
        Ok(())
    }

    /// During the first [`RecapConfig::lookback`] of a week, records the previous week's digest
    /// of every channel that asked for one and streamed then (once its streams have ended).
    async fn schedule_digests(&self) -> Result<(), StoreError> {
        let now = self.now();
        let week = Week::containing(now).previous();
        let lookback = i64::try_from(self.config.lookback.as_secs()).unwrap_or(i64::MAX);
        if now.0 - week.end().0 > lookback {
            return Ok(());
        }
        let store = self.figures.store();
        let wanted = store.channels_with_setting("weekly_digest", "on").await?;
        if wanted.is_empty() {
            return Ok(());
        }
        let channels = self.channels().await?;
        for key in wanted {
            let Some(channel) = channels.get(&key) else {
                continue;
            };
            let streams = digest::week_streams(&self.figures, channel, week).await?;
            if streams.is_empty() || streams.iter().any(|s| s.ended_at.is_none()) {
                continue;
            }
            let keys: Vec<String> = self
                .destinations(channel)
                .await?
                .iter()
                .map(|(t, _)| Kind::Digest(week, *t).key())
                .collect();
            let added = store.add_summaries(key.0, &keys, (self.clock)()).await?;
            if added > 0 {
                info!(channel = %channel.login, %week, targets = added, "weekly digest recorded");
            }
        }
        Ok(())
    }

    /// Claims, sends and marks one due summary.
    async fn deliver(&self, row: Summary) -> anyhow::Result<()> {
        let store = self.figures.store();
        let lease_until = (self.clock)().saturating_add(millis(self.config.claim_lease));
        let claimed = store
            .claim_summary(row.subject, &row.target, row.attempts, lease_until)
            .await
            .context("claiming a recap")?;
        if !claimed {
            return Ok(());
        }
        let attempts = row.attempts + 1;
        let (attempt, destination) = match Kind::parse(&row.target) {
            None => (
                Attempt::Dropped(SummaryState::Failed, "unknown target key"),
                None,
            ),
            Some(kind) => match self.resolve(kind, row.subject).await {
                Ok(Some(to)) => (self.attempt(kind, row.subject, &to).await, Some(to)),
                Ok(None) => (
                    Attempt::Dropped(SummaryState::Failed, "target no longer configured"),
                    None,
                ),
                Err(error) => (
                    Attempt::Made(Outcome::Retry {
                        error: format!("reading the target: {error}"),
                        after: None,
                    }),
                    None,
                ),
            },
        };
        let update = self
            .conclude(&row, attempts, attempt, destination.as_ref())
            .await?;
        let written = store
            .finish_summary(row.subject, &row.target, attempts, &update)
            .await
            .context("recording a recap's delivery")?;
        if !written {
            warn!(target = %row.target, "recap claim expired before its result was recorded");
        }
        Ok(())
    }

    /// The channel and webhook a summary goes to now (`None`: the target is no longer set,
    /// or the subject is gone). A disabled target is still returned: [`Self::attempt`] drops it.
    async fn resolve(&self, kind: Kind, subject: i64) -> Result<Option<Destination>, StoreError> {
        let store = self.figures.store();
        let channel_key = match kind {
            Kind::Recap(_) => match store.stream_by_key(StreamKey(subject)).await? {
                Some(stream) => stream.channel,
                None => return Ok(None),
            },
            Kind::Digest(..) => ChannelKey(subject),
        };
        let Some(channel) = self.channels().await?.remove(&channel_key) else {
            return Ok(None);
        };
        let target = kind.target();
        let settings = self.settings(&channel).await?;
        Ok(self.webhook(target, &settings).map(|webhook| Destination {
            channel,
            target,
            webhook,
        }))
    }

    /// Builds the message and sends it.
    async fn attempt(&self, kind: Kind, subject: i64, to: &Destination) -> Attempt {
        match self.is_disabled(to).await {
            Ok(true) => return Attempt::Dropped(SummaryState::Disabled, "webhook revoked"),
            Ok(false) => {}
            Err(error) => {
                return Attempt::Made(Outcome::Retry {
                    error: format!("reading disabled targets: {error}"),
                    after: None,
                });
            }
        }
        match self.send(kind, subject, to).await {
            Ok(outcome) => Attempt::Made(outcome),
            Err(error) => Attempt::Made(Outcome::Retry {
                error: format!("{error:#}"),
                after: None,
            }),
        }
    }

    async fn is_disabled(&self, to: &Destination) -> Result<bool, StoreError> {
        let print = to.webhook.fingerprint();
        Ok(self
            .figures
            .store()
            .disabled_recap_targets(to.channel.key)
            .await?
            .iter()
            .any(|d| d.target == to.target.key() && d.url_hash == print))
    }

    /// Loads the content and posts it. Errors are failures to load (retried).
    async fn send(&self, kind: Kind, subject: i64, to: &Destination) -> anyhow::Result<Outcome> {
        let base = &self.config.public_base_url;
        match kind {
            Kind::Recap(target) => {
                let stream = self
                    .figures
                    .store()
                    .stream_by_key(StreamKey(subject))
                    .await?
                    .context("the stream is gone")?;
                let recap = Recap::load(&self.figures, &to.channel, &stream, base).await?;
                match target.service {
                    Service::Discord => {
                        let Ok(hook) = DiscordWebhook::parse(&to.webhook) else {
                            return Ok(invalid_discord_url());
                        };
                        let series = self.figures.stream_series(&to.channel, &stream).await?;
                        let png =
                            render(move || charts::stream(&series, &ChartSpec::default())).await;
                        let message = discord::recap_message(&recap, png.is_some());
                        Ok(discord::send(&self.discord, &hook, message, png).await)
                    }
                    Service::Slack => {
                        let public = self.public_page(&to.channel).await?;
                        let message = slack::recap_message(&recap, public);
                        Ok(slack::send(&self.slack, &to.webhook, &message).await)
                    }
                }
            }
            Kind::Digest(week, target) => {
                let digest = Digest::load(&self.figures, &to.channel, week, base).await?;
                match target.service {
                    Service::Discord => {
                        let Ok(hook) = DiscordWebhook::parse(&to.webhook) else {
                            return Ok(invalid_discord_url());
                        };
                        let (from, until) = digest.window();
                        let title = format!("{}: chatters, week {week}", to.channel.login);
                        let series = self
                            .figures
                            .channel_series(&to.channel, from, until, title)
                            .await?;
                        let png =
                            render(move || charts::channel(&series, &ChartSpec::default())).await;
                        let message = discord::digest_message(&digest, png.is_some());
                        Ok(discord::send(&self.discord, &hook, message, png).await)
                    }
                    Service::Slack => {
                        let public = self.public_page(&to.channel).await?;
                        let message = slack::message(
                            &digest.title(),
                            &digest.period(),
                            &digest.fields(),
                            public.then_some((
                                digest.chart_url.as_str(),
                                "chatters over the last 7 days",
                            )),
                            &digest.text(),
                        );
                        Ok(slack::send(&self.slack, &to.webhook, &message).await)
                    }
                }
            }
        }
    }

    /// False when the channel switched its public page (and so its chart URLs) off.
    async fn public_page(&self, channel: &Channel) -> Result<bool, StoreError> {
        let settings = self.figures.store().channel_settings(channel.key).await?;
        Ok(!settings
            .iter()
            .any(|(name, value)| name == PUBLIC_PAGE && is_off(value)))
    }

    /// Turns an attempt into the row's new state, with its log line, metric and (for a
    /// revoked webhook) the disabled-target record.
    async fn conclude(
        &self,
        row: &Summary,
        attempts: i64,
        attempt: Attempt,
        to: Option<&Destination>,
    ) -> Result<SummaryUpdate, StoreError> {
        let now = (self.clock)();
        let service = Kind::parse(&row.target).map_or(Service::Discord, |k| k.target().service);
        let channel = to.map_or_else(|| "?".to_owned(), |d| d.channel.login.to_string());
        let target = row.target.as_str();
        let outcome = match attempt {
            Attempt::Dropped(state, reason) => {
                debug!(%channel, target, reason, "recap dropped");
                return Ok(SummaryUpdate {
                    state,
                    next_at: None,
                    sent_at: None,
                    last_error: Some(reason.to_owned()),
                });
            }
            Attempt::Made(outcome) => outcome,
        };
        Ok(match outcome {
            Outcome::Sent => {
                self.metrics.inc(service, Delivery::Sent);
                info!(%channel, target, attempts, "recap sent");
                SummaryUpdate {
                    state: SummaryState::Sent,
                    next_at: None,
                    sent_at: Some(now),
                    last_error: None,
                }
            }
            Outcome::Retry { error, after } => {
                let delay = backoff(
                    attempts,
                    self.config.retry_base,
                    self.config.retry_max,
                    after,
                );
                let next = now.saturating_add(millis(delay));
                let deadline = row
                    .created_at
                    .unwrap_or(now)
                    .saturating_add(millis(self.config.give_up_after));
                if next > deadline {
                    self.metrics.inc(service, Delivery::GivenUp);
                    error!(%channel, target, attempts, error, "recap given up after retrying");
                    SummaryUpdate {
                        state: SummaryState::Failed,
                        next_at: None,
                        sent_at: None,
                        last_error: Some(error),
                    }
                } else {
                    self.metrics.inc(service, Delivery::Retried);
                    warn!(%channel, target, attempts, error, retry_in = ?delay, "recap not delivered, retrying");
                    SummaryUpdate {
                        state: SummaryState::Pending,
                        next_at: Some(next),
                        sent_at: None,
                        last_error: Some(error),
                    }
                }
            }
            Outcome::Rejected { error } => {
                self.metrics.inc(service, Delivery::GivenUp);
                error!(%channel, target, attempts, error, "recap refused by the webhook, given up");
                SummaryUpdate {
                    state: SummaryState::Failed,
                    next_at: None,
                    sent_at: None,
                    last_error: Some(error),
                }
            }
            Outcome::Revoked { status } => {
                self.metrics.inc(service, Delivery::Disabled);
                if let Some(to) = to {
                    self.figures
                        .store()
                        .disable_recap_target(&DisabledTarget {
                            channel: to.channel.key,
                            target: to.target.key().to_owned(),
                            url_hash: to.webhook.fingerprint(),
                            status: i64::from(status),
                            disabled_at: self.now(),
                        })
                        .await?;
                    warn!(
                        %channel,
                        target = to.target.key(),
                        status,
                        "webhook revoked: no more recaps go to this target for this channel \
                         until its URL is set again"
                    );
                }
                SummaryUpdate {
                    state: SummaryState::Disabled,
                    next_at: None,
                    sent_at: None,
                    last_error: Some(format!("HTTP {status}")),
                }
            }
        })
    }
}

fn invalid_discord_url() -> Outcome {
    Outcome::Rejected {
        error: discord::InvalidWebhook.to_string(),
    }
}

/// Renders a chart on the blocking pool; a failure is logged and the recap goes without it.
async fn render(
    draw: impl FnOnce() -> Result<Vec<u8>, charts::ChartError> + Send + 'static,
) -> Option<Vec<u8>> {
    match tokio::task::spawn_blocking(draw).await {
        Ok(Ok(png)) => Some(png),
        Ok(Err(error)) => {
            warn!(%error, "recap chart failed, sending without it");
            None
        }
        Err(error) => {
            warn!(%error, "recap chart task failed, sending without it");
            None
        }
    }
}
