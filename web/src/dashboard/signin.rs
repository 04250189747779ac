//! Signing in and out, and the dashboard's first page.
//!
//! `GET /login[?next=]` sets the `chatters_oauth` cookie (a random `state` and where to come
//! back) and sends the browser to Twitch; `GET /auth/callback` accepts only the `state` of that
//! cookie, exchanges the code, reads who signed in and what they moderate, starts a session and
//! answers 303 to `/dashboard` (or the page that sent them). `POST /logout` ends the session
//! server-side. `GET /dashboard` lists the channels the user may see; `POST /dashboard/track`
//! adds the user's own channel (the bot joins it within a scheduler tick).

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chatters_core::domain::{Login, Timestamp};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::access::viewer;
use super::state::Dashboard;
use super::view::{DashError, check_csrf, render, see_other};
use crate::AppState;
use crate::session::cookie::{self, OAUTH, SESSION};
use crate::session::{IDLE_EXPIRY, random_token};

/// How long a sign-in may take at Twitch (the `chatters_oauth` cookie's life).
const SIGN_IN_WINDOW: u64 = 10 * 60;

/// `?next=` of `/login`.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// Only paths of the dashboard are places to come back to (no open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with("/dashboard")
                && !n.contains("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n
        }
        _ => "/dashboard",
    }
}

/// `GET /login`.
pub(crate) async fn login(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let dash = &state.dashboard;
    let Some(app) = &dash.app else {
        return DashError::not_configured(dash).into_response_page();
    };
    let Ok(oauth_state) = random_token() else {
        return DashError::internal(dash).into_response_page();
    };
    let next = safe_next(q.next.as_deref());
    let value: String =
        url::form_urlencoded::byte_serialize(format!("{oauth_state}|{next}").as_bytes()).collect();
    let cookie = dash.scope.set(OAUTH, &value, SIGN_IN_WINDOW);
    see_other(
        &app.authorize_url(&dash.redirect_uri(), &oauth_state),
        &[cookie],
    )
}

/// The query Twitch sends back.
#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let Some(app) = &dash.app else {
        return Err(DashError::not_configured(dash));
    };
    let cookie_value: Option<String> = cookie::get(&headers, OAUTH).map(|v| {
        url::form_urlencoded::parse(format!("v={v}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .next()
            .unwrap_or_default()
    });
    let (expected, next) = cookie_value
        .as_deref()
        .and_then(|v| v.split_once('|'))
        .map(|(s, n)| (s.to_owned(), safe_next(Some(n)).to_owned()))
        .unwrap_or_default();
    // The state must be the one this browser was given (constant-time compare).
    check_csrf(dash, &expected, q.state.as_deref()).map_err(|_| {
        DashError::page(
            dash,
            StatusCode::BAD_REQUEST,
            "Sign-in not accepted",
            "This sign-in was not started from this browser (or took too long). Sign in again.",
        )
    })?;
    if q.error.is_some() {
        return Err(DashError::page(
            dash,
            StatusCode::FORBIDDEN,
            "Sign-in cancelled",
            "Twitch did not authorize the sign-in.",
        ));
    }
    let code = q
        .code
        .as_deref()
        .ok_or_else(|| DashError::bad_request(dash, "Twitch sent no code."))?;
    let who = app
        .sign_in(code, &dash.redirect_uri())
        .await
        .map_err(|error| {
            tracing::warn!(%error, "dashboard sign-in failed");
            DashError::page(
                dash,
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                "Twitch did not confirm the sign-in. Try again in a moment.",
            )
        })?;
    // The user's own channel first, then the ones they moderate.
    let mut channels = vec![who.login.clone()];
    channels.extend(who.moderated.into_iter().filter(|c| *c != who.login));
    if let Some(old) = cookie::get(&headers, SESSION)
        && let Err(error) = dash.sessions.delete(old).await
    {
        tracing::warn!(%error, "ending the previous dashboard session");
    }
    let (id, _) = dash
        .sessions
        .create(who.user_id, who.login.clone(), channels, Timestamp::now())
        .await
        .map_err(|error| {
            tracing::error!(%error, "starting a dashboard session");
            DashError::unavailable(dash)
        })?;
    tracing::info!(login = %who.login, "dashboard sign-in");
    let cookies = [
        dash.scope.set(SESSION, &id, IDLE_EXPIRY.as_secs()),
        dash.scope.clear(OAUTH),
    ];
    Ok(see_other(&dash.link(&next), &cookies))
}

/// A form carrying only the CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let viewer = viewer(&state, &headers, "/dashboard").await?;
    check_csrf(dash, &viewer.session.csrf, form.csrf.as_deref())?;
    if let Some(id) = cookie::get(&headers, SESSION) {
        dash.sessions.delete(id).await.map_err(|error| {
            tracing::error!(%error, "ending a dashboard session");
            DashError::unavailable(dash)
        })?;
    }
    let home = if dash.base_path.is_empty() {
        "/".to_owned()
    } else {
        format!("{}/", dash.base_path)
    };
    Ok(see_other(&home, &[dash.scope.clear(SESSION)]))
}

/// A channel in the list.
#[derive(Debug, Serialize)]
struct Listed {
    login: String,
    own: bool,
}

/// `GET /dashboard`.
pub(crate) async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let viewer = viewer(&state, &headers, "/dashboard").await?;
    let tracked = state
        .store
        .channels()
        .await
        .map_err(|e| DashError::store(dash, "listing channels", &e))?;
    let own = &viewer.session.login;
    let channels: Vec<Listed> = tracked
        .iter()
        .filter(|c| viewer.can_see(&c.login))
        .map(|c| Listed {
            login: c.login.to_string(),
            own: c.login == *own,
        })
        .collect();
    let own_tracked = tracked.iter().any(|c| c.login == *own && c.wanted);
    render(
        dash,
        StatusCode::OK,
        "home.html",
        context! {
            user => own.to_string(),
            csrf => viewer.session.csrf.clone(),
            admin => viewer.admin,
            channels,
            own_tracked,
            track_done => false,
        },
    )
}

/// `POST /dashboard/track`: the signed-in broadcaster's own channel is added (as `chatters
/// channel add` does); the bot's scheduler joins it at its next read of the stored channels.
pub(crate) async fn track(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, DashError> {
    let dash: &Dashboard = &state.dashboard;
    let viewer = viewer(&state, &headers, "/dashboard").await?;
    check_csrf(dash, &viewer.session.csrf, form.csrf.as_deref())?;
    let own: &Login = &viewer.session.login;
    state
        .store
        .add_channel(own)
        .await
        .map_err(|e| DashError::store(dash, "adding a channel", &e))?;
    tracing::info!(channel = %own, "channel tracked from the dashboard");
    Ok(see_other(&dash.link(&format!("/dashboard/c/{own}")), &[]))
}

impl DashError {
    /// The answer, for handlers that return a bare response.
    fn into_response_page(self) -> Response {
        axum::response::IntoResponse::into_response(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dashboard_paths_are_returned_to() {
        assert_eq!(safe_next(Some("/dashboard/c/alice")), "/dashboard/c/alice");
        assert_eq!(safe_next(Some("https://evil.example/")), "/dashboard");
        assert_eq!(safe_next(Some("/dashboard//evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("/dashboard\\x")), "/dashboard");
        assert_eq!(safe_next(None), "/dashboard");
    }
}
