//! Chat signals through the real ingestion pipeline into each backend: messages per minute,
//! mood per minute and per stream, emotes per stream, `!mood`'s shares and their pruning. Only
//! counted users' messages count; only counts, emote ids and names are stored.

use std::sync::Arc;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{StreamId, Timestamp, UserId};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::IngestConfig;
use chatters_core::signals::{EmoteSet, Lexicon, Matcher, Mood, MoodTotals, Provider, Shared};
use chatters_core::stats::Figures;
use chatters_core::store::{Store, Stream};
use chatters_core::testing::*;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const BOT: i64 = 900;

fn matcher() -> Matcher {
    let globals = [EmoteSet {
        provider: Provider::SevenTv,
        emotes: vec![
            ("7tv-ez".into(), "EZ".into()),
            ("7tv-kekw".into(), "KEKW".into()),
        ],
    }];
    let channel = [EmoteSet {
        provider: Provider::Bttv,
        emotes: vec![("bttv-catjam".into(), "catJAM".into())],
    }];
    Matcher::new(
        Arc::new(Shared::new(&Lexicon::shipped(), &globals)),
        &channel,
        &[],
    )
}

/// A message of `u` at `at` whose text is scanned as the IRC task does.
fn said(u: &UserRef, at: i64, text: &str, emotes: Option<&str>) -> Event {
    let mut m = message_in(CHAN, ROOM, u, at);
    m.signals = matcher().scan(text, emotes);
    Event::Message(Box::new(m))
}

async fn pipeline(store: &Arc<Store>) -> (Pipeline, Figures) {
    let config = IngestConfig {
        tracker: tracker_config(Some(UserId(BOT))),
        ..IngestConfig::default()
    };
    let pipeline = Pipeline::start(store.clone(), config).await;
    let figures = Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(BOT)));
    (pipeline, figures)
}

async fn stream(store: &Store, id: &str) -> Stream {
    store
        .stream(&StreamId::parse(id).expect("id"))
        .await
        .expect("read")
        .expect("exists")
}

/// Minute 0: alice 2; minute 1: alice 3 (the peak), minute 2: bob 3 (equal, later).
/// Not counted: the broadcaster, nightbot, the bot account, a shared-chat copy, a USERNOTICE
/// without text. Before the stream: one message of alice (minute -1, no stream).
async fn activity_counts_counted_messages_per_minute(store: Arc<Store>) {
    let (p, figures) = pipeline(&store).await;
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let mut shared = message_in(CHAN, ROOM, &bob, 10);
    shared.source_room_id = Some(UserId(999));
    let mut silent = message_in(CHAN, ROOM, &alice, 11);
    silent.has_text = false;
    p.send(vec![
        said(&alice, -30, "early", None),
        online(CHAN, ROOM, "7001", 0),
        said(&alice, 5, "hello", None),
        said(&alice, 20, "KEKW lol", None),
        said(&user(ROOM, CHAN), 30, "LUL", None),
        said(&user(901, "nightbot"), 31, "LUL", None),
        said(&user(BOT, "chattersbot"), 32, "LUL", None),
        Event::Message(Box::new(shared)),
        Event::Message(Box::new(silent)),
        said(&alice, 60, "a", None),
        said(&alice, 70, "b", None),
        said(&alice, 119, "c", None),
        said(&bob, 120, "x", None),
        said(&bob, 121, "y", None),
        said(&bob, 179, "z", None),
        offline(CHAN, 600),
    ])
    .await;

    let s = figures
        .stream(&stream(&store, "7001").await)
        .await
        .expect("figures");
    assert_eq!(s.chat.peak_messages_per_minute, Some(3));
    assert_eq!(s.chat.peak_activity_at, Some(t(60)));
    let channel = store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let points: Vec<(Timestamp, i64)> = figures
        .activity(&channel, t(-3600), t(3600))
        .await
        .expect("activity")
        .into_iter()
        .map(|p| (p.at, p.messages))
        .collect();
    assert_eq!(
        points,
        vec![(t(-60), 1), (t(0), 2), (t(60), 3), (t(120), 3)]
    );
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(json["peak_messages_per_minute"], 3);
    assert_eq!(json["peak_activity_at"], "2024-01-01T00:01:00Z");
    assert_eq!(json["mood"]["laughter"], 1);
    p.stop().await;
}

