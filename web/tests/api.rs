//! The keyed JSON API, the chatters export and `/metrics`, through `router(state).oneshot(..)`
//! and over a real socket, on a SQLite store filled through the real ingestion pipeline.
//!
//! Scenario (times are offsets from `base`, three hours ago, so the 24-hour series and the
//! 7-day account window include them): channel `chan` (broadcaster id 500) has two streams,
//! `1001` (0-600 s) and `1002` (3600-6000 s, raided by `raidguy` at 3750 s); alice renames to
//! alicia during stream 2, which has three viewer samples (Just Chatting, then Chess); channel
//! `other` (id 600) has stream `2001`, where alicia and erin chat.

mod support;

use std::io::Read as _;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chatters_core::apikey::ApiKey;
use chatters_core::domain::{StreamId, Timestamp, UserId};
use chatters_core::event::{Event, Message, UserRef};
use chatters_core::ingest::{IngestConfig, IngestHandle};
use chatters_core::store::StreamSample;
use chatters_core::testing::{TestDb, login, tracker_config, user};
use chatters_web::AppState;
use serde_json::{Value, json};
use support::{Answer, Harness, raw_get, spawn_server};

const CHAN_ID: i64 = 500;
const OTHER_ID: i64 = 600;

/// A filled store, its web state and one key per scope.
struct App {
    state: AppState,
    base: i64,
    /// Scoped to `chan`.
    chan_key: String,
    /// Scoped to `other`.
    other_key: String,
    /// Scoped to both.
    both_key: String,
    /// Scoped to `chan`, revoked.
    revoked_key: String,
    /// The store and its ingestion (kept so `/metrics` can show ingestion counters); stopped
    /// when dropped.
    harness: Harness,
}

impl App {
    /// The ingestion handle.
    fn ingest(&self) -> &IngestHandle {
        &self.harness.pipeline.ingest
    }
}

/// Everything the scenario sends, with times `base + offset`.
fn scenario(base: i64) -> Vec<Event> {
    let at = |offset: i64| Timestamp(base + offset);
    let alice = user(1, "alice");
    let alicia = user(1, "alicia");
    let bob = user(2, "bob");
    let carol = UserRef {
        display_name: Some("Carol, \"the\" Great".to_owned()),
        ..user(3, "carol")
    };
    let dave = user(4, "dave");
    let erin = user(5, "erin");
    let raider = user(20, "raidguy");
    let nightbot = user(901, "nightbot");
    let owner = user(CHAN_ID, "chan");
    let message = |channel: &str, room: i64, u: &UserRef, offset: i64, first: bool| {
        Event::Message(Box::new(Message {
            channel: login(channel),
            user: u.clone(),
            at: at(offset),
            room_id: Some(UserId(room)),
            source_room_id: None,
            first_msg: first,
            returning_chatter: false,
            badges: Vec::new(),
            has_text: true,
            id: None,
            signals: Default::default(),
        }))
    };
    let snapshot = |users: &[&UserRef], offset: i64| Event::Snapshot {
        channel: login("chan"),
        at: at(offset),
        users: users.iter().map(|u| (*u).clone()).collect(),
        total: users.len() as u64,
    };
    let online = |channel: &str, room: i64, id: &str, offset: i64| Event::StreamOnline {
        channel: login(channel),
        broadcaster: Some(UserId(room)),
        stream: StreamId::parse(id).expect("stream id"),
        started_at: at(offset),
        title: format!("stream {id}"),
    };
    let offline = |channel: &str, offset: i64| Event::StreamOffline {
        channel: login(channel),
        at: at(offset),
    };
    let created = |u: &UserRef, day: &str| Event::Account {
        user: u.clone(),
        created_at: Timestamp::parse_rfc3339(&format!("{day}T12:00:00Z")).expect("day"),
    };
    vec![
        snapshot(&[&alice], -600),
        online("chan", CHAN_ID, "1001", 0),
        snapshot(&[&alice, &bob, &nightbot, &owner], 60),
        message("chan", CHAN_ID, &alice, 100, false),
        message("chan", CHAN_ID, &alice, 110, false),
        message("chan", CHAN_ID, &owner, 120, false),
        message("chan", CHAN_ID, &carol, 130, true),
        offline("chan", 600),
        online("chan", CHAN_ID, "1002", 3600),
        snapshot(&[&alice, &carol], 3700),
        Event::Raid {
            channel: login("chan"),
            from: raider,
            viewers: 42,
            at: at(3750),
        },
        Event::Join {
            channel: login("chan"),
            user: dave.clone(),
            at: at(3760),
        },
        message("chan", CHAN_ID, &dave, 3800, false),
        Event::Rename {
            user: alicia.clone(),
            at: at(3900),
        },
        snapshot(&[&alicia, &carol, &dave], 5700),
        offline("chan", 6000),
        online("other", OTHER_ID, "2001", 100),
        message("other", OTHER_ID, &erin, 200, false),
        message("other", OTHER_ID, &alicia, 4000, false),
        offline("other", 7000),
        created(&alicia, "2020-01-01"),
        created(&bob, "2023-05-05"),
        created(&carol, "2023-05-05"),
        created(&dave, "2019-07-01"),
    ]
}

