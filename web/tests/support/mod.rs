//! Test support of the web endpoint, shared by every test file: a fresh store per test (from
//! [`chatters_core::testing`]) fed through the real ingestion pipeline, the scripted channel
//! with two streams, a raid and account ages, calls through the router, a real server on
//! 127.0.0.1:0 and raw HTTP/1.0 over its socket, and small readers of PNGs and HTML.
#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chatters_core::domain::{Timestamp, UserId};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::IngestConfig;
use chatters_core::store::Store;
use chatters_core::testing::{Pipeline, TestDb, Timeline, login, scripted_channel};
use chatters_core::tracker::TrackerConfig;
use chatters_web::cache::ChartCache;
use chatters_web::{AppState, WebConfig, router};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

pub const CHAN: &str = "chan";
pub const ROOM: i64 = 500;
pub const BOT: i64 = 900;

/// A store with ingestion running, and the time its timeline starts at (three hours ago).
pub struct Harness {
    pub store: Arc<Store>,
    pub base: i64,
    pub pipeline: Pipeline,
    timeline: Timeline,
    db: TestDb,
}

impl Harness {
    /// A migrated SQLite store with ingestion started; the bot account is [`BOT`].
    pub async fn new() -> Self {
        let config = IngestConfig {
            tracker: TrackerConfig {
                bot_user: Some(UserId(BOT)),
                bot_login: Some(login("chattersbot")),
                ..TrackerConfig::default()
            },
            ..IngestConfig::default()
        };
        let base = Timestamp::now().0 - 3 * 3600;
        Self::with(TestDb::sqlite().await, config, base).await
    }

    /// Ingestion with `config` over `db`, on a timeline starting at `base` (Unix seconds).
    pub async fn with(db: TestDb, config: IngestConfig, base: i64) -> Self {
        let pipeline = Pipeline::start(db.store.clone(), config).await;
        Self {
            store: db.store.clone(),
            base,
            pipeline,
            timeline: Timeline::at(base),
            db,
        }
    }

    /// Ingests `events` and waits until they are committed.
    pub async fn send(&self, events: Vec<Event>) {
        self.pipeline.send(events).await;
    }

    /// The timeline events are built on.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// `base + offset`.
    pub fn t(&self, offset: i64) -> Timestamp {
        self.timeline.t(offset)
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
        self.timeline.snapshot(channel, users, at)
    }

    pub fn message(&self, channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
        self.timeline.msg(channel, room, u, at)
    }

    pub fn online(&self, channel: &str, room: i64, id: &str, at: i64, title: &str) -> Event {
        self.timeline.online_titled(channel, room, id, at, title)
    }

    pub fn offline(&self, channel: &str, at: i64) -> Event {
        self.timeline.offline(channel, at)
    }

    /// Ingests [`scripted_channel`] for `channel`.
    pub async fn script(&self, channel: &str, room: i64) {
        self.send(scripted_channel(&self.timeline, channel, room))
            .await;
    }

    /// Stops ingestion (waiting for its final commit) and removes the database.
    pub async fn stop(self) {
        self.pipeline.stop().await;
        self.db.cleanup().await;
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

    /// The value of header `name` (panics when it is missing).
    pub fn header(&self, name: impl AsRef<str>) -> &str {
        let name = name.as_ref();
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("header {name} missing"))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    /// Asserts an error answer: status, code, and that the message contains `words`.
    pub fn assert_error(&self, status: StatusCode, code: &str, words: &str) {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(body["error"], code, "{body}");
        let message = body["message"].as_str().expect("message");
        assert!(message.contains(words), "{message:?} lacks {words:?}");
        assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    }
}

/// `request` through the router of `state`, read whole.
pub async fn call(state: &AppState, request: Request<Body>) -> Answer {
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 30)
        .await
        .expect("body")
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// `GET path` through the router, with extra headers.
pub async fn get(state: &AppState, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    call(state, request.body(Body::empty()).expect("request")).await
}

/// Width and height of a PNG.
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

/// Sends one HTTP/1.0 `GET` with extra header lines (`Name: value`) and splits the answer
/// (it ends when the server closes) into its head and body.
pub async fn raw_get(addr: SocketAddr, path: &str, headers: &[String]) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: test\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(answer[..split].to_vec()).expect("utf-8 head");
    (head, answer[split + 4..].to_vec())
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