async fn a_stream_without_messages_has_null_peaks_and_zero_mood(store: Arc<Store>) {
    let (p, figures) = pipeline(&store).await;
    p.send(vec![online(CHAN, ROOM, "7002", 0), offline(CHAN, 60)])
        .await;
    let s = figures
        .stream(&stream(&store, "7002").await)
        .await
        .expect("figures");
    assert_eq!(s.chat.peak_messages_per_minute, None);
    assert_eq!(s.chat.peak_activity_at, None);
    assert_eq!(s.chat.mood, MoodTotals::default());
    let json = serde_json::to_value(&s).expect("json");
    assert!(json["peak_messages_per_minute"].is_null());
    assert_eq!(
        json["mood"],
        serde_json::json!({"hype": 0, "laughter": 0, "love": 0, "sadness": 0, "anger": 0, "tension": 0})
    );
    p.stop().await;
}

/// Each message counts once per mood; the stream's totals and the per-minute points agree.
async fn mood_counts_each_mood_once_per_message(store: Arc<Store>) {
    let (p, figures) = pipeline(&store).await;
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    p.send(vec![
        online(CHAN, ROOM, "7003", 0),
        // laughter once (three laughter words), hype once.
        said(&alice, 1, "LUL KEKW lol POGGERS", None),
        // love, tension
        said(&bob, 2, "<3 monkaS", None),
        // none
        said(&bob, 3, "just text", None),
        // laughter (minute 1)
        said(&alice, 61, "LMAO", None),
    ])
    .await;
    let s = figures
        .stream(&stream(&store, "7003").await)
        .await
        .expect("figures");
    assert_eq!(
        s.chat.mood,
        MoodTotals {
            hype: 1,
            laughter: 2,
            love: 1,
            tension: 1,
            ..MoodTotals::default()
        }
    );
    let channel = store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let points = figures.mood(&channel, t(0), t(600)).await.expect("mood");
    assert_eq!(points.len(), 2);
    assert_eq!((points[0].at, points[0].messages), (t(0), 3));
    assert_eq!(points[0].mood.laughter, 1);
    assert_eq!(points[1].mood.laughter, 1);
    let json = serde_json::to_value(points[0]).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"at": "2024-01-01T00:00:00Z", "messages": 3, "hype": 1,
            "laughter": 1, "love": 1, "sadness": 0, "anger": 0, "tension": 1})
    );

    // `!mood` at 00:02: 3 of 4 messages carry a mood; laughter 2 of 3, then hype and love.
    let shares = figures.mood_now(&channel, t(120)).await.expect("shares");
    assert_eq!((shares.messages, shares.mood_messages), (4, 3));
    let top: Vec<(Mood, String)> = shares
        .top
        .iter()
        .map(|(m, s)| (*m, format!("{s:.3}")))
        .collect();
    assert_eq!(
        top,
        vec![
            (Mood::Laughter, "0.667".into()),
            (Mood::Hype, "0.333".into()),
            (Mood::Love, "0.333".into())
        ]
    );
    // Eleven minutes later the window is empty.
    let later = figures
        .mood_now(&channel, t(61 + 660))
        .await
        .expect("shares");
    assert_eq!((later.messages, later.top.len()), (0, 0));
    p.stop().await;
}

