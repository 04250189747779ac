//! `GET /api/v1/channels/{login}/chatters?since&until&format=json|csv`: the per-user export,
//! streamed. The chunks come from [`chatters_core::export::export`] (the same bytes as
//! `chatters export`); a task reads them from the database while the client reads the body, a
//! couple of chunks ahead, so memory stays flat however many users the channel has.
//!
//! The first chunk is awaited before answering, so a database failure at the start is a proper
//! JSON error; a failure later can only abort the transfer (the status is already sent).

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chatters_core::domain::Timestamp;
use chatters_core::export::{self, ExportError, ExportFormat};
use chatters_core::store::Channel;
use futures::StreamExt as _;
use futures::stream;
use tokio::sync::mpsc;

use super::api::channel_row;
use super::params::{Params, login, path};
use crate::AppState;
use crate::auth::ApiKeyAuth;
use crate::error::ApiError;

/// Chunks encoded ahead of the client.
const CHUNKS_AHEAD: usize = 2;

/// The handler.
pub(crate) async fn chatters(
    State(state): State<AppState>,
    auth: ApiKeyAuth,
    raw: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let channel_login = login(&path(raw)?)?;
    auth.channel(&channel_login)?;
    let params = Params::parse(query.as_deref());
    let (since, until) = params.window(Timestamp::now(), Timestamp(0), Timestamp(i64::MAX))?;
    let format = match params.one_of("format", &["json", "csv"])? {
        "csv" => ExportFormat::Csv,
        _ => ExportFormat::Json,
    };
    let channel = channel_row(&state, &channel_login).await?;
    tracing::debug!(key_id = %auth.id, "export");
    stream_export(&state, &channel, since, until, format).await
}

/// The export of `channel`'s users seen in `[since, until]` as a streamed download (the API's
/// and the dashboard's).
pub(crate) async fn stream_export(
    state: &AppState,
    channel: &Channel,
    since: Timestamp,
    until: Timestamp,
    format: ExportFormat,
) -> Result<Response, ApiError> {
    let channel_login = &channel.login;
    let key = channel.key;
    let excluded = state
        .figures
        .excluded(channel)
        .await
        .map_err(|e| ApiError::store("reading excluded users", &e))?;

    let (tx, mut rx) = mpsc::channel::<Result<Bytes, ExportError>>(CHUNKS_AHEAD);
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut chunks = export::export(store.as_ref(), key, since, until, &excluded, format);
        while let Some(chunk) = chunks.next().await {
            let failed = chunk.is_err();
            // A closed channel: the client went away; stop reading the database.
            if tx.send(chunk.map(Bytes::from)).await.is_err() || failed {
                break;
            }
        }
        tracing::debug!("export finished");
    });

    let first = match rx.recv().await {
        Some(Ok(bytes)) => bytes,
        Some(Err(ExportError::Store(e))) => return Err(ApiError::store("exporting chatters", &e)),
        Some(Err(e)) => {
            tracing::error!(error = %e, "exporting chatters");
            return Err(ApiError::internal());
        }
        None => {
            tracing::error!("export task ended without output");
            return Err(ApiError::internal());
        }
    };
    let rest = stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        let item = item.map_err(|error| {
            tracing::error!(%error, "export failed after the first chunk; aborting the transfer");
            std::io::Error::other("export failed")
        });
        Some((item, rx))
    });
    // Fused: the compression layer may poll a finished body once more.
    let body = Body::from_stream(
        stream::once(async move { Ok::<_, std::io::Error>(first) })
            .chain(rest)
            .fuse(),
    );

    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if format == ExportFormat::Csv {
        let disposition = format!(
            "attachment; filename=\"{channel_login}-chatters.{}\"",
            format.extension()
        );
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}
