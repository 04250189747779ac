//! Chart images and the share page, through the router and over a real socket, on a real
//! SQLite store fed by the ingestion pipeline: sizes, themes and ranges, every bad parameter,
//! unknown channels and streams, disabled public pages, ETag/304, the in-process cache and
//! its invalidation when new data arrives, and the Redis cache shared between instances.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use chatters_core::domain::StreamId;
use chatters_core::testing::{FIRST_STREAM, SECOND_STREAM, login, user};
use chatters_web::WebConfig;
use chatters_web::cache::ChartCache;
use secrecy::SecretString;
use support::*;

async fn scripted() -> Harness {
    let h = Harness::new().await;
    h.script(CHAN, ROOM).await;
    h
}

fn assert_png(answer: &Answer, size: (u32, u32)) {
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("content-type"), "image/png");
    assert_eq!(answer.header("cache-control"), "public, max-age=60");
    let etag = answer.header("etag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
        "strong ETag: {etag}"
    );
    assert_eq!(png_size(&answer.body), size);
}

#[tokio::test]
async fn the_chatters_chart_defaults_to_24_hours_1200_by_600_light() {
    let h = scripted().await;
    let state = h.state();

    let answer = get(&state, "/c/chan/chatters.png", &[]).await;

    assert_png(&answer, (1200, 600));
    let explicit = get(
        &state,
        "/c/chan/chatters.png?range=24h&w=1200&h=600&theme=light",
        &[],
    )
    .await;
    assert_eq!(explicit.header("etag"), answer.header("etag"));
    assert_eq!(explicit.body, answer.body);
    h.stop().await;
}

#[tokio::test]
async fn every_range_size_and_theme_renders_at_the_requested_size() {
    let h = scripted().await;
    let state = h.state();

    for (query, size) in [
        ("range=24h&w=200&h=150", (200, 150)),
        ("range=7d&w=2400&h=1600&theme=dark", (2400, 1600)),
        ("range=30d&w=640&h=320&theme=light", (640, 320)),
        ("w=333&h=777&theme=dark&cachebuster=1", (333, 777)),
        ("w=300&w=5&h=200", (300, 200)),
    ] {
        let answer = get(&state, &format!("/c/chan/chatters.png?{query}"), &[]).await;
        assert_png(&answer, size);
    }
    h.stop().await;
}

#[tokio::test]
async fn a_stream_chart_renders_for_ended_and_live_streams() {
    let h = scripted().await;
    let state = h.state();

    let ended = get(&state, "/c/chan/streams/1001.png", &[]).await;
    let live = get(
        &state,
        "/c/chan/streams/1002.png?w=800&h=400&theme=dark",
        &[],
    )
    .await;

    assert_png(&ended, (1200, 600));
    assert_png(&live, (800, 400));
    assert_ne!(ended.header("etag"), live.header("etag"));
    h.stop().await;
}

