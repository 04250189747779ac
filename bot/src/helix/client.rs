//! [`Helix`] itself: the HTTP client, the credentials and the [`RetryPolicy`] every call is made
//! with. The calls are in `call` (one GET, pagination) and `endpoints` (the typed requests).

use super::retry::RetryPolicy;
use crate::auth::Auth;
use crate::twitch_http::{HelixMetrics, MetricsSnapshot, TwitchHttp};

/// The Helix calls chatters makes. Cloning shares the client, its budget and the credentials.
#[derive(Debug, Clone)]
pub struct Helix {
    pub(super) http: TwitchHttp,
    pub(super) auth: Auth,
    pub(super) retry: RetryPolicy,
}

impl Helix {
    /// Helix with `auth`'s credentials, over its HTTP client, with the default [`RetryPolicy`].
    pub fn new(auth: Auth) -> Self {
        Self {
            http: auth.http().clone(),
            auth,
            retry: RetryPolicy::default(),
        }
    }

    /// The same, retrying per `retry`.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The credentials (mode, bot account, scopes).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The call counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.http.metrics().snapshot()
    }

    /// The live call counters (shared with every clone of the HTTP client).
    pub fn http_metrics(&self) -> &HelixMetrics {
        self.http.metrics()
    }
}
