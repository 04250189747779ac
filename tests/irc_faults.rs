//! Twitch IRC misbehaving: a rejected login, an unreachable server, and what the logs say about
//! them (never the token, at most one warning per streak of failures).

mod support;

use std::time::Duration;

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_helix::FakeHelix;
use chatters_bot::testing::process_vars;
use support::live::{TOKEN, WAIT, eventually, fake_twitch_users, start_bot};
use support::process::{Running, chatters};

/// A free port on 127.0.0.1 (bound then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A revoked token at 3 a.m. must not take the web half down: the process keeps serving, retries
/// the login with backoff, and chats again once Twitch accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_login_stops_nothing_and_is_retried_until_accepted() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    fake_twitch_users(&helix);
    irc.set_fail_logins(true);

    let bot = start_bot(&irc, &helix, &[]).await;

    // Rejected, then tried again after the backoff (1 s, then 2 s).
    let logins = |s: &chatters_bot::irc::fake::State| s.count_sent(|l| l.starts_with("NICK "));
    assert!(
        irc.wait_for(WAIT, |s| logins(s) >= 2).await,
        "the login is retried"
    );
    assert!(!bot.process.is_finished(), "the process keeps running");
    let healthz = format!("http://{}/healthz", bot.web_addr);
    let answer = reqwest::get(&healthz).await.expect("GET /healthz");
    assert_eq!(answer.status(), 200, "the web half still answers");
    let health: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["database"], "ok", "{health}");
    assert!(
        health["irc"]
            .as_str()
            .is_some_and(|irc| irc.starts_with("login rejected")),
        "{health}"
    );
    assert!(
        irc.state().joined("chan").is_empty(),
        "nothing joined while the login is rejected"
    );

    // The token works again (refreshed, or Twitch recovered): chat resumes by itself.
    irc.set_fail_logins(false);
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "#chan joined once the login is accepted"
    );
    eventually("/healthz to report chat ok again", || async {
        let Ok(answer) = reqwest::get(&healthz).await else {
            return false;
        };
        let health: serde_json::Value = answer.json().await.unwrap_or_default();
        health["irc"] == "ok" && health["status"] == "ok"
    })
    .await;
    assert!(!bot.process.is_finished(), "the process kept running");
    bot.stop().await;
}

/// `LOG=trace` shows twitch-irc's wire traffic in most tools; here the bot's token must never
/// reach the log, whatever the level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_never_logged_even_at_trace() {
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    fake_twitch_users(&helix);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars = process_vars(&irc, &helix, "chattersbot", TOKEN);
    vars.extend([
        ("LOG".to_owned(), "trace".to_owned()),
        ("WEB_ADDR".to_owned(), format!("127.0.0.1:{}", free_port())),
        (
            "TWITCH_BOT_REFRESH_TOKEN".to_owned(),
            "bot-refresh".to_owned(),
        ),
    ]);
    let mut bot = Running::spawn(chatters(dir.path(), &["run"], &vars));

    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "#chan joined"
    );
    assert!(
        irc.state()
            .count_sent(|l| l == format!("PASS oauth:{TOKEN}"))
            >= 1,
        "the token was sent to Twitch"
    );
    assert!(bot.running());
    bot.signal("-TERM");
    let finished = bot.finish(Duration::from_secs(30));

    assert!(finished.status.success(), "{finished:?}");
    assert!(
        finished.stderr.contains("TRACE"),
        "trace logging is on: {}",
        &finished.stderr[..finished.stderr.len().min(2000)]
    );
    assert!(
        !finished.stderr.contains(TOKEN),
        "the token is in the log:\n{}",
        finished
            .stderr
            .lines()
            .filter(|l| l.contains(TOKEN))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Twitch IRC unreachable for a while: retries back off (1 s, 2 s, 4 s …) and the log says so
/// once, not two errors every two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_irc_server_is_retried_quietly_with_backoff() {
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    fake_twitch_users(&helix);
    let closed_port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars = process_vars(&irc, &helix, "chattersbot", TOKEN);
    vars.retain(|(k, _)| k != "TWITCH_IRC_URL");
    vars.extend([
        (
            "TWITCH_IRC_URL".to_owned(),
            format!("irc://127.0.0.1:{closed_port}"),
        ),
        ("WEB_ADDR".to_owned(), format!("127.0.0.1:{}", free_port())),
        (
            "TWITCH_BOT_REFRESH_TOKEN".to_owned(),
            "bot-refresh".to_owned(),
        ),
    ]);
    let mut bot = Running::spawn(chatters(dir.path(), &["run"], &vars));

    // Attempts at about 0, 1, 3 and 7 s: four within 8 s, where a fixed 2 s retry makes five.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(bot.running(), "the process keeps running");
    bot.signal("-TERM");
    let finished = bot.finish(Duration::from_secs(30));

    assert!(finished.status.success(), "{finished:?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    let errors: Vec<&&str> = lines.iter().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "no error lines: {errors:#?}");
    let warnings: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("Twitch IRC"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning for the streak: {lines:#?}");
    assert!(
        warnings[0].contains("cannot reach Twitch IRC"),
        "{}",
        warnings[0]
    );
}
