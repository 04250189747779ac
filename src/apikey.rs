//! `chatters apikey create|list|revoke`: API keys for the JSON API.
//!
//! `create` prints the key once, alone on the last line of stdout (scripts take
//! `tail -n 1`); the database keeps only its hash. `list` never shows keys, only their ids,
//! labels, channels and dates. Nothing here logs a key.

use anyhow::Context as _;
use chatters_core::apikey::ApiKey;
use chatters_core::domain::{Login, Timestamp};
use chatters_core::settings::Settings;
use chatters_core::store::{ApiKeyId, ApiKeyRecord, Store};

use crate::cli::ApikeyCommand;

/// Longest label accepted (fits every backend's column).
const MAX_LABEL: usize = 100;

/// Runs one `apikey` subcommand against the configured database and prints its answer.
pub async fn execute(command: ApikeyCommand, settings: &Settings) -> anyhow::Result<()> {
    let store = crate::open::open_store(settings).await?;
    let result = apply(command, store.as_ref(), Timestamp::now()).await;
    store.close().await;
    crate::output::print_lines(&result?)
}

/// Applies the command at time `now`; returns the lines to print.
pub async fn apply(
    command: ApikeyCommand,
    store: &Store,
    now: Timestamp,
) -> anyhow::Result<Vec<String>> {
    match command {
        ApikeyCommand::Create { channel, label } => create(store, &channel, label, now).await,
        ApikeyCommand::List => {
            let keys = store.api_keys().await.context("listing API keys")?;
            Ok(keys.iter().map(list_line).collect())
        }
        ApikeyCommand::Revoke { id } => {
            let id = ApiKeyId(id);
            if store
                .revoke_api_key(id, now)
                .await
                .with_context(|| format!("revoking API key {id}"))?
            {
                return Ok(vec![format!("revoked API key {id}")]);
            }
            let keys = store.api_keys().await.context("listing API keys")?;
            match keys.iter().find(|k| k.id == id).and_then(|k| k.revoked_at) {
                Some(at) => Ok(vec![format!(
                    "API key {id} was already revoked at {}",
                    at.to_rfc3339()
                )]),
                None => anyhow::bail!("no API key with id {id} (see `chatters apikey list`)"),
            }
        }
    }
}

async fn create(
    store: &Store,
    channels: &[Login],
    label: Option<String>,
    now: Timestamp,
) -> anyhow::Result<Vec<String>> {
    let label = label.unwrap_or_default();
    anyhow::ensure!(
        label.chars().count() <= MAX_LABEL && !label.chars().any(char::is_control),
        "the label must be at most {MAX_LABEL} characters, without control characters"
    );
    let mut keys = Vec::with_capacity(channels.len());
    for login in channels {
        let channel = store
            .channel(login)
            .await
            .with_context(|| format!("reading channel {login}"))?
            .with_context(|| {
                format!(
                    "channel {login} is not tracked (add it first: chatters channel add {login})"
                )
            })?;
        keys.push(channel.key);
    }
    let key = ApiKey::generate().context("generating an API key")?;
    let id = store
        .create_api_key(&key.hash().to_hex(), &label, &keys, now)
        .await
        .context("storing the API key")?;
    let names: Vec<&str> = channels.iter().map(Login::as_str).collect();
    Ok(vec![
        format!("created API key {id} for {}", names.join(", ")),
        "it is shown only this once; send it as Authorization: Bearer <key>".to_owned(),
        key.expose().to_owned(),
    ])
}

/// `id  label  channels  created  revoked` (the label quoted; `-` when not revoked).
fn list_line(key: &ApiKeyRecord) -> String {
    let channels: Vec<&str> = key.channels.iter().map(|(_, l)| l.as_str()).collect();
    let channels = if channels.is_empty() {
        "-".to_owned()
    } else {
        channels.join(",")
    };
    let revoked = key
        .revoked_at
        .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
    format!(
        "{:<5} {:<24} {:<30} {} {}",
        key.id.0,
        format!("{:?}", key.label),
        channels,
        key.created_at.to_rfc3339(),
        revoked
    )
}
