//! The tracker on its own (pure, clock-free): each step's [`Batch`] holds exactly the row
//! changes that step implies, and nothing for what did not change.

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Timestamp, UserId};
use chatters_core::event::UserRef;
use chatters_core::store::{
    Batch, BotRule, ChannelKey, ChannelUserDelta, SeriesRow, StreamKey, StreamUserDelta, UserRow,
};
use chatters_core::testing::*;
use chatters_core::tracker::{Tracker, TrackerConfig};
use rustc_hash::FxHashMap;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const BOT: i64 = 900;
const CH: ChannelKey = ChannelKey(1);
const LIVE: StreamKey = StreamKey(10);
const TIMEOUT: i64 = 900;

fn tracker_with(broadcaster: Option<UserId>, rules: &[(&str, BotRule)]) -> Tracker {
    let mut tr = Tracker::new(TrackerConfig {
        bot_user: Some(UserId(BOT)),
        bot_login: Some(login("chattersbot")),
        presence_timeout: TIMEOUT,
        snapshot_stale_after: 1800,
        bots: KnownBots::shipped(),
    });
    let rules = rules.iter().map(|(l, r)| (login(l), *r)).collect();
    tr.add_channel(login(CHAN), CH, broadcaster, rules);
    tr
}

/// A tracker with `chan` (broadcaster id known) live since 0 s as stream `LIVE`.
fn live_tracker() -> Tracker {
    let mut tr = tracker_with(Some(UserId(ROOM)), &[]);
    let b = step(|b| tr.stream_online(&login(CHAN), LIVE, t(0), Some(UserId(ROOM)), b));
    assert!(b.is_empty(), "going live writes nothing by itself: {b:?}");
    tr
}

/// Runs one step into a fresh batch.
fn step(f: impl FnOnce(&mut Batch)) -> Batch {
    let mut b = Batch::default();
    f(&mut b);
    b
}

fn snap(tr: &mut Tracker, users: &[&UserRef], at: i64) -> Batch {
    let users: Vec<UserRef> = users.iter().map(|u| (*u).clone()).collect();
    step(|b| tr.snapshot(&login(CHAN), &users, users.len() as u64, t(at), b))
}

fn say(tr: &mut Tracker, u: &UserRef, at: i64) -> Batch {
    step(|b| tr.message(&message_in(CHAN, ROOM, u, at), b))
}

fn joins(tr: &mut Tracker, u: &UserRef, at: i64) -> Batch {
    step(|b| tr.join(&login(CHAN), u, t(at), b))
}

fn parts(tr: &mut Tracker, u: &UserRef, at: i64) -> Batch {
    step(|b| tr.part(&login(CHAN), u, t(at), b))
}

fn tick(tr: &mut Tracker, at: i64) -> Batch {
    step(|b| tr.tick(t(at), b))
}

fn present(tr: &Tracker) -> Option<usize> {
    tr.present_count(&login(CHAN))
}

// ---- expected rows ----

fn opened(
    users: &[i64],
    since: i64,
) -> FxHashMap<(ChannelKey, UserId, Timestamp), Option<Timestamp>> {
    users
        .iter()
        .map(|u| ((CH, UserId(*u), t(since)), None))
        .collect()
}

fn closed(
    rows: &[(i64, i64, i64)],
) -> FxHashMap<(ChannelKey, UserId, Timestamp), Option<Timestamp>> {
    rows.iter()
        .map(|(u, since, until)| ((CH, UserId(*u), t(*since)), Some(t(*until))))
        .collect()
}

/// Channel rows `(user, first, last, messages)`.
fn channel_rows(
    rows: &[(i64, i64, i64, i64)],
) -> FxHashMap<(ChannelKey, UserId), ChannelUserDelta> {
    rows.iter()
        .map(|(u, f, l, m)| {
            (
                (CH, UserId(*u)),
                ChannelUserDelta {
                    first_seen: t(*f),
                    last_seen: t(*l),
                    messages: *m,
                },
            )
        })
        .collect()
}

