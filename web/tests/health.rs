//! `GET /healthz`, unknown routes and the server's graceful shutdown, on a real SQLite store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chatters_core::store::{self, ConnectOptions, Store};
use chatters_web::{AppState, router, serve};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// A migrated SQLite store in a fresh temporary directory (kept alive by the returned guard).
async fn spawn_store() -> (Arc<Store>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let store = store::open(&url, &ConnectOptions::default())
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate");
    (store, dir)
}

async fn get(state: AppState, path: &str) -> (StatusCode, Option<String>, Value) {
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = router(state).oneshot(request).await.expect("infallible");
    let status = response.status();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).expect("JSON body");
    (status, request_id, body)
}

#[tokio::test]
async fn healthz_answers_ok_when_the_database_answers() {
    let (store, _dir) = spawn_store().await;

    let (status, request_id, body) = get(AppState::new(store), "/healthz").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    assert!(request_id.is_some_and(|id| !id.is_empty()));
}

#[tokio::test]
async fn healthz_answers_503_without_internals_when_the_database_is_gone() {
    let (store, _dir) = spawn_store().await;
    store.close().await;

    let (status, _, body) = get(AppState::new(store), "/healthz").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "database_unavailable");
    let message = body["message"].as_str().expect("message");
    assert!(
        !message.contains("sqlite") && !message.contains("pool"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_routes_answer_404_json() {
    let (store, _dir) = spawn_store().await;

    let (status, _, body) = get(AppState::new(store), "/nope").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn a_client_request_id_is_echoed() {
    let (store, _dir) = spawn_store().await;
    let request = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .expect("request");

    let response = router(AppState::new(store))
        .oneshot(request)
        .await
        .expect("infallible");

    assert_eq!(response.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn serve_answers_on_its_listener_and_stops_when_cancelled() {
    let (store, _dir) = spawn_store().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, AppState::new(store), shutdown.clone()));

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: test\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    shutdown.cancel();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("stops within 10 s")
        .expect("no panic");

    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
    assert!(stopped.is_ok());
}

#[tokio::test]
async fn a_wrong_method_answers_405_as_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = chatters_core::store::open(&url, &Default::default())
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    let response = router(AppState::new(store))
        .oneshot(
            axum::http::Request::post("/healthz")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(
        response.status(),
        axum::http::StatusCode::METHOD_NOT_ALLOWED
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    assert_eq!(json["error"], "method_not_allowed");
}
