//! The chatter-table totals ([`super::totals`]) held in memory between commits.
//!
//! Each channel-row upsert also moves the row in the totals' sort indexes (messages, last
//! sighting, streams): 55.7 µs per row against 21.9 µs without them (BENCHMARKS.md), once per
//! (channel, user) and batch, that is once per message of a busy chat. While a stream is live,
//! most of those writes only add to the totals of a user already counted, so they are held
//! here, per channel, and each channel's written at most once per interval (channels staggered
//! over it), however often its users chatted. A user's totals are written at once when the
//! batch writes their channel row anyway, when they may be new to the stream (the row may not
//! exist yet) and with any full flush or stop.
//!
//! Held deltas are additive and only ever cover stream rows already committed, so a recount
//! from the stream rows (start-up, pruning, a lease taken over) writes or drops them first,
//! under [`HeldTotals::gate`], which every commit holds too. A crash loses what was held: the
//! repair at start (and on taking a channel's lease) recounts the users of the open streams.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::keys::ChannelKey;
use crate::domain::UserId;

/// What one or more batches add to a (channel, user)'s totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TotalsDelta {
    /// Earliest observation of the batch's stream rows (a channel row created from them alone).
    pub first_seen: i64,
    /// Latest observation of the batch's channel and stream rows.
    pub last_seen: i64,
    /// Messages of the channel and stream rows.
    pub messages: i64,
    /// Stream rows becoming active (streams newly attended).
    pub streams: i64,
    /// Watch time credited to the stream rows.
    pub watch: i64,
    /// Written with this batch: the channel row is written anyway, or may not exist yet.
    pub now: bool,
}

impl TotalsDelta {
    pub(super) fn new(first_seen: i64, last_seen: i64) -> Self {
        Self {
            first_seen,
            last_seen,
            messages: 0,
            streams: 0,
            watch: 0,
            now: false,
        }
    }

    /// Adds `other` (a later or earlier delta of the same row).
    pub(super) fn merge(&mut self, other: &Self) {
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.messages += other.messages;
        self.streams += other.streams;
        self.watch += other.watch;
        self.now |= other.now;
    }
}

type Key = (ChannelKey, UserId);

/// The held totals of a store's commits, shared by its clones.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeldTotals {
    held: Arc<Mutex<FxHashMap<ChannelKey, Held>>>,
    /// Held by each commit and by each recount of totals, so no recount sees a commit's stream
    /// rows without its held deltas being settled the same way.
    gate: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct Held {
    users: FxHashMap<UserId, TotalsDelta>,
    /// When this channel's totals are written next.
    due: Instant,
}

/// What a commit writes and what it leaves held: [`HeldTotals::plan`], then
/// [`HeldTotals::settle`] once the transaction is committed (a failed one changes nothing).
#[derive(Debug)]
pub(super) struct Plan {
    /// Rows written by this commit, with what was held for them.
    pub write: FxHashMap<Key, TotalsDelta>,
    /// Rows of this batch left held.
    hold: Vec<(Key, TotalsDelta)>,
    /// Channels whose held rows are all written.
    channels: Vec<ChannelKey>,
    /// Held rows written with this batch's row (their channel not due).
    users: Vec<Key>,
    interval: Duration,
    now: Instant,
}

