//! `GET /healthz`: `{"status": "ok"|"degraded", "database", "irc", "helix"}`, each component
//! `"ok"`, `"not run"` (not part of this process) or a short reason. 200 unless the database
//! is unavailable (its ping fails) or failed its integrity check: then 503, same shape, so a
//! load balancer takes the instance out while a person can read why.

use axum::Json;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chatters_core::health::Status;
use serde_json::json;

use crate::AppState;

/// Pings the store and reads the components' states; the ping's failure itself is logged, not
/// shown.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let mut report = state.health.report();
    match state.store.ping().await {
        Ok(()) => {
            // Answering, and no integrity check has said otherwise (yet).
            if report.database == Status::NotRun {
                report.database = Status::Ok;
            }
        }
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            report.database = Status::Degraded("unavailable".to_owned());
        }
    }
    let status = if report.database.is_degraded() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({
        "status": if report.degraded() { "degraded" } else { "ok" },
        "database": report.database,
        "irc": report.irc,
        "helix": report.helix,
    });
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
