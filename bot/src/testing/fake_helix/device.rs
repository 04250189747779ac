//! The fake's device code flow: `POST /oauth2/device` hands out a code; polls of `token` with
//! the device grant are answered as its [`FakeDevice`] says (`slow_down`, then
//! `authorization_pending`, then the tokens or `access_denied`; `invalid device code` once
//! expired), in Twitch's error shape `{"status": 400, "message": …}`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::exchange::{Answer, Incoming};
use super::model::{DeviceGrant, FakeToken};
use super::state::State;

/// The grant type of device code polls.
pub(super) const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub(super) fn start(state: &mut State, req: &Incoming) -> Answer {
    let Some(script) = state.device.clone() else {
        return Answer::oauth_error(400, "device code flow not enabled");
    };
    if req.value("client_id") != Some(state.client_id.as_str()) {
        return Answer::oauth_error(400, "invalid client");
    }
    state.issued += 1;
    let n = state.issued;
    let device_code = format!("device-code-{n}");
    let user_code = format!("ABCD{n:04}");
    let scopes = req
        .value("scopes")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    state.device_grants.insert(
        device_code.clone(),
        DeviceGrant {
            expires: Instant::now() + Duration::from_secs(script.expires_in),
            script: script.clone(),
            scopes,
            polls: 0,
            redeemed: false,
        },
    );
    Answer::ok(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": format!("https://www.twitch.tv/activate?device-code={user_code}"),
        "expires_in": script.expires_in,
        "interval": script.interval,
    }))
}

pub(super) fn poll(state: &mut State, req: &Incoming) -> Answer {
    if req.value("client_id") != Some(state.client_id.as_str()) {
        return Answer::oauth_error(400, "invalid client");
    }
    let code = req.value("device_code").unwrap_or_default();
    let Some(grant) = state.device_grants.get_mut(code) else {
        return Answer::oauth_error(400, "invalid device code");
    };
    if grant.redeemed || Instant::now() >= grant.expires {
        return Answer::oauth_error(400, "invalid device code");
    }
    grant.polls += 1;
    let script = &grant.script;
    if grant.polls <= script.slow_down_polls {
        return Answer::oauth_error(400, "slow_down");
    }
    let user = match &script.user {
        Some(user) if grant.polls > script.slow_down_polls + script.pending_polls => user.clone(),
        _ => return Answer::oauth_error(400, "authorization_pending"),
    };
    if script.denied {
        return Answer::oauth_error(400, "access_denied");
    }
    grant.redeemed = true;
    let scopes = grant.scopes.clone();
    state.issued += 1;
    let n = state.issued;
    let mut token = FakeToken::user(
        &format!("device-access-{n}"),
        &format!("device-refresh-{n}"),
        &user,
        &[],
    );
    token.scopes = scopes;
    token.client_id = state.client_id.clone();
    state.public_refresh.insert(format!("device-refresh-{n}"));
    state.add_token(token.clone());
    Answer::ok(json!({
        "access_token": token.access, "refresh_token": token.refresh, "scope": token.scopes,
        "token_type": "bearer", "expires_in": token.expires_in,
    }))
}
