//! The dashboard end to end against the fake Twitch OAuth/Helix server: sign-in
//! round trip, `state` bound to the browser, who sees which channel, CSRF on every POST,
//! server-side sign-out, the 10-minute life of the moderated-channels list, "track my
//! channel", sessions shared by two web instances through Redis, and the page without
//! credentials.

mod support;

use chatters_bot::testing::fake_helix::{Endpoint, FakeUser};
use chatters_core::domain::Login;
use chatters_core::testing::TestDb;
use reqwest::StatusCode;
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use support::dashboard::{CHAN, Client, OTHER, Site, admin, moderator, stranger};

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn signing_in_through_twitch_lands_on_the_dashboard_with_a_server_side_session() {
    let site = Site::start().await;
    let mut browser = Client::new();

    let login = browser.get(&format!("{}/login", site.base)).await;
    let authorize = url::Url::parse(login.location()).expect("authorize URL");
    let query: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(authorize.path(), "/oauth2/authorize");
    assert_eq!(query["scope"], "user:read:moderated_channels");
    assert_eq!(
        query["redirect_uri"],
        format!("{}/auth/callback", site.base)
    );
    assert_eq!(query["state"].len(), 64);
    site.fake.set_authorizer(Some(moderator()));
    let consent = browser.get(login.location()).await;
    let callback = browser.get(consent.location()).await;

    assert_eq!(callback.status, StatusCode::SEE_OTHER, "{}", callback.body);
    assert_eq!(callback.location(), "/dashboard");
    let session_cookie = browser
        .set_cookies
        .iter()
        .find(|c| c.starts_with("chatters_session="))
        .expect("session cookie")
        .clone();
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert!(session_cookie.contains("SameSite=Lax"), "{session_cookie}");
    assert!(
        !session_cookie.contains("Secure"),
        "plain http: {session_cookie}"
    );
    assert!(
        !browser.jar.contains_key("chatters_oauth"),
        "state cookie cleared"
    );
    let id = browser.jar["chatters_session"].clone();
    assert_eq!(id.len(), 64, "256 random bits");
    let stored = site
        .db
        .count("web_sessions", &format!("id_hash = '{}'", hex_sha256(&id)))
        .await;
    assert_eq!(stored, 1, "stored by its SHA-256");
    assert_eq!(
        site.db
            .count("web_sessions", &format!("id_hash = '{id}'"))
            .await,
        0
    );
    let endpoints: Vec<Option<Endpoint>> = site.fake.calls().iter().map(|c| c.endpoint).collect();
    assert!(endpoints.contains(&Some(Endpoint::Token)));
    assert!(endpoints.contains(&Some(Endpoint::Validate)));
    assert!(endpoints.contains(&Some(Endpoint::ModeratedChannels)));

    let home = browser.get(&format!("{}/dashboard", site.base)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains(&format!("data-channel=\"{CHAN}\"")),
        "{}",
        home.body
    );
    assert!(!home.body.contains(&format!("data-channel=\"{OTHER}\"")));
    assert!(
        home.body.contains("Track my channel"),
        "own channel untracked"
    );
    assert!(
        home.body.contains("/mod"),
        "explains how to make the bot a moderator"
    );
    let csp = home.header("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        !csp.contains("script-src") || !csp.contains("'unsafe"),
        "{csp}"
    );
    assert_eq!(home.header("x-content-type-options"), "nosniff");
    assert_eq!(home.header("referrer-policy"), "same-origin");
    assert_eq!(home.header("cache-control"), "no-store");
    site.stop().await;
}

#[tokio::test]
async fn a_callback_whose_state_is_not_this_browsers_is_rejected() {
    let site = Site::start().await;
    site.fake.set_authorizer(Some(moderator()));
    let mut victim = Client::new();
    let login = victim.get(&format!("{}/login", site.base)).await;
    let consent = victim.get(login.location()).await;
    let callback = url::Url::parse(consent.location()).expect("callback URL");
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");

    let forged = victim
        .get(&format!(
            "{}/auth/callback?code={code}&state={}",
            site.base,
            "0".repeat(64)
        ))
        .await;
    let mut attacker = Client::new();
    let replayed = attacker.get(callback.as_str()).await;

    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST, "no state cookie");
    assert!(!victim.jar.contains_key("chatters_session"));
    assert!(!attacker.jar.contains_key("chatters_session"));
    assert_eq!(site.db.count("web_sessions", "1 = 1").await, 0);
    let token_calls = site.fake.calls_to(Endpoint::Token).len();
    assert_eq!(token_calls, 0, "the code is never exchanged");
    site.stop().await;
}

