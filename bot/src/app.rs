//! Dispatches a subcommand, and opens the store the way every subcommand needs it.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use chatters_core::settings::Settings;
use chatters_core::store::{self, Backend, ConnectOptions, Store, StoreError};
use secrecy::ExposeSecret as _;

use crate::cli::Command;
use crate::run::Halves;

/// Runs one subcommand to completion.
pub async fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Run => crate::run::run(settings, Halves::Both).await,
        Command::Bot => crate::run::run(settings, Halves::Bot).await,
        Command::Web => crate::run::run(settings, Halves::Web).await,
        Command::Migrate => migrate(&settings).await,
        Command::Channel(command) => crate::channel::execute(command, &settings).await,
        Command::Apikey(command) => crate::apikey::execute(command, &settings).await,
        Command::Export(args) => crate::export::execute(args, &settings).await,
        Command::Import(args) => crate::import::execute(args, &settings).await,
    }
}

/// Opens the database named by `DATABASE_URL` (an SQLite file is created when missing) and
/// applies the migrations. Errors name the host, never the password.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<Store>> {
    let url = settings.database_url.expose_secret();
    let backend = settings.database_backend();
    let host = store::url_host(url);
    let store = match store::open(url, &ConnectOptions::default()).await {
        Ok(store) => store,
        // Already names the host.
        Err(error @ StoreError::Unreachable { .. }) => {
            return Err(error).context("opening the database");
        }
        Err(error) => {
            return Err(error).with_context(|| {
                format!("opening the {} database at {host}", backend_name(backend))
            });
        }
    };
    if let Err(error) = store.migrate().await {
        store.close().await;
        return Err(error).context("applying the database migrations");
    }
    tracing::debug!(?backend, %host, "database ready");
    Ok(store)
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::MySql => "MariaDB/MySQL",
        Backend::Postgres => "PostgreSQL",
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

/// Prints to stdout; a closed pipe (`chatters channel list | head -1`) is not an error.
pub fn print_lines(lines: &[String]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}
