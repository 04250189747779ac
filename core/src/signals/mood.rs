//! The six moods, a message's set of them ([`MoodSet`], one byte), per-stream totals
//! ([`MoodTotals`]) and the lexicon that maps emote names and words to them ([`Lexicon`],
//! shipped as `assets/mood.toml`).

use std::fmt;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// One of the six moods of the SPEC, in the order of the JSON objects and the mood strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mood {
    /// PogChamp, POGGERS, "hype".
    Hype,
    /// LUL, KEKW, "lol".
    Laughter,
    /// `<3`, peepoLove.
    Love,
    /// BibleThump, Sadge.
    Sadness,
    /// DansGame, WeirdChamp.
    Anger,
    /// monkaS, `D:`.
    Tension,
}

impl Mood {
    /// Every mood, in order.
    pub const ALL: [Mood; 6] = [
        Mood::Hype,
        Mood::Laughter,
        Mood::Love,
        Mood::Sadness,
        Mood::Anger,
        Mood::Tension,
    ];

    /// The lower-case name used in JSON, settings keys and `assets/mood.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hype => "hype",
            Self::Laughter => "laughter",
            Self::Love => "love",
            Self::Sadness => "sadness",
            Self::Anger => "anger",
            Self::Tension => "tension",
        }
    }

    /// The mood of a name (exact, lower case).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Its position in [`Mood::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Mood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of moods (one bit each): what one message carries, each mood at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MoodSet(u8);

impl MoodSet {
    /// No mood.
    pub const EMPTY: MoodSet = MoodSet(0);

    /// The set of one mood.
    pub fn of(mood: Mood) -> Self {
        Self(mood.bit())
    }

    /// Whether no mood is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `mood` is in the set.
    pub fn contains(self, mood: Mood) -> bool {
        self.0 & mood.bit() != 0
    }

    /// Adds a mood.
    pub fn insert(&mut self, mood: Mood) {
        self.0 |= mood.bit();
    }

    /// Both sets.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// This set without `other`'s moods.
    #[must_use]
    pub fn without(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// The moods in the set, in order.
    pub fn iter(self) -> impl Iterator<Item = Mood> {
        Mood::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

/// Message counts per mood (a stream's `mood` object, or a minute's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MoodTotals {
    /// Messages carrying hype.
    pub hype: i64,
    /// Messages carrying laughter.
    pub laughter: i64,
    /// Messages carrying love.
    pub love: i64,
    /// Messages carrying sadness.
    pub sadness: i64,
    /// Messages carrying anger.
    pub anger: i64,
    /// Messages carrying tension.
    pub tension: i64,
}

impl MoodTotals {
    /// From counts in [`Mood::ALL`] order.
    pub fn from_array(c: [i64; 6]) -> Self {
        Self {
            hype: c[0],
            laughter: c[1],
            love: c[2],
            sadness: c[3],
            anger: c[4],
            tension: c[5],
        }
    }

    /// Counts in [`Mood::ALL`] order.
    pub fn to_array(self) -> [i64; 6] {
        [
            self.hype,
            self.laughter,
            self.love,
            self.sadness,
            self.anger,
            self.tension,
        ]
    }

    /// The count of one mood.
    pub fn get(self, mood: Mood) -> i64 {
        self.to_array()[mood.index()]
    }

    /// Adds one message's moods.
    pub fn add(&mut self, moods: MoodSet) {
        let mut c = self.to_array();
        for m in moods.iter() {
            c[m.index()] += 1;
        }
        *self = Self::from_array(c);
    }

    /// Sums two totals.
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        let (a, b) = (self.to_array(), other.to_array());
        Self::from_array(std::array::from_fn(|i| a[i] + b[i]))
    }
}

/// Why `assets/mood.toml` (or another lexicon) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexiconError {
    /// Not TOML.
    #[error("mood lexicon is not TOML: {0}")]
    Toml(String),
    /// A table that is not one of the six moods.
    #[error(
        "mood lexicon: unknown mood {0:?} (expected hype, laughter, love, sadness, anger or tension)"
    )]
    UnknownMood(String),
    /// A value that is not a list of strings without spaces.
    #[error("mood lexicon: {0} must be a list of single words")]
    NotWords(String),
}

/// Emote names (exact, case-sensitive) and words (case-insensitive, stored lower case) mapped
/// to moods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    /// Emote name → its moods (matched exactly).
    pub emotes: FxHashMap<Box<str>, MoodSet>,
    /// Lower-case word → its moods (matched case-insensitively).
    pub words: FxHashMap<Box<str>, MoodSet>,
}

