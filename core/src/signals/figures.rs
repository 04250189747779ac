//! The figures of chat signals, over the store: a channel's activity and mood per minute, a
//! stream's busiest minute, mood totals and top emotes, and the mood of the last minutes
//! (`!mood`). Methods of [`Figures`], beside the SPEC's other figures.

use serde::Serialize;

use super::mood::{Mood, MoodTotals};
use super::stream_chat::StreamChat;
use crate::domain::Timestamp;
use crate::stats::Figures;
use rustc_hash::FxHashMap;

use super::emote::Provider;
use crate::store::{Channel, EmoteRow, MinuteRow, Overlay, StoreError, Stream, rank_emotes};

/// What `!mood` looks at: the last this many seconds.
pub const MOOD_WINDOW: i64 = 10 * 60;
/// Most emotes `/streams/{id}/emotes` lists.
pub const MAX_EMOTES: i64 = 50;

/// A point of `/activity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActivityPoint {
    /// Start of the minute.
    pub at: Timestamp,
    /// Counted users' messages in it.
    pub messages: i64,
}

/// A point of `/mood`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MoodPoint {
    /// Start of the minute.
    pub at: Timestamp,
    /// Counted users' messages in it.
    pub messages: i64,
    /// Messages per mood.
    #[serde(flatten)]
    pub mood: MoodTotals,
}

/// An emote of `/streams/{id}/emotes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmoteFigure {
    /// `twitch`, `7tv`, `bttv` or `ffz`.
    pub provider: &'static str,
    /// The provider's id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Uses in the stream.
    pub count: i64,
}

/// The mood of the last minutes (`!mood`).
#[derive(Debug, Clone, PartialEq)]
pub struct MoodShares {
    /// Messages in the window.
    pub messages: i64,
    /// Messages carrying any mood.
    pub mood_messages: i64,
    /// The top moods (at most 3, each with at least one message) and their share of
    /// `mood_messages`, largest first.
    pub top: Vec<(Mood, f64)>,
}

impl MoodShares {
    /// The top three moods of a window's minutes.
    pub fn of(minutes: &[MinuteRow]) -> Self {
        let messages = minutes.iter().map(|m| m.messages).sum();
        let mood_messages: i64 = minutes.iter().map(|m| m.mood_messages).sum();
        let totals = minutes
            .iter()
            .fold(MoodTotals::default(), |t, m| t.plus(m.moods));
        let mut top: Vec<(Mood, i64)> = Mood::ALL
            .into_iter()
            .map(|m| (m, totals.get(m)))
            .filter(|(_, n)| *n > 0)
            .collect();
        // Largest first; equal counts in the order of Mood::ALL (the sort is stable).
        top.sort_by_key(|t| std::cmp::Reverse(t.1));
        top.truncate(3);
        Self {
            messages,
            mood_messages,
            top: top
                .into_iter()
                .map(|(m, n)| (m, n as f64 / mood_messages.max(1) as f64))
                .collect(),
        }
    }
}

impl Figures {
    /// A stream's busiest minute and mood totals.
    pub async fn stream_chat(&self, stream: &Stream) -> Result<StreamChat, StoreError> {
        let peak = self.store().stream_peak_minute(stream.key).await?;
        let mood = self.store().stream_mood(stream.key).await?;
        Ok(StreamChat {
            peak_messages_per_minute: peak.map(|(_, n)| n),
            peak_activity_at: peak.map(|(at, _)| at),
            mood,
        })
    }

