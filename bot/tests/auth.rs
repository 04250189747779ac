//! Twitch credentials against the fake OAuth server: validation at start, refresh after a 401
//! (with the rotated refresh token stored in a real SQLite store), failed refreshes, restarts,
//! scopes, app tokens, and secrets kept out of every error and log line.

mod support;

use chatters_bot::auth::{Auth, AuthConfig, AuthError, AuthMode, BotAccount, REFRESH_TOKEN_STATE};
use chatters_bot::helix::{HelixError, HttpConfig, TwitchHttp};
use chatters_core::domain::UserId;
use support::fake_helix::{
    ALL_SCOPES, CLIENT_ID, CLIENT_SECRET, Endpoint, Failure, FakeHelix, FakeUser, Logs,
    fake_twitch, login, secret, sqlite_store, start, statuses, user_config,
};
use tempfile::TempDir;
use twitch_irc::login::LoginCredentials as _;

#[tokio::test]
async fn a_401_refreshes_the_token_retries_and_stores_the_new_refresh_token() {
    let (logs, _guard) = Logs::capture();
    let dir = TempDir::new().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.add_user(FakeUser::new("3000", "alice"));
    let helix = start(&fake, user_config(), Some(store.clone()))
        .await
        .expect("auth starts");
    fake.revoke_token("tok-a");
    fake.clear_calls();

    let found = helix
        .users_by_login(&[login("alice")])
        .await
        .expect("no error");

    assert_eq!(found[0].login, login("alice"));
    let calls: Vec<(Option<Endpoint>, u16, Option<String>)> = fake
        .calls()
        .into_iter()
        .map(|c| (c.endpoint, c.status, c.authorization))
        .collect();
    assert_eq!(
        calls,
        vec![
            (Some(Endpoint::Users), 401, Some("Bearer tok-a".to_owned())),
            (Some(Endpoint::Token), 200, None),
            (
                Some(Endpoint::Users),
                200,
                Some("Bearer access-1".to_owned())
            ),
        ]
    );
    let refresh = &fake.calls_to(Endpoint::Token)[0];
    assert_eq!(refresh.param("grant_type"), vec!["refresh_token"]);
    assert_eq!(refresh.param("refresh_token"), vec!["ref-a"]);
    assert_eq!(refresh.param("client_id"), vec![CLIENT_ID]);
    assert_eq!(
        store.state(REFRESH_TOKEN_STATE).await.expect("state"),
        Some("refresh-1".to_owned())
    );
    let chat = helix
        .auth()
        .irc_credentials()
        .get_credentials()
        .await
        .expect("credentials");
    assert_eq!(
        (chat.login.as_str(), chat.token.as_deref()),
        ("chattersbot", Some("access-1"))
    );
    assert_eq!(helix.metrics().refreshes, 1);
    let logged = logs.text();
    for secret in ["tok-a", "ref-a", "access-1", "refresh-1", CLIENT_SECRET] {
        assert!(!logged.contains(secret), "{secret} was logged");
    }
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_refresh_token() {
    let dir = TempDir::new().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.add_user(FakeUser::new("3000", "alice"));
    let helix = start(&fake, user_config(), Some(store.clone()))
        .await
        .expect("auth starts");
    fake.revoke_token("tok-a");
    fake.fail_next(Endpoint::Token, 1, Failure::Status(400));

    let failed = helix.users_by_login(&[login("alice")]).await;

    assert_eq!(failed, Err(HelixError::Unauthorized { endpoint: "users" }));
    assert_eq!(store.state(REFRESH_TOKEN_STATE).await.expect("state"), None);
    // The next call refreshes with the same refresh token, which still works.
    let found = helix
        .users_by_login(&[login("alice")])
        .await
        .expect("refreshed");
    assert_eq!(found.len(), 1);
    let used: Vec<Vec<String>> = fake
        .calls_to(Endpoint::Token)
        .iter()
        .map(|c| c.param("refresh_token"))
        .collect();
    assert_eq!(
        used,
        vec![vec!["ref-a".to_owned()], vec!["ref-a".to_owned()]]
    );
    assert_eq!(
        store.state(REFRESH_TOKEN_STATE).await.expect("state"),
        Some("refresh-1".to_owned())
    );
    assert_eq!(helix.metrics().refresh_failures, 1);
}

#[tokio::test]
async fn an_expired_token_at_start_is_refreshed_and_a_restart_uses_the_stored_refresh_token() {
    let dir = TempDir::new().expect("temp dir");
    let store = sqlite_store(&dir).await;
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.revoke_token("tok-a");

    let first = start(&fake, user_config(), Some(store.clone()))
        .await
        .expect("refreshed at start");
    assert_eq!(
        first.auth().bot_account(),
        Some(BotAccount {
            id: UserId(1000),
            login: login("chattersbot")
        })
    );
    // A restart with the same (now stale) settings refreshes with the stored, rotated token.
    let second = start(&fake, user_config(), Some(store.clone()))
        .await
        .expect("restart");

    let used: Vec<Vec<String>> = fake
        .calls_to(Endpoint::Token)
        .iter()
        .map(|c| c.param("refresh_token"))
        .collect();
    assert_eq!(
        used,
        vec![vec!["ref-a".to_owned()], vec!["refresh-1".to_owned()]]
    );
    let chat = second
        .auth()
        .irc_credentials()
        .get_credentials()
        .await
        .expect("credentials");
    assert_eq!(chat.token.as_deref(), Some("access-2"));
    assert_eq!(
        store.state(REFRESH_TOKEN_STATE).await.expect("state"),
        Some("refresh-2".to_owned())
    );
}

#[tokio::test]
async fn an_invalid_token_at_start_is_a_configuration_error() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let without_refresh = AuthConfig {
        bot_token: secret("bogus"),
        refresh_token: None,
        ..user_config()
    };
    let with_bad_refresh = AuthConfig {
        bot_token: secret("bogus"),
        refresh_token: secret("bogus-refresh"),
        ..user_config()
    };

    let plain = start(&fake, without_refresh, None)
        .await
        .expect_err("invalid token");
    let refreshed = start(&fake, with_bad_refresh, None)
        .await
        .expect_err("invalid token");

    assert!(plain.is_config() && refreshed.is_config());
    assert_eq!(
        plain.to_string(),
        "TWITCH_BOT_TOKEN: Twitch rejects the token (invalid, revoked or expired), and it could \
         not be refreshed: the Twitch token cannot be refreshed: TWITCH_BOT_REFRESH_TOKEN is not set"
    );
    assert_eq!(
        refreshed.to_string(),
        "TWITCH_BOT_TOKEN: Twitch rejects the token (invalid, revoked or expired), and it could \
         not be refreshed: refreshing the Twitch token failed: Bad Request - Invalid refresh token"
    );
}

