//! Twitch credentials for Helix and chat, in one of three modes chosen at start ([`AuthMode`]):
//!
//! - **User**: `TWITCH_BOT_TOKEN`, validated against `<oauth2>/validate` at start and every hour
//!   (Twitch requires it), refreshed with the refresh token and the client id/secret when it
//!   expires, when validation refuses it or when Helix answers 401. Twitch may rotate the refresh
//!   token: the new one is saved in the store ([`REFRESH_TOKEN_STATE`]) only after a successful
//!   refresh, and preferred at the next start while `TWITCH_BOT_REFRESH_TOKEN` is unchanged.
//!   Scopes the bot needs but lacks ([`REQUIRED_SCOPES`]) are logged once each; callers ask
//!   [`Auth::has_scope`] and switch the feature off.
//! - **App**: only `TWITCH_CLIENT_ID`/`TWITCH_CLIENT_SECRET`: an app access token (client
//!   credentials) serves Get Users and Get Streams; chat is anonymous.
//! - **Anonymous**: nothing set: no Helix, anonymous chat.
//!
//! Tokens are twitch_oauth2 types (their `Debug`/`Display` are redacted) and never logged.
//!
//! Submodules: `renew` (first validation, refresh, app tokens, scope report), `oauth` (the three
//! OAuth calls with retries), `error` ([`AuthError`]), `irc` ([`IrcCredentials`]).

mod error;
mod irc;
mod oauth;
mod renew;

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chatters_core::domain::{Login, UserId};
use chatters_core::settings::Settings;
use chatters_core::store::Store;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use twitch_api::twitch_oauth2::{AccessToken, ClientId, ClientSecret, RefreshToken};

pub use error::AuthError;
pub use irc::{ANONYMOUS_LOGIN, IrcCredentials};
use oauth::OAuthFailure;
use renew::{scope_set, validate_error};

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

/// Twitch requires validating a user token at least hourly.
const REVALIDATE_EVERY: Duration = Duration::from_secs(3600);
/// A token this close to its expiry is renewed instead of validated.
const RENEW_AHEAD: Duration = Duration::from_secs(300);
/// Pause after a failed periodic check.
const CHECK_RETRY: Duration = Duration::from_secs(300);

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
struct Token {
    access: AccessToken,
    client_id: ClientId,
    /// `None` for an app token.
    account: Option<BotAccount>,
    scopes: BTreeSet<String>,
    expires_at: Option<Instant>,
    validated_at: Instant,
    /// Bumped at every renewal, so that concurrent 401s renew once.
    generation: u64,
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
    inner: Arc<Inner>,
}

