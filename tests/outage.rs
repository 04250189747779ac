//! The database server goes away for 30 s mid-run (MariaDB and PostgreSQL, behind a TCP proxy
//! so the real servers keep serving the other tests): ingestion holds the events and writes
//! them when the server is back, the web answers 503 JSON meanwhile, nothing restarts.

use std::time::Duration;

use chatters::run::{Halves, run_with};
use chatters_core::event::Event;
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::metrics::Metrics;
use chatters_core::settings::Settings;
use chatters_core::store::{self, Backend};
use chatters_core::testing::{Proxy, TestDb, message_in, user};
use tokio_util::sync::CancellationToken;

const OUTAGE: Duration = Duration::from_secs(30);

fn free_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// `n` chat messages in #chan from 50 users, the first at `from` s.
fn messages(from: i64, n: i64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let u = user(1 + i % 50, &format!("user{}", i % 50));
            Event::Message(Box::new(message_in("chan", 500, &u, from + i)))
        })
        .collect()
}

async fn an_outage_holds_the_events_and_writes_them_when_the_server_returns(backend: Backend) {
    let Some(db) = TestDb::of(backend).await else {
        return;
    };
    let server = url::Url::parse(&db.url).expect("url");
    let upstream = format!(
        "{}:{}",
        server.host_str().expect("host"),
        server.port_or_known_default().expect("port")
    );
    let proxy = Proxy::start(upstream).await;
    let url = proxy.url_for(&db.url);
    let store = store::open(&url, &Default::default()).await.expect("open");

    // The web half over the same database, as `chatters web` runs it.
    let web_addr = free_addr();
    let settings = Settings::from_vars(
        [
            ("DATABASE_URL", url.clone()),
            ("WEB_ADDR", web_addr.to_string()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    )
    .expect("settings");
    let cancel = CancellationToken::new();
    let web = tokio::spawn({
        let (store, cancel) = (store.clone(), cancel.clone());
        async move { run_with(&settings, Halves::Web, store, cancel, Metrics::default()).await }
    });
    let (ingest, task) = Ingest::start(store.clone(), IngestConfig::default(), cancel.clone())
        .await
        .expect("ingestion");
    let healthz = format!("http://{web_addr}/healthz");
    let http = reqwest::Client::new();

    ingest.send_all(messages(0, 1_000)).await.expect("send");
    ingest.flush().await.expect("committed before the outage");
    let answer = http.get(&healthz).send().await.expect("healthz");
    assert_eq!(answer.status(), 200);

    // The server goes away; chat goes on.
    proxy.cut();
    ingest
        .send_all(messages(1_000, 2_000))
        .await
        .expect("events are taken during the outage");
    let pending = tokio::time::timeout(Duration::from_secs(3), ingest.flush()).await;
    assert!(pending.is_err(), "nothing can commit: {pending:?}");
    let answer = http.get(&healthz).send().await.expect("healthz");
    assert_eq!(
        answer.status(),
        503,
        "the web answers 503 while the database is away"
    );
    let kind = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(kind.starts_with("application/json"), "{kind}");
    tokio::time::sleep(OUTAGE.saturating_sub(Duration::from_secs(3))).await;
    assert!(!task.is_finished(), "ingestion waits, it does not stop");
    assert!(!web.is_finished(), "the web half keeps serving");

    // Back: every event held is written, by the same tasks.
    proxy.restore();
    tokio::time::timeout(Duration::from_secs(60), ingest.flush())
        .await
        .expect("committed within 60 s of the server's return")
        .expect("flush");
    assert_eq!(
        db.int("SELECT SUM(messages) FROM channel_users").await,
        Some(3_000),
        "every message counted once"
    );
    let answer = http.get(&healthz).send().await.expect("healthz");
    assert_eq!(answer.status(), 200);

    cancel.cancel();
    task.await.expect("join").expect("a clean stop");
    web.await.expect("join").expect("a clean stop");
    drop(proxy);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_outage() {
    an_outage_holds_the_events_and_writes_them_when_the_server_returns(Backend::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage() {
    an_outage_holds_the_events_and_writes_them_when_the_server_returns(Backend::Postgres).await;
}
