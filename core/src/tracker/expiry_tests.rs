//! The deadline heap against the plain definition of IRC-only expiry: a user silent for the
//! presence timeout leaves at their last sighting plus the timeout.

use rustc_hash::FxHashMap;

use super::{Tracker, TrackerConfig};
use crate::domain::{Login, Timestamp, UserId};
use crate::event::UserRef;
use crate::store::{Batch, ChannelKey};

const TIMEOUT: i64 = 900;
const T0: i64 = 1_700_000_000;

fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

fn tracker() -> Tracker {
    let mut tr = Tracker::new(TrackerConfig {
        presence_timeout: TIMEOUT,
        ..TrackerConfig::default()
    });
    tr.add_channel(login("chan"), ChannelKey(1), None, FxHashMap::default());
    tr
}

/// A small deterministic generator (no dependency for one test).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[test]
fn a_random_replay_expires_exactly_as_the_definition_says() {
    let mut tr = tracker();
    let chan = login("chan");
    let users: Vec<UserRef> = (1..=300)
        .map(|i| UserRef::new(UserId(i), login(&format!("user{i}"))))
        .collect();
    // The definition: present users with (since, last); expired at last + timeout.
    let mut model: FxHashMap<UserId, (i64, i64)> = FxHashMap::default();
    let mut rng = Lcg(7);
    let mut now = T0;
    for _ in 0..40_000 {
        now += i64::try_from(rng.next(20)).expect("small");
        let mut batch = Batch::default();
        tr.tick(Timestamp(now), &mut batch);
        let mut expected: Vec<((ChannelKey, UserId, Timestamp), Option<Timestamp>)> = model
            .iter()
            .filter(|(_, (_, last))| now - last >= TIMEOUT)
            .map(|(id, (since, last))| {
                (
                    (ChannelKey(1), *id, Timestamp(*since)),
                    Some(Timestamp(last + TIMEOUT)),
                )
            })
            .collect();
        model.retain(|_, (_, last)| now - *last < TIMEOUT);
        expected.sort();
        let mut closed: Vec<_> = batch.presence.into_iter().collect();
        closed.sort();
        assert_eq!(closed, expected, "at {now}");
        let u = &users[usize::try_from(rng.next(300)).expect("small")];
        let mut batch = Batch::default();
        if rng.next(10) == 0 {
            tr.part(&chan, u, Timestamp(now), &mut batch);
            model.remove(&u.id);
        } else {
            tr.join(&chan, u, Timestamp(now), &mut batch);
            model
                .entry(u.id)
                .and_modify(|(_, last)| *last = now)
                .or_insert((now, now));
        }
        assert_eq!(tr.present_count(&chan), Some(model.len()));
    }
    let deadlines = tr.channels.get(&chan).map(|c| c.deadlines.len());
    assert!(
        deadlines.is_some_and(|n| n <= 2 * 300 + 1024),
        "{deadlines:?}"
    );
}

#[test]
fn snapshots_never_let_stale_deadlines_pile_up() {
    let mut tr = tracker();
    let chan = login("chan");
    for round in 0..200i64 {
        let users: Vec<UserRef> = (0..100)
            .map(|i| {
                let id = round * 100 + i + 1;
                UserRef::new(UserId(id), login(&format!("u{id}")))
            })
            .collect();
        let mut batch = Batch::default();
        tr.snapshot(&chan, &users, 100, Timestamp(T0 + round * 60), &mut batch);
    }
    let deadlines = tr.channels.get(&chan).map(|c| c.deadlines.len());
    assert!(
        deadlines.is_some_and(|n| n <= 2 * 100 + 1024),
        "{deadlines:?}"
    );
}
