//! Stream recaps end to end: a stream scripted through the real ingestion and store,
//! the recap worker, and local webhook sinks standing in for Discord and Slack. Checks the
//! exact SPEC figures on the wire, exactly-once delivery across failures and restarts, 429
//! waits, revoked webhooks, and the weekly digest.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chatters_bot::recap::{Delivery, RecapConfig, Recaps, Service};
use chatters_bot::testing::webhook_sink::{Reply, Sink, multipart};
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::{Event, Message, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::stats::Figures;
use chatters_core::store::{self, Channel, Store, Stream, StreamSample, SummaryState};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "streamer";
const BROADCASTER: i64 = 1000;
const PREVIOUS: &str = "900001";
const RECAPPED: &str = "900002";
const DISCORD_PATH: &str = "/api/webhooks/123456/s3cr3t-discord-token";
const SLACK_PATH: &str = "/services/T000/B000/s3cr3t-slack-token";
const PUBLIC: &str = "http://chatters.test";

fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

fn user(id: i64, name: &str) -> UserRef {
    UserRef::new(UserId(id), login(name))
}

fn message(u: &UserRef, at: i64, first: bool) -> Event {
    Event::Message(Box::new(Message {
        channel: login(CHANNEL),
        user: u.clone(),
        at: Timestamp(at),
        room_id: Some(UserId(BROADCASTER)),
        source_room_id: None,
        first_msg: first,
        returning_chatter: false,
        badges: Vec::new(),
        has_text: true,
        id: None,
        signals: Default::default(),
    }))
}

fn snapshot(users: &[&UserRef], at: i64) -> Event {
    Event::Snapshot {
        channel: login(CHANNEL),
        at: Timestamp(at),
        users: users.iter().map(|u| (*u).clone()).collect(),
        total: users.len() as u64,
    }
}

fn online(id: &str, title: &str, at: i64) -> Event {
    Event::StreamOnline {
        channel: login(CHANNEL),
        broadcaster: Some(UserId(BROADCASTER)),
        stream: StreamId::parse(id).expect("stream id"),
        started_at: Timestamp(at),
        title: title.to_owned(),
    }
}

fn offline(at: i64) -> Event {
    Event::StreamOffline {
        channel: login(CHANNEL),
        at: Timestamp(at),
    }
}

/// A database holding the scripted channel and its streams.
struct Scene {
    _dir: tempfile::TempDir,
    url: String,
    store: Arc<Store>,
    channel: Channel,
    /// Start of the recapped stream (Unix seconds).
    base: i64,
}

async fn open(url: &str) -> Arc<Store> {
    let store = store::open(url, &Default::default()).await.expect("open");
    store.migrate().await.expect("migrate");
    store
}

/// Feeds events through the real ingestion pipeline and waits for them to be committed.
async fn ingest(store: &Arc<Store>, events: Vec<Event>) {
    let cancel = CancellationToken::new();
    let (handle, writer) = Ingest::start(store.clone(), IngestConfig::default(), cancel.clone())
        .await
        .expect("ingest");
    handle.send_all(events).await.expect("send");
    handle.flush().await.expect("flush");
    cancel.cancel();
    drop(handle);
    writer.await.expect("join").expect("writer");
}

/// The scripted channel: a previous stream 30 h ago (too old for a recap of its own), and the
/// recapped stream, from 2 h ago to 1 h ago:
///
/// - previous stream: alice, bob, gina, hank chat.
/// - snapshot at +60 s: alice, bob, carol, dave and ten accounts created on 2024-03-01.
/// - alice: 3 messages; carol: a first message (`first-msg=1`) and another; bob, dave and the
///   ten accounts only lurk.
/// - raider raids with 42 viewers at +200 s; erin joins at +210 s and frank chats at +220 s
///   (the two arrivals); erin chats again at +2010 s (30 min after the raid: retained).
/// - snapshot at +2100 s: alice, erin.
///
/// SPEC figures: unique 16, new 14 (all but alice and bob), returning 2, first-time 1, peak 14
/// (the first snapshot), messages 7, lurkers 12, retention 2 of 4 = 50%, top alice 3, carol 2,
/// erin 1, frank 1, raid retention 1 of 2 arrivals, one flagged day (10 accounts ≥ max(10, 2%
/// of 16)).
async fn scene() -> Scene {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/chatters.db", dir.path().display());
    let store = open(&url).await;
    let channel = store.add_channel(&login(CHANNEL)).await.expect("add");
    let base = Timestamp::now().0 - 7_200;
    ingest(&store, stream_events(base)).await;
    // Get Streams samples of the recapped stream: Just Chatting, then Chess.
    let sample = |offset: i64, viewers: i64, (game_id, name): (&str, &str)| {
        (
            login(CHANNEL),
            StreamSample {
                at: Timestamp(base + offset),
                viewers,
                game_id: game_id.to_owned(),
                game_name: name.to_owned(),
            },
        )
    };
    store
        .record_samples(&[
            sample(60, 30, ("509658", "Just Chatting")),
            sample(1800, 40, ("743", "Chess")),
        ])
        .await
        .expect("samples");
    Scene {
        _dir: dir,
        url,
        store,
        channel,
        base,
    }
}

fn stream_events(base: i64) -> Vec<Event> {
    let (alice, bob, carol, dave) = (
        user(1, "alice"),
        user(2, "bob"),
        user(3, "carol"),
        user(4, "dave"),
    );
    let (erin, frank, gina, hank) = (
        user(5, "erin"),
        user(6, "frank"),
        user(7, "gina"),
        user(8, "hank"),
    );
    let farm: Vec<UserRef> = (101..=110).map(|i| user(i, &format!("farm{i}"))).collect();
    let previous = base - 30 * 3600;
    let mut events = vec![
        online(PREVIOUS, "Old stream", previous),
        message(&alice, previous + 60, false),
        message(&bob, previous + 70, false),
        message(&gina, previous + 80, false),
        message(&hank, previous + 90, false),
        offline(previous + 3600),
        online(RECAPPED, "Recap test stream", base),
    ];
    let mut first: Vec<&UserRef> = vec![&alice, &bob, &carol, &dave];
    first.extend(farm.iter());
    events.push(snapshot(&first, base + 60));
    let created = Timestamp::parse_rfc3339("2024-03-01T12:00:00Z").expect("time");
    for u in &farm {
        events.push(Event::Account {
            user: u.clone(),
            created_at: created,
        });
    }
    events.extend([
        message(&alice, base + 100, false),
        message(&alice, base + 110, false),
        message(&alice, base + 120, false),
        message(&carol, base + 130, true),
        message(&carol, base + 140, false),
        Event::Raid {
            channel: login(CHANNEL),
            from: user(50, "raider"),
            viewers: 42,
            at: Timestamp(base + 200),
        },
        Event::Join {
            channel: login(CHANNEL),
            user: erin.clone(),
            at: Timestamp(base + 210),
        },
        message(&frank, base + 220, false),
        message(&erin, base + 2010, false),
        snapshot(&[&alice, &erin], base + 2100),
        offline(base + 3600),
    ]);
    events
}

/// Fast timing for tests; no global webhooks.
fn config() -> RecapConfig {
    RecapConfig {
        poll_interval: Duration::from_millis(50),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        claim_lease: Duration::from_secs(2),
        http_timeout: Duration::from_secs(5),
        public_base_url: PUBLIC.to_owned(),
        ..RecapConfig::default()
    }
}

fn secret(url: String) -> Option<SecretString> {
    Some(SecretString::from(url))
}

fn figures(store: &Arc<Store>) -> Figures {
    Figures::new(store.clone(), KnownBots::shipped(), None)
}

/// A running recap worker.
struct Worker {
    cancel: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    metrics: Arc<chatters_bot::recap::RecapMetrics>,
}

fn start(store: &Arc<Store>, config: RecapConfig) -> Worker {
    let recaps = Recaps::new(figures(store), config).expect("recaps");
    let metrics = recaps.metrics().clone();
    let cancel = CancellationToken::new();
    let task = tokio::spawn(recaps.run(cancel.clone()));
    Worker {
        cancel,
        task,
        metrics,
    }
}

impl Worker {
    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("join").expect("worker");
    }
}

