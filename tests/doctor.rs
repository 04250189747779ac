//! `chatters doctor`, run as a user would against the fake Twitch: every check passing on a
//! good setup, and each check failing alone, named, with its fix, and a non-zero exit.

mod support;

use std::net::TcpListener;
use std::path::Path;

use chatters_bot::testing::fake_helix::{CLIENT_ID, CLIENT_SECRET, FakeHelix, FakeToken, FakeUser};
use support::live::SCOPES;
use support::process::{Finished, free_port, run_to_end, vars};
use tempfile::TempDir;

const TOKEN: &str = "doctor-token";

/// The fake Twitch, a listening "IRC" port, a migrated database and the settings of a setup
/// where every check passes.
struct Setup {
    fake: FakeHelix,
    _irc: TcpListener,
    dir: TempDir,
    vars: Vec<(String, String)>,
}

async fn setup(scopes: &[&str]) -> Setup {
    let fake = FakeHelix::start().await.expect("fake Twitch");
    let bot = FakeUser::new("900", "chattersbot");
    fake.add_token(FakeToken::user(TOKEN, "doctor-refresh", &bot, scopes));
    let irc = TcpListener::bind("127.0.0.1:0").expect("bind");
    let irc_url = format!("irc://{}", irc.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut vars = vars(&[
        ("DATABASE_URL", "sqlite://chatters.db"),
        ("TWITCH_IRC_URL", &irc_url),
        ("TWITCH_HELIX_URL", fake.helix_url().as_str()),
        ("TWITCH_OAUTH2_URL", fake.oauth2_url().as_str()),
        ("TWITCH_CLIENT_ID", CLIENT_ID),
        ("TWITCH_CLIENT_SECRET", CLIENT_SECRET),
        ("TWITCH_BOT_LOGIN", "chattersbot"),
        ("TWITCH_BOT_TOKEN", TOKEN),
        ("WEB_ADDR", &format!("127.0.0.1:{port}")),
        ("PUBLIC_BASE_URL", &format!("http://127.0.0.1:{port}")),
    ]);
    if let Ok(redis) = std::env::var("TEST_REDIS_URL") {
        vars.push(("REDIS_URL".to_owned(), redis));
    }
    let migrated = run_to_end(dir.path(), &["migrate"], &vars);
    assert!(migrated.status.success(), "{migrated:?}");
    Setup {
        fake,
        _irc: irc,
        dir,
        vars,
    }
}

impl Setup {
    /// The settings with `changes` applied (an empty value removes the variable).
    fn with(&self, changes: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = self
            .vars
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(name, _)| name == k))
            .cloned()
            .collect();
        for (name, value) in changes {
            if !value.is_empty() {
                vars.push(((*name).to_owned(), (*value).to_owned()));
            }
        }
        vars
    }

    /// `chatters doctor` in a blocking thread (the fake Twitch runs on this runtime).
    async fn doctor(&self, vars: Vec<(String, String)>) -> Finished {
        doctor_in(self.dir.path(), vars).await
    }
}

async fn doctor_in(dir: &Path, vars: Vec<(String, String)>) -> Finished {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || run_to_end(&dir, &["doctor"], &vars))
        .await
        .expect("doctor thread")
}

/// The names of the checks that passed and of those that failed.
fn verdicts(finished: &Finished) -> (Vec<String>, Vec<String>) {
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    for line in finished.stdout.lines() {
        let name = |rest: &str| rest.split(':').next().unwrap_or_default().to_owned();
        if let Some(rest) = line.strip_prefix("✓ ") {
            passed.push(name(rest));
        } else if let Some(rest) = line.strip_prefix("✗ ") {
            failed.push(name(rest));
        } else {
            panic!("a line that is not a check: {line:?}\n{finished:?}");
        }
    }
    (passed, failed)
}

fn line_of<'a>(finished: &'a Finished, check: &str) -> &'a str {
    finished
        .stdout
        .lines()
        .find(|l| l[4..].starts_with(&format!("{check}:")))
        .unwrap_or_else(|| panic!("no {check} line: {finished:?}"))
}

