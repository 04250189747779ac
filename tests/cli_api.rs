//! `chatters apikey …` and `chatters export …`, run as a user would (the real binary, a cleared
//! environment, `DATABASE_URL` naming a prepared SQLite file), checked against the JSON API
//! served by `chatters_web::router` over the same file.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::{Event, Message, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::store::{self, ConnectOptions, Store};
use chatters_core::tracker::TrackerConfig;
use chatters_web::{AppState, router};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

const CHAN_ID: i64 = 500;

/// A SQLite file with one channel's history, three hours ago.
struct Db {
    dir: TempDir,
    url: String,
    base: i64,
}

fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

fn user(id: i64, name: &str) -> UserRef {
    UserRef::new(UserId(id), login(name))
}

fn scenario(base: i64) -> Vec<Event> {
    let at = |offset: i64| Timestamp(base + offset);
    let message = |u: &UserRef, offset: i64| {
        Event::Message(Box::new(Message {
            channel: login("chan"),
            user: u.clone(),
            at: at(offset),
            room_id: Some(UserId(CHAN_ID)),
            source_room_id: None,
            first_msg: false,
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
    let alice = user(1, "alice");
    let bob = UserRef {
        display_name: Some("Bob, \"B\"".to_owned()),
        ..user(2, "bob")
    };
    let carol = user(3, "carol");
    let nightbot = user(901, "nightbot");
    let mut events = vec![
        Event::StreamOnline {
            channel: login("chan"),
            broadcaster: Some(UserId(CHAN_ID)),
            stream: StreamId::parse("1001").expect("id"),
            started_at: at(0),
            title: "one".into(),
        },
        snapshot(&[&alice, &bob, &nightbot], 60),
        message(&alice, 100),
        message(&bob, 200),
        message(&bob, 210),
        snapshot(&[&alice, &carol], 5700),
        message(&carol, 5800),
        Event::StreamOffline {
            channel: login("chan"),
            at: at(6000),
        },
    ];
    // Enough users for several export chunks.
    let crowd: Vec<UserRef> = (0..3000)
        .map(|i| user(10_000 + i, &format!("viewer{i}")))
        .collect();
    events.push(Event::Snapshot {
        channel: login("chan"),
        at: at(3000),
        users: crowd,
        total: 3000,
    });
    events
}

async fn prepare() -> Db {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/chatters.db", dir.path().display());
    let store = store::open(&url, &ConnectOptions::default())
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    store.add_channel(&login("chan")).await.expect("add chan");
    store.add_channel(&login("other")).await.expect("add other");
    let base = (Timestamp::now().0 - 3 * 3600) / 60 * 60;
    let cancel = CancellationToken::new();
    let config = IngestConfig {
        tracker: TrackerConfig {
            bot_user: None,
            bot_login: Some(login("chattersbot")),
            presence_timeout: 900,
            snapshot_stale_after: 3 * 3600,
            bots: KnownBots::shipped(),
        },
        ..IngestConfig::default()
    };
    let (ingest, task) = Ingest::start(store.clone(), config, cancel.clone())
        .await
        .expect("ingest");
    ingest.send_all(scenario(base)).await.expect("send");
    ingest.flush().await.expect("flush");
    cancel.cancel();
    task.await.expect("join").expect("final flush");
    store.close().await;
    Db { dir, url, base }
}

/// `chatters <args>` in the database's directory with a cleared environment.
fn chatters(db: &Db, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chatters"));
    command
        .env_clear()
        .current_dir(db.dir.path())
        .args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::null());
    for name in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("run chatters")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// `GET path` with a Bearer key through the web router over the same database.
async fn api(db: &Db, path: &str, key: &str) -> (StatusCode, Vec<u8>) {
    let store: Arc<Store> = store::open(&db.url, &ConnectOptions::default())
        .await
        .expect("open");
    let request = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let response = router(AppState::new(store.clone()))
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 30)
        .await
        .expect("body")
        .to_vec();
    store.close().await;
    (status, body)
}

/// Creates a key through the binary; returns it (the last stdout line).
fn create_key(db: &Db, args: &[&str]) -> String {
    let mut all = vec!["apikey", "create"];
    all.extend_from_slice(args);
    let out = chatters(db, &all, &[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    stdout.lines().last().expect("a line").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_create_prints_the_key_last_and_it_works_against_the_api() {
    let db = prepare().await;

    let out = chatters(
        &db,
        &["apikey", "create", "--channel", "chan", "--label", "ci"],
        &[("LOG", "trace")],
    );

    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    let key = stdout.lines().last().expect("last line").to_owned();
    assert!(key.starts_with("chk_") && key.len() == 47, "{stdout}");
    assert!(
        stdout.starts_with("created API key 1 for chan\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches(&key).count(), 1);
    assert!(
        !text(&out.stderr).contains(&key[4..]),
        "the key must never be logged"
    );
    let (status, body) = api(&db, "/api/v1/channels/chan/streams", &key).await;
    assert_eq!(status, StatusCode::OK, "{}", text(&body));
    let (status, _) = api(&db, "/api/v1/channels/other/streams", &key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_can_cover_several_channels() {
    let db = prepare().await;

    let key = create_key(&db, &["--channel", "chan", "--channel", "other"]);

    for channel in ["chan", "other"] {
        let (status, _) = api(&db, &format!("/api/v1/channels/{channel}/streams"), &key).await;
        assert_eq!(status, StatusCode::OK, "{channel}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_list_shows_ids_labels_channels_and_dates_but_never_keys() {
    let db = prepare().await;
    let first = create_key(&db, &["--channel", "chan", "--label", "dashboard export"]);
    let second = create_key(&db, &["--channel", "chan", "--channel", "other"]);
    assert!(
        chatters(&db, &["apikey", "revoke", "2"], &[])
            .status
            .success()
    );

    let out = chatters(&db, &["apikey", "list"], &[]);

    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(&lines[0][..4], ["1", "\"dashboard", "export\"", "chan"]);
    assert_eq!(lines[0][5], "-", "not revoked: {stdout}");
    assert_eq!(&lines[1][..3], ["2", "\"\"", "chan,other"]);
    for line in &lines {
        let created = line[line.len() - 2];
        assert!(Timestamp::parse_rfc3339(created).is_ok(), "{created}");
    }
    assert!(
        Timestamp::parse_rfc3339(lines[1][4]).is_ok(),
        "revoked: {stdout}"
    );
    for key in [first, second] {
        assert!(!stdout.contains(&key[4..]), "keys are never listed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_with_401() {
    let db = prepare().await;
    let key = create_key(&db, &["--channel", "chan"]);

    let revoke = chatters(&db, &["apikey", "revoke", "1"], &[]);
    let again = chatters(&db, &["apikey", "revoke", "1"], &[]);
    let unknown = chatters(&db, &["apikey", "revoke", "42"], &[]);

    assert!(revoke.status.success(), "{revoke:?}");
    assert_eq!(text(&revoke.stdout), "revoked API key 1\n");
    assert!(again.status.success(), "{again:?}");
    assert!(
        text(&again.stdout).starts_with("API key 1 was already revoked at "),
        "{again:?}"
    );
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert_eq!(
        text(&unknown.stderr),
        "chatters: no API key with id 42 (see `chatters apikey list`)\n"
    );
    let (status, body) = api(&db, "/api/v1/channels/chan/streams", &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text(&body).contains("revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_mistakes_are_reported() {
    let db = prepare().await;

    let untracked = chatters(&db, &["apikey", "create", "--channel", "nosuch"], &[]);
    let no_channel = chatters(&db, &["apikey", "create"], &[]);
    let bad_id = chatters(&db, &["apikey", "revoke", "x"], &[]);
    let long_label = chatters(
        &db,
        &[
            "apikey",
            "create",
            "--channel",
            "chan",
            "--label",
            &"x".repeat(101),
        ],
        &[],
    );

    assert_eq!(untracked.status.code(), Some(1), "{untracked:?}");
    assert!(
        text(&untracked.stderr).contains("channel nosuch is not tracked"),
        "{untracked:?}"
    );
    assert!(untracked.stdout.is_empty());
    assert_eq!(no_channel.status.code(), Some(2), "{no_channel:?}");
    assert_eq!(bad_id.status.code(), Some(2), "{bad_id:?}");
    assert_eq!(long_label.status.code(), Some(1), "{long_label:?}");
    let list = chatters(&db, &["apikey", "list"], &[]);
    assert_eq!(text(&list.stdout), "", "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_exactly_the_bytes_the_api_returns() {
    let db = prepare().await;
    let key = create_key(&db, &["--channel", "chan"]);
    let until = Timestamp(db.base + 5750).to_rfc3339();
    let cases: [(&[&str], String); 4] = [
        (&["--format", "csv"], "format=csv".to_owned()),
        (&["--format", "json"], "format=json".to_owned()),
        (
            &["--format", "csv", "--since", "90m", "--until", &until],
            format!("format=csv&since=90m&until={until}"),
        ),
        (
            &["--format", "json", "--until", &until],
            format!("until={until}"),
        ),
    ];

    for (args, query) in cases {
        let mut all = vec!["export", "--channel", "chan"];
        all.extend_from_slice(args);
        let out = chatters(&db, &all, &[]);
        let (status, body) = api(
            &db,
            &format!("/api/v1/channels/chan/chatters?{query}"),
            &key,
        )
        .await;

        assert!(out.status.success(), "{args:?}: {out:?}");
        assert_eq!(status, StatusCode::OK);
        assert!(body.len() > 10, "{query}");
        assert!(
            out.stdout == body,
            "{args:?}: stdout differs from the API body"
        );
    }
    let csv = chatters(
        &db,
        &["export", "--channel", "chan", "--format", "csv"],
        &[],
    )
    .stdout;
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(
        rows.len(),
        3003,
        "alice, bob, carol and the crowd; not nightbot"
    );
    assert_eq!(&rows[1][2], "Bob, \"B\"");
    assert_eq!(&rows[1][5], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_to_a_file_leaves_only_the_complete_file() {
    let db = prepare().await;
    let key = create_key(&db, &["--channel", "chan"]);
    let target = db.dir.path().join("out.json");

    let out = chatters(
        &db,
        &[
            "export",
            "--channel",
            "chan",
            "--format",
            "json",
            "-o",
            "out.json",
        ],
        &[],
    );

    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let (_, body) = api(&db, "/api/v1/channels/chan/chatters?format=json", &key).await;
    assert_eq!(std::fs::read(&target).expect("written"), body);
    let leftovers: Vec<String> = std::fs::read_dir(db.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_mistakes_are_reported() {
    let db = prepare().await;

    let unknown = chatters(
        &db,
        &["export", "--channel", "nosuch", "--format", "csv"],
        &[],
    );
    let bad_since = chatters(
        &db,
        &[
            "export",
            "--channel",
            "chan",
            "--format",
            "csv",
            "--since",
            "yesterday",
        ],
        &[],
    );
    let inverted = chatters(
        &db,
        &[
            "export",
            "--channel",
            "chan",
            "--format",
            "csv",
            "--since",
            "1d",
            "--until",
            "2d",
        ],
        &[],
    );
    let unwritable = chatters(
        &db,
        &[
            "export",
            "--channel",
            "chan",
            "--format",
            "csv",
            "-o",
            "missing/dir/x.csv",
        ],
        &[],
    );

    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert_eq!(
        text(&unknown.stderr),
        "chatters: channel nosuch is not tracked\n"
    );
    assert_eq!(bad_since.status.code(), Some(2), "{bad_since:?}");
    assert!(
        text(&bad_since.stderr).contains("RFC 3339"),
        "{bad_since:?}"
    );
    assert_eq!(inverted.status.code(), Some(1), "{inverted:?}");
    assert!(text(&inverted.stderr).contains("--since must be before --until"));
    assert_eq!(unwritable.status.code(), Some(1), "{unwritable:?}");
    assert!(!db.dir.path().join("missing").exists());
}
