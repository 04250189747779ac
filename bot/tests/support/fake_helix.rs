//! The fake Twitch Helix/OAuth server, and helpers for the tests that use it. The server lives
//! in the library (`chatters_bot::testing`, cargo feature `fake`, enabled for tests by the
//! package's dev-dependency on itself) so that the `helix_capacity` example can run against it.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use chatters_bot::auth::{Auth, AuthConfig, AuthError};
use chatters_bot::helix::{Helix, TwitchHttp};
use chatters_core::domain::Login;
use chatters_core::store::Store;
use secrecy::SecretString;
use tempfile::TempDir;

pub use chatters_bot::testing::fake_helix::*;

pub const ALL_SCOPES: [&str; 4] = [
    "moderator:read:chatters",
    "user:read:moderated_channels",
    "chat:read",
    "chat:edit",
];

pub fn bot() -> FakeUser {
    FakeUser::new("1000", "chattersbot")
}

pub fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

pub fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

/// The settings of a bot with token `tok-a` and refresh token `ref-a`.
pub fn user_config() -> AuthConfig {
    AuthConfig {
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: secret(CLIENT_SECRET),
        bot_login: Some(login("chattersbot")),
        bot_token: secret("tok-a"),
        refresh_token: secret("ref-a"),
    }
}

/// A fake Twitch where the bot holds `tok-a`/`ref-a` with `scopes`.
pub async fn fake_twitch(scopes: &[&str]) -> FakeHelix {
    let fake = FakeHelix::start().await.expect("fake Helix starts");
    fake.add_token(FakeToken::user("tok-a", "ref-a", &bot(), scopes));
    fake
}

pub async fn start(
    fake: &FakeHelix,
    config: AuthConfig,
    store: Option<Arc<Store>>,
) -> Result<Helix, AuthError> {
    let http = TwitchHttp::new(fake.http_config()).expect("HTTP client");
    let auth = Auth::start(config, http, store).await?;
    Ok(Helix::new(auth))
}

pub async fn sqlite_store(dir: &TempDir) -> Arc<Store> {
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = chatters_core::store::open(&url, &Default::default())
        .await
        .expect("SQLite opens");
    store.migrate().await.expect("migrations apply");
    store
}

pub fn users(prefix: &str, first_id: u32, n: u32) -> Vec<FakeUser> {
    (0..n)
        .map(|i| FakeUser::new(&(first_id + i).to_string(), &format!("{prefix}{i}")))
        .collect()
}

pub fn statuses(fake: &FakeHelix, endpoint: Endpoint) -> Vec<u16> {
    fake.calls_to(endpoint).iter().map(|c| c.status).collect()
}

/// Log lines written while the guard lives (tests run on one thread).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}