/// Twitch emotes count every position; third-party ones every whole word not covered by a
/// Twitch position; counts add up across batches; listed by count, then name.
async fn emotes_are_counted_per_stream(store: Arc<Store>) {
    let (p, figures) = pipeline(&store).await;
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    p.send(vec![
        online(CHAN, ROOM, "7004", 0),
        said(
            &alice,
            1,
            "Kappa Kappa Kappa catJAM",
            Some("25:0-4,6-10,12-16"),
        ),
        // Twitch's KEKW (a channel emote of that name) covers the first word only.
        said(&bob, 2, "KEKW KEKW EZ", Some("emotesv2_abc:0-3")),
        // Not counted: the broadcaster.
        said(&user(ROOM, CHAN), 3, "catJAM catJAM", None),
    ])
    .await;
    p.send(vec![said(&bob, 4, "catJAM EZ", None)]).await;
    let s = stream(&store, "7004").await;
    let emotes: Vec<(String, String, String, i64)> = figures
        .stream_emotes(&s, 50)
        .await
        .expect("emotes")
        .into_iter()
        .map(|e| (e.provider.to_owned(), e.id, e.name, e.count))
        .collect();
    assert_eq!(
        emotes,
        vec![
            ("twitch".into(), "25".into(), "Kappa".into(), 3),
            ("7tv".into(), "7tv-ez".into(), "EZ".into(), 2),
            ("bttv".into(), "bttv-catjam".into(), "catJAM".into(), 2),
            ("7tv".into(), "7tv-kekw".into(), "KEKW".into(), 1),
            ("twitch".into(), "emotesv2_abc".into(), "KEKW".into(), 1),
        ]
    );
    let top = figures.stream_emotes(&s, 2).await.expect("top 2");
    assert_eq!(top.len(), 2);
    p.stop().await;
}

/// Messages outside a stream count in the channel's activity but give no stream emotes.
async fn messages_outside_streams_count_only_per_channel(store: Arc<Store>) {
    let (p, figures) = pipeline(&store).await;
    let alice = user(1, "alice");
    p.send(vec![said(&alice, 0, "Kappa", Some("25:0-4"))]).await;
    let channel = store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let points = figures
        .activity(&channel, t(0), t(60))
        .await
        .expect("activity");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].messages, 1);
    p.stop().await;
}

/// `RETENTION` prunes minutes older than the cut-off (they are in `TIMED_TABLES`).
async fn retention_prunes_old_minutes(db: &TestDb) {
    let store = db.store.clone();
    let (p, _) = pipeline(&store).await;
    let alice = user(1, "alice");
    p.send(vec![
        said(&alice, 0, "old", None),
        said(&alice, 7200, "new", None),
    ])
    .await;
    p.stop().await;
    assert_eq!(db.count("chat_activity", "1 = 1").await, 2);
    let pruned = store.prune(t(3600), t(9000)).await.expect("prune");
    assert!(pruned.timed >= 1);
    assert_eq!(db.count("chat_activity", "1 = 1").await, 1);
}

/// Emote counts are held in memory across batches: a command's flush (`flush_rows`) commits the
/// asking message's rows without them; a full flush (`!emotes`, the stream's end) writes them.
async fn emote_counts_wait_for_a_full_flush(store: Arc<Store>) {
    let config = IngestConfig {
        tracker: tracker_config(Some(UserId(BOT))),
        // Long enough that no stream's first write falls within the test.
        emotes_interval: std::time::Duration::from_secs(24 * 3600),
        ..IngestConfig::default()
    };
    let p = Pipeline::start(store.clone(), config).await;
    let figures = Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(BOT)));
    let alice = user(1, "alice");
    p.ingest
        .send_all(vec![
            online(CHAN, ROOM, "7005", 0),
            said(&alice, 1, "Kappa Kappa", Some("25:0-4,6-10")),
        ])
        .await
        .expect("send");
    p.ingest.flush_rows().await.expect("flush rows");
    let s = stream(&store, "7005").await;
    let counts = |figures: &Figures, s: &Stream| {
        let (figures, s) = (figures.clone(), s.clone());
        async move {
            figures
                .stream_emotes(&s, 50)
                .await
                .expect("emotes")
                .into_iter()
                .map(|e| (e.name, e.count))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(figures.stream(&s).await.expect("figures").messages, 1);
    assert_eq!(counts(&figures, &s).await, vec![]);
    p.ingest.flush().await.expect("flush");
    assert_eq!(counts(&figures, &s).await, vec![("Kappa".to_owned(), 2)]);
    p.stop().await;
}

on_every_backend!(
    activity_counts_counted_messages_per_minute,
    a_stream_without_messages_has_null_peaks_and_zero_mood,
    mood_counts_each_mood_once_per_message,
    emotes_are_counted_per_stream,
    emote_counts_wait_for_a_full_flush,
    messages_outside_streams_count_only_per_channel;
    with_db: retention_prunes_old_minutes,
);