async fn spawn_app() -> App {
    let base = (Timestamp::now().0 - 3 * 3600) / 60 * 60;
    let config = IngestConfig {
        tracker: tracker_config(None),
        ..IngestConfig::default()
    };
    let harness = Harness::with(TestDb::sqlite().await, config, base).await;
    let store = harness.store.clone();
    // The rename is committed in a batch of its own: within one batch the writer sees only a
    // user's last name and time (a name that appears and changes within a batch leaves no
    // history; a rename is dated by the batch's last sighting).
    let mut events = scenario(base);
    let rename = events
        .iter()
        .position(|e| matches!(e, Event::Rename { .. }))
        .expect("a rename");
    let after = events.split_off(rename + 1);
    let renamed = events.split_off(rename);
    for part in [events, renamed, after] {
        harness.send(part).await;
    }
    // Get Streams samples of stream 1002 (1001 has none): the category changes at 4000 s.
    let sample = |offset: i64, viewers: i64, game: (&str, &str)| {
        (
            login("chan"),
            StreamSample {
                at: Timestamp(base + offset),
                viewers,
                game_id: game.0.to_owned(),
                game_name: game.1.to_owned(),
            },
        )
    };
    let chatting = ("509658", "Just Chatting");
    let chess = ("743", "Chess");
    store
        .record_samples(&[
            sample(3700, 50, chatting),
            sample(4000, 70, chess),
            sample(5700, 60, chess),
        ])
        .await
        .expect("samples");

    let key = |channels: &'static [&'static str], revoked: bool| {
        let store = store.clone();
        async move {
            let mut keys = Vec::new();
            for c in channels {
                keys.push(store.ensure_channel(&login(c)).await.expect("channel").key);
            }
            let key = ApiKey::generate().expect("random");
            let id = store
                .create_api_key(&key.hash().to_hex(), "test", &keys, Timestamp::now())
                .await
                .expect("create key");
            if revoked {
                store
                    .revoke_api_key(id, Timestamp::now())
                    .await
                    .expect("revoke");
            }
            key.expose().to_owned()
        }
    };
    let chan_key = key(&["chan"], false).await;
    let other_key = key(&["other"], false).await;
    let both_key = key(&["chan", "other"], false).await;
    let revoked_key = key(&["chan"], true).await;
    let state = AppState::new(store);
    harness.pipeline.ingest.register_metrics(&state.metrics);
    App {
        state,
        base,
        chan_key,
        other_key,
        both_key,
        revoked_key,
        harness,
    }
}

async fn call(app: &App, request: Request<Body>) -> Answer {
    support::call(&app.state, request).await
}

async fn get(app: &App, path: &str, key: Option<&str>) -> Answer {
    let bearer = key.map(|key| format!("Bearer {key}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|value| (header::AUTHORIZATION.as_str(), value.as_str()))
        .collect();
    support::get(&app.state, path, &headers).await
}

// ---- authentication and scope ----

#[tokio::test]
async fn every_api_route_needs_a_valid_unrevoked_key() {
    let app = spawn_app().await;
    let bad = format!("chk_{}", "x".repeat(43));
    let routes = [
        "/api/v1/channels/chan/streams",
        "/api/v1/channels/chan/streams/1001",
        "/api/v1/channels/chan/chatters",
        "/api/v1/channels/chan/chatters?format=csv",
        "/api/v1/channels/chan/series",
        "/api/v1/channels/chan/accounts",
        "/api/v1/channels/chan/regulars",
        "/api/v1/users/alicia",
    ];
    for path in routes {
        for (key, words) in [
            (None, "API key is required"),
            (Some("not-a-key"), "unknown API key"),
            (Some(bad.as_str()), "unknown API key"),
            (Some(app.revoked_key.as_str()), "revoked"),
        ] {
            let answer = get(&app, path, key).await;

            answer.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", words);
            assert_eq!(
                answer.header(header::WWW_AUTHENTICATE),
                "Bearer realm=\"chatters\""
            );
        }
    }
}

#[tokio::test]
async fn other_schemes_are_refused() {
    let app = spawn_app().await;
    let request = Request::get("/api/v1/channels/chan/streams")
        .header(header::AUTHORIZATION, format!("Basic {}", app.chan_key))
        .body(Body::empty())
        .expect("request");

    call(&app, request)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
}

#[tokio::test]
async fn a_key_for_another_channel_is_forbidden_whether_or_not_the_channel_exists() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/channels/chan/streams",
        "/api/v1/channels/chan/streams/1001",
        "/api/v1/channels/chan/streams/999999",
        "/api/v1/channels/chan/chatters?format=csv",
        "/api/v1/channels/chan/series?range=nonsense",
        "/api/v1/channels/chan/accounts?since=garbage",
        "/api/v1/channels/nosuchchannel/streams",
        "/api/v1/channels/nosuchchannel/chatters",
    ] {
        get(&app, path, Some(&app.other_key)).await.assert_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "not allowed to read channel",
        );
    }
}