    /// A channel's messages per minute in `[from, to]` (minutes with a message).
    pub async fn activity(
        &self,
        channel: &Channel,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ActivityPoint>, StoreError> {
        Ok(self
            .store()
            .chat_minutes(channel.key, from, to)
            .await?
            .into_iter()
            .map(|m| ActivityPoint {
                at: m.at,
                messages: m.messages,
            })
            .collect())
    }

    /// A channel's mood per minute in `[from, to]` (minutes with a message).
    pub async fn mood(
        &self,
        channel: &Channel,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<MoodPoint>, StoreError> {
        Ok(self
            .store()
            .chat_minutes(channel.key, from, to)
            .await?
            .into_iter()
            .map(|m| MoodPoint {
                at: m.at,
                messages: m.messages,
                mood: m.moods,
            })
            .collect())
    }

    /// The mood of a channel's last [`MOOD_WINDOW`] before `now` (`!mood`).
    pub async fn mood_now(
        &self,
        channel: &Channel,
        now: Timestamp,
    ) -> Result<MoodShares, StoreError> {
        self.mood_now_with(channel, now, None).await
    }

    /// [`Figures::mood_now`], with the uncommitted minutes of `overlay` added when given.
    pub(crate) async fn mood_now_with(
        &self,
        channel: &Channel,
        now: Timestamp,
        overlay: Option<&Overlay>,
    ) -> Result<MoodShares, StoreError> {
        let from = now.plus(-MOOD_WINDOW + 1);
        let mut minutes = self.store().chat_minutes(channel.key, from, now).await?;
        if let Some(overlay) = overlay {
            minutes.extend(
                overlay
                    .minutes
                    .iter()
                    .filter(|(m, _)| **m >= from.0 && **m <= now.0)
                    .map(|(m, d)| MinuteRow {
                        at: Timestamp(*m),
                        messages: d.messages,
                        mood_messages: d.mood_messages,
                        moods: d.moods,
                    }),
            );
        }
        Ok(MoodShares::of(&minutes))
    }

    /// A stream's most used emotes, at most `n` (and at most [`MAX_EMOTES`]).
    pub async fn stream_emotes(
        &self,
        stream: &Stream,
        n: i64,
    ) -> Result<Vec<EmoteFigure>, StoreError> {
        self.stream_emotes_with(stream, n, None).await
    }

    /// [`Figures::stream_emotes`], with the uses of `overlay` (in ingestion's batches and held
    /// across them) added when given.
    pub(crate) async fn stream_emotes_with(
        &self,
        stream: &Stream,
        n: i64,
        overlay: Option<&Overlay>,
    ) -> Result<Vec<EmoteFigure>, StoreError> {
        let limit = n.clamp(0, MAX_EMOTES);
        let rows = match overlay {
            None => self.store().stream_emotes(stream.key, limit).await?,
            Some(overlay) => {
                let stored = self.store().stream_emotes(stream.key, i64::MAX).await?;
                let mut rows: FxHashMap<(Provider, String), EmoteRow> = stored
                    .into_iter()
                    .map(|r| ((r.provider, r.id.clone()), r))
                    .collect();
                for ((s, emote), uses) in &overlay.emotes {
                    if *s == stream.key {
                        rows.entry((emote.provider, emote.id.to_string()))
                            .or_insert_with(|| EmoteRow {
                                provider: emote.provider,
                                id: emote.id.to_string(),
                                name: emote.name.to_string(),
                                count: 0,
                            })
                            .count += uses;
                    }
                }
                let mut rows: Vec<EmoteRow> = rows.into_values().collect();
                rank_emotes(&mut rows, limit);
                rows
            }
        };
        Ok(rows
            .into_iter()
            .map(|e: EmoteRow| EmoteFigure {
                provider: e.provider.as_str(),
                id: e.id,
                name: e.name,
                count: e.count,
            })
            .collect())
    }

    /// A stream's minutes (messages and moods), for its chart.
    pub async fn stream_minutes(&self, stream: &Stream) -> Result<Vec<MinuteRow>, StoreError> {
        self.store().stream_minutes(stream.key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(at: i64, messages: i64, mood_messages: i64, moods: [i64; 6]) -> MinuteRow {
        MinuteRow {
            at: Timestamp(at),
            messages,
            mood_messages,
            moods: MoodTotals::from_array(moods),
        }
    }

    #[test]
    fn mood_shares_are_of_the_messages_carrying_any_mood_top_three_first() {
        let shares = MoodShares::of(&[
            minute(0, 10, 4, [2, 3, 0, 0, 0, 1]),
            minute(60, 6, 4, [2, 1, 1, 0, 0, 0]),
        ]);
        assert_eq!(shares.messages, 16);
        assert_eq!(shares.mood_messages, 8);
        assert_eq!(
            shares.top,
            vec![
                (Mood::Hype, 0.5),
                (Mood::Laughter, 0.5),
                (Mood::Love, 0.125)
            ]
        );
    }

    #[test]
    fn no_mood_gives_no_shares() {
        let shares = MoodShares::of(&[minute(0, 3, 0, [0; 6])]);
        assert_eq!(shares.top, vec![]);
        assert_eq!(shares.messages, 3);
    }
}