/// An expected (stream, user) row: by default in `LIVE`, no messages, active, not a possible
/// first sighting.
#[derive(Debug, Clone, Copy)]
struct Seen {
    stream: StreamKey,
    user: UserId,
    delta: StreamUserDelta,
}

fn seen(user: i64, first: i64, last: i64) -> Seen {
    Seen {
        stream: LIVE,
        user: UserId(user),
        delta: StreamUserDelta {
            channel: CH,
            stream_started: t(0),
            first_seen: t(first),
            last_seen: t(last),
            messages: 0,
            first_msg: false,
            active: true,
            watch: 0,
            maybe_first: false,
        },
    }
}

impl Seen {
    fn messages(mut self, n: i64) -> Self {
        self.delta.messages = n;
        self
    }
    fn first_msg(mut self) -> Self {
        self.delta.first_msg = true;
        self
    }
    /// Seconds of watch time a closed interval credits.
    fn watched(mut self, seconds: i64) -> Self {
        self.delta.watch = seconds;
        self
    }
    /// Only a part.
    fn part(mut self) -> Self {
        self.delta.active = false;
        self
    }
    /// The tracker had not recorded the user in this stream yet: the store decides "new".
    fn arrival(mut self) -> Self {
        self.delta.maybe_first = true;
        self
    }
    fn in_stream(mut self, stream: StreamKey, started: i64) -> Self {
        self.stream = stream;
        self.delta.stream_started = t(started);
        self
    }
}

fn stream_rows(rows: &[Seen]) -> FxHashMap<(StreamKey, UserId), StreamUserDelta> {
    rows.iter().map(|r| ((r.stream, r.user), r.delta)).collect()
}

fn names(users: &[&UserRef], at: i64) -> FxHashMap<UserId, UserRow> {
    users
        .iter()
        .map(|u| {
            (
                u.id,
                UserRow {
                    login: u.login.clone(),
                    display_name: None,
                    at: t(at),
                },
            )
        })
        .collect()
}

fn point(at: i64, chatters: i64, total: Option<i64>) -> SeriesRow {
    SeriesRow {
        channel: CH,
        at: t(at),
        chatters,
        total,
    }
}

fn peaks(v: &[(StreamKey, i64)]) -> FxHashMap<StreamKey, i64> {
    v.iter().copied().collect()
}

// ---- snapshots ----

#[test]
fn a_user_listed_again_while_present_and_recorded_costs_no_rows() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let b = snap(&mut tr, &[&alice, &bob], 60);
    assert_eq!(b.users, names(&[&alice, &bob], 60));
    assert_eq!(b.presence, opened(&[1, 2], 60));
    assert_eq!(
        b.channel_users,
        channel_rows(&[(1, 60, 60, 0), (2, 60, 60, 0)])
    );
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 60, 60).arrival(), seen(2, 60, 60).arrival()])
    );
    assert_eq!(b.series, vec![point(60, 2, Some(2))]);
    assert_eq!(b.stream_peaks, peaks(&[(LIVE, 2)]));
    assert_eq!(b.rows(), 2 + 2 + 2 + 2 + 1 + 1);

    for at in [120, 180, 240] {
        let b = snap(&mut tr, &[&bob, &alice], at);
        assert_eq!(b.series, vec![point(at, 2, Some(2))]);
        assert_eq!(b.rows(), 1, "only the series point: {b:?}");
    }
    assert_eq!(present(&tr), Some(2));
}

