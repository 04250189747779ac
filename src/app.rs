//! Dispatches a subcommand.

use chatters_core::settings::Settings;

use crate::cli::Command;
use crate::open::open_store;
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
        Command::Login => crate::login::execute(&settings).await,
        Command::Doctor => crate::doctor::execute(&settings).await,
        Command::Backup { file } => crate::backup::execute(&file, &settings).await,
        // Handled before the settings are read (`startup`).
        Command::Completions { .. } => Ok(()),
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.close().await;
    tracing::info!("migrations applied");
    Ok(())
}
