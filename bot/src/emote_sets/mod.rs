//! The emote-set refresher (task `emote_sets`): fetches the 7TV, BetterTTV and FrankerFaceZ
//! sets of every joined channel (when it is joined, then hourly) and the global ones, reads
//! the channels' mood rules (`mood.<mood>.add|remove`, every 10 s), and publishes a new
//! [`Matcher`] per channel to the [`Registry`] the IRC task scans messages with.
//!
//! A provider that fails (unreachable, an error status, unexpected JSON) keeps the sets it gave
//! last and is asked again after a backoff (1 min doubling up to the refresh period), with one
//! warning per failure streak: nothing here ever stops tracking. A channel whose Twitch id is
//! not known yet gets the global sets until it is.
//!
//! # Layout
//! - `providers`: each provider's URLs and JSON.
//! - `state`: what was fetched, what is due, and the matchers built from it.

mod providers;
mod state;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chatters_core::channel_settings::mood_rules;
use chatters_core::domain::{Login, UserId};
use chatters_core::settings::{EmoteProviders, Settings};
use chatters_core::signals::{Lexicon, Provider, Registry};
use chatters_core::store::Store;
use futures::StreamExt as _;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use providers::{Emotes, FetchError, parse, url};
use state::{Fetch, State};

/// How often the sets of a channel (and the global ones) are fetched again.
pub const REFRESH: Duration = Duration::from_secs(3600);
/// First retry after a failed fetch (doubling, at most [`REFRESH`]).
pub const RETRY: Duration = Duration::from_secs(60);
/// How often channel ids and mood rules are read from the store.
pub const RELOAD: Duration = Duration::from_secs(10);
/// Timeout of one fetch.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Fetches in flight at once.
const CONCURRENCY: usize = 8;
/// Fetches started per round (the wanted set and the store are looked at between rounds).
const ROUND: usize = 64;

/// Settings of the refresher.
#[derive(Debug, Clone)]
pub struct EmoteSetsConfig {
    /// The providers' base URLs (`None`: off).
    pub providers: EmoteProviders,
    /// See [`REFRESH`].
    pub refresh: Duration,
    /// See [`RETRY`].
    pub retry: Duration,
    /// See [`RELOAD`].
    pub reload: Duration,
    /// See [`TIMEOUT`].
    pub timeout: Duration,
}

impl EmoteSetsConfig {
    /// The defaults, with the providers of `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(settings.emote_providers.clone())
    }

    /// The defaults for these providers.
    pub fn new(providers: EmoteProviders) -> Self {
        Self {
            providers,
            refresh: REFRESH,
            retry: RETRY,
            reload: RELOAD,
            timeout: TIMEOUT,
        }
    }

    fn base(&self, provider: Provider) -> Option<&Url> {
        match provider {
            Provider::SevenTv => self.providers.seventv.as_ref(),
            Provider::Bttv => self.providers.bttv.as_ref(),
            Provider::Ffz => self.providers.ffz.as_ref(),
            Provider::Twitch => None,
        }
    }
}

/// The refresher.
#[derive(Debug)]
pub struct EmoteSets {
    config: EmoteSetsConfig,
    http: reqwest::Client,
    store: Arc<Store>,
    registry: Registry,
    state: State,
}

impl EmoteSets {
    /// A refresher publishing to `registry`, with the shipped lexicon.
    pub fn new(
        config: EmoteSetsConfig,
        store: Arc<Store>,
        registry: Registry,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("chatters/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let enabled = Provider::THIRD_PARTY.map(|p| config.base(p).is_some());
        Ok(Self {
            state: State::new(Lexicon::shipped(), enabled, Instant::now()),
            config,
            http,
            store,
            registry,
        })
    }

    /// Runs until `cancel` fires, following the joined channels in `wanted`.
    pub async fn run(
        mut self,
        mut wanted: watch::Receiver<BTreeSet<Login>>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut next_reload = Instant::now();
        loop {
            let set = wanted.borrow_and_update().clone();
            self.state.set_wanted(&set, Instant::now());
            if Instant::now() >= next_reload {
                self.reload().await;
                next_reload = Instant::now() + self.config.reload;
            }
            let due = self.state.due(Instant::now(), ROUND);
            if !due.is_empty() {
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    () = self.fetch_all(due) => {}
                }
            }
            if let Some((by_channel, fallback)) = self.state.rebuild() {
                self.registry.publish(by_channel, fallback);
            }
            if self.state.has_due(Instant::now()) {
                continue;
            }
            let wake = self
                .state
                .next_due()
                .map_or(next_reload, |d| d.min(next_reload));
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                _ = wanted.changed() => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Reads channel ids and mood rules (a failed read keeps what is known).
    async fn reload(&mut self) {
        let channels = match self.store.channels().await {
            Ok(c) => c,
            Err(error) => {
                tracing::debug!(%error, "reading channels for emote sets failed; trying again later");
                return;
            }
        };
        let rules = match mood_rules(&self.store).await {
            Ok(r) => r,
            Err(error) => {
                tracing::debug!(%error, "reading mood rules failed; trying again later");
                return;
            }
        };
        for channel in channels {
            let mut own = rules.get(&channel.key).cloned().unwrap_or_default();
            own.sort();
            self.state
                .set_channel(&channel.login, channel.twitch_id, own, Instant::now());
        }
    }

    async fn fetch_all(&mut self, due: Vec<Fetch>) {
        let this: &Self = self;
        let results: Vec<(Fetch, Result<Emotes, FetchError>)> = futures::stream::iter(due)
            .map(|f| async move {
                let result = this.fetch(f.provider, f.twitch_id).await;
                (f, result)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let now = Instant::now();
        for (f, result) in results {
            self.state
                .fetched(&f, result, now, self.config.refresh, self.config.retry);
        }
    }

    async fn fetch(
        &self,
        provider: Provider,
        channel: Option<UserId>,
    ) -> Result<Emotes, FetchError> {
        let base = self.config.base(provider).ok_or(FetchError::Url)?;
        let response = self.http.get(url(provider, base, channel)?).send().await?;
        let status = response.status().as_u16();
        if status == 404 && channel.is_some() {
            return Ok(Vec::new());
        }
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        let body = response.bytes().await?;
        parse(provider, channel.is_some(), &body)
    }
}
