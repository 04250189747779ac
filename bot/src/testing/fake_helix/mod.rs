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
//! The device code flow (`oauth2/device`, then `token` polls) follows [`FakeDevice`]; its tokens
//! are `device-access-N`/`device-refresh-N` and refresh without the client secret.
//!
//! Refreshing a user token rotates both tokens (`access-N`, `refresh-N`, N counting from 1) and
//! revokes the old ones; app tokens are `app-N`.

mod authorize;
mod device;
mod endpoints;
mod exchange;
mod lists;
mod model;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::helix::HttpConfig;
pub use model::{
    CLIENT_ID, CLIENT_SECRET, DEFAULT_POINTS_PER_MINUTE, Endpoint, Failure, FakeDevice, FakeStream,
    FakeToken, FakeUser, RecordedCall,
};
use state::State;

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

    /// What Get Streams reports for a broadcaster's live stream: `viewer_count`, `game_id`
    /// and `game_name` (default 42 viewers in "Just Chatting", id 509658).
    pub fn set_audience(&self, user_id: &str, viewers: u64, game_id: &str, game_name: &str) {
        self.state().audience.insert(
            user_id.to_owned(),
            (viewers, game_id.to_owned(), game_name.to_owned()),
        );
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

    /// Who approves `oauth2/authorize` (the dashboard's sign-in); `None`: the user declines.
    pub fn set_authorizer(&self, user: Option<FakeUser>) {
        let mut state = self.state();
        if let Some(user) = &user {
            state.users.insert(user.id.clone(), user.clone());
        }
        state.authorizer = user;
    }

    /// Accepts an access token (and its refresh token).
    pub fn add_token(&self, token: FakeToken) {
        self.state().add_token(token);
    }

    /// Enables the device code flow (`POST oauth2/device` and its polls of `token`).
    pub fn set_device(&self, device: FakeDevice) {
        self.state().device = Some(device);
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
