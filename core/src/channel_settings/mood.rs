//! `mood.<mood>.add|remove <word>`: a channel's changes to the mood lexicon, stored one row per
//! word (`mood.<mood>.<word>` = `add` or `remove`; the latest change of a word wins).

use rustc_hash::FxHashMap;

use super::keys;
use crate::signals::{Mood, MoodRule};
use crate::store::{ChannelKey, Store, StoreError};

/// Longest word a rule may name, in bytes (the stored name `mood.<mood>.<word>` must fit 64).
pub const MAX_MOOD_WORD: usize = 40;

/// `mood.<mood>.add` / `mood.<mood>.remove` → (mood, add).
pub(super) fn parse_key(key: &str) -> Option<Result<(Mood, bool), String>> {
    let rest = key.strip_prefix(keys::MOOD)?;
    let Some((mood, action)) = rest.split_once('.') else {
        return Some(Err(rest.to_owned()));
    };
    let Some(mood) = Mood::parse(mood) else {
        return Some(Err(mood.to_owned()));
    };
    match action {
        "add" => Some(Ok((mood, true))),
        "remove" => Some(Ok((mood, false))),
        _ => Some(Err(action.to_owned())),
    }
}

/// Whether a word may be a rule's: one word, no control characters, at most [`MAX_MOOD_WORD`].
pub(super) fn valid_word(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= MAX_MOOD_WORD
        && !word.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The stored row of a rule.
pub(super) fn row(rule: &MoodRule) -> (String, Option<String>) {
    (
        format!("{}{}.{}", keys::MOOD, rule.mood, rule.word),
        Some(if rule.add { "add" } else { "remove" }.to_owned()),
    )
}

/// The rule of a stored row, if it is one.
pub(super) fn of_row(name: &str, value: &str) -> Option<MoodRule> {
    let (mood, word) = name.strip_prefix(keys::MOOD)?.split_once('.')?;
    let add = match value {
        "add" => true,
        "remove" => false,
        _ => return None,
    };
    Some(MoodRule {
        mood: Mood::parse(mood)?,
        word: word.to_owned(),
        add,
    })
}

/// Every channel's mood rules (one read for all channels: the emote-set refresher polls it).
pub async fn mood_rules(store: &Store) -> Result<FxHashMap<ChannelKey, Vec<MoodRule>>, StoreError> {
    let mut out: FxHashMap<ChannelKey, Vec<MoodRule>> = FxHashMap::default();
    for (channel, name, value) in store.settings_with_prefix(keys::MOOD).await? {
        if let Some(rule) = of_row(&name, &value) {
            out.entry(channel).or_default().push(rule);
        }
    }
    Ok(out)
}
