//! [`Provider`], [`Emote`] and what one message carries ([`MessageSignals`]).

use std::sync::Arc;

use super::mood::MoodSet;

/// Where an emote comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Twitch (`emotes` tag).
    Twitch,
    /// 7TV.
    SevenTv,
    /// BetterTTV.
    Bttv,
    /// FrankerFaceZ.
    Ffz,
}

impl Provider {
    /// The third-party providers, in precedence order (7TV beats BetterTTV beats FFZ).
    pub const THIRD_PARTY: [Provider; 3] = [Provider::SevenTv, Provider::Bttv, Provider::Ffz];

    /// The name in JSON and in the store: `twitch`, `7tv`, `bttv`, `ffz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twitch => "twitch",
            Self::SevenTv => "7tv",
            Self::Bttv => "bttv",
            Self::Ffz => "ffz",
        }
    }

    /// The provider of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Twitch, Self::SevenTv, Self::Bttv, Self::Ffz]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One emote: its provider, the provider's id and its name (what chat types).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Emote {
    /// Provider.
    pub provider: Provider,
    /// The provider's id (`25`, `emotesv2_…`, a 7TV or BetterTTV object id, an FFZ number).
    pub id: Box<str>,
    /// Name.
    pub name: Box<str>,
}

/// An emote used `count` times in one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmoteUse {
    /// The emote (shared with the matcher for third-party emotes).
    pub emote: Arc<Emote>,
    /// Uses in the message.
    pub count: u32,
}

/// What one message carries, and all that is kept of its text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageSignals {
    /// Emotes used, each once with its count.
    pub emotes: Vec<EmoteUse>,
    /// Moods, each at most once.
    pub mood: MoodSet,
}

impl MessageSignals {
    /// Counts `count` more uses of `emote`.
    pub fn add_emote(&mut self, emote: &Arc<Emote>, count: u32) {
        match self
            .emotes
            .iter_mut()
            .find(|u| Arc::ptr_eq(&u.emote, emote) || *u.emote == **emote)
        {
            Some(u) => u.count += count,
            None => self.emotes.push(EmoteUse {
                emote: emote.clone(),
                count,
            }),
        }
    }
}
