//! [`ApiError`]: every failure answered by the web endpoint, as JSON
//! `{"error": "<code>", "message": "<human text>"}` with the right status. Internals are logged
//! once where they happen and never put in the message; [`ApiError::store`] is the one mapping
//! from storage and figures failures to answers.

use std::any::Any;

use axum::Json;
use axum::body::Body;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;
use chatters_core::store::StoreError;
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Human-readable message, safe to show to anyone.
    pub message: String,
    /// Seconds the client should wait before trying again (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// This error with a `Retry-After` of `seconds` (at least 1).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 429: this client asked for too much too fast.
    pub fn too_many_requests(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many chart renders from this address; try again later",
        )
        .retry_after(retry_after)
    }

    /// 503: the server is at capacity for this kind of work.
    pub fn busy(retry_after: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many charts are being drawn; try again shortly",
        )
        .retry_after(retry_after)
    }

    /// The HTTP status of this answer.
    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// 404 for a path no route serves.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such page (see /healthz)",
        )
    }

    /// 503 when the database does not answer.
    pub fn database_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database is not answering; try again later",
        )
    }

    /// 500 for a failure that is ours; the caller has logged the details.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; try again later",
        )
    }

    /// A store or figures failure while `doing` something: logged here, once, with its details;
    /// answered 503 when the database is unavailable (pool timed out or closed, connection
    /// lost, unreachable), else 500, either way without the details.
    pub fn store(doing: &str, error: &StoreError) -> Self {
        if database_unavailable(error) {
            tracing::warn!(%error, "{doing}: database unavailable");
            Self::database_unavailable()
        } else {
            tracing::error!(%error, "{doing}");
            Self::internal()
        }
    }
}

/// Whether `error` means the database cannot be reached now (a retry may succeed), rather
/// than a failure of the query or of the data.
fn database_unavailable(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Unreachable { .. }
            | StoreError::Sql(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
    )
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let body = json!({"error": self.code, "message": self.message});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The fallback for unknown routes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// What [`tower_http::catch_panic::CatchPanicLayer`] answers when a handler panics.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %detail, "handler panicked");
    ApiError::internal().into_response()
}

/// Turns the bare answers of routing and middleware (405 from method routing, 413 from the body
/// limit) into the same JSON errors as every handler's.
pub async fn json_for_bare_errors(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "this route does not accept that method",
        )
        .into_response(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "payload_too_large", "the request body is too large")
                .into_response()
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn json_of(response: axum::response::Response) -> (StatusCode, serde_json::Value) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[tokio::test]
    async fn errors_answer_json_with_code_and_message() {
        let error = ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", "w: use 200-2400");

        let (status, body) = json_of(error.into_response()).await;

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"error": "bad_parameter", "message": "w: use 200-2400"})
        );
    }

    #[tokio::test]
    async fn a_retry_after_is_sent_as_a_header_beside_the_json() {
        let response = ApiError::too_many_requests(0).into_response();

        assert_eq!(response.headers()[RETRY_AFTER], "1");
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"], "rate_limited");
        assert_eq!(body.as_object().map(|o| o.len()), Some(2));
    }

    #[test]
    fn an_unavailable_database_is_503_and_other_store_failures_are_500() {
        let closed = ApiError::store("reading", &StoreError::Sql(sqlx::Error::PoolClosed));
        let timed_out = ApiError::store("reading", &StoreError::Sql(sqlx::Error::PoolTimedOut));
        let corrupt = ApiError::store(
            "reading",
            &StoreError::Corrupt {
                column: "secret_column",
                value: "secret value".into(),
            },
        );
        let row = ApiError::store("reading", &StoreError::Sql(sqlx::Error::RowNotFound));

        assert_eq!(closed, ApiError::database_unavailable());
        assert_eq!(timed_out, ApiError::database_unavailable());
        assert_eq!(corrupt, ApiError::internal());
        assert_eq!(row, ApiError::internal());
        assert!(!corrupt.message.contains("secret"));
    }

    #[tokio::test]
    async fn a_panic_answers_500_without_its_message() {
        let response = panic_response(Box::new("secret detail".to_owned()));

        let (status, body) = json_of(response).await;

        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal");
        assert!(!body.to_string().contains("secret detail"));
    }
}
