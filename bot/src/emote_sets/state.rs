//! The refresher's state: per provider the global set and per joined channel its own sets, each
//! with when it is due, and the channel's mood rules; the matchers are rebuilt from it when
//! something changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chatters_core::domain::{Login, UserId};
use chatters_core::signals::{EmoteSet, Lexicon, Matcher, MoodRule, Provider, Shared};
use rustc_hash::FxHashMap;
use tokio::time::Instant;

use super::providers::{Emotes, FetchError};

/// One set of one provider: what it gave last and when to ask again.
#[derive(Debug)]
struct Source {
    /// The last set read (`None`: never read).
    emotes: Option<Emotes>,
    /// When to fetch it (again).
    due: Instant,
    /// Failures in a row.
    failures: u32,
}

impl Source {
    fn new(now: Instant) -> Self {
        Self {
            emotes: None,
            due: now,
            failures: 0,
        }
    }
}

/// A joined channel.
#[derive(Debug)]
struct Channel {
    twitch_id: Option<UserId>,
    sources: [Source; 3],
    rules: Vec<MoodRule>,
    /// Its matcher must be rebuilt.
    dirty: bool,
}

/// What is published: the matchers by channel login, and the fallback for other channels.
pub(super) type Published = (FxHashMap<Box<str>, Arc<Matcher>>, Arc<Matcher>);

/// One fetch to do: a provider's global set (`login: None`) or a channel's.
#[derive(Debug, Clone)]
pub(super) struct Fetch {
    pub(super) provider: Provider,
    pub(super) login: Option<Login>,
    pub(super) twitch_id: Option<UserId>,
}

/// Everything fetched, and what is due.
#[derive(Debug)]
pub(super) struct State {
    lexicon: Lexicon,
    /// Providers that are on, in [`Provider::THIRD_PARTY`] order.
    enabled: [bool; 3],
    globals: [Source; 3],
    channels: BTreeMap<Login, Channel>,
    /// Globals changed: every matcher is rebuilt.
    shared_dirty: bool,
    shared: Arc<Shared>,
    matchers: FxHashMap<Box<str>, Arc<Matcher>>,
}

fn slot(provider: Provider) -> usize {
    match provider {
        Provider::SevenTv => 0,
        Provider::Bttv => 1,
        _ => 2,
    }
}

impl State {
    pub(super) fn new(lexicon: Lexicon, enabled: [bool; 3], now: Instant) -> Self {
        let shared = Arc::new(Shared::new(&lexicon, &[]));
        Self {
            lexicon,
            enabled,
            globals: std::array::from_fn(|_| Source::new(now)),
            channels: BTreeMap::new(),
            shared_dirty: true,
            shared,
            matchers: FxHashMap::default(),
        }
    }

    /// Follows the joined channels: new ones are due at once, left ones are forgotten.
    pub(super) fn set_wanted(&mut self, wanted: &BTreeSet<Login>, now: Instant) {
        let before = self.channels.len();
        self.channels.retain(|login, _| wanted.contains(login));
        if self.channels.len() != before {
            self.shared_dirty = true;
        }
        for login in wanted {
            self.channels
                .entry(login.clone())
                .or_insert_with(|| Channel {
                    twitch_id: None,
                    sources: std::array::from_fn(|_| Source::new(now)),
                    rules: Vec::new(),
                    dirty: true,
                });
        }
    }

    /// A joined channel's id and mood rules as stored (ignored for channels not joined).
    pub(super) fn set_channel(
        &mut self,
        login: &Login,
        twitch_id: Option<UserId>,
        rules: Vec<MoodRule>,
        now: Instant,
    ) {
        let Some(ch) = self.channels.get_mut(login) else {
            return;
        };
        if ch.twitch_id != twitch_id {
            ch.twitch_id = twitch_id;
            for s in &mut ch.sources {
                s.due = now;
                s.failures = 0;
            }
        }
        if ch.rules != rules {
            ch.rules = rules;
            ch.dirty = true;
        }
    }

