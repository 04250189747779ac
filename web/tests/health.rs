//! `GET /healthz`, unknown routes and the server's graceful shutdown, on a real SQLite store.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chatters_core::testing::TestDb;
use chatters_web::AppState;
use serde_json::{Value, json};
use support::{raw_get, spawn_server};

/// A migrated SQLite store in a fresh temporary directory (removed when the database is
/// dropped).
async fn spawn_store() -> (std::sync::Arc<chatters_core::store::Store>, TestDb) {
    let db = TestDb::sqlite().await;
    (db.store.clone(), db)
}

async fn get(state: AppState, path: &str) -> (StatusCode, Option<String>, Value) {
    let answer = support::get(&state, path, &[]).await;
    let request_id = answer
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (answer.status, request_id, answer.json())
}

#[tokio::test]
async fn healthz_answers_ok_when_the_database_answers() {
    let (store, _db) = spawn_store().await;

    let (status, request_id, body) = get(AppState::new(store), "/healthz").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "ok", "database": "ok", "irc": "not run", "helix": "not run"})
    );
    assert!(request_id.is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn healthz_answers_503_without_internals_when_the_database_is_gone() {
    let (store, _db) = spawn_store().await;
    store.close().await;

    let (status, _, body) = get(AppState::new(store), "/healthz").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "unavailable");
    let text = body.to_string();
    assert!(!text.contains("sqlite") && !text.contains("pool"), "{text}");
}

#[tokio::test]
async fn unknown_routes_answer_404_json() {
    let (store, _db) = spawn_store().await;

    let (status, _, body) = get(AppState::new(store), "/nope").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn a_client_request_id_is_echoed() {
    let (store, _db) = spawn_store().await;

    let answer = support::get(
        &AppState::new(store),
        "/healthz",
        &[("x-request-id", "abc-123")],
    )
    .await;

    assert_eq!(answer.header("x-request-id"), "abc-123");
}

#[tokio::test]
async fn serve_answers_on_its_listener_and_stops_when_cancelled() {
    let (store, _db) = spawn_store().await;
    let (addr, shutdown, server) = spawn_server(AppState::new(store)).await;

    let (head, body) = raw_get(addr, "/healthz", &[]).await;
    shutdown.cancel();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("stops within 10 s")
        .expect("no panic");

    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    assert_eq!(
        body,
        br#"{"database":"ok","helix":"not run","irc":"not run","status":"ok"}"#
    );
    assert!(stopped.is_ok());
}

#[tokio::test]
async fn a_wrong_method_answers_405_as_json() {
    let (store, _db) = spawn_store().await;
    let request = Request::post("/healthz")
        .body(Body::empty())
        .expect("request");

    let answer = support::call(&AppState::new(store), request).await;

    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.json()["error"], "method_not_allowed");
}
