//! API-key authentication: the [`ApiKeyAuth`] extractor reads `Authorization: Bearer <key>`,
//! finds the key by its hash and checks it in constant time ([`chatters_core::apikey`]), and
//! [`ApiKeyAuth::channel`] checks a login against the key's channels.
//!
//! Order of answers (SPEC): no key, an unknown key or a revoked key → 401; a key not scoped
//! to the asked channel → 403, whether or not that channel exists. The key itself is never
//! logged: only its row id once it is known.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chatters_core::apikey::{self, ApiKey};
use chatters_core::domain::Login;
use chatters_core::store::{ApiKeyId, ChannelKey};

use crate::AppState;
use crate::error::ApiError;

/// A request made with a valid, unrevoked API key.
#[derive(Debug, Clone)]
pub struct ApiKeyAuth {
    /// The key's row id (safe to log).
    pub id: ApiKeyId,
    /// Channels the key may read.
    pub channels: Vec<(ChannelKey, Login)>,
}

impl ApiKeyAuth {
    /// The channel `login` names, when the key may read it; 403 otherwise (also for a channel
    /// that does not exist: the answer must not tell which channels are tracked).
    pub fn channel(&self, login: &Login) -> Result<ChannelKey, ApiError> {
        self.channels
            .iter()
            .find(|(_, l)| l == login)
            .map(|(key, _)| *key)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("this API key is not allowed to read channel {login}"),
                )
            })
    }
}

/// Why a request was not authenticated: a JSON error, with `WWW-Authenticate` on 401.
#[derive(Debug)]
pub struct AuthRejection(pub ApiError);

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let unauthorized = self.0.status == StatusCode::UNAUTHORIZED;
        let mut response = self.0.into_response();
        if unauthorized {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"chatters\""),
            );
        }
        response
    }
}

fn unauthorized(message: &str) -> AuthRejection {
    AuthRejection(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        message,
    ))
}

/// The key in an `Authorization` header value, when it uses the Bearer scheme.
fn bearer(value: &HeaderValue) -> Option<&str> {
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for ApiKeyAuth {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(unauthorized(
                "an API key is required: send Authorization: Bearer <key>",
            ));
        };
        let presented =
            bearer(header).ok_or_else(|| unauthorized("use Authorization: Bearer <key>"))?;
        let key = ApiKey::parse(presented).map_err(|_| unauthorized("unknown API key"))?;
        let record = state
            .store
            .api_key_by_hash(&key.hash().to_hex())
            .await
            .map_err(|error| AuthRejection(ApiError::store("reading an API key", &error)))?;
        // The lookup was by hash; the comparison that decides is constant-time.
        let Some(record) = record.filter(|r| apikey::verify(&key, &r.key_hash)) else {
            return Err(unauthorized("unknown API key"));
        };
        if record.revoked_at.is_some() {
            tracing::debug!(key_id = %record.id, "revoked API key used");
            return Err(unauthorized("this API key was revoked"));
        }
        Ok(Self {
            id: record.id,
            channels: record.channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let cases = [
            ("Bearer chk_abc", Some("chk_abc")),
            ("bearer  chk_abc ", Some("chk_abc")),
            ("BEARER chk_abc", Some("chk_abc")),
            ("Basic dXNlcjpwYXNz", None),
            ("Bearer", None),
            ("Bearer ", None),
            ("chk_abc", None),
        ];
        for (header, expected) in cases {
            let value = HeaderValue::from_str(header).expect("header");
            assert_eq!(bearer(&value), expected, "{header:?}");
        }
    }
}
