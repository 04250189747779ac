//! A real browser loads the share page: headless Chromium (Debian's `chromium`, installed by
//! `.ci/run`) opens `/c/{login}` from the real server, driven over the DevTools protocol, and
//! the test checks that every image loaded (`naturalWidth > 0`, at the chart size), that the
//! stylesheet applied under the page's Content-Security-Policy, and that
//! the figures on the page equal the JSON API's.
//!
//! Without `/usr/bin/chromium` the test is skipped with a note, unless `CI` is set, where that
//! is a failure.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chatters_core::apikey::ApiKey;
use chatters_core::domain::{Timestamp, UserId};
use chatters_core::testing::login;
use chatters_web::WebConfig;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::*;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const CHROMIUM: &str = "/usr/bin/chromium";

/// What the page reports once loaded: every image's size, and the streams table.
const INSPECT: &str = r#"(async () => {
  await Promise.all([...document.images].map(i => i.complete ? null
    : new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); })));
  const rows = {};
  for (const tr of document.querySelectorAll('#streams tr[data-stream]')) {
    const cells = {};
    for (const td of tr.querySelectorAll('td[data-field]')) {
      cells[td.dataset.field] = td.dataset.value !== undefined ? td.dataset.value : td.textContent;
    }
    rows[tr.dataset.stream] = cells;
  }
  return {
    images: [...document.images].map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth, height: i.naturalHeight})),
    rows,
    og_image: document.querySelector('meta[property="og:image"]').content,
    main_max_width: getComputedStyle(document.querySelector('main')).maxWidth,
  };
})()"#;

/// Headless Chromium with a DevTools connection; killed when dropped.
struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events read while waiting for a command's answer.
    events: Vec<Value>,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium, or `None` when it is not installed (outside CI).
    async fn launch() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{CHROMIUM} is missing: .ci/run installs Debian's chromium package"
            );
            eprintln!("{CHROMIUM} not installed: skipping the browser test (CI installs it)");
            return None;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes its port and browser endpoint here once listening.
        let active = profile.path().join("DevToolsActivePort");
        let endpoint = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let Ok(text) = std::fs::read_to_string(&active) {
                    let mut lines = text.lines();
                    if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                        return format!("ws://127.0.0.1:{port}{path}");
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("chromium opens its DevTools port within 60 s");
        let (ws, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .expect("connect to DevTools");
        Some(Self {
            child,
            ws,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        })
    }

    /// Sends a DevTools command (to a page session when given) and returns its result.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::Text(command.to_string().into()))
            .await
            .expect("send");
        loop {
            let message = self.read().await;
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    /// Waits for an event of a session.
    async fn event(&mut self, session: &str, method: &str) -> Value {
        let matches = |m: &Value| m["method"] == json!(method) && m["sessionId"] == json!(session);
        if let Some(at) = self.events.iter().position(matches) {
            return self.events.remove(at);
        }
        loop {
            let message = self.read().await;
            if matches(&message) {
                return message;
            }
            self.events.push(message);
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            match self
                .ws
                .next()
                .await
                .expect("DevTools open")
                .expect("DevTools frame")
            {
                Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
                Message::Close(_) => panic!("DevTools closed"),
                _ => {}
            }
        }
    }

    /// Opens `url` in a new tab, waits for its load event and evaluates `expression` there.
    async fn load_and_evaluate(&mut self, url: &str, expression: &str) -> Value {
        let target = self
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        let session = attached["sessionId"]
            .as_str()
            .expect("session id")
            .to_owned();
        self.call(Some(&session), "Page.enable", json!({})).await;
        let navigated = self
            .call(Some(&session), "Page.navigate", json!({"url": url}))
            .await;
        assert!(navigated.get("errorText").is_none(), "{navigated}");
        self.event(&session, "Page.loadEventFired").await;
        let evaluated = self
            .call(
                Some(&session),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(evaluated.get("exceptionDetails").is_none(), "{evaluated}");
        evaluated["result"]["value"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_share_page_loads_every_image_and_shows_the_api_figures() {
    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    let h = Harness::new().await;
    h.script(CHAN, ROOM).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = h.state_with(WebConfig {
        public_base_url: base.clone(),
        bot_user: Some(UserId(BOT)),
        ..WebConfig::default()
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(chatters_web::serve(listener, state, shutdown.clone()));
    let channel = h
        .store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let key = ApiKey::generate().expect("key");
    h.store
        .create_api_key(
            &key.hash().to_hex(),
            "browser test",
            &[channel.key],
            Timestamp::now(),
        )
        .await
        .expect("store key");

    let page = tokio::time::timeout(
        Duration::from_secs(60),
        browser.load_and_evaluate(&format!("{base}/c/{CHAN}"), INSPECT),
    )
    .await
    .expect("the page loads within 60 s");
    let api: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/channels/{CHAN}/streams"))
        .bearer_auth(key.expose())
        .send()
        .await
        .expect("GET streams")
        .json()
        .await
        .expect("JSON");

    // Every image loaded, at the chart size, from this server.
    let images = page["images"].as_array().expect("images");
    assert_eq!(images.len(), 2, "{page}");
    for image in images {
        let src = image["src"].as_str().expect("src");
        assert!(src.starts_with(&base), "{src}");
        assert!(image["width"].as_u64() > Some(0), "{image}");
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(1200), Some(600)),
            "{src}"
        );
    }
    assert_eq!(
        page["og_image"],
        json!(format!("{base}/c/{CHAN}/chatters.png"))
    );
    // The stylesheet loaded and applied under the page's Content-Security-Policy.
    assert_eq!(page["main_max_width"], "1240px", "{page}");
    // The figures of every stream on the page equal the API's.
    let rows: HashMap<String, Value> = serde_json::from_value(page["rows"].clone()).expect("rows");
    let streams = api["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 2, "{api}");
    assert_eq!(rows.len(), streams.len());
    for stream in streams {
        let id = stream["id"].as_str().expect("id");
        let row = &rows[id];
        for field in [
            "unique_chatters",
            "new_chatters",
            "returning_chatters",
            "peak_chatters",
            "messages",
            "lurkers",
        ] {
            let shown: i64 = row[field]
                .as_str()
                .expect("cell")
                .parse()
                .expect("a number");
            assert_eq!(Some(shown), stream[field].as_i64(), "{id} {field}");
        }
        let retention = row["retention"].as_str().expect("retention");
        match stream["retention"].as_f64() {
            Some(r) => assert!(
                (retention.parse::<f64>().expect("a number") - r).abs() < 1e-9,
                "{id}"
            ),
            None => assert_eq!(retention, "", "{id}"),
        }
    }
    assert!(
        streams
            .iter()
            .any(|s| s["unique_chatters"].as_i64() > Some(0))
    );

    drop(browser);
    shutdown.cancel();
    server.await.expect("join").expect("served");
    h.stop().await;
}
