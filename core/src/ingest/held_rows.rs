//! Chat rows held in memory across batches, per channel.
//!
//! At 100,000 messages a second over 1,000 live channels, a 100 ms batch holds one (stream,
//! user) row per message or nearly: a chatter rarely speaks twice in a tenth of a second, so
//! batching alone merges little, and the writer spent most of each commit upserting rows it
//! would upsert again a second later. Held here, a channel's rows (its (channel, user) and
//! (stream, user) changes with their open intervals, its presence intervals and its chat
//! minutes) are merged across batches and handed to a batch at most once per interval, all of
//! them together, so the store sees the same changes in fewer, larger rows. Channels are
//! staggered over the interval so their writes spread over the batches.
//!
//! A channel's rows are handed over at once when one of its streams ends (its recap reads
//! them), all of them with any flush (a chat command that waits, a test, an opt-out, a
//! channel's release or lease) and with the last batch. Chat commands that answer without
//! waiting read the held rows too ([`HeldRows::slice`]).

use std::time::{Duration, Instant};

use rustc_hash::{FxHashMap, FxHashSet};

use super::held::stagger;
use crate::store::{Batch, ChannelKey, ChannelSlice, StreamKey};

/// The held rows of every channel with changes not yet handed to a batch.
#[derive(Debug)]
pub(super) struct HeldRows {
    interval: Duration,
    channels: FxHashMap<ChannelKey, Held>,
    /// Rows held (channel and stream rows), for the metrics.
    rows: usize,
}

#[derive(Debug)]
struct Held {
    /// The channel's changes: `channel_users`, `stream_users`, `stream_open`, `presence` and
    /// `signals.minutes` only.
    batch: Batch,
    /// The streams of `batch.stream_users`.
    streams: Vec<StreamKey>,
    /// When this channel's rows go to a batch next.
    due: Instant,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.batch.channel_users.is_empty()
            && self.batch.stream_users.is_empty()
            && self.batch.presence.is_empty()
            && self.batch.signals.minutes.is_empty()
    }

    fn rows(&self) -> usize {
        self.batch.channel_users.len() + self.batch.stream_users.len()
    }
}

impl HeldRows {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            channels: FxHashMap::default(),
            rows: 0,
        }
    }

    /// Channel and stream rows held.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// The held rows of `channel` (whose live stream is `live`) as a slice numbered `seq`.
    pub(super) fn slice(
        &self,
        channel: ChannelKey,
        live: Option<StreamKey>,
        seq: u64,
    ) -> Option<ChannelSlice> {
        let held = self.channels.get(&channel)?;
        (!held.is_empty()).then(|| held.batch.channel_slice(channel, live, seq))
    }

    /// Moves `batch`'s rows into the held ones, then hands back to it the rows of every
    /// channel that is due, has a stream ending in this batch, or all of them when `all`.
    pub(super) fn pass(&mut self, batch: &mut Batch, all: bool, now: Instant) {
        if self.interval.is_zero() {
            return;
        }
        self.take_from(batch, now);
        let ending: FxHashSet<StreamKey> = batch.stream_ends.iter().map(|(s, _)| *s).collect();
        let interval = self.interval;
        let mut handed = 0;
        self.channels.retain(|_, held| {
            let ends = held.streams.iter().any(|s| ending.contains(s));
            if !(all || ends || held.due <= now) {
                return true;
            }
            let used = !held.is_empty();
            handed += held.rows();
            give(&mut held.batch, batch);
            held.streams.clear();
            held.due = now + interval;
            // A channel without rows since its last write is forgotten until it has some.
            used && !ends && !all
        });
        self.rows -= handed;
    }

    fn take_from(&mut self, batch: &mut Batch, now: Instant) {
        for (key, delta) in std::mem::take(&mut batch.channel_users) {
            let held = self.held(key.0, now);
            let before = held.batch.channel_users.len();
            held.batch.merge_channel_user(key, delta);
            self.rows += held.batch.channel_users.len() - before;
        }
        let mut open = std::mem::take(&mut batch.stream_open);
        for (key, delta) in std::mem::take(&mut batch.stream_users) {
            let held = self.held(delta.channel, now);
            if !held.streams.contains(&key.0) {
                held.streams.push(key.0);
            }
            let before = held.batch.stream_users.len();
            let at = open.remove(&key).flatten();
            held.batch.merge_stream_user(key, delta, at);
            self.rows += held.batch.stream_users.len() - before;
        }
        for (key, until) in std::mem::take(&mut batch.presence) {
            self.held(key.0, now).batch.presence.insert(key, until);
        }
        for (key, delta) in std::mem::take(&mut batch.signals.minutes) {
            self.held(key.0, now)
                .batch
                .signals
                .minutes
                .entry(key)
                .or_default()
                .absorb(&delta);
        }
    }

    fn held(&mut self, channel: ChannelKey, now: Instant) -> &mut Held {
        let interval = self.interval;
        self.channels.entry(channel).or_insert_with(|| Held {
            batch: Batch::default(),
            streams: Vec::new(),
            due: now + stagger(channel.0, interval),
        })
    }
}

