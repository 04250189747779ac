//! A channel's own recap webhooks (`discord_webhook`, `slack_webhook`): which service, and the
//! URL, a secret that is only ever shown masked.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

use super::keys;

/// The service of a channel's webhook setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookKind {
    /// `discord_webhook`.
    Discord,
    /// `slack_webhook`.
    Slack,
}

impl WebhookKind {
    /// The setting's name.
    pub(super) fn key(self) -> &'static str {
        match self {
            Self::Discord => keys::DISCORD_WEBHOOK,
            Self::Slack => keys::SLACK_WEBHOOK,
        }
    }

    /// The kind whose setting is named `key`.
    pub(super) fn of_key(key: &str) -> Option<Self> {
        match key {
            keys::DISCORD_WEBHOOK => Some(Self::Discord),
            keys::SLACK_WEBHOOK => Some(Self::Slack),
            _ => None,
        }
    }
}

/// A webhook URL as stored: a secret (its `Debug` is redacted).
#[derive(Clone)]
pub struct WebhookUrl(SecretString);

impl WebhookUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The URL as a secret, for whoever posts to it.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    /// What `chatters channel list` shows of it: `https://host/***`.
    pub fn masked(&self) -> String {
        mask(self.0.expose_secret())
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

impl PartialEq for WebhookUrl {
    fn eq(&self, other: &Self) -> bool {
        self.0.expose_secret() == other.0.expose_secret()
    }
}

impl Eq for WebhookUrl {}

/// `https://host/***` (`***` when the URL has no host or does not parse): the scheme and host
/// tell webhooks apart, the path holds the token.
pub fn mask(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.host_str() {
            Some(host) => format!("{}://{host}/***", u.scheme()),
            None => "***".to_owned(),
        },
        Err(_) => "***".to_owned(),
    }
}

/// True for an http(s) URL with a host: what `channel set` accepts as a webhook.
pub(super) fn is_webhook_url(value: &str) -> bool {
    url::Url::parse(value)
        .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
}
