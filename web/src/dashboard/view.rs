//! How dashboard pages are written: the templates (`assets/templates/dashboard/`, minijinja
//! with HTML escaping, no script, styles from `/assets/dashboard.css`), the error and
//! redirect answers ([`DashError`]), and stream figures shown generically (every field of the
//! API's Stream object, so figures added later appear without a change here).

use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chatters_core::stats::StreamFigures;
use chatters_core::store::StoreError;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::state::Dashboard;
use crate::cache::Cached;

const STYLESHEET: &str = include_str!("../../../assets/dashboard.css");

/// Every template, by name.
const TEMPLATES: [(&str, &str); 9] = [
    (
        "base.html",
        include_str!("../../../assets/templates/dashboard/base.html"),
    ),
    (
        "message.html",
        include_str!("../../../assets/templates/dashboard/message.html"),
    ),
    (
        "home.html",
        include_str!("../../../assets/templates/dashboard/home.html"),
    ),
    (
        "channel.html",
        include_str!("../../../assets/templates/dashboard/channel.html"),
    ),
    (
        "stream.html",
        include_str!("../../../assets/templates/dashboard/stream.html"),
    ),
    (
        "chatters.html",
        include_str!("../../../assets/templates/dashboard/chatters.html"),
    ),
    (
        "user.html",
        include_str!("../../../assets/templates/dashboard/user.html"),
    ),
    (
        "accounts.html",
        include_str!("../../../assets/templates/dashboard/accounts.html"),
    ),
    (
        "settings.html",
        include_str!("../../../assets/templates/dashboard/settings.html"),
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in TEMPLATES {
            if let Err(error) = env.add_template(name, source) {
                tracing::error!(%error, name, "dashboard template does not compile");
            }
        }
        env
    })
}

/// An HTML page, never cached by anyone (it is about one signed-in user).
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Renders `template` with `ctx` plus `base` (the link prefix).
pub(crate) fn render(
    dash: &Dashboard,
    status: StatusCode,
    template: &str,
    ctx: Value,
) -> Result<Response, DashError> {
    let ctx = context! { base => dash.base_path.clone(), ..ctx };
    let body = environment()
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|error| {
            tracing::error!(%error, template, "rendering a dashboard page");
            DashError::internal(dash)
        })?;
    Ok(html(status, body))
}

/// A 303 to `location`, with cookies to set.
pub(crate) fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A dashboard answer other than the page asked for: an error page or a redirect to sign in.
#[derive(Debug)]
pub(crate) struct DashError(Box<Response>);

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl DashError {
    /// Any answer, as is (a chart's JSON error).
    pub(crate) fn answer(response: Response) -> Self {
        Self(Box::new(response))
    }

    /// A page with a title and a message.
    pub(crate) fn page(dash: &Dashboard, status: StatusCode, title: &str, text: &str) -> Self {
        let body = environment()
            .get_template("message.html")
            .and_then(|t| {
                t.render(context! { base => dash.base_path.clone(), title, text, status => status.as_u16() })
            })
            .unwrap_or_else(|_| format!("{title}: {text}"));
        Self(Box::new(html(status, body)))
    }

    /// Sign-in is not configured: what to set.
    pub(crate) fn not_configured(dash: &Dashboard) -> Self {
        let text = format!(
            "The dashboard needs a Twitch application. Register one at dev.twitch.tv/console with \
             the OAuth redirect URL {}, then set TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET \
             (and PUBLIC_BASE_URL to this site's public address) and restart chatters.",
            dash.redirect_uri()
        );
        Self::page(
            dash,
            StatusCode::SERVICE_UNAVAILABLE,
            "Dashboard sign-in is not configured",
            &text,
        )
    }

    /// Not signed in (or the channel list is older than 10 minutes): through `/login`.
    pub(crate) fn sign_in(dash: &Dashboard, next: &str) -> Self {
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        Self(Box::new(see_other(
            &dash.link(&format!("/login?next={next}")),
            &[],
        )))
    }

    /// 403.
    pub(crate) fn forbidden(dash: &Dashboard) -> Self {
        Self::page(
            dash,
            StatusCode::FORBIDDEN,
            "Not yours",
            "You neither broadcast nor moderate this channel.",
        )
    }

    /// 404.
    pub(crate) fn not_found(dash: &Dashboard, text: &str) -> Self {
        Self::page(dash, StatusCode::NOT_FOUND, "Not found", text)
    }

    /// 400.
    pub(crate) fn bad_request(dash: &Dashboard, text: &str) -> Self {
        Self::page(dash, StatusCode::BAD_REQUEST, "Bad request", text)
    }

    /// A form without the session's CSRF token.
    pub(crate) fn csrf(dash: &Dashboard) -> Self {
        Self::page(
            dash,
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is not from your current session. Go back, reload the page and try again.",
        )
    }

    /// 503 (the session store failed; logged by the caller).
    pub(crate) fn unavailable(dash: &Dashboard) -> Self {
        Self::page(
            dash,
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The dashboard cannot reach its storage right now.",
        )
    }

    /// 500 (logged by the caller).
    pub(crate) fn internal(dash: &Dashboard) -> Self {
        Self::page(
            dash,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The page could not be made.",
        )
    }

    /// A store failure, logged once here.
    pub(crate) fn store(dash: &Dashboard, doing: &'static str, error: &StoreError) -> Self {
        tracing::error!(%error, doing, "dashboard: store failed");
        Self::unavailable(dash)
    }
}

