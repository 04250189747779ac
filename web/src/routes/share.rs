//! `GET /c/{login}`: the public share page. Server-rendered HTML from
//! `assets/templates/share.html` (minijinja, HTML auto-escaping), no script and no inline
//! style (its styles are `GET /assets/share.css`, so the Content-Security-Policy forbids both
//! inline): the chatter
//! chart, the latest stream's chart, the last streams' figures, account-age clusters, and Open
//! Graph / Twitter tags so a pasted link unfurls with the chart. Cached like the charts, for at
//! most a minute (message counts move without new series points).

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chatters_core::domain::Timestamp;
use chatters_core::stats::{AccountClusters, StreamFigures};
use chatters_core::store::{Channel, Stream};
use minijinja::Environment;
use serde::Serialize;

use super::charts::{public_channel, respond, unknown_channel};
use crate::AppState;
use crate::cache::Cached;
use crate::error::ApiError;

/// Streams listed in the table.
const STREAMS_LISTED: i64 = 10;
/// Account-creation days listed.
const ACCOUNT_DAYS_LISTED: usize = 10;
/// Window of the account-age clusters (the API's default too).
const ACCOUNTS_WINDOW: i64 = 7 * 24 * 3600;
/// How long a rendered page is served without new series data.
const PAGE_MAX_AGE: Duration = Duration::from_secs(60);
/// Steps of the longest account bar (`.w0` … `.w32` in `assets/share.css`, 0.5em each).
const BAR_STEPS: f64 = 32.0;
/// The page's stylesheet.
const STYLESHEET: &str = include_str!("../../../assets/share.css");

const TEMPLATE: &str = "share.html";

/// `GET /c/{login}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    login: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(login) = login.map_err(|_| unknown_channel())?;
    let public = public_channel(&state, &login).await?;
    let cached = state
        .charts
        .get_or_render(
            state.config.redis_url.as_ref(),
            &format!("{}/page", public.login),
            public.version(),
            PAGE_MAX_AGE,
            || async { render(&state, public.channel()?).await },
        )
        .await?;
    Ok(respond(&headers, &cached, "text/html; charset=utf-8"))
}

/// `GET /assets/share.css`: the share page's styles, with an ETag (304 when unchanged).
pub(crate) async fn stylesheet(headers: HeaderMap) -> Response {
    static CSS: OnceLock<Cached> = OnceLock::new();
    let cached = CSS.get_or_init(|| Cached::new(Bytes::from_static(STYLESHEET.as_bytes())));
    respond(&headers, cached, "text/css; charset=utf-8")
}

/// The page's template context.
#[derive(Debug, Serialize)]
struct Page {
    login: String,
    /// Already escaped for an attribute (see [`url_attribute`]).
    page_url: minijinja::Value,
    /// Already escaped for an attribute.
    image_url: minijinja::Value,
    description: String,
    latest: Option<StreamRow>,
    streams: Vec<StreamRow>,
    accounts: AccountsView,
}

/// One row of the streams table.
#[derive(Debug, Clone, Serialize)]
struct StreamRow {
    id: String,
    started: String,
    live: bool,
    title: String,
    unique_chatters: i64,
    new_chatters: i64,
    returning_chatters: i64,
    peak_chatters: i64,
    messages: i64,
    lurkers: i64,
    /// The JSON API's value (empty when `null`), for machines.
    retention_value: String,
    /// `42%` or `–`, for people.
    retention_text: String,
}

impl From<StreamFigures> for StreamRow {
    fn from(f: StreamFigures) -> Self {
        Self {
            id: f.id.to_string(),
            started: format!(
                "{} UTC",
                f.started_at.to_datetime().format("%Y-%m-%d %H:%M")
            ),
            live: f.ended_at.is_none(),
            title: f.title,
            unique_chatters: f.unique_chatters,
            new_chatters: f.new_chatters,
            returning_chatters: f.returning_chatters,
            peak_chatters: f.peak_chatters,
            messages: f.messages,
            lurkers: f.lurkers,
            retention_value: f.retention.map(|r| r.to_string()).unwrap_or_default(),
            retention_text: f
                .retention
                .map_or_else(|| "–".to_owned(), |r| format!("{:.0}%", r * 100.0)),
        }
    }
}

#[derive(Debug, Serialize)]
struct AccountsView {
    total: i64,
    threshold: i64,
    days: Vec<DayView>,
}

#[derive(Debug, Serialize)]
struct DayView {
    date: String,
    count: i64,
    flagged: bool,
    /// Bar width in steps of [`BAR_STEPS`], relative to the largest day (a CSS class).
    step: u8,
}

