//! Operations: `LOG_FORMAT=json` (every stderr line a JSON object), `METRICS_ADDR` (`/metrics`
//! only there, not on the web address), `chatters completions`, and `chatters backup` (a copy
//! that restores to an identical database; other backends are pointed at their own tools).

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chatters_core::domain::UserId;
use chatters_core::ingest::IngestConfig;
use chatters_core::settings::Settings;
use chatters_core::store::Store;
use chatters_core::testing::{Pipeline, Timeline, scripted_channel, tracker_config};
use sqlx::{Connection as _, Row as _, SqliteConnection};
use support::process::{chatters, finish, free_port, get, run_to_end, signal, vars, wait_for};

#[test]
fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = chatters(
        dir.path(),
        &["web"],
        &vars(&[
            ("WEB_ADDR", &addr),
            ("LOG_FORMAT", "json"),
            ("LOG", "debug"),
        ]),
    )
    .spawn()
    .expect("start");
    wait_for(port, "/healthz");
    get(port, "/c/nobody/chatters.png");

    signal(&child, "-TERM");
    let finished = finish(child, Duration::from_secs(30));

    assert!(finished.status.success(), "{finished:?}");
    let lines: Vec<&str> = finished.stderr.lines().collect();
    assert!(lines.len() >= 3, "{}", finished.stderr);
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for key in ["timestamp", "level", "target", "fields"] {
            assert!(value.get(key).is_some(), "no {key}: {line}");
        }
    }
    assert!(
        finished
            .stderr
            .contains("\"message\":\"web endpoint listening\"")
    );
}

#[test]
fn metrics_are_served_only_on_metrics_addr() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (web, metrics) = (free_port(), free_port());
    let child = chatters(
        dir.path(),
        &["web"],
        &vars(&[
            ("WEB_ADDR", &format!("127.0.0.1:{web}")),
            ("METRICS_ADDR", &format!("127.0.0.1:{metrics}")),
        ]),
    )
    .spawn()
    .expect("start");
    wait_for(web, "/healthz");

    let on_web = get(web, "/metrics").expect("web answers");
    let on_metrics = wait_for(metrics, "/metrics");
    let healthz_on_metrics = get(metrics, "/healthz").expect("metrics answers");
    signal(&child, "-TERM");
    let finished = finish(child, Duration::from_secs(30));

    assert!(on_web.starts_with("HTTP/1.0 404"), "{on_web}");
    assert!(on_metrics.starts_with("HTTP/1.0 200"), "{on_metrics}");
    assert!(on_metrics.contains("chatters_build_info{"), "{on_metrics}");
    assert!(
        healthz_on_metrics.starts_with("HTTP/1.0 404"),
        "{healthz_on_metrics}"
    );
    assert!(finished.status.success(), "{finished:?}");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef chatters"),
        ("fish", "complete -c chatters"),
    ] {
        let finished = run_to_end(dir.path(), &["completions", shell], &[]);

        assert!(finished.status.success(), "{shell}: {finished:?}");
        assert!(
            finished.stdout.contains(marker),
            "{shell}: {}",
            finished.stdout
        );
        assert!(finished.stdout.contains("doctor"), "{shell}");
    }
}

/// Every row of every table (`quote()`d, sorted) and the schema, of an SQLite file.
async fn dump(path: &Path) -> Vec<(String, Vec<String>)> {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open copy");
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut c)
    .await
    .expect("tables");
    let mut out = Vec::new();
    for (table, sql) in tables {
        let columns: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(&mut c)
        .await
        .expect("columns")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        let row = columns
            .iter()
            .map(|col| format!("quote(\"{col}\")"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let mut rows: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {row} FROM \"{table}\""
        )))
        .fetch_all(&mut c)
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        rows.sort();
        out.push((table.clone(), std::iter::once(sql).chain(rows).collect()));
    }
    out
}

async fn filled_store(settings: &Settings) -> Arc<Store> {
    let store = chatters::open::open_store(settings).await.expect("store");
    let pipeline = Pipeline::start(
        store.clone(),
        IngestConfig {
            tracker: tracker_config(Some(UserId(900))),
            ..IngestConfig::default()
        },
    )
    .await;
    let timeline = Timeline::at(chatters_core::domain::Timestamp::now().0 - 86_400);
    pipeline
        .send(scripted_channel(&timeline, "chan", 500))
        .await;
    pipeline.stop().await;
    store.set_state("backup_test", "kept").await.expect("state");
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restores_to_an_identical_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let original = dir.path().join("chatters.db");
    let copy = dir.path().join("backup.db");
    let url = format!("sqlite://{}", original.display());
    let settings = Settings::from_vars(vars(&[("DATABASE_URL", &url)])).expect("settings");
    let store = filled_store(&settings).await;

    // While the store is open and in use, as beside a running chatters.
    chatters::backup::execute(&copy, &settings)
        .await
        .expect("backup");
    let again = chatters::backup::execute(&copy, &settings).await;

    let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the copy holds tokens: owner only");
    let restored = format!("sqlite://{}", copy.display());
    let restored_store = chatters::open::open_store(
        &Settings::from_vars(vars(&[("DATABASE_URL", &restored)])).expect("settings"),
    )
    .await
    .expect("the copy opens");
    assert!(
        restored_store
            .pending_migrations()
            .await
            .expect("read")
            .is_empty()
    );
    restored_store.close().await;
    store.close().await;
    let (before, after) = (dump(&original).await, dump(&copy).await);
    assert!(
        before
            .iter()
            .any(|(t, rows)| t == "stream_users" && rows.len() > 10)
    );
    assert_eq!(before, after);
    let refused = again.expect_err("an existing file is not overwritten");
    assert!(refused.to_string().contains("already exists"), "{refused}");
}

#[tokio::test]
async fn backup_points_servers_at_their_own_tools() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (url, tool) in [
        ("postgres://chatters@127.0.0.1:1/chatters", "pg_dump"),
        ("mysql://chatters@127.0.0.1:1/chatters", "mariadb-dump"),
    ] {
        let settings = Settings::from_vars(vars(&[("DATABASE_URL", url)])).expect("settings");

        let error = chatters::backup::execute(&dir.path().join("x"), &settings)
            .await
            .expect_err("not SQLite");

        assert!(error.to_string().contains(tool), "{error}");
    }
}
