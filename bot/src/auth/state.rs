//! The credential state every part of [`Auth`] works on: the settings ([`AuthConfig`]), the
//! mode, the bot account, the token in use behind one lock, the scopes the bot needs, and the
//! read-only questions asked of them (mode, account, scopes, the bearer for a Helix call). How
//! tokens are obtained and renewed lives in `lifecycle` and `renew`, which build on this file.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chatters_core::domain::{Login, UserId};
use chatters_core::settings::Settings;
use chatters_core::store::Store;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::time::Instant;
use twitch_api::twitch_oauth2::{AccessToken, ClientId, ClientSecret, RefreshToken};

use crate::twitch_http::TwitchHttp;

/// Store state key of the latest refresh token.
pub const REFRESH_TOKEN_STATE: &str = "twitch_refresh_token";
/// Store state key of a fingerprint of the `TWITCH_BOT_REFRESH_TOKEN` the stored one descends
/// from: a changed setting wins over an old stored token.
pub const REFRESH_ORIGIN_STATE: &str = "twitch_refresh_token_origin";
/// Scope of Helix Get Chatters.
pub const SCOPE_CHATTERS: &str = "moderator:read:chatters";
/// Scope of Helix Get Moderated Channels.
pub const SCOPE_MODERATED_CHANNELS: &str = "user:read:moderated_channels";
/// Scope for reading chat over IRC as the bot.
pub const SCOPE_CHAT_READ: &str = "chat:read";
/// Scope for writing to chat over IRC.
pub const SCOPE_CHAT_EDIT: &str = "chat:edit";
/// Every scope the bot uses, with the feature that needs it.
pub const REQUIRED_SCOPES: [(&str, &str); 4] = [
    (SCOPE_CHATTERS, "chatter snapshots"),
    (
        SCOPE_MODERATED_CHANNELS,
        "joining the channels the bot moderates",
    ),
    (SCOPE_CHAT_READ, "reading chat as the bot"),
    (SCOPE_CHAT_EDIT, "answering chat commands"),
];

/// The credential settings ([`AuthConfig::from_settings`]).
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// `TWITCH_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `TWITCH_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// `TWITCH_BOT_LOGIN`: the token must belong to this account.
    pub bot_login: Option<Login>,
    /// `TWITCH_BOT_TOKEN`.
    pub bot_token: Option<SecretString>,
    /// `TWITCH_BOT_REFRESH_TOKEN`.
    pub refresh_token: Option<SecretString>,
}

impl AuthConfig {
    /// The credential settings.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            client_id: settings.twitch_client_id.clone(),
            client_secret: settings.twitch_client_secret.clone(),
            bot_login: settings.twitch_bot_login.clone(),
            bot_token: settings.twitch_bot_token.clone(),
            refresh_token: settings.twitch_bot_refresh_token.clone(),
        }
    }
}

/// Which credentials are in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No credentials: anonymous chat, no Helix.
    Anonymous,
    /// An app access token: Get Users and Get Streams only, anonymous chat.
    App,
    /// The bot account's user token.
    User,
}

/// The bot account, as Twitch reports it for the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotAccount {
    /// User id.
    pub id: UserId,
    /// Login.
    pub login: Login,
}

/// The token in use.
#[derive(Clone)]
pub(super) struct Token {
    pub(super) access: AccessToken,
    pub(super) client_id: ClientId,
    /// `None` for an app token.
    pub(super) account: Option<BotAccount>,
    pub(super) scopes: BTreeSet<String>,
    pub(super) expires_at: Option<Instant>,
    pub(super) validated_at: Instant,
    /// Bumped at every renewal, so that concurrent 401s renew once.
    pub(super) generation: u64,
}

/// The token a call is made with.
#[derive(Clone)]
pub(crate) struct Bearer {
    pub(crate) access: AccessToken,
    pub(crate) client_id: ClientId,
    pub(crate) generation: u64,
}

