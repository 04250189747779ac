//! The audience definitions (SPEC "Viewers and categories", "Watch time") on scripted streams,
//! through the real ingestion pipeline into each backend, with exact expected numbers:
//! categories changing mid-stream, failed polls (no sample), users who leave and come back,
//! intervals cut at a stream's end, a restart while live, and regulars across six streams.

use std::sync::Arc;

use chatters_core::audience::Category;
use chatters_core::bots::KnownBots;
use chatters_core::domain::{StreamId, Timestamp, UserId};
use chatters_core::event::UserRef;
use chatters_core::ingest::IngestConfig;
use chatters_core::stats::{Figures, StreamFigures};
use chatters_core::store::{Channel, SeriesPoint, Store, Stream, StreamSample};
use chatters_core::testing::*;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const BOT: i64 = 900;

struct Harness {
    store: Arc<Store>,
    pipeline: Pipeline,
    figures: Figures,
}

async fn harness(store: Arc<Store>) -> Harness {
    let config = IngestConfig {
        tracker: tracker_config(Some(UserId(BOT))),
        ..IngestConfig::default()
    };
    Harness {
        pipeline: Pipeline::start(store.clone(), config).await,
        figures: Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(BOT))),
        store,
    }
}

impl Harness {
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

    async fn channel(&self) -> Channel {
        self.store
            .channel(&login(CHAN))
            .await
            .expect("read channel")
            .expect("channel exists")
    }

    /// Samples of successful polls, as the scheduler records them.
    async fn samples(&self, samples: &[(i64, i64, &str, &str)]) {
        let rows: Vec<_> = samples
            .iter()
            .map(|&(at, viewers, id, name)| {
                (
                    login(CHAN),
                    StreamSample {
                        at: t(at),
                        viewers,
                        game_id: id.to_owned(),
                        game_name: name.to_owned(),
                    },
                )
            })
            .collect();
        self.store.record_samples(&rows).await.expect("samples");
    }

    /// `(login, seconds)` of the stream's longest watchers.
    async fn top_watchers(&self, id: &str, now: i64) -> Vec<(String, i64)> {
        let s = self.stream(id).await;
        self.figures
            .top_watchers(&s, 10, t(now))
            .await
            .expect("top watchers")
            .into_iter()
            .map(|w| (w.login.to_string(), w.watch_time))
            .collect()
    }
}

fn category(id: &str, name: &str, from: i64, until: Option<i64>) -> Category {
    Category {
        game_id: id.to_owned(),
        name: name.to_owned(),
        from: t(from),
        until: until.map(t),
    }
}

async fn viewers_and_categories_follow_the_samples(store: Arc<Store>) {
    let h = harness(store).await;
    let (alice, bob, carol) = (user(1, "alice"), user(2, "bob"), user(3, "carol"));
    h.pipeline
        .send(vec![
            snapshot(CHAN, &[&alice], -600),
            online(CHAN, ROOM, "2001", 0),
            snapshot(CHAN, &[&alice, &bob, &carol], 60),
            snapshot(CHAN, &[&alice, &bob], 250),
            offline(CHAN, 400),
            snapshot(CHAN, &[&alice], 600),
        ])
        .await;
    // A sample of an earlier stream and one after the end belong to neither; the polls at 180
    // and 360 failed (no sample); the category changes at 240.
    h.samples(&[
        (-100, 999, "1", "Old game"),
        (60, 100, "509658", "Just Chatting"),
        (120, 120, "509658", "Just Chatting"),
        (240, 90, "33214", "Fortnite"),
        (300, 110, "33214", "Fortnite"),
        (500, 5, "33214", "Fortnite"),
    ])
    .await;

    let f = h.figures("2001").await;
    let a = &f.audience;
    assert_eq!(f.peak_chatters, 3);
    assert_eq!(a.peak_viewers, Some(120));
    // (100 + 120 + 90 + 110) / 4 = 105
    assert_eq!(a.avg_viewers, Some(105));
    assert_eq!(a.chatters_per_viewer, Some(3.0 / 120.0));
    assert_eq!(
        a.categories,
        vec![
            category("509658", "Just Chatting", 0, Some(240)),
            category("33214", "Fortnite", 240, Some(400)),
        ]
    );
    let json = serde_json::to_value(&f).expect("json");
    assert_eq!(json["peak_viewers"], 120);
    assert_eq!(json["avg_viewers"], 105);
    assert_eq!(json["chatters_per_viewer"], 0.025);
    assert_eq!(json["categories"][1]["name"], "Fortnite");
    assert_eq!(json["categories"][1]["until"], "2024-01-01T00:06:40Z");

    // `/series` points: the latest sample at or before each point within a stream.
    let chan = h.channel().await;
    let points = h
        .figures
        .series(&chan, t(-1000), t(1000))
        .await
        .expect("series");
    let at: Vec<Timestamp> = points.iter().map(|p: &SeriesPoint| p.at).collect();
    assert_eq!(at, vec![t(-600), t(60), t(250), t(600)]);
    let viewers = h
        .figures
        .series_viewers(&chan, &points)
        .await
        .expect("viewers");
    assert_eq!(viewers, vec![None, Some(100), Some(90), None]);
    h.pipeline.stop().await;
}