#[tokio::test]
async fn every_bad_parameter_answers_400_naming_it() {
    let h = scripted().await;
    let state = h.state();
    let cases = [
        ("w=199", "w must be between 200 and 2400"),
        ("w=2401", "w must be between 200 and 2400"),
        ("w=abc", "w must be between 200 and 2400"),
        ("w=", "w must be between 200 and 2400"),
        ("w=-1", "w must be between 200 and 2400"),
        ("w=1e3", "w must be between 200 and 2400"),
        (
            "w=99999999999999999999999",
            "w must be between 200 and 2400",
        ),
        ("h=149", "h must be between 150 and 1600"),
        ("h=1601", "h must be between 150 and 1600"),
        ("h=%20600", "h must be between 150 and 1600"),
        ("theme=blue", "theme must be light or dark"),
        ("theme=", "theme must be light or dark"),
        ("range=1y", "range must be one of 24h, 7d, 30d"),
        ("range=", "range must be one of 24h, 7d, 30d"),
        ("range=24h&w=100", "w must be between 200 and 2400"),
    ];

    for (query, message) in cases {
        let answer = get(&state, &format!("/c/chan/chatters.png?{query}"), &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            answer.json(),
            serde_json::json!({"error": "bad_parameter", "message": message}),
            "{query}"
        );
        if !query.starts_with("range") {
            let stream = get(&state, &format!("/c/chan/streams/1001.png?{query}"), &[]).await;
            assert_eq!(stream.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(stream.json()["message"], message, "{query}");
        }
    }
    // A bad parameter is reported before the channel is looked up.
    let unknown = get(&state, "/c/nobody/chatters.png?w=5", &[]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    h.stop().await;
}

#[tokio::test]
async fn unknown_channels_and_streams_answer_404_json() {
    let h = scripted().await;
    h.send(vec![h.online(
        "elsewhere",
        600,
        "2001",
        3000,
        "other channel",
    )])
    .await;
    let state = h.state();

    for path in [
        "/c/nobody/chatters.png",
        "/c/nobody/streams/1001.png",
        "/c/nobody",
        "/c/not-a-login!/chatters.png",
        "/c/%FF%FE/chatters.png",
        "/c/chan/streams/9999.png",
        "/c/chan/streams/2001.png",
        "/c/chan/streams/1001.jpg",
        "/c/chan/streams/1001",
        "/c/chan/streams/bad%20id.png",
        "/c/chan/streams/.png",
    ] {
        let answer = get(&state, path, &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        let body = answer.json();
        assert_eq!(body["error"], "not_found", "{path}");
        assert!(body["message"].is_string(), "{path}");
    }
    h.stop().await;
}

#[tokio::test]
async fn a_channel_with_its_public_page_off_answers_404_everywhere() {
    let h = scripted().await;
    let state = h.state();
    assert_eq!(get(&state, "/c/chan", &[]).await.status, StatusCode::OK);
    let channel = h
        .store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");

    h.store
        .set_channel_setting(channel.key, "public_page", Some("off"))
        .await
        .expect("setting");

    for path in [
        "/c/chan",
        "/c/chan/chatters.png",
        "/c/chan/streams/1001.png",
    ] {
        let answer = get(&state, path, &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.json()["error"], "not_found");
    }
    h.store
        .set_channel_setting(channel.key, "public_page", Some("on"))
        .await
        .expect("setting");
    assert_eq!(
        get(&state, "/c/chan/chatters.png", &[]).await.status,
        StatusCode::OK
    );
    h.stop().await;
}

#[tokio::test]
async fn a_matching_if_none_match_answers_304_without_a_body() {
    let h = scripted().await;
    let state = h.state();
    let first = get(&state, "/c/chan/streams/1001.png", &[]).await;
    let etag = first.header("etag").to_owned();

    let same = get(
        &state,
        "/c/chan/streams/1001.png",
        &[("if-none-match", &etag)],
    )
    .await;
    let listed = get(
        &state,
        "/c/chan/streams/1001.png",
        &[("if-none-match", &format!("\"zzz\", W/{etag}"))],
    )
    .await;
    let other = get(
        &state,
        "/c/chan/streams/1001.png",
        &[("if-none-match", "\"zzz\"")],
    )
    .await;

    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert!(same.body.is_empty());
    assert_eq!(same.header("etag"), etag);
    assert_eq!(same.header("cache-control"), "public, max-age=60");
    assert_eq!(listed.status, StatusCode::NOT_MODIFIED);
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.body, first.body);
    h.stop().await;
}

#[tokio::test]
async fn charts_are_rendered_once_until_new_data_arrives() {
    let h = scripted().await;
    let state = h.state();

    let first = get(&state, "/c/chan/chatters.png", &[]).await;
    let second = get(&state, "/c/chan/chatters.png", &[]).await;
    assert_eq!((state.charts.renders(), state.charts.hits()), (1, 1));
    assert_eq!(first.body, second.body);
    get(&state, "/c/chan/chatters.png?theme=dark", &[]).await;
    assert_eq!(state.charts.renders(), 2, "another spec is another chart");

    let regular = user(1, "regular1");
    let newcomer = user(50, "latecomer");
    h.send(vec![h.snapshot(
        CHAN,
        &[&regular, &newcomer],
        2 * 3600 + 2400,
    )])
    .await;
    let third = get(&state, "/c/chan/chatters.png", &[]).await;

    assert_eq!(state.charts.renders(), 3, "new data renders again");
    assert_ne!(third.header("etag"), first.header("etag"));
    let stale = get(
        &state,
        "/c/chan/chatters.png",
        &[("if-none-match", first.header("etag"))],
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body, third.body);
    h.stop().await;
}

#[tokio::test]
async fn a_probe_is_trusted_for_its_ttl() {
    let h = scripted().await;
    let mut state = h.state();
    state.charts = std::sync::Arc::new(ChartCache::new(64 << 20, Duration::from_secs(3600)));
    get(&state, "/c/chan/chatters.png", &[]).await;

    h.send(vec![h.snapshot(
        CHAN,
        &[&user(1, "regular1")],
        2 * 3600 + 2400,
    )])
    .await;
    get(&state, "/c/chan/chatters.png", &[]).await;

    assert_eq!((state.charts.renders(), state.charts.hits()), (1, 1));
    h.stop().await;
}

#[tokio::test]
async fn the_share_page_shows_charts_figures_and_unfurl_tags() {
    let h = scripted().await;
    let state = h.state_with(WebConfig {
        public_base_url: "https://stats.example.com/chatters".into(),
        bot_user: Some(chatters_core::domain::UserId(BOT)),
        ..WebConfig::default()
    });

    let answer = get(&state, "/c/chan", &[]).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
    assert!(answer.header("etag").starts_with('"'));
    let html = answer.text();
    let meta = |marker: &str| {
        attribute(&html, marker, "content").unwrap_or_else(|| panic!("{marker} in {html}"))
    };
    assert_eq!(
        meta("property=\"og:image\""),
        "https://stats.example.com/chatters/c/chan/chatters.png"
    );
    assert_eq!(
        meta("property=\"og:url\""),
        "https://stats.example.com/chatters/c/chan"
    );
    assert_eq!(meta("name=\"twitter:card\""), "summary_large_image");
    assert_eq!(
        meta("name=\"twitter:image\""),
        meta("property=\"og:image\"")
    );
    assert!(meta("property=\"og:title\"").contains("chan"));
    assert!(!meta("property=\"og:description\"").is_empty());
    // The stream title is the channel's text: escaped, never markup.
    assert!(!html.contains("<b>second</b>"));
    assert!(html.contains("&lt;b&gt;second&lt;"));
    // Images: both charts, with their size given.
    for src in ["chan/chatters.png", "chan/streams/1002.png"] {
        let marker = format!("src=\"{src}\"");
        assert_eq!(
            attribute(&html, &marker, "width").as_deref(),
            Some("1200"),
            "{src}"
        );
        assert_eq!(
            attribute(&html, &marker, "height").as_deref(),
            Some("600"),
            "{src}"
        );
    }
    // Figures: the same numbers as the figures API, for every stream listed.
    for id in [SECOND_STREAM, FIRST_STREAM] {
        let stream = h
            .store
            .stream(&StreamId::parse(id).expect("id"))
            .await
            .expect("read")
            .expect("stream");
        let figures = state.figures.stream(&stream).await.expect("figures");
        let row = &html[html.find(&format!("data-stream=\"{id}\"")).expect("row")..];
        let row = &row[..row.find("</tr>").expect("row end")];
        for (field, value) in [
            ("unique_chatters", figures.unique_chatters),
            ("new_chatters", figures.new_chatters),
            ("returning_chatters", figures.returning_chatters),
            ("peak_chatters", figures.peak_chatters),
            ("messages", figures.messages),
            ("lurkers", figures.lurkers),
        ] {
            let cell = format!("data-field=\"{field}\">{value}</td>");
            assert!(row.contains(&cell), "{id} {field} = {value} in {row}");
        }
        let retention =
            attribute(row, "data-field=\"retention\"", "data-value").expect("retention");
        assert_eq!(
            retention,
            figures.retention.map(|r| r.to_string()).unwrap_or_default()
        );
    }
    // Account ages: the flagged farm day.
    assert!(html.contains("class=\"flagged\""), "{html}");
    h.stop().await;
}

#[tokio::test]
async fn pages_and_charts_of_a_channel_without_data_still_render() {
    let h = Harness::new().await;
    h.store.add_channel(&login("quiet")).await.expect("add");
    let state = h.state();

    let page = get(&state, "/c/quiet", &[]).await;
    let chart = get(&state, "/c/quiet/chatters.png?range=30d", &[]).await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("No streams recorded yet"));
    assert_png(&chart, (1200, 600));
    h.stop().await;
}

#[tokio::test]
async fn the_routes_answer_over_a_real_socket() {
    let h = scripted().await;
    let (addr, shutdown, server) = spawn_server(h.state()).await;
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");

    let chart = client
        .get(format!("{base}/c/chan/chatters.png?w=400&h=200"))
        .send()
        .await
        .expect("GET");
    let status = chart.status();
    let etag = chart.headers()["etag"].to_str().expect("ascii").to_owned();
    let bytes = chart.bytes().await.expect("body");
    let revalidated = client
        .get(format!("{base}/c/chan/chatters.png?w=400&h=200"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    let bad = client
        .get(format!("{base}/c/chan/chatters.png?h=9"))
        .send()
        .await
        .expect("GET");
    let page = client
        .get(format!("{base}/c/chan"))
        .send()
        .await
        .expect("GET");
    let missing = client
        .get(format!("{base}/c/chan/streams/404.png"))
        .send()
        .await
        .expect("GET");

    assert_eq!(status, 200);
    assert_eq!(png_size(&bytes), (400, 200));
    assert_eq!(revalidated.status(), 304);
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<serde_json::Value>().await.expect("JSON")["message"],
        "h must be between 150 and 1600"
    );
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("og:image"));
    assert_eq!(missing.status(), 404);
    shutdown.cancel();
    server.await.expect("join").expect("served");
    h.stop().await;
}

/// `TEST_REDIS_URL` (set by `.ci/run`); skipped without it outside CI.
fn redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("TEST_REDIS_URL must be set in CI"),
        _ => {
            eprintln!("TEST_REDIS_URL not set: skipping the Redis chart cache test (CI sets it)");
            None
        }
    }
}

