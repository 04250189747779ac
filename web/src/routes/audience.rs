//! The audience part of the JSON API: `GET /api/v1/channels/{login}/regulars` (the top
//! watchers of a stream are shown with it by [`super::api`]). Auth and errors as every keyed
//! route: 401, then 403 for a login outside the key's channels, then 404.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use chatters_core::audience::Regulars;

use super::api::channel_row;
use super::params::{login, path};
use crate::AppState;
use crate::auth::ApiKeyAuth;
use crate::error::ApiError;

/// `GET /api/v1/channels/{login}/regulars` → `{"streams": [the last 5 ended, newest first],
/// "regulars": [{user_id, login, attended, watch_time}]}`.
pub(crate) async fn regulars(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<Regulars>, ApiError> {
    let channel_login = login(&path(raw)?)?;
    auth.channel(&channel_login)?;
    let channel = channel_row(&state, &channel_login).await?;
    let regulars = state
        .figures
        .regulars(&channel)
        .await
        .map_err(|e| ApiError::store("reading regulars", &e))?;
    Ok(Json(regulars))
}
