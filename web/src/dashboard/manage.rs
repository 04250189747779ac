//! What a streamer or moderator changes from the dashboard: every `chatters channel set` key
//! (through core's one parser, [`SettingChange`], so the dashboard accepts exactly what the CLI
//! accepts; webhooks shown masked), the channel's API keys (a new key is shown once; revoke),
//! and export downloads. Every change is a POST carrying the session's CSRF token.

use axum::extract::{Form, Path, RawQuery, State};
use axum::http::header::CONTENT_DISPOSITION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chatters_core::apikey::ApiKey;
use chatters_core::channel_settings::{COMMAND_NAMES, ChannelSettings, SettingChange, listing};
use chatters_core::domain::Timestamp;
use chatters_core::export::ExportFormat;
use chatters_core::store::{ApiKeyId, BotRule, Channel};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::access::{Viewer, channel, viewer};
use super::view::{DashError, check_csrf, filled, render, see_other, when};
use crate::AppState;
use crate::routes::{Params, stream_export};

/// A command's rule as the form shows it.
#[derive(Debug, Serialize)]
struct CommandRule {
    name: &'static str,
    access: &'static str,
}

/// An API key of the channel.
#[derive(Debug, Serialize)]
struct KeyRow {
    id: i64,
    label: String,
    created: String,
    revoked: Option<String>,
    /// Scoped to other channels too.
    shared: bool,
    /// The viewer may revoke it (sees every channel it reads).
    revocable: bool,
}

/// What the settings page shows besides the stored settings.
#[derive(Debug, Default)]
struct Notice {
    saved: Option<String>,
    error: Option<String>,
    new_key: Option<String>,
}

/// Renders the settings page of `channel`.
async fn settings_page(
    state: &AppState,
    viewer: &Viewer,
    channel: &Channel,
    status: StatusCode,
    notice: Notice,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let fail = |e| DashError::store(dash, "reading channel settings", &e);
    let rows = state
        .store
        .channel_settings(channel.key)
        .await
        .map_err(fail)?;
    let settings = ChannelSettings::from_rows(rows.clone());
    let stored: Vec<Value> = listing(rows)
        .into_iter()
        .map(|s| context! { name => s.name, shown => s.shown })
        .collect();
    let commands: Vec<CommandRule> = COMMAND_NAMES
        .iter()
        .map(|name| CommandRule {
            name,
            access: settings.access(name).as_str(),
        })
        .collect();
    let bots: Vec<Value> = state
        .store
        .bot_rules(channel.key)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|(login, rule)| {
            let rule = match rule {
                BotRule::Add => "counted as a bot here",
                BotRule::Allow => "counted as a chatter here",
            };
            context! { login => login.to_string(), rule }
        })
        .collect();
    let keys: Vec<KeyRow> = state
        .store
        .api_keys()
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|k| k.channels.iter().any(|(key, _)| *key == channel.key))
        .map(|k| KeyRow {
            id: k.id.0,
            shared: k.channels.len() > 1,
            revocable: k.channels.iter().all(|(_, l)| viewer.can_see(l)),
            label: k.label,
            created: when(k.created_at),
            revoked: k.revoked_at.map(when),
        })
        .collect();
    let webhook = |w: Option<&chatters_core::channel_settings::WebhookUrl>| {
        w.map_or_else(|| "not set".to_owned(), |u| u.masked())
    };
    render(
        dash,
        status,
        "settings.html",
        context! {
            login => channel.login.to_string(),
            user => viewer.session.login.to_string(),
            csrf => viewer.session.csrf.clone(),
            public_page => settings.public_page,
            weekly_digest => settings.weekly_digest,
            cooldown => humantime::format_duration(settings.cooldown).to_string(),
            discord => webhook(settings.discord_webhook.as_ref()),
            slack => webhook(settings.slack_webhook.as_ref()),
            commands, bots, keys, stored,
            saved => notice.saved,
            error => notice.error,
            new_key => notice.new_key,
        },
    )
}

/// `GET /dashboard/c/{login}/settings`.
pub(crate) async fn settings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashError> {
    let path = format!("/dashboard/c/{login}/settings");
    let viewer = viewer(&state, &headers, &path).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let params = Params::parse(query.as_deref());
    let notice = Notice {
        saved: params.get("saved").map(str::to_owned),
        ..Notice::default()
    };
    settings_page(&state, &viewer, &channel, StatusCode::OK, notice).await
}