/// Checks a form's `csrf` field against the session's token (constant time).
pub(crate) fn check_csrf(
    dash: &Dashboard,
    expected: &str,
    given: Option<&str>,
) -> Result<(), DashError> {
    let given = given.unwrap_or_default().as_bytes();
    let expected = expected.as_bytes();
    let same = given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same && !expected.is_empty() {
        Ok(())
    } else {
        Err(DashError::csrf(dash))
    }
}

/// A form's query without its empty fields (an empty `until` means "not given", not a bad
/// time).
pub(crate) fn filled(query: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !v.trim().is_empty() {
            out.append_pair(&k, v.trim());
        }
    }
    out.finish()
}

/// `GET /assets/dashboard.css`.
pub(crate) async fn stylesheet(headers: HeaderMap) -> Response {
    static CSS: OnceLock<Cached> = OnceLock::new();
    let cached = CSS.get_or_init(|| Cached::new(Bytes::from_static(STYLESHEET.as_bytes())));
    crate::routes::respond(&headers, cached, "text/css; charset=utf-8")
}

/// One figure of a stream, as shown.
#[derive(Debug, Serialize)]
pub(crate) struct Figure {
    /// The API's field name.
    pub name: String,
    /// For people.
    pub label: String,
    /// The value shown.
    pub text: String,
}

/// A stream's row: its id, start, title and every other figure.
#[derive(Debug, Serialize)]
pub(crate) struct StreamView {
    pub id: String,
    pub started: String,
    pub live: bool,
    pub title: String,
    pub retention: Option<f64>,
    /// 0–20, the retention bar's width class.
    pub retention_step: u32,
    pub figures: Vec<Figure>,
}

/// Fields shown apart from the figures.
const NOT_FIGURES: [&str; 4] = ["id", "started_at", "ended_at", "title"];

impl StreamView {
    pub(crate) fn new(figures: &StreamFigures) -> Self {
        let json = serde_json::to_value(figures).unwrap_or_default();
        let shown = json
            .as_object()
            .map(|map| {
                map.iter()
                    .filter(|(k, _)| !NOT_FIGURES.contains(&k.as_str()))
                    .map(|(k, v)| Figure {
                        label: k.replace('_', " "),
                        text: show(k, v),
                        name: k.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: figures.id.to_string(),
            started: when(figures.started_at),
            live: figures.ended_at.is_none(),
            title: figures.title.clone(),
            retention: figures.retention,
            retention_step: figures
                .retention
                .map_or(0, |r| (r.clamp(0.0, 1.0) * 20.0).round() as u32),
            figures: shown,
        }
    }
}

/// A time for people.
pub(crate) fn when(t: chatters_core::domain::Timestamp) -> String {
    format!("{} UTC", t.to_datetime().format("%Y-%m-%d %H:%M"))
}

/// A JSON figure for people: fractions (`retention`, shares) as percentages, `null` as a dash,
/// durations in seconds as `1h 02m`, lists and objects as short text.
fn show(name: &str, value: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match value {
        J::Null => "–".to_owned(),
        J::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        J::Number(n) if n.is_f64() && (name.contains("retention") || name.contains("share")) => {
            format!("{:.0}%", n.as_f64().unwrap_or_default() * 100.0)
        }
        J::Number(n) if name.ends_with("_time") => {
            let s = n.as_i64().unwrap_or_default();
            format!("{}h {:02}m {:02}s", s / 3600, s % 3600 / 60, s % 60)
        }
        J::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or_default()),
        J::Number(n) => n.to_string(),
        J::String(s) => s.clone(),
        J::Array(items) => items
            .iter()
            .map(|i| match i.get("name").or_else(|| i.get("login")) {
                Some(J::String(s)) => s.clone(),
                _ => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        J::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k} {}", show(k, v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn figures_are_shown_for_people() {
        assert_eq!(show("retention", &json!(0.426)), "43%");
        assert_eq!(show("retention", &json!(null)), "–");
        assert_eq!(show("messages", &json!(12)), "12");
        assert_eq!(show("avg_watch_time", &json!(3729)), "1h 02m 09s");
        assert_eq!(
            show("mood", &json!({"hype": 3, "love": 1})),
            "hype 3, love 1"
        );
        assert_eq!(
            show("categories", &json!([{"name": "Chess"}, {"name": "Art"}])),
            "Chess, Art"
        );
    }
}