struct Inner {
    http: TwitchHttp,
    store: Option<Arc<Store>>,
    client_id: Option<ClientId>,
    client_secret: Option<ClientSecret>,
    expected_login: Option<Login>,
    /// Fingerprint of `TWITCH_BOT_REFRESH_TOKEN`.
    refresh_origin: String,
    token: Mutex<Option<Token>>,
    refresh_token: Mutex<Option<RefreshToken>>,
    /// Held while a token is renewed or checked.
    renewing: tokio::sync::Mutex<()>,
    reported_missing: Mutex<BTreeSet<&'static str>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn fingerprint(secret: Option<&SecretString>) -> String {
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
    fn with(config: &AuthConfig, http: TwitchHttp, store: Option<Arc<Store>>) -> Self {
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
            }),
        }
    }

    /// No credentials: anonymous chat, no Helix.
    pub fn anonymous(http: TwitchHttp) -> Self {
        Self::with(&AuthConfig::default(), http, None)
    }

    /// Sets up the credentials of `config`: validates (and if needed refreshes) the bot token,
    /// or gets an app access token, or stays anonymous. [`AuthError::is_config`] errors mean the
    /// settings are wrong (exit 2).
    pub async fn start(
        config: AuthConfig,
        http: TwitchHttp,
        store: Option<Arc<Store>>,
    ) -> Result<Self, AuthError> {
        let auth = Self::with(&config, http, store);
        if let Some(token) = &config.bot_token {
            auth.load_stored_refresh_token().await;
            let access = AccessToken::new(token.expose_secret().to_owned());
            let _renewing = auth.inner.renewing.lock().await;
            auth.start_user(access).await?;
        } else if auth.inner.client_id.is_some() && auth.inner.client_secret.is_some() {
            let _renewing = auth.inner.renewing.lock().await;
            auth.renew_app_token().await?;
            info!("Twitch app access token obtained: Helix Get Users and Get Streams only");
        } else {
            info!("no Twitch credentials: chat is read anonymously and Helix is off");
        }
        Ok(auth)
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

    /// Credentials for twitch-irc that follow this token through refreshes.
    pub fn irc_credentials(&self) -> IrcCredentials {
        IrcCredentials::new(self.clone())
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

    /// Renews the token after a 401 answered a call made with token `generation`, unless another
    /// call renewed it meanwhile.
    pub(crate) async fn renew_after(&self, generation: u64) -> Result<(), AuthError> {
        let _renewing = self.inner.renewing.lock().await;
        let current = lock(&self.inner.token).as_ref().map(|t| t.generation);
        if current != Some(generation) {
            return Ok(());
        }
        self.renew().await
    }

    /// Refreshes the user token (or renews the app token) now.
    pub async fn refresh(&self) -> Result<(), AuthError> {
        let _renewing = self.inner.renewing.lock().await;
        self.renew().await
    }

    /// The periodic check: validates the token (hourly, as Twitch requires), renewing it when it
    /// expires within 5 minutes or Twitch refuses it.
    pub async fn check(&self) -> Result<(), AuthError> {
        let _renewing = self.inner.renewing.lock().await;
        let Some(token) = lock(&self.inner.token).clone() else {
            return Ok(());
        };
        if token
            .expires_at
            .is_some_and(|at| at.saturating_duration_since(Instant::now()) < RENEW_AHEAD)
        {
            return self.renew().await;
        }
        match oauth::validate(&self.inner.http, &token.access).await {
            Ok(validated) => {
                self.update_token(false, |t| {
                    t.scopes = scope_set(&validated);
                    t.expires_at = validated.expires_in.map(|d| Instant::now() + d);
                    t.validated_at = Instant::now();
                });
                self.report_missing_scopes();
                Ok(())
            }
            Err(OAuthFailure::Unauthorized) => {
                warn!("Twitch no longer accepts the token; renewing it");
                self.renew().await
            }
            Err(failure) => Err(validate_error(failure)),
        }
    }

    /// Runs [`Auth::check`] whenever due (hourly, or 5 minutes before expiry) until `shutdown`.
    pub async fn maintain(&self, shutdown: CancellationToken) {
        loop {
            let due = match lock(&self.inner.token).as_ref() {
                None => return,
                Some(t) => {
                    let hourly = t.validated_at + REVALIDATE_EVERY;
                    t.expires_at.map_or(hourly, |at| {
                        hourly.min(at.checked_sub(RENEW_AHEAD).unwrap_or(at))
                    })
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep_until(due) => {}
            }
            if let Err(error) = self.check().await {
                warn!(%error, "Twitch token check failed; retrying in 5 minutes");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(CHECK_RETRY) => {}
                }
            }
        }
    }

    /// The bot login and current user token for a chat login, refreshed first when it expires
    /// within a minute. `None`: log in anonymously.
    pub(crate) async fn token_for_chat(&self) -> Option<(Login, String)> {
        let expiring = lock(&self.inner.token).as_ref().is_some_and(|t| {
            t.account.is_some()
                && t.expires_at.is_some_and(|at| {
                    at.saturating_duration_since(Instant::now()) < Duration::from_secs(60)
                })
        });
        if expiring && let Err(error) = self.refresh().await {
            warn!(%error, "refreshing the token before a chat login failed");
        }
        let guard = lock(&self.inner.token);
        let token = guard.as_ref()?;
        let account = token.account.as_ref()?;
        Some((account.login.clone(), token.access.secret().to_owned()))
    }
}
