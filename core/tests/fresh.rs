//! Figures with ingestion's uncommitted rows added (`Figures::fresh`, what chat commands
//! answer with), on every backend, while a commit is held open on purpose: the figures count
//! every event sent before the ask, exactly as they read once the batch is committed.

use std::sync::Arc;
use std::time::Duration;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{StreamId, UserId};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::{IngestConfig, IngestHandle};
use chatters_core::signals::{EmoteSet, Lexicon, Matcher, Mood, Provider, Shared};
use chatters_core::stats::fresh::Fresh;
use chatters_core::stats::{Figures, StreamFigures, StreamStats};
use chatters_core::store::{Channel, CommitWatch, Overlay, Store, Stream};
use chatters_core::testing::*;

const CHAN: &str = "chan";
const ROOM: i64 = 500;

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

/// The channel's uncommitted rows over what is committed now, and the watch that tells whether
/// a commit landed since (what the dispatcher does before an answer).
async fn overlay_now(
    ingest: &IngestHandle,
    store: &Store,
    channel: &Channel,
) -> (Overlay, CommitWatch) {
    loop {
        let held = ingest.uncommitted(channel).await.expect("uncommitted");
        let mut watch = store.commit_watch();
        let committed = watch
            .steady(Duration::from_secs(10))
            .await
            .expect("no COMMIT runs for long");
        // The batch open when asked committed meanwhile: ask again, as the dispatcher does.
        if let Some(overlay) = held.after(committed) {
            return (overlay, watch);
        }
    }
}

async fn channel_of(store: &Store) -> Channel {
    store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel")
}

async fn stream_of(store: &Store, id: &str) -> Stream {
    store
        .stream(&StreamId::parse(id).expect("id"))
        .await
        .expect("read")
        .expect("stream")
}

/// Everything a command shows of the channel's stream `3002`.
#[derive(Debug, PartialEq)]
struct Shown {
    counts: [i64; 8],
    retention: Option<f64>,
    top: Vec<(String, i64)>,
    new: Vec<(String, i64, bool)>,
    seen: Vec<(i64, i64, i64, i64)>,
    raid: (Option<f64>, i64),
    accounts: i64,
    /// frank's watch time in the stream and over 30 days, at `t(3000)`.
    watch: (i64, i64),
}

async fn shown(fresh: &Fresh<'_>, stream: &Stream, channel: &Channel) -> Shown {
    let f = fresh.stream(stream).await.expect("figures");
    // What most commands read: the same counts and peak, from fewer reads.
    assert_eq!(
        fresh.stream_stats(stream).await.expect("stats"),
        StreamStats::from(&f)
    );
    let top = fresh.top_chatters(stream, 3).await.expect("top");
    let new = fresh.new_chatters(stream, 10).await.expect("new");
    let mut seen = Vec::new();
    for name in ["bob", "frank"] {
        let s = fresh
            .seen(channel, &login(name))
            .await
            .expect("seen")
            .and_then(|s| s.record)
            .map_or((0, 0, 0, 0), |r| {
                (
                    r.first_seen.0 - T0,
                    r.last_seen.0 - T0,
                    r.messages,
                    r.streams_attended,
                )
            });
        seen.push(s);
    }
    let raid = fresh
        .last_raid(channel)
        .await
        .expect("raid")
        .expect("a raid");
    let accounts = fresh.accounts_stream(stream).await.expect("accounts");
    let watch = fresh
        .watch_time(channel, UserId(6), Some(stream), t(3000))
        .await
        .expect("watch time");
    Shown {
        counts: counts(&f),
        retention: f.retention,
        top: top
            .into_iter()
            .map(|u| (u.login.to_string(), u.count))
            .collect(),
        new: new
            .into_iter()
            .map(|c| (c.login.to_string(), c.first_seen.0 - T0, c.first_time))
            .collect(),
        seen,
        raid: (raid.retention, raid.arrivals),
        accounts: accounts.total,
        watch,
    }
}

