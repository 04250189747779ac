//! The dashboard for streamers and moderators (SPEC "Web", "Settled details: Dashboard",
//! "Second wave: Sign-in and onboarding"): Twitch sign-in, then server-rendered pages of the
//! tracked channels the user broadcasts or moderates (every channel for `DASHBOARD_ADMINS`).
//!
//! Layout: this file (the routes); `state` ([`Dashboard`]: settings and sessions); `access`
//! (who is asking and what they may see);
//! `twitch` (the OAuth and Helix calls of sign-in); `signin` (`/login`, `/auth/callback`,
//! `/logout`, `/dashboard`, "track my channel"); `pages` (channel overview, stream, chatter
//! table, user, account clusters, charts); `manage` (settings, API keys, exports); `view`
//! (templates, error pages, figures shown generically). Sessions are in [`crate::session`].
//!
//! The list of channels a user moderates is read at sign-in, with the user's token, which is
//! then dropped. It is trusted for 10 minutes: after that, the next page sends the browser
//! through Twitch's authorization again (no consent page the second time), which reads the
//! list anew. That keeps no Twitch token on the server.

mod access;
mod manage;
mod pages;
mod signin;
mod state;
pub mod twitch;
mod view;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;
pub use state::{CHANNELS_FRESH_FOR, Dashboard};

/// Every dashboard route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(signin::login))
        .route("/auth/callback", get(signin::callback))
        .route("/logout", post(signin::logout))
        .route("/dashboard", get(signin::home))
        .route("/dashboard/track", post(signin::track))
        .route("/assets/dashboard.css", get(view::stylesheet))
        .route("/dashboard/c/{login}", get(pages::overview))
        .route("/dashboard/c/{login}/chart.png", get(pages::channel_chart))
        .route("/dashboard/c/{login}/streams/{id}", get(pages::stream))
        .route(
            "/dashboard/c/{login}/stream-charts/{file}",
            get(pages::stream_chart),
        )
        .route("/dashboard/c/{login}/chatters", get(pages::chatters))
        .route("/dashboard/c/{login}/users/{user}", get(pages::user))
        .route("/dashboard/c/{login}/accounts", get(pages::accounts))
        .route(
            "/dashboard/c/{login}/settings",
            get(manage::settings).post(manage::change_setting),
        )
        .route("/dashboard/c/{login}/apikeys", post(manage::create_key))
        .route(
            "/dashboard/c/{login}/apikeys/revoke",
            post(manage::revoke_key),
        )
        .route("/dashboard/c/{login}/export", get(manage::export))
}
