//! [`HelixError`]: what a typed Helix call finally reports. It never carries a URL or a token;
//! its transport failures are [`TransportError`]s of the shared HTTP client.

use crate::twitch_http::TransportError;

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
