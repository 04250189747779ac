//! `chatters channel add|remove|list|set`: the channels joined on every start, and their
//! settings (public page, commands, recap webhooks, known bots).

use anyhow::Context as _;
use chatters_core::domain::Login;
use chatters_core::settings::Settings;
use chatters_core::store::{BotRule, ChannelKey, Store};
use secrecy::SecretString;

use crate::cli::ChannelCommand;
use crate::commands::Command;
use crate::commands::access::Access;
use crate::recap::target::{Webhook, mask};
use crate::recap::{Scope, Service, Target};

/// Runs one `channel` subcommand against the configured database and prints its answer.
pub async fn execute(command: ChannelCommand, settings: &Settings) -> anyhow::Result<()> {
    let store = crate::app::open_store(settings).await?;
    let result = apply(command, store.as_ref()).await;
    store.close().await;
    crate::app::print_lines(&result?)
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
            let change = parse_setting(&key, &value).map_err(crate::startup::ConfigError)?;
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
            match &change {
                Change::Setting(name, value) => store
                    .set_channel_setting(channel.key, name, value.as_deref())
                    .await
                    .context("saving the setting")?,
                Change::Bot(user, rule) => store
                    .set_bot_rule(channel.key, user, *rule)
                    .await
                    .context("saving the known-bot rule")?,
            }
            Ok(vec![format!("{login}: {}", change.describe())])
        }
    }
}

/// A channel's settings as `name=value`, webhook URLs masked (they are secrets) and marked
/// `(revoked)` once their webhook was disabled by a 401/403/404/410.
async fn listed_settings(store: &Store, key: ChannelKey) -> anyhow::Result<Vec<String>> {
    let settings = store
        .channel_settings(key)
        .await
        .context("reading channel settings")?;
    let disabled = store
        .disabled_recap_targets(key)
        .await
        .context("reading disabled recap targets")?;
    Ok(settings
        .into_iter()
        .map(|(name, value)| {
            let service = match name.as_str() {
                "discord_webhook" => Service::Discord,
                "slack_webhook" => Service::Slack,
                _ => return format!("{name}={value}"),
            };
            let print = Webhook::new(SecretString::from(value.clone())).fingerprint();
            let target = Target::new(service, Scope::Channel).key();
            let revoked = disabled
                .iter()
                .any(|d| d.target == target && d.url_hash == print);
            let suffix = if revoked { "(revoked)" } else { "" };
            format!("{name}={}{suffix}", mask(&value))
        })
        .collect())
}

/// A validated `channel set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A stored setting (`None` clears it).
    Setting(String, Option<String>),
    /// A known-bot rule for a login (`None` removes a per-channel `bots.add`).
    Bot(Login, Option<BotRule>),
}

impl Change {
    /// What was done, for the confirmation line (webhook URLs are secrets: masked).
    fn describe(&self) -> String {
        match self {
            Self::Setting(name, None) => format!("{name} cleared"),
            Self::Setting(name, Some(_)) if name.ends_with("_webhook") => {
                format!("{name} set (hidden)")
            }
            Self::Setting(name, Some(v)) => format!("{name} = {v}"),
            Self::Bot(user, Some(BotRule::Add)) => format!("{user} is a known bot here"),
            Self::Bot(user, Some(BotRule::Allow)) => format!("{user} counts as a chatter here"),
            Self::Bot(user, None) => format!("{user} no longer added as a bot here"),
        }
    }
}

fn on_off(key: &str, value: &str) -> Result<Option<String>, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(Some("on".to_owned())),
        "off" | "false" | "no" => Ok(Some("off".to_owned())),
        _ => Err(format!("{key}: expected on or off, got {value:?}")),
    }
}