#[test]
fn a_user_present_before_the_stream_gets_one_stream_row_at_the_first_snapshot_in_it() {
    let mut tr = tracker_with(Some(UserId(ROOM)), &[]);
    let alice = user(1, "alice");
    let b = snap(&mut tr, &[&alice], -60);
    assert_eq!(b.presence, opened(&[1], -60));
    assert_eq!(b.stream_users, stream_rows(&[]));
    assert_eq!(b.stream_peaks, peaks(&[]));
    let b = step(|b| tr.stream_online(&login(CHAN), LIVE, t(0), Some(UserId(ROOM)), b));
    assert!(b.is_empty());

    let b = snap(&mut tr, &[&alice], 60);
    assert_eq!(b.stream_users, stream_rows(&[seen(1, 60, 60).arrival()]));
    assert_eq!(b.series, vec![point(60, 1, Some(1))]);
    assert_eq!(b.stream_peaks, peaks(&[(LIVE, 1)]));
    assert_eq!(b.rows(), 3, "no presence or channel row: alice never left");
    assert_eq!(snap(&mut tr, &[&alice], 120).rows(), 1);
}

#[test]
fn a_snapshot_missing_a_user_closes_their_interval_at_the_snapshot_time() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let carol = user(3, "carol");
    snap(&mut tr, &[&alice, &bob, &carol], 60);
    // While live, a present user's message changes their stream row only.
    let b = say(&mut tr, &bob, 90);
    assert_eq!(b.stream_users, stream_rows(&[seen(2, 90, 90).messages(1)]));
    assert_eq!(b.rows(), 1);

    // Bob and carol are gone at 120 s: their intervals end then; their last sightings (bob's
    // message, carol's snapshot) are written to their rows.
    let b = snap(&mut tr, &[&alice], 120);
    assert_eq!(b.presence, closed(&[(2, 60, 120), (3, 60, 120)]));
    assert_eq!(
        b.channel_users,
        channel_rows(&[(2, 90, 90, 0), (3, 60, 60, 0)])
    );
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(2, 90, 90).watched(60), seen(3, 60, 60).watched(60)])
    );
    assert_eq!(b.series, vec![point(120, 1, Some(1))]);
    assert_eq!(b.rows(), 2 + 2 + 2 + 1);
    assert_eq!(present(&tr), Some(1));

    // Back later: a new interval, no new stream row needed but a refreshed sighting.
    let b = snap(&mut tr, &[&alice, &bob], 180);
    assert_eq!(b.presence, opened(&[2], 180));
    assert_eq!(b.channel_users, channel_rows(&[(2, 180, 180, 0)]));
    assert_eq!(b.stream_users, stream_rows(&[seen(2, 180, 180).arrival()]));
    assert_eq!(
        b.stream_peaks,
        peaks(&[]),
        "2 present again does not beat the peak of 3"
    );
}

#[test]
fn a_user_listed_twice_in_one_snapshot_is_counted_once() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let users = vec![alice.clone(), bob.clone(), alice.clone()];
    let b = step(|b| tr.snapshot(&login(CHAN), &users, 3, t(60), b));
    assert_eq!(b.presence, opened(&[1, 2], 60));
    assert_eq!(
        b.channel_users,
        channel_rows(&[(1, 60, 60, 0), (2, 60, 60, 0)])
    );
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 60, 60).arrival(), seen(2, 60, 60).arrival()])
    );
    assert_eq!(
        b.series,
        vec![point(60, 2, Some(3))],
        "Helix total is kept, never used as the count"
    );
    assert_eq!(b.stream_peaks, peaks(&[(LIVE, 2)]));
    assert_eq!(present(&tr), Some(2));

    // Listed twice again while already present: still one user, still no rows.
    let b = step(|b| tr.snapshot(&login(CHAN), &users, 3, t(120), b));
    assert_eq!(b.series, vec![point(120, 2, Some(3))]);
    assert_eq!(b.rows(), 1);
}

// ---- who counts ----

