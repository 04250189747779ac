//! `chatters login`: signs the bot account in with Twitch's device code flow (needs only
//! `TWITCH_CLIENT_ID` of a public application), then stores its login and tokens in the
//! database, where `chatters run` finds them when `TWITCH_BOT_TOKEN` is unset.

use anyhow::Context as _;
use chatters_bot::auth::{DeviceFlow, REQUIRED_SCOPES, StoredLogin, inspect};
use chatters_bot::error::ConfigError;
use chatters_bot::twitch_http::{HttpConfig, TwitchHttp};
use chatters_core::settings::Settings;

use crate::output::print_lines;

/// Runs the device code flow and stores the sign-in.
pub async fn execute(settings: &Settings) -> anyhow::Result<()> {
    let client_id = settings.twitch_client_id.as_deref().ok_or_else(|| {
        ConfigError(
            "TWITCH_CLIENT_ID: required by `chatters login` (register an application with \
             Client Type \"Public\" at https://dev.twitch.tv/console/apps; see README \"Quick \
             start\")"
                .to_owned(),
        )
    })?;
    let store = crate::open::open_store(settings).await?;
    let result = sign_in(settings, client_id, &store).await;
    store.close().await;
    print_lines(&result?)
}

async fn sign_in(
    settings: &Settings,
    client_id: &str,
    store: &chatters_core::store::Store,
) -> anyhow::Result<Vec<String>> {
    let http =
        TwitchHttp::new(HttpConfig::from_settings(settings)).context("building the HTTP client")?;
    let scopes: Vec<&str> = REQUIRED_SCOPES.iter().map(|(scope, _)| *scope).collect();
    let flow = DeviceFlow::start(&http, client_id, &scopes)
        .await
        .context("starting the Twitch sign-in")?;
    print_lines(&[
        format!(
            "Sign in to Twitch as the bot account, then open {} and enter the code {}",
            flow.verification_uri, flow.user_code
        ),
        format!(
            "Waiting for the authorization (the code expires in {})...",
            humantime::format_duration(flow.expires_in)
        ),
    ])?;
    let tokens = flow
        .wait(&http)
        .await
        .context("waiting for the Twitch sign-in")?;
    let info = inspect(&http, &tokens.access)
        .await
        .context("validating the new token")?;
    let login = info
        .login
        .context("Twitch issued a token without an account")?;
    if let Some(expected) = &settings.twitch_bot_login
        && *expected != login
    {
        anyhow::bail!(
            "signed in as {login}, but TWITCH_BOT_LOGIN={expected}: sign in as {expected}, or \
             change TWITCH_BOT_LOGIN"
        );
    }
    StoredLogin::save(store, &login, client_id, &tokens)
        .await
        .context("storing the sign-in")?;
    let mut lines = Vec::new();
    for (scope, feature) in REQUIRED_SCOPES {
        if !info.scopes.contains(scope) {
            lines.push(format!(
                "warning: the token lacks {scope}: {feature} is off"
            ));
        }
    }
    if settings.twitch_bot_token.is_some() {
        lines.push(
            "note: TWITCH_BOT_TOKEN is set and wins over this sign-in; unset it to use this one"
                .to_owned(),
        );
    }
    lines.push(format!(
        "signed in as {login}; `chatters run` uses this sign-in from now on"
    ));
    Ok(lines)
}
