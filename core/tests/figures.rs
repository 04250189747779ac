//! Every SPEC definition on hand-built event sequences, run through the real ingestion
//! pipeline into each backend, with exact expected numbers.

use std::sync::Arc;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{StreamId, Timestamp, UserId};
use chatters_core::event::Event;
use chatters_core::ingest::{Ingest, IngestConfig, IngestHandle};
use chatters_core::stats::{Figures, StreamFigures};
use chatters_core::store::{Channel, Store, Stream};
use chatters_core::testing::*;
use chatters_core::tracker::TrackerConfig;
use tokio_util::sync::CancellationToken;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const BOT: i64 = 900;

struct Harness {
    store: Arc<Store>,
    ingest: IngestHandle,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), chatters_core::store::StoreError>>,
    figures: Figures,
}

async fn harness(store: Arc<Store>) -> Harness {
    let config = IngestConfig {
        tracker: TrackerConfig {
            bot_user: Some(UserId(BOT)),
            bot_login: Some(login("chattersbot")),
            presence_timeout: 900,
            snapshot_stale_after: 3 * 3600,
            bots: KnownBots::shipped(),
        },
        ..IngestConfig::default()
    };
    let cancel = CancellationToken::new();
    let (ingest, task) = Ingest::start(store.clone(), config, cancel.clone())
        .await
        .expect("start ingestion");
    let figures = Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(BOT)));
    Harness {
        store,
        ingest,
        cancel,
        task,
        figures,
    }
}

impl Harness {
    async fn send(&self, events: Vec<Event>) {
        for e in events {
            self.ingest.send(e).await.expect("ingest");
        }
        self.ingest.flush().await.expect("flush");
    }

    async fn stream(&self, id: &str) -> Stream {
        self.store
            .stream(&StreamId::parse(id).expect("id"))
            .await
            .expect("read stream")
            .expect("stream exists")
    }

    async fn figures(&self, id: &str) -> StreamFigures {
        let s = self.stream(id).await;
        self.figures.stream(&s).await.expect("figures")
    }

    async fn channel(&self, name: &str) -> Channel {
        self.store
            .channel(&login(name))
            .await
            .expect("read channel")
            .expect("channel exists")
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("join").expect("final flush");
        assert_kept_sums(&self.store).await;
    }
}

fn counts(f: &StreamFigures) -> [i64; 8] {
    [
        f.unique_chatters,
        f.new_chatters,
        f.returning_chatters,
        f.first_time_chatters,
        f.peak_chatters,
        f.messages,
        f.lurkers,
        f.known_bots,
    ]
}

/// The main scenario: an offline snapshot, stream 1, a gap, stream 2 with a raid, a rename
/// and an opt-out, then an empty stream 3.
async fn scripted_streams(h: &Harness) {
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let carol = user(3, "carol");
    let dave = user(4, "dave");
    let erin = user(5, "erin");
    let frank = user(6, "frank");
    let gina = user(7, "gina");
    let nightbot = user(901, "nightbot");
    let broadcaster = user(ROOM, CHAN);
    let me = user(BOT, "chattersbot");
    let mut shared = message_in(CHAN, ROOM, &gina, 500);
    shared.source_room_id = Some(UserId(999));
    h.send(vec![
        snapshot(CHAN, &[&alice, &bob], -600),
        online(CHAN, ROOM, "1001", 0),
        snapshot(
            CHAN,
            &[&alice, &bob, &carol, &nightbot, &broadcaster, &me],
            60,
        ),
        first_msg(CHAN, ROOM, &carol, 120),
        msg(CHAN, ROOM, &alice, 130),
        msg(CHAN, ROOM, &alice, 131),
        msg(CHAN, ROOM, &broadcaster, 132),
        join(CHAN, &dave, 150),
        part(CHAN, &erin, 200),
        snapshot(CHAN, &[&alice, &carol, &dave, &frank, &nightbot], 300),
        msg(CHAN, ROOM, &frank, 400),
        Event::Message(Box::new(shared)),
        offline(CHAN, 600),
    ])
    .await;
}

