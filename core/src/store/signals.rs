//! Chat signals in the store: messages and moods per channel, UTC minute and stream
//! (`chat_activity`; stream 0 = outside streams), and emote uses per stream
//! (`stream_emotes`). Only counts, emote ids and names are written: never message text.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use sqlx::QueryBuilder;

use super::bulk;
use super::error::StoreError;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, Tx, with_pool, with_tx};
use crate::domain::Timestamp;
use crate::signals::{Emote, MessageSignals, MoodTotals, Provider};

/// What the counted messages of one (channel, minute, stream) add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MinuteDelta {
    /// Messages.
    pub messages: i64,
    /// Messages carrying any mood.
    pub mood_messages: i64,
    /// Messages per mood.
    pub moods: MoodTotals,
}

impl MinuteDelta {
    /// Adds the counts of `other`.
    pub fn absorb(&mut self, other: &Self) {
        self.messages += other.messages;
        self.mood_messages += other.mood_messages;
        self.moods = self.moods.plus(other.moods);
    }
}

/// The chat-signal part of a [`super::Batch`].
#[derive(Debug, Default)]
pub struct SignalsBatch {
    /// Keyed by (channel, minute start in Unix seconds, stream key or 0).
    pub minutes: FxHashMap<(ChannelKey, i64, i64), MinuteDelta>,
    /// Emote uses per stream.
    pub emotes: FxHashMap<(StreamKey, Arc<Emote>), i64>,
}

impl SignalsBatch {
    /// Counts one message of a counted user.
    pub fn message(
        &mut self,
        channel: ChannelKey,
        stream: Option<StreamKey>,
        at: Timestamp,
        signals: &MessageSignals,
    ) {
        let minute = at.0.div_euclid(60) * 60;
        let delta = self
            .minutes
            .entry((channel, minute, stream.map_or(0, |s| s.0)))
            .or_default();
        delta.messages += 1;
        if !signals.mood.is_empty() {
            delta.mood_messages += 1;
            delta.moods.add(signals.mood);
        }
        let Some(stream) = stream else {
            return;
        };
        for used in &signals.emotes {
            // A borrowed lookup first: most uses are of an emote already counted.
            *self.emotes.entry((stream, used.emote.clone())).or_default() += i64::from(used.count);
        }
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty() && self.emotes.is_empty()
    }

    /// Rows this will touch.
    pub fn rows(&self) -> usize {
        self.minutes.len() + self.emotes.len()
    }
}

/// Longest emote id or name stored (longer ones are cut: ids and names are short in practice).
const MAX_TEXT: usize = 100;

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

/// Writes the signals of a batch (inside its transaction).
pub(super) async fn commit_signals(tx: &mut Tx, batch: &SignalsBatch) -> Result<(), StoreError> {
    let d = with_tx!(tx, |_tx, Db, d| d);
    if !batch.minutes.is_empty() {
        let mut rows: Vec<_> = batch.minutes.iter().collect();
        rows.sort_unstable_by_key(|(k, _)| **k);
        let mut tail = d.upsert("channel_id, minute, stream_id");
        let cols = [
            "messages",
            "mood_messages",
            "hype",
            "laughter",
            "love",
            "sadness",
            "anger",
            "tension",
        ];
        let sets: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} = chat_activity.{c} + {}", d.ex(c)))
            .collect();
        tail.push_str(&sets.join(", "));
        bulk::upsert(
            tx,
            "INSERT INTO chat_activity (channel_id, minute, stream_id, messages, mood_messages, \
             hype, laughter, love, sadness, anger, tension) ",
            &tail,
            &rows,
            |((c, minute, stream), delta)| {
                let m = delta.moods;
                (
                    c.0,
                    *minute,
                    *stream,
                    delta.messages,
                    delta.mood_messages,
                    m.hype,
                    m.laughter,
                    m.love,
                    m.sadness,
                    m.anger,
                    m.tension,
                )
            },
        )
        .await?;
    }
    if !batch.emotes.is_empty() {
        let mut rows: Vec<_> = batch
            .emotes
            .iter()
            .map(|((s, e), n)| (s.0, e.provider.as_str(), cut(&e.id), cut(&e.name), *n))
            .collect();
        rows.sort_unstable_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        // One row per key: two emotes whose ids differ only past the cut are merged.
        rows.dedup_by(|b, a| {
            let same = (a.0, a.1, &a.2) == (b.0, b.1, &b.2);
            if same {
                a.4 += b.4;
            }
            same
        });
        let tail = format!(
            "{}uses = stream_emotes.uses + {}, name = {}",
            d.upsert("stream_id, provider, emote_id"),
            d.ex("uses"),
            d.ex("name"),
        );
        bulk::upsert(
            tx,
            "INSERT INTO stream_emotes (stream_id, provider, emote_id, name, uses) ",
            &tail,
            &rows,
            |(s, p, id, name, n)| (*s, (*p).to_owned(), id.clone(), name.clone(), *n),
        )
        .await?;
    }
    Ok(())
}

