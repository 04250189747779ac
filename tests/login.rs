//! `chatters login`: the device code flow against the fake Twitch OAuth server, the sign-in
//! stored in the database and used by the bot when no token is in the environment.

use std::sync::Arc;
use std::time::Duration;

use chatters_bot::auth::{
    ACCESS_TOKEN_STATE, Auth, AuthConfig, AuthMode, LOGIN_STATE, REFRESH_TOKEN_STATE,
    REQUIRED_SCOPES,
};
use chatters_bot::testing::fake_helix::{
    CLIENT_ID, Endpoint, FakeDevice, FakeHelix, FakeToken, FakeUser,
};
use chatters_bot::twitch_http::{HttpConfig, TwitchHttp};
use chatters_core::settings::Settings;
use chatters_core::store::Store;
use tempfile::TempDir;

struct Setup {
    fake: FakeHelix,
    bot: FakeUser,
    _dir: TempDir,
    vars: Vec<(String, String)>,
}

async fn setup(device: impl FnOnce(&FakeUser) -> FakeDevice) -> Setup {
    let fake = FakeHelix::start().await.expect("fake Twitch");
    let bot = FakeUser::new("900", "chattersbot");
    fake.add_user(bot.clone());
    fake.set_device(device(&bot));
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("chatters.db").display());
    let vars = vec![
        ("DATABASE_URL".to_owned(), db),
        ("TWITCH_CLIENT_ID".to_owned(), CLIENT_ID.to_owned()),
        (
            "TWITCH_OAUTH2_URL".to_owned(),
            fake.oauth2_url().to_string(),
        ),
        ("TWITCH_HELIX_URL".to_owned(), fake.helix_url().to_string()),
    ];
    Setup {
        fake,
        bot,
        _dir: dir,
        vars,
    }
}

impl Setup {
    fn settings(&self, extra: &[(&str, &str)]) -> Settings {
        let extra = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::from_vars(self.vars.iter().cloned().chain(extra)).expect("settings")
    }

    async fn store(&self) -> Arc<Store> {
        chatters::open::open_store(&self.settings(&[]))
            .await
            .expect("store")
    }

    async fn state(&self, name: &str) -> Option<String> {
        let store = self.store().await;
        let value = store.state(name).await.expect("state");
        store.close().await;
        value
    }

    /// Starts the credentials as `chatters run` does.
    async fn auth(&self, settings: &Settings) -> Auth {
        let http = TwitchHttp::new(HttpConfig::from_settings(settings)).expect("http");
        Auth::start(
            AuthConfig::from_settings(settings),
            http,
            Some(self.store().await),
        )
        .await
        .expect("credentials")
    }
}

fn polls(fake: &FakeHelix) -> Vec<chatters_bot::testing::fake_helix::RecordedCall> {
    fake.calls_to(Endpoint::Token)
        .into_iter()
        .filter(|c| c.param("grant_type") == ["urn:ietf:params:oauth:grant-type:device_code"])
        .collect()
}

#[tokio::test]
async fn login_stores_the_sign_in_and_the_bot_uses_it() {
    let s = setup(FakeDevice::authorized_by).await;

    chatters::login::execute(&s.settings(&[]))
        .await
        .expect("login");

    let device = s.fake.calls_to(Endpoint::Device);
    assert_eq!(device.len(), 1);
    assert_eq!(device[0].param("client_id"), [CLIENT_ID]);
    let asked: Vec<String> = device[0].param("scopes")[0]
        .split(' ')
        .map(str::to_owned)
        .collect();
    let required: Vec<String> = REQUIRED_SCOPES
        .iter()
        .map(|(s, _)| (*s).to_owned())
        .collect();
    assert_eq!(asked, required);
    // Two answers `authorization_pending`, then the tokens.
    let polls = polls(&s.fake);
    assert_eq!(
        polls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [400, 400, 200]
    );
    assert!(polls.iter().all(|c| c.param("client_secret").is_empty()));
    assert_eq!(s.state(LOGIN_STATE).await.as_deref(), Some("chattersbot"));
    let access = s
        .state(ACCESS_TOKEN_STATE)
        .await
        .expect("access token stored");
    assert!(access.starts_with("device-access-"), "{access}");
    let refresh = s
        .state(REFRESH_TOKEN_STATE)
        .await
        .expect("refresh token stored");
    assert!(refresh.starts_with("device-refresh-"), "{refresh}");

    let auth = s.auth(&s.settings(&[])).await;
    assert_eq!(auth.mode(), AuthMode::User);
    let account = auth.bot_account().expect("bot account");
    assert_eq!(account.login.as_str(), s.bot.login);
    assert!(auth.missing_scopes().is_empty());
}