#[tokio::test]
async fn a_moderator_sees_exactly_their_channels_and_gets_403_elsewhere() {
    let site = Site::start().await;
    let mut mia = Client::new();
    mia.sign_in(&site.base, &site.fake, &moderator()).await;
    let b = &site.base;

    for path in [
        format!("/dashboard/c/{CHAN}"),
        format!("/dashboard/c/{CHAN}/chatters"),
        format!("/dashboard/c/{CHAN}/chatters?sort=login&dir=asc&q=new"),
        format!("/dashboard/c/{CHAN}/accounts?since=30d"),
        format!("/dashboard/c/{CHAN}/settings"),
        format!("/dashboard/c/{CHAN}/users/regular1"),
        format!(
            "/dashboard/c/{CHAN}/streams/{}",
            chatters_core::testing::FIRST_STREAM
        ),
    ] {
        let page = mia.get(&format!("{b}{path}")).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
    }
    let chart = mia.get(&format!("{b}/dashboard/c/{CHAN}/chart.png")).await;
    assert_eq!(chart.status, StatusCode::OK);
    assert_eq!(chart.header("content-type"), "image/png");
    for path in [
        format!("/dashboard/c/{OTHER}"),
        format!("/dashboard/c/{OTHER}/chatters"),
        format!("/dashboard/c/{OTHER}/settings"),
        format!("/dashboard/c/{OTHER}/export?format=csv"),
        format!("/dashboard/c/{OTHER}/chart.png"),
        "/dashboard/c/nosuchchannel".to_owned(),
    ] {
        let page = mia.get(&format!("{b}{path}")).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    let csrf = mia.get(&format!("{b}/dashboard")).await.csrf();
    let post = mia
        .post(
            &format!("{b}/dashboard/c/{OTHER}/settings"),
            &[("csrf", &csrf), ("key", "public_page"), ("value", "off")],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);

    let mut rob = Client::new();
    rob.sign_in(b, &site.fake, &stranger()).await;
    let home = rob.get(&format!("{b}/dashboard")).await;
    assert!(home.body.contains("id=\"no-channels\""), "{}", home.body);
    assert_eq!(
        rob.get(&format!("{b}/dashboard/c/{CHAN}")).await.status,
        StatusCode::FORBIDDEN
    );

    let mut boss = Client::new();
    boss.sign_in(b, &site.fake, &admin()).await;
    let home = boss.get(&format!("{b}/dashboard")).await;
    assert!(home.body.contains(&format!("data-channel=\"{OTHER}\"")));
    assert!(home.body.contains(&format!("data-channel=\"{CHAN}\"")));
    assert_eq!(
        boss.get(&format!("{b}/dashboard/c/{OTHER}")).await.status,
        StatusCode::OK
    );
    site.stop().await;
}

#[tokio::test]
async fn posts_without_or_with_a_wrong_csrf_token_change_nothing() {
    let site = Site::start().await;
    let mut mia = Client::new();
    mia.sign_in(&site.base, &site.fake, &moderator()).await;
    let url = format!("{}/dashboard/c/{CHAN}/settings", site.base);
    let csrf = mia.get(&url).await.csrf();

    let without = mia
        .post(&url, &[("key", "public_page"), ("value", "off")])
        .await;
    let wrong = mia
        .post(
            &url,
            &[
                ("csrf", &"f".repeat(64)),
                ("key", "public_page"),
                ("value", "off"),
            ],
        )
        .await;
    let stored = site
        .db
        .count("channel_settings", "name = 'public_page'")
        .await;
    let no_key = mia
        .post(
            &format!("{}/dashboard/c/{CHAN}/apikeys", site.base),
            &[("label", "x")],
        )
        .await;
    let no_logout = mia.post(&format!("{}/logout", site.base), &[]).await;
    let right = mia
        .post(
            &url,
            &[("csrf", &csrf), ("key", "public_page"), ("value", "off")],
        )
        .await;

    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(no_key.status, StatusCode::FORBIDDEN);
    assert_eq!(no_logout.status, StatusCode::FORBIDDEN);
    assert_eq!(stored, 0, "nothing saved before the right token");
    assert_eq!(site.db.count("api_keys", "1 = 1").await, 0);
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    let after = mia.get(&url).await;
    assert!(
        after
            .body
            .contains("<option value=\"off\" selected>off</option>"),
        "the setting sticks"
    );
    site.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let site = Site::start().await;
    let mut mia = Client::new();
    mia.sign_in(&site.base, &site.fake, &moderator()).await;
    let stolen = mia.jar["chatters_session"].clone();
    let csrf = mia.get(&format!("{}/dashboard", site.base)).await.csrf();

    let out = mia
        .post(&format!("{}/logout", site.base), &[("csrf", &csrf)])
        .await;
    let mut replay = Client::new();
    replay.jar.insert("chatters_session".to_owned(), stolen);
    let after = replay.get(&format!("{}/dashboard", site.base)).await;

    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/");
    assert!(!mia.jar.contains_key("chatters_session"), "cookie cleared");
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/login?next=%2Fdashboard");
    assert_eq!(site.db.count("web_sessions", "1 = 1").await, 0);
    site.stop().await;
}

#[tokio::test]
async fn the_moderated_channels_list_is_read_again_after_ten_minutes() {
    let site = Site::start().await;
    let mut mia = Client::new();
    mia.sign_in(&site.base, &site.fake, &moderator()).await;
    let page = format!("{}/dashboard/c/{CHAN}", site.base);
    assert_eq!(mia.get(&page).await.status, StatusCode::OK);
    // Mia is no longer a moderator of the channel; eleven minutes pass.
    site.fake.set_moderated_channels(&moderator().id, vec![]);
    sqlx_exec(
        &site.db,
        "UPDATE web_sessions SET channels_at = channels_at - 660",
    )
    .await;

    let again = mia.get(&page).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        again.location(),
        format!("/login?next=%2Fdashboard%2Fc%2F{CHAN}")
    );
    let login = mia.get(&format!("{}{}", site.base, again.location())).await;
    let consent = mia.get(login.location()).await;
    let back = mia.get(consent.location()).await;
    assert_eq!(back.location(), format!("/dashboard/c/{CHAN}"));
    assert_eq!(mia.get(&page).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        site.db.count("web_sessions", "1 = 1").await,
        1,
        "the old session ended"
    );
    site.stop().await;
}

