//! Helix calls against the fake Twitch server: pagination, batching, retries (429, 5xx,
//! unparsable bodies), 403, pacing to the real rate-limit bucket, and values that do not parse.

mod support;

use std::time::{Duration, UNIX_EPOCH};

use chatters_bot::auth::{AuthConfig, AuthMode};
use chatters_bot::helix::{
    Chatters, HelixError, HelixUser, LiveStream, RetryPolicy, TransportKind,
};
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::UserRef;
use support::fake_helix::{
    ALL_SCOPES, CLIENT_ID, Endpoint, Failure, FakeHelix, FakeStream, FakeToken, FakeUser, bot,
    fake_twitch, login, start, statuses, user_config, users,
};

#[tokio::test]
async fn chatters_follow_three_pages_of_1000() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let broadcaster = FakeUser::new("2000", "streamer");
    fake.set_moderated_channels("1000", vec![broadcaster.clone()]);
    fake.set_chatters("2000", users("viewer", 10_000, 2500));
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");

    let chatters = helix
        .chatters(UserId(2000), UserId(1000))
        .await
        .expect("snapshot");

    assert_eq!(chatters.total, 2500);
    assert_eq!(chatters.users.len(), 2500);
    assert_eq!(
        chatters.users[0],
        UserRef {
            id: UserId(10_000),
            login: login("viewer0"),
            display_name: Some("viewer0".to_owned())
        }
    );
    assert_eq!(chatters.users[2499].id, UserId(12_499));
    let calls = fake.calls_to(Endpoint::Chatters);
    let pages: Vec<(Vec<String>, Vec<String>)> = calls
        .iter()
        .map(|c| (c.param("first"), c.param("after")))
        .collect();
    let thousand = vec!["1000".to_owned()];
    assert_eq!(
        pages,
        vec![
            (thousand.clone(), vec![]),
            (thousand.clone(), vec!["cursor-1000".to_owned()]),
            (thousand, vec!["cursor-2000".to_owned()]),
        ]
    );
    assert_eq!(calls[0].param("broadcaster_id"), vec!["2000"]);
    assert_eq!(calls[0].param("moderator_id"), vec!["1000"]);
    assert_eq!(calls[0].authorization.as_deref(), Some("Bearer tok-a"));
    assert_eq!(calls[0].client_id.as_deref(), Some(CLIENT_ID));
}

#[tokio::test]
async fn moderated_channels_follow_three_pages() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.set_moderated_channels("1000", users("channel", 5000, 250));
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");

    let channels = helix
        .moderated_channels(UserId(1000))
        .await
        .expect("channels");

    let expected: Vec<(UserId, Login)> = (0..250)
        .map(|i| (UserId(5000 + i), login(&format!("channel{i}"))))
        .collect();
    assert_eq!(channels, expected);
    let after: Vec<Vec<String>> = fake
        .calls_to(Endpoint::ModeratedChannels)
        .iter()
        .map(|c| c.param("after"))
        .collect();
    assert_eq!(
        after,
        vec![
            vec![],
            vec!["cursor-100".to_owned()],
            vec!["cursor-200".to_owned()]
        ]
    );
}

#[tokio::test]
async fn a_failure_on_any_page_fails_the_whole_snapshot() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.set_moderated_channels("1000", vec![FakeUser::new("2000", "streamer")]);
    fake.set_chatters("2000", users("viewer", 10_000, 1500));
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    let helix = helix.with_retry(RetryPolicy {
        attempts: 2,
        ..RetryPolicy::default()
    });
    // Page 1 succeeds; page 2 fails on both attempts.
    fake.fail_after(Endpoint::Chatters, 1, 2, Failure::Status(503));

    let result = helix.chatters(UserId(2000), UserId(1000)).await;

    assert_eq!(
        result,
        Err(HelixError::Server {
            endpoint: "chat/chatters",
            status: 503
        })
    );
    assert_eq!(statuses(&fake, Endpoint::Chatters), vec![200, 503, 503]);
    assert_eq!(helix.metrics().failures.get("chat/chatters"), Some(&1));
}

