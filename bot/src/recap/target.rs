//! Where recaps go: a [`Target`] is a service (Discord, Slack) at a scope (the global webhook
//! of the settings, or the channel's own), named by a stable key that is safe to store and log
//! (`discord:channel`). The URL itself is a secret ([`Webhook`]): it never leaves this module
//! except as the request's address, and is identified in the database by a truncated hash.

use std::fmt;

use chatters_core::channel_settings::WebhookKind;
use chatters_core::domain::Timestamp;
use chrono::{Datelike as _, Duration as Days, NaiveDate, NaiveTime};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

/// A webhook service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// Discord webhook (embed + attached chart).
    Discord,
    /// Slack incoming webhook (Block Kit).
    Slack,
}

impl Service {
    /// `discord` / `slack` (metric label, key part).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Discord => "discord",
            Self::Slack => "slack",
        }
    }

    /// The per-channel setting holding this service's webhook URL.
    pub fn setting(self) -> WebhookKind {
        match self {
            Self::Discord => WebhookKind::Discord,
            Self::Slack => WebhookKind::Slack,
        }
    }

    /// The service of a per-channel webhook setting.
    pub fn of(kind: WebhookKind) -> Self {
        match kind {
            WebhookKind::Discord => Self::Discord,
            WebhookKind::Slack => Self::Slack,
        }
    }
}

/// Whose webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `DISCORD_WEBHOOK_URL` / `SLACK_WEBHOOK_URL`: every channel's recaps.
    Global,
    /// The channel's `discord_webhook` / `slack_webhook` setting.
    Channel,
}

/// One recap destination of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// Service.
    pub service: Service,
    /// Scope.
    pub scope: Scope,
}

impl Target {
    /// Every target, in the order they are tried.
    pub const ALL: [Target; 4] = [
        Target::new(Service::Discord, Scope::Global),
        Target::new(Service::Discord, Scope::Channel),
        Target::new(Service::Slack, Scope::Global),
        Target::new(Service::Slack, Scope::Channel),
    ];

    /// A target.
    pub const fn new(service: Service, scope: Scope) -> Self {
        Self { service, scope }
    }

    /// The stored key: `discord:global`, `discord:channel`, `slack:global`, `slack:channel`.
    pub fn key(self) -> &'static str {
        match (self.service, self.scope) {
            (Service::Discord, Scope::Global) => "discord:global",
            (Service::Discord, Scope::Channel) => "discord:channel",
            (Service::Slack, Scope::Global) => "slack:global",
            (Service::Slack, Scope::Channel) => "slack:channel",
        }
    }

    /// Parses [`Self::key`].
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.key() == key)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// An ISO week (Monday to Monday, UTC), the period of a weekly digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Week {
    /// Its Monday.
    monday: NaiveDate,
}

impl Week {
    /// The week holding `at`.
    pub fn containing(at: Timestamp) -> Self {
        let date = at.to_datetime().date_naive();
        let back = i64::from(date.weekday().num_days_from_monday());
        Self {
            monday: date - Days::days(back),
        }
    }

    /// The week before.
    pub fn previous(self) -> Self {
        Self {
            monday: self.monday - Days::days(7),
        }
    }

    /// Monday 00:00 UTC.
    pub fn start(self) -> Timestamp {
        Timestamp(self.monday.and_time(NaiveTime::MIN).and_utc().timestamp())
    }

    /// The next Monday 00:00 UTC (exclusive end).
    pub fn end(self) -> Timestamp {
        Timestamp(self.start().0 + 7 * 86_400)
    }

    /// Parses [`Display`](fmt::Display)'s `2026-W48`.
    pub fn parse(s: &str) -> Option<Self> {
        let (year, week) = s.split_once("-W")?;
        let monday = NaiveDate::from_isoywd_opt(
            year.parse().ok()?,
            week.parse().ok()?,
            chrono::Weekday::Mon,
        )?;
        Some(Self { monday })
    }
}

