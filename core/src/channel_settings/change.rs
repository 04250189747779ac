//! `chatters channel set <login> <key> <value>`: the one parser and validator of a setting
//! change ([`SettingChange::parse`]), its confirmation line and how it is saved.

use std::time::Duration;

use secrecy::ExposeSecret as _;

use crate::domain::Login;
use crate::store::{BotRule, ChannelKey, Store, StoreError};

use super::keys;
use super::role::Access;
use super::webhook::{WebhookKind, WebhookUrl, is_webhook_url};

/// A validated `channel set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingChange {
    /// `public_page on|off`.
    PublicPage(bool),
    /// `weekly_digest on|off`.
    WeeklyDigest(bool),
    /// `commands.<name> off|mods|everyone`.
    Command(&'static str, Access),
    /// `commands.cooldown <duration>`, at most [`keys::MAX_COOLDOWN`].
    Cooldown(Duration),
    /// `discord_webhook|slack_webhook <url>|none` (`None` clears it).
    Webhook(WebhookKind, Option<WebhookUrl>),
    /// `bots.add|bots.allow <login>`, or `bots.remove <login>` (`None`: removes a per-channel
    /// rule). Stored apart from the other settings, as a known-bot rule.
    Bot(Login, Option<BotRule>),
    /// `mood.<mood>.add|remove <word>`: the word carries (or no longer carries) the mood here.
    Mood(crate::signals::MoodRule),
}

/// Why a `channel set` was refused; the text is shown to whoever typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// A switch given something else than on or off.
    #[error("{key}: expected on or off, got {value:?}")]
    NotOnOff {
        /// The setting.
        key: String,
        /// What was given.
        value: String,
    },
    /// A webhook that is not an http(s) URL; the value is a secret and is never echoed.
    #[error("{key}: expected an http(s) webhook URL or none")]
    NotAWebhook {
        /// The setting.
        key: String,
    },
    /// A known-bot rule for something that is not a login.
    #[error("{key}: {value:?} is not a Twitch login")]
    NotALogin {
        /// The setting.
        key: String,
        /// What was given.
        value: String,
    },
    /// A cooldown that is not a duration, or longer than an hour.
    #[error("{key}: expected a duration up to 1h such as 5s, 30s or 0s, got {value:?}")]
    NotACooldown {
        /// The setting.
        key: String,
        /// What was given.
        value: String,
    },
    /// A command rule other than off, mods or everyone.
    #[error("{key}: expected off, mods or everyone, got {value:?}")]
    NotAnAccess {
        /// The setting.
        key: String,
        /// What was given.
        value: String,
    },
    /// `commands.<name>` for a command that does not exist.
    #[error("{key}: no command {name:?} (one of {}, or commands.cooldown)", keys::COMMAND_NAMES.join(", "))]
    NoSuchCommand {
        /// The setting.
        key: String,
        /// The command named.
        name: String,
    },
    /// A mood rule naming no mood, or not one word.
    #[error(
        "{key}: expected mood.<mood>.add|remove <word> with a mood of hype, laughter, love, \
         sadness, anger or tension and one word of at most 40 bytes, got {value:?}"
    )]
    NotAMoodRule {
        /// The setting.
        key: String,
        /// What was given.
        value: String,
    },
    /// A setting that does not exist.
    #[error(
        "unknown setting {key:?}: expected public_page, weekly_digest, commands.<name>, \
         commands.cooldown, discord_webhook, slack_webhook, bots.add, bots.remove, bots.allow or \
         mood.<mood>.add|remove"
    )]
    Unknown {
        /// The setting.
        key: String,
    },
}