    fn enabled(&self) -> impl Iterator<Item = Provider> + '_ {
        Provider::THIRD_PARTY
            .into_iter()
            .filter(|p| self.enabled[slot(*p)])
    }

    /// The fetches due at `now`, at most `limit`, globals first (and only once a channel is
    /// joined: a process that tracks nothing asks no provider anything).
    pub(super) fn due(&self, now: Instant, limit: usize) -> Vec<Fetch> {
        let mut out = Vec::new();
        if self.channels.is_empty() {
            return out;
        }
        for p in self.enabled() {
            if self.globals[slot(p)].due <= now {
                out.push(Fetch {
                    provider: p,
                    login: None,
                    twitch_id: None,
                });
            }
        }
        for (login, ch) in &self.channels {
            let Some(id) = ch.twitch_id else {
                continue;
            };
            for p in self.enabled() {
                if ch.sources[slot(p)].due <= now {
                    out.push(Fetch {
                        provider: p,
                        login: Some(login.clone()),
                        twitch_id: Some(id),
                    });
                }
            }
            if out.len() >= limit {
                break;
            }
        }
        out.truncate(limit);
        out
    }

    /// Whether a fetch is due at `now`.
    pub(super) fn has_due(&self, now: Instant) -> bool {
        self.next_due().is_some_and(|d| d <= now)
    }

    /// When the next fetch is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        if self.channels.is_empty() {
            return None;
        }
        let globals = self.enabled().map(|p| self.globals[slot(p)].due);
        let channels = self
            .channels
            .values()
            .filter(|c| c.twitch_id.is_some())
            .flat_map(|c| self.enabled().map(|p| c.sources[slot(p)].due));
        globals.chain(channels).min()
    }

    /// Records a fetch's outcome.
    pub(super) fn fetched(
        &mut self,
        fetch: &Fetch,
        result: Result<Emotes, FetchError>,
        now: Instant,
        refresh: Duration,
        retry: Duration,
    ) {
        let i = slot(fetch.provider);
        let (source, changed) = match &fetch.login {
            None => (&mut self.globals[i], &mut self.shared_dirty),
            Some(login) => match self.channels.get_mut(login) {
                Some(ch) => (&mut ch.sources[i], &mut ch.dirty),
                None => return,
            },
        };
        match result {
            Ok(emotes) => {
                if source.failures > 0 {
                    tracing::info!(provider = %fetch.provider, channel = ?fetch.login.as_ref().map(Login::as_str), "emote set read again");
                }
                source.failures = 0;
                source.due = now + refresh;
                if source.emotes.as_ref() != Some(&emotes) {
                    source.emotes = Some(emotes);
                    *changed = true;
                }
            }
            Err(error) => {
                source.failures += 1;
                let factor = 2u32.saturating_pow(source.failures.saturating_sub(1).min(16));
                source.due = now + retry.saturating_mul(factor).min(refresh);
                let channel = fetch.login.as_ref().map(Login::as_str);
                if source.failures == 1 {
                    tracing::warn!(provider = %fetch.provider, ?channel, %error, "emote set fetch failed; keeping the last set and retrying later (tracking goes on)");
                } else {
                    tracing::debug!(provider = %fetch.provider, ?channel, %error, failures = source.failures, "emote set fetch failed again");
                }
            }
        }
    }

    fn sets(provider_sources: &[Source; 3]) -> Vec<EmoteSet> {
        Provider::THIRD_PARTY
            .into_iter()
            .filter_map(|p| {
                provider_sources[slot(p)].emotes.as_ref().map(|e| EmoteSet {
                    provider: p,
                    emotes: e.clone(),
                })
            })
            .collect()
    }

    /// Rebuilds what changed: `Some((matchers by channel, fallback))` to publish, or `None`.
    pub(super) fn rebuild(&mut self) -> Option<Published> {
        let all = self.shared_dirty;
        if all {
            self.shared = Arc::new(Shared::new(&self.lexicon, &Self::sets(&self.globals)));
            self.matchers.clear();
        }
        let mut changed = all;
        for (login, ch) in &mut self.channels {
            if !(all || ch.dirty) {
                continue;
            }
            ch.dirty = false;
            changed = true;
            let matcher = Matcher::new(self.shared.clone(), &Self::sets(&ch.sources), &ch.rules);
            self.matchers
                .insert(login.as_str().into(), Arc::new(matcher));
        }
        self.shared_dirty = false;
        if !changed {
            return None;
        }
        self.matchers
            .retain(|login, _| Login::parse(login).is_ok_and(|l| self.channels.contains_key(&l)));
        let fallback = Arc::new(Matcher::new(self.shared.clone(), &[], &[]));
        Some((self.matchers.clone(), fallback))
    }
}
