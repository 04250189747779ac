//! A channel's settings, typed: [`ChannelSettings`] (public page, weekly digest, who may use
//! each command, the command cooldown, the channel's recap webhooks), loaded once from the
//! stored rows; [`SettingChange`], the one parser of `chatters channel set <key> <value>`
//! (known-bot rules included, though they are stored in their own table); and the asker's
//! [`Role`], which the per-command [`Access`] rules are about.
//!
//! This module is the only place that knows the names settings are stored under.
//!
//! # Layout
//! - `keys`: the stored names, the command names, the cooldown bounds.
//! - `role`: [`Role`] from badges, [`Access`] per command.
//! - `webhook`: [`WebhookKind`], the secret [`WebhookUrl`] and its [`mask`].
//! - `change`: [`SettingChange`] and its [`SettingError`]s.
//! - `mood`: `mood.<mood>.add|remove <word>`, the channel's changes to the mood lexicon.

mod change;
mod keys;
mod mood;
mod role;
mod webhook;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

pub use change::{SettingChange, SettingError};
pub use keys::{COMMAND_NAMES, DEFAULT_COOLDOWN, MAX_COOLDOWN};
pub use mood::{MAX_MOOD_WORD, mood_rules};
pub use role::{Access, Role};
pub use webhook::{WebhookKind, WebhookUrl, mask};

use crate::store::{ChannelKey, Store, StoreError};

/// What a channel set, with the defaults for what it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    /// The share page and chart URLs are served (`public_page`, default on; any of off, false,
    /// no, 0 or disabled switches it off).
    pub public_page: bool,
    /// A weekly digest is posted to the channel's webhooks (`weekly_digest`, default off).
    pub weekly_digest: bool,
    /// The channel's rules by command name (`commands.<name>`); a command without one has
    /// [`Access::default_for`] it (see [`Self::access`]). Unreadable stored rules are skipped.
    pub commands: BTreeMap<String, Access>,
    /// Per command, asks within this long after an answer get none (`commands.cooldown`,
    /// [`DEFAULT_COOLDOWN`] when unset or unreadable).
    pub cooldown: Duration,
    /// The channel's own Discord webhook (`discord_webhook`; a blank value counts as unset).
    pub discord_webhook: Option<WebhookUrl>,
    /// The channel's own Slack webhook (`slack_webhook`; a blank value counts as unset).
    pub slack_webhook: Option<WebhookUrl>,
    /// The channel's changes to the mood lexicon (`mood.<mood>.add|remove <word>`).
    pub mood: Vec<crate::signals::MoodRule>,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            public_page: true,
            weekly_digest: false,
            commands: BTreeMap::new(),
            cooldown: DEFAULT_COOLDOWN,
            discord_webhook: None,
            slack_webhook: None,
            mood: Vec::new(),
        }
    }
}

impl ChannelSettings {
    /// Reads a channel's settings from the store.
    pub async fn load(store: &Store, channel: ChannelKey) -> Result<Self, StoreError> {
        Ok(Self::from_rows(store.channel_settings(channel).await?))
    }

    /// Settings from stored `(name, value)` rows. Unknown names are ignored, unreadable values
    /// leave the default in place.
    pub fn from_rows(rows: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut settings = Self::default();
        for (name, value) in rows {
            if let Some(kind) = WebhookKind::of_key(&name) {
                let url = (!value.trim().is_empty()).then(|| WebhookUrl::new(value));
                match kind {
                    WebhookKind::Discord => settings.discord_webhook = url,
                    WebhookKind::Slack => settings.slack_webhook = url,
                }
                continue;
            }
            if let Some(rule) = mood::of_row(&name, &value) {
                settings.mood.push(rule);
                continue;
            }
            match name.as_str() {
                keys::PUBLIC_PAGE => settings.public_page = !is_off(&value),
                // The digest is scheduled for channels whose stored value is exactly `on`
                // (`weekly_digest_channels`), so reading agrees with that query.
                keys::WEEKLY_DIGEST => settings.weekly_digest = value == keys::ON,
                keys::COOLDOWN => {
                    if let Ok(period) = humantime::parse_duration(&value) {
                        settings.cooldown = period;
                    }
                }
                _ => {
                    if let Some(command) = name.strip_prefix(keys::COMMANDS)
                        && let Some(access) = Access::parse(&value)
                    {
                        settings.commands.insert(command.to_owned(), access);
                    }
                }
            }
        }
        settings
    }

    /// The rule for a command: the channel's, else the default.
    pub fn access(&self, command: &str) -> Access {
        self.commands
            .get(command)
            .copied()
            .unwrap_or_else(|| Access::default_for(command))
    }

    /// The channel's own webhook of a service, if set.
    pub fn webhook(&self, kind: WebhookKind) -> Option<&WebhookUrl> {
        match kind {
            WebhookKind::Discord => self.discord_webhook.as_ref(),
            WebhookKind::Slack => self.slack_webhook.as_ref(),
        }
    }
}

/// The channels that asked for a weekly digest.
pub async fn weekly_digest_channels(store: &Store) -> Result<Vec<ChannelKey>, StoreError> {
    store
        .channels_with_setting(keys::WEEKLY_DIGEST, keys::ON)
        .await
}

/// One stored setting as `chatters channel list` shows it: `name=value`, a webhook URL masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSetting {
    /// The stored name.
    pub name: String,
    /// The value shown (masked for a webhook).
    pub shown: String,
    /// For a webhook setting: its service and URL (to tell whether it was revoked).
    pub webhook: Option<(WebhookKind, WebhookUrl)>,
}

/// Every stored row, in the store's order, as `chatters channel list` shows it (unknown names
/// included, as stored).
pub fn listing(rows: impl IntoIterator<Item = (String, String)>) -> Vec<ListedSetting> {
    rows.into_iter()
        .map(|(name, value)| match WebhookKind::of_key(&name) {
            Some(kind) => {
                let url = WebhookUrl::new(value);
                ListedSetting {
                    shown: url.masked(),
                    webhook: Some((kind, url)),
                    name,
                }
            }
            None => ListedSetting {
                name,
                shown: value,
                webhook: None,
            },
        })
        .collect()
}

/// True for the values that switch `public_page` off.
fn is_off(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "off" | "false" | "no" | "0" | "disabled"
    )
}
