//! Every route of the web endpoint, one file per group.

mod api;
mod audience;
mod charts;
mod export;
mod health;
mod metrics;
mod params;
mod share;
mod signals;

pub(crate) use charts::{render_channel, render_stream, respond};
pub(crate) use export::stream_export;
pub(crate) use params::Params;

use axum::Router;
use axum::routing::get;

use crate::AppState;

/// The routes, before the middleware and the fallback are added.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .merge(api_routes())
        .merge(chart_routes())
        .merge(crate::dashboard::routes())
}

/// The keyed JSON API, exports and `/metrics`.
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/channels/{login}/streams", get(api::streams))
        .route("/api/v1/channels/{login}/streams/{id}", get(api::stream))
        .route("/api/v1/channels/{login}/chatters", get(export::chatters))
        .route("/api/v1/channels/{login}/series", get(api::series))
        .route("/api/v1/channels/{login}/accounts", get(api::accounts))
        .route("/api/v1/channels/{login}/regulars", get(audience::regulars))
        .route("/api/v1/channels/{login}/activity", get(signals::activity))
        .route("/api/v1/channels/{login}/mood", get(signals::mood))
        .route(
            "/api/v1/channels/{login}/streams/{id}/emotes",
            get(signals::stream_emotes),
        )
        .route("/api/v1/users/{login}", get(api::user))
}

/// `/metrics` alone (its own listener, `METRICS_ADDR`).
pub(crate) fn metrics_only() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics::metrics))
}

/// Chart images and the public share page.
fn chart_routes() -> Router<AppState> {
    Router::new()
        .route("/c/{login}", get(share::page))
        .route("/assets/share.css", get(share::stylesheet))
        .route("/c/{login}/chatters.png", get(charts::chatters))
        .route("/c/{login}/streams/{file}", get(charts::stream))
}