async fn stream_figures_follow_the_definitions(store: Arc<Store>) {
    let h = harness(store).await;
    scripted_streams(&h).await;

    let s1 = h.figures("1001").await;
    // unique: alice, bob, carol, dave, frank (erin only parted, gina only via shared chat,
    // nightbot, the broadcaster and the bot account never count).
    // new: carol, dave, frank (alice and bob were first seen offline before the stream).
    // first-time: carol. peak: 4 at the 300 s snapshot. messages: 2 + 1 + 1. lurkers: bob, dave.
    assert_eq!(counts(&s1), [5, 3, 2, 1, 4, 4, 2, 1]);
    assert_eq!(
        s1.retention, None,
        "a channel's first stream has no retention"
    );
    assert_eq!(s1.started_at, t(0));
    assert_eq!(s1.ended_at, Some(t(600)));
    assert_eq!(s1.title, "stream 1001");

    let stream = h.stream("1001").await;
    let top = h.figures.top_chatters(&stream, 5).await.expect("top");
    let top: Vec<_> = top.iter().map(|u| (u.login.to_string(), u.count)).collect();
    assert_eq!(
        top,
        vec![
            ("alice".into(), 2),
            ("carol".into(), 1),
            ("frank".into(), 1)
        ]
    );

    let new = h.figures.new_chatters(&stream, 10).await.expect("new");
    let new: Vec<_> = new
        .iter()
        .map(|n| (n.login.to_string(), n.first_seen, n.first_time))
        .collect();
    assert_eq!(
        new,
        vec![
            ("frank".into(), t(300), false),
            ("dave".into(), t(150), false),
            ("carol".into(), t(60), true)
        ]
    );
    let newest = h.figures.new_chatters(&stream, 1).await.expect("new 1");
    assert_eq!(newest.len(), 1);
    h.stop().await;
}

async fn user_seen_only_by_part_is_no_chatter(store: Arc<Store>) {
    let h = harness(store).await;
    scripted_streams(&h).await;
    let chan = h.channel(CHAN).await;
    let seen = h
        .figures
        .seen(&chan, &login("erin"))
        .await
        .expect("seen")
        .expect("erin is known");
    let record = seen.record.expect("erin was observed in the channel");
    assert_eq!(
        (
            record.first_seen,
            record.last_seen,
            record.messages,
            record.streams_attended
        ),
        (t(200), t(200), 0, 0)
    );
    let s1 = h.stream("1001").await;
    let chatters = h
        .store
        .stream_chatters(s1.key, &[])
        .await
        .expect("chatters");
    assert!(!chatters.contains(&UserId(5)));
    h.stop().await;
}

