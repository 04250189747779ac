//! The bot's sign-in kept in the database by `chatters login` (table `bot_state`): its login,
//! access token, the client id it was issued to, and the refresh token under
//! [`REFRESH_TOKEN_STATE`] (with the origin fingerprint of "no `TWITCH_BOT_REFRESH_TOKEN`", so
//! that [`Auth::start`](super::Auth::start) picks it up and stores each rotated one). The
//! environment wins: a set `TWITCH_BOT_TOKEN` is used instead.
//!
//! [`inspect`] validates a token once (`chatters login` and `chatters doctor`).

use std::collections::BTreeSet;
use std::time::Duration;

use chatters_core::domain::{Login, UserId};
use chatters_core::store::{Store, StoreError};
use secrecy::{ExposeSecret as _, SecretString};
use twitch_api::twitch_oauth2::AccessToken;

use super::device::DeviceTokens;
use super::error::AuthError;
use super::oauth::{self, scope_set, validate_error};
use super::state::{REFRESH_ORIGIN_STATE, REFRESH_TOKEN_STATE, fingerprint};
use crate::twitch_http::TwitchHttp;

/// Store state key of the signed-in bot's login.
pub const LOGIN_STATE: &str = "twitch_bot_login";
/// Store state key of the signed-in bot's access token.
pub const ACCESS_TOKEN_STATE: &str = "twitch_bot_access_token";
/// Store state key of the client id the stored tokens were issued to.
pub const CLIENT_ID_STATE: &str = "twitch_bot_client_id";

/// A sign-in stored by `chatters login`.
#[derive(Debug, Clone)]
pub struct StoredLogin {
    /// The bot account.
    pub login: Login,
    /// The latest access token.
    pub access: SecretString,
    /// The client id the tokens belong to (refreshes need it).
    pub client_id: Option<String>,
}

impl StoredLogin {
    /// The stored sign-in, if `chatters login` ran.
    pub async fn load(store: &Store) -> Result<Option<Self>, StoreError> {
        let Some(login) = store.state(LOGIN_STATE).await? else {
            return Ok(None);
        };
        let Ok(login) = Login::parse(&login) else {
            return Ok(None);
        };
        let Some(access) = store.state(ACCESS_TOKEN_STATE).await? else {
            return Ok(None);
        };
        let client_id = store
            .state(CLIENT_ID_STATE)
            .await?
            .filter(|c| !c.is_empty());
        Ok(Some(Self {
            login,
            access: SecretString::from(access),
            client_id,
        }))
    }

    /// Stores a fresh sign-in (the refresh token first, the login last: a half-written sign-in
    /// is never loaded).
    pub async fn save(
        store: &Store,
        login: &Login,
        client_id: &str,
        tokens: &DeviceTokens,
    ) -> Result<(), StoreError> {
        store
            .set_state(REFRESH_TOKEN_STATE, tokens.refresh.expose_secret())
            .await?;
        store
            .set_state(REFRESH_ORIGIN_STATE, &fingerprint(None))
            .await?;
        store
            .set_state(ACCESS_TOKEN_STATE, tokens.access.expose_secret())
            .await?;
        store.set_state(CLIENT_ID_STATE, client_id).await?;
        store.set_state(LOGIN_STATE, login.as_str()).await
    }
}

/// What Twitch says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The account (`None` for an app token).
    pub login: Option<Login>,
    /// Its user id.
    pub user_id: Option<UserId>,
    /// The client id it was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: BTreeSet<String>,
    /// Time left, when Twitch says.
    pub expires_in: Option<Duration>,
}

/// Validates `token` once (`GET oauth2/validate`, transient failures retried).
pub async fn inspect(http: &TwitchHttp, token: &SecretString) -> Result<TokenInfo, AuthError> {
    let access = AccessToken::new(token.expose_secret().to_owned());
    let validated = oauth::validate(http, &access)
        .await
        .map_err(validate_error)?;
    Ok(TokenInfo {
        login: validated
            .login
            .as_ref()
            .and_then(|l| Login::parse(l.as_str()).ok()),
        user_id: validated
            .user_id
            .as_ref()
            .and_then(|id| UserId::parse(id.as_str()).ok()),
        client_id: validated.client_id.as_str().to_owned(),
        scopes: scope_set(&validated),
        expires_in: validated.expires_in,
    })
}
