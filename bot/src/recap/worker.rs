//! The worker's loop and one delivery: claim, send, record the result (with its log line,
//! metric, retry time or disabled target).

use std::sync::Arc;

use anyhow::Context as _;
use chatters_core::domain::Timestamp;
use chatters_core::stats::Figures;
use chatters_core::store::{
    ChannelKey, DisabledTarget, StoreError, StreamKey, Summary, SummaryState, SummaryUpdate,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::outcome::{Outcome, backoff};
use super::{
    Attempt, BATCH, Clock, Delivery, Destination, Kind, RecapConfig, RecapMetrics, Recaps, Service,
    millis, system_clock,
};

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
            examined: std::sync::Mutex::default(),
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

    pub(super) fn now(&self) -> Timestamp {
        Timestamp((self.clock)().div_euclid(1000))
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

    /// Turns an attempt into the row's new state, with its log line, metric and (for a
    /// revoked webhook) the disabled-target record.
    async fn conclude(
        &self,
        row: &Summary,
        attempts: i64,
        attempt: Attempt,
        to: Option<&Destination>,
    ) -> Result<SummaryUpdate, StoreError> {
        let service = Kind::parse(&row.target).map_or(Service::Discord, |k| k.target().service);
        let channel = to.map_or_else(|| "?".to_owned(), |d| d.channel.login.to_string());
        let target = row.target.as_str();
        let outcome = match attempt {
            Attempt::Dropped(state, reason) => {
                debug!(%channel, target, reason, "recap dropped");
                return Ok(update(state, None, None, Some(reason.to_owned())));
            }
            Attempt::Made(outcome) => outcome,
        };
        let now = (self.clock)();
        Ok(match outcome {
            Outcome::Sent => {
                self.metrics.inc(service, Delivery::Sent);
                info!(%channel, target, attempts, "recap sent");
                update(SummaryState::Sent, None, Some(now), None)
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
                    update(SummaryState::Failed, None, None, Some(error))
                } else {
                    self.metrics.inc(service, Delivery::Retried);
                    warn!(%channel, target, attempts, error, retry_in = ?delay, "recap not delivered, retrying");
                    update(SummaryState::Pending, Some(next), None, Some(error))
                }
            }
            Outcome::Rejected { error } => {
                self.metrics.inc(service, Delivery::GivenUp);
                error!(%channel, target, attempts, error, "recap refused by the webhook, given up");
                update(SummaryState::Failed, None, None, Some(error))
            }
            Outcome::Revoked { status } => {
                self.metrics.inc(service, Delivery::Disabled);
                if let Some(to) = to {
                    self.disable(to, status).await?;
                }
                update(
                    SummaryState::Disabled,
                    None,
                    None,
                    Some(format!("HTTP {status}")),
                )
            }
        })
    }

    /// Records a revoked webhook (before the row is marked, so a crash in between still finds
    /// it disabled) and reports it: the one warning about it.
    async fn disable(&self, to: &Destination, status: u16) -> Result<(), StoreError> {
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
            channel = %to.channel.login,
            target = to.target.key(),
            status,
            "webhook revoked: no more recaps go to this target for this channel until its URL \
             is set again"
        );
        Ok(())
    }
}

fn update(
    state: SummaryState,
    next_at: Option<i64>,
    sent_at: Option<i64>,
    last_error: Option<String>,
) -> SummaryUpdate {
    SummaryUpdate {
        state,
        next_at,
        sent_at,
        last_error,
    }
}
