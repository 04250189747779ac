//! `chatters import`, run as a user would (the binary, a cleared environment), then checked
//! through the store and the SPEC figures. SQLite always; MariaDB and PostgreSQL when
//! `TEST_MYSQL_URL` / `TEST_POSTGRES_URL` are set (each test creates and drops its database).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::stats::Figures;
use chatters_core::store::{self, Channel, ConnectOptions, Store};
use chatters_core::testing::{TestDb, assert_kept_sums};
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
/// - prefixed: a tag-less PRIVMSG of alice timed by its RFC 3339 prefix (T0 + 400 s);
/// - malformed: a line that is not UTF-8 (line 10);
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
        "{}: 14 lines, 11 events ingested (2023-11-14T22:13:20Z to 2023-11-14T23:20:00Z); \
         skipped: 1 malformed (line 10), 1 before any timestamp, 1 unresolved logins; \
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
    // jun1orrrr, randers, alice (3 messages, one timed by its prefix); alice's JOIN adds nobody.
    let counts = |f: &chatters_core::stats::StreamFigures| {
        (
            f.unique_chatters,
            f.new_chatters,
            f.first_time_chatters,
            f.messages,
            f.lurkers,
        )
    };
    assert_eq!(counts(&first), (3, 3, 1, 5, 0));
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
    // The import's rows kept each stream's sums.
    assert_eq!(assert_kept_sums(&store).await, 2);
    store.close().await;
    db.drop_database().await;
}

