//! Start-up and exit: `.env`, settings, logging ([`crate::logging`]), the runtime, and which
//! failures exit 2 (configuration, before anything starts) or 1 (everything else).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use chatters_bot::error::ConfigError;
use chatters_core::settings::{Settings, SettingsError};
use clap::Parser as _;

use crate::cli::{Cli, Command};

/// Runs the binary and turns the outcome into an exit code, printing a failure as one
/// `chatters: …` line on stderr.
pub fn main() -> ExitCode {
    match start() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chatters: {}", one_line(&error));
            ExitCode::from(exit_code(&error))
        }
    }
}

/// The error and its causes on one line, skipping a cause its parent already spelled out.
fn one_line(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string().replace(['\r', '\n'], " ");
        if message.ends_with(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

fn exit_code(error: &anyhow::Error) -> u8 {
    let config = error.downcast_ref::<SettingsError>().is_some()
        || error.downcast_ref::<ConfigError>().is_some();
    if config { 2 } else { 1 }
}

fn start() -> anyhow::Result<()> {
    // `.env` must be loaded while the process is single-threaded (it sets variables).
    load_dotenv()?;
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run);
    if let Some(name) = command.not_yet_available() {
        anyhow::bail!("'{name}' is not available in this version yet");
    }
    if let Command::Completions { shell } = command {
        return crate::completions::print(shell);
    }
    let settings = match Settings::from_vars(env_vars()) {
        Ok(settings) => settings,
        Err(error) => {
            if matches!(command, Command::Doctor) {
                crate::doctor::report_settings_error(&error);
            }
            return Err(error.into());
        }
    };
    crate::logging::init(&settings)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(crate::app::execute(command, settings));
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

/// Reads `./.env` when present. Variables already set in the environment win.
fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::from_path(".env") {
        Ok(()) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        // The line itself is not shown: it may hold a secret.
        Err(dotenvy::Error::LineParse(line, _)) => Err(ConfigError(format!(
            ".env: line {} is not NAME=value (quote values with spaces or #)",
            line_number(".env", &line).map_or_else(|| "?".to_owned(), |n| n.to_string())
        ))),
        Err(e) => Err(ConfigError(format!(".env: cannot be read: {e}"))),
    }
}

/// The 1-based number of the first line of `path` that starts like `text`'s first line.
fn line_number(path: &str, text: &str) -> Option<usize> {
    let first = text.lines().next()?.trim();
    let contents = std::fs::read_to_string(path).ok()?;
    contents
        .lines()
        .position(|l| l.trim().starts_with(first))
        .map(|i| i + 1)
}

/// The environment as UTF-8 pairs (a value that is not UTF-8 is decoded lossily rather than
/// making `std::env::vars` panic).
fn env_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(name, value)| {
        let name = name.into_string().ok()?;
        Some((name, value.to_string_lossy().into_owned()))
    })
}