/// Runs the doctor with `changes` and asserts that exactly `check` failed, with a line
/// containing `fix`.
async fn fails_alone(s: &Setup, changes: &[(&str, &str)], check: &str, fix: &str) {
    let finished = s.doctor(s.with(changes)).await;

    let (_, failed) = verdicts(&finished);
    assert_eq!(failed, [check], "{changes:?}: {finished:?}");
    assert_eq!(finished.status.code(), Some(1), "{finished:?}");
    let line = line_of(&finished, check);
    assert!(line.contains(fix), "{line:?} does not say {fix:?}");
    assert!(finished.stderr.contains("1 of "), "{}", finished.stderr);
    assert!(!finished.stdout.contains(TOKEN) && !finished.stderr.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_on_a_good_setup() {
    let s = setup(SCOPES).await;

    let finished = s.doctor(s.vars.clone()).await;

    assert!(finished.status.success(), "{finished:?}");
    let (passed, failed) = verdicts(&finished);
    assert!(failed.is_empty(), "{finished:?}");
    let mut expected = vec!["settings", "database"];
    if std::env::var("TEST_REDIS_URL").is_ok() {
        expected.push("redis");
    }
    expected.extend(["token", "twitch irc", "helix", "web address", "public url"]);
    assert_eq!(passed, expected);
    assert!(line_of(&finished, "token").contains("chattersbot"));
    assert!(line_of(&finished, "database").contains("migrated, writable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_is_named_and_exits_2() {
    let s = setup(SCOPES).await;

    let finished = s.doctor(s.with(&[("SNAPSHOT_INTERVAL", "abc")])).await;

    assert_eq!(finished.status.code(), Some(2));
    assert!(
        finished
            .stdout
            .starts_with("✗ settings: SNAPSHOT_INTERVAL: "),
        "{finished:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmigrated_database_is_named_with_the_fix() {
    let s = setup(SCOPES).await;

    fails_alone(
        &s,
        &[("DATABASE_URL", "sqlite://fresh.db")],
        "database",
        "run `chatters migrate`",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_problems_are_named_with_the_fix() {
    let s = setup(SCOPES).await;
    let narrow = setup(&["chat:read", "chat:edit"]).await;

    fails_alone(
        &s,
        &[("TWITCH_BOT_LOGIN", ""), ("TWITCH_BOT_TOKEN", "")],
        "token",
        "run `chatters login`",
    )
    .await;
    s.fake.revoke_token(TOKEN);
    fails_alone(&s, &[], "token", "run `chatters login` again").await;
    fails_alone(&narrow, &[], "token", "moderator:read:chatters").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_services_are_named() {
    let s = setup(SCOPES).await;
    let closed = free_port();

    fails_alone(
        &s,
        &[("TWITCH_IRC_URL", &format!("irc://127.0.0.1:{closed}"))],
        "twitch irc",
        "TWITCH_IRC_URL",
    )
    .await;
    fails_alone(
        &s,
        &[(
            "TWITCH_HELIX_URL",
            &format!("http://127.0.0.1:{closed}/helix/"),
        )],
        "helix",
        "TWITCH_HELIX_URL",
    )
    .await;
    fails_alone(
        &s,
        &[("REDIS_URL", &format!("redis://127.0.0.1:{closed}"))],
        "redis",
        "REDIS_URL",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_address_and_public_url_problems_are_named() {
    let s = setup(SCOPES).await;
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_addr = taken.local_addr().expect("addr").to_string();
    let closed = free_port();

    fails_alone(
        &s,
        &[("PUBLIC_BASE_URL", &format!("http://127.0.0.1:{closed}"))],
        "public url",
        "unreachable from this host",
    )
    .await;
    fails_alone(
        &s,
        &[("PUBLIC_BASE_URL", "http://0.0.0.0:8080")],
        "public url",
        "set PUBLIC_BASE_URL",
    )
    .await;
    // Another program holds WEB_ADDR (and so PUBLIC_BASE_URL reaches it, not chatters).
    let finished = s
        .doctor(s.with(&[
            ("WEB_ADDR", &taken_addr),
            ("PUBLIC_BASE_URL", &format!("http://127.0.0.1:{closed}")),
        ]))
        .await;
    let (_, failed) = verdicts(&finished);
    assert_eq!(failed, ["web address", "public url"], "{finished:?}");
    assert!(line_of(&finished, "web address").contains("in use by another program"));
    assert_eq!(finished.status.code(), Some(1));
}
