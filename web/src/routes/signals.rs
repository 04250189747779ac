//! Chat signals in the keyed JSON API: a channel's messages per minute (`/activity`) and mood
//! per minute (`/mood`), and a stream's top emotes (`/streams/{id}/emotes`). Same order of
//! checks as the rest of the API: key (401), scope (403), query (400), then 404.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chatters_core::domain::{Login, StreamId, Timestamp};
use chatters_core::signals::{ActivityPoint, EmoteFigure, MoodPoint};
use chatters_core::store::Channel;
use serde::Serialize;

use super::api::channel_row;
use super::params::{Params, login, path};
use crate::AppState;
use crate::auth::ApiKeyAuth;
use crate::error::ApiError;

/// Emotes listed per stream (SPEC: at most 50).
const EMOTES: i64 = 50;

/// The window of `range=24h|7d|30d` (default 24h), ending now.
fn window(query: Option<&str>) -> Result<(Timestamp, Timestamp), ApiError> {
    let range = Params::parse(query).one_of("range", &["24h", "7d", "30d"])?;
    let seconds = match range {
        "7d" => 7 * 86_400,
        "30d" => 30 * 86_400,
        _ => 86_400,
    };
    let now = Timestamp::now();
    Ok((Timestamp(now.0 - seconds), now))
}

/// The in-scope channel of a path login, and the window of the query.
async fn channel_and_window(
    state: &AppState,
    auth: &ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
    query: Option<&str>,
) -> Result<(Channel, Timestamp, Timestamp), ApiError> {
    let channel_login = login(&path(raw)?)?;
    auth.channel(&channel_login)?;
    let (from, to) = window(query)?;
    Ok((channel_row(state, &channel_login).await?, from, to))
}

/// The body of `…/activity`.
#[derive(Debug, Serialize)]
pub(crate) struct Activity {
    points: Vec<ActivityPoint>,
}

/// `GET /api/v1/channels/{login}/activity?range=24h|7d|30d`: `{"points": [{at, messages}]}`,
/// one point per minute with a message.
pub(crate) async fn activity(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Activity>, ApiError> {
    let (channel, from, to) = channel_and_window(&state, &auth, raw, query.as_deref()).await?;
    let points = state
        .figures
        .activity(&channel, from, to)
        .await
        .map_err(|e| ApiError::store("reading chat activity", &e))?;
    Ok(Json(Activity { points }))
}

/// The body of `…/mood`.
#[derive(Debug, Serialize)]
pub(crate) struct MoodSeries {
    points: Vec<MoodPoint>,
}

/// `GET /api/v1/channels/{login}/mood?range=24h|7d|30d`: `{"points": [{at, messages, hype,
/// laughter, love, sadness, anger, tension}]}`, one point per minute with a message.
pub(crate) async fn mood(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<MoodSeries>, ApiError> {
    let (channel, from, to) = channel_and_window(&state, &auth, raw, query.as_deref()).await?;
    let points = state
        .figures
        .mood(&channel, from, to)
        .await
        .map_err(|e| ApiError::store("reading chat mood", &e))?;
    Ok(Json(MoodSeries { points }))
}

/// The body of `…/streams/{id}/emotes`.
#[derive(Debug, Serialize)]
pub(crate) struct Emotes {
    emotes: Vec<EmoteFigure>,
}

/// `GET /api/v1/channels/{login}/streams/{id}/emotes`: `{"emotes": [{provider, id, name,
/// count}]}` by count descending then name, at most 50.
pub(crate) async fn stream_emotes(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Emotes>, ApiError> {
    let (raw_login, raw_id) = path(raw)?;
    let channel_login: Login = login(&raw_login)?;
    let channel = auth.channel(&channel_login)?;
    let not_found = || {
        let shown: String = raw_id.chars().take(64).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("channel {channel_login} has no stream {shown:?}"),
        )
    };
    let id = StreamId::parse(&raw_id).map_err(|_| not_found())?;
    let stream = state
        .store
        .stream(&id)
        .await
        .map_err(|e| ApiError::store("reading a stream", &e))?
        .filter(|s| s.channel == channel)
        .ok_or_else(not_found)?;
    let emotes = state
        .figures
        .stream_emotes(&stream, EMOTES)
        .await
        .map_err(|e| ApiError::store("reading stream emotes", &e))?;
    Ok(Json(Emotes { emotes }))
}