#[tokio::test]
async fn a_token_of_another_account_is_a_configuration_error() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let config = AuthConfig {
        bot_login: Some(login("otherbot")),
        ..user_config()
    };

    let error = start(&fake, config, None).await.expect_err("wrong account");

    assert!(error.is_config());
    assert_eq!(
        error.to_string(),
        "TWITCH_BOT_TOKEN: the token belongs to chattersbot, not to TWITCH_BOT_LOGIN=otherbot"
    );
}

#[tokio::test]
async fn missing_scopes_are_reported_once_and_switch_their_calls_off() {
    let (logs, _guard) = Logs::capture();
    let fake = fake_twitch(&["chat:read", "chat:edit"]).await;
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");

    helix.auth().check().await.expect("hourly validation");
    let chatters = helix.chatters(UserId(2000), UserId(1000)).await;
    let channels = helix.moderated_channels(UserId(1000)).await;

    let auth = helix.auth();
    assert_eq!(
        auth.missing_scopes(),
        vec!["moderator:read:chatters", "user:read:moderated_channels"]
    );
    assert!(auth.has_scope("chat:read") && !auth.has_scope("moderator:read:chatters"));
    assert_eq!(
        chatters,
        Err(HelixError::MissingScope {
            endpoint: "chat/chatters",
            scope: "moderator:read:chatters"
        })
    );
    assert_eq!(
        channels,
        Err(HelixError::MissingScope {
            endpoint: "moderation/channels",
            scope: "user:read:moderated_channels"
        })
    );
    assert_eq!(fake.calls_to(Endpoint::Validate).len(), 2);
    assert!(fake.calls_to(Endpoint::Chatters).is_empty());
    let logged = logs.text();
    let lines = |scope: &str| {
        logged
            .lines()
            .filter(|l| l.contains(&format!("lacks the scope {scope}")))
            .count()
    };
    assert_eq!(lines("moderator:read:chatters"), 1);
    assert_eq!(lines("user:read:moderated_channels"), 1);
    assert_eq!(lines("chat:read"), 0);
}

