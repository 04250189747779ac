//! The dashboard in a real browser: headless Chromium signs in through the fake Twitch OAuth
//! server, opens a channel, sorts and searches the chatter table, changes a setting and sees
//! it stick, creates an API key (used against the API) and revokes it, and downloads an
//! export, with a screenshot of every page under `<target>/tmp/dashboard-screenshots/`.
//! Everything is done through links and forms: the pages have no script.
//!
//! Skipped with a note without `/usr/bin/chromium`, except in CI.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use support::cdp::{Browser, downloaded};
use support::dashboard::{CHAN, Site, moderator};

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// The logins of the chatter table, in page order.
const ROWS: &str =
    "[...document.querySelectorAll('#chatters tr[data-login]')].map(r => r.dataset.login)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderator_uses_the_dashboard_in_a_real_browser() {
    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    let site = Site::start().await;
    site.fake.set_authorizer(Some(moderator()));
    let shots = screenshots();
    let downloads = tempfile::tempdir().expect("download dir");
    browser.download_to(downloads.path()).await;
    let b = &site.base;

    // Sign in: /login → the fake's consent page → /auth/callback → /dashboard.
    browser.goto(&format!("{b}/login")).await;
    assert_eq!(browser.eval("location.pathname").await, json!("/dashboard"));
    browser.screenshot(&shots.join("1-dashboard.png")).await;

    // The channel overview: chart loaded, streams listed.
    browser
        .act(&format!(
            "document.querySelector('a[data-channel=\"{CHAN}\"]').click()"
        ))
        .await;
    let overview = browser
        .eval(
            "(async () => { await Promise.all([...document.images].map(i => i.complete ? null : \
             new Promise(d => { i.onload = d; i.onerror = d; }))); \
             return { chart: document.querySelector('img.chart').naturalWidth, \
             streams: document.querySelectorAll('#streams tr[data-stream]').length, \
             css: getComputedStyle(document.querySelector('main')).maxWidth }; })()",
        )
        .await;
    assert_eq!(overview["chart"], json!(1000), "{overview}");
    assert_eq!(overview["streams"], json!(2), "{overview}");
    assert_eq!(
        overview["css"],
        json!("1100px"),
        "the stylesheet applied under the CSP"
    );
    browser.screenshot(&shots.join("2-channel.png")).await;

    // A stream page.
    browser
        .act("document.querySelector('#streams tr[data-stream] a').click()")
        .await;
    let top = browser
        .eval("document.querySelectorAll('#top li a').length")
        .await;
    assert!(top.as_u64() > Some(0), "top chatters listed");
    browser.screenshot(&shots.join("3-stream.png")).await;

    // The chatter table: default by messages, then login ascending and descending, then search.
    browser
        .act("document.getElementById('nav-chatters').click()")
        .await;
    browser
        .act("document.querySelector('a[data-sort=\"login\"]').click()")
        .await;
    let ascending: Vec<String> = serde_json::from_value(browser.eval(ROWS).await).expect("rows");
    let mut sorted = ascending.clone();
    sorted.sort();
    assert!(ascending.len() > 10, "{ascending:?}");
    assert_eq!(ascending, sorted, "login ascending");
    browser
        .act("document.querySelector('a[data-sort=\"login\"]').click()")
        .await;
    let descending: Vec<String> = serde_json::from_value(browser.eval(ROWS).await).expect("rows");
    sorted.reverse();
    assert_eq!(descending, sorted, "login descending");
    browser
        .act("document.getElementById('search').value = 'newcomer1'; document.getElementById('search-button').click()")
        .await;
    let found: Vec<String> = serde_json::from_value(browser.eval(ROWS).await).expect("rows");
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|l| l.starts_with("newcomer1")),
        "{found:?}"
    );
    browser.screenshot(&shots.join("4-chatters.png")).await;

    // A user page from the table.
    browser
        .act("document.querySelector('#chatters td[data-field=\"login\"] a').click()")
        .await;
    let messages = browser
        .eval("document.querySelector('#user dd[data-field=\"messages\"]').textContent")
        .await;
    assert!(messages.as_str().is_some(), "{messages}");
    browser.screenshot(&shots.join("5-user.png")).await;

    // Account ages.
    browser
        .act("document.getElementById('nav-accounts').click()")
        .await;
    let flagged = browser
        .eval("document.querySelectorAll('#accounts tr.flagged').length")
        .await;
    assert_eq!(
        flagged,
        json!(1),
        "the scripted channel has one flagged day"
    );
    browser.screenshot(&shots.join("6-accounts.png")).await;

    // Settings: switch the public page off; it sticks after a reload.
    browser
        .act("document.getElementById('nav-settings').click()")
        .await;
    browser
        .act("const f = document.getElementById('set-public_page'); f.querySelector('select').value = 'off'; f.requestSubmit()")
        .await;
    assert!(browser.eval("!!document.getElementById('saved')").await == json!(true));
    browser
        .goto(&format!("{b}/dashboard/c/{CHAN}/settings"))
        .await;
    let public = browser
        .eval("document.querySelector('#set-public_page select').value")
        .await;
    assert_eq!(public, json!("off"), "the setting sticks");
    browser.screenshot(&shots.join("7-settings.png")).await;

    // An API key: shown once, works, then revoked.
    browser
        .act("const f = document.getElementById('create-key'); f.querySelector('input[name=label]').value = 'browser'; f.requestSubmit()")
        .await;
    let key = browser
        .eval("document.getElementById('api-key').textContent")
        .await;
    let key = key.as_str().expect("the key is shown").to_owned();
    browser.screenshot(&shots.join("8-api-key.png")).await;
    let api = |key: String| async move {
        reqwest::Client::new()
            .get(format!("{b}/api/v1/channels/{CHAN}/streams"))
            .bearer_auth(key)
            .send()
            .await
            .expect("API")
            .status()
    };
    assert_eq!(api(key.clone()).await, reqwest::StatusCode::OK);
    browser
        .goto(&format!("{b}/dashboard/c/{CHAN}/settings"))
        .await;
    assert_eq!(
        browser
            .eval(&format!("document.body.textContent.includes({key:?})"))
            .await,
        json!(false),
        "the key is shown only once"
    );
    browser
        .act("document.querySelector('button.revoke').click()")
        .await;
    let state: Value = browser
        .eval("document.querySelector('#keys td[data-field=\"state\"]').textContent")
        .await;
    assert!(
        state.as_str().is_some_and(|s| s.starts_with("revoked")),
        "{state}"
    );
    assert_eq!(api(key).await, reqwest::StatusCode::UNAUTHORIZED);
    browser.screenshot(&shots.join("9-revoked.png")).await;

    // An export download (CSV, with a window).
    browser
        .eval("const f = document.getElementById('export'); f.querySelector('input[name=since]').value = '30d'; f.requestSubmit(); true")
        .await;
    let csv = downloaded(downloads.path(), &format!("{CHAN}-chatters.csv")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&csv).expect("read export");
    assert!(
        text.starts_with(
            "user_id,login,display_name,first_seen,last_seen,messages,streams_attended"
        ),
        "{text}"
    );
    assert!(text.lines().count() > 20, "{text}");

    // Sign out: the dashboard asks Twitch again (declined this time).
    browser
        .act("document.getElementById('logout').click()")
        .await;
    assert_eq!(browser.eval("location.pathname").await, json!("/"));
    site.fake.set_authorizer(None);
    browser.goto(&format!("{b}/dashboard")).await;
    let title = browser
        .eval("document.querySelector('h1').textContent")
        .await;
    assert_eq!(title, json!("Sign-in cancelled"));
    drop(browser);
    site.stop().await;
}