#[test]
fn the_broadcaster_the_bot_account_and_known_bots_are_not_counted() {
    let mut tr = tracker_with(
        Some(UserId(ROOM)),
        &[("mybot", BotRule::Add), ("moobot", BotRule::Allow)],
    );
    step(|b| tr.stream_online(&login(CHAN), LIVE, t(0), Some(UserId(ROOM)), b));
    let alice = user(1, "alice");
    let broadcaster = user(ROOM, CHAN);
    let me = user(BOT, "chattersbot");
    let my_login_new_id = user(899, "chattersbot");
    let nightbot = user(901, "nightbot");
    let mybot = user(902, "mybot");
    let moobot = user(903, "moobot");
    let everyone = [
        &alice,
        &broadcaster,
        &me,
        &my_login_new_id,
        &nightbot,
        &mybot,
        &moobot,
    ];
    let b = snap(&mut tr, &everyone, 60);
    // Counted: alice, and moobot (a shipped bot allowed in this channel).
    assert_eq!(b.series, vec![point(60, 2, Some(7))]);
    assert_eq!(b.stream_peaks, peaks(&[(LIVE, 2)]));
    assert_eq!(present(&tr), Some(2));
    // Rows are still written for everyone: the figures exclude them when read, so a rule
    // change applies to history too.
    assert_eq!(b.presence.len(), 7);
    assert_eq!(b.stream_users.len(), 7);

    // IRC: their messages and joins do not raise the IRC-tracked count either.
    for u in [&broadcaster, &me, &nightbot, &mybot] {
        let b = say(&mut tr, u, 70);
        assert_eq!(b.stream_peaks, peaks(&[]));
    }
    let b = say(&mut tr, &user(4, "dave"), 80);
    assert_eq!(b.stream_peaks, peaks(&[(LIVE, 3)]));
    assert_eq!(present(&tr), Some(3));
}

#[test]
fn the_broadcaster_is_recognised_by_login_before_their_id_is_known() {
    let mut tr = tracker_with(None, &[]);
    let broadcaster = user(ROOM, CHAN);
    let alice = user(1, "alice");
    joins(&mut tr, &broadcaster, 10);
    joins(&mut tr, &alice, 20);
    assert_eq!(present(&tr), Some(1));
    // IRC-only (no snapshot yet): one point per minute, counting alice only.
    let b = tick(&mut tr, 60);
    assert_eq!(b.series, vec![point(60, 1, None)]);
    // A message carries the room id: the channel learns its broadcaster id.
    let b = step(|b| tr.message(&message_in(CHAN, ROOM, &alice, 70), b));
    assert_eq!(b.channel_ids, [(CH, UserId(ROOM))].into_iter().collect());
    let b = say(&mut tr, &alice, 80);
    assert!(b.channel_ids.is_empty(), "learnt once");
}

// ---- opt-out ----

#[test]
fn opted_out_users_produce_no_rows() {
    let mut tr = live_tracker();
    tr.set_opted_out([UserId(7)]);
    let xavier = user(7, "xavier");
    let mut b = Batch::default();
    let ch = login(CHAN);
    tr.join(&ch, &xavier, t(10), &mut b);
    tr.message(&message_in(CHAN, ROOM, &xavier, 20), &mut b);
    tr.part(&ch, &xavier, t(30), &mut b);
    tr.snapshot(&ch, std::slice::from_ref(&xavier), 1, t(40), &mut b);
    tr.raid(&ch, &xavier, 12, t(50), &mut b);
    tr.rename(&user(7, "xavier_new"), t(60), &mut b);
    tr.account(&xavier, t(-1_000_000), t(70), &mut b);
    // The snapshot still adds its point: nobody counted, Helix said one.
    assert_eq!(b.series, vec![point(40, 0, Some(1))]);
    assert_eq!(b.rows(), 1, "nothing about xavier: {b:?}");
    assert_eq!(present(&tr), Some(0));
}