/// Twitch credentials, shared by Helix, chat and the maintenance task. Cloning shares them.
#[derive(Clone)]
pub struct Auth {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) http: TwitchHttp,
    pub(super) store: Option<Arc<Store>>,
    pub(super) client_id: Option<ClientId>,
    pub(super) client_secret: Option<ClientSecret>,
    pub(super) expected_login: Option<Login>,
    /// Fingerprint of `TWITCH_BOT_REFRESH_TOKEN`.
    pub(super) refresh_origin: String,
    pub(super) token: Mutex<Option<Token>>,
    pub(super) refresh_token: Mutex<Option<RefreshToken>>,
    /// Held while a token is renewed or checked.
    pub(super) renewing: tokio::sync::Mutex<()>,
    pub(super) reported_missing: Mutex<BTreeSet<&'static str>>,
    /// The token comes from `chatters login` (device flow, public client): it refreshes
    /// without a client secret, and each new access token is stored too.
    pub(super) signed_in: bool,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn fingerprint(secret: Option<&SecretString>) -> String {
    let mut hasher = DefaultHasher::new();
    secret.map(|s| s.expose_secret()).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("mode", &self.mode())
            .field("account", &self.bot_account())
            .finish_non_exhaustive()
    }
}

impl Auth {
    pub(super) fn with(
        config: &AuthConfig,
        http: TwitchHttp,
        store: Option<Arc<Store>>,
        signed_in: bool,
    ) -> Self {
        let secret = config.client_secret.as_ref();
        Self {
            inner: Arc::new(Inner {
                http,
                store,
                client_id: config.client_id.clone().map(ClientId::new),
                client_secret: secret.map(|s| ClientSecret::new(s.expose_secret().to_owned())),
                expected_login: config.bot_login.clone(),
                refresh_origin: fingerprint(config.refresh_token.as_ref()),
                token: Mutex::new(None),
                refresh_token: Mutex::new(
                    config
                        .refresh_token
                        .as_ref()
                        .map(|s| RefreshToken::new(s.expose_secret().to_owned())),
                ),
                renewing: tokio::sync::Mutex::new(()),
                reported_missing: Mutex::new(BTreeSet::new()),
                signed_in,
            }),
        }
    }

    /// No credentials: anonymous chat, no Helix.
    pub fn anonymous(http: TwitchHttp) -> Self {
        Self::with(&AuthConfig::default(), http, None, false)
    }

    /// The HTTP client the credentials are validated and refreshed with.
    pub fn http(&self) -> &TwitchHttp {
        &self.inner.http
    }

    /// Which credentials are in use.
    pub fn mode(&self) -> AuthMode {
        match &*lock(&self.inner.token) {
            None => AuthMode::Anonymous,
            Some(Token { account: None, .. }) => AuthMode::App,
            Some(_) => AuthMode::User,
        }
    }

    /// The bot account (user mode only).
    pub fn bot_account(&self) -> Option<BotAccount> {
        lock(&self.inner.token).as_ref()?.account.clone()
    }

    /// Whether the bot's user token has `scope` (always false without a user token).
    pub fn has_scope(&self, scope: &str) -> bool {
        lock(&self.inner.token)
            .as_ref()
            .is_some_and(|t| t.account.is_some() && t.scopes.contains(scope))
    }

    /// Time left on the token in use, when Twitch said (`chatters doctor`).
    pub fn expires_in(&self) -> Option<std::time::Duration> {
        let at = lock(&self.inner.token).as_ref()?.expires_at?;
        Some(at.saturating_duration_since(Instant::now()))
    }

    /// The [`REQUIRED_SCOPES`] the bot's user token lacks (empty without a user token).
    pub fn missing_scopes(&self) -> Vec<&'static str> {
        if self.mode() != AuthMode::User {
            return Vec::new();
        }
        REQUIRED_SCOPES
            .iter()
            .map(|(scope, _)| *scope)
            .filter(|scope| !self.has_scope(scope))
            .collect()
    }

    /// The token for a Helix call; `user`: only a user token will do.
    pub(crate) fn bearer(&self, user: bool) -> Option<Bearer> {
        let guard = lock(&self.inner.token);
        let token = guard.as_ref()?;
        if user && token.account.is_none() {
            return None;
        }
        Some(Bearer {
            access: token.access.clone(),
            client_id: token.client_id.clone(),
            generation: token.generation,
        })
    }
}
