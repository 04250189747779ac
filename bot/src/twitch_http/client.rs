//! [`TwitchHttp`]: our `twitch_api::HttpClient` (and `twitch_oauth2` client) over reqwest.
//!
//! It points each instance at its own Helix and OAuth base URLs (`TWITCH_HELIX_URL`,
//! `TWITCH_OAUTH2_URL`: twitch_api and twitch_oauth2 always build `https://api.twitch.tv/helix/…`
//! and `https://id.twitch.tv/oauth2/…`), passes every Helix call through the per-token
//! [`RateLimiter`], feeds the `Ratelimit-*` headers back into it and counts every call in
//! [`HelixMetrics`]. One attempt per call: retries, refreshes and their policy live with the
//! callers ([`crate::helix`], [`crate::auth`]), which know what a response means.

use std::future::Future;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chatters_core::settings::Settings;
use url::Url;

use super::error::TransportError;
use super::metrics::HelixMetrics;
use super::ratelimit::RateLimiter;

/// Where twitch_api sends Helix calls.
const TWITCH_HELIX: &str = "https://api.twitch.tv/helix/";
/// Where twitch_oauth2 sends OAuth calls.
const TWITCH_OAUTH2: &str = "https://id.twitch.tv/oauth2/";

/// Where to reach Twitch, and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Helix base URL, ending with `/`.
    pub helix_url: Url,
    /// OAuth base URL, ending with `/`.
    pub oauth2_url: Url,
    /// Limit for one whole request (connect, send, read the body).
    pub timeout: Duration,
}

impl HttpConfig {
    /// The given base URLs with the default timeout (10 s).
    pub fn new(helix_url: Url, oauth2_url: Url) -> Self {
        Self {
            helix_url,
            oauth2_url,
            timeout: Duration::from_secs(10),
        }
    }

    /// `TWITCH_HELIX_URL` and `TWITCH_OAUTH2_URL` from the settings.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(
            settings.twitch_helix_url.clone(),
            settings.twitch_oauth2_url.clone(),
        )
    }
}

/// The HTTP client for Twitch. Cloning shares the connection pool, the rate limiter and the
/// metrics.
#[derive(Debug, Clone)]
pub struct TwitchHttp {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    helix_url: Url,
    oauth2_url: Url,
    limiter: RateLimiter,
    metrics: HelixMetrics,
}

/// Which API a request is for, with its metrics label.
enum Target {
    /// A Helix endpoint (`users`, `chat/chatters`, ...): rate limited.
    Helix(String),
    /// An OAuth endpoint (`oauth2/validate`, `oauth2/token`).
    OAuth(String),
}