#[test]
fn opting_out_forgets_a_present_user_and_opting_in_records_them_again() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    snap(&mut tr, &[&alice, &bob], 60);
    tr.opt_out(UserId(1));
    assert!(tr.is_opted_out(UserId(1)));
    assert_eq!(present(&tr), Some(1));
    // Not listed any more: no closing row either (the store deleted her rows).
    let b = snap(&mut tr, &[&bob], 120);
    assert_eq!(b.series, vec![point(120, 1, Some(1))]);
    assert_eq!(b.rows(), 1);
    assert!(say(&mut tr, &alice, 130).is_empty());

    tr.opt_in(UserId(1));
    assert!(!tr.is_opted_out(UserId(1)));
    let b = say(&mut tr, &alice, 140);
    assert_eq!(b.users, names(&[&alice], 140), "her name is written again");
    assert_eq!(b.presence, opened(&[1], 140));
    assert_eq!(b.channel_users, channel_rows(&[(1, 140, 140, 0)]));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 140, 140).messages(1).arrival()])
    );
    assert_eq!(
        b.stream_peaks,
        peaks(&[]),
        "2 present does not beat the peak of 2"
    );
    assert_eq!(present(&tr), Some(2));
}

// ---- IRC-only presence ----

#[test]
fn irc_only_presence_times_out_at_last_sighting_plus_the_timeout() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let b = joins(&mut tr, &alice, 10);
    assert_eq!(b.users, names(&[&alice], 10));
    assert_eq!(b.presence, opened(&[1], 10));
    assert_eq!(b.channel_users, channel_rows(&[(1, 10, 10, 0)]));
    assert_eq!(b.stream_users, stream_rows(&[seen(1, 10, 10).arrival()]));
    assert_eq!(b.stream_peaks, peaks(&[(LIVE, 1)]));
    assert_eq!(b.rows(), 5);

    let b = say(&mut tr, &alice, 100);
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 100, 100).messages(1)])
    );
    assert_eq!(b.rows(), 1);

    // 899 s after her message she is still present (and counted in the minute point).
    let b = tick(&mut tr, 999);
    assert_eq!(b.series, vec![point(960, 1, None)]);
    assert_eq!(b.rows(), 1);
    assert_eq!(present(&tr), Some(1));

    let b = tick(&mut tr, 1000);
    assert_eq!(b.presence, closed(&[(1, 10, 1000)]));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 100, 100).watched(990)])
    );
    assert_eq!(b.rows(), 2);
    assert_eq!(present(&tr), Some(0));

    let b = tick(&mut tr, 1020);
    assert_eq!(
        b.series,
        vec![point(1020, 0, None)],
        "points continue while live"
    );
}

#[test]
fn a_late_tick_still_ends_presence_at_the_exact_timeout() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    joins(&mut tr, &alice, 10);
    joins(&mut tr, &bob, 1500);
    let b = tick(&mut tr, 2000);
    assert_eq!(b.presence, closed(&[(1, 10, 910)]));
    assert_eq!(b.stream_users, stream_rows(&[seen(1, 10, 10).watched(900)]));
    assert_eq!(b.series, vec![point(1980, 1, None)]);
    assert_eq!(present(&tr), Some(1));
}

#[test]
fn a_part_closes_the_interval_at_its_time_and_is_no_presence() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let carol = user(3, "carol");
    joins(&mut tr, &alice, 10);
    let b = parts(&mut tr, &alice, 50);
    assert_eq!(b.presence, closed(&[(1, 10, 50)]));
    assert_eq!(b.channel_users, channel_rows(&[(1, 50, 50, 0)]));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 50, 50).part().watched(40)])
    );
    assert_eq!(b.rows(), 3);
    assert_eq!(present(&tr), Some(0));

    // A part from someone never present: an observation, not activity, no interval.
    let b = parts(&mut tr, &carol, 60);
    assert_eq!(b.users, names(&[&carol], 60));
    assert_eq!(b.channel_users, channel_rows(&[(3, 60, 60, 0)]));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(3, 60, 60).part().arrival()])
    );
    assert_eq!(b.rows(), 3);
}

