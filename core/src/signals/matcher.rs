//! [`Matcher`]: one channel's emote sets, the mood lexicon and the channel's mood rules as hash
//! maps, and the scan of one message against them.
//!
//! A word is looked up at most four times (the channel's exact names, the shared exact names,
//! then the lower-cased word in the channel's and the shared words), each a `FxHashMap` probe
//! on a borrowed `&str`: no allocation for ASCII words up to 64 bytes, and words longer than
//! every key are not looked up at all (BENCHMARKS.md: "Chat signals").

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::emote::{Emote, MessageSignals, Provider};
use super::mood::{Lexicon, Mood, MoodSet};
use super::twitch::{Span, read_tag};

/// One provider's set for a channel or the global one: `(id, name)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmoteSet {
    /// Provider.
    pub provider: Provider,
    /// The emotes: `(id, name)`.
    pub emotes: Vec<(String, String)>,
}

/// A channel's change to the lexicon (`channel set <login> mood.<mood>.add|remove <word>`). A
/// word with a capital letter is an emote name, matched exactly; any other is matched in any
/// case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MoodRule {
    /// The mood.
    pub mood: Mood,
    /// The word or emote name.
    pub word: String,
    /// `true`: the word carries the mood here; `false`: it does not (even if the lexicon says so).
    pub add: bool,
}

impl MoodRule {
    /// Whether the word is matched exactly (it has a capital letter).
    pub fn is_exact(&self) -> bool {
        self.word.chars().any(char::is_uppercase)
    }
}

/// What an exact name means.
#[derive(Debug, Clone, Default)]
struct Entry {
    /// The emote it names, if any.
    emote: Option<Arc<Emote>>,
    /// Moods it carries.
    mood: MoodSet,
    /// Moods it does not carry here (channel rules only).
    unmood: MoodSet,
}

/// What every channel shares: the global sets (in precedence order) and the lexicon.
#[derive(Debug, Default)]
pub struct Shared {
    exact: FxHashMap<Box<str>, Entry>,
    words: FxHashMap<Box<str>, MoodSet>,
    max_len: usize,
}

impl Shared {
    /// The lexicon and the global sets. Sets are given in any order: on a name clash 7TV beats
    /// BetterTTV, which beats FrankerFaceZ.
    pub fn new(lexicon: &Lexicon, globals: &[EmoteSet]) -> Self {
        let mut exact: FxHashMap<Box<str>, Entry> = FxHashMap::default();
        add_sets(&mut exact, globals);
        for (name, mood) in &lexicon.emotes {
            exact.entry(name.clone()).or_default().mood = *mood;
        }
        let words = lexicon.words.clone();
        let max_len = exact.keys().chain(words.keys()).map(|k| k.len()).max();
        Self {
            exact,
            words,
            max_len: max_len.unwrap_or(0),
        }
    }

    /// Emote names known globally.
    pub fn emotes(&self) -> usize {
        self.exact.values().filter(|e| e.emote.is_some()).count()
    }
}

/// Inserts the sets' emotes, the better provider first so it wins a clash.
fn add_sets(map: &mut FxHashMap<Box<str>, Entry>, sets: &[EmoteSet]) {
    let mut sets: Vec<&EmoteSet> = sets.iter().collect();
    sets.sort_by_key(|s| s.provider);
    for set in sets {
        for (id, name) in &set.emotes {
            if name.is_empty() || name.contains(' ') {
                continue;
            }
            let entry = map.entry(name.as_str().into()).or_default();
            if entry.emote.is_none() {
                entry.emote = Some(Arc::new(Emote {
                    provider: set.provider,
                    id: id.as_str().into(),
                    name: name.as_str().into(),
                }));
            }
        }
    }
}

/// One channel's matcher: its own sets and mood rules over the [`Shared`] part.
#[derive(Debug)]
pub struct Matcher {
    channel: FxHashMap<Box<str>, Entry>,
    /// Lower-case word → (moods added, moods removed) by the channel's rules.
    channel_words: FxHashMap<Box<str>, (MoodSet, MoodSet)>,
    shared: Arc<Shared>,
    max_len: usize,
}

/// Longest word lower-cased on the stack.
const STACK_WORD: usize = 64;