async fn a_stream_without_samples_has_no_viewer_figures(store: Arc<Store>) {
    let h = harness(store).await;
    let alice = user(1, "alice");
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "2101", 0),
            snapshot(CHAN, &[&alice], 60),
            offline(CHAN, 300),
        ])
        .await;
    let f = h.figures("2101").await;
    let a = &f.audience;
    assert_eq!(
        (a.peak_viewers, a.avg_viewers, a.chatters_per_viewer),
        (None, None, None)
    );
    assert!(a.categories.is_empty());
    let json = serde_json::to_value(&f).expect("json");
    assert!(json["peak_viewers"].is_null() && json["chatters_per_viewer"].is_null());
    // A peak of 0 viewers gives no ratio.
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "2102", 1000),
            snapshot(CHAN, &[&alice], 1060),
        ])
        .await;
    h.samples(&[(1060, 0, "", "")]).await;
    h.pipeline.send(vec![offline(CHAN, 1200)]).await;
    let a = h.figures("2102").await.audience;
    assert_eq!((a.peak_viewers, a.chatters_per_viewer), (Some(0), None));
    assert_eq!(a.categories, vec![category("", "", 1000, Some(1200))]);
    h.pipeline.stop().await;
}

async fn watch_time_of_users_who_leave_and_come_back(store: Arc<Store>) {
    let h = harness(store).await;
    let (alice, bob, carol, dave) = (
        user(1, "alice"),
        user(2, "bob"),
        user(3, "carol"),
        user(4, "dave"),
    );
    let nightbot = user(901, "nightbot");
    h.pipeline
        .send(vec![
            snapshot(CHAN, &[&alice], -300),
            online(CHAN, ROOM, "3001", 0),
            snapshot(CHAN, &[&alice, &bob, &carol, &nightbot], 60),
            snapshot(CHAN, &[&alice, &carol, &nightbot], 300),
            snapshot(CHAN, &[&alice, &bob, &carol, &nightbot], 600),
            join(CHAN, &dave, 650),
            part(CHAN, &dave, 700),
            snapshot(CHAN, &[&alice, &bob, &nightbot], 900),
            offline(CHAN, 1000),
            // After the end: bob's leaving adds nothing to the ended stream.
            snapshot(CHAN, &[&alice], 1200),
        ])
        .await;
    // alice: present since before the start, until the end: [0, 1000) = 1000.
    // bob: [60, 300) + [600, 1000) = 240 + 400 = 640. carol: [60, 900) = 840.
    // dave: [650, 700) = 50. nightbot is a known bot: not counted.
    assert_eq!(
        h.top_watchers("3001", 5000).await,
        vec![
            ("alice".into(), 1000),
            ("carol".into(), 840),
            ("bob".into(), 640),
            ("dave".into(), 50),
        ]
    );
    let f = h.figures("3001").await;
    assert_eq!(f.unique_chatters, 4);
    // (1000 + 840 + 640 + 50) / 4 = 632.5, rounded to 633.
    assert_eq!(f.audience.avg_watch_time, Some(633));

    // Chatter rows: watch time within the streams of the window.
    let chan = h.channel().await;
    let excluded = h.figures.excluded(&chan).await.expect("excluded");
    let rows = h
        .store
        .channel_users(chan.key, t(-1000), t(5000), &excluded)
        .await
        .expect("rows");
    let watched: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r.login.to_string(), r.watch_time))
        .collect();
    assert_eq!(
        watched,
        vec![
            ("alice".into(), 1000),
            ("bob".into(), 640),
            ("carol".into(), 840),
            ("dave".into(), 50),
        ]
    );
    let before = h
        .store
        .channel_users(chan.key, t(-1000), t(-500), &excluded)
        .await
        .expect("rows");
    assert!(before.iter().all(|r| r.watch_time == 0), "{before:?}");

    // `!watchtime`: this stream and the last 30 days.
    let stream = h.stream("3001").await;
    let bob_watch = h
        .figures
        .watch_time(&chan, UserId(2), Some(&stream), t(2000))
        .await
        .expect("watch time");
    assert_eq!(bob_watch, (640, 640));
    h.pipeline.stop().await;
}

