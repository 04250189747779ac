//! [`Registry`]: every channel's [`Matcher`] behind one atomic pointer. The IRC task reads it
//! for every message (one `ArcSwap::load`, one map probe); the emote-set refresher builds new
//! matchers off to the side and publishes them all at once, so a scan never waits for a
//! refresh and never sees half of one.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use super::emote::MessageSignals;
use super::matcher::Matcher;
use super::mood::Lexicon;

/// The matchers in force.
#[derive(Debug)]
struct Matchers {
    /// By channel login.
    by_channel: FxHashMap<Box<str>, Arc<Matcher>>,
    /// For channels without one of their own (the lexicon and the global sets).
    fallback: Arc<Matcher>,
}

/// Every channel's matcher, swapped atomically. Cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<ArcSwap<Matchers>>,
}

impl Registry {
    /// A registry where every channel uses the lexicon alone (no emote sets yet).
    pub fn new(lexicon: &Lexicon) -> Self {
        Self::with_fallback(Arc::new(Matcher::lexicon_only(lexicon)))
    }

    /// A registry where every channel uses `fallback`.
    pub fn with_fallback(fallback: Arc<Matcher>) -> Self {
        Self {
            inner: Arc::new(ArcSwap::from_pointee(Matchers {
                by_channel: FxHashMap::default(),
                fallback,
            })),
        }
    }

    /// Scans one message of `channel` with its matcher.
    pub fn scan(&self, channel: &str, text: &str, emotes_tag: Option<&str>) -> MessageSignals {
        let matchers = self.inner.load();
        matchers
            .by_channel
            .get(channel)
            .unwrap_or(&matchers.fallback)
            .scan(text, emotes_tag)
    }

    /// The matcher `channel` uses now.
    pub fn matcher(&self, channel: &str) -> Arc<Matcher> {
        let matchers = self.inner.load();
        matchers
            .by_channel
            .get(channel)
            .unwrap_or(&matchers.fallback)
            .clone()
    }

    /// Replaces every matcher at once.
    pub fn publish(&self, by_channel: FxHashMap<Box<str>, Arc<Matcher>>, fallback: Arc<Matcher>) {
        self.inner.store(Arc::new(Matchers {
            by_channel,
            fallback,
        }));
    }
}

impl Default for Registry {
    /// The shipped lexicon, no emote sets.
    fn default() -> Self {
        Self::new(&Lexicon::shipped())
    }
}