#[tokio::test]
async fn the_channel_login_is_case_insensitive() {
    let app = spawn_app().await;

    let answer = get(&app, "/api/v1/channels/Chan/streams", Some(&app.chan_key)).await;

    assert_eq!(answer.status, StatusCode::OK);
}

// ---- streams ----

#[tokio::test]
async fn streams_are_listed_newest_first_with_the_spec_fields() {
    let app = spawn_app().await;

    let answer = get(&app, "/api/v1/channels/chan/streams", Some(&app.chan_key)).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header(header::CONTENT_TYPE), "application/json");
    let body = answer.json();
    let streams = body["streams"].as_array().expect("streams");
    let ids: Vec<&str> = streams
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["1002", "1001"]);
    let first = &streams[1];
    let at = |offset: i64| Timestamp(app.base + offset).to_rfc3339();
    // Stream 1: alice, bob, carol are unique (nightbot and the broadcaster never count); carol
    // is new and first-time; alice and bob were seen before (bob: only at 60 s, so new too).
    assert_eq!(
        first,
        &json!({
            "id": "1001",
            "started_at": at(0),
            "ended_at": at(600),
            "title": "stream 1001",
            "unique_chatters": 3,
            "new_chatters": 2,
            "returning_chatters": 1,
            "first_time_chatters": 1,
            "peak_chatters": 2,
            "messages": 3,
            "lurkers": 1,
            "retention": null,
            "known_bots": 1,
            "peak_viewers": null,
            "avg_viewers": null,
            "chatters_per_viewer": null,
            "categories": [],
            // alice 600, bob 540, carol 470: 536.7 rounded.
            "avg_watch_time": 537,
            "regulars_present": 0,
            // alice at 100 s and 110 s: minute 60 s is the busiest (carol alone at 130 s).
            "peak_messages_per_minute": 2,
            "peak_activity_at": at(60),
            "mood": {"hype": 0, "laughter": 0, "love": 0, "sadness": 0, "anger": 0, "tension": 0},
        })
    );
    // Stream 2's samples: 50, 70, 60 viewers; peak chatters 3 at the 5700 s snapshot.
    let second = &streams[0];
    assert_eq!(second["peak_viewers"], 70);
    assert_eq!(second["avg_viewers"], 60);
    assert_eq!(second["chatters_per_viewer"], json!(3.0 / 70.0));
    assert_eq!(
        second["categories"],
        json!([
            {"game_id": "509658", "name": "Just Chatting", "from": at(3600), "until": at(4000)},
            {"game_id": "743", "name": "Chess", "from": at(4000), "until": at(6000)},
        ])
    );
    // alicia 2400, carol 2400, dave 2240: 2346.7 rounded.
    assert_eq!(second["avg_watch_time"], 2347);
    // Stream 2: alicia, carol, dave; 2 of stream 1's 3 chatters came back.
    assert_eq!(streams[0]["unique_chatters"], 3);
    assert_eq!(streams[0]["new_chatters"], 1);
    assert_eq!(streams[0]["retention"], json!(2.0 / 3.0));
}

#[tokio::test]
async fn streams_limit_is_checked() {
    let app = spawn_app().await;

    let one = get(
        &app,
        "/api/v1/channels/chan/streams?limit=1",
        Some(&app.chan_key),
    )
    .await;
    assert_eq!(one.json()["streams"].as_array().map(Vec::len), Some(1));

    for bad in ["0", "1001", "ten", "-1"] {
        get(
            &app,
            &format!("/api/v1/channels/chan/streams?limit={bad}"),
            Some(&app.chan_key),
        )
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "bad_parameter",
            "`limit` must be an integer from 1 to 1000",
        );
    }
}