/// A `channel set` from a form.
#[derive(Debug, Deserialize)]
pub(crate) struct SettingForm {
    csrf: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

/// The viewer of a POST and the channel, the CSRF token checked.
async fn posted(
    state: &AppState,
    headers: &HeaderMap,
    login: &str,
    csrf: Option<&str>,
) -> Result<(Viewer, Channel), DashError> {
    let dash = &state.dashboard;
    let viewer = viewer(state, headers, &format!("/dashboard/c/{login}/settings")).await?;
    check_csrf(dash, &viewer.session.csrf, csrf)?;
    let channel = channel(state, &viewer, login).await?;
    Ok((viewer, channel))
}

/// `POST /dashboard/c/{login}/settings` (`key`, `value`).
pub(crate) async fn change_setting(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): Form<SettingForm>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let (viewer, channel) = posted(&state, &headers, &login, form.csrf.as_deref()).await?;
    let key = form.key.unwrap_or_default();
    let change = match SettingChange::parse(&key, form.value.as_deref().unwrap_or_default()) {
        Ok(change) => change,
        Err(error) => {
            let notice = Notice {
                error: Some(error.to_string()),
                ..Notice::default()
            };
            return settings_page(&state, &viewer, &channel, StatusCode::BAD_REQUEST, notice).await;
        }
    };
    change
        .save(&state.store, channel.key)
        .await
        .map_err(|e| DashError::store(dash, "saving a setting", &e))?;
    tracing::info!(channel = %channel.login, by = %viewer.session.login, change = %change.describe(), "setting changed from the dashboard");
    let saved: String =
        url::form_urlencoded::byte_serialize(change.describe().as_bytes()).collect();
    Ok(see_other(
        &dash.link(&format!(
            "/dashboard/c/{}/settings?saved={saved}",
            channel.login
        )),
        &[],
    ))
}

/// `label` of a new key.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyForm {
    csrf: Option<String>,
    label: Option<String>,
}

/// `POST /dashboard/c/{login}/apikeys`: a key scoped to this channel, shown once in the answer.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): Form<KeyForm>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let (viewer, channel) = posted(&state, &headers, &login, form.csrf.as_deref()).await?;
    let key = ApiKey::generate().map_err(|error| {
        tracing::error!(%error, "generating an API key");
        DashError::internal(dash)
    })?;
    let label: String = form
        .label
        .unwrap_or_default()
        .trim()
        .chars()
        .take(100)
        .collect();
    let id = state
        .store
        .create_api_key(
            &key.hash().to_hex(),
            &label,
            &[channel.key],
            Timestamp::now(),
        )
        .await
        .map_err(|e| DashError::store(dash, "creating an API key", &e))?;
    tracing::info!(channel = %channel.login, by = %viewer.session.login, %id, "API key created from the dashboard");
    let notice = Notice {
        new_key: Some(key.expose().to_owned()),
        ..Notice::default()
    };
    settings_page(&state, &viewer, &channel, StatusCode::OK, notice).await
}

/// `id` of a key to revoke.
#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    csrf: Option<String>,
    id: Option<i64>,
}

/// `POST /dashboard/c/{login}/apikeys/revoke`.
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let (viewer, channel) = posted(&state, &headers, &login, form.csrf.as_deref()).await?;
    let fail = |e| DashError::store(dash, "revoking an API key", &e);
    let id = form
        .id
        .ok_or_else(|| DashError::bad_request(dash, "Which key?"))?;
    let key = state
        .store
        .api_keys()
        .await
        .map_err(fail)?
        .into_iter()
        .find(|k| k.id.0 == id && k.channels.iter().any(|(c, _)| *c == channel.key))
        .ok_or_else(|| DashError::not_found(dash, "No such key in this channel."))?;
    if !key.channels.iter().all(|(_, l)| viewer.can_see(l)) {
        return Err(DashError::forbidden(dash));
    }
    state
        .store
        .revoke_api_key(ApiKeyId(id), Timestamp::now())
        .await
        .map_err(fail)?;
    tracing::info!(channel = %channel.login, by = %viewer.session.login, id, "API key revoked from the dashboard");
    Ok(see_other(
        &dash.link(&format!(
            "/dashboard/c/{}/settings?saved=key+{id}+revoked",
            channel.login
        )),
        &[],
    ))
}

/// `GET /dashboard/c/{login}/export?format=csv|json&since=&until=`: a download.
pub(crate) async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(login): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, DashError> {
    let dash = &state.dashboard;
    let viewer = viewer(&state, &headers, &format!("/dashboard/c/{login}/settings")).await?;
    let channel = channel(&state, &viewer, &login).await?;
    let query = filled(query.as_deref());
    let params = Params::parse(Some(&query));
    let bad = |e: crate::error::ApiError| DashError::bad_request(dash, &e.message);
    let (since, until) = params
        .window(Timestamp::now(), Timestamp(0), Timestamp(i64::MAX))
        .map_err(bad)?;
    let format = match params.one_of("format", &["csv", "json"]).map_err(bad)? {
        "json" => ExportFormat::Json,
        _ => ExportFormat::Csv,
    };
    let mut response = stream_export(&state, &channel, since, until, format)
        .await
        .map_err(|e| DashError::page(dash, e.status, "Export failed", &e.message))?;
    let disposition = format!(
        "attachment; filename=\"{}-chatters.{}\"",
        channel.login,
        format.extension()
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
    Ok(response.into_response())
}