/// A stream with rows committed, then more events held in a commit slowed to 3 s: the fresh
/// figures count them at once; the committed ones do not yet, and equal them once committed.
async fn uncommitted_rows_count_in_the_answer_before_their_commit(store: Arc<Store>) {
    let config = IngestConfig {
        tracker: tracker_config(None),
        ..IngestConfig::default()
    };
    let h = Pipeline::start(store.clone(), config).await;
    let [alice, bob, dave, erin, frank] = [
        (1, "alice"),
        (2, "bob"),
        (4, "dave"),
        (5, "erin"),
        (6, "frank"),
    ]
    .map(|(id, name)| user(id, name));
    let raider = user(20, "raidguy");
    let bot = user(30, "buttsbot");
    h.send(vec![
        online(CHAN, ROOM, "3001", 0),
        msg(CHAN, ROOM, &alice, 10),
        msg(CHAN, ROOM, &bob, 20),
        offline(CHAN, 500),
        online(CHAN, ROOM, "3002", 1000),
        msg(CHAN, ROOM, &alice, 1010),
        msg(CHAN, ROOM, &alice, 1015),
        join(CHAN, &dave, 1020),
        Event::Raid {
            channel: login(CHAN),
            from: raider.clone(),
            viewers: 30,
            at: t(1100),
        },
        join(CHAN, &erin, 1105),
    ])
    .await;
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
    let channel = channel_of(&store).await;
    let stream = stream_of(&store, "3002").await;
    let nothing = Overlay::default();
    let before = shown(&figures.fresh(&nothing), &stream, &channel).await;
    // alice, dave, erin; new: dave, erin; lurkers: dave, erin. The raid's one arrival (erin)
    // was not seen 30 minutes later. Of stream 3001's alice and bob, alice came back.
    // Peak: three present at once.
    assert_eq!(before.counts, [3, 2, 1, 0, 3, 2, 2, 0]);
    assert_eq!(before.retention, Some(0.5));
    assert_eq!(before.raid, (Some(0.0), 1));

    store.slow_commits(Duration::from_secs(3));
    h.ingest
        .send_all(vec![
            msg(CHAN, ROOM, &bob, 1200),
            first_msg(CHAN, ROOM, &frank, 1210),
            msg(CHAN, ROOM, &alice, 1220),
            msg(CHAN, ROOM, &dave, 1230),
            msg(CHAN, ROOM, &bot, 1240),
            msg(CHAN, ROOM, &erin, 2950),
        ])
        .await
        .expect("send");
    let (overlay, watch) = overlay_now(&h.ingest, &store, &channel).await;
    let fresh = shown(&figures.fresh(&overlay), &stream, &channel).await;
    assert!(
        watch.unchanged(),
        "the slowed commit landed during the reads"
    );
    // The commit is still held: the stored figures are the old ones.
    assert_eq!(
        shown(&figures.fresh(&nothing), &stream, &channel).await,
        before
    );
    // + bob (returning), frank (new, first message ever), buttsbot (a known bot); dave and
    // erin chatted (no lurkers left). The raid has two arrivals now: erin, seen 30 minutes
    // later, and frank, not.
    // Peak: five present at once (the IRC peak the batch raised).
    assert_eq!(fresh.counts, [5, 3, 2, 1, 5, 7, 0, 1]);
    assert_eq!(fresh.retention, Some(1.0));
    assert_eq!(
        fresh.top,
        [("alice".into(), 3), ("bob".into(), 1), ("dave".into(), 1)]
    );
    assert_eq!(
        fresh.new,
        [
            ("frank".into(), 1210, true),
            ("erin".into(), 1105, false),
            ("dave".into(), 1020, false)
        ]
    );
    assert_eq!(fresh.seen, [(20, 1200, 2, 2), (1210, 1210, 1, 1)]);
    assert_eq!(fresh.raid, (Some(0.5), 2));
    assert_eq!(fresh.accounts, 5);
    // frank was present from his first message at 1210 until the presence timeout (15 min):
    // erin's message at 2950 moved the clock past it, which closed the interval.
    assert_eq!(before.watch, (0, 0));
    assert_eq!(fresh.watch, (900, 900));

    // Once committed, the stored figures are exactly what the answer said.
    store.slow_commits(Duration::ZERO);
    h.ingest.flush().await.expect("flush");
    // Read again: its stored IRC peak has moved with the commit.
    let stream = stream_of(&store, "3002").await;
    assert_eq!(
        shown(&figures.fresh(&nothing), &stream, &channel).await,
        fresh
    );
    h.stop().await;
}