#[tokio::test]
async fn one_stream_has_top_chatters_and_raids() {
    let app = spawn_app().await;

    let first = get(
        &app,
        "/api/v1/channels/chan/streams/1001",
        Some(&app.chan_key),
    )
    .await;
    let second = get(
        &app,
        "/api/v1/channels/chan/streams/1002",
        Some(&app.chan_key),
    )
    .await;

    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    assert_eq!(first["id"], "1001");
    assert_eq!(first["unique_chatters"], 3);
    assert_eq!(
        first["top_chatters"],
        json!([
            {"user_id": 1, "login": "alicia", "messages": 2},
            {"user_id": 3, "login": "carol", "messages": 1},
        ])
    );
    assert_eq!(first["raids"], json!([]));
    assert_eq!(
        first["top_watchers"],
        json!([
            {"user_id": 1, "login": "alicia", "watch_time": 600},
            {"user_id": 2, "login": "bob", "watch_time": 540},
            {"user_id": 3, "login": "carol", "watch_time": 470},
        ])
    );
    let second = second.json();
    assert_eq!(
        second["top_chatters"],
        json!([{"user_id": 4, "login": "dave", "messages": 1}])
    );
    // dave arrived 10 s after the raid and was still listed 1950 s after it.
    assert_eq!(
        second["raids"],
        json!([{
            "from_login": "raidguy",
            "viewers": 42,
            "at": Timestamp(app.base + 3750).to_rfc3339(),
            "retention": 1.0,
        }])
    );
}

#[tokio::test]
async fn unknown_or_foreign_stream_ids_are_404_in_scope() {
    let app = spawn_app().await;
    for id in ["999999", "2001", "not%20an%20id", "x".repeat(80).as_str()] {
        get(
            &app,
            &format!("/api/v1/channels/chan/streams/{id}"),
            Some(&app.both_key),
        )
        .await
        .assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "channel chan has no stream",
        );
    }
}

#[tokio::test]
async fn regulars_are_the_chatters_of_3_of_the_last_5_streams() {
    let app = spawn_app().await;
    let h = &app.harness;
    let (alicia, carol, dave) = (user(1, "alicia"), user(3, "carol"), user(4, "dave"));
    h.send(vec![
        h.online("chan", CHAN_ID, "1003", 7000, "third"),
        h.snapshot("chan", &[&alicia, &carol], 7100),
        h.offline("chan", 7500),
        h.online("chan", CHAN_ID, "1004", 8000, "fourth"),
        h.snapshot("chan", &[&alicia, &dave], 8100),
        h.offline("chan", 8500),
    ])
    .await;

    let answer = get(&app, "/api/v1/channels/chan/regulars", Some(&app.chan_key)).await;

    assert_eq!(answer.status, StatusCode::OK);
    // alicia came to all four streams (600 + 2400 + 500 + 500 s), carol to 1001-1003
    // (470 + 2400 + 500 s); dave (2) and bob (1) are no regulars.
    assert_eq!(
        answer.json(),
        json!({
            "streams": ["1004", "1003", "1002", "1001"],
            "regulars": [
                {"user_id": 1, "login": "alicia", "attended": 4, "watch_time": 4000},
                {"user_id": 3, "login": "carol", "attended": 3, "watch_time": 3370},
            ],
        })
    );
    // As of 1004's start (1001-1003) both were regulars; alicia came.
    let fourth = get(
        &app,
        "/api/v1/channels/chan/streams/1004",
        Some(&app.chan_key),
    )
    .await
    .json();
    assert_eq!(fourth["regulars_present"], 1);
    get(&app, "/api/v1/channels/chan/regulars", Some(&app.other_key))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden", "chan");
    let other = get(
        &app,
        "/api/v1/channels/other/regulars",
        Some(&app.other_key),
    )
    .await;
    assert_eq!(other.json(), json!({"streams": ["2001"], "regulars": []}));
}

#[tokio::test]
async fn chat_activity_mood_and_stream_emotes_are_served_per_spec() {
    let app = spawn_app().await;
    let key = Some(app.both_key.as_str());
    let at = |offset: i64| Timestamp(app.base + offset).to_rfc3339();
    let activity = get(&app, "/api/v1/channels/chan/activity?range=24h", key).await;
    assert_eq!(activity.status, StatusCode::OK);
    let points = activity.json()["points"].clone();
    assert_eq!(points[0], json!({"at": at(60), "messages": 2}));
    assert_eq!(points[1], json!({"at": at(120), "messages": 1}));
    let mood = get(&app, "/api/v1/channels/chan/mood", key).await.json();
    assert_eq!(
        mood["points"][0],
        json!({"at": at(60), "messages": 2, "hype": 0, "laughter": 0, "love": 0,
            "sadness": 0, "anger": 0, "tension": 0})
    );
    let emotes = get(&app, "/api/v1/channels/chan/streams/1001/emotes", key).await;
    assert_eq!(emotes.status, StatusCode::OK);
    assert_eq!(emotes.json(), json!({"emotes": []}));
    get(&app, "/api/v1/channels/chan/streams/999999/emotes", key)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "has no stream");
    let bad = get(&app, "/api/v1/channels/chan/activity?range=1y", key).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let none = get(&app, "/api/v1/channels/chan/mood", None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

// ---- chatters export ----

/// The rows of the CSV export, parsed with the csv crate.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(bytes);
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        [
            "user_id",
            "login",
            "display_name",
            "first_seen",
            "last_seen",
            "messages",
            "streams_attended",
            "watch_time"
        ]
    );
    reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect()
}

