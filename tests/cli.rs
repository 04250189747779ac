//! The `chatters` binary, run as a user would: in a fresh directory with a cleared environment.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// What a finished run printed.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// `chatters <args>` in `dir`, with only PATH, HOME and `vars` in its environment.
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

/// Waits for a child, killing it (and failing the test) after `limit`.
fn finish(mut child: Child, limit: Duration) -> Finished {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().expect("reader").unwrap_or_default();
            panic!("chatters still running after {limit:?}; stderr:\n{stderr}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: out.join().expect("reader").expect("utf-8 stdout"),
        stderr: err.join().expect("reader").expect("utf-8 stderr"),
    }
}

fn run_to_end(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Finished {
    let child = chatters(dir, args, vars).spawn().expect("start chatters");
    finish(child, Duration::from_secs(60))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `GET /healthz` over a raw HTTP/1.0 connection: the status line and body, if it answered.
fn healthz(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// Starts `chatters <args>` on a free port, waits for a healthy `/healthz`, sends `signal`, and
/// returns how it ended.
fn serve_then_signal(args: &[&str], signal: &str) -> (TempDir, Finished) {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = chatters(dir.path(), args, &[("WEB_ADDR", &addr)])
        .spawn()
        .expect("start chatters");

    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        match healthz(port) {
            Some(answer) => break answer,
            None if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            None => {
                let _ = Command::new("kill")
                    .args(["-KILL", &child.id().to_string()])
                    .status();
                let finished = finish(child, Duration::from_secs(10));
                panic!("no answer on {addr} within 10 s: {finished:?}");
            }
        }
    };
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    // Twitch is not reachable from here: chat may be "degraded", the database must be ok.
    assert!(answer.contains(r#""database":"ok""#), "{answer}");
    assert!(dir.path().join("chatters.db").is_file());

    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let finished = finish(child, Duration::from_secs(30));
    (dir, finished)
}

#[test]
fn bad_settings_exit_2_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("SNAPSHOT_INTERVAL", "abc"),
        ("DATABASE_URL", "bogus://x"),
        ("WEB_ADDR", "nope"),
        ("TWITCH_IRC_URL", "http://x"),
        ("LOG", "info,chatters=loud"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");

        let finished = run_to_end(dir.path(), &["run"], &[(var, value)]);

        assert_eq!(
            finished.status.code(),
            Some(2),
            "{var}={value}: {finished:?}"
        );
        let lines: Vec<&str> = finished.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{var}={value}: {finished:?}");
        assert!(
            lines[0].starts_with(&format!("chatters: {var}: ")),
            "{lines:?}"
        );
        assert!(
            !dir.path().join("chatters.db").exists(),
            "{var}: started anyway"
        );
    }
}

#[test]
fn secrets_are_not_repeated_in_settings_errors() {
    let dir = tempfile::tempdir().expect("temp dir");

    let finished = run_to_end(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", "bogus://root:hunter2@db/chatters")],
    );

    assert_eq!(finished.status.code(), Some(2));
    assert!(!finished.stderr.contains("hunter2"), "{}", finished.stderr);
}

#[test]
fn settings_are_read_from_dot_env() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(".env"), "# comment\nWEB_ADDR=nope\n").expect("write .env");

    let finished = run_to_end(dir.path(), &["run"], &[]);

    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    assert!(
        finished.stderr.starts_with("chatters: WEB_ADDR: "),
        "{finished:?}"
    );
}

#[test]
fn a_malformed_dot_env_exits_2_without_showing_the_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join(".env"), "LOG=info\nTOKEN='hunter2\n").expect("write .env");

    let finished = run_to_end(dir.path(), &["migrate"], &[]);

    assert_eq!(finished.status.code(), Some(2), "{finished:?}");
    assert_eq!(finished.stderr.lines().count(), 1, "{finished:?}");
    assert!(
        finished.stderr.starts_with("chatters: .env: line 2 "),
        "{finished:?}"
    );
    assert!(!finished.stderr.contains("hunter2"), "{finished:?}");
}

#[test]
fn run_serves_healthz_and_stops_cleanly_on_sigterm() {
    let (_dir, finished) = serve_then_signal(&["run"], "-TERM");

    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
}

#[test]
fn run_is_the_default_and_stops_cleanly_on_sigint() {
    let (_dir, finished) = serve_then_signal(&[], "-INT");

    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
}