async fn an_interval_open_at_the_end_is_cut_there(store: Arc<Store>) {
    let h = harness(store).await;
    let (alice, bob) = (user(1, "alice"), user(2, "bob"));
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "4001", 0),
            snapshot(CHAN, &[&alice, &bob], 100),
        ])
        .await;
    // Live: open intervals count up to now.
    let stream = h.stream("4001").await;
    let chan = h.channel().await;
    let excluded = h.figures.excluded(&chan).await.expect("excluded");
    let live = h
        .figures
        .audience_at(&stream, &excluded, (2, 2), t(400))
        .await
        .expect("live");
    assert_eq!(live.avg_watch_time, Some(300));
    assert_eq!(
        h.top_watchers("4001", 400).await,
        vec![("alice".into(), 300), ("bob".into(), 300)]
    );
    assert_eq!(
        h.figures
            .watch_time(&chan, UserId(1), Some(&stream), t(400))
            .await
            .expect("watch"),
        (300, 300)
    );

    h.pipeline
        .send(vec![
            msg(CHAN, ROOM, &bob, 450),
            offline(CHAN, 500),
            snapshot(CHAN, &[&alice], 800),
        ])
        .await;
    // Both intervals were open at the end: cut at 500.
    let f = h.figures("4001").await;
    assert_eq!(f.audience.avg_watch_time, Some(400));
    assert_eq!(
        h.top_watchers("4001", 5000).await,
        vec![("alice".into(), 400), ("bob".into(), 400)]
    );
    h.pipeline.stop().await;
}

async fn a_restart_while_live_keeps_the_watch_time_so_far(store: Arc<Store>) {
    let (alice, bob) = (user(1, "alice"), user(2, "bob"));
    let h = harness(store.clone()).await;
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "5001", 0),
            snapshot(CHAN, &[&alice, &bob], 10),
            msg(CHAN, ROOM, &alice, 20),
        ])
        .await;
    h.pipeline.stop().await;
    // The next process closes the intervals left open at their last sighting + 1 s (alice 21,
    // bob 11) and credits them: 11 and 1; then both are seen again from 400 to the end at 500.
    let h = harness(store).await;
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "5001", 0),
            snapshot(CHAN, &[&alice, &bob], 400),
            offline(CHAN, 500),
        ])
        .await;
    assert_eq!(
        h.top_watchers("5001", 5000).await,
        vec![("alice".into(), 111), ("bob".into(), 101)]
    );
    h.pipeline.stop().await;
}