/// One minute of a channel's chat: messages, messages with a mood, and each mood's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinuteRow {
    /// Start of the minute.
    pub at: Timestamp,
    /// Messages.
    pub messages: i64,
    /// Messages carrying any mood.
    pub mood_messages: i64,
    /// Messages per mood.
    pub moods: MoodTotals,
}

/// A stored emote count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmoteRow {
    /// Provider.
    pub provider: Provider,
    /// The provider's id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Uses.
    pub count: i64,
}

type MinuteTuple = (i64, i64, i64, i64, i64, i64, i64, i64, i64);

fn minute_row(r: MinuteTuple) -> MinuteRow {
    MinuteRow {
        at: Timestamp(r.0),
        messages: r.1,
        mood_messages: r.2,
        moods: MoodTotals::from_array([r.3, r.4, r.5, r.6, r.7, r.8]),
    }
}

/// `SUM(col)` as an `i64` on every backend, for each counted column.
fn sums(d: super::dialect::Dialect) -> String {
    [
        "messages",
        "mood_messages",
        "hype",
        "laughter",
        "love",
        "sadness",
        "anger",
        "tension",
    ]
    .iter()
    .map(|c| d.int(&format!("COALESCE(SUM({c}), 0)")))
    .collect::<Vec<_>>()
    .join(", ")
}

impl Store {
    /// A channel's minutes with a message in `[from, to]`, oldest first (streams merged).
    pub async fn chat_minutes(
        &self,
        channel: ChannelKey,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<MinuteRow>, StoreError> {
        let rows: Vec<MinuteTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT minute, {} FROM chat_activity WHERE channel_id = ",
                sums(d)
            ));
            qb.push_bind(channel.0)
                .push(" AND minute >= ")
                .push_bind(from.0)
                .push(" AND minute <= ")
                .push_bind(to.0)
                .push(" GROUP BY minute HAVING SUM(messages) > 0 ORDER BY minute");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(minute_row).collect())
    }

    /// A stream's minutes, oldest first.
    pub async fn stream_minutes(&self, stream: StreamKey) -> Result<Vec<MinuteRow>, StoreError> {
        let rows: Vec<MinuteTuple> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT minute, messages, mood_messages, hype, laughter, love, sadness, anger, \
                 tension FROM chat_activity WHERE stream_id = ",
            );
            qb.push_bind(stream.0)
                .push(" AND messages > 0 ORDER BY minute");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(minute_row).collect())
    }

    /// A stream's busiest minute: `(minute, messages)`, the first of equals.
    pub async fn stream_peak_minute(
        &self,
        stream: StreamKey,
    ) -> Result<Option<(Timestamp, i64)>, StoreError> {
        let row: Option<(i64, i64)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT minute, messages FROM chat_activity WHERE stream_id = ",
            );
            qb.push_bind(stream.0)
                .push(" AND messages > 0 ORDER BY messages DESC, minute LIMIT 1");
            qb.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(at, n)| (Timestamp(at), n)))
    }

    /// A stream's mood totals.
    pub async fn stream_mood(&self, stream: StreamKey) -> Result<MoodTotals, StoreError> {
        let r: (i64, i64, i64, i64, i64, i64, i64, i64) = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "SELECT {} FROM chat_activity WHERE stream_id = ",
                sums(d)
            ));
            qb.push_bind(stream.0);
            qb.build_query_as().fetch_one(pool).await?
        });
        Ok(MoodTotals::from_array([r.2, r.3, r.4, r.5, r.6, r.7]))
    }

    /// A stream's most used emotes: by count descending, then name (byte order, the same on
    /// every backend whatever its collation), at most `limit`.
    pub async fn stream_emotes(
        &self,
        stream: StreamKey,
        limit: i64,
    ) -> Result<Vec<EmoteRow>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT provider, emote_id, name, uses FROM stream_emotes WHERE stream_id = ",
            );
            qb.push_bind(stream.0);
            qb.build_query_as().fetch_all(pool).await?
        });
        let mut rows = rows
            .into_iter()
            .map(|(provider, id, name, count)| {
                let provider = Provider::parse(&provider).ok_or(StoreError::Corrupt {
                    column: "stream_emotes.provider",
                    value: provider,
                })?;
                Ok(EmoteRow {
                    provider,
                    id,
                    name,
                    count,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        rank_emotes(&mut rows, limit);
        Ok(rows)
    }

    /// Every channel's settings whose name starts with `prefix`: `(channel, name, value)`.
    pub async fn settings_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(ChannelKey, String, String)>, StoreError> {
        let rows: Vec<(i64, String, String)> = with_pool!(self, |pool, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT channel_id, name, value FROM channel_settings WHERE name LIKE ",
            );
            qb.push_bind(format!("{prefix}%"))
                .push(" ORDER BY channel_id, name");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(c, n, v)| (ChannelKey(c), n, v))
            .collect())
    }
}

/// A stream's emotes in the order shown: by count descending, then name (byte order, the same
/// on every backend whatever its collation), provider and id; at most `limit`.
pub(crate) fn rank_emotes(rows: &mut Vec<EmoteRow>, limit: i64) {
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.provider.as_str().cmp(b.provider.as_str()))
            .then_with(|| a.id.cmp(&b.id))
    });
    rows.truncate(usize::try_from(limit).unwrap_or(0));
}