impl TwitchHttp {
    /// A client for `config`.
    pub fn new(config: HttpConfig) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("chatters/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(TransportError::from)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                helix_url: config.helix_url,
                oauth2_url: config.oauth2_url,
                limiter: RateLimiter::default(),
                metrics: HelixMetrics::default(),
            }),
        })
    }

    /// The call counters.
    pub fn metrics(&self) -> &HelixMetrics {
        &self.inner.metrics
    }

    /// The rate limiter (one bucket per token).
    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// Maps twitch_api's and twitch_oauth2's fixed URLs onto this instance's base URLs.
    fn route(&self, uri: &http::Uri) -> Result<(Url, Target), TransportError> {
        let uri = uri.to_string();
        let (base, rest, helix) = if let Some(rest) = uri.strip_prefix(TWITCH_HELIX) {
            (&self.inner.helix_url, rest, true)
        } else if let Some(rest) = uri.strip_prefix(TWITCH_OAUTH2) {
            (&self.inner.oauth2_url, rest, false)
        } else {
            return Err(TransportError::request("not a Twitch Helix or OAuth URL"));
        };
        let url = base
            .join(rest)
            .map_err(|e| TransportError::request(format!("bad URL: {e}")))?;
        let path = rest.split('?').next().unwrap_or_default().to_owned();
        let target = if helix {
            Target::Helix(path)
        } else {
            Target::OAuth(format!("oauth2/{path}"))
        };
        Ok((url, target))
    }

    /// Sends one request: base URL rewrite, rate limit (Helix), metrics. No retries.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let (url, target) = self.route(request.uri())?;
        let (endpoint, permit) = match target {
            Target::Helix(endpoint) => {
                let key = budget_key(request.headers());
                let (permit, waited) = self.inner.limiter.acquire(key).await;
                self.inner.metrics.budget_wait(waited);
                (endpoint, Some(permit))
            }
            Target::OAuth(endpoint) => (endpoint, None),
        };
        let (parts, body) = request.into_parts();
        let mut outgoing = reqwest::Request::new(parts.method, url);
        *outgoing.headers_mut() = parts.headers;
        if !body.is_empty() {
            *outgoing.body_mut() = Some(body.into());
        }
        let started = std::time::Instant::now();
        let result = self.execute(outgoing).await;
        let took = started.elapsed();
        match &result {
            Ok(response) => {
                self.inner
                    .metrics
                    .call(&endpoint, response.status().as_str(), took);
                if let Some(permit) = permit {
                    permit.complete(response.status(), response.headers());
                }
            }
            // Dropping the permit counts the point as spent.
            Err(error) => self.inner.metrics.call(&endpoint, error.outcome(), took),
        }
        result
    }

    async fn execute(
        &self,
        request: reqwest::Request,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let response = self.inner.client.execute(request).await?;
        let mut builder = http::Response::builder().status(response.status());
        if let Some(headers) = builder.headers_mut() {
            headers.extend(
                response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        let body = response.bytes().await?;
        builder
            .body(body)
            .map_err(|e| TransportError::request(e.to_string()))
    }
}

/// The rate-limit bucket of a request: one per token (a hash of the `Authorization` header, so
/// the token itself is not kept).
fn budget_key(headers: &http::HeaderMap) -> u64 {
    let mut hasher = DefaultHasher::new();
    headers
        .get(http::header::AUTHORIZATION)
        .map(http::HeaderValue::as_bytes)
        .hash(&mut hasher);
    hasher.finish()
}

impl twitch_api::HttpClient for TwitchHttp {
    type Error = TransportError;

    fn req(
        &self,
        request: twitch_api::client::Request,
    ) -> impl Future<Output = Result<twitch_api::client::Response, TransportError>> + Send + use<>
    {
        let this = self.clone();
        async move { this.send(request).await }
    }
}

impl twitch_api::twitch_oauth2::client::Client for TwitchHttp {
    type Error = TransportError;

    fn req(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> impl Future<Output = Result<http::Response<Vec<u8>>, TransportError>> + Send + use<> {
        let this = self.clone();
        async move {
            let response = this.send(request.map(Bytes::from)).await?;
            Ok(response.map(|body| body.to_vec()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> TwitchHttp {
        let config = HttpConfig::new(
            Url::parse("http://127.0.0.1:1/mock/helix/").expect("valid"),
            Url::parse("http://127.0.0.1:1/auth/").expect("valid"),
        );
        TwitchHttp::new(config).expect("client")
    }

    #[test]
    fn helix_urls_are_rewritten_with_their_query() {
        let uri: http::Uri =
            "https://api.twitch.tv/helix/chat/chatters?broadcaster_id=1&first=1000"
                .parse()
                .expect("valid");
        let (url, target) = client().route(&uri).expect("routed");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/mock/helix/chat/chatters?broadcaster_id=1&first=1000"
        );
        assert!(matches!(target, Target::Helix(e) if e == "chat/chatters"));
    }

    #[test]
    fn oauth_urls_are_rewritten() {
        let uri: http::Uri = "https://id.twitch.tv/oauth2/validate"
            .parse()
            .expect("valid");
        let (url, target) = client().route(&uri).expect("routed");
        assert_eq!(url.as_str(), "http://127.0.0.1:1/auth/validate");
        assert!(matches!(target, Target::OAuth(e) if e == "oauth2/validate"));
    }

    #[test]
    fn other_hosts_are_refused() {
        let uri: http::Uri = "https://example.com/helix/users".parse().expect("valid");
        assert!(client().route(&uri).is_err());
    }

    #[test]
    fn each_token_has_its_own_budget_key() {
        let mut a = http::HeaderMap::new();
        a.insert("authorization", http::HeaderValue::from_static("Bearer a"));
        let mut b = http::HeaderMap::new();
        b.insert("authorization", http::HeaderValue::from_static("Bearer b"));
        assert_eq!(budget_key(&a), budget_key(&a.clone()));
        assert_ne!(budget_key(&a), budget_key(&b));
    }
}
