//! The dashboard's read-only pages of one channel: overview (last streams with every figure,
//! the channel chart, the retention trend), one stream (chart, figures, top chatters, raids,
//! new chatters), the chatter table (sorted by any column, searched by login prefix, 100 a
//! page), one user, and the account-age clusters; and the two charts (drawn like the public
//! ones, but behind the session: a channel may have switched its public page off).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chatters_core::domain::{Login, StreamId, Timestamp};
use chatters_core::store::{ChatterQuery, ChatterSort, Stream};
use minijinja::context;
use serde::Serialize;

use super::access::{Viewer, channel, viewer};
use super::view::{DashError, StreamView, filled, render, when};
use crate::AppState;
use crate::error::ApiError;
use crate::render_limit::ClientIp;
use crate::routes::{Params, render_channel, render_stream};

/// Streams on the overview.
const STREAMS_LISTED: i64 = 10;
/// Rows of the chatter table per page.
pub const PAGE_SIZE: i64 = 100;
/// Top chatters and new chatters listed on a stream page.
const STREAM_LISTS: i64 = 20;
/// Default window of the account clusters page.
const ACCOUNTS_WINDOW: i64 = 7 * 86_400;

/// A 400 page from a parameter error.
fn bad(state: &AppState, error: ApiError) -> DashError {
    DashError::bad_request(&state.dashboard, &error.message)
}

/// The viewer and the path they asked for.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    query: Option<&str>,
) -> Result<Viewer, DashError> {
    let next = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    viewer(state, headers, &next).await
}

/// `GET /dashboard/c/{login}`.
pub(crate) async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let viewer = signed_in(&state, &headers, &format!("/dashboard/c/{login}"), None).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let rows = state
        .store
        .streams(channel.key, STREAMS_LISTED)
        .await
        .map_err(|e| DashError::store(dash, "listing streams", &e))?;
    let mut streams = Vec::with_capacity(rows.len());
    for row in &rows {
        let figures = state
            .figures
            .stream(row)
            .await
            .map_err(|e| DashError::store(dash, "computing stream figures", &e))?;
        streams.push(StreamView::new(&figures));
    }
    let columns: Vec<String> = streams
        .first()
        .map(|s| s.figures.iter().map(|f| f.label.clone()).collect())
        .unwrap_or_default();
    // Oldest first, for the trend.
    let trend: Vec<&StreamView> = streams.iter().rev().collect();
    render(
        dash,
        StatusCode::OK,
        "channel.html",
        context! {
            login => channel.login.to_string(),
            user => viewer.session.login.to_string(),
            csrf => viewer.session.csrf.clone(),
            columns,
            streams => &streams,
            trend,
        },
    )
}

/// A stream of `channel` by its Twitch id.
async fn stream_of(
    state: &AppState,
    channel_key: chatters_core::store::ChannelKey,
    raw: &str,
) -> Result<Stream, DashError> {
    let dash = &state.dashboard;
    let id = StreamId::parse(raw).map_err(|_| DashError::not_found(dash, "No such stream."))?;
    state
        .store
        .stream(&id)
        .await
        .map_err(|e| DashError::store(dash, "reading a stream", &e))?
        .filter(|s| s.channel == channel_key)
        .ok_or_else(|| DashError::not_found(dash, "No such stream in this channel."))
}

/// A row of a short list of users.
#[derive(Debug, Serialize)]
struct Named {
    login: String,
    text: String,
}

/// `GET /dashboard/c/{login}/streams/{id}`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((login, id)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let path = format!("/dashboard/c/{login}/streams/{id}");
    let viewer = signed_in(&state, &headers, &path, None).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let stream = stream_of(&state, channel.key, &id).await?;
    let fail = |e| DashError::store(dash, "computing a stream's page", &e);
    let figures = state.figures.stream(&stream).await.map_err(fail)?;
    let top = state
        .figures
        .top_chatters(&stream, STREAM_LISTS)
        .await
        .map_err(fail)?;
    let raids = state.figures.raids(&stream).await.map_err(fail)?;
    let new = state
        .figures
        .new_chatters(&stream, STREAM_LISTS)
        .await
        .map_err(fail)?;
    let top: Vec<Named> = top
        .into_iter()
        .map(|u| Named {
            login: u.login.to_string(),
            text: format!("{} messages", u.count),
        })
        .collect();
    let raids: Vec<Named> = raids
        .into_iter()
        .map(|r| Named {
            login: r.from_login.to_string(),
            text: format!(
                "{} viewers at {}, retention {}",
                r.viewers,
                when(r.at),
                r.retention
                    .map_or_else(|| "–".to_owned(), |x| format!("{:.0}%", x * 100.0))
            ),
        })
        .collect();
    let new: Vec<Named> = new
        .into_iter()
        .map(|n| Named {
            login: n.login.to_string(),
            text: format!(
                "first seen {}{}",
                when(n.first_seen),
                if n.first_time {
                    ", first message ever"
                } else {
                    ""
                }
            ),
        })
        .collect();
    render(
        dash,
        StatusCode::OK,
        "stream.html",
        context! {
            login => channel.login.to_string(),
            user => viewer.session.login.to_string(),
            csrf => viewer.session.csrf.clone(),
            stream => StreamView::new(&figures),
            top, raids, new,
        },
    )
}

