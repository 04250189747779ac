//! Who is asking and what they may see: the signed-in [`Viewer`] of a request (or the answer
//! sending them to sign in), and the channel of a URL when they may see it.

use axum::http::HeaderMap;
use chatters_core::domain::{Login, Timestamp};
use chatters_core::store::{Channel, WebSession};

use super::state::CHANNELS_FRESH_FOR;
use super::view::DashError;
use crate::AppState;
use crate::session::cookie;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    /// The session.
    pub session: WebSession,
    /// In `DASHBOARD_ADMINS`.
    pub admin: bool,
}

impl Viewer {
    /// Whether the user may see this channel's pages.
    pub fn can_see(&self, login: &Login) -> bool {
        self.admin || self.session.channels.contains(login)
    }
}

/// The signed-in user, or the answer that sends them to sign in (`next`: where to come back).
pub(crate) async fn viewer(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
) -> Result<Viewer, DashError> {
    let dash = &state.dashboard;
    if dash.app.is_none() {
        return Err(DashError::not_configured(dash));
    }
    let now = Timestamp::now();
    let session = match cookie::get(headers, cookie::SESSION) {
        Some(id) => dash.sessions.get(id, now).await.map_err(|e| {
            tracing::error!(error = %e, "reading a dashboard session");
            DashError::unavailable(dash)
        })?,
        None => None,
    };
    let Some(session) = session else {
        return Err(DashError::sign_in(dash, next));
    };
    if now.0 - session.channels_at.0 > CHANNELS_FRESH_FOR {
        return Err(DashError::sign_in(dash, next));
    }
    let admin = dash.admins.contains(&session.login);
    Ok(Viewer { session, admin })
}

/// The channel of a dashboard URL, when the viewer may see it: 403 for a channel they neither
/// broadcast nor moderate (tracked or not), 404 for one of theirs that is not tracked.
pub(crate) async fn channel(
    state: &AppState,
    viewer: &Viewer,
    raw: &str,
) -> Result<Channel, DashError> {
    let dash = &state.dashboard;
    let login = Login::parse(raw).map_err(|_| DashError::forbidden(dash))?;
    if !viewer.can_see(&login) {
        return Err(DashError::forbidden(dash));
    }
    match state.store.channel(&login).await {
        Ok(Some(channel)) => Ok(channel),
        Ok(None) => Err(DashError::not_found(dash, "This channel is not tracked.")),
        Err(e) => Err(DashError::store(dash, "reading a channel", &e)),
    }
}
