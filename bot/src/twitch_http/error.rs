//! [`TransportError`]: a request to Twitch that got no HTTP response. It never carries a URL
//! (the OAuth token endpoint takes the client secret in its query string) or a token.

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
