//! Twitch's device code flow (OAuth 2.0 device authorization grant, RFC 8628), as `chatters
//! login` uses it: it needs only the client id of a public application.
//!
//! [`DeviceFlow::start`] asks `POST <oauth2>/device` for a user code and a verification URL;
//! [`DeviceFlow::wait`] polls `POST <oauth2>/token` with
//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` every `interval` until the user
//! has authorized: `authorization_pending` waits, `slow_down` adds [`SLOW_DOWN_STEP`] to the
//! interval (RFC 8628 §3.5), an expired or unknown device code and a denial end the wait.
//! Nothing here logs or returns a token in an error.

use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;
use serde::Deserialize;
use tokio::time::Instant;

use crate::twitch_http::TwitchHttp;

/// Added to the polling interval at each `slow_down` answer (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The polling interval when Twitch gives none (RFC 8628's default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// The grant type of a device code token request.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Twitch's fixed OAuth base, rewritten by [`TwitchHttp`] to `TWITCH_OAUTH2_URL`.
const OAUTH2: &str = "https://id.twitch.tv/oauth2/";

/// Why the device code flow did not give a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Twitch refused the request (e.g. an unknown client id, or a confidential client).
    #[error("Twitch refused the device code request: {0}")]
    Rejected(String),
    /// The user did not authorize within the code's lifetime.
    #[error("the code expired before it was entered; run `chatters login` again")]
    Expired,
    /// The user declined the authorization.
    #[error("the authorization was declined on Twitch")]
    Denied,
    /// Twitch could not be reached or answered 5xx.
    #[error("Twitch OAuth {endpoint} unavailable: {reason}")]
    Unavailable {
        /// `oauth2/device` or `oauth2/token`.
        endpoint: &'static str,
        /// What failed.
        reason: String,
    },
    /// Twitch answered something that is not the documented JSON.
    #[error("Twitch OAuth {endpoint} answered unexpectedly: {reason}")]
    Protocol {
        /// `oauth2/device` or `oauth2/token`.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// A started device authorization: what to show the user, and what to poll with.
#[derive(Debug)]
pub struct DeviceFlow {
    /// Where the user enters the code (Twitch: `https://www.twitch.tv/activate`).
    pub verification_uri: String,
    /// The code the user enters.
    pub user_code: String,
    /// How long the code is valid.
    pub expires_in: Duration,
    /// The polling interval Twitch asked for.
    pub interval: Duration,
    device_code: SecretString,
    client_id: String,
    scopes: String,
    started: Instant,
}

/// The tokens the flow ends with.
#[derive(Debug)]
pub struct DeviceTokens {
    /// The user access token.
    pub access: SecretString,
    /// Its refresh token (public clients: single use, rotated at each refresh).
    pub refresh: SecretString,
    /// The scopes granted.
    pub scopes: Vec<String>,
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    scope: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error: String,
}

/// How one poll of the token endpoint ended.
enum Poll {
    Done(DeviceTokens),
    Pending,
    SlowDown,
}

impl DeviceFlow {
    /// `POST oauth2/device` for `client_id` and `scopes`.
    pub async fn start(
        http: &TwitchHttp,
        client_id: &str,
        scopes: &[&str],
    ) -> Result<Self, DeviceError> {
        const ENDPOINT: &str = "oauth2/device";
        let scopes = scopes.join(" ");
        let body = form(&[("client_id", client_id), ("scopes", &scopes)]);
        let (status, bytes) = post(http, "device", body, ENDPOINT).await?;
        if !status.is_success() {
            let reason = error_message(&bytes).unwrap_or_else(|| format!("HTTP {status}"));
            return Err(if status.is_server_error() {
                DeviceError::Unavailable {
                    endpoint: ENDPOINT,
                    reason,
                }
            } else {
                DeviceError::Rejected(reason)
            });
        }
        let answer: DeviceAnswer = parse(&bytes, ENDPOINT)?;
        Ok(Self {
            verification_uri: answer.verification_uri,
            user_code: answer.user_code,
            expires_in: Duration::from_secs(answer.expires_in),
            interval: answer
                .interval
                .map_or(DEFAULT_INTERVAL, Duration::from_secs),
            device_code: SecretString::from(answer.device_code),
            client_id: client_id.to_owned(),
            scopes,
            started: Instant::now(),
        })
    }

    /// Polls until the user authorized (or declined, or the code expired).
    pub async fn wait(&self, http: &TwitchHttp) -> Result<DeviceTokens, DeviceError> {
        let deadline = self.started + self.expires_in;
        let mut interval = self.interval;
        loop {
            tokio::time::sleep(interval).await;
            if Instant::now() >= deadline {
                return Err(DeviceError::Expired);
            }
            match self.poll(http).await? {
                Poll::Done(tokens) => return Ok(tokens),
                Poll::Pending => {}
                Poll::SlowDown => interval += SLOW_DOWN_STEP,
            }
        }
    }

    async fn poll(&self, http: &TwitchHttp) -> Result<Poll, DeviceError> {
        use secrecy::ExposeSecret as _;
        const ENDPOINT: &str = "oauth2/token";
        let body = form(&[
            ("client_id", &self.client_id),
            ("scopes", &self.scopes),
            ("device_code", self.device_code.expose_secret()),
            ("grant_type", DEVICE_GRANT),
        ]);
        let (status, bytes) = match post(http, "token", body, ENDPOINT).await {
            Ok(answer) => answer,
            // A lost poll is retried at the next interval, as a pending one.
            Err(DeviceError::Unavailable { .. }) => return Ok(Poll::Pending),
            Err(other) => return Err(other),
        };
        if status.is_success() {
            let answer: TokenAnswer = parse(&bytes, ENDPOINT)?;
            return Ok(Poll::Done(DeviceTokens {
                access: SecretString::from(answer.access_token),
                refresh: SecretString::from(answer.refresh_token),
                scopes: answer.scope,
            }));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Ok(Poll::Pending);
        }
        let message = error_message(&bytes).unwrap_or_default();
        match message.as_str() {
            "authorization_pending" => Ok(Poll::Pending),
            "slow_down" => Ok(Poll::SlowDown),
            "expired_token" | "invalid device code" => Err(DeviceError::Expired),
            "access_denied" => Err(DeviceError::Denied),
            "" => Err(DeviceError::Rejected(format!("HTTP {status}"))),
            _ => Err(DeviceError::Rejected(message)),
        }
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Twitch's error explanation (`message`, or RFC 6749's `error`), when the body has one.
fn error_message(bytes: &[u8]) -> Option<String> {
    let answer: ErrorAnswer = serde_json::from_slice(bytes).ok()?;
    let text = if answer.message.is_empty() {
        answer.error
    } else {
        answer.message
    };
    (!text.is_empty()).then_some(text)
}

fn parse<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    endpoint: &'static str,
) -> Result<T, DeviceError> {
    // serde's message may quote a value (a token): only where it failed is kept.
    serde_json::from_slice(bytes).map_err(|e| DeviceError::Protocol {
        endpoint,
        reason: format!(
            "unparsable response ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

async fn post(
    http: &TwitchHttp,
    path: &str,
    body: String,
    endpoint: &'static str,
) -> Result<(http::StatusCode, Bytes), DeviceError> {
    let request = http::Request::post(format!("{OAUTH2}{path}"))
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(Bytes::from(body))
        .map_err(|e| DeviceError::Protocol {
            endpoint,
            reason: e.to_string(),
        })?;
    let response = http
        .send(request)
        .await
        .map_err(|e| DeviceError::Unavailable {
            endpoint,
            reason: e.to_string(),
        })?;
    Ok((response.status(), response.into_body()))
}
