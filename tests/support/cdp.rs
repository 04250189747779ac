//! Headless Chromium driven over the DevTools protocol (the same driver as
//! `web/tests/browser.rs`): one tab, navigation and clicks that wait for the next load,
//! JavaScript evaluation, screenshots and downloads into a directory.
//!
//! Without `/usr/bin/chromium` [`Browser::launch`] returns `None` (the test is skipped with a
//! note), except when `CI` is set: there that is a failure (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest wait for one page.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Headless Chromium with one tab; killed when dropped.
pub struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
    session: String,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts Chromium with one blank tab, or `None` when it is not installed (outside CI).
    pub async fn launch() -> Option<Self> {
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
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
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
        let mut browser = Self {
            child,
            ws,
            next_id: 0,
            events: Vec::new(),
            session: String::new(),
            _profile: profile,
        };
        let target = browser
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = browser
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"].as_str().expect("session").to_owned();
        browser.page("Page.enable", json!({})).await;
        Some(browser)
    }

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

    /// A command to the tab.
    pub async fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params).await
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

    async fn loaded(&mut self) {
        let session = self.session.clone();
        let matches = |m: &Value| {
            m["method"] == json!("Page.loadEventFired") && m["sessionId"] == json!(session)
        };
        let wait = async {
            if let Some(at) = self.events.iter().position(matches) {
                self.events.remove(at);
                return;
            }
            loop {
                let message = self.read().await;
                if matches(&message) {
                    return;
                }
                self.events.push(message);
            }
        };
        tokio::time::timeout(PAGE_TIMEOUT, wait)
            .await
            .expect("the page loads");
    }

    /// Goes to `url` and waits for the page (after any redirects) to load.
    pub async fn goto(&mut self, url: &str) {
        self.events.clear();
        let navigated = self.page("Page.navigate", json!({"url": url})).await;
        assert!(navigated.get("errorText").is_none(), "{navigated}");
        self.loaded().await;
    }

    /// Runs `script` (which clicks or submits) and waits for the next page to load.
    pub async fn act(&mut self, script: &str) {
        self.events.clear();
        self.eval(script).await;
        self.loaded().await;
    }

    /// Evaluates `expression` (promises awaited) and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let evaluated = self
            .page(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(
            evaluated.get("exceptionDetails").is_none(),
            "{expression}: {evaluated}"
        );
        evaluated["result"]["value"].clone()
    }

    /// Saves a PNG of the whole page to `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .page(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("data"))
            .expect("base64");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Lets downloads go to `dir`.
    pub async fn download_to(&mut self, dir: &Path) {
        self.call(
            None,
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": dir.display().to_string(), "eventsEnabled": true}),
        )
        .await;
        self.page(
            "Page.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": dir.display().to_string()}),
        )
        .await;
    }
}

/// Waits up to 30 s for `file` to be complete in `dir` (Chromium writes `.crdownload` first).
pub async fn downloaded(dir: &Path, file: &str) -> PathBuf {
    let path = dir.join(file);
    for _ in 0..300 {
        if path.exists() {
            return path;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    panic!(
        "{file} was not downloaded into {}: {found:?}",
        dir.display()
    );
}