/// A row of the chatter table.
#[derive(Debug, Serialize)]
struct ChatterRow {
    login: String,
    display_name: String,
    first_seen: String,
    last_seen: String,
    messages: i64,
    streams: i64,
}

/// A column header: its sort link.
#[derive(Debug, Serialize)]
struct Column {
    name: &'static str,
    label: &'static str,
    /// The query of its link (sorting by it, descending when already sorted ascending).
    href: String,
    /// `asc`, `desc` or empty.
    current: &'static str,
}

fn label(sort: ChatterSort) -> &'static str {
    match sort {
        ChatterSort::Login => "Login",
        ChatterSort::FirstSeen => "First seen",
        ChatterSort::LastSeen => "Last seen",
        ChatterSort::Messages => "Messages",
        ChatterSort::Streams => "Streams attended",
    }
}

fn table_query(sort: ChatterSort, desc: bool, q: &str, page: i64) -> String {
    let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
    format!(
        "sort={}&dir={}&q={q}&page={page}",
        sort.name(),
        if desc { "desc" } else { "asc" }
    )
}

/// `GET /dashboard/c/{login}/chatters?sort=&dir=&q=&page=`.
pub(crate) async fn chatters(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let path = format!("/dashboard/c/{login}/chatters");
    let viewer = signed_in(&state, &headers, &path, query.as_deref()).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let params = Params::parse(query.as_deref());
    let sort = match params.get("sort") {
        None | Some("") => ChatterSort::Messages,
        Some(s) => ChatterSort::parse(s).ok_or_else(|| {
            DashError::bad_request(
                dash,
                "sort must be login, first_seen, last_seen, messages or streams",
            )
        })?,
    };
    let default_desc = sort != ChatterSort::Login;
    let desc = match params.get("dir") {
        None | Some("") => default_desc,
        Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(DashError::bad_request(dash, "dir must be asc or desc")),
    };
    let page = params
        .int("page", 1, 1_000_000, 1)
        .map_err(|e| bad(&state, e))?;
    let search = params.get("q").unwrap_or_default().trim().to_owned();
    let excluded = state
        .figures
        .excluded(&channel)
        .await
        .map_err(|e| DashError::store(dash, "reading excluded users", &e))?;
    let started = std::time::Instant::now();
    let mut rows = state
        .store
        .chatter_page(
            channel.key,
            &ChatterQuery {
                sort,
                descending: desc,
                prefix: Some(search.clone()).filter(|s| !s.is_empty()),
                offset: (page - 1) * PAGE_SIZE,
                // One more tells whether there is a next page.
                limit: PAGE_SIZE + 1,
            },
            &excluded,
        )
        .await
        .map_err(|e| DashError::store(dash, "reading the chatter table", &e))?;
    tracing::debug!(elapsed = ?started.elapsed(), channel = %channel.login, "chatter table page");
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let rows: Vec<ChatterRow> = rows
        .into_iter()
        .map(|u| ChatterRow {
            display_name: u.display_name,
            login: u.login.to_string(),
            first_seen: when(u.first_seen),
            last_seen: when(u.last_seen),
            messages: u.messages,
            streams: u.streams_attended,
        })
        .collect();
    let columns: Vec<Column> = ChatterSort::ALL
        .into_iter()
        .map(|c| {
            let next_desc = if c == sort {
                !desc
            } else {
                c != ChatterSort::Login
            };
            Column {
                name: c.name(),
                label: label(c),
                href: table_query(c, next_desc, &search, 1),
                current: match (c == sort, desc) {
                    (false, _) => "",
                    (true, true) => "desc",
                    (true, false) => "asc",
                },
            }
        })
        .collect();
    render(
        dash,
        StatusCode::OK,
        "chatters.html",
        context! {
            login => channel.login.to_string(),
            user => viewer.session.login.to_string(),
            csrf => viewer.session.csrf.clone(),
            rows, columns, search => &search, page,
            sort => sort.name(),
            dir => if desc { "desc" } else { "asc" },
            prev => (page > 1).then(|| table_query(sort, desc, &search, page - 1)),
            next => more.then(|| table_query(sort, desc, &search, page + 1)),
        },
    )
}