impl HeldTotals {
    /// Waits for the gate (see the field).
    pub(super) async fn gate(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.gate.lock().await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<ChannelKey, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True when a commit holding for `hold` would write held totals: some are held and
    /// `hold` is zero, or a channel is due.
    pub(crate) fn pending(&self, hold: Duration, now: Instant) -> bool {
        let held = self.lock();
        held.values()
            .any(|h| !h.users.is_empty() && (hold.is_zero() || h.due <= now))
    }

    /// Splits a batch's `totals` into what its commit writes (with the held totals of every
    /// channel that is due, all of them when `hold` is zero) and what stays held.
    pub(super) fn plan(
        &self,
        totals: FxHashMap<Key, TotalsDelta>,
        hold: Duration,
        now: Instant,
    ) -> Plan {
        let held = self.lock();
        let due = |channel: &ChannelKey| {
            hold.is_zero() || held.get(channel).is_some_and(|h| h.due <= now)
        };
        let mut plan = Plan {
            write: FxHashMap::default(),
            hold: Vec::new(),
            channels: Vec::new(),
            users: Vec::new(),
            interval: hold,
            now,
        };
        for (channel, h) in held.iter().filter(|(c, _)| due(c)) {
            plan.channels.push(*channel);
            plan.write
                .extend(h.users.iter().map(|(user, t)| ((*channel, *user), *t)));
        }
        for (key, t) in totals {
            if due(&key.0) {
                plan.write
                    .entry(key)
                    .and_modify(|w| w.merge(&t))
                    .or_insert(t);
            } else if t.now {
                let mut row = t;
                if let Some(before) = held.get(&key.0).and_then(|h| h.users.get(&key.1)) {
                    row.merge(before);
                    plan.users.push(key);
                }
                plan.write.insert(key, row);
            } else {
                plan.hold.push((key, t));
            }
        }
        plan
    }

    /// Applies a committed `plan`: what it wrote is no longer held, the rest of its batch is.
    pub(super) fn settle(&self, plan: Plan) {
        let mut held = self.lock();
        for channel in &plan.channels {
            if let Some(h) = held.get_mut(channel) {
                h.users.clear();
                h.due = plan.now + plan.interval;
            }
        }
        for (channel, user) in &plan.users {
            if let Some(h) = held.get_mut(channel) {
                h.users.remove(user);
            }
        }
        for ((channel, user), t) in plan.hold {
            let h = held.entry(channel).or_insert_with(|| Held {
                users: FxHashMap::default(),
                due: plan.now + stagger(channel, plan.interval),
            });
            h.users
                .entry(user)
                .and_modify(|before| before.merge(&t))
                .or_insert(t);
        }
        // A channel just written keeps its turn (its next rows wait a whole interval); one
        // without rows past its turn is forgotten until it has some.
        held.retain(|_, h| !h.users.is_empty() || h.due > plan.now);
    }

    /// Drops whatever is held for `user` (opted out: every row about them is deleted).
    pub(super) fn forget_user(&self, user: UserId) {
        let mut held = self.lock();
        for h in held.values_mut() {
            h.users.remove(&user);
        }
        held.retain(|_, h| !h.users.is_empty());
    }

    /// (Channel, user) rows held.
    pub(crate) fn len(&self) -> usize {
        self.lock().values().map(|h| h.users.len()).sum()
    }
}

/// When a channel first held now is first written: a fixed fraction of the interval from its
/// key, so channels busy from the start are written in different batches.
fn stagger(channel: ChannelKey, interval: Duration) -> Duration {
    // Fibonacci hashing: consecutive keys land far apart in [0, 1).
    let spread = (channel.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    interval.mul_f64(spread as f64 / (1u64 << 24) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(messages: i64, last_seen: i64, now: bool) -> TotalsDelta {
        TotalsDelta {
            messages,
            now,
            ..TotalsDelta::new(last_seen, last_seen)
        }
    }

    fn key(c: i64, u: i64) -> Key {
        (ChannelKey(c), UserId(u))
    }

    fn written(plan: &Plan) -> Vec<(i64, i64, i64, i64)> {
        let mut rows: Vec<_> = plan
            .write
            .iter()
            .map(|(k, t)| (k.0.0, k.1.0, t.messages, t.last_seen))
            .collect();
        rows.sort_unstable();
        rows
    }

    const TEN: Duration = Duration::from_secs(10);

    #[test]
    fn held_rows_are_written_once_their_channel_is_due_with_everything_added_since() {
        let held = HeldTotals::default();
        let t0 = Instant::now();
        let batch = FxHashMap::from_iter([
            (key(1, 7), delta(2, 100, false)),
            (key(1, 8), delta(1, 100, true)),
        ]);
        let plan = held.plan(batch, TEN, t0);
        // The row that may be new is written at once; the other waits.
        assert_eq!(written(&plan), vec![(1, 8, 1, 100)]);
        held.settle(plan);
        assert_eq!(held.len(), 1);
        let batch = FxHashMap::from_iter([(key(1, 7), delta(3, 105, false))]);
        let plan = held.plan(batch, TEN, t0 + Duration::from_millis(100));
        assert!(plan.write.is_empty());
        held.settle(plan);
        assert!(!held.pending(TEN, t0 + Duration::from_millis(200)));
        // Due at the latest one interval after it was first held: both batches in one row.
        let later = t0 + TEN + Duration::from_millis(100);
        assert!(held.pending(TEN, later));
        let plan = held.plan(FxHashMap::default(), TEN, later);
        assert_eq!(written(&plan), vec![(1, 7, 5, 105)]);
        held.settle(plan);
        assert_eq!(held.len(), 0);
        assert!(!held.pending(Duration::ZERO, later));
    }

    #[test]
    fn a_row_written_now_takes_its_held_part_and_a_zero_hold_takes_everything() {
        let held = HeldTotals::default();
        let t0 = Instant::now();
        let batch = FxHashMap::from_iter([
            (key(1, 7), delta(2, 100, false)),
            (key(2, 9), delta(4, 101, false)),
        ]);
        let plan = held.plan(batch, TEN, t0);
        held.settle(plan);
        // (1, 7)'s channel row is written by the next batch: its held messages go with it.
        let plan = held.plan(
            FxHashMap::from_iter([(key(1, 7), delta(1, 102, true))]),
            TEN,
            t0,
        );
        assert_eq!(written(&plan), vec![(1, 7, 3, 102)]);
        held.settle(plan);
        assert_eq!(held.len(), 1);
        assert!(held.pending(Duration::ZERO, t0));
        let plan = held.plan(FxHashMap::default(), Duration::ZERO, t0);
        assert_eq!(written(&plan), vec![(2, 9, 4, 101)]);
        held.settle(plan);
        assert_eq!(held.len(), 0);
    }

    #[test]
    fn an_uncommitted_plan_changes_nothing_and_an_opt_out_drops_the_user() {
        let held = HeldTotals::default();
        let t0 = Instant::now();
        held.settle(held.plan(
            FxHashMap::from_iter([
                (key(1, 7), delta(2, 100, false)),
                (key(1, 8), delta(1, 100, false)),
            ]),
            TEN,
            t0,
        ));
        // A failed commit: its plan is dropped, the held rows stay as they were.
        drop(held.plan(FxHashMap::default(), Duration::ZERO, t0));
        assert_eq!(held.len(), 2);
        held.forget_user(UserId(7));
        let plan = held.plan(FxHashMap::default(), Duration::ZERO, t0);
        assert_eq!(written(&plan), vec![(1, 8, 1, 100)]);
    }

    #[test]
    fn rows_held_after_a_channels_turn_wait_a_whole_interval() {
        let held = HeldTotals::default();
        let t0 = Instant::now();
        held.settle(held.plan(
            FxHashMap::from_iter([(key(1, 7), delta(1, 100, false))]),
            TEN,
            t0,
        ));
        let turn = t0 + TEN;
        held.settle(held.plan(FxHashMap::default(), TEN, turn));
        assert_eq!(held.len(), 0);
        // Nothing held: no commit is asked for, however often it is looked at.
        assert!(!held.pending(TEN, turn + TEN));
        held.settle(held.plan(
            FxHashMap::from_iter([(key(1, 7), delta(1, 101, false))]),
            TEN,
            turn,
        ));
        assert!(!held.pending(TEN, turn + Duration::from_secs(9)));
        assert!(held.pending(TEN, turn + TEN));
    }

    #[test]
    fn channels_first_held_together_fall_due_at_different_times() {
        let dues: std::collections::BTreeSet<_> = (1..=50)
            .map(|c| stagger(ChannelKey(c), TEN).as_millis() / 100)
            .collect();
        assert!(dues.len() > 30, "{dues:?}");
        assert!(dues.iter().all(|d| *d < 100));
    }
}