/// Moves `from`'s held rows into `to` (which holds none of that channel).
fn give(from: &mut Batch, to: &mut Batch) {
    let mut open = std::mem::take(&mut from.stream_open);
    for (key, delta) in from.stream_users.drain() {
        to.merge_stream_user(key, delta, open.remove(&key).flatten());
    }
    for (key, delta) in from.channel_users.drain() {
        to.merge_channel_user(key, delta);
    }
    to.presence.extend(from.presence.drain());
    for (key, delta) in from.signals.minutes.drain() {
        to.signals.minutes.entry(key).or_default().absorb(&delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Timestamp, UserId};
    use crate::store::{Sighting, StreamRef};

    fn live(channel: i64) -> StreamRef {
        StreamRef {
            stream: StreamKey(channel * 10),
            channel: ChannelKey(channel),
            started: Timestamp(1_000),
        }
    }

    /// A message of `user` in `channel`'s live stream at `at`, present since `open`.
    fn said(batch: &mut Batch, channel: i64, user: i64, at: i64, open: Option<i64>) {
        batch.channel_user(ChannelKey(channel), UserId(user), Timestamp(at), 1);
        batch.stream_user(
            live(channel),
            UserId(user),
            Timestamp(at),
            Sighting {
                messages: 1,
                active: true,
                open: open.map(Timestamp),
                ..Sighting::default()
            },
        );
        let minute = at.div_euclid(60) * 60;
        batch
            .signals
            .minutes
            .entry((ChannelKey(channel), minute, channel * 10))
            .or_default()
            .messages += 1;
    }

    /// (channel, user, messages, first seen, last seen) of the channel rows, sorted.
    fn channel_rows(batch: &Batch) -> Vec<(i64, i64, i64, i64, i64)> {
        let mut rows: Vec<_> = batch
            .channel_users
            .iter()
            .map(|((c, u), d)| (c.0, u.0, d.messages, d.first_seen.0, d.last_seen.0))
            .collect();
        rows.sort_unstable();
        rows
    }

    #[test]
    fn rows_are_merged_across_batches_and_written_once_due() {
        let interval = Duration::from_secs(2);
        let mut held = HeldRows::new(interval);
        let start = Instant::now();
        let due = start + stagger(1, interval);
        let mut batch = Batch::default();
        said(&mut batch, 1, 7, 1_010, Some(1_005));
        batch
            .presence
            .insert((ChannelKey(1), UserId(7), Timestamp(1_005)), None);
        held.pass(&mut batch, false, start);
        assert!(batch.is_empty(), "{batch:?}");
        assert_eq!(held.rows(), 2);
        let mut batch = Batch::default();
        said(&mut batch, 1, 7, 1_070, None);
        said(&mut batch, 1, 8, 1_071, Some(1_071));
        batch.presence.insert(
            (ChannelKey(1), UserId(7), Timestamp(1_005)),
            Some(Timestamp(1_070)),
        );
        held.pass(&mut batch, false, due - Duration::from_millis(1));
        assert!(batch.is_empty(), "{batch:?}");
        assert_eq!(held.rows(), 4);
        let mut batch = Batch::default();
        held.pass(&mut batch, false, due);
        assert_eq!(
            channel_rows(&batch),
            vec![(1, 7, 2, 1_010, 1_070), (1, 8, 1, 1_071, 1_071)]
        );
        let row = batch.stream_users[&(StreamKey(10), UserId(7))];
        assert_eq!(
            (row.messages, row.first_seen.0, row.last_seen.0),
            (2, 1_010, 1_070)
        );
        // The latest batch's open interval and presence: the user left.
        assert_eq!(batch.stream_open[&(StreamKey(10), UserId(7))], None);
        assert_eq!(
            batch.stream_open[&(StreamKey(10), UserId(8))],
            Some(Timestamp(1_071))
        );
        assert_eq!(
            batch.presence[&(ChannelKey(1), UserId(7), Timestamp(1_005))],
            Some(Timestamp(1_070))
        );
        // Minutes 960 and 1020 of stream 10: one message, then two.
        let mut minutes: Vec<_> = batch
            .signals
            .minutes
            .iter()
            .map(|(k, d)| (k.1, d.messages))
            .collect();
        minutes.sort_unstable();
        assert_eq!(minutes, vec![(960, 1), (1_020, 2)]);
        assert_eq!(held.rows(), 0);
        // Written: nothing more until a full interval later, then forgotten when quiet.
        let mut batch = Batch::default();
        said(&mut batch, 1, 7, 1_080, None);
        held.pass(&mut batch, false, due + interval - Duration::from_millis(1));
        assert!(batch.is_empty());
        held.pass(&mut batch, false, due + interval);
        assert_eq!(channel_rows(&batch), vec![(1, 7, 1, 1_080, 1_080)]);
        let mut batch = Batch::default();
        held.pass(&mut batch, false, due + interval * 2);
        assert!(batch.is_empty());
        assert!(held.channels.is_empty());
    }

    #[test]
    fn a_stream_end_writes_its_channel_and_a_flush_everything() {
        let mut held = HeldRows::new(Duration::from_secs(3600));
        let now = Instant::now();
        let mut batch = Batch::default();
        said(&mut batch, 1, 7, 1_010, None);
        said(&mut batch, 2, 7, 1_010, None);
        said(&mut batch, 3, 9, 1_010, None);
        held.pass(&mut batch, false, now);
        assert!(batch.is_empty());
        let mut batch = Batch::default();
        batch.stream_ends.push((StreamKey(20), Timestamp(1_100)));
        said(&mut batch, 2, 8, 1_090, None);
        held.pass(&mut batch, false, now);
        assert_eq!(
            channel_rows(&batch),
            vec![(2, 7, 1, 1_010, 1_010), (2, 8, 1, 1_090, 1_090)]
        );
        assert_eq!(held.rows(), 4);
        let mut batch = Batch::default();
        held.pass(&mut batch, true, now);
        assert_eq!(
            channel_rows(&batch),
            vec![(1, 7, 1, 1_010, 1_010), (3, 9, 1, 1_010, 1_010)]
        );
        assert_eq!(batch.stream_users.len(), 2);
        assert_eq!(held.rows(), 0);
        assert!(held.channels.is_empty());
    }

    #[test]
    fn held_rows_are_read_as_a_slice_of_their_channel() {
        let mut held = HeldRows::new(Duration::from_secs(3600));
        let mut batch = Batch::default();
        said(&mut batch, 1, 7, 1_010, Some(1_000));
        said(&mut batch, 2, 8, 1_010, None);
        held.pass(&mut batch, false, Instant::now());
        let slice = held
            .slice(ChannelKey(1), Some(StreamKey(10)), 5)
            .expect("held rows");
        assert_eq!(slice.seq, 5);
        assert_eq!(slice.channel_users.len(), 1);
        assert_eq!(
            slice.stream_users[0].3,
            Some(Timestamp(1_000)),
            "the open interval"
        );
        assert!(held.slice(ChannelKey(3), None, 5).is_none());
    }

    #[test]
    fn a_zero_interval_holds_nothing() {
        let mut held = HeldRows::new(Duration::ZERO);
        let mut batch = Batch::default();
        said(&mut batch, 1, 7, 1_010, None);
        held.pass(&mut batch, false, Instant::now());
        assert_eq!(channel_rows(&batch), vec![(1, 7, 1, 1_010, 1_010)]);
        assert_eq!(held.rows(), 0);
    }
}