async fn recapped(store: &Arc<Store>) -> Stream {
    store
        .stream(&StreamId::parse(RECAPPED).expect("id"))
        .await
        .expect("read")
        .expect("stream")
}

/// Waits (at most 10 s) until the summary of `stream` for `target` is in `state`.
async fn wait_state(store: &Arc<Store>, subject: i64, target: &str, state: SummaryState) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = store.summaries(subject).await.expect("summaries");
        if rows.iter().any(|r| r.target == target && r.state == state) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{target} never reached {state:?}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lets the worker run a few more polls.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

fn expected_fields(base: i64) -> Vec<(&'static str, String, bool)> {
    let raid_time = Timestamp(base + 200)
        .to_datetime()
        .format("%H:%M")
        .to_string();
    vec![
        ("Duration", "1h 00m".into(), true),
        ("Unique chatters", "16".into(), true),
        ("New chatters", "14".into(), true),
        ("Returning chatters", "2".into(), true),
        ("First-time chatters", "1".into(), true),
        ("Peak chatters", "14".into(), true),
        ("Messages", "7".into(), true),
        ("Lurkers", "12".into(), true),
        ("Retention vs previous stream", "50.0%".into(), true),
        ("Viewers (peak / avg)", "40 / 35".into(), true),
        // Peak chatters 14 per 40 viewers.
        ("Chatters per viewer", "0.35".into(), true),
        // Watch time from the stored presence: the first snapshot's users time out at 960 s
        // (snapshots stale after 30 min); alice and erin come back; 17,630 s / 16 = 1,102 s.
        ("Average watch time", "18m 22s".into(), true),
        // One earlier stream only: nobody attended 3 of the last 5.
        ("Regulars", "0 of 0 regulars came".into(), true),
        ("Categories", "Just Chatting → Chess".into(), true),
        (
            "Top chatters",
            "1. alice (3)\n2. carol (2)\n3. erin (1)\n4. frank (1)".into(),
            false,
        ),
        ("Top emotes", "none".into(), false),
        (
            "Raids received",
            format!("raider at {raid_time} UTC: 42 viewers, retention 50.0% of 2 arrivals"),
            false,
        ),
        (
            "Flagged account-age days",
            "2024-03-01: 10 accounts".into(),
            false,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_and_slack_recaps_carry_the_spec_figures() {
    let scene = scene().await;
    let discord = Sink::start(Reply::status(204)).await;
    let slack = Sink::start(Reply::status(200).body("ok")).await;
    scene
        .store
        .set_channel_setting(
            scene.channel.key,
            "slack_webhook",
            Some(&slack.url(SLACK_PATH)),
        )
        .await
        .expect("setting");
    let config = RecapConfig {
        discord_webhook_url: secret(discord.url(DISCORD_PATH)),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config);
    let to_discord = discord.wait_for(1).await;
    let to_slack = slack.wait_for(1).await;
    wait_state(
        &scene.store,
        stream.key.0,
        "discord:global",
        SummaryState::Sent,
    )
    .await;
    wait_state(
        &scene.store,
        stream.key.0,
        "slack:channel",
        SummaryState::Sent,
    )
    .await;
    settle().await;
    let metrics = worker.metrics.clone();
    worker.stop().await;

    // The figures themselves (the recap shows what Figures computes).
    let f = figures(&scene.store)
        .stream(&stream)
        .await
        .expect("figures");
    assert_eq!(
        [
            f.unique_chatters,
            f.new_chatters,
            f.returning_chatters,
            f.first_time_chatters,
            f.peak_chatters,
            f.messages,
            f.lurkers
        ],
        [16, 14, 2, 1, 14, 7, 12]
    );
    assert_eq!(f.retention, Some(0.5));

    // Discord: one multipart request to the webhook's own host and path.
    assert_eq!(discord.requests().len(), 1);
    let request = &to_discord[0];
    assert_eq!(
        request.path_and_query,
        "/api/v10/webhooks/123456/s3cr3t-discord-token?&wait=false"
    );
    assert!(request.content_type.starts_with("multipart/form-data"));
    let parts = multipart(&request.content_type, &request.body);
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["files[0]", "payload_json"]);
    let file = &parts[0];
    assert_eq!(file.filename.as_deref(), Some("chart.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert!(file.data.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(file.data.len() > 1_000);
    let payload: Value = serde_json::from_slice(&parts[1].data).expect("payload json");
    let embed = &payload["embeds"][0];
    assert_eq!(payload["embeds"].as_array().expect("embeds").len(), 1);
    assert_eq!(embed["title"], "streamer: Recap test stream");
    assert_eq!(embed["image"]["url"], "attachment://chart.png");
    assert_eq!(payload["attachments"][0]["filename"], "chart.png");
    assert_eq!(payload["attachments"][0]["id"], 0);
    let fields: Vec<(String, String, bool)> = embed["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name").to_owned(),
                f["value"].as_str().expect("value").to_owned(),
                f["inline"].as_bool().expect("inline"),
            )
        })
        .collect();
    let expected: Vec<(String, String, bool)> = expected_fields(scene.base)
        .into_iter()
        .map(|(n, v, i)| (n.to_owned(), v, i))
        .collect();
    assert_eq!(fields, expected);

    // Slack: Block Kit JSON with the same figures and the public chart URL.
    assert_eq!(slack.requests().len(), 1);
    let request = &to_slack[0];
    assert_eq!(request.path_and_query, SLACK_PATH);
    assert!(request.content_type.starts_with("application/json"));
    let body: Value = serde_json::from_slice(&request.body).expect("slack json");
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(
        blocks[0],
        json!({"type": "header", "text": {"type": "plain_text", "text": "streamer: Recap test stream"}})
    );
    let short: Vec<String> = blocks[2]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["text"].as_str().expect("text").to_owned())
        .collect();
    // Slack takes at most 10 fields a section: the 14 short ones fill two.
    let short: Vec<String> = short
        .into_iter()
        .chain(
            blocks[3]["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| f["text"].as_str().expect("text").to_owned()),
        )
        .collect();
    let long: Vec<String> = blocks[4..8]
        .iter()
        .map(|b| b["text"]["text"].as_str().expect("text").to_owned())
        .collect();
    let expected = expected_fields(scene.base);
    let expected_short: Vec<String> = expected[..14]
        .iter()
        .map(|(n, v, _)| format!("*{n}*\n{v}"))
        .collect();
    let expected_long: Vec<String> = expected[14..]
        .iter()
        .map(|(n, v, _)| format!("*{n}*\n{v}"))
        .collect();
    assert_eq!(short, expected_short);
    assert_eq!(long, expected_long);
    assert_eq!(
        blocks[8],
        json!({
            "type": "image",
            "image_url": format!("{PUBLIC}/c/streamer/streams/{RECAPPED}.png"),
            "alt_text": "chatters during the stream",
        })
    );
    assert_eq!(blocks.len(), 9);
    let text = body["text"].as_str().expect("fallback text");
    assert!(
        text.starts_with("Stream recap streamer: Recap test stream ("),
        "{text}"
    );
    assert!(
        text.contains(
            "16 unique chatters (14 new, 2 returning, 1 first-time), peak 14, 7 messages, \
             12 lurkers, retention 50.0%; viewers 40 / 35 (peak / avg), 0.35 chatters per \
             viewer, average watch time 18m 22s, 0 of 0 regulars came, categories: Just \
             Chatting → Chess"
        ),
        "{text}"
    );

    // Only the recent stream got a recap; both are recorded as sent.
    let previous = scene
        .store
        .stream(&StreamId::parse(PREVIOUS).expect("id"))
        .await
        .expect("read")
        .expect("stream");
    assert!(
        scene
            .store
            .summaries(previous.key.0)
            .await
            .expect("rows")
            .is_empty()
    );
    let rows = scene.store.summaries(stream.key.0).await.expect("rows");
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.state == SummaryState::Sent && r.attempts == 1 && r.sent_at.is_some())
    );
    assert_eq!(metrics.get(Service::Discord, Delivery::Sent), 1);
    assert_eq!(metrics.get(Service::Slack, Delivery::Sent), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_then_a_204_delivers_exactly_one_recap() {
    let scene = scene().await;
    let discord = Sink::start(Reply::status(204)).await;
    discord.script([Reply::status(500).body(r#"{"message": "Internal Server Error", "code": 0}"#)]);
    let config = RecapConfig {
        discord_webhook_url: secret(discord.url(DISCORD_PATH)),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config);
    wait_state(
        &scene.store,
        stream.key.0,
        "discord:global",
        SummaryState::Sent,
    )
    .await;
    settle().await;
    let metrics = worker.metrics.clone();
    worker.stop().await;

    let requests = discord.requests();
    assert_eq!(requests.len(), 2);
    // The retry waited for the backoff (100 ms).
    assert!(requests[1].at - requests[0].at >= Duration::from_millis(100));
    let rows = scene.store.summaries(stream.key.0).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, SummaryState::Sent);
    assert_eq!(rows[0].attempts, 2);
    assert_eq!(metrics.get(Service::Discord, Delivery::Retried), 1);
    assert_eq!(metrics.get(Service::Discord, Delivery::Sent), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_stream_end_and_delivery_delivers_once_and_never_again() {
    let scene = scene().await;
    let discord = Sink::start(Reply::status(204)).await;
    discord.script([Reply::status(503)]);
    let config = RecapConfig {
        discord_webhook_url: secret(discord.url(DISCORD_PATH)),
        // Long enough that the first worker does not retry before it is stopped.
        retry_base: Duration::from_secs(1),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    // First run: the recap is recorded, the attempt fails, the process stops.
    let first = start(&scene.store, config.clone());
    discord.wait_for(1).await;
    first.stop().await;
    scene.store.close().await;
    let pending = open(&scene.url).await;
    let rows = pending.summaries(stream.key.0).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, SummaryState::Pending);
    assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 503"));

    // Second run on the same database: delivered once.
    let second = start(&pending, config.clone());
    wait_state(&pending, stream.key.0, "discord:global", SummaryState::Sent).await;
    settle().await;
    second.stop().await;
    pending.close().await;
    assert_eq!(discord.requests().len(), 2);

    // Third run after delivery: nothing is sent again.
    let reopened = open(&scene.url).await;
    let third = start(&reopened, config);
    settle().await;
    third.stop().await;
    assert_eq!(discord.requests().len(), 2);
    let rows = reopened.summaries(stream.key.0).await.expect("rows");
    assert_eq!(rows[0].state, SummaryState::Sent);
    assert_eq!(rows[0].attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recap_claimed_by_a_worker_that_died_is_sent_once_its_lease_ends() {
    let scene = scene().await;
    let discord = Sink::start(Reply::status(204)).await;
    let config = RecapConfig {
        discord_webhook_url: secret(discord.url(DISCORD_PATH)),
        claim_lease: Duration::from_millis(500),
        ..config()
    };
    let stream = recapped(&scene.store).await;
    // A worker recorded and claimed the recap, then died before sending.
    let now = chrono::Utc::now().timestamp_millis();
    scene
        .store
        .add_summaries(stream.key.0, &["discord:global".to_owned()], now)
        .await
        .expect("add");
    let claimed = scene
        .store
        .claim_summary(stream.key.0, "discord:global", 0, now + 700)
        .await
        .expect("claim");
    assert!(claimed);

    let worker = start(&scene.store, config);
    settle().await;
    let during_lease = discord.requests().len();
    wait_state(
        &scene.store,
        stream.key.0,
        "discord:global",
        SummaryState::Sent,
    )
    .await;
    settle().await;
    worker.stop().await;

    assert_eq!(during_lease, 0);
    assert_eq!(discord.requests().len(), 1);
    let rows = scene.store.summaries(stream.key.0).await.expect("rows");
    assert_eq!(rows[0].attempts, 2);
}

/// Discord answers one 429 (`reply`), then 204: the one retry comes `min_wait` later at the
/// earliest, and the recap ends sent.
async fn a_429_is_waited_out(reply: Reply, min_wait: Duration) {
    let scene = scene().await;
    let discord = Sink::start(Reply::status(204)).await;
    discord.script([reply]);
    let config = RecapConfig {
        discord_webhook_url: secret(discord.url(DISCORD_PATH)),
        retry_base: Duration::from_millis(10),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config);
    wait_state(
        &scene.store,
        stream.key.0,
        "discord:global",
        SummaryState::Sent,
    )
    .await;
    worker.stop().await;

    let requests = discord.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    assert!(waited >= min_wait, "retried after {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_retry_after_header_is_honoured() {
    // The header (1 s) wins over the shorter JSON value.
    a_429_is_waited_out(
        Reply::status(429).header("retry-after", "1").body(
            r#"{"message": "You are being rate limited.", "retry_after": 0.2, "global": false}"#,
        ),
        Duration::from_secs(1),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_json_retry_after_from_discord_is_honoured() {
    a_429_is_waited_out(
        Reply::status(429).body(
            r#"{"message": "You are being rate limited.", "retry_after": 0.8, "global": false}"#,
        ),
        Duration::from_millis(800),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_disables_the_target_for_the_channel() {
    let scene = scene().await;
    let discord =
        Sink::start(Reply::status(404).body(r#"{"message": "Unknown Webhook", "code": 10015}"#))
            .await;
    scene
        .store
        .set_channel_setting(
            scene.channel.key,
            "discord_webhook",
            Some(&discord.url(DISCORD_PATH)),
        )
        .await
        .expect("setting");
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config());
    wait_state(
        &scene.store,
        stream.key.0,
        "discord:channel",
        SummaryState::Disabled,
    )
    .await;
    // Another stream ends: nothing more goes to the revoked webhook.
    let later = scene.base + 3 * 3600 - 7_200;
    ingest(
        &scene.store,
        vec![
            online("900003", "Later stream", later),
            message(&user(1, "alice"), later + 10, false),
            offline(later + 600),
        ],
    )
    .await;
    settle().await;
    settle().await;
    let metrics = worker.metrics.clone();
    worker.stop().await;

    assert_eq!(discord.requests().len(), 1);
    let rows = scene.store.summaries(stream.key.0).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, SummaryState::Disabled);
    assert_eq!(rows[0].last_error.as_deref(), Some("HTTP 404"));
    let disabled = scene
        .store
        .disabled_recap_targets(scene.channel.key)
        .await
        .expect("disabled");
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].target, "discord:channel");
    assert_eq!(disabled[0].status, 404);
    assert_eq!(disabled[0].url_hash.len(), 16);
    let later = scene
        .store
        .stream(&StreamId::parse("900003").expect("id"))
        .await
        .expect("read")
        .expect("stream");
    assert!(later.ended_at.is_some());
    assert!(
        scene
            .store
            .summaries(later.key.0)
            .await
            .expect("rows")
            .is_empty()
    );
    assert_eq!(metrics.get(Service::Discord, Delivery::Disabled), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_webhook_url_enables_a_revoked_target_again() {
    let scene = scene().await;
    let revoked = Sink::start(Reply::status(401)).await;
    let replacement = Sink::start(Reply::status(204)).await;
    let set = |url: String| {
        let store = scene.store.clone();
        let key = scene.channel.key;
        async move {
            store
                .set_channel_setting(key, "discord_webhook", Some(&url))
                .await
                .expect("setting");
        }
    };
    set(revoked.url(DISCORD_PATH)).await;
    let stream = recapped(&scene.store).await;
    let worker = start(&scene.store, config());
    wait_state(
        &scene.store,
        stream.key.0,
        "discord:channel",
        SummaryState::Disabled,
    )
    .await;

    set(replacement.url("/api/webhooks/654321/new-token")).await;
    let later = scene.base + 3 * 3600 - 7_200;
    ingest(
        &scene.store,
        vec![
            online("900004", "After the new URL", later),
            message(&user(1, "alice"), later + 10, false),
            offline(later + 600),
        ],
    )
    .await;
    let to_replacement = replacement.wait_for(1).await;
    settle().await;
    worker.stop().await;

    assert_eq!(revoked.requests().len(), 1);
    assert_eq!(replacement.requests().len(), 1);
    assert!(
        to_replacement[0]
            .path_and_query
            .starts_with("/api/v10/webhooks/654321/new-token")
    );
    let next = scene
        .store
        .stream(&StreamId::parse("900004").expect("id"))
        .await
        .expect("read")
        .expect("stream");
    let rows = scene.store.summaries(next.key.0).await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, SummaryState::Sent);
}

/// Captured log output (every level, every target) of a test.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

// Current-thread runtime: the worker and the sinks run on this thread, under its subscriber.
#[tokio::test]
async fn failures_are_given_up_after_their_deadline_and_no_log_carries_a_webhook_url() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let scene = scene().await;
    // Slack fails for good (its error body even quotes the URL); Discord's webhook is gone.
    let slack = Sink::start(
        Reply::status(500).body("see http://127.0.0.1/services/T000/B000/s3cr3t-slack-token"),
    )
    .await;
    let discord =
        Sink::start(Reply::status(404).body(r#"{"message": "Unknown Webhook", "code": 10015}"#))
            .await;
    scene
        .store
        .set_channel_setting(
            scene.channel.key,
            "discord_webhook",
            Some(&discord.url(DISCORD_PATH)),
        )
        .await
        .expect("setting");
    let config = RecapConfig {
        slack_webhook_url: secret(slack.url(SLACK_PATH)),
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(100),
        give_up_after: Duration::from_millis(1_500),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config);
    wait_state(
        &scene.store,
        stream.key.0,
        "slack:global",
        SummaryState::Failed,
    )
    .await;
    wait_state(
        &scene.store,
        stream.key.0,
        "discord:channel",
        SummaryState::Disabled,
    )
    .await;
    let tried = slack.requests().len();
    settle().await;
    let metrics = worker.metrics.clone();
    worker.stop().await;

    assert!(tried >= 2, "{tried} attempts");
    assert_eq!(slack.requests().len(), tried);
    assert_eq!(discord.requests().len(), 1);
    assert_eq!(metrics.get(Service::Slack, Delivery::GivenUp), 1);
    assert_eq!(
        metrics.get(Service::Slack, Delivery::Retried) as usize,
        tried - 1
    );
    let rows = scene.store.summaries(stream.key.0).await.expect("rows");
    let slack_row = rows
        .iter()
        .find(|r| r.target == "slack:global")
        .expect("row");
    assert_eq!(slack_row.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(slack_row.attempts as usize, tried);
    let text = logs.text();
    assert_eq!(
        text.matches("recap given up after retrying").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("webhook revoked").count(), 1, "{text}");
    assert!(
        text.contains("target=\"discord:channel\"") || text.contains("target=discord:channel"),
        "{text}"
    );
    for secret in ["s3cr3t", "/services/", "/api/webhooks/", "123456"] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
}

/// Monday 2026-11-23 10:00 UTC, in milliseconds: the digest of week 2026-W47 is due.
const DIGEST_NOW_MS: i64 = 1_795_428_000_000;

fn at(rfc3339: &str) -> i64 {
    Timestamp::parse_rfc3339(rfc3339).expect("time").0
}

/// `e` in channel `c`, its stream ids prefixed with `prefix`.
fn in_channel(c: &str, prefix: &str, e: Event) -> Event {
    match e {
        Event::Message(mut m) => {
            m.channel = login(c);
            m.room_id = None;
            Event::Message(m)
        }
        Event::Snapshot {
            at, users, total, ..
        } => Event::Snapshot {
            channel: login(c),
            at,
            users,
            total,
        },
        Event::StreamOnline {
            stream,
            started_at,
            title,
            ..
        } => Event::StreamOnline {
            channel: login(c),
            broadcaster: None,
            stream: StreamId::parse(&format!("{prefix}{stream}")).expect("stream id"),
            started_at,
            title,
        },
        Event::StreamOffline { at, .. } => Event::StreamOffline {
            channel: login(c),
            at,
        },
        other => other,
    }
}

/// Week 2026-W46: one stream (alice, bob). Week 2026-W47: Wednesday 2 h (snapshot of alice,
/// carol, dave; alice 2 messages, carol 1) and Friday 1 h 30 (snapshot of alice, erin; one
/// message each). W47: 2 streams, 3 h 30 live, 4 distinct chatters (2 the week before: +100%),
/// 3 new, 5 messages, peak 3.
fn digest_events(channel: &str, prefix: &str) -> Vec<Event> {
    let (alice, bob, carol, dave, erin) = (
        user(1, "alice"),
        user(2, "bob"),
        user(3, "carol"),
        user(4, "dave"),
        user(5, "erin"),
    );
    let w46 = at("2026-11-10T18:00:00Z");
    let wed = at("2026-11-18T18:00:00Z");
    let fri = at("2026-11-20T18:00:00Z");
    [
        online("1", "Tuesday stream", w46),
        message(&alice, w46 + 10, false),
        message(&bob, w46 + 20, false),
        offline(w46 + 3600),
        online("2", "Wednesday stream", wed),
        snapshot(&[&alice, &carol, &dave], wed + 60),
        message(&alice, wed + 100, false),
        message(&alice, wed + 110, false),
        message(&carol, wed + 120, false),
        offline(wed + 7200),
        online("3", "Friday stream", fri),
        snapshot(&[&alice, &erin], fri + 60),
        message(&alice, fri + 100, false),
        message(&erin, fri + 110, false),
        offline(fri + 5400),
    ]
    .into_iter()
    .map(|e| in_channel(channel, prefix, e))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_digest_is_sent_once_to_channels_that_asked_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/chatters.db", dir.path().display());
    let store = open(&url).await;
    let weekly = store.add_channel(&login("weekly")).await.expect("add");
    let quiet = store.add_channel(&login("quiet")).await.expect("add");
    let mut events = digest_events("weekly", "8000");
    events.extend(digest_events("quiet", "7000"));
    ingest(&store, events).await;
    let slack = Sink::start(Reply::status(200).body("ok")).await;
    let discord = Sink::start(Reply::status(204)).await;
    for (channel, path) in [(&weekly, "/weekly"), (&quiet, "/quiet")] {
        store
            .set_channel_setting(channel.key, "slack_webhook", Some(&slack.url(path)))
            .await
            .expect("setting");
        store
            .set_channel_setting(
                channel.key,
                "discord_webhook",
                Some(&discord.url(&format!("/api/webhooks/77{}/tok", path.len()))),
            )
            .await
            .expect("setting");
    }
    store
        .set_channel_setting(weekly.key, "weekly_digest", Some("on"))
        .await
        .expect("setting");
    let clock: chatters_bot::recap::Clock = Arc::new(|| DIGEST_NOW_MS);

    let recaps = Recaps::new(figures(&store), config())
        .expect("recaps")
        .with_clock(clock);
    let cancel = CancellationToken::new();
    let worker = tokio::spawn(recaps.run(cancel.clone()));
    let to_slack = slack.wait_for(1).await;
    let to_discord = discord.wait_for(1).await;
    settle().await;
    cancel.cancel();
    worker.await.expect("join").expect("worker");

    // One digest per target, for the channel that asked, none for old streams' recaps.
    assert_eq!(slack.requests().len(), 1);
    assert_eq!(discord.requests().len(), 1);
    assert_eq!(to_slack[0].path_and_query, "/weekly");
    let rows = store.summaries(weekly.key.0).await.expect("rows");
    let targets: Vec<(&str, SummaryState)> =
        rows.iter().map(|r| (r.target.as_str(), r.state)).collect();
    assert_eq!(
        targets,
        [
            ("digest:2026-W47:discord:channel", SummaryState::Sent),
            ("digest:2026-W47:slack:channel", SummaryState::Sent),
        ]
    );
    assert!(store.summaries(quiet.key.0).await.expect("rows").is_empty());

    let body: Value = serde_json::from_slice(&to_slack[0].body).expect("slack json");
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["text"]["text"], "weekly: week 2026-W47");
    assert_eq!(
        blocks[1]["elements"][0]["text"],
        "2026-11-16 – 2026-11-22 UTC"
    );
    let short: Vec<&str> = blocks[2]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["text"].as_str().expect("text"))
        .collect();
    assert_eq!(
        short,
        [
            "*Streams*\n2",
            "*Time live*\n3h 30m",
            "*Unique chatters*\n4",
            "*New chatters*\n3",
            "*Messages*\n5",
            "*Peak chatters*\n3",
        ]
        .map(|s| s.replace("\\n", "\n"))
    );
    assert_eq!(
        blocks[3]["text"]["text"],
        "*Trend vs previous week*\n+100.0% (2 → 4)"
    );
    assert_eq!(
        blocks[4]["text"]["text"],
        "*Streams of the week*\n\
         Wed 2026-11-18 18:00 Wednesday stream: 3 chatters (2 new), peak 3, 3 messages\n\
         Fri 2026-11-20 18:00 Friday stream: 2 chatters (1 new), peak 2, 2 messages"
    );
    assert_eq!(
        blocks[5]["image_url"],
        format!("{PUBLIC}/c/weekly/chatters.png?range=7d")
    );

    let parts = multipart(&to_discord[0].content_type, &to_discord[0].body);
    assert!(parts[0].data.starts_with(b"\x89PNG\r\n\x1a\n"));
    let payload: Value = serde_json::from_slice(&parts[1].data).expect("payload");
    assert_eq!(payload["embeds"][0]["title"], "weekly: week 2026-W47");
    assert_eq!(payload["embeds"][0]["fields"][2]["value"], "4");
    assert_eq!(
        payload["embeds"][0]["fields"][6]["value"],
        "+100.0% (2 → 4)"
    );
    store.close().await;
}

fn has_image(body: &[u8]) -> bool {
    let body: Value = serde_json::from_slice(body).expect("slack json");
    body["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .any(|b| b["type"] == "image")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_the_recap_without_the_image_when_it_cannot_load_it() {
    let scene = scene().await;
    let slack = Sink::start(Reply::status(200).body("ok")).await;
    slack.script([Reply::status(400).body("invalid_blocks")]);
    let config = RecapConfig {
        slack_webhook_url: secret(slack.url(SLACK_PATH)),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config);
    wait_state(
        &scene.store,
        stream.key.0,
        "slack:global",
        SummaryState::Sent,
    )
    .await;
    settle().await;
    worker.stop().await;

    let requests = slack.requests();
    assert_eq!(requests.len(), 2);
    assert!(has_image(&requests[0].body));
    assert!(!has_image(&requests[1].body));
    let rows = scene.store.summaries(stream.key.0).await.expect("rows");
    assert_eq!(rows[0].attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_with_its_public_page_off_gets_no_chart_link() {
    let scene = scene().await;
    let slack = Sink::start(Reply::status(200).body("ok")).await;
    scene
        .store
        .set_channel_setting(scene.channel.key, "public_page", Some("off"))
        .await
        .expect("setting");
    let config = RecapConfig {
        slack_webhook_url: secret(slack.url(SLACK_PATH)),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config);
    wait_state(
        &scene.store,
        stream.key.0,
        "slack:global",
        SummaryState::Sent,
    )
    .await;
    worker.stop().await;

    let requests = slack.requests();
    assert_eq!(requests.len(), 1);
    assert!(!has_image(&requests[0].body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_webhook_is_retried_with_an_error_naming_no_url() {
    let scene = scene().await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let config = RecapConfig {
        discord_webhook_url: secret(format!("http://127.0.0.1:{port}{DISCORD_PATH}")),
        retry_base: Duration::from_secs(60),
        retry_max: Duration::from_secs(3600),
        ..config()
    };
    let stream = recapped(&scene.store).await;

    let worker = start(&scene.store, config);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let row = loop {
        let rows = scene.store.summaries(stream.key.0).await.expect("rows");
        if let Some(row) = rows
            .into_iter()
            .find(|r| r.attempts == 1 && r.state == SummaryState::Pending)
        {
            break row;
        }
        assert!(std::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    worker.stop().await;

    let error = row.last_error.expect("error recorded");
    assert!(error.starts_with("request failed: "), "{error}");
    assert!(
        !error.contains("s3cr3t") && !error.contains("/api/"),
        "{error}"
    );
    let retry_in = row.next_at.expect("next attempt") - row.created_at.expect("created");
    assert!(retry_in >= 59_000, "{retry_in}");
}