#[tokio::test]
async fn a_429_waits_for_the_reset_and_then_succeeds() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.add_user(FakeUser::new("3000", "alice"));
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    fake.fail_next(Endpoint::Users, 1, Failure::RateLimited);

    let found = helix
        .users_by_login(&[login("alice")])
        .await
        .expect("no error");

    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, UserId(3000));
    let calls = fake.calls_to(Endpoint::Users);
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        vec![429, 200]
    );
    // The 429 said: reset at the next whole second.
    let first = calls[0]
        .at
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let reset = UNIX_EPOCH + Duration::from_secs(first + 1);
    assert!(calls[1].at >= reset, "retried before Ratelimit-Reset");
    assert_eq!(helix.metrics().count("users", "429"), 1);
    assert_eq!(helix.metrics().count("users", "200"), 1);
}

#[tokio::test]
async fn a_500_is_retried_and_then_succeeds() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let streamer = FakeUser::new("2000", "streamer");
    fake.set_stream(FakeStream {
        id: "40000000001".to_owned(),
        user: streamer,
        title: "hello".to_owned(),
        started_at: "2026-11-25T18:00:00Z".to_owned(),
    });
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    fake.fail_next(Endpoint::Streams, 1, Failure::Status(500));

    let live = helix
        .streams(&[UserId(2000), UserId(2001)])
        .await
        .expect("no error");

    assert_eq!(
        live,
        vec![LiveStream {
            user_id: UserId(2000),
            login: login("streamer"),
            id: StreamId::parse("40000000001").expect("valid"),
            started_at: Timestamp::parse_rfc3339("2026-11-25T18:00:00Z").expect("valid"),
            title: "hello".to_owned(),
            viewers: 42,
            game_id: "509658".to_owned(),
            game_name: "Just Chatting".to_owned(),
        }]
    );
    assert_eq!(statuses(&fake, Endpoint::Streams), vec![500, 200]);
    assert_eq!(
        fake.calls_to(Endpoint::Streams)[1].param("user_id"),
        vec!["2000", "2001"]
    );
    assert_eq!(helix.metrics().retries, 1);
}

#[tokio::test]
async fn an_unparsable_body_is_retried_and_then_succeeds() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.set_chatters("1000", users("viewer", 10_000, 3));
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    fake.fail_next(Endpoint::Chatters, 1, Failure::InvalidJson);

    let chatters = helix
        .chatters(UserId(1000), UserId(1000))
        .await
        .expect("no error");

    assert_eq!(chatters.total, 3);
    assert_eq!(statuses(&fake, Endpoint::Chatters), vec![200, 200]);
    assert_eq!(helix.metrics().retries, 1);
}

#[tokio::test]
async fn a_403_on_chatters_is_forbidden_without_retries() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    fake.set_chatters("2000", users("viewer", 10_000, 3));
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");

    let result = helix.chatters(UserId(2000), UserId(1000)).await;

    assert_eq!(
        result,
        Err(HelixError::Forbidden {
            endpoint: "chat/chatters",
            message: "The user in moderator_id must be one of the broadcaster's moderators"
                .to_owned(),
        })
    );
    assert_eq!(statuses(&fake, Endpoint::Chatters), vec![403]);
}