/// Longest per-channel command cooldown accepted.
pub const MAX_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Validates a setting: `public_page on|off`, `weekly_digest on|off`,
/// `commands.<name> off|mods|everyone`, `commands.cooldown <duration>`, `discord_webhook|slack_webhook <https url>|none`,
/// `bots.add|bots.remove|bots.allow <login>`.
pub fn parse_setting(key: &str, value: &str) -> Result<Change, String> {
    let key = key.to_ascii_lowercase();
    let value = value.trim();
    match key.as_str() {
        "public_page" | "weekly_digest" => Ok(Change::Setting(key.clone(), on_off(&key, value)?)),
        "discord_webhook" | "slack_webhook" => {
            if value.eq_ignore_ascii_case("none") {
                return Ok(Change::Setting(key, None));
            }
            let ok = url::Url::parse(value)
                .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some());
            if ok {
                Ok(Change::Setting(key, Some(value.to_owned())))
            } else {
                // Never echo the value: it is a secret.
                Err(format!("{key}: expected an http(s) webhook URL or none"))
            }
        }
        "bots.add" | "bots.remove" | "bots.allow" => {
            let user = Login::parse(value)
                .map_err(|_| format!("{key}: {value:?} is not a Twitch login"))?;
            let rule = match key.as_str() {
                "bots.add" => Some(BotRule::Add),
                "bots.allow" => Some(BotRule::Allow),
                _ => None,
            };
            Ok(Change::Bot(user, rule))
        }
        "commands.cooldown" => {
            // Per command, asks within this long after an answer are coalesced into it.
            let period = humantime::parse_duration(value)
                .ok()
                .filter(|d| *d <= MAX_COOLDOWN)
                .ok_or_else(|| {
                    format!(
                        "{key}: expected a duration up to 1h such as 5s, 30s or 0s, got {value:?}"
                    )
                })?;
            Ok(Change::Setting(
                key.clone(),
                Some(humantime::format_duration(period).to_string()),
            ))
        }
        _ => match key.strip_prefix("commands.") {
            Some(name) if Command::NAMES.contains(&name) => {
                let access = Access::parse(value).ok_or_else(|| {
                    format!("{key}: expected off, mods or everyone, got {value:?}")
                })?;
                let stored = match access {
                    Access::Off => "off",
                    Access::Mods => "mods",
                    Access::Everyone => "everyone",
                };
                Ok(Change::Setting(key.clone(), Some(stored.to_owned())))
            }
            Some(name) => Err(format!(
                "{key}: no command {name:?} (one of {}, or commands.cooldown)",
                Command::NAMES.join(", ")
            )),
            None => Err(format!(
                "unknown setting {key:?}: expected public_page, weekly_digest, commands.<name>, \
                 commands.cooldown, discord_webhook, slack_webhook, bots.add, bots.remove or bots.allow"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(s: &str) -> Login {
        Login::parse(s).expect("valid")
    }

    #[test]
    fn the_command_cooldown_is_a_bounded_duration() {
        assert_eq!(
            parse_setting("commands.cooldown", "30s"),
            Ok(Change::Setting(
                "commands.cooldown".into(),
                Some("30s".into())
            ))
        );
        assert_eq!(
            parse_setting("commands.cooldown", "0s"),
            Ok(Change::Setting(
                "commands.cooldown".into(),
                Some("0s".into())
            ))
        );
        assert!(parse_setting("commands.cooldown", "2h").is_err());
        assert!(parse_setting("commands.cooldown", "soon").is_err());
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(
            parse_setting("public_page", "OFF"),
            Ok(Change::Setting("public_page".into(), Some("off".into())))
        );
        assert_eq!(
            parse_setting("commands.stats", "everyone"),
            Ok(Change::Setting(
                "commands.stats".into(),
                Some("everyone".into())
            ))
        );
        assert_eq!(
            parse_setting("bots.add", "@MyBot"),
            Ok(Change::Bot(login("mybot"), Some(BotRule::Add)))
        );
        assert_eq!(
            parse_setting("bots.allow", "nightbot"),
            Ok(Change::Bot(login("nightbot"), Some(BotRule::Allow)))
        );
        assert_eq!(
            parse_setting("bots.remove", "mybot"),
            Ok(Change::Bot(login("mybot"), None))
        );
        assert_eq!(
            parse_setting("discord_webhook", "none"),
            Ok(Change::Setting("discord_webhook".into(), None))
        );
        assert!(parse_setting("discord_webhook", "https://discord.com/api/webhooks/1/abc").is_ok());
        let bad = parse_setting("slack_webhook", "ftp://secret-token@x").expect_err("rejected");
        assert!(!bad.contains("secret-token"), "{bad}");
        assert!(parse_setting("commands.nope", "off").is_err());
        assert!(parse_setting("commands.stats", "sometimes").is_err());
        assert!(
            parse_setting("colour", "blue")
                .expect_err("unknown")
                .starts_with("unknown setting")
        );
        assert!(parse_setting("public_page", "maybe").is_err());
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
        for (name, value) in [
            ("discord_webhook", discord),
            ("slack_webhook", slack),
            ("weekly_digest", "on"),
        ] {
            store
                .set_channel_setting(forsen.key, name, Some(value))
                .await
                .expect("set");
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

    #[test]
    fn webhook_urls_are_masked_in_the_confirmation() {
        let change = parse_setting(
            "discord_webhook",
            "https://discord.com/api/webhooks/1/secret",
        )
        .expect("valid");
        assert_eq!(change.describe(), "discord_webhook set (hidden)");
    }
}