/// A second ingestion over the same store (a restart within the process) numbers its batches
/// after the first one's: its uncommitted rows are not taken for committed ones.
async fn a_restarted_ingestion_numbers_its_batches_after_the_last(store: Arc<Store>) {
    let config = || IngestConfig {
        tracker: tracker_config(None),
        ..IngestConfig::default()
    };
    let alice = user(1, "alice");
    let first = Pipeline::start(store.clone(), config()).await;
    for at in [0, 10, 20] {
        first.send(vec![msg(CHAN, ROOM, &alice, at)]).await;
    }
    first.stop().await;
    assert!(store.last_batch() >= 3, "three batches committed");
    let second = Pipeline::start(store.clone(), config()).await;
    store.slow_commits(Duration::from_secs(3));
    second
        .ingest
        .send_all(vec![msg(CHAN, ROOM, &user(2, "bob"), 30)])
        .await
        .expect("send");
    let channel = channel_of(&store).await;
    let (overlay, _) = overlay_now(&second.ingest, &store, &channel).await;
    assert_eq!(overlay.channel_users.len(), 1, "bob's row is uncommitted");
    store.slow_commits(Duration::ZERO);
    second.stop().await;
}

/// The 7TV emotes `EZ` and `KEKW` (hype and laughter in the shipped lexicon).
fn matcher() -> Matcher {
    let globals = [EmoteSet {
        provider: Provider::SevenTv,
        emotes: vec![
            ("7tv-ez".into(), "EZ".into()),
            ("7tv-kekw".into(), "KEKW".into()),
        ],
    }];
    Matcher::new(
        Arc::new(Shared::new(&Lexicon::shipped(), &globals)),
        &[],
        &[],
    )
}

fn said(u: &UserRef, at: i64, text: &str) -> Event {
    let mut m = message_in(CHAN, ROOM, u, at);
    m.signals = matcher().scan(text, None);
    Event::Message(Box::new(m))
}

/// `!emotes` and `!mood` with uncommitted uses: emote counts held across batches (15 s) and
/// those of a commit held open, and the minutes' moods, all added.
async fn emotes_and_moods_held_in_memory_count_in_the_answer(store: Arc<Store>) {
    let config = IngestConfig {
        tracker: tracker_config(None),
        ..IngestConfig::default()
    };
    let h = Pipeline::start(store.clone(), config).await;
    let (alice, bob) = (user(1, "alice"), user(2, "bob"));
    h.send(vec![
        online(CHAN, ROOM, "4001", 600),
        said(&alice, 650, "KEKW KEKW"),
    ])
    .await;
    // Held across batches: alice's next uses are in no batch for 15 s.
    h.ingest.send(said(&alice, 655, "EZ")).await.expect("send");
    h.ingest.flush_rows().await.expect("flush rows");
    // And bob's are in a batch whose commit is held open.
    store.slow_commits(Duration::from_secs(3));
    h.ingest
        .send(said(&bob, 660, "KEKW EZ"))
        .await
        .expect("send");
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
    let channel = channel_of(&store).await;
    let stream = stream_of(&store, "4001").await;
    let (overlay, watch) = overlay_now(&h.ingest, &store, &channel).await;
    let nothing = Overlay::default();
    let emotes = |f: Vec<chatters_core::signals::EmoteFigure>| {
        f.into_iter().map(|e| (e.name, e.count)).collect::<Vec<_>>()
    };
    let fresh = figures.fresh(&overlay);
    let stored = figures.fresh(&nothing);
    assert_eq!(
        emotes(fresh.stream_emotes(&stream, 5).await.expect("emotes")),
        [("KEKW".to_owned(), 3), ("EZ".to_owned(), 2)]
    );
    let mood = fresh.mood_now(&channel, t(700)).await.expect("mood");
    assert!(
        watch.unchanged(),
        "the slowed commit landed during the reads"
    );
    assert_eq!(
        emotes(stored.stream_emotes(&stream, 5).await.expect("emotes")),
        [("KEKW".to_owned(), 2)]
    );
    // Three messages, each with a mood: laughter (KEKW) in two, hype (EZ) in two; equal
    // shares list in the moods' order. The stored minutes have alice's two.
    assert_eq!((mood.messages, mood.mood_messages), (3, 3));
    assert_eq!(
        mood.top,
        [(Mood::Hype, 2.0 / 3.0), (Mood::Laughter, 2.0 / 3.0)]
    );
    let before = stored.mood_now(&channel, t(700)).await.expect("mood");
    assert_eq!((before.messages, before.mood_messages), (2, 2));
    store.slow_commits(Duration::ZERO);
    h.ingest.flush().await.expect("flush");
    assert_eq!(
        emotes(stored.stream_emotes(&stream, 5).await.expect("emotes")),
        [("KEKW".to_owned(), 3), ("EZ".to_owned(), 2)]
    );
    let after = stored.mood_now(&channel, t(700)).await.expect("mood");
    assert_eq!(after, mood);
    h.stop().await;
}

