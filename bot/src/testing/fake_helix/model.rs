//! What tests set up and read: users, streams, tokens, endpoints, injected failures and the
//! record of calls.

use std::time::SystemTime;

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

/// How the fake's device code flow behaves: who authorizes the codes and how the polls of
/// `token` are answered before that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDevice {
    /// The account that enters the code (`None`: nobody does; polls stay pending).
    pub user: Option<FakeUser>,
    /// Polls first answered `slow_down`.
    pub slow_down_polls: u32,
    /// Polls then answered `authorization_pending`.
    pub pending_polls: u32,
    /// The user declines instead of authorizing.
    pub denied: bool,
    /// `interval` answered by `device`, seconds.
    pub interval: u64,
    /// `expires_in` answered by `device`, seconds; later polls answer `invalid device code`.
    pub expires_in: u64,
}

impl FakeDevice {
    /// `user` authorizes after two pending polls; 1 s interval, codes valid 30 minutes.
    pub fn authorized_by(user: &FakeUser) -> Self {
        Self {
            user: Some(user.clone()),
            slow_down_polls: 0,
            pending_polls: 2,
            denied: false,
            interval: 1,
            expires_in: 1800,
        }
    }
}

/// One device code handed out.
#[derive(Debug, Clone)]
pub(super) struct DeviceGrant {
    pub(super) script: FakeDevice,
    pub(super) scopes: Vec<String>,
    pub(super) polls: u32,
    pub(super) expires: std::time::Instant,
    /// Set once the tokens were handed out: the code is used up.
    pub(super) redeemed: bool,
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
    /// `POST /oauth2/device` (device code flow).
    Device,
    /// `GET /oauth2/authorize` (authorization-code flow: the consent page, auto-approved).
    Authorize,
}

impl Endpoint {
    pub(super) fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/helix/users" => Self::Users,
            "/helix/chat/chatters" => Self::Chatters,
            "/helix/streams" => Self::Streams,
            "/helix/moderation/channels" => Self::ModeratedChannels,
            "/oauth2/validate" => Self::Validate,
            "/oauth2/token" => Self::Token,
            "/oauth2/device" => Self::Device,
            "/oauth2/authorize" => Self::Authorize,
            _ => return None,
        })
    }

    pub(super) fn is_helix(self) -> bool {
        !matches!(
            self,
            Self::Validate | Self::Token | Self::Device | Self::Authorize
        )
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