/// Stream `n` (1-based) runs from `n * 10000` to `n * 10000 + 1000`; its chatters are listed at
/// `+100`, and an offline snapshot at `+2000` empties the chat.
fn a_stream(n: i64, chatters: &[&UserRef]) -> Vec<chatters_core::event::Event> {
    let start = n * 10_000;
    vec![
        online(CHAN, ROOM, &format!("{}", 6000 + n), start),
        snapshot(CHAN, chatters, start + 100),
        offline(CHAN, start + 1000),
        snapshot(CHAN, &[], start + 2000),
    ]
}

/// Users `u1`..`u6` and nightbot (a known bot) in six ended streams (`6001`..`6006`):
/// u1 in all, u2 in 1-3, u3 in 1-2, u4 in 3-6, u5 in 5-6, u6 in 2 and 4, nightbot in 1-5.
async fn six_streams(h: &Harness) -> (Vec<UserRef>, UserRef) {
    let u: Vec<UserRef> = (1..=6).map(|i| user(i, &format!("u{i}"))).collect();
    let nightbot = user(901, "nightbot");
    let (u1, u2, u3, u4, u5, u6) = (&u[0], &u[1], &u[2], &u[3], &u[4], &u[5]);
    let streams: [Vec<&UserRef>; 6] = [
        vec![u1, u2, u3, &nightbot],
        vec![u1, u2, u3, u6, &nightbot],
        vec![u1, u2, u4, &nightbot],
        vec![u1, u4, u6, &nightbot],
        vec![u1, u4, u5, &nightbot],
        vec![u1, u4, u5],
    ];
    for (i, chatters) in streams.iter().enumerate() {
        h.pipeline.send(a_stream(i as i64 + 1, chatters)).await;
    }
    (u, nightbot)
}

async fn regulars_across_six_streams(store: Arc<Store>) {
    let h = harness(store).await;
    six_streams(&h).await;
    // Stream 6, as of its start (streams 1-5): u1 5, u2 3, u4 3 → 3 regulars (nightbot is a
    // known bot), of whom u1 and u4 came.
    assert_eq!(h.figures("6006").await.audience.regulars_present, 2);
    let s6 = h.stream("6006").await;
    assert_eq!(
        h.figures.stream_regulars(&s6).await.expect("regulars"),
        (3, 2)
    );
    // Stream 5, as of its start (streams 1-4): u1 4, u2 3 → 2 regulars, u1 came.
    assert_eq!(h.figures("6005").await.audience.regulars_present, 1);
    // The first stream has no earlier streams: nobody is a regular yet.
    assert_eq!(h.figures("6001").await.audience.regulars_present, 0);

    // Now (streams 2-6): u1 5, u4 4; u2, u5, u6 2 each. Each attendance is 900 s of watch time.
    let chan = h.channel().await;
    let regulars = h.figures.regulars(&chan).await.expect("regulars");
    let ids: Vec<&str> = regulars.streams.iter().map(|s| s.as_str()).collect();
    assert_eq!(ids, vec!["6006", "6005", "6004", "6003", "6002"]);
    let rows: Vec<(String, i64, i64)> = regulars
        .regulars
        .iter()
        .map(|r| (r.login.to_string(), r.attended, r.watch_time))
        .collect();
    assert_eq!(rows, vec![("u1".into(), 5, 4500), ("u4".into(), 4, 3600)]);
    h.pipeline.stop().await;
}

async fn opting_out_leaves_no_regular_row(store: Arc<Store>) {
    let h = harness(store.clone()).await;
    let (u1, u2) = (user(1, "u1"), user(2, "u2"));
    for n in 1..=4 {
        h.pipeline.send(a_stream(n, &[&u1, &u2])).await;
    }
    let s4 = h.stream("6004").await;
    assert_eq!(
        h.figures.stream_regulars(&s4).await.expect("regulars"),
        (2, 2)
    );
    store.opt_out(UserId(2), t(50_000)).await.expect("opt out");
    assert_eq!(
        h.figures.stream_regulars(&s4).await.expect("regulars"),
        (1, 1)
    );
    h.pipeline.stop().await;
}