impl fmt::Display for Week {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let iso = self.monday.iso_week();
        write!(f, "{}-W{:02}", iso.year(), iso.week())
    }
}

/// What a summary row is, read from its target key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stream's recap (the row's subject is the stream's key).
    Recap(Target),
    /// A channel's weekly digest (the row's subject is the channel's key); key
    /// `digest:2026-W48:discord:channel`.
    Digest(Week, Target),
}

impl Kind {
    /// The stored target key.
    pub fn key(self) -> String {
        match self {
            Self::Recap(target) => target.key().to_owned(),
            Self::Digest(week, target) => format!("digest:{week}:{target}"),
        }
    }

    /// Parses [`Self::key`].
    pub fn parse(key: &str) -> Option<Self> {
        match key.strip_prefix("digest:") {
            Some(rest) => {
                let (week, target) = rest.split_once(':')?;
                Some(Self::Digest(Week::parse(week)?, Target::parse(target)?))
            }
            None => Target::parse(key).map(Self::Recap),
        }
    }

    /// The destination.
    pub fn target(self) -> Target {
        match self {
            Self::Recap(t) | Self::Digest(_, t) => t,
        }
    }
}

/// A webhook URL: a secret (its `Debug` is redacted; it is never logged or stored).
#[derive(Clone)]
pub struct Webhook(SecretString);

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Webhook(<redacted>)")
    }
}

impl Webhook {
    /// Wraps a URL.
    pub fn new(url: SecretString) -> Self {
        Self(url)
    }

    /// The URL, for the request only.
    pub(super) fn url(&self) -> &str {
        self.0.expose_secret()
    }

    /// 16 hex digits of the URL's SHA-256: tells URLs apart without revealing them.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.url().as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_keys_round_trip() {
        for target in Target::ALL {
            assert_eq!(Target::parse(target.key()), Some(target));
            assert_eq!(Kind::parse(target.key()), Some(Kind::Recap(target)));
        }
        let week =
            Week::containing(Timestamp::parse_rfc3339("2026-11-25T23:00:00Z").expect("time"));
        let digest = Kind::Digest(week, Target::new(Service::Slack, Scope::Channel));
        assert_eq!(digest.key(), "digest:2026-W48:slack:channel");
        assert_eq!(Kind::parse(&digest.key()), Some(digest));
        assert_eq!(Kind::parse("digest:2026-W48:mail:channel"), None);
        assert_eq!(Kind::parse("https://discord.com/api/webhooks/1/x"), None);
    }

    #[test]
    fn weeks_run_monday_to_monday_utc() {
        let week =
            Week::containing(Timestamp::parse_rfc3339("2026-11-29T23:59:59Z").expect("time"));
        assert_eq!(week.to_string(), "2026-W48");
        assert_eq!(week.start().to_rfc3339(), "2026-11-23T00:00:00Z");
        assert_eq!(week.end().to_rfc3339(), "2026-11-30T00:00:00Z");
        assert_eq!(week.previous().to_string(), "2026-W47");
        let new_year =
            Week::containing(Timestamp::parse_rfc3339("2027-01-01T12:00:00Z").expect("time"));
        assert_eq!(new_year.to_string(), "2026-W53");
        assert_eq!(Week::parse("2026-W53"), Some(new_year));
    }

    #[test]
    fn webhooks_are_fingerprinted_without_the_token() {
        let url = "https://discord.com/api/webhooks/123/s3cr3t-token";
        let hook = Webhook::new(SecretString::from(url));
        assert_eq!(format!("{hook:?}"), "Webhook(<redacted>)");
        assert_eq!(hook.fingerprint().len(), 16);
        assert!(!hook.fingerprint().contains("s3cr3t"));
        assert_ne!(
            hook.fingerprint(),
            Webhook::new(SecretString::from(
                "https://discord.com/api/webhooks/123/other"
            ))
            .fingerprint()
        );
    }
}