async fn sqlx_exec(db: &TestDb, sql: &str) {
    let pool = sqlx::SqlitePool::connect(&db.url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await
        .expect("update");
    pool.close().await;
}

#[tokio::test]
async fn a_broadcaster_tracks_their_channel_and_the_bot_is_asked_to_join_it() {
    let site = Site::start().await;
    let streamer = FakeUser::new("4100", "newstreamer");
    let mut s = Client::new();
    s.sign_in(&site.base, &site.fake, &streamer).await;
    let csrf = s.get(&format!("{}/dashboard", site.base)).await.csrf();

    let tracked = s
        .post(
            &format!("{}/dashboard/track", site.base),
            &[("csrf", &csrf)],
        )
        .await;

    assert_eq!(tracked.status, StatusCode::SEE_OTHER);
    assert_eq!(tracked.location(), "/dashboard/c/newstreamer");
    let channels = site.db.store.channels().await.expect("channels");
    let row = channels
        .iter()
        .find(|c| c.login == Login::parse("newstreamer").expect("login"))
        .expect("stored");
    assert!(
        row.wanted,
        "wanted: the scheduler joins it (as `chatters channel add`)"
    );
    let page = s
        .get(&format!("{}/dashboard/c/newstreamer", site.base))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let home = s.get(&format!("{}/dashboard", site.base)).await;
    assert!(!home.body.contains("Track my channel"));
    site.stop().await;
}

#[tokio::test]
async fn sessions_are_shared_by_two_web_instances_through_redis() {
    let Some(redis) = chatters_core::testing::server_url("TEST_REDIS_URL") else {
        return;
    };
    let redis = SecretString::from(redis);
    let site = Site::start_on(TestDb::sqlite().await, Some(redis.clone())).await;
    let second = site.another_instance(Some(redis.clone())).await;
    let mut mia = Client::new();

    mia.sign_in(&site.base, &site.fake, &moderator()).await;
    let id = mia.jar["chatters_session"].clone();
    let on_second = mia.get(&format!("{second}/dashboard/c/{CHAN}")).await;
    let csrf = on_second.csrf();
    let out = mia
        .post(&format!("{second}/logout"), &[("csrf", &csrf)])
        .await;

    assert_eq!(on_second.status, StatusCode::OK, "{}", on_second.body);
    assert_eq!(
        site.db.count("web_sessions", "1 = 1").await,
        0,
        "kept in Redis, not the database"
    );
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let mut replay = Client::new();
    replay.jar.insert("chatters_session".to_owned(), id);
    let first_after = replay.get(&format!("{}/dashboard", site.base)).await;
    assert_eq!(
        first_after.status,
        StatusCode::SEE_OTHER,
        "ended on both instances"
    );
    site.stop().await;
}

#[tokio::test]
async fn without_app_credentials_the_dashboard_says_what_to_configure() {
    let db = TestDb::sqlite().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = chatters_web::AppState::new(db.store.clone());
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(chatters_web::serve(listener, state, stop.clone()));
    let mut c = Client::new();

    for path in ["/login", "/dashboard", "/dashboard/c/chan"] {
        let page = c.get(&format!("{base}{path}")).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(page.body.contains("TWITCH_CLIENT_ID"), "{}", page.body);
        assert!(page.body.contains("TWITCH_CLIENT_SECRET"));
        assert!(
            page.body.contains("auth&#x2f;callback"),
            "the redirect URL to register"
        );
    }
    stop.cancel();
    db.cleanup().await;
}
