//! The web's query and path parameters, through the whole router over a SQLite store holding
//! the tests' scripted channel: whatever the path piece and query string, no route answers 500
//! (a user's mistake is a 4xx naming the parameter) and nothing panics.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chatters_core::apikey::ApiKey;
use chatters_core::domain::Timestamp;
use chatters_core::ingest::IngestConfig;
use chatters_core::testing::{Pipeline, TestDb, Timeline, login, scripted_channel};
use chatters_web::{AppState, router};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

/// Route templates; `{}` takes the fuzzed path piece.
const ROUTES: [&str; 10] = [
    "/api/v1/channels/{}/streams",
    "/api/v1/channels/chan/streams/{}",
    "/api/v1/channels/{}/chatters",
    "/api/v1/channels/chan/series",
    "/api/v1/channels/chan/accounts",
    "/api/v1/users/{}",
    "/c/{}",
    "/c/chan/chatters.png",
    "/c/chan/streams/{}",
    "/healthz",
];

struct World {
    runtime: Runtime,
    app: Router,
    key: String,
    _db: TestDb,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (db, app, key) = runtime.block_on(async {
            let db = TestDb::sqlite().await;
            let timeline = Timeline::at(Timestamp::now().0 - 3 * 3600);
            let pipeline = Pipeline::start(db.store.clone(), IngestConfig::default()).await;
            pipeline.send(scripted_channel(&timeline, "chan", 500)).await;
            pipeline.stop().await;
            let channel = db
                .store
                .channel(&login("chan"))
                .await
                .expect("the store")
                .expect("the scripted channel");
            let key = ApiKey::generate().expect("a key");
            db.store
                .create_api_key(&key.hash().to_hex(), "fuzz", &[channel.key], Timestamp::now())
                .await
                .expect("the key stored");
            let app = router(AppState::new(db.store.clone()));
            (db, app, key.expose().to_owned())
        });
        World {
            runtime,
            app,
            key,
            _db: db,
        }
    })
}

/// Percent-encodes every byte a URI may not carry as is (and `/`, `?`, `#` in a path piece).
fn encode(bytes: &[u8], path: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        let plain = b.is_ascii_graphic() && b != b'#' && b != b'%' && !(path && (b == b'/' || b == b'?'));
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // `<path piece>\0<query>`; without a NUL, all of it is the query.
    let (piece, query) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&b"chan"[..], rest),
    };
    let piece = if piece.is_empty() { "chan".to_owned() } else { encode(piece, true) };
    let route = ROUTES[usize::from(selector) % ROUTES.len()].replace("{}", &piece);
    let uri = format!("{route}?{}", encode(query, false));
    let world = world();
    let Ok(request) = Request::get(&uri)
        .header("authorization", format!("Bearer {}", world.key))
        .body(Body::empty())
    else {
        return;
    };
    let response = world
        .runtime
        .block_on(world.app.clone().oneshot(request))
        .expect("the router is infallible");
    assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
});