/// The JSON export as the same string rows.
fn json_rows(body: &Value) -> Vec<Vec<String>> {
    let columns = [
        "user_id",
        "login",
        "display_name",
        "first_seen",
        "last_seen",
        "messages",
        "streams_attended",
        "watch_time",
    ];
    body["chatters"]
        .as_array()
        .expect("chatters")
        .iter()
        .map(|row| {
            assert_eq!(row.as_object().map(|o| o.len()), Some(8), "{row}");
            columns
                .iter()
                .map(|c| match &row[*c] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn chatters_export_lists_counted_users_and_csv_equals_json() {
    let app = spawn_app().await;

    let json = get(&app, "/api/v1/channels/chan/chatters", Some(&app.chan_key)).await;
    let csv = get(
        &app,
        "/api/v1/channels/chan/chatters?format=csv",
        Some(&app.chan_key),
    )
    .await;

    assert_eq!(json.status, StatusCode::OK);
    assert_eq!(json.header(header::CONTENT_TYPE), "application/json");
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.header(header::CONTENT_TYPE),
        "text/csv; charset=utf-8; header=present"
    );
    assert_eq!(
        csv.header(header::CONTENT_DISPOSITION),
        "attachment; filename=\"chan-chatters.csv\""
    );
    let at = |offset: i64| Timestamp(app.base + offset).to_rfc3339();
    let row = |id: i64, l: &str, d: &str, (first, last): (i64, i64), counts: [i64; 3]| {
        let [messages, streams, watched] = counts;
        vec![
            id.to_string(),
            l.to_owned(),
            d.to_owned(),
            at(first),
            at(last),
            messages.to_string(),
            streams.to_string(),
            watched.to_string(),
        ]
    };
    // The broadcaster and nightbot are not counted, so not exported. Watch time: stream 1001
    // runs [0, 600), stream 1002 [3600, 6000); alicia is present throughout (600 + 2400), bob
    // from 60 until the end of 1001 (540), carol from 130 on (470 + 2400), dave from 3760
    // (2240).
    let expected = vec![
        row(1, "alicia", "alicia", (-600, 5700), [2, 2, 3000]),
        row(2, "bob", "bob", (60, 60), [0, 1, 540]),
        row(
            3,
            "carol",
            "Carol, \"the\" Great",
            (130, 5700),
            [1, 2, 2870],
        ),
        row(4, "dave", "dave", (3760, 5700), [1, 1, 2240]),
    ];
    assert_eq!(json_rows(&json.json()), expected);
    assert_eq!(csv_rows(&csv.body), expected);
    assert!(
        String::from_utf8_lossy(&csv.body).contains("\r\n3,carol,\"Carol, \"\"the\"\" Great\","),
        "RFC 4180 quoting"
    );
}

#[tokio::test]
async fn chatters_since_and_until_take_rfc3339_or_durations() {
    let app = spawn_app().await;
    let at = |offset: i64| Timestamp(app.base + offset).to_rfc3339();
    let logins = |answer: Answer| -> Vec<String> {
        json_rows(&answer.json())
            .into_iter()
            .map(|r| r[1].clone())
            .collect()
    };

    // Seen in [3000 s, 4000 s]: alicia (present), carol, dave; bob was last seen at 60 s.
    let window = get(
        &app,
        &format!(
            "/api/v1/channels/chan/chatters?since={}&until={}",
            at(3000),
            at(4000)
        ),
        Some(&app.chan_key),
    )
    .await;
    // First seen by 100 s: alicia and bob.
    let early = get(
        &app,
        &format!("/api/v1/channels/chan/chatters?until={}", at(100)),
        Some(&app.chan_key),
    )
    .await;
    // Nobody in the last minute (the scenario ended about an hour ago).
    let recent = get(
        &app,
        "/api/v1/channels/chan/chatters?since=1m&format=csv",
        Some(&app.chan_key),
    )
    .await;
    let offset = get(
        &app,
        &format!(
            "/api/v1/channels/chan/chatters?until={}",
            "2000-01-01T01:00:00%2B01:00"
        ),
        Some(&app.chan_key),
    )
    .await;

    assert_eq!(logins(window), ["alicia", "carol", "dave"]);
    assert_eq!(logins(early), ["alicia", "bob"]);
    assert_eq!(
        String::from_utf8(recent.body).expect("utf-8"),
        "user_id,login,display_name,first_seen,last_seen,messages,streams_attended,watch_time\r\n"
    );
    assert_eq!(offset.body, b"{\"chatters\":[]}\n");
}

#[tokio::test]
async fn chatters_bad_parameters_are_400_naming_them() {
    let app = spawn_app().await;
    let cases = [
        ("since=yesterday", "`since` must be an RFC 3339 time"),
        (
            "until=2026-13-45T00:00:00Z",
            "`until` must be an RFC 3339 time",
        ),
        ("since=7", "duration back from now like 7d"),
        ("format=xml", "`format` must be one of json, csv"),
        ("format=CSV", "`format` must be one of json, csv"),
        ("since=1d&until=2d", "`since` must be before `until`"),
        ("since=%FF%FE", "`since` must be"),
    ];
    for (query, words) in cases {
        get(
            &app,
            &format!("/api/v1/channels/chan/chatters?{query}"),
            Some(&app.chan_key),
        )
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_parameter", words);
    }
}

#[tokio::test]
async fn json_and_csv_are_gzipped_when_asked_but_metrics_are_not() {
    let app = spawn_app().await;
    let gzip_get = |path: &str, key: Option<&str>| {
        let mut request = Request::get(path).header(header::ACCEPT_ENCODING, "gzip");
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        request.body(Body::empty()).expect("request")
    };

    for path in [
        "/api/v1/channels/chan/chatters?format=csv",
        "/api/v1/channels/chan/chatters",
        "/api/v1/channels/chan/streams",
    ] {
        let plain = get(&app, path, Some(&app.chan_key)).await;
        let zipped = call(&app, gzip_get(path, Some(&app.chan_key))).await;

        assert_eq!(zipped.status, StatusCode::OK);
        assert_eq!(zipped.header(header::CONTENT_ENCODING), "gzip", "{path}");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(zipped.body.as_slice())
            .read_to_end(&mut unzipped)
            .expect("gunzip");
        assert_eq!(unzipped, plain.body, "{path}");
    }
    let metrics = call(&app, gzip_get("/metrics", None)).await;
    assert_eq!(metrics.headers.get(header::CONTENT_ENCODING), None);
}

// ---- series and accounts ----

#[tokio::test]
async fn series_lists_one_point_per_snapshot_in_the_range() {
    let app = spawn_app().await;
    let at = |offset: i64| Timestamp(app.base + offset).to_rfc3339();

    let day = get(&app, "/api/v1/channels/chan/series", Some(&app.chan_key)).await;
    let week = get(
        &app,
        "/api/v1/channels/chan/series?range=7d",
        Some(&app.chan_key),
    )
    .await;

    assert_eq!(day.status, StatusCode::OK);
    let points = day.json()["points"].clone();
    // Counted users per snapshot (nightbot and the broadcaster excluded).
    // Viewers: the latest sample at or before the point within a stream.
    for (offset, chatters, viewers) in [
        (-600, 1, Value::Null),
        (60, 2, Value::Null),
        (3700, 2, json!(50)),
        (5700, 3, json!(60)),
    ] {
        assert!(
            points
                .as_array()
                .expect("points")
                .contains(&json!({"at": at(offset), "chatters": chatters, "viewers": viewers})),
            "{offset} s: {points}"
        );
    }
    assert!(
        points
            .as_array()
            .expect("points")
            .iter()
            .all(|p| p.as_object().map(|o| o.len()) == Some(3))
    );
    assert_eq!(week.json()["points"], points);
}

#[tokio::test]
async fn series_range_is_checked() {
    let app = spawn_app().await;
    for range in ["1y", "24", "", "7D"] {
        get(
            &app,
            &format!("/api/v1/channels/chan/series?range={range}"),
            Some(&app.chan_key),
        )
        .await
        .assert_error(
            StatusCode::BAD_REQUEST,
            "bad_parameter",
            "`range` must be one of 24h, 7d, 30d",
        );
    }
}

#[tokio::test]
async fn accounts_cluster_the_windows_chatters_by_creation_day() {
    let app = spawn_app().await;

    let answer = get(&app, "/api/v1/channels/chan/accounts", Some(&app.chan_key)).await;

    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    let since = Timestamp::parse_rfc3339(body["since"].as_str().expect("since")).expect("time");
    let until = Timestamp::parse_rfc3339(body["until"].as_str().expect("until")).expect("time");
    assert!((until.0 - since.0 - 7 * 86_400).abs() <= 1, "{body}");
    assert!((Timestamp::now().0 - until.0).abs() < 60, "{body}");
    assert_eq!(body["total"], 4);
    assert_eq!(body["threshold"], 10);
    assert_eq!(
        body["days"],
        json!([
            {"date": "2023-05-05", "count": 2, "flagged": false, "logins": []},
            {"date": "2019-07-01", "count": 1, "flagged": false, "logins": []},
            {"date": "2020-01-01", "count": 1, "flagged": false, "logins": []},
        ])
    );
}

#[tokio::test]
async fn accounts_window_is_checked_and_narrows() {
    let app = spawn_app().await;
    let at = |offset: i64| Timestamp(app.base + offset).to_rfc3339();

    let first_stream = get(
        &app,
        &format!(
            "/api/v1/channels/chan/accounts?since={}&until={}",
            at(0),
            at(600)
        ),
        Some(&app.chan_key),
    )
    .await;

    let body = first_stream.json();
    assert_eq!(body["since"], at(0));
    assert_eq!(body["until"], at(600));
    assert_eq!(body["total"], 3);
    get(
        &app,
        "/api/v1/channels/chan/accounts?until=tomorrow",
        Some(&app.chan_key),
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "bad_parameter", "`until` must be");
}

// ---- users ----

#[tokio::test]
async fn a_users_dossier_covers_the_keys_channels_and_name_history() {
    let app = spawn_app().await;
    let at = |offset: i64| Timestamp(app.base + offset).to_rfc3339();

    let chan_only = get(&app, "/api/v1/users/alicia", Some(&app.chan_key)).await;
    let both = get(&app, "/api/v1/users/ALICIA", Some(&app.both_key)).await;

    assert_eq!(chan_only.status, StatusCode::OK);
    let chan_record = json!({
        "channel": "chan",
        "first_seen": at(-600),
        "last_seen": at(5700),
        "messages": 2,
        "streams_attended": 2,
    });
    assert_eq!(
        chan_only.json(),
        json!({
            "user_id": 1,
            "login": "alicia",
            "display_name": "alicia",
            "created_at": "2020-01-01T12:00:00Z",
            "names": [
                {"login": "alice", "first_seen": at(-600), "last_seen": at(3900)},
                {"login": "alicia", "first_seen": at(3900), "last_seen": null},
            ],
            "channels": [chan_record.clone()],
        })
    );
    let both = both.json();
    assert_eq!(both["channels"][0], chan_record);
    assert_eq!(both["channels"][1]["channel"], "other");
    assert_eq!(both["channels"][1]["messages"], 1);
}

#[tokio::test]
async fn users_outside_the_keys_channels_are_404() {
    let app = spawn_app().await;

    // erin chatted only in `other`.
    get(&app, "/api/v1/users/erin", Some(&app.chan_key))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "no user erin");
    get(&app, "/api/v1/users/nobody_at_all", Some(&app.chan_key))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", "no user nobody_at_all");
    get(&app, "/api/v1/users/not-a-login", Some(&app.chan_key))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_parameter", "`login` must be");
    let erin = get(&app, "/api/v1/users/erin", Some(&app.other_key)).await;
    assert_eq!(erin.status, StatusCode::OK);
}

// ---- bad input never answers 500 ----

#[tokio::test]
async fn odd_requests_never_answer_500() {
    let app = spawn_app().await;
    let paths = [
        "/api/v1/channels/%FF/streams",
        "/api/v1/channels/a%00b/streams",
        "/api/v1/channels/chan/streams/%FF",
        "/api/v1/channels/chan/streams/..",
        "/api/v1/channels/chan/chatters?since=&until=",
        "/api/v1/channels/chan/chatters?since=99999999999d",
        "/api/v1/channels/chan/chatters?since=-1d",
        "/api/v1/channels/chan/chatters?format",
        "/api/v1/channels/chan/series?range=%FF",
        "/api/v1/channels/chan/accounts?since=1970-01-01T00:00:00Z&until=9999-12-31T23:59:59Z",
        "/api/v1/users/%E2%82%AC",
        "/api/v1/channels//streams",
    ];
    for path in paths {
        let answer = get(&app, path, Some(&app.chan_key)).await;

        assert!(
            answer.status.is_success() || answer.status.is_client_error(),
            "{path}: {}",
            answer.status
        );
        if !answer.status.is_success() {
            assert!(answer.json()["error"].is_string(), "{path}: JSON error");
        }
    }
}

#[tokio::test]
async fn large_request_bodies_are_refused_with_413() {
    let app = spawn_app().await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/channels/chan/streams")
        .header(header::CONTENT_LENGTH, 1_000_000)
        .body(Body::from(vec![b'x'; 1_000_000]))
        .expect("request");

    let answer = call(&app, request).await;

    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

// ---- metrics ----

/// Checks the text format: every sample belongs to a family declared once with HELP and TYPE
/// just before its samples. Returns the samples as (name with labels, value).
fn parse_prometheus(text: &str) -> Vec<(String, String)> {
    let mut declared = std::collections::HashSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().expect("name").to_owned();
            let type_line = lines.next().expect("TYPE after HELP");
            let kind = type_line
                .strip_prefix(&format!("# TYPE {name} "))
                .unwrap_or_else(|| panic!("TYPE of {name}: {type_line}"));
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{kind}");
            assert!(declared.insert(name.clone()), "{name} declared twice");
            current = Some(name);
            continue;
        }
        let family = current.as_deref().expect("a sample after a family");
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let name = series.split('{').next().expect("name");
        assert!(
            name == family
                || name
                    .strip_prefix(family)
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s)),
            "{name} outside {family}"
        );
        assert!(
            value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
            "{line}"
        );
        samples.push((series.to_owned(), value.to_owned()));
    }
    samples
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_ingestion_counters() {
    let app = spawn_app().await;

    let answer = get(&app, "/metrics", None).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let samples = parse_prometheus(&String::from_utf8(answer.body).expect("utf-8"));
    let value = |series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{series} missing"))
    };
    assert_eq!(
        value("chatters_events_ingested_total{kind=\"snapshot\"}"),
        "4"
    );
    assert_eq!(
        value("chatters_events_ingested_total{kind=\"message\"}"),
        "7"
    );
    assert_eq!(value("chatters_events_ingested_total{kind=\"raid\"}"), "1");
    assert_eq!(
        value("chatters_events_ingested_total{kind=\"channel_released\"}"),
        "0"
    );
    assert_eq!(value("chatters_events_committed_total"), "24");
    assert_eq!(value("chatters_ingest_queue_depth"), "0");
    assert_eq!(value("chatters_ingest_commit_errors_total"), "0");
    assert_eq!(value("chatters_chart_renders_total"), "0");
    assert_eq!(value("chatters_chart_cache_hits_total"), "0");
    assert_eq!(value("chatters_chart_render_seconds_count"), "0");
    // Every commit is one observation of the latency histogram, in its +Inf bucket.
    let batches = value("chatters_ingest_batches_total");
    assert!(batches.parse::<u64>().expect("int") >= 1, "{batches}");
    assert_eq!(value("chatters_ingest_commit_seconds_count"), batches);
    assert_eq!(
        value("chatters_ingest_commit_seconds_bucket{le=\"+Inf\"}"),
        batches
    );
    assert!(
        samples
            .iter()
            .any(|(s, v)| s.starts_with("chatters_build_info{version=") && v == "1")
    );
}