/// A live stream's watch time so far: closed intervals as credited, open ones up to `now`, read
/// from the stream rows (not from `presence`), through arrivals by snapshot and by IRC, a user
/// who leaves and comes back, a part, a known bot present throughout, and a restart while live
/// (the intervals it left open are closed and credited, and no longer count as open).
async fn live_watch_time_through_a_restart(store: Arc<Store>) {
    let (alice, bob, carol, dave) = (
        user(1, "alice"),
        user(2, "bob"),
        user(3, "carol"),
        user(4, "dave"),
    );
    let nightbot = user(901, "nightbot");
    let h = harness(store.clone()).await;
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "7001", 0),
            snapshot(CHAN, &[&alice, &bob, &carol, &nightbot], 100),
            snapshot(CHAN, &[&alice, &carol, &nightbot], 200),
            join(CHAN, &dave, 250),
            msg(CHAN, ROOM, &dave, 260),
            snapshot(CHAN, &[&alice, &bob, &carol, &dave, &nightbot], 300),
            part(CHAN, &carol, 400),
        ])
        .await;
    let chan = h.channel().await;
    let excluded = h.figures.excluded(&chan).await.expect("excluded");
    let stream = h.stream("7001").await;
    let live = |at: i64| {
        let (h, stream, excluded) = (&h, &stream, &excluded);
        async move {
            h.figures
                .audience_at(stream, excluded, (5, 4), t(at))
                .await
                .expect("live figures")
                .avg_watch_time
        }
    };
    // At 1000: alice [100, now) 900; bob [100, 200) + [300, now) 800; carol [100, 400) 300;
    // dave [250, now) 750. (900 + 800 + 300 + 750) / 4 = 687.5 → 688.
    assert_eq!(live(1000).await, Some(688));
    assert_eq!(
        h.top_watchers("7001", 1000).await,
        vec![
            ("alice".into(), 900),
            ("bob".into(), 800),
            ("dave".into(), 750),
            ("carol".into(), 300),
        ]
    );
    assert_eq!(
        h.figures
            .watch_time(&chan, UserId(2), Some(&stream), t(1000))
            .await
            .expect("watch time"),
        (800, 800)
    );
    h.pipeline.stop().await;

    // The next process closes the open intervals at the last sighting + 1 s (301) and credits
    // them: alice 201, bob 100 + 1, dave 51; carol 300. Nobody is present: nothing grows.
    let h = harness(store).await;
    let live = |at: i64| {
        let (h, stream, excluded) = (&h, &stream, &excluded);
        async move {
            h.figures
                .audience_at(stream, excluded, (5, 4), t(at))
                .await
                .expect("live figures")
                .avg_watch_time
        }
    };
    // (201 + 101 + 300 + 51) / 4 = 163.25 → 163, whenever it is read.
    assert_eq!(live(1000).await, Some(163));
    assert_eq!(live(5000).await, Some(163));
    assert_eq!(
        h.top_watchers("7001", 5000).await,
        vec![
            ("carol".into(), 300),
            ("alice".into(), 201),
            ("bob".into(), 101),
            ("dave".into(), 51),
        ]
    );
    // alice is back from 1100: at 1200 she has 201 + 100.
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "7001", 0),
            snapshot(CHAN, &[&alice, &nightbot], 1100),
        ])
        .await;
    assert_eq!(live(1200).await, Some(188));
    assert_eq!(
        h.figures
            .watch_time(&chan, UserId(1), Some(&stream), t(1200))
            .await
            .expect("watch time"),
        (301, 301)
    );
    assert_eq!(h.top_watchers("7001", 1200).await[0], ("alice".into(), 301));
    h.pipeline.stop().await;
}