impl From<AccountClusters> for AccountsView {
    fn from(c: AccountClusters) -> Self {
        let max = c.days.iter().map(|d| d.count).max().unwrap_or(1).max(1);
        let days = c
            .days
            .into_iter()
            .take(ACCOUNT_DAYS_LISTED)
            .map(|d| {
                // 0..=32 after the clamp, so the cast cannot truncate.
                let step = (BAR_STEPS * d.count as f64 / max as f64)
                    .round()
                    .clamp(0.0, BAR_STEPS) as u8;
                DayView {
                    date: d.date,
                    count: d.count,
                    flagged: d.flagged,
                    step,
                }
            })
            .collect();
        Self {
            total: c.total,
            threshold: c.threshold,
            days,
        }
    }
}

async fn render(state: &AppState, channel: &Channel) -> Result<Vec<u8>, ApiError> {
    let streams: Vec<Stream> = state
        .store
        .streams(channel.key, STREAMS_LISTED)
        .await
        .map_err(|e| ApiError::store("listing streams", &e))?;
    let mut rows = Vec::with_capacity(streams.len());
    for stream in &streams {
        let figures = state
            .figures
            .stream(stream)
            .await
            .map_err(|e| ApiError::store("computing stream figures", &e))?;
        rows.push(StreamRow::from(figures));
    }
    let now = Timestamp::now();
    let accounts = state
        .figures
        .accounts_window(channel, now.plus(-ACCOUNTS_WINDOW), now)
        .await
        .map_err(|e| ApiError::store("computing account clusters", &e))?;
    let login = channel.login.to_string();
    let base = state.config.public_base_url.trim_end_matches('/');
    let description = match rows.first() {
        Some(s) => format!(
            "{} stream: {} chatters ({} new), peak {}, {} messages.",
            if s.live { "Live" } else { "Latest" },
            s.unique_chatters,
            s.new_chatters,
            s.peak_chatters,
            s.messages
        ),
        None => format!("Who is in {login}'s Twitch chat: chatters over time, new and returning."),
    };
    let page = Page {
        page_url: url_attribute(&format!("{base}/c/{login}")),
        image_url: url_attribute(&format!("{base}/c/{login}/chatters.png")),
        description,
        latest: rows.first().cloned(),
        streams: rows,
        accounts: AccountsView::from(accounts),
        login,
    };
    let html = template()?
        .render(minijinja::Value::from_serialize(&page))
        .map_err(|error| {
            tracing::error!(%error, "share page template failed");
            ApiError::internal()
        })?;
    Ok(html.into_bytes())
}

/// A URL escaped for an HTML attribute, keeping its slashes: unfurlers that read `og:image`
/// without decoding character references still get a usable address.
fn url_attribute(url: &str) -> minijinja::Value {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    minijinja::Value::from_safe_string(out)
}

/// The compiled template (HTML auto-escaping follows from its `.html` name).
fn template() -> Result<minijinja::Template<'static, 'static>, ApiError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_template(
            TEMPLATE,
            include_str!("../../../assets/templates/share.html"),
        )
        .map_err(|e| e.to_string())?;
        Ok(env)
    });
    match env {
        Ok(env) => env.get_template(TEMPLATE).map_err(|error| {
            tracing::error!(%error, "share page template missing");
            ApiError::internal()
        }),
        Err(error) => {
            tracing::error!(%error, "share page template does not compile");
            Err(ApiError::internal())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_compiles_and_escapes_titles() {
        let row = StreamRow {
            id: "1".into(),
            started: "2024-01-01 00:00 UTC".into(),
            live: false,
            title: "<script>alert(1)</script> & \"quotes\"".into(),
            unique_chatters: 1,
            new_chatters: 1,
            returning_chatters: 0,
            peak_chatters: 1,
            messages: 0,
            lurkers: 1,
            retention_value: String::new(),
            retention_text: "–".into(),
        };
        let page = Page {
            login: "chan".into(),
            page_url: url_attribute("http://x/c/chan"),
            image_url: url_attribute("http://x/c/chan/chatters.png?a=1&b=\"2\""),
            description: "d".into(),
            latest: Some(row.clone()),
            streams: vec![row],
            accounts: AccountsView {
                total: 0,
                threshold: 10,
                days: vec![DayView {
                    date: "2024-01-01".into(),
                    count: 3,
                    flagged: true,
                    step: 32,
                }],
            },
        };

        let html = template()
            .expect("template")
            .render(minijinja::Value::from_serialize(&page))
            .expect("render");

        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &quot;quotes&quot;"),
            "{html}"
        );
        assert!(
            html.contains(r#"<meta property="og:image" content="http://x/c/chan/chatters.png?a=1&amp;b=&quot;2&quot;">"#),
            "{html}"
        );
        assert!(html.contains(r#"<meta name="twitter:card" content="summary_large_image">"#));
        // Nothing inline for the Content-Security-Policy to refuse.
        assert!(
            !html.contains("<style") && !html.contains("style="),
            "{html}"
        );
        assert!(html.contains(r#"<link rel="stylesheet" href="../assets/share.css">"#));
        assert!(html.contains(r#"<span class="bar w32"></span>"#), "{html}");
    }
}
