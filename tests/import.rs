//! `chatters import`, run as a user would (the binary, a cleared environment), then checked
//! through the store and the SPEC figures. SQLite always; MariaDB and PostgreSQL when
//! `TEST_MYSQL_URL` / `TEST_POSTGRES_URL` are set (each test creates and drops its database).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::stats::Figures;
use chatters_core::store::{self, Channel, ConnectOptions, Store};
use chatters_core::testing::TestDb;
use tempfile::TempDir;

/// Start of the log: 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000;
const CHANNEL: &str = "testchan";
const ROOM: &str = "1000";

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/corpus/twitch-irc-real.txt"
);

/// Corpus line `n` (1-based), moved to the test channel and room, sent at `ms`.
fn corpus_line(n: usize, ms: i64) -> String {
    let text = std::fs::read_to_string(CORPUS).expect("the corpus (testdata/corpus)");
    let line = text.lines().nth(n - 1).expect("a corpus line");
    let mut out = Vec::new();
    let (tags, rest) = line
        .strip_prefix('@')
        .and_then(|l| l.split_once(' '))
        .expect("a tagged line");
    for tag in tags.split(';') {
        match tag.split_once('=') {
            Some(("tmi-sent-ts", _)) => out.push(format!("tmi-sent-ts={ms}")),
            Some(("room-id", _)) => out.push(format!("room-id={ROOM}")),
            _ => out.push(tag.to_owned()),
        }
    }
    let channel = rest
        .split(' ')
        .find(|w| w.starts_with('#'))
        .expect("a channel");
    let rest = rest.replacen(channel, &format!("#{CHANNEL}"), 1);
    format!("@{} {rest}", out.join(";"))
}

/// A hand-made PRIVMSG in Twitch's current format.
fn privmsg(login: &str, id: u32, ms: i64, first: bool, text: &str) -> String {
    format!(
        "@badge-info=;badges=;color=;display-name={login};emotes=;first-msg={};flags=;\
         id=00000000-0000-0000-0000-{id:012};mod=0;returning-chatter=0;room-id={ROOM};\
         subscriber=0;tmi-sent-ts={ms};turbo=0;user-id={id};user-type= \
         :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #{CHANNEL} :{text}",
        u8::from(first)
    )
}

fn membership(login: &str, command: &str) -> String {
    format!(":{login}!{login}@{login}.tmi.twitch.tv {command} #{CHANNEL}")
}

/// The log of the tests: two bursts of activity 50 minutes apart, with junk around them.
///
/// - untimed: a JOIN before any timestamped line;
/// - malformed: a line that is not IRC, a line that is not UTF-8;
/// - ignored: a PING;
/// - unresolved: the JOIN of `ghost`, never seen anywhere.
fn log_bytes() -> Vec<u8> {
    let ms = |secs: i64| secs * 1000 + 123;
    let mut lines: Vec<Vec<u8>> = vec![
        membership("earlybird", "JOIN").into_bytes(),
        corpus_line(20, ms(T0)).into_bytes(), // jun1orrrr (29803735)
        b"PING :tmi.twitch.tv".to_vec(),
        Vec::new(),
        corpus_line(21, ms(T0 + 60)).into_bytes(), // randers (40286300), a moderator
        privmsg("alice", 101, ms(T0 + 120), true, "hello").into_bytes(),
        membership("alice", "JOIN").into_bytes(),
        membership("ghost", "JOIN").into_bytes(),
        b"2023-11-14T22:20:00Z :alice!alice@alice.tmi.twitch.tv PRIVMSG #testchan :hi".to_vec(),
        b"@id=1 :alice!alice@alice.tmi.twitch.tv PRIVMSG #testchan :\xff\xfe".to_vec(),
        privmsg("alice", 101, ms(T0 + 600), false, "still here").into_bytes(),
        // 50 minutes later: a raid (corpus: raider 123456789, 6 viewers, no text).
        corpus_line(185, ms(T0 + 3600)).into_bytes(),
        privmsg("alice", 101, ms(T0 + 3700), false, "welcome raiders").into_bytes(),
        privmsg("carol", 103, ms(T0 + 4000), true, "first!").into_bytes(),
        membership("alice", "PART").into_bytes(),
    ];
    for line in &mut lines {
        line.extend_from_slice(b"\r\n");
    }
    lines.concat()
}

/// A database for one test (`chatters_core::testing`), and a directory for its log files.
struct Db {
    db: TestDb,
    url: String,
    dir: TempDir,
}

impl Db {
    async fn sqlite() -> Self {
        Self::new(TestDb::sqlite().await)
    }

    /// A fresh database on the server named by `var`, or `None` when it is not set (outside CI).
    async fn server(var: &str) -> Option<Self> {
        let db = match var {
            "TEST_MYSQL_URL" => TestDb::mysql().await,
            _ => TestDb::postgres().await,
        };
        db.map(Self::new)
    }