#[tokio::test]
async fn users_are_looked_up_100_per_call() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    for user in users("user", 20_000, 250) {
        fake.add_user(user);
    }
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    let logins: Vec<Login> = (0..250).map(|i| login(&format!("user{i}"))).collect();

    let found = helix.users_by_login(&logins).await.expect("users");

    let per_call: Vec<usize> = fake
        .calls_to(Endpoint::Users)
        .iter()
        .map(|c| c.param("login").len())
        .collect();
    assert_eq!(per_call, vec![100, 100, 50]);
    assert_eq!(found.len(), 250);
    assert_eq!(
        found[249],
        HelixUser {
            id: UserId(20_249),
            login: login("user249"),
            display_name: "user249".to_owned(),
            created_at: Timestamp::parse_rfc3339("2020-01-01T00:00:00Z").expect("valid"),
        }
    );
    let by_id = helix
        .users_by_id(&[UserId(20_000), UserId(1)])
        .await
        .expect("users");
    assert_eq!(
        by_id.iter().map(|u| u.login.as_str()).collect::<Vec<_>>(),
        vec!["user0"]
    );
}

#[tokio::test]
async fn unparsable_logins_from_helix_are_skipped() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let mut chatters = users("viewer", 10_000, 2);
    chatters.insert(1, FakeUser::new("10005", "not a login"));
    chatters.push(FakeUser::new("-3", "negative"));
    fake.set_chatters("1000", chatters);
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");

    let snapshot = helix
        .chatters(UserId(1000), UserId(1000))
        .await
        .expect("snapshot");

    let ids: Vec<UserId> = snapshot.users.iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![UserId(10_000), UserId(10_001)]);
    assert_eq!(snapshot.total, 4);
}

#[tokio::test]
async fn without_credentials_helix_is_off() {
    let fake = FakeHelix::start().await.expect("fake Helix starts");

    let helix = start(&fake, AuthConfig::default(), None)
        .await
        .expect("anonymous");

    assert_eq!(helix.auth().mode(), AuthMode::Anonymous);
    assert_eq!(
        helix.users_by_login(&[login("alice")]).await,
        Err(HelixError::NoToken { endpoint: "users" })
    );
    assert_eq!(helix.users_by_login(&[]).await, Ok(vec![]));
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn the_client_paces_itself_to_the_bucket_without_a_429() {
    let fake = FakeHelix::start_with_budget(30)
        .await
        .expect("fake Helix starts");
    fake.add_token(FakeToken::user("tok-a", "ref-a", &bot(), &ALL_SCOPES));
    fake.set_chatters("1000", users("viewer", 10_000, 1));
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");

    let started = tokio::time::Instant::now();
    for _ in 0..32 {
        let snapshot: Chatters = helix
            .chatters(UserId(1000), UserId(1000))
            .await
            .expect("snapshot");
        assert_eq!(snapshot.total, 1);
    }

    // 30 points at once, then one every 2 s.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "did not wait for the refill"
    );
    assert_eq!(fake.answered(429), 0);
    assert_eq!(statuses(&fake, Endpoint::Chatters), vec![200; 32]);
}

#[tokio::test]
async fn a_429_on_every_attempt_is_reported_as_rate_limited() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    let helix = helix.with_retry(RetryPolicy {
        attempts: 2,
        ..RetryPolicy::default()
    });
    fake.fail_next(Endpoint::Users, 2, Failure::RateLimited);

    let result = helix.users_by_login(&[login("alice")]).await;

    assert_eq!(result, Err(HelixError::RateLimited { endpoint: "users" }));
    assert_eq!(statuses(&fake, Endpoint::Users), vec![429, 429]);
    assert_eq!(helix.metrics().failures.get("users"), Some(&1));
}

#[tokio::test]
async fn an_unreachable_helix_is_a_transport_error_after_retries() {
    let fake = fake_twitch(&ALL_SCOPES).await;
    let helix = start(&fake, user_config(), None)
        .await
        .expect("auth starts");
    let helix = helix.with_retry(RetryPolicy {
        attempts: 2,
        ..RetryPolicy::default()
    });
    drop(fake);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let result = helix.users_by_login(&[login("alice")]).await;

    let Err(HelixError::Transport { endpoint, error }) = result else {
        panic!("expected a transport error, got {result:?}");
    };
    assert_eq!((endpoint, error.kind), ("users", TransportKind::Connect));
    assert_eq!(helix.metrics().count("users", "connect"), 2);
}