#[test]
fn irc_peak_counts_counted_users_observed_in_the_stream() {
    let mut tr = tracker_with(Some(UserId(ROOM)), &[]);
    let a = user(1, "aa");
    let b = user(2, "bb");
    let c = user(3, "cc");
    let d = user(4, "dd");
    let nightbot = user(901, "nightbot");
    let online = |tr: &mut Tracker| {
        step(|x| tr.stream_online(&login(CHAN), LIVE, t(20), Some(UserId(ROOM)), x))
    };
    // a is present before the stream, and counted once observed in it (at 40 s).
    let got: Vec<_> = [
        joins(&mut tr, &a, 10),
        online(&mut tr),
        joins(&mut tr, &nightbot, 25),
        joins(&mut tr, &b, 30),
        say(&mut tr, &a, 40),
        parts(&mut tr, &b, 50),
        joins(&mut tr, &c, 60),
        joins(&mut tr, &d, 70),
    ]
    .into_iter()
    .map(|batch| batch.stream_peaks)
    .collect();
    let expected: Vec<_> = [None, None, None, Some(1), Some(2), None, None, Some(3)]
        .into_iter()
        .map(|p| peaks(&p.map(|p| vec![(LIVE, p)]).unwrap_or_default()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn when_snapshots_stop_presence_falls_back_to_irc_timeouts() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    snap(&mut tr, &[&alice], 60);
    // The snapshot is fresh: listed users stay, however silent, and no minute points.
    assert!(tick(&mut tr, 1000).is_empty());
    assert!(
        tick(&mut tr, 1860).is_empty(),
        "exactly 1800 s old is not stale yet"
    );
    let b = tick(&mut tr, 1861);
    assert_eq!(b.presence, closed(&[(1, 60, 960)]));
    assert_eq!(b.stream_users, stream_rows(&[seen(1, 60, 60).watched(900)]));
    assert_eq!(b.series, vec![point(1860, 0, None)]);
    assert_eq!(b.rows(), 3);
    assert_eq!(present(&tr), Some(0));
}

// ---- streams ----

#[test]
fn going_offline_writes_present_users_last_sightings_and_ends_the_stream() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    snap(&mut tr, &[&alice, &bob], 60);
    say(&mut tr, &alice, 100);
    let b = step(|b| tr.stream_offline(&login(CHAN), t(200), b));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 100, 100).watched(140), seen(2, 60, 60).watched(140)])
    );
    assert_eq!(b.stream_ends, vec![(LIVE, t(200))]);
    assert_eq!(
        b.rows(),
        3,
        "presence goes on: offline chat is still tracked"
    );
    assert_eq!(tr.live_stream(&login(CHAN)), None);
    assert_eq!(present(&tr), Some(2));

    let b = snap(&mut tr, &[&alice, &bob], 260);
    assert_eq!(b.series, vec![point(260, 2, Some(2))]);
    assert_eq!(b.rows(), 1, "no stream rows while offline");
    assert!(
        step(|b| tr.stream_offline(&login(CHAN), t(300), b)).is_empty(),
        "ended once"
    );
}

#[test]
fn a_new_stream_while_one_is_live_ends_the_old_one_at_the_new_start() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    snap(&mut tr, &[&alice], 60);
    // The same stream again (a restart, or the next poll): nothing happens.
    assert!(step(|b| tr.stream_online(&login(CHAN), LIVE, t(0), Some(UserId(ROOM)), b)).is_empty());

    let next = StreamKey(11);
    let b = step(|b| tr.stream_online(&login(CHAN), next, t(1000), Some(UserId(ROOM)), b));
    assert_eq!(b.stream_ends, vec![(LIVE, t(1000))]);
    assert_eq!(b.stream_users, stream_rows(&[seen(1, 60, 60).watched(940)]));
    assert_eq!(b.rows(), 2);
    assert_eq!(tr.live_stream(&login(CHAN)), Some(next));

    let b = snap(&mut tr, &[&alice], 1060);
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 1060, 1060).in_stream(next, 1000).arrival()])
    );
    assert_eq!(b.stream_peaks, peaks(&[(next, 1)]));
    assert_eq!(b.rows(), 3);
}

