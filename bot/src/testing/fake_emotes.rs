//! Fake 7TV, BetterTTV and FrankerFaceZ APIs on `127.0.0.1:0`, for tests and the load
//! example: `/7tv/…`, `/bttv/…` and `/ffz/…` answer the paths and JSON shapes of the real
//! services (see `crate::emote_sets`), from sets the test puts in; a provider can be made to
//! fail (500), and every call is counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chatters_core::settings::EmoteProviders;
use chatters_core::signals::Provider;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use url::Url;

/// `(id, name)` pairs.
pub type Set = Vec<(String, String)>;

#[derive(Debug, Default)]
struct ProviderState {
    global: Set,
    channels: HashMap<String, Set>,
    /// A set for every channel without one of its own (the load example).
    any_channel: Option<Set>,
    failing: bool,
    calls: usize,
}

type Shared = Arc<Mutex<HashMap<Provider, ProviderState>>>;

/// The running fake. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeEmotes {
    addr: SocketAddr,
    state: Shared,
    shutdown: CancellationToken,
}

impl Drop for FakeEmotes {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl FakeEmotes {
    /// Starts the fake with empty sets.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/7tv/users/twitch/{id}", get(seventv_user))
            .route("/7tv/emote-sets/global", get(seventv_global))
            .route("/bttv/cached/users/twitch/{id}", get(bttv_user))
            .route("/bttv/cached/emotes/global", get(bttv_global))
            .route("/ffz/room/id/{id}", get(ffz_room))
            .route("/ffz/set/global", get(ffz_global))
            .with_state(state.clone());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(error) = server.await {
                tracing::warn!(%error, "fake emote server failed");
            }
        });
        Ok(Self {
            addr,
            state,
            shutdown,
        })
    }

    fn state(&self) -> MutexGuard<'_, HashMap<Provider, ProviderState>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The settings pointing every provider at the fake.
    pub fn providers(&self) -> EmoteProviders {
        let url = |p: &str| Url::parse(&format!("http://{}/{p}/", self.addr)).ok();
        EmoteProviders {
            seventv: url("7tv"),
            bttv: url("bttv"),
            ffz: url("ffz"),
        }
    }

    /// The environment variables pointing a process at the fake.
    pub fn vars(&self) -> Vec<(String, String)> {
        let p = self.providers();
        [
            ("SEVENTV_API_URL", p.seventv),
            ("BTTV_API_URL", p.bttv),
            ("FFZ_API_URL", p.ffz),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_string())))
        .collect()
    }

    /// A provider's global set (FFZ: its default set).
    pub fn set_global(&self, provider: Provider, set: &[(&str, &str)]) {
        self.state().entry(provider).or_default().global = owned(set);
    }

    /// A channel's set at a provider (by Twitch user id).
    pub fn set_channel(&self, provider: Provider, twitch_id: &str, set: &[(&str, &str)]) {
        self.state()
            .entry(provider)
            .or_default()
            .channels
            .insert(twitch_id.to_owned(), owned(set));
    }

    /// The set of every channel that has none of its own.
    pub fn set_any_channel(&self, provider: Provider, set: Set) {
        self.state().entry(provider).or_default().any_channel = Some(set);
    }

    /// Makes a provider answer 500 (or answer again).
    pub fn fail(&self, provider: Provider, failing: bool) {
        self.state().entry(provider).or_default().failing = failing;
    }

    /// Calls a provider received.
    pub fn calls(&self, provider: Provider) -> usize {
        self.state().get(&provider).map_or(0, |s| s.calls)
    }
}

fn owned(set: &[(&str, &str)]) -> Set {
    set.iter()
        .map(|(i, n)| ((*i).to_owned(), (*n).to_owned()))
        .collect()
}

/// The set to answer with: `Err` for a failure or a missing channel, after counting the call.
fn lookup(state: &Shared, provider: Provider, channel: Option<&str>) -> Result<Set, StatusCode> {
    let mut all = state.lock().unwrap_or_else(PoisonError::into_inner);
    let s = all.entry(provider).or_default();
    s.calls += 1;
    if s.failing {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    match channel {
        None => Ok(s.global.clone()),
        Some(id) => s
            .channels
            .get(id)
            .or(s.any_channel.as_ref())
            .cloned()
            .ok_or(StatusCode::NOT_FOUND),
    }
}

fn answer(result: Result<Value, StatusCode>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(StatusCode::NOT_FOUND) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "not found"})),
        )
            .into_response(),
        Err(status) => status.into_response(),
    }
}

fn seventv_emotes(set: &Set) -> Value {
    Value::Array(
        set.iter()
            .map(|(id, name)| json!({"id": id, "name": name, "flags": 0, "data": {"id": id, "name": name, "animated": false}}))
            .collect(),
    )
}

async fn seventv_user(AxumState(s): AxumState<Shared>, Path(id): Path<String>) -> Response {
    answer(lookup(&s, Provider::SevenTv, Some(&id)).map(|set| {
        json!({"id": id, "platform": "TWITCH", "emote_set": {"id": "set", "name": "Emotes",
            "emotes": seventv_emotes(&set)}, "user": {"id": "u"}})
    }))
}

async fn seventv_global(AxumState(s): AxumState<Shared>) -> Response {
    answer(lookup(&s, Provider::SevenTv, None).map(
        |set| json!({"id": "global", "name": "Global Emotes", "emotes": seventv_emotes(&set)}),
    ))
}

fn bttv_emotes(set: &Set) -> Value {
    Value::Array(
        set.iter()
            .map(
                |(id, code)| json!({"id": id, "code": code, "imageType": "png", "animated": false}),
            )
            .collect(),
    )
}

async fn bttv_user(AxumState(s): AxumState<Shared>, Path(id): Path<String>) -> Response {
    answer(lookup(&s, Provider::Bttv, Some(&id)).map(
        |set| json!({"id": id, "bots": [], "channelEmotes": bttv_emotes(&set), "sharedEmotes": []}),
    ))
}

async fn bttv_global(AxumState(s): AxumState<Shared>) -> Response {
    answer(lookup(&s, Provider::Bttv, None).map(|set| bttv_emotes(&set)))
}

fn ffz_set(set: &Set) -> Value {
    let emoticons: Vec<Value> = set
        .iter()
        .map(|(id, name)| {
            let id: Value = id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n));
            json!({"id": id, "name": name, "height": 32, "width": 32, "public": true})
        })
        .collect();
    json!({"id": 7, "_type": 1, "emoticons": emoticons})
}

async fn ffz_room(AxumState(s): AxumState<Shared>, Path(id): Path<String>) -> Response {
    answer(
        lookup(&s, Provider::Ffz, Some(&id))
            .map(|set| json!({"room": {"twitch_id": id, "set": 7}, "sets": {"7": ffz_set(&set)}})),
    )
}

async fn ffz_global(AxumState(s): AxumState<Shared>) -> Response {
    answer(lookup(&s, Provider::Ffz, None).map(|set| {
        json!({"default_sets": [3], "sets": {"3": ffz_set(&set), "4330": ffz_set(&vec![("999".to_owned(), "NotADefault".to_owned())])}, "users": {}})
    }))
}
