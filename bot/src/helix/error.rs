//! Errors of the Helix client: [`TransportError`] (no response) and [`HelixError`] (what a typed
//! call finally reports). Neither ever carries a URL (the OAuth token endpoint takes the client
//! secret in its query string) or a token.

use std::error::Error as _;
use std::fmt;

/// Why a request got no HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No response within the client timeout.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The response body could not be read.
    Body,
    /// The request could not be built or sent for another reason.
    Request,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::Connect => "connection failed",
            Self::Body => "response body unreadable",
            Self::Request => "request failed",
        })
    }
}

/// A request to Twitch that got no HTTP response. The error type of our `HttpClient`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct TransportError {
    /// What went wrong.
    pub kind: TransportKind,
    /// The innermost cause (e.g. `Connection refused (os error 111)`), never a URL.
    pub detail: String,
}

impl TransportError {
    /// A request that could not be built.
    pub(crate) fn request(detail: impl Into<String>) -> Self {
        Self {
            kind: TransportKind::Request,
            detail: detail.into(),
        }
    }

    /// The metrics outcome label of this failure.
    pub(crate) fn outcome(&self) -> &'static str {
        match self.kind {
            TransportKind::Timeout => "timeout",
            TransportKind::Connect => "connect",
            TransportKind::Body | TransportKind::Request => "error",
        }
    }
}

impl From<reqwest::Error> for TransportError {
    fn from(error: reqwest::Error) -> Self {
        let kind = if error.is_timeout() {
            TransportKind::Timeout
        } else if error.is_connect() {
            TransportKind::Connect
        } else if error.is_body() || error.is_decode() {
            TransportKind::Body
        } else {
            TransportKind::Request
        };
        // reqwest's own message names the URL; only the causes below it are kept.
        let error = error.without_url();
        let mut detail = String::new();
        let mut cause = error.source();
        while let Some(c) = cause {
            detail = c.to_string();
            cause = c.source();
        }
        if detail.is_empty() {
            detail = kind.to_string();
        }
        Self { kind, detail }
    }
}

/// What a Helix call finally reports, after retries and at most one token refresh.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelixError {
    /// 403: the token may not do this (e.g. Get Chatters in a channel the bot does not
    /// moderate). The caller switches the feature off for that channel.
    #[error("Helix {endpoint}: forbidden: {message}")]
    Forbidden {
        /// The endpoint (`chat/chatters`, ...).
        endpoint: &'static str,
        /// Twitch's explanation.
        message: String,
    },
    /// 401 even after a token refresh, or the refresh failed.
    #[error("Helix {endpoint}: unauthorized and the token could not be refreshed")]
    Unauthorized {
        /// The endpoint.
        endpoint: &'static str,
    },
    /// 429 on every attempt.
    #[error("Helix {endpoint}: still rate limited after every retry")]
    RateLimited {
        /// The endpoint.
        endpoint: &'static str,
    },
    /// 5xx on the last attempt.
    #[error("Helix {endpoint}: server error {status} after every retry")]
    Server {
        /// The endpoint.
        endpoint: &'static str,
        /// The HTTP status of the last attempt.
        status: u16,
    },
    /// No response on the last attempt.
    #[error("Helix {endpoint}: {error} after every retry")]
    Transport {
        /// The endpoint.
        endpoint: &'static str,
        /// The last failure.
        error: TransportError,
    },
    /// The last response could not be understood (not JSON, wrong shape, looping pages).
    #[error("Helix {endpoint}: unparsable response: {detail}")]
    Decode {
        /// The endpoint.
        endpoint: &'static str,
        /// What was wrong (never the body itself).
        detail: String,
    },
    /// Another 4xx: the request itself is wrong (a bug, or an id Twitch rejects).
    #[error("Helix {endpoint}: rejected with {status}: {message}")]
    Rejected {
        /// The endpoint.
        endpoint: &'static str,
        /// The HTTP status (0: the request could not even be built).
        status: u16,
        /// Twitch's explanation.
        message: String,
    },
    /// The call needs a user token and there is none (anonymous, or only an app token).
    #[error("Helix {endpoint}: needs the bot's user token")]
    NoUserToken {
        /// The endpoint.
        endpoint: &'static str,
    },
    /// There is no token at all (anonymous mode): Helix is off.
    #[error("Helix {endpoint}: no Twitch credentials configured")]
    NoToken {
        /// The endpoint.
        endpoint: &'static str,
    },
    /// The bot's token lacks the scope this call needs; the feature is off until it is granted.
    #[error("Helix {endpoint}: the bot token lacks the scope {scope}")]
    MissingScope {
        /// The endpoint.
        endpoint: &'static str,
        /// The missing scope.
        scope: &'static str,
    },
}

impl HelixError {
    /// Worth another attempt: 5xx, 429, no response, unparsable body.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Transport { .. }
                | Self::Decode { .. }
        )
    }

    /// The endpoint the error is about.
    pub fn endpoint(&self) -> &'static str {
        match self {
            Self::Forbidden { endpoint, .. }
            | Self::Unauthorized { endpoint }
            | Self::RateLimited { endpoint }
            | Self::Server { endpoint, .. }
            | Self::Transport { endpoint, .. }
            | Self::Decode { endpoint, .. }
            | Self::Rejected { endpoint, .. }
            | Self::NoUserToken { endpoint }
            | Self::NoToken { endpoint }
            | Self::MissingScope { endpoint, .. } => endpoint,
        }
    }
}
