//! A fake Twitch Helix + OAuth server on `127.0.0.1:0`, for tests and the capacity example.
//!
//! It answers Get Users, Get Chatters, Get Streams and Get Moderated Channels under `/helix/` and
//! `validate` and `token` under `/oauth2/` with the JSON Twitch documents (pagination cursors,
//! `total`, error bodies `{"error","status","message"}`). Every Helix call is charged to a REAL
//! token bucket of its access token ([`DEFAULT_POINTS_PER_MINUTE`] by default, refilled
//! continuously, `Ratelimit-Reset` = when it is full again, 429 when empty). Tests set up users,
//! chatters, streams, moderated channels and tokens, inject failures into the next calls of an
//! endpoint, and read the record of received calls.
//!
//! Refreshing a user token rotates both tokens (`access-N`, `refresh-N`, N counting from 1) and
//! revokes the old ones; app tokens are `app-N`.

mod endpoints;
mod lists;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use axum::Router;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::helix::HttpConfig;
use state::State;

/// The client id the fake accepts unless told otherwise.
pub const CLIENT_ID: &str = "fake-client-id";
/// The client secret the fake accepts unless told otherwise.
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// Twitch's default Helix budget.
pub const DEFAULT_POINTS_PER_MINUTE: u32 = 800;

/// A Twitch account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// User id (decimal).
    pub id: String,
    /// Login.
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Account creation, RFC 3339.
    pub created_at: String,
}

impl FakeUser {
    /// A user whose display name is its login, created `2020-01-01T00:00:00Z`.
    pub fn new(id: &str, login: &str) -> Self {
        Self {
            id: id.to_owned(),
            login: login.to_owned(),
            display_name: login.to_owned(),
            created_at: "2020-01-01T00:00:00Z".to_owned(),
        }
    }
}

/// A live stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStream {
    /// Stream id.
    pub id: String,
    /// The broadcaster.
    pub user: FakeUser,
    /// Title.
    pub title: String,
    /// Start, RFC 3339.
    pub started_at: String,
}

/// An access token the fake accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeToken {
    /// The access token.
    pub access: String,
    /// Its refresh token (user tokens).
    pub refresh: Option<String>,
    /// The user (`None`: an app token).
    pub user: Option<FakeUser>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Seconds left, as `validate` reports them.
    pub expires_in: u64,
    /// The client the token was issued to.
    pub client_id: String,
}

impl FakeToken {
    /// A user token of [`CLIENT_ID`] valid for 4 hours.
    pub fn user(access: &str, refresh: &str, user: &FakeUser, scopes: &[&str]) -> Self {
        Self {
            access: access.to_owned(),
            refresh: Some(refresh.to_owned()),
            user: Some(user.clone()),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_in: 14_400,
            client_id: CLIENT_ID.to_owned(),
        }
    }

    /// An app token of [`CLIENT_ID`].
    pub fn app(access: &str) -> Self {
        Self {
            access: access.to_owned(),
            refresh: None,
            user: None,
            scopes: Vec::new(),
            expires_in: 5_000_000,
            client_id: CLIENT_ID.to_owned(),
        }
    }
}

/// The endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /helix/users`.
    Users,
    /// `GET /helix/chat/chatters`.
    Chatters,
    /// `GET /helix/streams`.
    Streams,
    /// `GET /helix/moderation/channels`.
    ModeratedChannels,
    /// `GET /oauth2/validate`.
    Validate,
    /// `POST /oauth2/token`.
    Token,
}

impl Endpoint {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/helix/users" => Self::Users,
            "/helix/chat/chatters" => Self::Chatters,
            "/helix/streams" => Self::Streams,
            "/helix/moderation/channels" => Self::ModeratedChannels,
            "/oauth2/validate" => Self::Validate,
            "/oauth2/token" => Self::Token,
            _ => return None,
        })
    }

    fn is_helix(self) -> bool {
        !matches!(self, Self::Validate | Self::Token)
    }
}

/// An injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// This status with Twitch's error body (401, 403, 500, ...; 429 behaves as
    /// [`Failure::RateLimited`]).
    Status(u16),
    /// 429 with `Ratelimit-Remaining: 0` and `Ratelimit-Reset` the next whole second, the bucket
    /// left untouched.
    RateLimited,
    /// 200 with a body that is not JSON.
    InvalidJson,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// `GET`, `POST`.
    pub method: String,
    /// The endpoint, when known.
    pub endpoint: Option<Endpoint>,
    /// The path (`/helix/users`).
    pub path: String,
    /// The raw query string (may be empty).
    pub query: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `Client-Id` header.
    pub client_id: Option<String>,
    /// The request body (form-encoded for `token`).
    pub body: String,
    /// The status answered.
    pub status: u16,
    /// When it arrived.
    pub at: SystemTime,
}

