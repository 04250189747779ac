//! `chatters channel add|remove|list`: the channels joined on every start.

use anyhow::Context as _;
use chatters_core::settings::Settings;
use chatters_core::store::Store;

use crate::cli::ChannelCommand;

/// Runs one `channel` subcommand against the configured database and prints its answer.
pub async fn execute(command: ChannelCommand, settings: &Settings) -> anyhow::Result<()> {
    let store = crate::app::open_store(settings).await?;
    let result = apply(command, store.as_ref()).await;
    store.close().await;
    crate::app::print_lines(&result?)
}

/// Applies the command; returns the lines to print.
async fn apply(command: ChannelCommand, store: &dyn Store) -> anyhow::Result<Vec<String>> {
    match command {
        ChannelCommand::Add { login } => {
            store
                .add_channel(&login)
                .await
                .with_context(|| format!("adding {login}"))?;
            Ok(vec![format!("added {login}")])
        }
        ChannelCommand::Remove { login } => {
            let removed = store
                .remove_channel(&login)
                .await
                .with_context(|| format!("removing {login}"))?;
            anyhow::ensure!(removed, "{login} was not tracked");
            Ok(vec![format!("removed {login}")])
        }
        ChannelCommand::List => {
            let channels = store.channels().await.context("listing channels")?;
            Ok(channels
                .iter()
                .filter(|c| c.wanted)
                .map(|c| {
                    let id = c
                        .twitch_id
                        .map_or_else(|| "-".to_owned(), |id| id.to_string());
                    format!("{:<25} {id:<12} {}", c.login, c.added_at.to_rfc3339())
                })
                .collect())
        }
        ChannelCommand::Set { .. } => {
            anyhow::bail!("'channel set' is not available in this version yet")
        }
    }
}