async fn imports_without_streams_and_skips_a_second_import(db: Db) {
    // Arrange
    let log = db.write_log("chat.log", &log_bytes());
    let log_arg = log.to_str().expect("utf-8 path");
    let copy = db.write_log("copy.log", &gzip(&log_bytes()));
    let copy_arg = copy.to_str().expect("utf-8 path");

    // Act
    let first = db.chatters(&["import", log_arg]);
    let again = db.chatters(&["import", log_arg]);
    let renamed = db.chatters(&["import", copy_arg]);

    // Assert
    assert!(first.status.success(), "{first:?}");
    assert_eq!(stdout(&first), format!("{}\n", summary_line(&log)));
    for skipped in [&again, &renamed] {
        assert!(skipped.status.success(), "{skipped:?}");
        let named = if std::ptr::eq(skipped, &again) {
            log_arg
        } else {
            copy_arg
        };
        let out = stdout(skipped);
        let expected =
            format!("{named}: skipped, already imported (same SHA-256 as {log_arg} imported on ");
        assert!(out.starts_with(&expected), "{out}");
        assert!(out.ends_with("Z)\n"), "{out}");
        assert_eq!(out.lines().count(), 1, "{out}");
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
    assert_eq!(alice.messages, 4, "counted once");
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
async fn sqlite_import_skips_the_same_content_the_second_time() {
    imports_without_streams_and_skips_a_second_import(Db::sqlite().await).await;
}

#[tokio::test]
async fn mysql_import_infers_streams_with_exact_figures() {
    if let Some(db) = Db::server("TEST_MYSQL_URL").await {
        imports_with_inferred_streams(db).await;
    }
}

#[tokio::test]
async fn mysql_import_skips_the_same_content_the_second_time() {
    if let Some(db) = Db::server("TEST_MYSQL_URL").await {
        imports_without_streams_and_skips_a_second_import(db).await;
    }
}

#[tokio::test]
async fn postgres_import_infers_streams_with_exact_figures() {
    if let Some(db) = Db::server("TEST_POSTGRES_URL").await {
        imports_with_inferred_streams(db).await;
    }
}

#[tokio::test]
async fn postgres_import_skips_the_same_content_the_second_time() {
    if let Some(db) = Db::server("TEST_POSTGRES_URL").await {
        imports_without_streams_and_skips_a_second_import(db).await;
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
             skipped: 1 malformed (line 3), 0 before any timestamp, 0 unresolved logins; \
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
        5,
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

// ---------------------------------------------------------------------------------------------
// Every input form: justlog and rustlog archives, prefixes, gzip, directories, re-imports.

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/import");

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

fn sample(path: &str) -> PathBuf {
    Path::new(SAMPLES).join(path)
}

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).expect("a time")
}

/// `(messages, first_seen, last_seen)` of a user in a channel.
async fn seen(db: &Db, channel: &str, user: i64) -> (i64, Timestamp, Timestamp) {
    let store = store::open(&db.url, &ConnectOptions::default())
        .await
        .expect("open the store");
    let key = store
        .channel(&login(channel))
        .await
        .expect("read the channel")
        .expect("the channel exists")
        .key;
    let row = store
        .channel_user(key, UserId(user))
        .await
        .expect("read the user")
        .expect("the user exists");
    store.close().await;
    (row.messages, row.first_seen, row.last_seen)
}

fn file_line(path: &Path, counts: &str) -> String {
    format!("{}: {counts}", path.display())
}

const NOTHING_SKIPPED: &str = "skipped: 0 malformed, 0 before any timestamp, 0 unresolved logins; 0 lines without anything to record";

#[tokio::test]
async fn a_justlog_archive_is_imported_in_day_order_without_its_per_user_files() {
    // Arrange
    let db = Db::sqlite().await;
    let archive = sample("justlog");
    let day = |d: &str| archive.join(format!("1000/2024/3/{d}/channel.txt.gz"));

    // Act
    let output = db.chatters(&["import", archive.to_str().expect("utf-8 path")]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        [
            file_line(
                &day("1"),
                "4 lines, 3 events ingested (2024-03-01T18:00:00Z to 2024-03-01T18:02:00Z); \
                 skipped: 0 malformed, 0 before any timestamp, 0 unresolved logins; \
                 1 lines without anything to record"
            ),
            file_line(
                &day("2"),
                &format!(
                    "2 lines, 2 events ingested (2024-03-02T18:00:00Z to 2024-03-02T18:00:30Z); \
                     {NOTHING_SKIPPED}"
                )
            ),
            file_line(
                &day("10"),
                &format!(
                    "2 lines, 2 events ingested (2024-03-10T18:00:00Z to 2024-03-10T18:00:10Z); \
                     {NOTHING_SKIPPED}"
                )
            ),
            "1 justlog per-user files skipped (their lines are in the channel files)".to_owned(),
            String::new(),
        ]
        .join("\n")
    );
    // alpha: three days, banned on the last (a ban is a part: last seen then).
    assert_eq!(
        seen(&db, "justchan", 201).await,
        (3, at("2024-03-01T18:00:00Z"), at("2024-03-10T18:00:10Z"))
    );
    // bravo: a timeout is no observation.
    assert_eq!(
        seen(&db, "justchan", 202).await,
        (2, at("2024-03-01T18:01:00Z"), at("2024-03-02T18:00:30Z"))
    );
    // charlie: a resub with a message is a message.
    assert_eq!(
        seen(&db, "justchan", 203).await,
        (1, at("2024-03-01T18:02:00Z"), at("2024-03-01T18:02:00Z"))
    );
}

#[tokio::test]
async fn a_rustlog_raw_download_with_crlf_lines_is_imported() {
    // Arrange
    let db = Db::sqlite().await;
    let file = sample("rustlog/rustchan-2024-03-04.txt");

    // Act
    let output = db.chatters(&["import", file.to_str().expect("utf-8 path")]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        format!(
            "{}\n",
            file_line(
                &file,
                "5 lines, 4 events ingested (2024-03-04T18:00:00Z to 2024-03-04T18:05:00Z); \
                 skipped: 0 malformed, 0 before any timestamp, 0 unresolved logins; \
                 1 lines without anything to record"
            )
        )
    );
    assert_eq!(
        seen(&db, "rustchan", 301).await,
        (2, at("2024-03-04T18:00:00Z"), at("2024-03-04T18:05:00Z"))
    );
    assert_eq!(
        seen(&db, "rustchan", 302).await,
        (1, at("2024-03-04T18:01:30Z"), at("2024-03-04T18:01:30Z"))
    );
}

#[tokio::test]
async fn both_prefix_forms_time_their_lines_and_tmi_sent_ts_wins_over_them() {
    // Arrange
    let db = Db::sqlite().await;
    let file = sample("prefixed.log");

    // Act
    let output = db.chatters(&["import", file.to_str().expect("utf-8 path")]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        format!(
            "{}\n",
            file_line(
                &file,
                &format!(
                    "3 lines, 3 events ingested (2024-03-05T10:01:00Z to 2024-03-05T10:30:00Z); \
                     {NOTHING_SKIPPED}"
                )
            )
        )
    );
    // 10:01 from `[prefix]`; 10:30 from tmi-sent-ts, not 10:02 from the prefix; the PART
    // without either takes the previous line's 10:30.
    assert_eq!(
        seen(&db, "prefchan", 401).await,
        (2, at("2024-03-05T10:01:00Z"), at("2024-03-05T10:30:00Z"))
    );
}

/// A directory holding a plain file, a gzip file without a `.gz` name in a subfolder, a
/// prefixed file and a file of junk.
fn mixed_directory(db: &Db) -> PathBuf {
    let dir = db.dir.path().join("mixed");
    std::fs::create_dir_all(dir.join("b")).expect("create dirs");
    let read = |p: &str| std::fs::read(sample(p)).expect("a sample");
    std::fs::write(
        dir.join("a-plain.log"),
        read("rustlog/rustchan-2024-03-04.txt"),
    )
    .expect("write");
    std::fs::write(dir.join("b/packed"), gzip(&read("prefixed.log"))).expect("write");
    std::fs::write(
        dir.join("c-junk.txt"),
        b"<alice> this is not IRC\n\n@ :x PRIVMSG #c :empty tags\n\xff\xfe\nPING :tmi.twitch.tv\n",
    )
    .expect("write");
    dir
}

#[tokio::test]
async fn a_mixed_directory_imports_plain_gzip_and_prefixed_files_and_reports_junk_lines() {
    // Arrange
    let db = Db::sqlite().await;
    let dir = mixed_directory(&db);

    // Act
    let output = db.chatters(&["import", dir.to_str().expect("utf-8 path")]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stdout(&output),
        [
            file_line(
                &dir.join("a-plain.log"),
                "5 lines, 4 events ingested (2024-03-04T18:00:00Z to 2024-03-04T18:05:00Z); \
                 skipped: 0 malformed, 0 before any timestamp, 0 unresolved logins; \
                 1 lines without anything to record"
            ),
            file_line(
                &dir.join("b/packed"),
                &format!(
                    "3 lines, 3 events ingested (2024-03-05T10:01:00Z to 2024-03-05T10:30:00Z); \
                     {NOTHING_SKIPPED}"
                )
            ),
            file_line(
                &dir.join("c-junk.txt"),
                "4 lines, 0 events ingested (no events); skipped: 3 malformed (line 1, 3, 4), \
                 0 before any timestamp, 0 unresolved logins; 1 lines without anything to record"
            ),
            String::new(),
        ]
        .join("\n")
    );
    assert_eq!(
        seen(&db, "rustchan", 301).await,
        (2, at("2024-03-04T18:00:00Z"), at("2024-03-04T18:05:00Z"))
    );
    assert_eq!(
        seen(&db, "prefchan", 401).await,
        (2, at("2024-03-05T10:01:00Z"), at("2024-03-05T10:30:00Z"))
    );
}

#[tokio::test]
async fn content_imported_before_is_skipped_under_any_name_or_compression_and_changes_nothing() {
    // Arrange: the mixed directory imported once.
    let db = Db::sqlite().await;
    let dir = mixed_directory(&db);
    let first = db.chatters(&["import", dir.to_str().expect("utf-8 path")]);
    assert!(first.status.success(), "{first:?}");
    let before = (
        seen(&db, "rustchan", 301).await,
        seen(&db, "prefchan", 401).await,
    );
    // The plain file gzipped, the gzip file unpacked, under other names.
    let again = db.dir.path().join("again");
    std::fs::create_dir_all(&again).expect("create dir");
    let plain = std::fs::read(dir.join("a-plain.log")).expect("read");
    std::fs::write(again.join("x.gz"), gzip(&plain)).expect("write");
    std::fs::write(
        again.join("y.txt"),
        std::fs::read(sample("prefixed.log")).expect("read"),
    )
    .expect("write");

    // Act
    let output = db.chatters(&["import", again.to_str().expect("utf-8 path")]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let plain_note = format!(
        "{}: skipped, already imported (same SHA-256 as {} imported on ",
        again.join("x.gz").display(),
        dir.join("a-plain.log").display()
    );
    let packed_note = format!(
        "{}: skipped, already imported (same SHA-256 as {} imported on ",
        again.join("y.txt").display(),
        dir.join("b/packed").display()
    );
    assert!(lines[0].starts_with(&plain_note), "{out}");
    assert!(lines[1].starts_with(&packed_note), "{out}");
    let after = (
        seen(&db, "rustchan", 301).await,
        seen(&db, "prefchan", 401).await,
    );
    assert_eq!(after, before, "nothing changed");
}

#[tokio::test]
async fn the_same_content_twice_in_one_run_is_imported_once() {
    // Arrange
    let db = Db::sqlite().await;
    let plain = db.write_log(
        "one.log",
        &std::fs::read(sample("prefixed.log")).expect("read"),
    );
    let packed = db.write_log(
        "two.log",
        &gzip(&std::fs::read(sample("prefixed.log")).expect("read")),
    );

    // Act
    let output = db.chatters(&[
        "import",
        plain.to_str().expect("utf-8 path"),
        packed.to_str().expect("utf-8 path"),
    ]);

    // Assert
    assert!(output.status.success(), "{output:?}");
    let out = stdout(&output);
    assert_eq!(
        out.lines().nth(1),
        Some(
            format!(
                "{}: skipped, same content as {} (imported in this run)",
                packed.display(),
                plain.display()
            )
            .as_str()
        ),
        "{out}"
    );
    assert_eq!(seen(&db, "prefchan", 401).await.0, 2);
}

#[tokio::test]
async fn an_import_without_a_single_usable_line_exits_1() {
    // Arrange
    let db = Db::sqlite().await;
    let junk = db.write_log("junk.log", b"<alice> not irc\n\xff\n");

    // Act
    let output = db.chatters(&["import", junk.to_str().expect("utf-8 path")]);

    // Assert
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "chatters: no input held a usable line: nothing imported\n"
    );
    assert_eq!(
        stdout(&output),
        format!(
            "{}: 2 lines, 0 events ingested (no events); skipped: 2 malformed (line 1, 2), \
             0 before any timestamp, 0 unresolved logins; 0 lines without anything to record\n",
            junk.display()
        )
    );
}