    fn new(db: TestDb) -> Self {
        Self {
            url: db.url.clone(),
            db,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    async fn drop_database(self) {
        self.db.cleanup().await;
    }

    fn write_log(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write the log");
        path
    }

    /// `chatters <args>` against this database, in its directory, with a cleared environment.
    fn chatters(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chatters"));
        command
            .env_clear()
            .current_dir(self.dir.path())
            .args(args)
            .env("DATABASE_URL", &self.url)
            .stdin(Stdio::null());
        for name in ["PATH", "HOME"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.output().expect("run chatters")
    }

    async fn open(&self) -> (std::sync::Arc<Store>, Channel) {
        let store = store::open(&self.url, &ConnectOptions::default())
            .await
            .expect("open the store");
        let channel = store
            .channel(&login(CHANNEL))
            .await
            .expect("read the channel")
            .expect("the imported channel exists");
        (store, channel)
    }
}

fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

fn summary_line(path: &Path) -> String {
    format!(
        "{}: 14 lines, 10 events ingested (2023-11-14T22:13:20Z to 2023-11-14T23:20:00Z); \
         skipped: 2 malformed, 1 before any timestamp, 1 unresolved logins; \
         1 lines without anything to record",
        path.display()
    )
}

async fn imports_with_inferred_streams(db: Db) {
    // Arrange
    let log = db.write_log("chat.log", &log_bytes());
    let log_arg = log.to_str().expect("utf-8 path");

    // Act
    let output = db.chatters(&["import", log_arg, "--infer-streams", "30m"]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        format!("{}\n2 streams inferred\n", summary_line(&log))
    );
    let (store, channel) = db.open().await;
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
    let mut streams = store.streams(channel.key, 10).await.expect("streams");
    streams.reverse();
    let ids: Vec<(String, Timestamp, Option<Timestamp>)> = streams
        .iter()
        .map(|s| (s.id.to_string(), s.started_at, s.ended_at))
        .collect();
    assert_eq!(
        ids,
        [
            (
                format!("import-testchan-{T0}"),
                Timestamp(T0),
                Some(Timestamp(T0 + 600))
            ),
            (
                format!("import-testchan-{}", T0 + 3600),
                Timestamp(T0 + 3600),
                Some(Timestamp(T0 + 4000))
            ),
        ]
    );
    let first = figures.stream(&streams[0]).await.expect("figures");
    let second = figures.stream(&streams[1]).await.expect("figures");
    // jun1orrrr, randers, alice; alice's JOIN adds nobody.
    let counts = |f: &chatters_core::stats::StreamFigures| {
        (
            f.unique_chatters,
            f.new_chatters,
            f.first_time_chatters,
            f.messages,
            f.lurkers,
        )
    };
    assert_eq!(counts(&first), (3, 3, 1, 4, 0));
    // raider (observed, no text: a lurker), alice (returning), carol (first-time).
    assert_eq!(counts(&second), (3, 2, 1, 2, 1));
    assert_eq!(second.retention, Some(1.0 / 3.0));
    let raids = figures.raids(&streams[1]).await.expect("raids");
    let raids: Vec<(String, i64, Timestamp)> = raids
        .iter()
        .map(|r| (r.from_login.to_string(), r.viewers, r.at))
        .collect();
    assert_eq!(raids, [("raider".to_owned(), 6, Timestamp(T0 + 3600))]);
    assert!(
        figures.raids(&streams[0]).await.expect("raids").is_empty(),
        "the raid belongs to the second stream"
    );
    store.close().await;
    db.drop_database().await;
}

async fn imports_without_streams_and_refuses_a_second_import(db: Db) {
    // Arrange
    let log = db.write_log("chat.log", &log_bytes());
    let log_arg = log.to_str().expect("utf-8 path");
    let copy = db.write_log("copy.log", &log_bytes());
    let copy_arg = copy.to_str().expect("utf-8 path");

    // Act
    let first = db.chatters(&["import", log_arg]);
    let again = db.chatters(&["import", log_arg]);
    let renamed = db.chatters(&["import", copy_arg]);

    // Assert
    assert!(first.status.success(), "{first:?}");
    assert_eq!(stdout(&first), format!("{}\n", summary_line(&log)));
    for refused in [&again, &renamed] {
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        // PostgreSQL notices may be logged before it.
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("chatters: "))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        let named = if std::ptr::eq(refused, &again) {
            log_arg
        } else {
            copy_arg
        };
        let expected = format!(
            "chatters: {named} was already imported: same SHA-256 as {log_arg} imported on "
        );
        assert!(errors[0].starts_with(&expected), "{stderr}");
        assert!(errors[0].ends_with("Z; nothing imported"), "{stderr}");
        assert_eq!(stdout(refused), "");
    }
    let (store, channel) = db.open().await;
    assert!(
        store
            .streams(channel.key, 10)
            .await
            .expect("streams")
            .is_empty(),
        "no stream without --infer-streams"
    );
    let alice = store
        .channel_user(channel.key, UserId(101))
        .await
        .expect("read alice")
        .expect("alice was imported");
    assert_eq!(alice.messages, 3, "counted once");
    assert_eq!(alice.first_seen, Timestamp(T0 + 120));
    let carol = store
        .channel_user(channel.key, UserId(103))
        .await
        .expect("read carol")
        .expect("carol was imported");
    assert_eq!(
        (carol.messages, carol.first_seen),
        (1, Timestamp(T0 + 4000))
    );
    assert!(
        store
            .stream(&StreamId::parse("import-testchan-1700000000").expect("id"))
            .await
            .expect("stream")
            .is_none()
    );
    store.close().await;
    db.drop_database().await;
}

#[tokio::test]
async fn sqlite_import_infers_streams_with_exact_figures() {
    imports_with_inferred_streams(Db::sqlite().await).await;
}

#[tokio::test]
async fn sqlite_import_is_refused_the_second_time() {
    imports_without_streams_and_refuses_a_second_import(Db::sqlite().await).await;
}

#[tokio::test]
async fn mysql_import_infers_streams_with_exact_figures() {
    if let Some(db) = Db::server("TEST_MYSQL_URL").await {
        imports_with_inferred_streams(db).await;
    }
}

#[tokio::test]
async fn mysql_import_is_refused_the_second_time() {
    if let Some(db) = Db::server("TEST_MYSQL_URL").await {
        imports_without_streams_and_refuses_a_second_import(db).await;
    }
}

#[tokio::test]
async fn postgres_import_infers_streams_with_exact_figures() {
    if let Some(db) = Db::server("TEST_POSTGRES_URL").await {
        imports_with_inferred_streams(db).await;
    }
}

#[tokio::test]
async fn postgres_import_is_refused_the_second_time() {
    if let Some(db) = Db::server("TEST_POSTGRES_URL").await {
        imports_without_streams_and_refuses_a_second_import(db).await;
    }
}

#[tokio::test]
async fn a_missing_file_among_several_imports_nothing() {
    // Arrange
    let db = Db::sqlite().await;
    let log = db.write_log("chat.log", &log_bytes());

    // Act
    let output = db.chatters(&["import", log.to_str().expect("utf-8 path"), "missing.log"]);

    // Assert
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("chatters: cannot read missing.log: "),
        "{stderr}"
    );
    assert_eq!(stdout(&output), "");
    assert!(
        !db.dir.path().join("chatters.db").exists(),
        "the database was not even opened"
    );
}

#[tokio::test]
async fn a_later_import_resolves_stored_logins_and_leaves_the_live_stream_alone() {
    // Arrange: a first import, then a stream live now (as the bot would have recorded it).
    let db = Db::sqlite().await;
    let first = db.write_log("chat.log", &log_bytes());
    let output = db.chatters(&["import", first.to_str().expect("utf-8 path")]);
    assert!(output.status.success(), "{output:?}");
    let (store, channel) = db.open().await;
    let live_id = StreamId::parse("987654321").expect("stream id");
    store
        .open_stream(
            channel.key,
            &live_id,
            Timestamp(Timestamp::now().0 - 60),
            "live",
        )
        .await
        .expect("open the live stream");
    store.close().await;
    let later = T0 + 10_000;
    let lines = [
        privmsg("dave", 104, later * 1000, true, "hi"),
        // Known only from the database: carol from the first import.
        membership("carol", "JOIN"),
        format!(
            "@id=x :dave!dave@dave.tmi.twitch.tv PRIVMSG #{CHANNEL} :{}",
            "a".repeat(70_000)
        ),
        // An old PRIVMSG without user-id nor tmi-sent-ts.
        format!(
            "@display-name=alice :alice!alice@alice.tmi.twitch.tv PRIVMSG #{CHANNEL} :old style"
        ),
    ];
    let second = db.write_log("later.log", lines.join("\n").as_bytes());

    // Act
    let output = db.chatters(&["import", second.to_str().expect("utf-8 path")]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        format!(
            "{}: 4 lines, 3 events ingested (2023-11-15T01:00:00Z to 2023-11-15T01:00:00Z); \
             skipped: 1 malformed, 0 before any timestamp, 0 unresolved logins; \
             0 lines without anything to record\n",
            second.display()
        )
    );
    let (store, channel) = db.open().await;
    let user = |id: i64| {
        let store = store.clone();
        async move {
            store
                .channel_user(channel.key, UserId(id))
                .await
                .expect("read a user")
                .expect("a known user")
        }
    };
    assert_eq!(
        user(101).await.messages,
        4,
        "alice's old-style line resolved"
    );
    assert_eq!(user(101).await.last_seen, Timestamp(later));
    assert_eq!(
        user(103).await.last_seen,
        Timestamp(later),
        "carol's JOIN resolved"
    );
    assert_eq!(user(104).await.messages, 1);
    let live = store
        .stream(&live_id)
        .await
        .expect("read the live stream")
        .expect("the live stream");
    assert_eq!(live.ended_at, None, "still live");
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None)
        .stream(&live)
        .await
        .expect("figures");
    assert_eq!((figures.unique_chatters, figures.messages), (0, 0));
    store.close().await;
}