/// Rows held across batches (`IngestConfig::rows_interval`): in no batch yet, so the stored
/// figures lack them, and the answer counts them; a flush writes them.
async fn rows_held_across_batches_count_in_the_answer(store: Arc<Store>) {
    let config = IngestConfig {
        tracker: tracker_config(None),
        rows_interval: Duration::from_secs(3600),
        ..IngestConfig::default()
    };
    let h = Pipeline::start(store.clone(), config).await;
    let [alice, bob, frank] = [(1, "alice"), (2, "bob"), (6, "frank")].map(|(id, n)| user(id, n));
    h.send(vec![
        online(CHAN, ROOM, "5001", 0),
        msg(CHAN, ROOM, &alice, 10),
    ])
    .await;
    h.ingest
        .send_all(vec![
            msg(CHAN, ROOM, &bob, 20),
            first_msg(CHAN, ROOM, &frank, 30),
            msg(CHAN, ROOM, &alice, 40),
        ])
        .await
        .expect("send");
    // Handed over (every 100 ms) into the held rows: three stream rows and the channel rows of
    // bob and frank (alice's, seen already, is not written again so soon).
    let held = || {
        h.ingest
            .metrics()
            .held_rows
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while held() != 5 {
        assert!(std::time::Instant::now() < deadline, "held {}", held());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
    let channel = channel_of(&store).await;
    let stream = stream_of(&store, "5001").await;
    let nothing = Overlay::default();
    let figure = |f: &StreamFigures| {
        (
            f.unique_chatters,
            f.new_chatters,
            f.first_time_chatters,
            f.messages,
        )
    };
    let stored = nothing_but(&figures, &nothing, &stream).await;
    assert_eq!(figure(&stored), (1, 1, 0, 1), "only alice's first message");
    let (overlay, _) = overlay_now(&h.ingest, &store, &channel).await;
    let fresh = figures.fresh(&overlay);
    let answered = fresh.stream(&stream).await.expect("figures");
    assert_eq!(figure(&answered), (3, 3, 1, 4));
    let top = fresh.top_chatters(&stream, 3).await.expect("top");
    assert_eq!(
        top.iter()
            .map(|c| (c.login.to_string(), c.count))
            .collect::<Vec<_>>(),
        [
            ("alice".to_owned(), 2),
            ("bob".to_owned(), 1),
            ("frank".to_owned(), 1)
        ]
    );
    h.ingest.flush_rows().await.expect("flush");
    assert_eq!(held(), 0);
    let stored = nothing_but(&figures, &nothing, &stream).await;
    assert_eq!(figure(&stored), figure(&answered));
    h.stop().await;
}

async fn nothing_but(figures: &Figures, nothing: &Overlay, stream: &Stream) -> StreamFigures {
    figures
        .fresh(nothing)
        .stream(stream)
        .await
        .expect("figures")
}

on_every_backend!(
    rows_held_across_batches_count_in_the_answer,
    uncommitted_rows_count_in_the_answer_before_their_commit,
    a_restarted_ingestion_numbers_its_batches_after_the_last,
    emotes_and_moods_held_in_memory_count_in_the_answer
);