impl RecordedCall {
    /// Query and form-body parameters, in order.
    pub fn params(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .chain(url::form_urlencoded::parse(self.body.as_bytes()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The values of one parameter.
    pub fn param(&self, name: &str) -> Vec<String> {
        self.params()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect()
    }
}

/// The running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeHelix {
    addr: SocketAddr,
    helix_url: Url,
    oauth2_url: Url,
    state: Arc<Mutex<State>>,
    shutdown: CancellationToken,
}

impl FakeHelix {
    /// Starts the fake with Twitch's default budget (800 points a minute per token).
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_budget(DEFAULT_POINTS_PER_MINUTE).await
    }

    /// Starts the fake with `points_per_minute` per token.
    pub async fn start_with_budget(points_per_minute: u32) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let url = |path: &str| {
            Url::parse(&format!("http://{addr}/{path}"))
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
        };
        let (helix_url, oauth2_url) = (url("helix/")?, url("oauth2/")?);
        let state = Arc::new(Mutex::new(State::new(points_per_minute)));
        let app = Router::new()
            .fallback(endpoints::handle)
            .with_state(state.clone());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(error) = server.await {
                tracing::warn!(%error, "fake Helix server failed");
            }
        });
        Ok(Self {
            addr,
            helix_url,
            oauth2_url,
            state,
            shutdown,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `TWITCH_HELIX_URL` for it.
    pub fn helix_url(&self) -> Url {
        self.helix_url.clone()
    }

    /// `TWITCH_OAUTH2_URL` for it.
    pub fn oauth2_url(&self) -> Url {
        self.oauth2_url.clone()
    }

    /// An HTTP client configuration pointing at it.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig::new(self.helix_url(), self.oauth2_url())
    }

    /// Adds (or replaces) an account.
    pub fn add_user(&self, user: FakeUser) {
        self.state().users.insert(user.id.clone(), user);
    }

    /// Sets a channel's chatter list (in Get Chatters order).
    pub fn set_chatters(&self, broadcaster_id: &str, chatters: Vec<FakeUser>) {
        self.state()
            .chatters
            .insert(broadcaster_id.to_owned(), chatters);
    }

    /// Puts a stream live (replacing the broadcaster's previous one).
    pub fn set_stream(&self, stream: FakeStream) {
        self.state().streams.insert(stream.user.id.clone(), stream);
    }

    /// Ends a broadcaster's stream.
    pub fn end_stream(&self, user_id: &str) {
        self.state().streams.remove(user_id);
    }

    /// Sets the channels a user moderates (in Get Moderated Channels order). Moderators may also
    /// read these channels' chatters.
    pub fn set_moderated_channels(&self, user_id: &str, channels: Vec<FakeUser>) {
        self.state().moderated.insert(user_id.to_owned(), channels);
    }

    /// Accepts an access token (and its refresh token).
    pub fn add_token(&self, token: FakeToken) {
        self.state().add_token(token);
    }

    /// Revokes an access token: Helix and `validate` answer 401 for it.
    pub fn revoke_token(&self, access: &str) {
        self.state().tokens.remove(access);
    }

    /// The client id and secret the `token` endpoint accepts.
    pub fn set_client(&self, id: &str, secret: &str) {
        let mut state = self.state();
        state.client_id = id.to_owned();
        state.client_secret = secret.to_owned();
    }

    /// The next `times` calls to `endpoint` fail with `failure` (after those queued before).
    pub fn fail_next(&self, endpoint: Endpoint, times: usize, failure: Failure) {
        self.fail_after(endpoint, 0, times, failure);
    }

    /// After `successes` more calls to `endpoint` are answered normally, the `times` next ones
    /// fail with `failure` (e.g. the second page of a list).
    pub fn fail_after(&self, endpoint: Endpoint, successes: usize, times: usize, failure: Failure) {
        let mut state = self.state();
        let queue = state.failures.entry(endpoint).or_default();
        queue.extend(std::iter::repeat_n(None, successes));
        queue.extend(std::iter::repeat_n(Some(failure), times));
    }

    /// Every call received so far, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state().calls.clone()
    }

    /// The calls received to one endpoint.
    pub fn calls_to(&self, endpoint: Endpoint) -> Vec<RecordedCall> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// How many calls were answered with `status`.
    pub fn answered(&self, status: u16) -> usize {
        self.state()
            .calls
            .iter()
            .filter(|c| c.status == status)
            .count()
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }
}

impl Drop for FakeHelix {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
