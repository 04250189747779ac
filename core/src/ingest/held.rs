//! Emote counts held in memory across batches.
//!
//! With many live channels and emote-heavy chat, a stream's `stream_emotes` rows change in every
//! 100 ms batch: upserting them all each time cost as much as the rest of the commit (71,184
//! emote rows in a commit of 73,376 events at 100k msgs/s over 1,000 channels). Held here, each
//! stream's counts are handed to a batch at most once per interval, so one row is written per
//! stream and emote per interval however often it was used. Streams are staggered over the
//! interval so their writes spread over the batches instead of arriving in one.
//!
//! A stream's counts are handed over at once when it ends (its recap reads them) and all of
//! them with any flush (a command's answer, a test, an import's end) and with the last batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::signals::Emote;
use crate::store::{Batch, StreamKey};

/// The held counts of every stream with uses not yet handed to a batch.
#[derive(Debug)]
pub(super) struct HeldEmotes {
    interval: Duration,
    streams: FxHashMap<StreamKey, Held>,
}

#[derive(Debug)]
struct Held {
    counts: FxHashMap<Arc<Emote>, i64>,
    /// When this stream's counts go to a batch next.
    due: Instant,
}

impl HeldEmotes {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            streams: FxHashMap::default(),
        }
    }

    /// Streams with held counts.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.streams.len()
    }

    /// The held counts of `streams` (uses in no batch yet).
    pub(super) fn counts_of(
        &self,
        streams: impl IntoIterator<Item = StreamKey>,
    ) -> Vec<(StreamKey, Arc<Emote>, i64)> {
        let mut out = Vec::new();
        for stream in streams {
            if let Some(held) = self.streams.get(&stream) {
                out.extend(held.counts.iter().map(|(e, n)| (stream, e.clone(), *n)));
            }
        }
        out
    }

    /// Moves `batch`'s emote counts into the held ones, then hands back to it the counts of
    /// every stream that is due, ends in this batch, or all of them when `all`.
    pub(super) fn pass(&mut self, batch: &mut Batch, all: bool, now: Instant) {
        if self.interval.is_zero() {
            return;
        }
        let interval = self.interval;
        for ((stream, emote), n) in std::mem::take(&mut batch.signals.emotes) {
            let held = self.streams.entry(stream).or_insert_with(|| Held {
                counts: FxHashMap::default(),
                due: now + stagger(stream.0, interval),
            });
            *held.counts.entry(emote).or_default() += n;
        }
        let ends_now = |s: &StreamKey| batch.stream_ends.iter().any(|(e, _)| e == s);
        let out = &mut batch.signals.emotes;
        self.streams.retain(|stream, held| {
            let ends = ends_now(stream);
            if !(all || ends || held.due <= now) {
                return true;
            }
            let used = !held.counts.is_empty();
            out.extend(held.counts.drain().map(|(emote, n)| ((*stream, emote), n)));
            held.due = now + interval;
            // A stream without uses since its last write is forgotten until it has some.
            used && !ends && !all
        });
    }
}

/// When a stream (or a channel, [`super::held_rows`]) first seen now is first written: a fixed
/// fraction of the interval from its key, so those first seen together (at start) are written
/// in different batches.
pub(super) fn stagger(key: i64, interval: Duration) -> Duration {
    // Fibonacci hashing: consecutive keys land far apart in [0, 1).
    let spread = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    interval.mul_f64(spread as f64 / (1u64 << 24) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::signals::Provider;

    fn emote(name: &str) -> Arc<Emote> {
        Arc::new(Emote {
            provider: Provider::SevenTv,
            id: name.into(),
            name: name.into(),
        })
    }

    fn used(batch: &mut Batch, stream: i64, name: &str, n: i64) {
        *batch
            .signals
            .emotes
            .entry((StreamKey(stream), emote(name)))
            .or_default() += n;
    }

    fn written(batch: &Batch) -> Vec<(i64, String, i64)> {
        let mut rows: Vec<_> = batch
            .signals
            .emotes
            .iter()
            .map(|((s, e), n)| (s.0, e.name.to_string(), *n))
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn counts_are_summed_across_batches_and_written_once_due() {
        let interval = Duration::from_secs(10);
        let mut held = HeldEmotes::new(interval);
        let start = Instant::now();
        let first_due = start + stagger(7, interval);
        let mut batch = Batch::default();
        used(&mut batch, 7, "KEKW", 2);
        used(&mut batch, 7, "Pog", 1);
        held.pass(&mut batch, false, start);
        assert_eq!(written(&batch), vec![]);
        let mut batch = Batch::default();
        used(&mut batch, 7, "KEKW", 3);
        held.pass(&mut batch, false, first_due - Duration::from_millis(1));
        assert_eq!(written(&batch), vec![]);
        let mut batch = Batch::default();
        held.pass(&mut batch, false, first_due);
        assert_eq!(
            written(&batch),
            vec![(7, "KEKW".into(), 5), (7, "Pog".into(), 1)]
        );
        // Written: nothing more until a full interval later.
        let mut batch = Batch::default();
        used(&mut batch, 7, "Pog", 4);
        held.pass(
            &mut batch,
            false,
            first_due + interval - Duration::from_millis(1),
        );
        assert_eq!(written(&batch), vec![]);
        let mut batch = Batch::default();
        held.pass(&mut batch, false, first_due + interval);
        assert_eq!(written(&batch), vec![(7, "Pog".into(), 4)]);
        // Quiet for a whole interval: forgotten.
        let mut batch = Batch::default();
        held.pass(&mut batch, false, first_due + interval * 2);
        assert_eq!(written(&batch), vec![]);
        assert_eq!(held.len(), 0);
    }

    #[test]
    fn a_flush_and_a_stream_end_write_at_once() {
        let mut held = HeldEmotes::new(Duration::from_secs(3600));
        let now = Instant::now();
        let mut batch = Batch::default();
        used(&mut batch, 1, "LUL", 1);
        used(&mut batch, 2, "LUL", 2);
        held.pass(&mut batch, false, now);
        let mut batch = Batch::default();
        batch.stream_ends.push((StreamKey(2), Timestamp(100)));
        held.pass(&mut batch, false, now);
        assert_eq!(written(&batch), vec![(2, "LUL".into(), 2)]);
        let mut batch = Batch::default();
        used(&mut batch, 1, "LUL", 1);
        held.pass(&mut batch, true, now);
        assert_eq!(written(&batch), vec![(1, "LUL".into(), 2)]);
        assert_eq!(held.len(), 0);
    }

    #[test]
    fn a_zero_interval_holds_nothing() {
        let mut held = HeldEmotes::new(Duration::ZERO);
        let mut batch = Batch::default();
        used(&mut batch, 1, "LUL", 1);
        held.pass(&mut batch, false, Instant::now());
        assert_eq!(written(&batch), vec![(1, "LUL".into(), 1)]);
    }

    #[test]
    fn stagger_stays_within_the_interval_and_spreads() {
        let interval = Duration::from_secs(15);
        let mut tenths = [0u32; 10];
        for key in 1..=1000 {
            let d = stagger(key, interval);
            assert!(d < interval, "{d:?}");
            tenths[(d.as_secs_f64() / 1.5) as usize] += 1;
        }
        assert!(
            tenths.iter().all(|&n| (70..=130).contains(&n)),
            "{tenths:?}"
        );
    }
}
