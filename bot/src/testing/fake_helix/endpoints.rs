//! Request handling of the fake: token check, the rate-limit bucket, injected failures, then the
//! endpoint itself, answered in Twitch's JSON; every call is recorded.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::exchange::{Answer, Incoming};
use super::lists;
use super::state::{RateHeaders, State};
use super::{Endpoint, Failure, RecordedCall};
use super::{authorize, device};

/// The one handler: every path goes through here.
pub(super) async fn handle(
    Shared(shared): Shared<Arc<Mutex<State>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let body = String::from_utf8_lossy(&body).into_owned();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let params = url::form_urlencoded::parse(query.as_bytes())
        .chain(url::form_urlencoded::parse(body.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let incoming = Incoming {
        method: method.clone(),
        endpoint: Endpoint::from_path(&path),
        params,
        authorization: header("authorization"),
        client_id: header("client-id"),
    };
    let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let answer = respond(&mut state, &incoming);
    state.calls.push(RecordedCall {
        method: method.to_string(),
        endpoint: incoming.endpoint,
        path,
        query,
        authorization: incoming.authorization,
        client_id: incoming.client_id,
        body,
        status: answer.status.as_u16(),
        at: SystemTime::now(),
    });
    answer.into_response()
}

fn respond(state: &mut State, req: &Incoming) -> Answer {
    let Some(endpoint) = req.endpoint else {
        return Answer::helix_error(404, "Not Found");
    };
    let method = if matches!(endpoint, Endpoint::Token | Endpoint::Device) {
        Method::POST
    } else {
        Method::GET
    };
    if req.method != method {
        return Answer::helix_error(404, "Not Found");
    }
    if endpoint.is_helix() {
        helix(state, endpoint, req)
    } else {
        match state.next_failure(endpoint) {
            Some(Failure::Status(s)) => Answer::oauth_error(s, "injected failure"),
            Some(Failure::RateLimited) => Answer::oauth_error(429, "Too Many Requests"),
            Some(Failure::InvalidJson) => Answer::invalid_json(),
            None if endpoint == Endpoint::Validate => validate(state, req),
            None if endpoint == Endpoint::Device => device::start(state, req),
            None if endpoint == Endpoint::Authorize => authorize::authorize(state, req),
            None => token(state, req),
        }
    }
}

fn helix(state: &mut State, endpoint: Endpoint, req: &Incoming) -> Answer {
    let Some(token) = req.token().and_then(|t| state.tokens.get(t)).cloned() else {
        return Answer::helix_error(401, "Invalid OAuth token");
    };
    if req.client_id.as_deref() != Some(token.client_id.as_str()) {
        return Answer::helix_error(401, "Client ID and OAuth token do not match");
    }
    let (now, wall) = (Instant::now(), SystemTime::now());
    let failure = state.next_failure(endpoint);
    let bucket = state.bucket(&token.access, now);
    if matches!(failure, Some(Failure::RateLimited | Failure::Status(429))) {
        let next_second = wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 1;
        let rate = RateHeaders {
            remaining: 0,
            reset: next_second,
            ..bucket.headers(now, wall)
        };
        return Answer::helix_error(429, "Too Many Requests").with_rate(rate);
    }
    if !bucket.take(now) {
        let rate = bucket.headers(now, wall);
        return Answer::helix_error(429, "Too Many Requests").with_rate(rate);
    }
    let rate = bucket.headers(now, wall);
    let answer = match failure {
        Some(Failure::Status(s)) => Answer::helix_error(s, "injected failure"),
        Some(Failure::InvalidJson) => Answer::invalid_json(),
        _ => match endpoint {
            Endpoint::Users => lists::users(state, &token, req),
            Endpoint::Chatters => lists::chatters(state, &token, req),
            Endpoint::Streams => lists::streams(state, req),
            _ => lists::moderated_channels(state, &token, req),
        },
    };
    answer.with_rate(rate)
}

fn validate(state: &State, req: &Incoming) -> Answer {
    let Some(token) = req.token().and_then(|t| state.tokens.get(t)) else {
        return Answer::oauth_error(401, "invalid access token");
    };
    let mut body = json!({
        "client_id": token.client_id, "scopes": token.scopes, "expires_in": token.expires_in,
    });
    if let Some(user) = &token.user {
        body["login"] = json!(user.login);
        body["user_id"] = json!(user.id);
    }
    Answer::ok(body)
}

fn token(state: &mut State, req: &Incoming) -> Answer {
    if req.value("grant_type") == Some(device::GRANT) {
        return device::poll(state, req);
    }
    // Tokens of the device flow (a public client) refresh without the secret.
    let public = req.value("client_secret").is_none()
        && req.value("grant_type") == Some("refresh_token")
        && req
            .value("refresh_token")
            .is_some_and(|r| state.public_refresh.contains(r));
    if req.value("client_id") != Some(state.client_id.as_str())
        || (!public && req.value("client_secret") != Some(state.client_secret.as_str()))
    {
        return Answer::oauth_error(403, "invalid client secret");
    }
    match req.value("grant_type") {
        Some("refresh_token") => {
            let rotated = req.value("refresh_token").and_then(|r| state.rotate(r));
            match rotated {
                Some(t) => Answer::ok(json!({
                    "access_token": t.access, "refresh_token": t.refresh, "scope": t.scopes,
                    "token_type": "bearer", "expires_in": t.expires_in,
                })),
                None => Answer::oauth_error(400, "Invalid refresh token"),
            }
        }
        Some("authorization_code") => authorize::exchange(state, req),
        Some("client_credentials") => {
            let t = state.issue_app_token();
            Answer::ok(json!({
                "access_token": t.access, "expires_in": t.expires_in, "token_type": "bearer",
            }))
        }
        _ => Answer::oauth_error(400, "unsupported grant type"),
    }
}
