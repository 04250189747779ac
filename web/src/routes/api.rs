//! The keyed JSON API (`/api/v1/...`): a channel's streams, one stream with its top chatters
//! and raids, the chatter-count series, account-age clusters, and one user's dossier. The
//! chatters export is in [`super::export`], the regulars in [`super::audience`].
//!
//! Every route takes an [`ApiKeyAuth`] first (401), then checks the path's login against the
//! key's channels (403), then the query (400), then looks things up (404 only for an in-scope
//! id that does not exist).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::stats::{AccountClusters, RaidFigures, StreamFigures};
use chatters_core::store::{NameRecord, Stream};
use serde::Serialize;

use super::params::{Params, login, path};
use crate::AppState;
use crate::auth::ApiKeyAuth;
use crate::error::ApiError;

/// Streams listed when `limit` is not given.
const DEFAULT_STREAMS: i64 = 100;
/// Most streams one request lists.
const MAX_STREAMS: i64 = 1000;
/// Top chatters (and top watchers) shown with one stream.
const TOP_CHATTERS: i64 = 10;
/// Default window of `/accounts`.
const ACCOUNTS_WINDOW: i64 = 7 * 86_400;

/// `GET /api/v1/channels/{login}/streams` → `{"streams": [Stream…]}`, newest first.
pub(crate) async fn streams(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<StreamList>, ApiError> {
    let channel = auth.channel(&login(&path(raw)?)?)?;
    let limit = Params::parse(query.as_deref()).int("limit", 1, MAX_STREAMS, DEFAULT_STREAMS)?;
    let rows = state
        .store
        .streams(channel, limit)
        .await
        .map_err(|e| ApiError::store("listing streams", &e))?;
    let mut streams = Vec::with_capacity(rows.len());
    for row in &rows {
        let figures = state
            .figures
            .stream(row)
            .await
            .map_err(|e| ApiError::store("computing stream figures", &e))?;
        streams.push(figures);
    }
    Ok(Json(StreamList { streams }))
}

/// The body of `…/streams`.
#[derive(Debug, Serialize)]
pub(crate) struct StreamList {
    streams: Vec<StreamFigures>,
}

/// The body of `…/streams/{id}`: the stream's figures, its top chatters and its raids.
#[derive(Debug, Serialize)]
pub(crate) struct StreamDetail {
    #[serde(flatten)]
    figures: StreamFigures,
    top_chatters: Vec<TopChatter>,
    raids: Vec<RaidFigures>,
    top_watchers: Vec<TopWatcher>,
}

/// One of a stream's top chatters.
#[derive(Debug, Serialize)]
struct TopChatter {
    user_id: UserId,
    login: Login,
    messages: i64,
}

/// One of a stream's longest watchers.
#[derive(Debug, Serialize)]
struct TopWatcher {
    user_id: UserId,
    login: Login,
    watch_time: i64,
}

/// `GET /api/v1/channels/{login}/streams/{id}`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<StreamDetail>, ApiError> {
    let (raw_login, raw_id) = path(raw)?;
    let channel_login = login(&raw_login)?;
    let channel = auth.channel(&channel_login)?;
    let not_found = || {
        let shown: String = raw_id.chars().take(64).collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("channel {channel_login} has no stream {shown:?}"),
        )
    };
    // An id that cannot be a stream id names no stream: 404, like an unknown one.
    let id = StreamId::parse(&raw_id).map_err(|_| not_found())?;
    let stream: Stream = state
        .store
        .stream(&id)
        .await
        .map_err(|e| ApiError::store("reading a stream", &e))?
        .filter(|s| s.channel == channel)
        .ok_or_else(not_found)?;
    let figures = state
        .figures
        .stream(&stream)
        .await
        .map_err(|e| ApiError::store("computing stream figures", &e))?;
    let top_chatters = state
        .figures
        .top_chatters(&stream, TOP_CHATTERS)
        .await
        .map_err(|e| ApiError::store("reading top chatters", &e))?
        .into_iter()
        .map(|c| TopChatter {
            user_id: c.user_id,
            login: c.login,
            messages: c.count,
        })
        .collect();
    let raids = state
        .figures
        .raids(&stream)
        .await
        .map_err(|e| ApiError::store("reading raids", &e))?;
    let top_watchers = state
        .figures
        .top_watchers(&stream, TOP_CHATTERS, Timestamp::now())
        .await
        .map_err(|e| ApiError::store("reading top watchers", &e))?
        .into_iter()
        .map(|w| TopWatcher {
            user_id: w.user_id,
            login: w.login,
            watch_time: w.watch_time,
        })
        .collect();
    Ok(Json(StreamDetail {
        figures,
        top_chatters,
        raids,
        top_watchers,
    }))
}

/// The body of `…/series`.
#[derive(Debug, Serialize)]
pub(crate) struct Series {
    points: Vec<Point>,
}

/// One point: counted users present at `at`, and the viewers of the latest stream sample at
/// or before it within a stream.
#[derive(Debug, Serialize)]
struct Point {
    at: Timestamp,
    chatters: i64,
    viewers: Option<i64>,
}

