//! Every route of the web endpoint, one file per group.

mod health;

use axum::Router;
use axum::routing::get;

use crate::AppState;

/// The routes, before the middleware and the fallback are added.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(health::healthz))
}
