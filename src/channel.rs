//! `chatters channel add|remove|list|set`: the channels joined on every start, and their
//! settings (public page, commands, recap webhooks, known bots).

use anyhow::Context as _;
use chatters_core::channel_settings::{SettingChange, listing};
use chatters_core::settings::Settings;
use chatters_core::store::{ChannelKey, Store};

use crate::cli::ChannelCommand;
use chatters_bot::recap::target::Webhook;
use chatters_bot::recap::{Scope, Service, Target};

/// Runs one `channel` subcommand against the configured database and prints its answer.
pub async fn execute(command: ChannelCommand, settings: &Settings) -> anyhow::Result<()> {
    let store = crate::open::open_store(settings).await?;
    let result = apply(command, store.as_ref()).await;
    store.close().await;
    crate::output::print_lines(&result?)
}

/// Applies the command; returns the lines to print.
async fn apply(command: ChannelCommand, store: &Store) -> anyhow::Result<Vec<String>> {
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
            let mut lines = Vec::new();
            for c in channels.iter().filter(|c| c.wanted) {
                let id = c
                    .twitch_id
                    .map_or_else(|| "-".to_owned(), |id| id.to_string());
                let mut line = format!("{:<25} {id:<12} {}", c.login, c.added_at.to_rfc3339());
                for setting in listed_settings(store, c.key).await? {
                    line.push(' ');
                    line.push_str(&setting);
                }
                lines.push(line);
            }
            Ok(lines)
        }
        ChannelCommand::Set { login, key, value } => {
            let change = SettingChange::parse(&key, &value)
                .map_err(|e| chatters_bot::error::ConfigError(e.to_string()))?;
            let channel = store
                .channel(&login)
                .await
                .context("reading the channel")?
                .filter(|c| c.wanted)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{login} is not tracked: add it first (chatters channel add {login})"
                    )
                })?;
            let saving = if change.is_bot_rule() {
                "saving the known-bot rule"
            } else {
                "saving the setting"
            };
            change.save(store, channel.key).await.context(saving)?;
            Ok(vec![format!("{login}: {}", change.describe())])
        }
    }
}

/// A channel's settings as `name=value`, webhook URLs masked (they are secrets) and marked
/// `(revoked)` once their webhook was disabled by a 401/403/404/410.
async fn listed_settings(store: &Store, key: ChannelKey) -> anyhow::Result<Vec<String>> {
    let rows = store
        .channel_settings(key)
        .await
        .context("reading channel settings")?;
    let disabled = store
        .disabled_recap_targets(key)
        .await
        .context("reading disabled recap targets")?;
    Ok(listing(rows)
        .into_iter()
        .map(|setting| {
            let Some((kind, url)) = &setting.webhook else {
                return format!("{}={}", setting.name, setting.shown);
            };
            let print = Webhook::new(url.secret().clone()).fingerprint();
            let target = Target::new(Service::of(*kind), Scope::Channel).key();
            let revoked = disabled
                .iter()
                .any(|d| d.target == target && d.url_hash == print);
            let suffix = if revoked { "(revoked)" } else { "" };
            format!("{}={}{suffix}", setting.name, setting.shown)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use chatters_core::domain::Login;
    use secrecy::SecretString;

    use super::*;

    fn login(s: &str) -> Login {
        Login::parse(s).expect("valid")
    }

    #[tokio::test]
    async fn the_channel_list_masks_webhook_urls() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/chatters.db", dir.path().display());
        let store = chatters_core::store::open(&url, &Default::default())
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let forsen = store.add_channel(&login("forsen")).await.expect("add");
        store.add_channel(&login("plain")).await.expect("add");
        let discord = "https://discord.com/api/webhooks/1/s3cr3t";
        let slack = "https://hooks.slack.com/services/T/B/s3cr3t";
        for (key, value) in [
            ("discord_webhook", discord),
            ("slack_webhook", slack),
            ("weekly_digest", "on"),
        ] {
            let set = ChannelCommand::Set {
                login: login("forsen"),
                key: key.to_owned(),
                value: value.to_owned(),
            };
            let confirmed = apply(set, store.as_ref()).await.expect("set");
            assert!(!confirmed.concat().contains("s3cr3t"), "{confirmed:?}");
        }
        store
            .disable_recap_target(&chatters_core::store::DisabledTarget {
                channel: forsen.key,
                target: "slack:channel".to_owned(),
                url_hash: Webhook::new(SecretString::from(slack)).fingerprint(),
                status: 404,
                disabled_at: chatters_core::domain::Timestamp(0),
            })
            .await
            .expect("disable");

        let lines = apply(ChannelCommand::List, store.as_ref())
            .await
            .expect("list");

        assert_eq!(lines.len(), 2);
        let fields: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            fields[3..],
            [
                "discord_webhook=https://discord.com/***",
                "slack_webhook=https://hooks.slack.com/***(revoked)",
                "weekly_digest=on",
            ]
        );
        assert!(!lines.concat().contains("s3cr3t"), "{lines:?}");
        assert_eq!(lines[1].split_whitespace().count(), 3, "{lines:?}");
        store.close().await;
    }
}
