//! Chat signals counted from the text of a message on its way in, without keeping the text:
//! which emotes it used (Twitch's `emotes` tag, and 7TV, BetterTTV and FrankerFaceZ names) and
//! which moods it carries.
//!
//! The IRC side scans each message once with its channel's [`Matcher`] (found through the
//! [`Registry`], whose matchers the emote-set refresher rebuilds and swaps atomically) and
//! hands on only a [`MessageSignals`]: emote ids, names and counts, and a one-byte
//! [`MoodSet`]. The tracker adds them up per stream and per minute (`store::signals`).
//!
//! # Layout
//! - `emote`: [`Provider`], [`Emote`], and what one message carries ([`MessageSignals`]).
//! - `mood`: [`Mood`], [`MoodSet`], [`MoodTotals`], the [`Lexicon`] (`assets/mood.toml`).
//! - `matcher`: [`Matcher`] (one channel: its sets, the lexicon and its mood rules) and
//!   [`Shared`] (the global sets and the lexicon, shared by every channel).
//! - `twitch`: the `emotes` tag (`25:0-4,6-10`, positions in code points).
//! - `registry`: [`Registry`], the matchers of every channel behind one atomic pointer.
//! - `figures`: the reads behind `/activity`, `/mood`, `/streams/{id}/emotes`, `!emotes`,
//!   `!mood` and the stream JSON's activity and mood fields ([`StreamChat`], in `stream_chat`).

mod emote;
mod figures;
mod matcher;
mod mood;
mod registry;
mod stream_chat;
mod twitch;

pub use emote::{Emote, EmoteUse, MessageSignals, Provider};
pub use figures::{ActivityPoint, EmoteFigure, MAX_EMOTES, MOOD_WINDOW, MoodPoint, MoodShares};
pub use matcher::{EmoteSet, Matcher, MoodRule, Shared};
pub use mood::{Lexicon, LexiconError, Mood, MoodSet, MoodTotals, SHIPPED_LEXICON};
pub use registry::Registry;
pub use stream_chat::StreamChat;
