//! `GET /metrics`: every registered metric in the Prometheus text format, plus the chart
//! cache's counters read from this state's cache (no auth, like `/healthz`: keep the endpoint
//! off the public internet or behind the proxy's rules).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::AppState;
use crate::metrics::CONTENT_TYPE as PROMETHEUS_TEXT;

/// Renders the registry.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let charts = state.charts.clone();
    let text = state.metrics.render_with(|w| {
        w.counter(
            "chatters_chart_renders_total",
            "Chart images and share pages rendered (cache misses).",
            charts.renders(),
        );
        w.counter(
            "chatters_chart_cache_hits_total",
            "Chart and share page requests answered from the cache.",
            charts.hits(),
        );
        w.counter(
            "chatters_chart_cache_remote_hits_total",
            "Of the cache hits, those read from Redis.",
            charts.remote_hits(),
        );
        #[allow(clippy::cast_precision_loss)] // bounded by the cache budget
        w.gauge(
            "chatters_chart_cache_bytes",
            "Bytes held by the in-process chart cache.",
            charts.bytes() as f64,
        );
    });
    ([(CONTENT_TYPE, PROMETHEUS_TEXT)], text)
}