async fn shared_chat_messages_count_only_in_their_source_channel(store: Arc<Store>) {
    let h = harness(store).await;
    let gina = user(7, "gina");
    let mut copy = message_in(CHAN, ROOM, &gina, 20);
    copy.source_room_id = Some(UserId(600));
    let mut original = message_in("other", 600, &gina, 20);
    original.source_room_id = Some(UserId(600));
    h.send(vec![
        online(CHAN, ROOM, "2001", 0),
        online("other", 600, "2002", 0),
        Event::Message(Box::new(copy)),
        Event::Message(Box::new(original)),
        offline(CHAN, 100),
        offline("other", 100),
    ])
    .await;
    assert_eq!(counts(&h.figures("2001").await), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(counts(&h.figures("2002").await), [1, 1, 0, 0, 1, 1, 0, 0]);
    h.stop().await;
}

async fn second_stream_has_retention_raid_retention_and_rename(store: Arc<Store>) {
    let h = harness(store).await;
    scripted_streams(&h).await;
    let alice = user(1, "alice");
    let alicia = user(1, "alicia");
    let dave = user(4, "dave");
    let henry = user(8, "henry");
    let ivan = user(9, "ivan");
    let judy = user(10, "judy");
    let raider = user(20, "raidguy");
    h.send(vec![
        snapshot(CHAN, &[&alice, &dave], 1000),
        online(CHAN, ROOM, "1002", 2000),
        snapshot(CHAN, &[&alice, &dave, &henry], 2100),
        Event::Raid {
            channel: login(CHAN),
            from: raider.clone(),
            viewers: 50,
            at: t(2200),
        },
        msg(CHAN, ROOM, &raider, 2210),
        join(CHAN, &ivan, 2250),
        msg(CHAN, ROOM, &judy, 2300),
        msg(CHAN, ROOM, &alicia, 2400),
        msg(CHAN, ROOM, &raider, 2600),
        snapshot(CHAN, &[&alicia, &dave, &ivan], 4100),
        offline(CHAN, 4500),
    ])
    .await;
    let s2 = h.figures("1002").await;
    // unique: alicia (= alice), dave, henry, ivan, judy, raidguy. new: henry, ivan, judy,
    // raidguy. returning: alice, dave. peak: 3 (both snapshots). messages: raidguy 2, judy 1,
    // alicia 1. lurkers: dave, henry, ivan.
    assert_eq!(counts(&s2), [6, 4, 2, 0, 3, 4, 3, 0]);
    // s1's unique chatters: alice, bob, carol, dave, frank; here again: alice, dave.
    assert_eq!(s2.retention, Some(0.4));

    let stream = h.stream("1002").await;
    let raids = h.figures.raids(&stream).await.expect("raids");
    assert_eq!(raids.len(), 1);
    assert_eq!(
        (raids[0].from_login.as_str(), raids[0].viewers, raids[0].at),
        ("raidguy", 50, t(2200))
    );
    // Arrivals within 5 min: ivan (2250), judy (2300); the raider is not an arrival.
    // Seen 30 min or more after the raid: ivan (4100 snapshot). Judy was last seen at 2300.
    assert_eq!(raids[0].arrivals, 2);
    assert_eq!(raids[0].retention, Some(0.5));
    let chan = h.channel(CHAN).await;
    let last = h
        .figures
        .last_raid(&chan)
        .await
        .expect("last raid")
        .expect("a raid");
    assert_eq!(last.retention, Some(0.5));

    let seen = h
        .figures
        .seen(&chan, &login("alicia"))
        .await
        .expect("seen")
        .expect("known");
    let names: Vec<_> = seen
        .names
        .iter()
        .map(|n| (n.login.to_string(), n.first_seen, n.last_seen))
        .collect();
    assert_eq!(
        names,
        vec![
            ("alice".into(), t(-600), Some(t(2400))),
            ("alicia".into(), t(2400), None)
        ]
    );
    let record = seen.record.expect("record");
    assert_eq!(
        (record.first_seen, record.messages, record.streams_attended),
        (t(-600), 3, 2)
    );
    assert!(
        h.figures
            .seen(&chan, &login("alice"))
            .await
            .expect("seen")
            .is_none(),
        "old login no longer resolves"
    );
    h.stop().await;
}

async fn opt_out_mid_stream_removes_the_user_from_every_figure(store: Arc<Store>) {
    let h = harness(store).await;
    scripted_streams(&h).await;
    let alice = user(1, "alice");
    let dave = user(4, "dave");
    let henry = user(8, "henry");
    h.send(vec![
        snapshot(CHAN, &[&alice, &dave], 1000),
        online(CHAN, ROOM, "1002", 2000),
        snapshot(CHAN, &[&alice, &dave, &henry], 2100),
        msg(CHAN, ROOM, &dave, 2150),
        Event::OptOut {
            user: UserId(4),
            at: t(2200),
        },
        msg(CHAN, ROOM, &dave, 2300),
        join(CHAN, &dave, 2310),
        snapshot(CHAN, &[&alice, &dave, &henry], 2400),
        offline(CHAN, 2500),
    ])
    .await;
    // s1 without dave: unique alice, bob, carol, frank; new carol, frank; peak 3 (both
    // snapshots: dave is taken out of the 300 s one); lurkers: bob.
    assert_eq!(counts(&h.figures("1001").await), [4, 2, 2, 1, 3, 4, 1, 1]);
    // s2: alice, henry; peak 2; no messages left (dave's are gone).
    let s2 = h.figures("1002").await;
    assert_eq!(counts(&s2), [2, 1, 1, 0, 2, 0, 2, 0]);
    assert_eq!(s2.retention, Some(0.25));
    let chan = h.channel(CHAN).await;
    assert!(
        h.figures
            .seen(&chan, &login("dave"))
            .await
            .expect("seen")
            .is_none()
    );
    assert_eq!(h.store.user(UserId(4)).await.expect("user"), None);
    assert!(
        h.store
            .channel_user(chan.key, UserId(4))
            .await
            .expect("row")
            .is_none()
    );
    let everyone = h
        .store
        .channel_users(chan.key, Timestamp(i64::MIN), Timestamp(i64::MAX), &[])
        .await
        .expect("users");
    assert!(everyone.iter().all(|u| u.user_id != UserId(4)));
    assert_eq!(
        h.store.opted_out().await.expect("opt-outs"),
        vec![UserId(4)]
    );

    // Opting back in records later observations again (history stays deleted).
    h.send(vec![
        Event::OptIn { user: UserId(4) },
        join(CHAN, &dave, 3000),
    ])
    .await;
    let back = h
        .store
        .channel_user(chan.key, UserId(4))
        .await
        .expect("row")
        .expect("recorded again");
    assert_eq!(back.first_seen, t(3000));
    h.stop().await;
}

async fn empty_stream_has_zero_figures(store: Arc<Store>) {
    let h = harness(store).await;
    scripted_streams(&h).await;
    h.send(vec![online(CHAN, ROOM, "1003", 5000), offline(CHAN, 5100)])
        .await;
    let s3 = h.figures("1003").await;
    assert_eq!(counts(&s3), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(s3.retention, Some(0.0));
    h.stop().await;
}

async fn irc_only_peak_follows_joins_parts_and_timeouts(store: Arc<Store>) {
    let h = harness(store).await;
    let a = user(11, "aa");
    let b = user(12, "bb");
    let c = user(13, "cc");
    let d = user(14, "dd");
    let e = user(15, "ee");
    h.send(vec![
        online("quiet", 700, "3001", 0),
        join("quiet", &a, 10),
        join("quiet", &b, 20),
        msg("quiet", 700, &c, 30),
        part("quiet", &b, 40),
        join("quiet", &d, 50),
        // 15 minutes after their last sighting a, c and d time out before e arrives.
        msg("quiet", 700, &e, 2000),
        join("quiet", &a, 2010),
        offline("quiet", 2100),
    ])
    .await;
    let f = h.figures("3001").await;
    // unique a, b, c, d, e; all new; peak 3 (a, b, c at 30 s; a, c, d at 50 s).
    assert_eq!(counts(&f), [5, 5, 0, 0, 3, 2, 3, 0]);
    let chan = h.channel("quiet").await;
    let series = h
        .figures
        .series(&chan, t(0), t(3000))
        .await
        .expect("series");
    // One IRC-only point per minute boundary while live or anyone is present: a, c, d until
    // they time out at 910-950 s, nobody until e and a arrive at 2000 s, and those two after.
    let points: Vec<_> = series
        .iter()
        .map(|p| (p.at.0 - T0, p.chatters, p.total))
        .collect();
    let mut expected = vec![(0, 0, None)];
    expected.extend((60..=900).step_by(60).map(|m| (m, 3, None)));
    expected.extend((960..=1980).step_by(60).map(|m| (m, 0, None)));
    expected.extend([(2040, 2, None), (2100, 2, None)]);
    assert_eq!(points, expected);
    h.stop().await;
}

async fn overlap_and_account_clusters(store: Arc<Store>) {
    let h = harness(store).await;
    let users: Vec<_> = (0..14)
        .map(|i| user(100 + i, &format!("viewer{i}")))
        .collect();
    let farm_day = Timestamp::parse_rfc3339("2023-06-01T12:00:00Z").expect("time");
    let mut events = vec![
        online(CHAN, ROOM, "4001", 0),
        online("other", 600, "4002", 0),
    ];
    for (i, u) in users.iter().enumerate() {
        let created = if i < 11 {
            farm_day.plus(i as i64)
        } else {
            Timestamp::parse_rfc3339(
                "2019-01-0{}T00:00:00Z"
                    .replace("{}", &i.to_string())
                    .as_str(),
            )
            .unwrap_or(farm_day)
        };
        events.push(Event::Account {
            user: u.clone(),
            created_at: if i < 11 {
                created
            } else {
                Timestamp(1_546_300_800 + (i as i64) * 86_400)
            },
        });
        events.push(msg(CHAN, ROOM, u, 10 + i as i64));
        if i % 2 == 0 {
            events.push(msg("other", 600, u, 20 + i as i64));
        }
    }
    events.push(offline(CHAN, 1000));
    events.push(offline("other", 1000));
    h.send(events).await;
    let chan = h.channel(CHAN).await;
    let other = h.channel("other").await;
    let o = h
        .figures
        .overlap(&chan, &other, t(-100), t(2000))
        .await
        .expect("overlap");
    assert_eq!((o.a, o.b, o.shared), (14, 7, 7));
    let none = h
        .figures
        .overlap(&chan, &other, t(5000), t(6000))
        .await
        .expect("overlap");
    assert_eq!((none.a, none.b, none.shared), (0, 0, 0));

    let stream = h.stream("4001").await;
    let c = h.figures.accounts_stream(&stream).await.expect("clusters");
    assert_eq!((c.total, c.threshold), (14, 10));
    assert_eq!(c.days[0].date, "2023-06-01");
    assert_eq!(c.days[0].count, 11);
    assert!(c.days[0].flagged);
    assert_eq!(c.days[0].logins.len(), 11);
    assert_eq!(c.days.len(), 4);
    assert!(
        c.days[1..]
            .iter()
            .all(|d| d.count == 1 && !d.flagged && d.logins.is_empty())
    );
    let w = h
        .figures
        .accounts_window(&chan, t(-100), t(2000))
        .await
        .expect("window");
    assert_eq!(w.days, c.days);
    h.stop().await;
}

async fn restart_resumes_the_live_stream_without_double_counting(store: Arc<Store>) {
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let h = harness(store.clone()).await;
    h.send(vec![
        online(CHAN, ROOM, "5001", 0),
        snapshot(CHAN, &[&alice, &bob], 10),
        msg(CHAN, ROOM, &alice, 20),
    ])
    .await;
    h.stop().await;
    // A new process: the same stream is still live; the same users are seen again.
    let h = harness(store).await;
    h.send(vec![
        online(CHAN, ROOM, "5001", 0),
        snapshot(CHAN, &[&alice, &bob], 400),
        msg(CHAN, ROOM, &alice, 410),
        offline(CHAN, 500),
    ])
    .await;
    assert_eq!(counts(&h.figures("5001").await), [2, 2, 0, 0, 2, 2, 1, 0]);
    h.stop().await;
}

on_every_backend!(
    stream_figures_follow_the_definitions,
    user_seen_only_by_part_is_no_chatter,
    shared_chat_messages_count_only_in_their_source_channel,
    second_stream_has_retention_raid_retention_and_rename,
    opt_out_mid_stream_removes_the_user_from_every_figure,
    empty_stream_has_zero_figures,
    irc_only_peak_follows_joins_parts_and_timeouts,
    overlap_and_account_clusters,
    restart_resumes_the_live_stream_without_double_counting,
);