/// Regulars present and retention of a live stream while known bots (regulars by attendance)
/// are present in it and in the previous one: they count in neither.
async fn live_regulars_and_retention_leave_bots_out(store: Arc<Store>) {
    let h = harness(store).await;
    let (u1, u2, u3) = (user(1, "u1"), user(2, "u2"), user(3, "u3"));
    let nightbot = user(901, "nightbot");
    for n in 1..=3 {
        h.pipeline.send(a_stream(n, &[&u1, &u2, &nightbot])).await;
    }
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "6004", 40_000),
            snapshot(CHAN, &[&u1, &u3, &nightbot], 40_100),
        ])
        .await;
    // Regulars as of the start: u1 and u2 (nightbot is a known bot); u1 came. Of the previous
    // stream's unique chatters (u1, u2), u1 came back.
    let f = h.figures("6004").await;
    assert_eq!(
        (f.unique_chatters, f.known_bots, f.audience.regulars_present),
        (2, 1, 1)
    );
    assert_eq!(f.retention, Some(0.5));
    let s4 = h.stream("6004").await;
    assert_eq!(
        h.figures.stream_regulars(&s4).await.expect("regulars"),
        (2, 1)
    );
    h.pipeline.send(vec![msg(CHAN, ROOM, &u2, 40_200)]).await;
    let f = h.figures("6004").await;
    assert_eq!((f.unique_chatters, f.audience.regulars_present), (3, 2));
    assert_eq!(f.retention, Some(1.0));
    h.pipeline.stop().await;
}

/// A stream opened live is marked (its rows say who is a regular and who was in the previous
/// stream); its figures equal those read by the intersections unmarked streams are read with,
/// through known bots, a user opting out, a live stream and a restart while it is live.
async fn marked_streams_read_as_unmarked_ones(db: &TestDb) {
    let h = harness(db.store.clone()).await;
    let (u, nightbot) = six_streams(&h).await;
    let (u1, u2, u3, u5, u6) = (&u[0], &u[1], &u[2], &u[4], &u[5]);
    h.pipeline
        .send(vec![
            online(CHAN, ROOM, "6007", 70_000),
            snapshot(CHAN, &[u1, u2, u6, &nightbot], 70_100),
            msg(CHAN, ROOM, u5, 70_200),
        ])
        .await;
    h.pipeline
        .send(vec![chatters_core::event::Event::OptOut {
            user: UserId(6),
            at: t(70_300),
        }])
        .await;
    // A restart while live: the new pipeline resumes the stream and writes more of its rows.
    h.pipeline.stop().await;
    let h = harness(db.store.clone()).await;
    h.pipeline.send(vec![msg(CHAN, ROOM, u3, 70_400)]).await;
    assert_eq!(db.count("streams", "marked = 1").await, 7);
    let ids = ["6001", "6002", "6003", "6004", "6005", "6006", "6007"];
    let mut marked = Vec::new();
    for id in ids {
        let f = h.figures(id).await;
        marked.push((f.unique_chatters, f.retention, f.audience.regulars_present));
    }
    // Stream 7, as of its start (streams 2-6): u1 5, u4 4 are regulars (u2, u5, u6 2 each;
    // nightbot is a known bot) and u1 came; of stream 6's u1, u4, u5, u1 and u5 came back.
    // u6 opted out; u3 came after the restart.
    assert_eq!(marked[6], (4, Some(2.0 / 3.0), 1));
    assert_eq!(marked[5], (3, Some(1.0), 2));
    assert_eq!(marked[0], (3, None, 0));
    db.rows("UPDATE streams SET marked = 0").await;
    for (id, before) in ids.iter().zip(&marked) {
        let f = h.figures(id).await;
        assert_eq!(
            (f.unique_chatters, f.retention, f.audience.regulars_present),
            *before,
            "stream {id}"
        );
    }
    h.pipeline.stop().await;
}

on_every_backend!(
    viewers_and_categories_follow_the_samples,
    a_stream_without_samples_has_no_viewer_figures,
    watch_time_of_users_who_leave_and_come_back,
    an_interval_open_at_the_end_is_cut_there,
    a_restart_while_live_keeps_the_watch_time_so_far,
    regulars_across_six_streams,
    opting_out_leaves_no_regular_row,
    live_watch_time_through_a_restart,
    live_regulars_and_retention_leave_bots_out,
    ; with_db: marked_streams_read_as_unmarked_ones,
);
