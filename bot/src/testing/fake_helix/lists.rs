//! The Helix list endpoints of the fake (Get Users, Get Chatters, Get Streams, Get Moderated
//! Channels), in Twitch's JSON, with `first`/`after` pagination.

use serde_json::{Value, json};

use super::exchange::{Answer, Incoming};
use super::state::State;
use super::{FakeToken, FakeUser};

/// One page of `items` per `first` (default/max) and the `after` cursor, with the next cursor.
fn page<'a, T>(
    items: &'a [T],
    req: &Incoming,
    default: usize,
    max: usize,
) -> Result<(&'a [T], Value), Answer> {
    let first = match req.value("first") {
        None => default,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Answer::helix_error(400, "Invalid value for first"))?,
    };
    let offset: usize = match req.value("after") {
        None => 0,
        Some(c) => c
            .strip_prefix("cursor-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Answer::helix_error(400, "Invalid cursor"))?,
    };
    let start = offset.min(items.len());
    let end = (offset + first).min(items.len());
    let pagination = if end < items.len() {
        json!({"cursor": format!("cursor-{end}")})
    } else {
        json!({})
    };
    Ok((&items[start..end], pagination))
}

fn user_json(user: &FakeUser) -> Value {
    json!({
        "id": user.id, "login": user.login, "display_name": user.display_name,
        "type": "", "broadcaster_type": "", "description": "",
        "profile_image_url": "https://static-cdn.jtvnw.net/user-default-pictures-uv/x-300x300.png",
        "offline_image_url": "", "view_count": 0, "created_at": user.created_at,
    })
}

pub(super) fn users(state: &State, token: &FakeToken, req: &Incoming) -> Answer {
    let (ids, logins) = (req.values("id"), req.values("login"));
    if ids.len() + logins.len() > 100 {
        return Answer::helix_error(400, "The sum of the id and login parameters exceeds 100");
    }
    let mut found: Vec<&FakeUser> = ids.iter().filter_map(|id| state.users.get(*id)).collect();
    found.extend(logins.iter().filter_map(|login| {
        state
            .users
            .values()
            .find(|u| u.login.eq_ignore_ascii_case(login))
    }));
    if ids.is_empty() && logins.is_empty() {
        match &token.user {
            Some(user) => found.push(state.users.get(&user.id).unwrap_or(user)),
            None => return Answer::helix_error(400, "Missing required parameter id or login"),
        }
    }
    Answer::ok(json!({"data": found.into_iter().map(user_json).collect::<Vec<_>>()}))
}

pub(super) fn chatters(state: &State, token: &FakeToken, req: &Incoming) -> Answer {
    let (Some(broadcaster), Some(moderator)) =
        (req.value("broadcaster_id"), req.value("moderator_id"))
    else {
        return Answer::helix_error(
            400,
            "Missing required parameter broadcaster_id or moderator_id",
        );
    };
    let Some(user) = &token.user else {
        return Answer::helix_error(401, "A user access token is required");
    };
    if !token.scopes.iter().any(|s| s == "moderator:read:chatters") {
        return Answer::helix_error(401, "Missing scope: moderator:read:chatters");
    }
    if user.id != moderator {
        return Answer::helix_error(
            400,
            "moderator_id must match the user ID in the access token",
        );
    }
    if !state.moderates(moderator, broadcaster) {
        return Answer::helix_error(
            403,
            "The user in moderator_id must be one of the broadcaster's moderators",
        );
    }
    let list = state
        .chatters
        .get(broadcaster)
        .map_or(&[][..], Vec::as_slice);
    let (items, pagination) = match page(list, req, 100, 1000) {
        Ok(page) => page,
        Err(answer) => return answer,
    };
    let data: Vec<Value> = items
        .iter()
        .map(|u| json!({"user_id": u.id, "user_login": u.login, "user_name": u.display_name}))
        .collect();
    Answer::ok(json!({"data": data, "pagination": pagination, "total": list.len()}))
}

pub(super) fn streams(state: &State, req: &Incoming) -> Answer {
    let (ids, logins) = (req.values("user_id"), req.values("user_login"));
    if ids.len() > 100 || logins.len() > 100 {
        return Answer::helix_error(400, "Too many user_id or user_login parameters");
    }
    let all = ids.is_empty() && logins.is_empty();
    let live: Vec<_> = state
        .streams
        .values()
        .filter(|s| {
            all || ids.contains(&s.user.id.as_str()) || logins.contains(&s.user.login.as_str())
        })
        .collect();
    let (items, pagination) = match page(&live, req, 20, 100) {
        Ok(page) => page,
        Err(answer) => return answer,
    };
    let data: Vec<Value> = items
        .iter()
        .map(|s| {
            let (viewers, game_id, game_name) = state
                .audience
                .get(&s.user.id)
                .map_or((42, "509658", "Just Chatting"), |(v, id, name)| {
                    (*v, id.as_str(), name.as_str())
                });
            json!({
                "id": s.id, "user_id": s.user.id, "user_login": s.user.login,
                "user_name": s.user.display_name, "game_id": game_id, "game_name": game_name,
                "type": "live", "title": s.title, "tags": ["English"], "viewer_count": viewers,
                "started_at": s.started_at, "language": "en",
                "thumbnail_url": "https://static-cdn.jtvnw.net/previews-ttv/live_user_x-{width}x{height}.jpg",
                "tag_ids": [], "is_mature": false,
            })
        })
        .collect();
    Answer::ok(json!({"data": data, "pagination": pagination}))
}

pub(super) fn moderated_channels(state: &State, token: &FakeToken, req: &Incoming) -> Answer {
    let Some(user_id) = req.value("user_id") else {
        return Answer::helix_error(400, "Missing required parameter user_id");
    };
    if !token
        .scopes
        .iter()
        .any(|s| s == "user:read:moderated_channels")
    {
        return Answer::helix_error(401, "Missing scope: user:read:moderated_channels");
    }
    if token.user.as_ref().map(|u| u.id.as_str()) != Some(user_id) {
        return Answer::helix_error(400, "user_id must match the user ID in the access token");
    }
    let list = state.moderated.get(user_id).map_or(&[][..], Vec::as_slice);
    let (items, pagination) = match page(list, req, 20, 100) {
        Ok(page) => page,
        Err(answer) => return answer,
    };
    let data: Vec<Value> = items
        .iter()
        .map(|c| json!({"broadcaster_id": c.id, "broadcaster_login": c.login, "broadcaster_name": c.display_name}))
        .collect();
    Answer::ok(json!({"data": data, "pagination": pagination}))
}
