//! Validated domain newtypes: user ids, logins, stream ids and timestamps.
//!
//! Everything that crosses a boundary (IRC tags, Helix JSON, CLI arguments, SQL rows) is parsed
//! into one of these once; the rest of the code never re-validates.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Why a domain value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A login outside `[a-z0-9_]{1,25}` (after lower-casing and stripping `#`/`@`).
    #[error("invalid login {0:?}: expected 1-25 characters of a-z, 0-9 or _")]
    Login(String),
    /// A Twitch user id that is not a positive integer.
    #[error("invalid user id {0:?}: expected a positive integer")]
    UserId(String),
    /// A stream id that is empty, too long or not printable ASCII.
    #[error("invalid stream id {0:?}")]
    StreamId(String),
    /// A timestamp outside what chatters stores.
    #[error("invalid timestamp {0:?}")]
    Timestamp(String),
}

/// A Twitch user id (numeric; channels are identified by their broadcaster's user id too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl UserId {
    /// Parses Twitch's decimal string form (`"12345"`).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(DomainError::UserId(s.to_owned())),
        }
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A Twitch login (user or channel name): lower-case `[a-z0-9_]{1,25}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Login(Box<str>);

impl Login {
    /// Parses a login as typed by people: case-insensitive, one leading `#` or `@` allowed.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let trimmed = s.strip_prefix(['#', '@']).unwrap_or(s);
        let valid = !trimmed.is_empty()
            && trimmed.len() <= 25
            && trimmed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Self(trimmed.to_ascii_lowercase().into_boxed_str()))
        } else {
            Err(DomainError::Login(s.to_owned()))
        }
    }

    /// The login as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Login {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Login> for String {
    fn from(l: Login) -> Self {
        l.0.into()
    }
}

/// Twitch's stream id (a decimal string), or `import-<login>-<unix start>` for inferred streams.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(Box<str>);

impl StreamId {
    /// Accepts 1-64 characters of `[A-Za-z0-9_-]`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let valid = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(s.into()))
        } else {
            Err(DomainError::StreamId(s.to_owned()))
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for StreamId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<StreamId> for String {
    fn from(s: StreamId) -> Self {
        s.0.into()
    }
}

/// A point in time, whole seconds since the Unix epoch (UTC). Stored as an integer everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Self(Utc::now().timestamp())
    }

    /// From Twitch's `tmi-sent-ts` (milliseconds since the epoch).
    pub fn from_millis(ms: i64) -> Self {
        Self(ms.div_euclid(1000))
    }

    /// Parses RFC 3339 (`2026-11-25T18:00:00Z`, any offset).
    pub fn parse_rfc3339(s: &str) -> Result<Self, DomainError> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| Self(d.timestamp()))
            .map_err(|_| DomainError::Timestamp(s.to_owned()))
    }

    /// This time as a chrono value.
    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC with a `Z` suffix, the one format chatters prints.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// The UTC calendar day, `YYYY-MM-DD`.
    pub fn date(self) -> String {
        self.to_datetime().format("%Y-%m-%d").to_string()
    }

    /// `self + secs`, saturating.
    pub fn plus(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_lower_cased_and_stripped_of_one_sigil() {
        assert_eq!(
            Login::parse("#Forsen").map(|l| l.to_string()),
            Ok("forsen".into())
        );
        assert_eq!(
            Login::parse("@a_b_9").map(|l| l.to_string()),
            Ok("a_b_9".into())
        );
    }

    #[test]
    fn bad_logins_are_rejected() {
        for bad in [
            "",
            "#",
            "with space",
            "ünicode",
            "a-b",
            &"x".repeat(26),
            "##two",
        ] {
            assert_eq!(
                Login::parse(bad),
                Err(DomainError::Login(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn user_ids_must_be_positive_integers() {
        assert_eq!(UserId::parse("22484632"), Ok(UserId(22484632)));
        assert!(UserId::parse("0").is_err());
        assert!(UserId::parse("-5").is_err());
        assert!(UserId::parse("12a").is_err());
    }

    #[test]
    fn timestamps_print_rfc3339_utc() {
        let t = Timestamp::parse_rfc3339("2026-11-25T19:00:00+01:00").expect("valid");
        assert_eq!(t.to_rfc3339(), "2026-11-25T18:00:00Z");
        assert_eq!(t.date(), "2026-11-25");
        assert_eq!(Timestamp::from_millis(1_594_545_155_039).0, 1_594_545_155);
    }
}