#[tokio::test]
async fn a_second_instance_reads_charts_from_redis() {
    let Some(url) = redis_url() else { return };
    let h = Harness::new().await;
    // A login of its own, so earlier runs' keys on the shared server cannot answer.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let channel = format!("redis{}_{nanos}", std::process::id());
    h.script(&channel, 700).await;
    let config = || WebConfig {
        redis_url: Some(SecretString::from(url.clone())),
        ..WebConfig::default()
    };
    let first = h.state_with(config());
    let second = h.state_with(config());
    let path = format!("/c/{channel}/chatters.png?w=500&h=250");

    let rendered = get(&first, &path, &[]).await;
    let shared = get(&second, &path, &[]).await;

    assert_png(&rendered, (500, 250));
    assert_eq!(first.charts.renders(), 1);
    assert_eq!(
        (second.charts.renders(), second.charts.remote_hits()),
        (0, 1)
    );
    assert_eq!(shared.body, rendered.body);
    assert_eq!(shared.header("etag"), rendered.header("etag"));
    // New data: a new version, so a new key; the second instance renders it itself.
    h.send(vec![h.snapshot(
        &channel,
        &[&user(1, "regular1")],
        2 * 3600 + 2400,
    )])
    .await;
    get(&second, &path, &[]).await;
    assert_eq!(second.charts.renders(), 1);
    // `/metrics` shows the same: every family the web registers has been fed.
    let text = get(&second, "/metrics", &[]).await.text();
    for line in [
        "chatters_chart_renders_total 1",
        "chatters_chart_cache_hits_total 1",
        "chatters_chart_cache_remote_hits_total 1",
        "chatters_chart_render_seconds_count 1",
        "chatters_chart_render_seconds_bucket{le=\"+Inf\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    // Refused renders are fed in `hardening.rs` (a client over its budget, a full queue);
    // none is refused here.
    assert_eq!(
        chatters_core::metrics::silent_families(&text),
        vec!["chatters_chart_renders_refused_total".to_owned()],
        "{text}"
    );
    h.stop().await;
}

#[tokio::test]
async fn charts_are_served_when_redis_is_down() {
    let h = scripted().await;
    let state = h.state_with(WebConfig {
        redis_url: Some(SecretString::from("redis://127.0.0.1:1".to_owned())),
        ..WebConfig::default()
    });

    let answer = get(&state, "/c/chan/chatters.png", &[]).await;
    let again = get(&state, "/c/chan/chatters.png", &[]).await;

    assert_png(&answer, (1200, 600));
    assert_eq!(again.body, answer.body);
    assert_eq!((state.charts.renders(), state.charts.hits()), (1, 1));
    h.stop().await;
}
