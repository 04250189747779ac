//! Test harness for the chart routes, the share page and the browser test: a fresh SQLite
//! store per test fed through the real ingestion pipeline, a scripted channel with two
//! streams, a raid and account ages, and helpers to call the router or a real server.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::{Event, Message, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig, IngestHandle};
use chatters_core::store::{self, ConnectOptions, Store, StoreError};
use chatters_core::tracker::TrackerConfig;
use chatters_web::cache::ChartCache;
use chatters_web::{AppState, WebConfig, router};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const CHAN: &str = "chan";
pub const ROOM: i64 = 500;
pub const BOT: i64 = 900;
pub const FIRST_STREAM: &str = "1001";
pub const SECOND_STREAM: &str = "1002";

/// A store with ingestion running, and the time the script starts at (three hours ago).
pub struct Harness {
    pub store: Arc<Store>,
    pub base: i64,
    ingest: IngestHandle,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), StoreError>>,
    _dir: TempDir,
}

pub fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

pub fn user(id: i64, name: &str) -> UserRef {
    UserRef::new(UserId(id), login(name))
}

impl Harness {
    /// A migrated SQLite store in a temporary directory, with ingestion started.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/chatters.db?mode=rwc", dir.path().display());
        let store = store::open(&url, &ConnectOptions::default())
            .await
            .expect("open sqlite");
        store.migrate().await.expect("migrate");
        let config = IngestConfig {
            tracker: TrackerConfig {
                bot_user: Some(UserId(BOT)),
                bot_login: Some(login("chattersbot")),
                bots: KnownBots::shipped(),
                ..TrackerConfig::default()
            },
            ..IngestConfig::default()
        };
        let cancel = CancellationToken::new();
        let (ingest, task) = Ingest::start(store.clone(), config, cancel.clone())
            .await
            .expect("start ingestion");
        Self {
            store,
            base: Timestamp::now().0 - 3 * 3600,
            ingest,
            cancel,
            task,
            _dir: dir,
        }
    }

    /// Ingests `events` and waits until they are committed.
    pub async fn send(&self, events: Vec<Event>) {
        self.ingest.send_all(events).await.expect("ingest");
        self.ingest.flush().await.expect("flush");
    }

    /// `base + offset`.
    pub fn t(&self, offset: i64) -> Timestamp {
        Timestamp(self.base + offset)
    }

    /// State over the store whose chart cache re-reads the data version on every request.
    pub fn state(&self) -> AppState {
        self.state_with(WebConfig {
            bot_user: Some(UserId(BOT)),
            ..WebConfig::default()
        })
    }

    /// State with the given settings (the probe TTL is zero as in [`Self::state`]).
    pub fn state_with(&self, config: WebConfig) -> AppState {
        let mut state = AppState::with_config(self.store.clone(), config);
        state.charts = Arc::new(ChartCache::new(64 << 20, Duration::ZERO));
        state
    }

    pub fn snapshot(&self, channel: &str, users: &[&UserRef], at: i64) -> Event {
        Event::Snapshot {
            channel: login(channel),
            at: self.t(at),
            users: users.iter().map(|u| (*u).clone()).collect(),
            total: users.len() as u64,
        }
    }

    pub fn message(&self, channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
        Event::Message(Box::new(Message {
            channel: login(channel),
            user: u.clone(),
            at: self.t(at),
            room_id: Some(UserId(room)),
            source_room_id: None,
            first_msg: false,
            returning_chatter: false,
            badges: Vec::new(),
            has_text: true,
            id: None,
        }))
    }

    pub fn online(&self, channel: &str, room: i64, id: &str, at: i64, title: &str) -> Event {
        Event::StreamOnline {
            channel: login(channel),
            broadcaster: Some(UserId(room)),
            stream: StreamId::parse(id).expect("valid stream id"),
            started_at: self.t(at),
            title: title.to_owned(),
        }
    }

    pub fn offline(&self, channel: &str, at: i64) -> Event {
        Event::StreamOffline {
            channel: login(channel),
            at: self.t(at),
        }
    }

    /// The scripted channel: an offline snapshot, stream 1001 (two hours, snapshots every five
    /// minutes, messages, a raid, new arrivals), then stream 1002, live, titled with markup.
    /// Twelve chatters have account ages, ten of them created the same day (a flagged day).
    pub async fn script(&self, channel: &str, room: i64) {
        let regulars: Vec<UserRef> = (1..=4).map(|i| user(i, &format!("regular{i}"))).collect();
        let newcomers: Vec<UserRef> = (10..=29)
            .map(|i| user(i, &format!("newcomer{i}")))
            .collect();
        let raider = user(77, "raider");
        let mut events = vec![self.snapshot(channel, &regulars.iter().collect::<Vec<_>>(), -900)];
        events.push(self.online(channel, room, FIRST_STREAM, 0, "first stream"));
        for step in 0..24i64 {
            let at = step * 300 + 60;
            let arrived = usize::try_from(step).unwrap_or(0).min(newcomers.len());
            let present: Vec<&UserRef> = regulars.iter().chain(&newcomers[..arrived]).collect();
            events.push(self.snapshot(channel, &present, at));
            if let Some(u) = present.get(usize::try_from(step).unwrap_or(0) % present.len()) {
                events.push(self.message(channel, room, u, at + 30));
            }
        }
        events.push(Event::Raid {
            channel: login(channel),
            from: raider,
            viewers: 42,
            at: self.t(1800),
        });
        events.push(self.offline(channel, 2 * 3600));
        events.push(self.online(
            channel,
            room,
            SECOND_STREAM,
            2 * 3600 + 1800,
            "<b>second</b> & \"live\"",
        ));
        let second: Vec<&UserRef> = regulars.iter().chain(&newcomers[..6]).collect();
        events.push(self.snapshot(channel, &second, 2 * 3600 + 1860));
        events.push(self.message(channel, room, &regulars[0], 2 * 3600 + 1900));
        let farm_day = self.t(-200 * 86_400);
        for (i, u) in newcomers.iter().take(10).enumerate() {
            events.push(Event::Account {
                user: u.clone(),
                created_at: farm_day.plus(i as i64 * 60),
            });
        }
        for (i, u) in regulars.iter().take(2).enumerate() {
            events.push(Event::Account {
                user: u.clone(),
                created_at: self.t(-2000 * 86_400 - i as i64 * 86_400 * 40),
            });
        }
        self.send(events).await;
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("join").expect("final flush");
    }
}

/// A response's parts.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name} missing"))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// `GET path` through the router, with extra headers.
pub async fn get(state: &AppState, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .expect("body")
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// Width, height and colour type of a PNG.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("a whole PNG frame");
    (info.width, info.height)
}

/// A real server on 127.0.0.1:0; cancel the token to stop it.
pub async fn spawn_server(
    state: AppState,
) -> (
    SocketAddr,
    CancellationToken,
    JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(chatters_web::serve(listener, state, shutdown.clone()));
    (addr, shutdown, task)
}

/// The value of `attr` in the first tag containing `marker` (entities `&#x2f;`, `&amp;` decoded).
pub fn attribute(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let value_start = tag.find(&key)? + key.len();
    let value_end = value_start + tag[value_start..].find('"')?;
    Some(unescape(&tag[value_start..value_end]))
}

/// Undoes minijinja's HTML escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
