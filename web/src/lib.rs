//! The HTTP side of chatters (axum).
//!
//! Layout: [`router`] builds every route over an [`AppState`] with the shared middleware (request
//! ids, tracing, panic catching, timeouts, body limit, gzip of JSON/CSV, security headers);
//! [`serve`] runs it on a listener until a [`CancellationToken`] asks it to stop, through
//! [`server`] (our accept loop: header and idle timeouts, connection cap, prompt stop);
//! `routes/` holds one file per group of routes; [`error`] turns failures into JSON
//! `{"error", "message"}` answers; [`auth`] checks API keys; [`dashboard`] is the signed-in
//! dashboard over [`session`]; [`render_limit`] bounds uncached
//! chart renders (per-IP budget, slots, queue). `/metrics` encodes the core registry
//! ([`chatters_core::metrics::Metrics`]); `/healthz` reads [`chatters_core::health::Health`].
//!
//! With `METRICS_ADDR`, `/metrics` is served only on its own address ([`serve_metrics`]).

pub mod auth;
pub mod cache;
pub mod dashboard;
pub mod error;
pub mod render_limit;
mod routes;
pub mod server;
pub mod session;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, Request, StatusCode};
use chatters_core::bots::KnownBots;
use chatters_core::health::Health;
use chatters_core::metrics::Metrics;
use chatters_core::stats::Figures;
use chatters_core::store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate as _, SizeAbove};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

pub use error::ApiError;
pub use render_limit::{RenderLimiter, RenderLimits};
pub use server::{ServerLimits, serve_with};

/// What pages may load: their own images and stylesheets, nothing inline, no scripts, no
/// framing (the dashboard's pages may set their own).
const CONTENT_SECURITY_POLICY_VALUE: HeaderValue = HeaderValue::from_static(
    "default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'",
);

/// How long one request may take before it is answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest request body accepted (the API takes none; forms are small): 413 above.
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// Gzip only JSON and CSV answers (API, exports) of some size; never images, whose bytes are
/// already compressed.
fn compressible(
    _: StatusCode,
    _: axum::http::Version,
    headers: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/csv"))
}

/// The header carrying each request's id (set when the client sent none, echoed back).
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Settings the web side needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Base of public links (`PUBLIC_BASE_URL`, no trailing slash).
    pub public_base_url: String,
    /// `REDIS_URL`, when set (shared chart cache).
    pub redis_url: Option<secrecy::SecretString>,
    /// The bot account's id (never counted in figures).
    pub bot_user: Option<chatters_core::domain::UserId>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            public_base_url: "http://127.0.0.1:8080".to_owned(),
            redis_url: None,
            bot_user: None,
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<Store>,
    /// The SPEC figures over the store.
    pub figures: Figures,
    /// Settings.
    pub config: Arc<WebConfig>,
    /// Rendered charts, until new data arrives for their channel.
    pub charts: Arc<cache::ChartCache>,
    /// The process's metrics registry, encoded by `/metrics` (shared with the bot half when
    /// both run in one process); the chart cache's counters are added at each scrape.
    pub metrics: Metrics,
    /// Whether [`router`] answers `/metrics` (false when `METRICS_ADDR` serves it elsewhere,
    /// through [`serve_metrics`]).
    pub metrics_route: bool,
    /// The components `/healthz` reports (shared with the bot half and the integrity check).
    pub health: Health,
    /// Bounds on uncached chart renders.
    pub renders: Arc<RenderLimiter>,
    /// The dashboard: Twitch sign-in, sessions, admins (unconfigured by default: its pages
    /// then say what to set).
    pub dashboard: Arc<dashboard::Dashboard>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over a store with default settings.
    pub fn new(store: Arc<Store>) -> Self {
        Self::with_config(store, WebConfig::default())
    }

    /// State over a store with the given settings.
    pub fn with_config(store: Arc<Store>, config: WebConfig) -> Self {
        let figures = Figures::new(store.clone(), KnownBots::shipped(), config.bot_user);
        let dashboard = Arc::new(dashboard::Dashboard::new(
            store.clone(),
            &config.public_base_url,
            config.redis_url.as_ref(),
            None,
            Vec::new(),
        ));
        Self {
            store,
            figures,
            config: Arc::new(config),
            charts: Arc::new(cache::ChartCache::default()),
            metrics: Metrics::default(),
            metrics_route: true,
            health: Health::new(),
            renders: Arc::new(RenderLimiter::default()),
            dashboard,
        }
    }
}

/// Every route, with the shared middleware. Unknown routes answer 404 JSON.
pub fn router(state: AppState) -> Router {
    // `Router::layer` wraps what is already there: the first layer added is the innermost.
    routes::routes()
        .fallback(error::not_found)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(CompressionLayer::new().compress_when(SizeAbove::new(256).and(compressible)))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        .layer(axum::middleware::map_response(error::json_for_bare_errors))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                // A 5xx is logged once where it happens (`ApiError::store`, the panic handler);
                // a line per refused render (503 `busy`) would flood the log under load.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "http",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %id,
                    )
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY_VALUE,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

/// Serves only `/metrics` of `state` on `listener` (`METRICS_ADDR`: kept off the public web
/// address) until `shutdown` is cancelled.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let state = AppState {
        metrics_route: true,
        ..state
    };
    let app = routes::metrics_only()
        .fallback(error::not_found)
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Serves [`router`] on `listener` with SPEC's [`ServerLimits`] until `shutdown` is
/// cancelled, then closes idle connections and lets answers in progress finish (at most
/// [`ServerLimits::stop_grace`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with(listener, router(state), shutdown, ServerLimits::default()).await
}
