//! The tracing subscriber: filter from `LOG`/`RUST_LOG`, lines on stderr (stdout carries only
//! command output), as text or, with `LOG_FORMAT=json`, one JSON object a line (timestamp,
//! level, target, the event's fields and its spans).

use std::io::IsTerminal as _;

use chatters_core::settings::{LogFormat, Settings, SettingsError};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the global subscriber.
pub fn init(settings: &Settings) -> Result<(), SettingsError> {
    let mut filter =
        EnvFilter::try_new(&settings.log.filter).map_err(|_| settings.log.invalid())?;
    // serenity's spans record its requests' routes, and a webhook route holds the webhook's
    // token (a secret): its own tracing stays at warnings unless asked for by name.
    if !settings.log.filter.contains("serenity")
        && let Ok(quiet) = "serenity=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    // twitch-irc logs two errors for every failed reconnect, and our connector says it better
    // (once per streak): its own logs are off unless asked for by name.
    if !settings.log.filter.contains("twitch_irc")
        && let Ok(off) = "twitch_irc=off".parse()
    {
        filter = filter.add_directive(off);
    }
    let secrets = tracing_subscriber::filter::filter_fn(no_secrets);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.operations.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .finish()
            .with(secrets)
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .finish()
            .with(secrets)
            .init(),
    }
    Ok(())
}

/// Events that can never be logged, whatever `LOG` says: twitch-irc's trace level writes every
/// line it sends, `PASS oauth:<token>` included.
fn no_secrets(meta: &tracing::Metadata<'_>) -> bool {
    !(meta.target().starts_with("twitch_irc") && *meta.level() == tracing::Level::TRACE)
}