// ---- over a real socket ----

/// [`support::raw_get`] with a bearer key.
async fn raw_get_keyed(addr: std::net::SocketAddr, path: &str, key: &str) -> (String, Vec<u8>) {
    raw_get(addr, path, &[format!("Authorization: Bearer {key}")]).await
}

#[tokio::test]
async fn the_api_answers_over_a_real_socket_with_the_same_bytes() {
    let app = spawn_app().await;
    let (addr, shutdown, server) = spawn_server(app.state.clone()).await;

    for path in [
        "/api/v1/channels/chan/chatters?format=csv",
        "/api/v1/channels/chan/chatters",
        "/api/v1/channels/chan/streams",
        "/api/v1/channels/chan/streams/1002",
    ] {
        let (head, body) = raw_get_keyed(addr, path, &app.chan_key).await;
        let expected = get(&app, path, Some(&app.chan_key)).await;

        assert!(head.starts_with("HTTP/1.0 200"), "{path}: {head}");
        assert_eq!(body, expected.body, "{path}");
    }
    let (head, body) = raw_get_keyed(addr, "/api/v1/channels/chan/streams", &app.other_key).await;
    assert!(head.starts_with("HTTP/1.0 403"), "{head}");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("JSON")["error"],
        "forbidden"
    );
    let (head, _) = raw_get_keyed(addr, "/api/v1/channels/chan/streams", "chk_nope").await;
    assert!(head.starts_with("HTTP/1.0 401"), "{head}");

    shutdown.cancel();
    server.await.expect("join").expect("serve");
}

