//! Properties of the tracker over random event sequences (proptest): whatever arrives, in any
//! order of joins, parts, messages, snapshots, expiries and stream changes,
//! - a user's presence intervals in a channel never overlap, end after they begin, and at most
//!   the latest one is open;
//! - no count is ever negative;
//! - a live stream's peak is at least every snapshot's counted users during it.

use std::collections::BTreeMap;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Timestamp, UserId};
use chatters_core::store::{Batch, ChannelKey, StreamKey};
use chatters_core::testing::{login, message_in, t, user};
use chatters_core::tracker::{Tracker, TrackerConfig};
use proptest::prelude::*;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const CH: ChannelKey = ChannelKey(1);

#[derive(Debug, Clone)]
enum Step {
    Join(i64),
    Part(i64),
    Message(i64),
    Snapshot(Vec<i64>),
    Online,
    Offline,
    Tick,
}

fn step() -> impl Strategy<Value = (Step, i64)> {
    let users = 1i64..12;
    let op = prop_oneof![
        4 => users.clone().prop_map(Step::Join),
        3 => users.clone().prop_map(Step::Part),
        5 => users.clone().prop_map(Step::Message),
        2 => proptest::collection::btree_set(users, 0..10)
            .prop_map(|s| Step::Snapshot(s.into_iter().collect())),
        1 => Just(Step::Online),
        1 => Just(Step::Offline),
        2 => Just(Step::Tick),
    ];
    // Seconds since the previous step: often none, sometimes past the presence timeout.
    (
        op,
        prop_oneof![3 => 0i64..5, 2 => 5i64..400, 1 => 400i64..2000],
    )
}

/// What the store would hold after every batch: presence rows by (user, since).
#[derive(Default)]
struct Applied {
    presence: BTreeMap<(UserId, i64), Option<i64>>,
    peaks: BTreeMap<StreamKey, i64>,
}

impl Applied {
    fn apply(&mut self, batch: &Batch) {
        for ((channel, user, since), until) in &batch.presence {
            assert_eq!(*channel, CH);
            self.presence.insert((*user, since.0), until.map(|u| u.0));
        }
        for (stream, peak) in &batch.stream_peaks {
            assert!(*peak >= 0, "negative peak {peak}");
            self.peaks.insert(*stream, *peak);
        }
        for delta in batch.channel_users.values() {
            assert!(delta.messages >= 0, "negative message count: {delta:?}");
        }
        for delta in batch.stream_users.values() {
            assert!(delta.messages >= 0, "negative message count: {delta:?}");
        }
        for point in &batch.series {
            assert!(point.chatters >= 0, "negative chatters: {point:?}");
        }
    }

    fn assert_intervals(&self) {
        let mut by_user: BTreeMap<UserId, Vec<(i64, Option<i64>)>> = BTreeMap::new();
        for ((u, since), until) in &self.presence {
            by_user.entry(*u).or_default().push((*since, *until));
        }
        for (u, intervals) in by_user {
            for (i, (since, until)) in intervals.iter().enumerate() {
                let last = i + 1 == intervals.len();
                match until {
                    Some(until) => assert!(until >= since, "{u:?}: {intervals:?}"),
                    None => assert!(
                        last,
                        "{u:?}: an open interval before another: {intervals:?}"
                    ),
                }
                if let Some((next, _)) = intervals.get(i + 1) {
                    let end = until.unwrap_or(i64::MAX);
                    assert!(end <= *next, "{u:?}: overlapping intervals {intervals:?}");
                }
            }
        }
    }
}

fn run(steps: &[(Step, i64)]) {
    let mut tracker = Tracker::new(TrackerConfig {
        bot_user: Some(UserId(900)),
        bot_login: Some(login("chattersbot")),
        presence_timeout: 900,
        snapshot_stale_after: 1800,
        bots: KnownBots::shipped(),
    });
    tracker.add_channel(login(CHAN), CH, Some(UserId(ROOM)), Default::default());
    let chan = login(CHAN);
    let mut applied = Applied::default();
    let mut now = 0i64;
    let mut live: Option<StreamKey> = None;
    let mut streams = 0i64;
    // The most counted users any snapshot saw, per stream.
    let mut snapshot_max: BTreeMap<StreamKey, i64> = BTreeMap::new();
    for (step, dt) in steps {
        now += dt;
        let at = t(now);
        let mut batch = Batch::default();
        let name = |id: i64| user(id, &format!("user{id}"));
        match step {
            Step::Join(id) => tracker.join(&chan, &name(*id), at, &mut batch),
            Step::Part(id) => tracker.part(&chan, &name(*id), at, &mut batch),
            Step::Message(id) => {
                tracker.message(&message_in(CHAN, ROOM, &name(*id), now), &mut batch)
            }
            Step::Snapshot(ids) => {
                let users: Vec<_> = ids.iter().map(|id| name(*id)).collect();
                tracker.snapshot(&chan, &users, users.len() as u64, at, &mut batch);
                if let Some(key) = live {
                    let max = snapshot_max.entry(key).or_default();
                    *max = (*max).max(ids.len() as i64);
                }
            }
            Step::Online => {
                if live.is_none() {
                    streams += 1;
                    let key = StreamKey(streams);
                    tracker.stream_online(&chan, key, at, Some(UserId(ROOM)), &mut batch);
                    live = Some(key);
                }
            }
            Step::Offline => {
                if live.take().is_some() {
                    tracker.stream_offline(&chan, at, &mut batch);
                }
            }
            Step::Tick => tracker.tick(Timestamp(now), &mut batch),
        }
        applied.apply(&batch);
        applied.assert_intervals();
    }
    let mut last = Batch::default();
    tracker.checkpoint(&mut last);
    applied.apply(&last);
    applied.assert_intervals();
    for (stream, max) in snapshot_max {
        let peak = applied.peaks.get(&stream).copied().unwrap_or(0);
        assert!(
            peak >= max,
            "stream {stream:?}: peak {peak} below a snapshot's {max}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn presence_never_overlaps_counts_never_go_negative_and_peaks_cover_snapshots(
        steps in proptest::collection::vec(step(), 1..120)
    ) {
        run(&steps);
    }
}