/// `GET /api/v1/channels/{login}/series?range=24h|7d|30d` (default 24h, ending now).
pub(crate) async fn series(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Series>, ApiError> {
    let channel_login = login(&path(raw)?)?;
    auth.channel(&channel_login)?;
    let range = Params::parse(query.as_deref()).one_of("range", &["24h", "7d", "30d"])?;
    let seconds = match range {
        "7d" => 7 * 86_400,
        "30d" => 30 * 86_400,
        _ => 86_400,
    };
    let channel = channel_row(&state, &channel_login).await?;
    let now = Timestamp::now();
    let points = state
        .figures
        .series(&channel, Timestamp(now.0 - seconds), now)
        .await
        .map_err(|e| ApiError::store("reading the series", &e))?;
    let viewers = state
        .figures
        .series_viewers(&channel, &points)
        .await
        .map_err(|e| ApiError::store("reading stream samples", &e))?;
    let points = points
        .into_iter()
        .zip(viewers)
        .map(|(p, viewers)| Point {
            at: p.at,
            chatters: p.chatters,
            viewers,
        })
        .collect();
    Ok(Json(Series { points }))
}

/// `GET /api/v1/channels/{login}/accounts?since&until` (default: the last 7 days).
pub(crate) async fn accounts(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<AccountClusters>, ApiError> {
    let channel_login = login(&path(raw)?)?;
    auth.channel(&channel_login)?;
    let now = Timestamp::now();
    let (since, until) =
        Params::parse(query.as_deref()).window(now, Timestamp(now.0 - ACCOUNTS_WINDOW), now)?;
    let channel = channel_row(&state, &channel_login).await?;
    let clusters = state
        .figures
        .accounts_window(&channel, since, until)
        .await
        .map_err(|e| ApiError::store("computing account clusters", &e))?;
    Ok(Json(clusters))
}

/// The channel row of an in-scope login (it exists: keys reference channel rows).
pub(crate) async fn channel_row(
    state: &AppState,
    login: &Login,
) -> Result<chatters_core::store::Channel, ApiError> {
    state
        .store
        .channel(login)
        .await
        .map_err(|e| ApiError::store("reading a channel", &e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("channel {login} is not tracked"),
            )
        })
}

/// The body of `/api/v1/users/{login}`.
#[derive(Debug, Serialize)]
pub(crate) struct Dossier {
    user_id: UserId,
    login: Login,
    display_name: String,
    /// Account creation (Helix), when known.
    created_at: Option<Timestamp>,
    /// Every login the id was seen with, oldest first; the current one last, with
    /// `last_seen: null`.
    names: Vec<Name>,
    /// The user in each of the key's channels where they were seen.
    channels: Vec<ChannelRecord>,
}

#[derive(Debug, Serialize)]
struct Name {
    login: Login,
    first_seen: Timestamp,
    last_seen: Option<Timestamp>,
}

impl From<NameRecord> for Name {
    fn from(r: NameRecord) -> Self {
        Self {
            login: r.login,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
        }
    }
}

#[derive(Debug, Serialize)]
struct ChannelRecord {
    channel: Login,
    first_seen: Timestamp,
    last_seen: Timestamp,
    messages: i64,
    streams_attended: i64,
}

/// `GET /api/v1/users/{login}`: what the key's channels know about a user. A user never seen
/// in any of them is a 404, like an unknown one.
pub(crate) async fn user(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
) -> Result<Json<Dossier>, ApiError> {
    let user_login = login(&path(raw)?)?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no user {user_login} in this key's channels"),
        )
    };
    let id = state
        .store
        .user_ids(std::slice::from_ref(&user_login))
        .await
        .map_err(|e| ApiError::store("resolving a login", &e))?
        .into_iter()
        .next()
        .map(|(_, id)| id)
        .ok_or_else(not_found)?;
    let mut channels = Vec::new();
    for (key, channel) in &auth.channels {
        let record = state
            .store
            .channel_user(*key, id)
            .await
            .map_err(|e| ApiError::store("reading a user's channel record", &e))?;
        if let Some(r) = record {
            channels.push(ChannelRecord {
                channel: channel.clone(),
                first_seen: r.first_seen,
                last_seen: r.last_seen,
                messages: r.messages,
                streams_attended: r.streams_attended,
            });
        }
    }
    if channels.is_empty() {
        return Err(not_found());
    }
    let user = state
        .store
        .user(id)
        .await
        .map_err(|e| ApiError::store("reading a user", &e))?
        .ok_or_else(not_found)?;
    let names = state
        .store
        .name_history(id)
        .await
        .map_err(|e| ApiError::store("reading name history", &e))?;
    Ok(Json(Dossier {
        user_id: user.id,
        display_name: user.display_name.unwrap_or_else(|| user.login.to_string()),
        login: user.login,
        created_at: user.created_at,
        names: names.into_iter().map(Name::from).collect(),
        channels,
    }))
}