/// The shipped lexicon's text.
pub const SHIPPED_LEXICON: &str = include_str!("../../../assets/mood.toml");

impl Lexicon {
    /// The shipped lexicon (`assets/mood.toml`, embedded).
    pub fn shipped() -> Self {
        Self::parse(SHIPPED_LEXICON).expect("the shipped mood lexicon is valid (tested)")
    }

    /// Parses a lexicon: one table per mood, each with `emotes` and `words` lists.
    pub fn parse(text: &str) -> Result<Self, LexiconError> {
        let doc: toml_edit::DocumentMut = text
            .parse()
            .map_err(|e: toml_edit::TomlError| LexiconError::Toml(e.to_string()))?;
        let mut lexicon = Self::default();
        for (name, item) in doc.iter() {
            let mood = Mood::parse(name).ok_or_else(|| LexiconError::UnknownMood(name.into()))?;
            let table = item
                .as_table_like()
                .ok_or_else(|| LexiconError::NotWords(name.into()))?;
            for (list, item) in table.iter() {
                let exact = match list {
                    "emotes" => true,
                    "words" => false,
                    other => return Err(LexiconError::NotWords(format!("{name}.{other}"))),
                };
                let what = || LexiconError::NotWords(format!("{name}.{list}"));
                let array = item.as_array().ok_or_else(what)?;
                for value in array.iter() {
                    let word = value.as_str().ok_or_else(what)?.trim();
                    if word.is_empty() || word.contains(char::is_whitespace) {
                        return Err(what());
                    }
                    lexicon.add(mood, word, exact);
                }
            }
        }
        Ok(lexicon)
    }

    /// Adds an entry: an emote name matched exactly, or a word matched in any case.
    pub fn add(&mut self, mood: Mood, word: &str, exact: bool) {
        let (map, key) = if exact {
            (&mut self.emotes, word.to_owned())
        } else {
            (&mut self.words, word.to_lowercase())
        };
        map.entry(key.into_boxed_str()).or_default().insert(mood);
    }

    /// Entries in all.
    pub fn len(&self) -> usize {
        self.emotes.len() + self.words.len()
    }

    /// Whether the lexicon is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lexicon_parses_with_a_few_hundred_entries_in_every_mood() {
        let lexicon = Lexicon::shipped();
        assert!(lexicon.len() >= 300, "{} entries", lexicon.len());
        for mood in Mood::ALL {
            let n = lexicon
                .emotes
                .values()
                .chain(lexicon.words.values())
                .filter(|s| s.contains(mood))
                .count();
            assert!(n >= 20, "{mood}: {n} entries");
        }
        let mood = |w: &str| lexicon.emotes.get(w).copied().unwrap_or_default();
        assert!(mood("PogChamp").contains(Mood::Hype));
        assert!(mood("POGGERS").contains(Mood::Hype));
        assert!(mood("KEKW").contains(Mood::Laughter));
        assert!(mood("BibleThump").contains(Mood::Sadness));
        assert!(mood("WeirdChamp").contains(Mood::Anger));
        assert!(mood("monkaS").contains(Mood::Tension));
        assert!(mood("peepoLove").contains(Mood::Love));
        let word = |w: &str| lexicon.words.get(w).copied().unwrap_or_default();
        assert!(word("lol").contains(Mood::Laughter));
        assert!(word("<3").contains(Mood::Love));
        assert!(mood("D:").contains(Mood::Tension));
    }

    #[test]
    fn a_bad_lexicon_names_what_is_wrong() {
        assert_eq!(
            Lexicon::parse("[joy]\nwords = [\"yay\"]"),
            Err(LexiconError::UnknownMood("joy".into()))
        );
        assert_eq!(
            Lexicon::parse("[hype]\nwords = [\"two words\"]"),
            Err(LexiconError::NotWords("hype.words".into()))
        );
        assert!(matches!(
            Lexicon::parse("[hype"),
            Err(LexiconError::Toml(_))
        ));
    }

    #[test]
    fn totals_add_each_mood_of_a_set_once() {
        let mut set = MoodSet::of(Mood::Hype);
        set.insert(Mood::Hype);
        set.insert(Mood::Tension);
        let mut totals = MoodTotals::default();
        totals.add(set);
        assert_eq!(
            totals,
            MoodTotals {
                hype: 1,
                tension: 1,
                ..MoodTotals::default()
            }
        );
    }
}
