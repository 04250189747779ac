//! One Helix GET with the whole policy: the right token (user or any), at most one token refresh
//! on 401, retries with capped exponential backoff for 5xx, 429 (the rate limiter then holds the
//! call until `Ratelimit-Reset`), timeouts and unparsable bodies, and the outcome classified into
//! a [`HelixError`]. Pagination follows every cursor and fails as a whole.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::Retryable as _;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};
use twitch_api::helix::{HelixRequestGetError, Paginated, PaginationState, RequestGet, Response};

use super::client::Helix;
use super::error::HelixError;
use crate::auth::{AuthMode, Bearer};

/// A runaway-pagination guard: 10,000 pages of 1,000 chatters.
const MAX_PAGES: usize = 10_000;

/// Which token a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// A user or an app token.
    AnyToken,
    /// The bot's user token with this scope.
    UserScope(&'static str),
}

/// Twitch's error body: `{"error": "...", "status": 403, "message": "..."}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    message: String,
}

impl Helix {
    /// One GET, with retries and at most one refresh.
    pub(crate) async fn get<R>(
        &self,
        endpoint: &'static str,
        needs: Needs,
        request: &R,
    ) -> Result<Response<R, R::Response>, HelixError>
    where
        R: RequestGet + Clone + Send + Sync,
        R::Response: DeserializeOwned + PartialEq,
    {
        self.bearer(endpoint, needs)?;
        let refreshed = AtomicBool::new(false);
        let metrics = self.http.metrics();
        let result = (|| self.attempt(endpoint, needs, request, &refreshed))
            .retry(self.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(HelixError::is_transient)
            // After a 429 the rate limiter waits for the reset; no backoff on top.
            .adjust(|error, delay| match error {
                HelixError::RateLimited { .. } => delay.map(|_| Duration::ZERO),
                _ => delay,
            })
            .notify(|error, delay| {
                metrics.retry();
                debug!(endpoint, %error, delay_ms = delay.as_millis(), "retrying Helix call");
            })
            .await;
        if result.is_err() {
            metrics.failure(endpoint);
        }
        result
    }

    /// Every page of a paginated GET, concatenated, with the first page's `total`.
    pub(crate) async fn get_all<R, T>(
        &self,
        endpoint: &'static str,
        needs: Needs,
        mut request: R,
    ) -> Result<(Vec<T>, Option<i64>), HelixError>
    where
        R: RequestGet<Response = Vec<T>, PaginationData = PaginationState<R>>
            + Paginated
            + Clone
            + Send
            + Sync,
        T: DeserializeOwned + PartialEq,
    {
        let mut items = Vec::new();
        let mut total = None;
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self.get(endpoint, needs, &request).await?;
            total = total.or(page.pagination_data.total);
            let empty = page.data.is_empty();
            items.extend(page.data);
            let cursor = page
                .pagination_data
                .cursor
                .filter(|c| !c.as_str().is_empty());
            match cursor {
                Some(cursor) if !empty => {
                    if !seen.insert(cursor.as_str().to_owned()) {
                        return Err(decode(endpoint, "a pagination cursor came back twice"));
                    }
                    request.set_pagination(Some(cursor));
                }
                _ => return Ok((items, total)),
            }
        }
        Err(decode(endpoint, "too many pages"))
    }

    fn bearer(&self, endpoint: &'static str, needs: Needs) -> Result<Bearer, HelixError> {
        let bearer = self.auth.bearer(needs != Needs::AnyToken);
        match (needs, bearer) {
            (_, None) if self.auth.mode() == AuthMode::Anonymous => {
                Err(HelixError::NoToken { endpoint })
            }
            (_, None) => Err(HelixError::NoUserToken { endpoint }),
            (Needs::UserScope(scope), Some(_)) if !self.auth.has_scope(scope) => {
                Err(HelixError::MissingScope { endpoint, scope })
            }
            (_, Some(bearer)) => Ok(bearer),
        }
    }

    async fn attempt<R>(
        &self,
        endpoint: &'static str,
        needs: Needs,
        request: &R,
        refreshed: &AtomicBool,
    ) -> Result<Response<R, R::Response>, HelixError>
    where
        R: RequestGet + Clone + Send + Sync,
        R::Response: DeserializeOwned + PartialEq,
    {
        let bearer = self.bearer(endpoint, needs)?;
        let (mut uri, mut response) = self.send(endpoint, request, &bearer).await?;
        if response.status() == http::StatusCode::UNAUTHORIZED
            && !refreshed.swap(true, Ordering::Relaxed)
        {
            if let Err(error) = self.auth.renew_after(bearer.generation).await {
                warn!(endpoint, %error, "Helix answered 401 and the token could not be renewed");
                return Err(HelixError::Unauthorized { endpoint });
            }
            let bearer = self.bearer(endpoint, needs)?;
            (uri, response) = self.send(endpoint, request, &bearer).await?;
        }
        classify(endpoint, request, &uri, response)
    }

    async fn send<R: RequestGet>(
        &self,
        endpoint: &'static str,
        request: &R,
        bearer: &Bearer,
    ) -> Result<(http::Uri, http::Response<Bytes>), HelixError> {
        let outgoing = request
            .create_request(bearer.access.secret(), bearer.client_id.as_str())
            .map_err(|e| HelixError::Rejected {
                endpoint,
                status: 0,
                message: format!("the request could not be built: {e}"),
            })?;
        let uri = outgoing.uri().clone();
        let response = self
            .http
            .send(outgoing)
            .await
            .map_err(|error| HelixError::Transport { endpoint, error })?;
        Ok((uri, response))
    }
}

fn decode(endpoint: &'static str, detail: impl Into<String>) -> HelixError {
    HelixError::Decode {
        endpoint,
        detail: detail.into(),
    }
}

fn classify<R>(
    endpoint: &'static str,
    request: &R,
    uri: &http::Uri,
    response: http::Response<Bytes>,
) -> Result<Response<R, R::Response>, HelixError>
where
    R: RequestGet + Clone,
    R::Response: DeserializeOwned + PartialEq,
{
    let status = response.status();
    if status.is_success() {
        return R::parse_response(Some(request.clone()), uri, response).map_err(|e| {
            let detail = match &e {
                HelixRequestGetError::DeserializeError(_, source, _, _) => source.to_string(),
                HelixRequestGetError::Error {
                    status, message, ..
                } => format!("an error object ({status}: {message}) in a success"),
                HelixRequestGetError::Utf8Error(..) => "the body is not UTF-8".to_owned(),
                HelixRequestGetError::InvalidResponse { reason, .. } => (*reason).to_owned(),
                _ => "unexpected response".to_owned(),
            };
            decode(endpoint, detail)
        });
    }
    let message = serde_json::from_slice::<ErrorBody>(response.body())
        .map(|b| b.message.chars().take(200).collect())
        .unwrap_or_else(|_| "(no explanation)".to_owned());
    Err(match status.as_u16() {
        401 => HelixError::Unauthorized { endpoint },
        403 => HelixError::Forbidden { endpoint, message },
        429 => HelixError::RateLimited { endpoint },
        s @ 500.. => HelixError::Server {
            endpoint,
            status: s,
        },
        s => HelixError::Rejected {
            endpoint,
            status: s,
            message,
        },
    })
}