#[test]
fn web_alone_serves_healthz_and_stops_cleanly() {
    let (_dir, finished) = serve_then_signal(&["web"], "-TERM");

    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
}

#[test]
fn bot_alone_starts_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("chatters.db");
    let child = chatters(dir.path(), &["bot"], &[])
        .spawn()
        .expect("start chatters");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !db.is_file() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    // Give it time to get past migrations and start ingestion.
    thread::sleep(Duration::from_millis(500));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    let finished = finish(child, Duration::from_secs(30));

    assert!(killed.success());
    assert!(db.is_file());
    assert_eq!(finished.status.code(), Some(0), "{finished:?}");
}

#[test]
fn channels_are_added_listed_and_removed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();

    let added = run_to_end(dir, &["channel", "add", "Forsen"], &[]);
    let listed = run_to_end(dir, &["channel", "list"], &[]);
    let removed = run_to_end(dir, &["channel", "remove", "forsen"], &[]);
    let listed_after = run_to_end(dir, &["channel", "list"], &[]);
    let removed_again = run_to_end(dir, &["channel", "remove", "forsen"], &[]);
    let bad = run_to_end(dir, &["channel", "add", "bad login"], &[]);

    assert!(added.status.success(), "{added:?}");
    assert_eq!(added.stdout, "added forsen\n");
    assert!(listed.status.success(), "{listed:?}");
    let row: Vec<&str> = listed.stdout.split_whitespace().collect();
    assert_eq!(row.len(), 3, "{listed:?}");
    assert_eq!(row[..2], ["forsen", "-"]);
    assert!(row[2].ends_with('Z') && row[2].contains('T'), "{row:?}");
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(removed.stdout, "removed forsen\n");
    assert!(listed_after.status.success(), "{listed_after:?}");
    assert_eq!(listed_after.stdout, "");
    assert_eq!(removed_again.status.code(), Some(1), "{removed_again:?}");
    assert_eq!(removed_again.stderr, "chatters: forsen was not tracked\n");
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(bad.stderr.contains("bad login"), "{bad:?}");
}

#[test]
fn migrate_creates_the_database_and_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");

    let finished = run_to_end(dir.path(), &["migrate"], &[]);

    assert!(finished.status.success(), "{finished:?}");
    assert!(dir.path().join("chatters.db").is_file());
}

#[test]
fn import_of_a_missing_file_exits_1_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let finished = run_to_end(dir.path(), &["import", "chat.log"], &[]);

    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stderr
            .starts_with("chatters: cannot read chat.log: "),
        "{finished:?}"
    );
    assert_eq!(finished.stderr.lines().count(), 1, "{finished:?}");
    assert!(
        !dir.path().join("chatters.db").exists(),
        "nothing was opened"
    );
}

#[test]
fn channel_set_changes_a_tracked_channel_and_refuses_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let before = run_to_end(
        dir.path(),
        &["channel", "set", "forsen", "public_page", "off"],
        &[],
    );
    assert_eq!(before.status.code(), Some(1), "{before:?}");
    assert!(
        before
            .stderr
            .contains("forsen is not tracked: add it first"),
        "{}",
        before.stderr
    );

    assert!(
        run_to_end(dir.path(), &["channel", "add", "forsen"], &[])
            .status
            .success()
    );
    let set = run_to_end(
        dir.path(),
        &["channel", "set", "forsen", "public_page", "off"],
        &[],
    );
    assert!(set.status.success(), "{set:?}");
    assert_eq!(set.stdout, "forsen: public_page = off\n");
    let bot = run_to_end(
        dir.path(),
        &["channel", "set", "forsen", "bots.add", "@MyBot"],
        &[],
    );
    assert_eq!(bot.stdout, "forsen: mybot is a known bot here\n");
    let hook = run_to_end(
        dir.path(),
        &[
            "channel",
            "set",
            "forsen",
            "discord_webhook",
            "https://discord.com/api/webhooks/1/s3cret",
        ],
        &[],
    );
    assert_eq!(hook.stdout, "forsen: discord_webhook set (hidden)\n");
    assert!(!hook.stderr.contains("s3cret"));
    let bad = run_to_end(
        dir.path(),
        &["channel", "set", "forsen", "colour", "blue"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        bad.stderr
            .starts_with("chatters: unknown setting \"colour\""),
        "{}",
        bad.stderr
    );
}