impl Matcher {
    /// A channel's matcher: its sets (any channel set beats every global one) and rules.
    pub fn new(shared: Arc<Shared>, channel_sets: &[EmoteSet], rules: &[MoodRule]) -> Self {
        let mut channel = FxHashMap::default();
        add_sets(&mut channel, channel_sets);
        let mut channel_words: FxHashMap<Box<str>, (MoodSet, MoodSet)> = FxHashMap::default();
        for rule in rules {
            let one = MoodSet::of(rule.mood);
            if rule.is_exact() {
                let e: &mut Entry = channel.entry(rule.word.as_str().into()).or_default();
                if rule.add {
                    e.mood = e.mood.union(one);
                    e.unmood = e.unmood.without(one);
                } else {
                    e.unmood = e.unmood.union(one);
                    e.mood = e.mood.without(one);
                }
            } else {
                let e = channel_words
                    .entry(rule.word.to_lowercase().into_boxed_str())
                    .or_default();
                if rule.add {
                    *e = (e.0.union(one), e.1.without(one));
                } else {
                    *e = (e.0.without(one), e.1.union(one));
                }
            }
        }
        let own = channel
            .keys()
            .chain(channel_words.keys())
            .map(|k| k.len())
            .max()
            .unwrap_or(0);
        let max_len = own.max(shared.max_len);
        Self {
            channel,
            channel_words,
            shared,
            max_len,
        }
    }

    /// The lexicon alone, without any emote set (a channel whose sets are not known yet).
    pub fn lexicon_only(lexicon: &Lexicon) -> Self {
        Self::new(Arc::new(Shared::new(lexicon, &[])), &[], &[])
    }

    /// Emote names this channel knows of its own.
    pub fn channel_emotes(&self) -> usize {
        self.channel.values().filter(|e| e.emote.is_some()).count()
    }

    /// Scans one message: the `emotes` tag's emotes, third-party emotes among the words not
    /// covered by a Twitch position, and the moods of every word.
    pub fn scan(&self, text: &str, emotes_tag: Option<&str>) -> MessageSignals {
        let text = strip_action(text);
        let mut out = MessageSignals::default();
        let mut covered: Vec<Span> = Vec::new();
        if let Some(tag) = emotes_tag.filter(|t| !t.is_empty()) {
            read_tag(tag, text, &mut out, &mut covered);
        }
        let ascii = covered.is_empty() || text.is_ascii();
        let mut pos = 0u32;
        for word in text.split(' ') {
            let len = if ascii {
                word.len()
            } else {
                word.chars().count()
            };
            let len = u32::try_from(len).unwrap_or(u32::MAX);
            if !word.is_empty() && word.len() <= self.max_len {
                let end = pos.saturating_add(len) - 1;
                let is_covered = covered.iter().any(|&(a, b)| a <= end && b >= pos);
                self.word(word, is_covered, &mut out);
            }
            pos = pos.saturating_add(len).saturating_add(1);
        }
        out
    }

    fn word(&self, word: &str, covered: bool, out: &mut MessageSignals) {
        let own = if self.channel.is_empty() {
            None
        } else {
            self.channel.get(word)
        };
        let shared = self.shared.exact.get(word);
        if !covered
            && let Some(emote) = own
                .and_then(|e| e.emote.as_ref())
                .or_else(|| shared.and_then(|e| e.emote.as_ref()))
        {
            out.add_emote(emote, 1);
        }
        let mut mood = shared.map_or(MoodSet::EMPTY, |e| e.mood);
        if let Some(e) = own {
            mood = mood.without(e.unmood).union(e.mood);
        }
        out.mood = out.mood.union(mood).union(self.word_mood(word));
    }

    /// The moods of a word matched case-insensitively (then without surrounding punctuation).
    fn word_mood(&self, word: &str) -> MoodSet {
        let mut buf = [0u8; STACK_WORD];
        let owned;
        let lower: &str = if !word.bytes().any(|b| b.is_ascii_uppercase()) && word.is_ascii() {
            word
        } else if word.is_ascii() && word.len() <= STACK_WORD {
            let b = &mut buf[..word.len()];
            b.copy_from_slice(word.as_bytes());
            b.make_ascii_lowercase();
            std::str::from_utf8(b).unwrap_or(word)
        } else {
            owned = word.to_lowercase();
            &owned
        };
        let mood = self.lookup_word(lower);
        if !mood.is_empty() {
            return mood;
        }
        let trimmed = lower.trim_matches(|c: char| c.is_ascii_punctuation());
        if trimmed.is_empty() || trimmed.len() == lower.len() {
            return mood;
        }
        self.lookup_word(trimmed)
    }

    fn lookup_word(&self, lower: &str) -> MoodSet {
        let mut mood = self
            .shared
            .words
            .get(lower)
            .copied()
            .unwrap_or(MoodSet::EMPTY);
        if !self.channel_words.is_empty()
            && let Some((add, remove)) = self.channel_words.get(lower)
        {
            mood = mood.without(*remove).union(*add);
        }
        mood
    }
}

/// The text of a `/me` line without its CTCP wrapper (Twitch's positions count from inside).
fn strip_action(text: &str) -> &str {
    text.strip_prefix("\u{1}ACTION ")
        .map(|t| t.strip_suffix('\u{1}').unwrap_or(t))
        .unwrap_or(text)
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
