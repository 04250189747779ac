//! The three OAuth calls (validate, refresh, client credentials), made with twitch_oauth2 over
//! [`TwitchHttp`], with transient failures (no response, 5xx, unparsable body) retried and every
//! failure reduced to an [`OAuthFailure`] that holds no secret; and how a validation's answer
//! reads (its scopes, the `AuthError` of a failure), which both the start and the periodic check
//! need.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use twitch_api::twitch_oauth2::tokens::errors::{
    AppAccessTokenError, RefreshTokenError, ValidationError,
};
use twitch_api::twitch_oauth2::{
    AccessToken, AccessTokenRef, AppAccessToken, ClientId, ClientSecret, RefreshToken,
    RefreshTokenRef, RequestParseError, ValidatedToken,
};

use super::error::AuthError;
use crate::twitch_http::{TransportError, TwitchHttp};

/// How an OAuth call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OAuthFailure {
    /// The token was refused (401 from `validate`).
    Unauthorized,
    /// Twitch said no (4xx), with its explanation.
    Rejected(String),
    /// Still failing after retries: no response, 5xx or an unparsable answer.
    Transient(String),
}

impl fmt::Display for OAuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("the token is invalid or expired"),
            Self::Rejected(reason) | Self::Transient(reason) => f.write_str(reason),
        }
    }
}

impl OAuthFailure {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    fn transport(error: &TransportError) -> Self {
        Self::Transient(error.to_string())
    }

    fn parse(error: &RequestParseError) -> Self {
        match error {
            RequestParseError::TwitchError(e) if e.status.is_server_error() => {
                Self::Transient(e.to_string())
            }
            RequestParseError::TwitchError(e) => Self::Rejected(e.to_string()),
            RequestParseError::Other(status)
                if status.is_server_error() || status.as_u16() == 429 =>
            {
                Self::Transient(format!("HTTP {status}"))
            }
            RequestParseError::Other(status) => Self::Rejected(format!("HTTP {status}")),
            // serde's message may quote a value (a token): only where it failed is kept.
            RequestParseError::DeserializeError(e) => Self::Transient(format!(
                "unparsable response ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            )),
            RequestParseError::NotJson { found } => {
                Self::Transient(format!("response is {found}, not JSON"))
            }
            _ => Self::Transient("unexpected response".to_owned()),
        }
    }
}

/// Retries of one OAuth call: 4 attempts, 250 ms doubling up to 4 s.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(4))
        .with_max_times(3)
        .with_jitter()
}

/// `GET oauth2/validate`: who the token belongs to, its scopes and remaining lifetime.
pub(super) async fn validate(
    http: &TwitchHttp,
    token: &AccessTokenRef,
) -> Result<ValidatedToken, OAuthFailure> {
    (|| async {
        token.validate_token(http).await.map_err(|e| match e {
            ValidationError::NotAuthorized => OAuthFailure::Unauthorized,
            ValidationError::RequestParseError(e) => OAuthFailure::parse(&e),
            ValidationError::Request(e) => OAuthFailure::transport(&e),
            ValidationError::InvalidToken(reason) => OAuthFailure::Rejected(reason.to_owned()),
            _ => OAuthFailure::Transient("validation failed".to_owned()),
        })
    })
    .retry(backoff())
    .sleep(tokio::time::sleep)
    .when(OAuthFailure::is_transient)
    .await
}

/// What a refresh returns: the new access token, its lifetime and the (maybe rotated) refresh
/// token.
pub(super) type Refreshed = (AccessToken, Duration, Option<RefreshToken>);

/// `POST oauth2/token` with `grant_type=refresh_token` (without a secret for a public client).
/// Takes the refresh token by reference: nothing is lost when it fails.
pub(super) async fn refresh(
    http: &TwitchHttp,
    refresh_token: &RefreshTokenRef,
    client_id: &ClientId,
    client_secret: Option<&ClientSecret>,
) -> Result<Refreshed, OAuthFailure> {
    (|| async {
        refresh_token
            .refresh_token(http, client_id, client_secret)
            .await
            .map_err(|e| match e {
                RefreshTokenError::RequestError(e) => OAuthFailure::transport(&e),
                RefreshTokenError::RequestParseError(e) => OAuthFailure::parse(&e),
                RefreshTokenError::NoExpiration => {
                    OAuthFailure::Rejected("the new token has no expires_in".to_owned())
                }
                _ => OAuthFailure::Rejected("refresh not possible".to_owned()),
            })
    })
    .retry(backoff())
    .sleep(tokio::time::sleep)
    .when(OAuthFailure::is_transient)
    .await
}

/// `POST oauth2/token` with `grant_type=client_credentials`: an app access token.
pub(super) async fn app_token(
    http: &TwitchHttp,
    client_id: &ClientId,
    client_secret: &ClientSecret,
) -> Result<AppAccessToken, OAuthFailure> {
    (|| async {
        AppAccessToken::get_app_access_token(http, client_id.clone(), client_secret.clone(), vec![])
            .await
            .map_err(|e| match e {
                AppAccessTokenError::Request(e) => OAuthFailure::transport(&e),
                AppAccessTokenError::RequestParseError(e) => OAuthFailure::parse(&e),
                _ => OAuthFailure::Transient("app access token request failed".to_owned()),
            })
    })
    .retry(backoff())
    .sleep(tokio::time::sleep)
    .when(OAuthFailure::is_transient)
    .await
}

/// The scopes a validated token carries.
pub(super) fn scope_set(validated: &ValidatedToken) -> BTreeSet<String> {
    validated
        .scopes
        .iter()
        .flatten()
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// The [`AuthError`] of a failed validation.
pub(super) fn validate_error(failure: OAuthFailure) -> AuthError {
    match failure {
        OAuthFailure::Unauthorized => AuthError::InvalidToken {
            hint: String::new(),
        },
        OAuthFailure::Transient(reason) => AuthError::Unavailable {
            endpoint: "oauth2/validate",
            reason,
        },
        OAuthFailure::Rejected(reason) => AuthError::Protocol {
            endpoint: "oauth2/validate",
            reason,
        },
    }
}