#[tokio::test]
async fn client_credentials_alone_get_an_app_token_for_users_and_streams() {
    let fake = FakeHelix::start().await.expect("fake Helix starts");
    fake.add_user(FakeUser::new("3000", "alice"));
    let config = AuthConfig {
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: secret(CLIENT_SECRET),
        ..AuthConfig::default()
    };

    let helix = start(&fake, config, None).await.expect("app token");

    assert_eq!(helix.auth().mode(), AuthMode::App);
    let found = helix.users_by_id(&[UserId(3000)]).await.expect("users");
    assert_eq!(found[0].login, login("alice"));
    assert_eq!(helix.streams(&[UserId(3000)]).await, Ok(vec![]));
    assert_eq!(
        helix.chatters(UserId(3000), UserId(3000)).await,
        Err(HelixError::NoUserToken {
            endpoint: "chat/chatters"
        })
    );
    let token = &fake.calls_to(Endpoint::Token)[0];
    assert_eq!(token.param("grant_type"), vec!["client_credentials"]);
    assert_eq!(
        fake.calls_to(Endpoint::Users)[0].authorization.as_deref(),
        Some("Bearer app-1")
    );
    let chat = helix
        .auth()
        .irc_credentials()
        .get_credentials()
        .await
        .expect("credentials");
    assert_eq!((chat.login.as_str(), chat.token), ("justinfan12345", None));
}

#[tokio::test]
async fn secrets_never_appear_in_errors() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let wrong_secret = AuthConfig {
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: secret("wrong-secret"),
        ..AuthConfig::default()
    };
    let bad_refresh = AuthConfig {
        bot_token: secret("bogus"),
        refresh_token: secret("ref-a"),
        ..wrong_secret.clone()
    };
    // A closed port: the token endpoint's URL carries the client secret in its query.
    let closed = TwitchHttp::new(HttpConfig::new(
        "http://127.0.0.1:9/helix/".parse().expect("url"),
        "http://127.0.0.1:9/oauth2/".parse().expect("url"),
    ))
    .expect("client");
    let unreachable = Auth::start(
        AuthConfig {
            client_id: Some(CLIENT_ID.to_owned()),
            client_secret: secret(CLIENT_SECRET),
            ..AuthConfig::default()
        },
        closed,
        None,
    )
    .await
    .expect_err("unreachable");
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    fake.revoke_token("tok-a");
    fake.fail_next(Endpoint::Token, 1, Failure::Status(400));
    let unauthorized = helix
        .users_by_login(&[login("alice")])
        .await
        .expect_err("refresh fails");

    let errors = [
        start(&fake, wrong_secret, None)
            .await
            .expect_err("wrong secret"),
        start(&fake, bad_refresh, None)
            .await
            .expect_err("bad refresh"),
        unreachable.clone(),
    ];
    assert!(matches!(
        unreachable,
        AuthError::Unavailable {
            endpoint: "oauth2/token",
            ..
        }
    ));
    let mut texts: Vec<String> = errors
        .iter()
        .flat_map(|e| [e.to_string(), format!("{e:?}")])
        .collect();
    texts.extend([unauthorized.to_string(), format!("{unauthorized:?}")]);
    texts.extend([
        format!("{:?}", user_config()),
        format!("{:?}", helix.auth().irc_credentials()),
    ]);
    for text in &texts {
        for secret in ["tok-a", "ref-a", "bogus", "wrong-secret", CLIENT_SECRET] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert_eq!(
        errors[0].to_string(),
        "TWITCH_CLIENT_ID/TWITCH_CLIENT_SECRET: Twitch refused an app access token: Forbidden - invalid client secret"
    );
}

#[tokio::test]
async fn the_hourly_check_renews_a_token_twitch_no_longer_accepts() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    fake.revoke_token("tok-a");

    helix.auth().check().await.expect("renewed");

    assert_eq!(statuses(&fake, Endpoint::Validate), vec![200, 401]);
    assert_eq!(statuses(&fake, Endpoint::Token), vec![200]);
    let chat = helix
        .auth()
        .irc_credentials()
        .get_credentials()
        .await
        .expect("credentials");
    assert_eq!(chat.token.as_deref(), Some("access-1"));
}
