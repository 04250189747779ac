//! `GET /healthz`: 200 when the database answers, 503 otherwise.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// Pings the store; the failure itself is logged, not shown.
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(json!({"status": "ok"}))),
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            Err(ApiError::database_unavailable())
        }
    }
}
