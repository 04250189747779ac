//! Hardening of the web side and the CLI, against the real `chatters` binary where a process
//! boundary matters (signals, file modes, what a command prints, a corrupt file found at
//! start): SPEC "Health and limits".

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use chatters_core::apikey::ApiKey;
use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::store::{self, ConnectOptions, Store};
use chatters_core::testing::TestDb;
use chatters_web::{AppState, router};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// `chatters <args>` in `dir` with only PATH, HOME and `vars` in its environment.
fn chatters(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatters"));
    command.env_clear().current_dir(dir).args(args);
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    chatters(dir, args, vars).output().expect("run chatters")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A long-lived `chatters web` on a free port in `dir`.
struct Server {
    child: Option<Child>,
    port: u16,
}

impl Server {
    fn start(dir: &Path, vars: &[(&str, &str)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut all = vec![("WEB_ADDR", addr.as_str())];
        all.extend_from_slice(vars);
        let child = chatters(dir, &["web"], &all).spawn().expect("start");
        Self {
            child: Some(child),
            port,
        }
    }

    /// `GET path` over HTTP/1.0: the whole answer, if there was one.
    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }

    /// Polls `/healthz` until `done` accepts an answer (at most 20 s).
    fn healthz_until(&self, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(answer) = self.get("/healthz") {
                if done(&answer) {
                    return answer;
                }
                last = Some(answer);
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("no such /healthz answer within 20 s; last: {last:?}");
    }

    /// Sends SIGTERM; the exit status, stderr and how long the exit took.
    fn terminate(mut self) -> (ExitStatus, String, Duration) {
        let mut child = self.child.take().expect("running");
        let sent = Instant::now();
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = sent + Duration::from_secs(40);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("still running 40 s after SIGTERM");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let took = sent.elapsed();
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status, stderr, took)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn sigterm_with_a_half_sent_request_open_exits_0_promptly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);
    server.healthz_until(|a| a.starts_with("HTTP/1.0 200"));
    let mut half = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .expect("write");

    let (status, stderr, took) = server.terminate();

    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {stderr}");
}

#[test]
fn the_sqlite_file_and_its_wal_are_created_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path(), &[]);
    server.healthz_until(|a| a.starts_with("HTTP/1.0 200"));

    let modes: Vec<(String, u32)> = ["chatters.db", "chatters.db-wal", "chatters.db-shm"]
        .iter()
        .map(|name| {
            let meta = std::fs::metadata(dir.path().join(name)).expect(name);
            ((*name).to_owned(), meta.permissions().mode() & 0o777)
        })
        .collect();
    let (status, stderr, _) = server.terminate();

    for (name, mode) in modes {
        assert_eq!(mode, 0o600, "{name}: {mode:o}");
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// Overwrites the root page of table `table` in the SQLite file at `path` with garbage.
async fn corrupt_table(path: &Path, table: &str) {
    let url = format!("sqlite://{}", path.display());
    let store = store::open(&url, &ConnectOptions::default())
        .await
        .expect("open");
    store.close().await;
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = ?")
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .expect("root page");
    sqlx::Connection::close(conn).await.expect("close");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut bytes = std::fs::read(path).expect("read");
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        n => usize::from(n),
    };
    let start = usize::try_from(root - 1).expect("page") * page_size;
    bytes[start..start + page_size].fill(0xA5);
    std::fs::write(path, bytes).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_naming_the_database_on_a_corrupt_sqlite_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let added = run(dir.path(), &["channel", "add", "chan"], &[]);
    assert!(added.status.success(), "{added:?}");
    corrupt_table(&dir.path().join("chatters.db"), "channels").await;

    let server = Server::start(dir.path(), &[]);
    let answer = server.healthz_until(|a| !a.starts_with("HTTP/1.0 200"));

    assert!(answer.starts_with("HTTP/1.0 503"), "{answer}");
    assert!(
        answer.ends_with(r#"{"database":"integrity check failed","helix":"not run","irc":"not run","status":"degraded"}"#),
        "{answer}"
    );
    let (status, stderr, _) = server.terminate();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_on_postgresql_print_nothing_on_stderr() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = [("DATABASE_URL", db.url.as_str())];

    let first = run(dir.path(), &["channel", "list"], &vars);
    let second = run(dir.path(), &["channel", "list"], &vars);

    for out in [first, second] {
        assert!(out.status.success(), "{out:?}");
        assert_eq!(text(&out.stderr), "", "stderr must be empty");
    }
    db.cleanup().await;
}

// ---- CSV exports ----

/// Display names a spreadsheet would run as formulas, one user each (ids 1..).
const FORMULAS: [&str; 7] = [
    "=HYPERLINK(\"http://x\")",
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\tx",
    "\rx",
    "a=b",
];

/// A SQLite file in `dir` where the users of [`FORMULAS`] were seen once in channel `chan`
/// at `at`; an API key for `chan`.
async fn formula_users(dir: &TempDir, at: Timestamp) -> (String, String) {
    let url = format!("sqlite://{}/chatters.db", dir.path().display());
    let store: Arc<Store> = store::open(&url, &ConnectOptions::default())
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    let chan = Login::parse("chan").expect("login");
    let key = store.add_channel(&chan).await.expect("add").key;
    let users: Vec<UserRef> = FORMULAS
        .iter()
        .enumerate()
        .map(|(i, name)| UserRef {
            display_name: Some((*name).to_owned()),
            ..UserRef::new(
                UserId(i64::try_from(i).expect("small") + 1),
                Login::parse(&format!("user{i}")).expect("login"),
            )
        })
        .collect();
    let cancel = CancellationToken::new();
    let (ingest, task) = Ingest::start(store.clone(), IngestConfig::default(), cancel.clone())
        .await
        .expect("ingest");
    ingest
        .send_all(vec![Event::Snapshot {
            channel: chan,
            at,
            total: users.len() as u64,
            users,
        }])
        .await
        .expect("send");
    ingest.flush().await.expect("flush");
    cancel.cancel();
    task.await.expect("join").expect("flush");
    let api_key = ApiKey::generate().expect("random");
    store
        .create_api_key(&api_key.hash().to_hex(), "t", &[key], Timestamp::now())
        .await
        .expect("key");
    store.close().await;
    (url, api_key.expose().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_cells_that_would_run_as_formulas_start_with_a_quote_in_both_exports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let at = Timestamp::parse_rfc3339("2026-11-25T18:00:00Z").expect("time");
    let (url, key) = formula_users(&dir, at).await;

    let cli = run(
        dir.path(),
        &["export", "--channel", "chan", "--format", "csv"],
        &[("DATABASE_URL", &url)],
    );
    let store = store::open(&url, &ConnectOptions::default())
        .await
        .expect("open");
    let request = Request::get("/api/v1/channels/chan/chatters?format=csv")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let response = router(AppState::new(store.clone()))
        .oneshot(request)
        .await
        .expect("infallible");
    let api = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    store.close().await;

    let t = "2026-11-25T18:00:00Z,2026-11-25T18:00:00Z,0,0,0\r\n";
    let expected = format!(
        "user_id,login,display_name,first_seen,last_seen,messages,streams_attended,watch_time\r\n\
         1,user0,\"'=HYPERLINK(\"\"http://x\"\")\",{t}\
         2,user1,'+1,{t}\
         3,user2,'-2+3,{t}\
         4,user3,'@SUM(A1),{t}\
         5,user4,'\tx,{t}\
         6,user5,\"'\rx\",{t}\
         7,user6,a=b,{t}"
    );
    assert!(cli.status.success(), "{cli:?}");
    assert_eq!(text(&cli.stdout), expected, "chatters export");
    assert_eq!(text(&api), expected, "the API's export");
}