// ---- messages ----

#[test]
fn messages_count_in_the_stream_row_while_live_and_in_the_channel_row_offline() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let mut first = message_in(CHAN, ROOM, &alice, 10);
    first.first_msg = true;
    let b = step(|b| tr.message(&first, b));
    // The channel row records the arrival; the message is counted in the stream row (the
    // channel's totals add its streams').
    assert_eq!(b.channel_users, channel_rows(&[(1, 10, 10, 0)]));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 10, 10).messages(1).first_msg().arrival()])
    );

    // A USERNOTICE without text: an observation, not a message.
    let mut resub = message_in(CHAN, ROOM, &alice, 20);
    resub.has_text = false;
    let b = step(|b| tr.message(&resub, b));
    assert_eq!(b.stream_users, stream_rows(&[seen(1, 20, 20)]));
    assert_eq!(b.rows(), 1);

    // A shared-chat copy of a message typed in another channel is dropped ...
    let mut copy = message_in(CHAN, ROOM, &bob, 30);
    copy.source_room_id = Some(UserId(999));
    assert!(step(|b| tr.message(&copy, b)).is_empty());
    // ... while one typed here, in a shared session, counts.
    let mut own = message_in(CHAN, ROOM, &bob, 40);
    own.source_room_id = Some(UserId(ROOM));
    let b = step(|b| tr.message(&own, b));
    assert_eq!(b.channel_users, channel_rows(&[(2, 40, 40, 0)]));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(2, 40, 40).messages(1).arrival()])
    );

    // Several messages in one batch merge into one delta.
    let mut b = Batch::default();
    for at in [50, 51, 52] {
        tr.message(&message_in(CHAN, ROOM, &alice, at), &mut b);
    }
    assert_eq!(b.stream_users, stream_rows(&[seen(1, 50, 52).messages(3)]));
    assert_eq!(b.rows(), 1);

    // Offline, the channel row counts them.
    step(|b| tr.stream_offline(&login(CHAN), t(100), b));
    let mut b = Batch::default();
    for at in [110, 111] {
        tr.message(&message_in(CHAN, ROOM, &alice, at), &mut b);
    }
    assert_eq!(b.channel_users, channel_rows(&[(1, 110, 111, 2)]));
    assert_eq!(b.rows(), 1);
}

#[test]
fn a_released_channel_ends_its_presence_and_writes_nothing_more_but_its_stream_stays_open() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    joins(&mut tr, &alice, 10);
    joins(&mut tr, &bob, 100);

    // Alice's timeout (910) is past the release: both end at the release time.
    let b = step(|b| tr.release(&login(CHAN), t(300), b));
    assert_eq!(b.presence, closed(&[(1, 10, 300), (2, 100, 300)]));
    assert_eq!(
        b.stream_users,
        stream_rows(&[seen(1, 10, 10).watched(290), seen(2, 100, 100).watched(200)])
    );
    assert!(b.stream_ends.is_empty(), "the stream is not ended here");
    assert_eq!(b.rows(), 4);
    assert_eq!(present(&tr), Some(0));
    assert_eq!(tr.live_stream(&login(CHAN)), None);

    // No more series points for a channel another instance tracks.
    let b = tick(&mut tr, 2000);
    assert!(b.is_empty(), "{b:?}");

    // Taken back later: the stream continues here.
    let b = step(|b| tr.stream_online(&login(CHAN), LIVE, t(0), Some(UserId(ROOM)), b));
    assert!(b.is_empty(), "{b:?}");
    assert_eq!(tr.live_stream(&login(CHAN)), Some(LIVE));
}

#[test]
fn a_release_ends_presence_at_the_timeout_when_that_came_first() {
    let mut tr = live_tracker();
    let alice = user(1, "alice");
    joins(&mut tr, &alice, 10);
    let b = step(|b| tr.release(&login(CHAN), t(5000), b));
    assert_eq!(b.presence, closed(&[(1, 10, 910)]));
}