/// A former or current name.
#[derive(Debug, Serialize)]
struct NameRow {
    login: String,
    first_seen: String,
    last_seen: String,
}

/// `GET /dashboard/c/{login}/users/{user}`.
pub(crate) async fn user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((login, user)): Path<(String, String)>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let path = format!("/dashboard/c/{login}/users/{user}");
    let viewer = signed_in(&state, &headers, &path, None).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let who = Login::parse(&user).map_err(|_| DashError::not_found(dash, "No such user."))?;
    let seen = state
        .figures
        .seen(&channel, &who)
        .await
        .map_err(|e| DashError::store(dash, "reading a user", &e))?
        .ok_or_else(|| DashError::not_found(dash, "This user was never seen."))?;
    let names: Vec<NameRow> = seen
        .names
        .iter()
        .map(|n| NameRow {
            login: n.login.to_string(),
            first_seen: when(n.first_seen),
            last_seen: n.last_seen.map_or_else(|| "now".to_owned(), when),
        })
        .collect();
    let record = seen.record.as_ref().map(|r| {
        context! {
            display_name => r.display_name.clone(),
            first_seen => when(r.first_seen),
            last_seen => when(r.last_seen),
            messages => r.messages,
            streams => r.streams_attended,
        }
    });
    let age = seen.created_at.map(|c| {
        let days = (Timestamp::now().0 - c.0) / 86_400;
        format!("created {} ({days} days ago)", c.date())
    });
    render(
        dash,
        StatusCode::OK,
        "user.html",
        context! {
            login => channel.login.to_string(),
            user => viewer.session.login.to_string(),
            csrf => viewer.session.csrf.clone(),
            who => who.to_string(),
            record, age, names,
        },
    )
}

/// `GET /dashboard/c/{login}/accounts?since=&until=`.
pub(crate) async fn accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let path = format!("/dashboard/c/{login}/accounts");
    let viewer = signed_in(&state, &headers, &path, query.as_deref()).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let now = Timestamp::now();
    let (since, until) = Params::parse(Some(&filled(query.as_deref())))
        .window(now, now.plus(-ACCOUNTS_WINDOW), now)
        .map_err(|e| bad(&state, e))?;
    let clusters = state
        .figures
        .accounts_window(&channel, since, until)
        .await
        .map_err(|e| DashError::store(dash, "computing account clusters", &e))?;
    render(
        dash,
        StatusCode::OK,
        "accounts.html",
        context! {
            login => channel.login.to_string(),
            user => viewer.session.login.to_string(),
            csrf => viewer.session.csrf.clone(),
            since => when(since), until => when(until),
            clusters,
        },
    )
}

/// `GET /dashboard/c/{login}/chart.png?range=&w=&h=&theme=`.
pub(crate) async fn channel_chart(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashError> {
    let viewer = signed_in(&state, &headers, &format!("/dashboard/c/{login}"), None).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let params = Params::parse(query.as_deref());
    let chart = async {
        let spec = params.chart_spec()?;
        let range = params.chart_range()?;
        let _permit = state.renders.admit(client).await?;
        render_channel(&state, &channel, range, spec).await
    };
    png(chart.await)
}

/// `GET /dashboard/c/{login}/stream-charts/{id}.png`.
pub(crate) async fn stream_chart(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Path((login, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashError> {
    let viewer = signed_in(&state, &headers, &format!("/dashboard/c/{login}"), None).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let raw = file.strip_suffix(".png").unwrap_or(&file);
    let id = StreamId::parse(raw)
        .map_err(|_| DashError::not_found(&state.dashboard, "No such stream."))?;
    let params = Params::parse(query.as_deref());
    let chart = async {
        let spec = params.chart_spec()?;
        let _permit = state.renders.admit(client).await?;
        render_stream(&state, &channel, id, spec).await
    };
    png(chart.await)
}

/// A chart answer: private, short-lived in the browser.
fn png(result: Result<Vec<u8>, ApiError>) -> Result<Response, DashError> {
    let body = result.map_err(|e| DashError::answer(e.into_response()))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/png"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=60"),
        ],
        body,
    )
        .into_response())
}
