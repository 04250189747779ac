//! `GET /metrics`: the process's registry in the Prometheus text format, plus the chart
//! cache's counters and render durations read from this state's cache, and the render
//! limiter's refusals, at each scrape (no auth, like `/healthz`: with `METRICS_ADDR` it is served
//! only there, off the public address).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chatters_core::metrics::CONTENT_TYPE as PROMETHEUS_TEXT;

use crate::AppState;

/// Encodes the registry and the chart cache's families.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    if !state.metrics_route {
        // Served on METRICS_ADDR only: the public address does not know the route.
        return crate::error::not_found().await.into_response();
    }
    let charts = state.charts.clone();
    let renders = state.renders.clone();
    let text = state.metrics.encode_with(move |w| {
        w.counters(
            "chatters_chart_renders_refused",
            "Uncached chart renders refused: 429 rate_limited (the client IP over its budget), \
             503 busy (every render slot and queue place taken).",
            [
                ([("reason", "rate_limited")], renders.refused_rate()),
                ([("reason", "busy")], renders.refused_busy()),
            ],
        )?;
        w.counter(
            "chatters_chart_renders",
            "Chart images and share pages rendered (cache misses).",
            charts.renders(),
        )?;
        w.histogram(
            "chatters_chart_render_seconds",
            "Time taken by chart and share page renders on a cache miss (data read, drawing, encoding).",
            charts.render_seconds(),
        )?;
        w.counter(
            "chatters_chart_cache_hits",
            "Chart and share page requests answered from the cache.",
            charts.hits(),
        )?;
        w.counter(
            "chatters_chart_cache_remote_hits",
            "Of the cache hits, those read from Redis.",
            charts.remote_hits(),
        )?;
        w.gauge(
            "chatters_chart_cache_bytes",
            "Bytes held by the in-process chart cache.",
            i64::try_from(charts.bytes()).unwrap_or(i64::MAX),
        )
    });
    ([(CONTENT_TYPE, PROMETHEUS_TEXT)], text).into_response()
}