#[tokio::test]
async fn slow_down_adds_five_seconds_to_the_interval() {
    let s = setup(|bot| FakeDevice {
        slow_down_polls: 1,
        pending_polls: 0,
        ..FakeDevice::authorized_by(bot)
    })
    .await;

    chatters::login::execute(&s.settings(&[]))
        .await
        .expect("login");

    let polls = polls(&s.fake);
    assert_eq!(
        polls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [400, 200]
    );
    let gap = polls[1].at.duration_since(polls[0].at).expect("in order");
    assert!(gap >= Duration::from_secs(6), "polled again after {gap:?}");
}

#[tokio::test]
async fn an_expired_code_and_a_declined_authorization_end_the_login() {
    let expired = setup(|_| FakeDevice {
        user: None,
        expires_in: 2,
        ..FakeDevice::authorized_by(&FakeUser::new("1", "nobody"))
    })
    .await;
    let declined = setup(|bot| FakeDevice {
        denied: true,
        pending_polls: 0,
        ..FakeDevice::authorized_by(bot)
    })
    .await;

    let expired_error = chatters::login::execute(&expired.settings(&[]))
        .await
        .expect_err("expired");
    let declined_error = chatters::login::execute(&declined.settings(&[]))
        .await
        .expect_err("declined");

    assert!(
        format!("{expired_error:#}").contains("expired"),
        "{expired_error:#}"
    );
    assert!(
        format!("{declined_error:#}").contains("declined"),
        "{declined_error:#}"
    );
    assert_eq!(expired.state(LOGIN_STATE).await, None);
    assert_eq!(declined.state(LOGIN_STATE).await, None);
}

#[tokio::test]
async fn a_stored_sign_in_is_refreshed_without_a_client_secret_and_kept() {
    let s = setup(FakeDevice::authorized_by).await;
    chatters::login::execute(&s.settings(&[]))
        .await
        .expect("login");
    let first = s.state(ACCESS_TOKEN_STATE).await.expect("stored");
    s.fake.revoke_token(&first);

    let auth = s.auth(&s.settings(&[])).await;

    assert_eq!(auth.mode(), AuthMode::User);
    let refreshes: Vec<_> = s
        .fake
        .calls_to(Endpoint::Token)
        .into_iter()
        .filter(|c| c.param("grant_type") == ["refresh_token"])
        .collect();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].status, 200);
    assert!(refreshes[0].param("client_secret").is_empty());
    let access = s.state(ACCESS_TOKEN_STATE).await.expect("stored");
    let refresh = s.state(REFRESH_TOKEN_STATE).await.expect("stored");
    assert!(access.starts_with("access-"), "{access}");
    assert!(refresh.starts_with("refresh-"), "{refresh}");
}

#[tokio::test]
async fn the_environment_wins_over_the_stored_sign_in() {
    let s = setup(FakeDevice::authorized_by).await;
    chatters::login::execute(&s.settings(&[]))
        .await
        .expect("login");
    let other = FakeUser::new("901", "otherbot");
    s.fake.add_token(FakeToken::user(
        "env-token",
        "env-refresh",
        &other,
        &["chat:read"],
    ));

    let settings = s.settings(&[
        ("TWITCH_BOT_LOGIN", "otherbot"),
        ("TWITCH_BOT_TOKEN", "env-token"),
    ]);
    let auth = s.auth(&settings).await;

    let account = auth.bot_account().expect("bot account");
    assert_eq!(account.login.as_str(), "otherbot");
}

#[tokio::test]
async fn login_needs_the_client_id() {
    let s = setup(FakeDevice::authorized_by).await;
    let vars = s
        .vars
        .iter()
        .filter(|(k, _)| k != "TWITCH_CLIENT_ID")
        .cloned();
    let settings = Settings::from_vars(vars).expect("settings");

    let error = chatters::login::execute(&settings)
        .await
        .expect_err("no client id");

    assert!(
        error
            .downcast_ref::<chatters_bot::error::ConfigError>()
            .is_some()
    );
    assert!(
        error.to_string().starts_with("TWITCH_CLIENT_ID: "),
        "{error}"
    );
    assert!(s.fake.calls_to(Endpoint::Device).is_empty());
}
