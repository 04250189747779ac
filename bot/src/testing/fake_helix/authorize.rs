//! The fake's authorization-code flow (the dashboard's sign-in): `GET /oauth2/authorize`
//! stands for Twitch's consent page, already approved by the account set with
//! [`super::FakeHelix::set_authorizer`]: it answers 302 to the `redirect_uri` with a one-time
//! `code` and the caller's `state` (or `error=access_denied` when nobody is set). `POST
//! /oauth2/token` with `grant_type=authorization_code` (client id and secret, the same
//! `redirect_uri`) redeems the code for a user token `user-access-N` with the scopes asked for.

use serde_json::json;

use super::exchange::{Answer, Incoming};
use super::model::FakeToken;
use super::state::{CodeGrant, State};

pub(super) fn authorize(state: &mut State, req: &Incoming) -> Answer {
    let (Some(redirect), Some(client)) = (req.value("redirect_uri"), req.value("client_id")) else {
        return Answer::oauth_error(400, "missing redirect_uri or client_id");
    };
    if client != state.client_id || req.value("response_type") != Some("code") {
        return Answer::oauth_error(400, "invalid client or response type");
    }
    let mut back = match url::Url::parse(redirect) {
        Ok(url) => url,
        Err(_) => return Answer::oauth_error(400, "invalid redirect_uri"),
    };
    let scopes: Vec<String> = req
        .value("scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    {
        let mut query = back.query_pairs_mut();
        match state.authorizer.clone() {
            Some(user) => {
                state.issued += 1;
                let code = format!("auth-code-{}", state.issued);
                state.code_grants.insert(
                    code.clone(),
                    CodeGrant {
                        user,
                        scopes: scopes.clone(),
                        redirect_uri: redirect.to_owned(),
                    },
                );
                query
                    .append_pair("code", &code)
                    .append_pair("scope", &scopes.join(" "));
            }
            None => {
                query
                    .append_pair("error", "access_denied")
                    .append_pair("error_description", "The user denied you access");
            }
        }
        if let Some(s) = req.value("state") {
            query.append_pair("state", s);
        }
    }
    Answer::redirect(back.as_str())
}

pub(super) fn exchange(state: &mut State, req: &Incoming) -> Answer {
    let code = req.value("code").unwrap_or_default();
    let Some(grant) = state.code_grants.remove(code) else {
        return Answer::oauth_error(400, "Invalid authorization code");
    };
    if req.value("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Answer::oauth_error(400, "Parameter redirect_uri does not match registered URI");
    }
    state.issued += 1;
    let n = state.issued;
    let scopes: Vec<&str> = grant.scopes.iter().map(String::as_str).collect();
    let mut token = FakeToken::user(
        &format!("user-access-{n}"),
        &format!("user-refresh-{n}"),
        &grant.user,
        &scopes,
    );
    token.client_id = state.client_id.clone();
    state.add_token(token.clone());
    Answer::ok(json!({
        "access_token": token.access, "refresh_token": token.refresh, "scope": token.scopes,
        "token_type": "bearer", "expires_in": token.expires_in,
    }))
}