#[tokio::test]
async fn a_large_export_streams_over_a_socket() {
    let app = spawn_app().await;
    let crowd: Vec<UserRef> = (0..30_000)
        .map(|i| user(100_000 + i, &format!("viewer{i}")))
        .collect();
    let now = Timestamp::now().0;
    app.ingest()
        .send_all(vec![
            Event::StreamOnline {
                channel: login("big"),
                broadcaster: Some(UserId(700)),
                stream: StreamId::parse("5001").expect("id"),
                started_at: Timestamp(now - 600),
                title: "big".into(),
            },
            Event::Snapshot {
                channel: login("big"),
                at: Timestamp(now - 300),
                users: crowd,
                total: 30_000,
            },
        ])
        .await
        .expect("send");
    app.ingest().flush().await.expect("flush");
    let store = app.state.store.clone();
    let big = store
        .channel(&login("big"))
        .await
        .expect("read")
        .expect("channel");
    let key = ApiKey::generate().expect("random");
    store
        .create_api_key(&key.hash().to_hex(), "", &[big.key], Timestamp(now))
        .await
        .expect("key");
    let (addr, shutdown, server) = spawn_server(app.state.clone()).await;

    let (head, body) = raw_get_keyed(
        addr,
        "/api/v1/channels/big/chatters?format=csv",
        key.expose(),
    )
    .await;

    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "streamed: {head}"
    );
    let rows = csv_rows(&body);
    assert_eq!(rows.len(), 30_000);
    assert_eq!(rows[0][1], "viewer0");
    assert_eq!(rows[29_999][0], "129999");
    shutdown.cancel();
    server.await.expect("join").expect("serve");
}
