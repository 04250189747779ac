//! `GET /c/{login}/chatters.png?range=&w=&h=&theme=` and `GET /c/{login}/streams/{id}.png`:
//! chart images, cached until new data arrives for the channel (see [`crate::cache`]), with a
//! strong `ETag`, `Cache-Control: public, max-age=60` and 304 answers to `If-None-Match`.
//!
//! Parameters are checked before anything is read, so a bad one costs nothing; an unknown
//! channel, a channel whose public page is off and an unknown stream are all 404. A cache
//! miss renders only once [`crate::render_limit`] admits it (429/503 with `Retry-After`
//! otherwise); hits are never limited.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chatters_core::charts::{self, ChartSpec, Range};
use chatters_core::domain::{Login, StreamId, Timestamp};
use chatters_core::store::Channel;

use super::params::Params;
use crate::AppState;
use crate::cache::{Cached, ChannelProbe, ProbeLookup, version};
use crate::error::ApiError;
use crate::render_limit::ClientIp;

/// How long a rendered chart is served without new data (its window moves with the clock).
pub(super) const CHART_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// What clients and proxies may do with a chart or page.
pub(super) const CACHE_CONTROL_VALUE: HeaderValue = HeaderValue::from_static("public, max-age=60");

/// `GET /c/{login}/chatters.png`.
pub(crate) async fn chatters(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    login: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let spec = params.chart_spec()?;
    let range = params.chart_range()?;
    let Path(login) = login.map_err(|_| unknown_channel())?;
    let public = public_channel(&state, &login).await?;
    let key = chart_key(&public, &format!("chatters/{range}"), &spec);
    png(&state, &headers, &public, &key, || async {
        let _permit = state.renders.admit(client).await?;
        render_channel(&state, public.channel()?, range, spec).await
    })
    .await
}

/// `GET /c/{login}/streams/{id}.png`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let spec = Params::parse(query.as_deref()).chart_spec()?;
    let Path((login, file)) = path.map_err(|_| unknown_channel())?;
    let id = file
        .strip_suffix(".png")
        .and_then(|id| StreamId::parse(id).ok())
        .ok_or_else(unknown_stream)?;
    let public = public_channel(&state, &login).await?;
    let key = chart_key(&public, &format!("stream/{id}"), &spec);
    png(&state, &headers, &public, &key, || async {
        let _permit = state.renders.admit(client).await?;
        render_stream(&state, public.channel()?, id, spec).await
    })
    .await
}

/// The cache key of a chart of `public`: channel, what is drawn, size and theme.
fn chart_key(public: &PublicChannel, what: &str, spec: &ChartSpec) -> String {
    format!(
        "{}/{what}/{}x{}/{}",
        public.login,
        spec.width(),
        spec.height(),
        spec.theme()
    )
}

/// A PNG from the cache (rendered by `render` when missing or stale), answered with its ETag
/// (or 304).
async fn png<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    public: &PublicChannel,
    key: &str,
    render: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, ApiError>>,
{
    let cached = state
        .charts
        .get_or_render(
            state.config.redis_url.as_ref(),
            key,
            public.version(),
            CHART_MAX_AGE,
            render,
        )
        .await?;
    Ok(respond(headers, &cached, "image/png"))
}

/// A channel whose public page is on, as a request found it.
pub(super) struct PublicChannel {
    /// The login asked for.
    pub login: Login,
    /// Its probe (the channel is known to exist).
    probe: Arc<ChannelProbe>,
}

impl PublicChannel {
    /// The channel's data version.
    pub fn version(&self) -> u64 {
        self.probe.version
    }

    /// The channel row (read only when rendering: cache hits need no copy of it).
    pub fn channel(&self) -> Result<&Channel, ApiError> {
        self.probe.channel.as_ref().ok_or_else(unknown_channel)
    }
}

/// The channel behind `/c/{login}` when it exists and its public page is on.
pub(super) async fn public_channel(state: &AppState, raw: &str) -> Result<PublicChannel, ApiError> {
    let login = Login::parse(raw).map_err(|_| unknown_channel())?;
    let probe = match state.charts.probe_lookup(&login) {
        ProbeLookup::Use(probe) => probe,
        ProbeLookup::Refresh(previous) => {
            match version::probe(&state.store, &login, previous.as_deref(), Timestamp::now()).await
            {
                Ok(probe) => {
                    let probe = Arc::new(probe);
                    state.charts.set_probe(login.clone(), probe.clone());
                    probe
                }
                Err(error) => {
                    state.charts.probe_failed(&login);
                    return Err(ApiError::store("probing a channel", &error));
                }
            }
        }
    };
    if probe.channel.is_some() && probe.public {
        Ok(PublicChannel { login, probe })
    } else {
        Err(unknown_channel())
    }
}

/// The answer for a cached body: 304 when `If-None-Match` names it, else 200 with the body.
pub(crate) fn respond(
    headers: &HeaderMap,
    cached: &Cached,
    content_type: &'static str,
) -> Response {
    let not_modified = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| cached.matches(v));
    let mut response = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(cached.body.clone()));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, CACHE_CONTROL_VALUE);
    headers.insert(ETAG, cached.etag.clone());
    response
}

pub(crate) async fn render_channel(
    state: &AppState,
    channel: &Channel,
    range: Range,
    spec: ChartSpec,
) -> Result<Vec<u8>, ApiError> {
    let to = Timestamp::now();
    let from = to.plus(-range.seconds());
    let title = format!("{}: chatters, {}", channel.login, range.describe());
    let data = state
        .figures
        .channel_series(channel, from, to, title)
        .await
        .map_err(|e| ApiError::store("reading a channel's series", &e))?;
    draw(move || charts::channel(&data, &spec)).await
}

pub(crate) async fn render_stream(
    state: &AppState,
    channel: &Channel,
    id: StreamId,
    spec: ChartSpec,
) -> Result<Vec<u8>, ApiError> {
    let stream = state
        .store
        .stream(&id)
        .await
        .map_err(|e| ApiError::store("reading a stream", &e))?
        .filter(|s| s.channel == channel.key)
        .ok_or_else(unknown_stream)?;
    let data = state
        .figures
        .stream_series(channel, &stream)
        .await
        .map_err(|e| ApiError::store("reading a stream's series", &e))?;
    draw(move || charts::stream(&data, &spec)).await
}

/// Runs a render on the blocking pool (a full-size chart takes milliseconds of CPU).
pub(crate) async fn draw(
    render: impl FnOnce() -> Result<Vec<u8>, charts::ChartError> + Send + 'static,
) -> Result<Vec<u8>, ApiError> {
    match tokio::task::spawn_blocking(render).await {
        Ok(Ok(png)) => Ok(png),
        Ok(Err(error)) => {
            tracing::error!(%error, "chart render failed");
            Err(ApiError::internal())
        }
        Err(error) => {
            tracing::error!(%error, "chart render task failed");
            Err(ApiError::internal())
        }
    }
}

pub(super) fn unknown_channel() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such channel (or its public page is off)",
    )
}

fn unknown_stream() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such stream in this channel",
    )
}