impl SettingChange {
    /// Validates `key value`: `public_page on|off`, `weekly_digest on|off`,
    /// `commands.<name> off|mods|everyone`, `commands.cooldown <duration>`,
    /// `discord_webhook|slack_webhook <http(s) url>|none`, `bots.add|bots.remove|bots.allow
    /// <login>`. Keys are case-insensitive, values trimmed.
    pub fn parse(key: &str, value: &str) -> Result<Self, SettingError> {
        let key = key.to_ascii_lowercase();
        let value = value.trim();
        if let Some(kind) = WebhookKind::of_key(&key) {
            return webhook(kind, key, value);
        }
        if let Some(parsed) = super::mood::parse_key(&key) {
            return match parsed {
                Ok((mood, add)) if super::mood::valid_word(value) => {
                    Ok(Self::Mood(crate::signals::MoodRule {
                        mood,
                        word: value.to_owned(),
                        add,
                    }))
                }
                _ => Err(SettingError::NotAMoodRule {
                    key,
                    value: value.to_owned(),
                }),
            };
        }
        match key.as_str() {
            keys::PUBLIC_PAGE => Ok(Self::PublicPage(on_off(key, value)?)),
            keys::WEEKLY_DIGEST => Ok(Self::WeeklyDigest(on_off(key, value)?)),
            "bots.add" | "bots.remove" | "bots.allow" => {
                let user = Login::parse(value).map_err(|_| SettingError::NotALogin {
                    key: key.clone(),
                    value: value.to_owned(),
                })?;
                let rule = match key.as_str() {
                    "bots.add" => Some(BotRule::Add),
                    "bots.allow" => Some(BotRule::Allow),
                    _ => None,
                };
                Ok(Self::Bot(user, rule))
            }
            keys::COOLDOWN => humantime::parse_duration(value)
                .ok()
                .filter(|d| *d <= keys::MAX_COOLDOWN)
                .map(Self::Cooldown)
                .ok_or_else(|| SettingError::NotACooldown {
                    key: key.clone(),
                    value: value.to_owned(),
                }),
            _ => match key.strip_prefix(keys::COMMANDS) {
                Some(name) => match keys::COMMAND_NAMES.iter().find(|n| **n == name) {
                    Some(name) => {
                        let access =
                            Access::parse(value).ok_or_else(|| SettingError::NotAnAccess {
                                key: key.clone(),
                                value: value.to_owned(),
                            })?;
                        Ok(Self::Command(name, access))
                    }
                    None => Err(SettingError::NoSuchCommand {
                        name: name.to_owned(),
                        key,
                    }),
                },
                None => Err(SettingError::Unknown { key }),
            },
        }
    }

    /// The confirmation line after the channel's login (webhook URLs are secrets: hidden).
    pub fn describe(&self) -> String {
        match self {
            Self::Webhook(kind, None) => format!("{} cleared", kind.key()),
            Self::Webhook(kind, Some(_)) => format!("{} set (hidden)", kind.key()),
            Self::Bot(user, Some(BotRule::Add)) => format!("{user} is a known bot here"),
            Self::Bot(user, Some(BotRule::Allow)) => format!("{user} counts as a chatter here"),
            Self::Bot(user, None) => format!("{user} no longer added as a bot here"),
            Self::Mood(rule) if rule.add => format!("{} counts as {} here", rule.word, rule.mood),
            Self::Mood(rule) => format!("{} no longer counts as {} here", rule.word, rule.mood),
            _ => match self.row() {
                Some((name, Some(value))) => format!("{name} = {value}"),
                Some((name, None)) => format!("{name} cleared"),
                None => String::new(),
            },
        }
    }

    /// Whether this is a known-bot rule (saved to its own table).
    pub fn is_bot_rule(&self) -> bool {
        matches!(self, Self::Bot(..))
    }

    /// Saves the change for a channel.
    pub async fn save(&self, store: &Store, channel: ChannelKey) -> Result<(), StoreError> {
        match (self, self.row()) {
            (Self::Bot(user, rule), _) => store.set_bot_rule(channel, user, *rule).await,
            (_, Some((name, value))) => {
                store
                    .set_channel_setting(channel, &name, value.as_deref())
                    .await
            }
            (_, None) => Ok(()),
        }
    }

    /// The settings row written: its name and value (`None` deletes it); `None` for a
    /// known-bot rule.
    pub(super) fn row(&self) -> Option<(String, Option<String>)> {
        let on_off = |on: bool| Some(if on { keys::ON } else { keys::OFF }.to_owned());
        Some(match self {
            Self::PublicPage(on) => (keys::PUBLIC_PAGE.to_owned(), on_off(*on)),
            Self::WeeklyDigest(on) => (keys::WEEKLY_DIGEST.to_owned(), on_off(*on)),
            Self::Command(name, access) => (
                format!("{}{name}", keys::COMMANDS),
                Some(access.as_str().to_owned()),
            ),
            Self::Cooldown(period) => (
                keys::COOLDOWN.to_owned(),
                Some(humantime::format_duration(*period).to_string()),
            ),
            Self::Webhook(kind, url) => (
                kind.key().to_owned(),
                url.as_ref().map(|u| u.secret().expose_secret().to_owned()),
            ),
            Self::Bot(..) => return None,
            Self::Mood(rule) => super::mood::row(rule),
        })
    }
}

fn on_off(key: String, value: &str) -> Result<bool, SettingError> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(SettingError::NotOnOff {
            key,
            value: value.to_owned(),
        }),
    }
}

fn webhook(kind: WebhookKind, key: String, value: &str) -> Result<SettingChange, SettingError> {
    if value.eq_ignore_ascii_case("none") {
        Ok(SettingChange::Webhook(kind, None))
    } else if is_webhook_url(value) {
        Ok(SettingChange::Webhook(kind, Some(WebhookUrl::new(value))))
    } else {
        Err(SettingError::NotAWebhook { key })
    }
}
