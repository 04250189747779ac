//! Settings: every environment variable of the SPEC's "Configuration" table, parsed and
//! validated once.
//!
//! [`Settings::from_vars`] takes the variables as name/value pairs (the binary passes
//! `std::env::vars()` after loading `.env`); library code never reads the environment. An empty
//! value counts as unset. A rejected value is a [`SettingsError`] whose message is one line
//! naming the variable, what was wrong and what is accepted.
//!
//! Secrets (tokens, the client secret, the webhook URLs, and the database and Redis URLs, which
//! may carry a password) are [`SecretString`]s: `Debug` prints them redacted and no error
//! message repeats them.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

use crate::domain::Login;
use crate::store::Backend;

mod dashboard;
mod emote_providers;
mod error;
mod operations;

pub use dashboard::Dashboard;
pub use error::SettingsError;

pub use emote_providers::{DEFAULT_BTTV_URL, DEFAULT_FFZ_URL, DEFAULT_SEVENTV_URL, EmoteProviders};
pub use operations::{LogFormat, MIN_RETENTION, Operations};

/// Where to reach Twitch chat (`TWITCH_IRC_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcUrl {
    /// `ircs://`: TLS; `irc://`: plain TCP.
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port; 6697 for `ircs://` and 6667 for `irc://` when not given.
    pub port: u16,
}

impl fmt::Display for IrcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "ircs" } else { "irc" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The tracing filter (`LOG`, else `RUST_LOG`), with the variable it came from so that the
/// binary, which validates it, can name that variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// `LOG` or `RUST_LOG` (`LOG` when neither is set).
    pub var: &'static str,
    /// The filter directives, `info` by default.
    pub filter: String,
}

impl LogFilter {
    /// The error for a filter that the tracing subscriber rejects.
    pub fn invalid(&self) -> SettingsError {
        SettingsError::invalid(
            self.var,
            &self.filter,
            "is not a tracing filter (use e.g. info, debug or info,chatters_core=debug)",
        )
    }
}

/// Every setting of chatters, validated. One field per variable of the SPEC.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://…`, `mysql://…`/`mariadb://…` or `postgres://…` (may carry a
    /// password). Default `sqlite://chatters.db`.
    pub database_url: SecretString,
    /// `REDIS_URL`: chart cache and channel leases, when set (no shared rate limiter: each
    /// instance follows Twitch's `Ratelimit-*` headers, which reflect the token's shared bucket).
    pub redis_url: Option<SecretString>,
    /// `CHATTERS_CHANNELS`: extra channels to join, in the order given, without duplicates.
    pub channels: Vec<Login>,
    /// `TWITCH_CLIENT_ID`: the app's client id.
    pub twitch_client_id: Option<String>,
    /// `TWITCH_CLIENT_SECRET`: the app's client secret.
    pub twitch_client_secret: Option<SecretString>,
    /// `TWITCH_BOT_LOGIN`: the bot account; set exactly when the token is.
    pub twitch_bot_login: Option<Login>,
    /// `TWITCH_BOT_TOKEN`: the bot account's user token, without any `oauth:` prefix. Unset
    /// means anonymous, read-only chat.
    pub twitch_bot_token: Option<SecretString>,
    /// `TWITCH_BOT_REFRESH_TOKEN`: refreshes an expired bot token.
    pub twitch_bot_refresh_token: Option<SecretString>,
    /// `TWITCH_IRC_URL`: default `ircs://irc.chat.twitch.tv:6697`.
    pub twitch_irc_url: IrcUrl,
    /// `TWITCH_HELIX_URL`: Helix base URL, always ending with `/`.
    pub twitch_helix_url: Url,
    /// `TWITCH_OAUTH2_URL`: OAuth base URL, always ending with `/`.
    pub twitch_oauth2_url: Url,
    /// `WEB_ADDR`: web listen address, default `127.0.0.1:8080`.
    pub web_addr: SocketAddr,
    /// `PUBLIC_BASE_URL`: base of links posted to chat, Discord and Slack, without a trailing
    /// slash. Default `http://<WEB_ADDR>`.
    pub public_base_url: String,
    /// `DISCORD_WEBHOOK_URL`: where stream recaps go on Discord (the URL holds the token).
    pub discord_webhook_url: Option<SecretString>,
    /// `SLACK_WEBHOOK_URL`: where stream recaps go on Slack (the URL is the credential).
    pub slack_webhook_url: Option<SecretString>,
    /// `SNAPSHOT_INTERVAL`: Helix Get Chatters period per live channel, default 5 minutes.
    pub snapshot_interval: Duration,
    /// `STREAM_POLL_INTERVAL`: Helix Get Streams period, default 60 seconds.
    pub stream_poll_interval: Duration,
    /// `OFFLINE_SNAPSHOT_INTERVAL`: Get Chatters period while offline, default 15 minutes.
    pub offline_snapshot_interval: Duration,
    /// `PRESENCE_TIMEOUT`: IRC-only presence expiry, default 15 minutes.
    pub presence_timeout: Duration,
    /// `COMMAND_PREFIX`: chat command prefix, default `!`.
    pub command_prefix: String,
    /// `LOG` / `RUST_LOG`: tracing filter, default `info`.
    pub log: LogFilter,
    /// `RETENTION`, `METRICS_ADDR`, `LOG_FORMAT` (SPEC "Operations settings").
    pub operations: Operations,
    /// `DASHBOARD_ADMINS` (SPEC "Operations settings").
    pub dashboard: Dashboard,
    /// `SEVENTV_API_URL`, `BTTV_API_URL`, `FFZ_API_URL` (SPEC "Emotes").
    pub emote_providers: EmoteProviders,
}

const DEFAULT_DATABASE_URL: &str = "sqlite://chatters.db";
const DEFAULT_IRC_URL: &str = "ircs://irc.chat.twitch.tv:6697";
const DEFAULT_HELIX_URL: &str = "https://api.twitch.tv/helix/";
const DEFAULT_OAUTH2_URL: &str = "https://id.twitch.tv/oauth2/";
const DEFAULT_WEB_ADDR: &str = "127.0.0.1:8080";

impl Settings {
    /// Parses and validates the settings from environment-like pairs. Unknown names are
    /// ignored; a value that is empty (or only whitespace) counts as unset; surrounding
    /// whitespace is trimmed. The first bad variable found is reported.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let vars = Vars(vars.into_iter().collect());
        let (twitch_bot_login, twitch_bot_token) = bot_account(&vars)?;
        let web_addr = web_addr(vars.get("WEB_ADDR").unwrap_or(DEFAULT_WEB_ADDR))?;
        Ok(Settings {
            database_url: database_url(vars.get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL))?,
            redis_url: vars.get("REDIS_URL").map(redis_url).transpose()?,
            channels: vars
                .get("CHATTERS_CHANNELS")
                .map(channels)
                .transpose()?
                .unwrap_or_default(),
            twitch_client_id: vars.opt("TWITCH_CLIENT_ID", plain_token)?,
            twitch_client_secret: vars.opt("TWITCH_CLIENT_SECRET", secret_token)?,
            twitch_bot_login,
            twitch_bot_token,
            twitch_bot_refresh_token: vars.opt("TWITCH_BOT_REFRESH_TOKEN", secret_token)?,
            twitch_irc_url: irc_url(vars.get("TWITCH_IRC_URL").unwrap_or(DEFAULT_IRC_URL))?,
            twitch_helix_url: vars.base_url("TWITCH_HELIX_URL", DEFAULT_HELIX_URL)?,
            twitch_oauth2_url: vars.base_url("TWITCH_OAUTH2_URL", DEFAULT_OAUTH2_URL)?,
            web_addr,
            public_base_url: match vars.get("PUBLIC_BASE_URL") {
                Some(v) => public_base_url(v)?,
                None => format!("http://{web_addr}"),
            },
            discord_webhook_url: vars.opt("DISCORD_WEBHOOK_URL", |var, v| {
                webhook_url(var, v, "https://discord.com/api/webhooks/<id>/<token>")
            })?,
            slack_webhook_url: vars.opt("SLACK_WEBHOOK_URL", |var, v| {
                webhook_url(
                    var,
                    v,
                    "https://hooks.slack.com/services/<team>/<bot>/<token>",
                )
            })?,
            snapshot_interval: vars.duration("SNAPSHOT_INTERVAL", Duration::from_secs(5 * 60))?,
            stream_poll_interval: vars.duration("STREAM_POLL_INTERVAL", Duration::from_secs(60))?,
            offline_snapshot_interval: vars
                .duration("OFFLINE_SNAPSHOT_INTERVAL", Duration::from_secs(15 * 60))?,
            presence_timeout: vars.duration("PRESENCE_TIMEOUT", Duration::from_secs(15 * 60))?,
            command_prefix: command_prefix(vars.get("COMMAND_PREFIX").unwrap_or("!"))?,
            log: vars.log_filter(),
            operations: Operations::parse(|var| vars.get(var))
                .map_err(|r| SettingsError::invalid(r.var, &r.value, r.problem))?,
            dashboard: Dashboard::parse(vars.get("DASHBOARD_ADMINS")).map_err(|item| {
                SettingsError::invalid(
                    "DASHBOARD_ADMINS",
                    &item,
                    "is not a login (use comma-separated logins of 1-25 characters a-z, 0-9 or _)",
                )
            })?,
            emote_providers: EmoteProviders::parse(|var| vars.get(var))
                .map_err(|r| SettingsError::invalid(r.var, &r.value, r.problem))?,
        })
    }

    /// The database backend `DATABASE_URL` names (validated by [`Settings::from_vars`]).
    pub fn database_backend(&self) -> Backend {
        Backend::from_url(self.database_url.expose_secret()).unwrap_or(Backend::Sqlite)
    }
}

/// The raw variables; lookups trim and treat empty as unset.
struct Vars(HashMap<String, String>);

impl Vars {
    fn get(&self, var: &str) -> Option<&str> {
        self.0.get(var).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// An optional variable, parsed by `parse(var, value)` when set.
    fn opt<T>(
        &self,
        var: &'static str,
        parse: impl FnOnce(&'static str, &str) -> Result<T, SettingsError>,
    ) -> Result<Option<T>, SettingsError> {
        self.get(var).map(|v| parse(var, v)).transpose()
    }

    /// A base URL variable; its default is also the example shown in errors.
    fn base_url(&self, var: &'static str, default: &str) -> Result<Url, SettingsError> {
        base_url(var, self.get(var).unwrap_or(default), default)
    }

    fn duration(&self, var: &'static str, default: Duration) -> Result<Duration, SettingsError> {
        const ACCEPTED: &str = "(use e.g. 30s, 5m, 1h)";
        let Some(value) = self.get(var) else {
            return Ok(default);
        };
        match humantime::parse_duration(value) {
            Ok(d) if d.is_zero() => Err(SettingsError::invalid(
                var,
                value,
                format!("must be greater than zero {ACCEPTED}"),
            )),
            Ok(d) => Ok(d),
            Err(_) => Err(SettingsError::invalid(
                var,
                value,
                format!("is not a duration {ACCEPTED}"),
            )),
        }
    }

    fn log_filter(&self) -> LogFilter {
        let (var, filter) = match (self.get("LOG"), self.get("RUST_LOG")) {
            (Some(f), _) => ("LOG", f),
            (None, Some(f)) => ("RUST_LOG", f),
            (None, None) => ("LOG", "info"),
        };
        LogFilter {
            var,
            filter: filter.to_owned(),
        }
    }
}

/// The scheme of a URL-like string, when it looks like one (so that a malformed value is never
/// shown past its scheme).
fn scheme_of(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once(':')?;
    let mut bytes = scheme.bytes();
    let plausible = scheme.len() <= 16
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    plausible.then_some(scheme)
}

fn database_url(value: &str) -> Result<SecretString, SettingsError> {
    const VAR: &str = "DATABASE_URL";
    let Some(scheme) = scheme_of(value) else {
        return Err(SettingsError::secret(
            VAR,
            "has no URL scheme (use sqlite://chatters.db, mysql://user:password@host/database \
             or postgres://user:password@host/database)",
        ));
    };
    match Backend::from_url(value) {
        Err(_) => Err(SettingsError::secret(
            VAR,
            format!(
                "scheme {scheme:?} is not supported (use sqlite://, mysql://, mariadb:// or \
                 postgres://)"
            ),
        )),
        Ok(Backend::Sqlite) => {
            let rest = value[scheme.len() + 1..].trim_start_matches('/');
            let file = rest.split('?').next().unwrap_or("");
            if file.is_empty() {
                Err(SettingsError::secret(
                    VAR,
                    "the sqlite URL names no file (use e.g. sqlite://chatters.db)",
                ))
            } else {
                Ok(SecretString::from(value))
            }
        }
        Ok(_) => match Url::parse(value) {
            Ok(url) if url.host_str().is_some_and(|h| !h.is_empty()) => {
                Ok(SecretString::from(value))
            }
            _ => Err(SettingsError::secret(
                VAR,
                format!(
                    "is not a valid {scheme} URL (use {scheme}://user:password@host:port/database)"
                ),
            )),
        },
    }
}

fn redis_url(value: &str) -> Result<SecretString, SettingsError> {
    let valid = match Url::parse(value) {
        Ok(url) => match url.scheme() {
            "redis" | "rediss" => url.host_str().is_some_and(|h| !h.is_empty()),
            "redis+unix" | "unix" => !url.path().is_empty(),
            _ => false,
        },
        Err(_) => false,
    };
    if valid {
        Ok(SecretString::from(value))
    } else {
        Err(SettingsError::secret(
            "REDIS_URL",
            "is not a Redis URL (use redis://host:6379, rediss://host:6379 for TLS, or \
             redis+unix:///path/to/socket)",
        ))
    }
}

fn login(var: &'static str, value: &str, accepted: &str) -> Result<Login, SettingsError> {
    Login::parse(value).map_err(|_| {
        SettingsError::invalid(var, value, format!("is not a Twitch login ({accepted})"))
    })
}

fn channels(value: &str) -> Result<Vec<Login>, SettingsError> {
    let mut out: Vec<Login> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let login = login(
            "CHATTERS_CHANNELS",
            item,
            "use comma-separated logins of 1-25 characters a-z, 0-9 or _",
        )?;
        if !out.contains(&login) {
            out.push(login);
        }
    }
    Ok(out)
}

fn has_bad_chars(value: &str) -> bool {
    value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A credential that is not secret (the client id): shown in its error.
fn plain_token(var: &'static str, value: &str) -> Result<String, SettingsError> {
    if has_bad_chars(value) {
        Err(SettingsError::invalid(
            var,
            value,
            "contains whitespace or control characters (use the value alone)",
        ))
    } else {
        Ok(value.to_owned())
    }
}

fn secret_token(var: &'static str, value: &str) -> Result<SecretString, SettingsError> {
    if has_bad_chars(value) {
        Err(SettingsError::secret(
            var,
            "contains whitespace or control characters (use the value alone)",
        ))
    } else {
        Ok(SecretString::from(value))
    }
}

/// `TWITCH_BOT_LOGIN` and `TWITCH_BOT_TOKEN`: both or neither.
fn bot_account(vars: &Vars) -> Result<(Option<Login>, Option<SecretString>), SettingsError> {
    let login = vars.opt("TWITCH_BOT_LOGIN", |var, v| {
        login(var, v, "use 1-25 characters of a-z, 0-9 or _")
    })?;
    let token = vars.get("TWITCH_BOT_TOKEN").map(bot_token).transpose()?;
    match (&login, &token) {
        (Some(_), None) => Err(SettingsError::Required {
            var: "TWITCH_BOT_TOKEN",
            because: "TWITCH_BOT_LOGIN",
        }),
        (None, Some(_)) => Err(SettingsError::Required {
            var: "TWITCH_BOT_LOGIN",
            because: "TWITCH_BOT_TOKEN",
        }),
        _ => Ok((login, token)),
    }
}

fn bot_token(value: &str) -> Result<SecretString, SettingsError> {
    const VAR: &str = "TWITCH_BOT_TOKEN";
    let token = value.strip_prefix("oauth:").unwrap_or(value);
    if token.is_empty() {
        return Err(SettingsError::secret(
            VAR,
            "is only the oauth: prefix (use the token, with or without oauth:)",
        ));
    }
    if has_bad_chars(token) {
        return Err(SettingsError::secret(
            VAR,
            "contains whitespace or control characters (use the token alone, with or without \
             oauth:)",
        ));
    }
    Ok(SecretString::from(token))
}

/// Rejects a URL carrying credentials without repeating it: these URLs are shown in errors
/// and `Debug` output, so they must not hold a password.
fn no_credentials(var: &'static str, value: &str, accepted: &str) -> Result<(), SettingsError> {
    match Url::parse(value) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            Err(SettingsError::secret(
                var,
                format!("must not contain a user or password ({accepted})"),
            ))
        }
        _ => Ok(()),
    }
}

fn irc_url(value: &str) -> Result<IrcUrl, SettingsError> {
    const ACCEPTED: &str = "use irc://host:port for plain TCP or ircs://host:port for TLS";
    no_credentials("TWITCH_IRC_URL", value, ACCEPTED)?;
    let parsed = Url::parse(value).ok().and_then(|url| {
        let tls = match url.scheme() {
            "ircs" => true,
            "irc" => false,
            _ => return None,
        };
        let plain =
            matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none();
        let host = match url.host()? {
            Host::Domain(d) if !d.is_empty() => d.to_owned(),
            Host::Domain(_) => return None,
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        let port = url.port().unwrap_or(if tls { 6697 } else { 6667 });
        plain.then_some(IrcUrl { tls, host, port })
    });
    parsed.ok_or_else(|| {
        SettingsError::invalid(
            "TWITCH_IRC_URL",
            value,
            format!("is not an IRC URL ({ACCEPTED})"),
        )
    })
}

/// An http(s) URL with a host and no query or fragment.
fn http_url(value: &str) -> Option<Url> {
    let url = Url::parse(value).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none();
    ok.then_some(url)
}

/// A base URL that relative paths are joined to: always ends with `/`.
fn base_url(var: &'static str, value: &str, example: &str) -> Result<Url, SettingsError> {
    no_credentials(var, value, &format!("use e.g. {example}"))?;
    let mut url = http_url(value).ok_or_else(|| {
        SettingsError::invalid(
            var,
            value,
            format!("is not an http(s) base URL (use e.g. {example})"),
        )
    })?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn web_addr(value: &str) -> Result<SocketAddr, SettingsError> {
    value.parse().map_err(|_| {
        SettingsError::invalid(
            "WEB_ADDR",
            value,
            "is not a socket address (use e.g. 127.0.0.1:8080 or 0.0.0.0:8080)",
        )
    })
}

fn public_base_url(value: &str) -> Result<String, SettingsError> {
    no_credentials(
        "PUBLIC_BASE_URL",
        value,
        "use e.g. https://chatters.example.com",
    )?;
    let url = http_url(value).ok_or_else(|| {
        SettingsError::invalid(
            "PUBLIC_BASE_URL",
            value,
            "is not an http(s) base URL (use e.g. https://chatters.example.com)",
        )
    })?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn webhook_url(
    var: &'static str,
    value: &str,
    example: &str,
) -> Result<SecretString, SettingsError> {
    match http_url(value) {
        Some(_) => Ok(SecretString::from(value)),
        None => Err(SettingsError::secret(
            var,
            format!("is not an http(s) URL (use {example})"),
        )),
    }
}

fn command_prefix(value: &str) -> Result<String, SettingsError> {
    const VAR: &str = "COMMAND_PREFIX";
    if value.starts_with(['/', '.']) {
        return Err(SettingsError::invalid(
            VAR,
            value,
            "must not start with / or . (Twitch reads those as chat commands; use e.g. !)",
        ));
    }
    let len = value.chars().count();
    if !(1..=8).contains(&len) || has_bad_chars(value) {
        return Err(SettingsError::invalid(
            VAR,
            value,
            "must be 1-8 characters without spaces (use e.g. ! or ?)",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    fn error(var: &str, value: &str) -> String {
        match settings(&[(var, value)]) {
            Ok(_) => panic!("{var}={value:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn login(s: &str) -> Login {
        Login::parse(s).expect("valid login")
    }

    #[test]
    fn every_variable_has_its_spec_default() {
        let s = settings(&[]).expect("defaults are valid");

        assert_eq!(s.database_url.expose_secret(), "sqlite://chatters.db");
        assert_eq!(s.database_backend(), Backend::Sqlite);
        assert!(s.redis_url.is_none());
        assert!(s.channels.is_empty());
        assert_eq!(s.twitch_client_id, None);
        assert!(s.twitch_client_secret.is_none());
        assert_eq!(s.twitch_bot_login, None);
        assert!(s.twitch_bot_token.is_none());
        assert!(s.twitch_bot_refresh_token.is_none());
        assert_eq!(
            s.twitch_irc_url,
            IrcUrl {
                tls: true,
                host: "irc.chat.twitch.tv".into(),
                port: 6697
            }
        );
        assert_eq!(s.twitch_helix_url.as_str(), "https://api.twitch.tv/helix/");
        assert_eq!(s.twitch_oauth2_url.as_str(), "https://id.twitch.tv/oauth2/");
        assert_eq!(s.web_addr, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(s.public_base_url, "http://127.0.0.1:8080");
        assert!(s.discord_webhook_url.is_none());
        assert!(s.slack_webhook_url.is_none());
        assert_eq!(s.snapshot_interval, Duration::from_secs(300));
        assert_eq!(s.stream_poll_interval, Duration::from_secs(60));
        assert_eq!(s.offline_snapshot_interval, Duration::from_secs(900));
        assert_eq!(s.presence_timeout, Duration::from_secs(900));
        assert_eq!(s.command_prefix, "!");
        assert_eq!(
            s.log,
            LogFilter {
                var: "LOG",
                filter: "info".into()
            }
        );
    }

    #[test]
    fn empty_and_blank_values_count_as_unset() {
        let names = [
            "DATABASE_URL",
            "REDIS_URL",
            "CHATTERS_CHANNELS",
            "TWITCH_CLIENT_ID",
            "TWITCH_CLIENT_SECRET",
            "TWITCH_BOT_LOGIN",
            "TWITCH_BOT_TOKEN",
            "TWITCH_BOT_REFRESH_TOKEN",
            "TWITCH_IRC_URL",
            "TWITCH_HELIX_URL",
            "TWITCH_OAUTH2_URL",
            "WEB_ADDR",
            "PUBLIC_BASE_URL",
            "DISCORD_WEBHOOK_URL",
            "SLACK_WEBHOOK_URL",
            "SNAPSHOT_INTERVAL",
            "STREAM_POLL_INTERVAL",
            "OFFLINE_SNAPSHOT_INTERVAL",
            "PRESENCE_TIMEOUT",
            "COMMAND_PREFIX",
            "LOG",
            "RUST_LOG",
        ];
        let vars: Vec<(&str, &str)> = names.iter().map(|n| (*n, " ")).collect();

        let s = settings(&vars).expect("blank values are unset");

        assert_eq!(s.database_url.expose_secret(), "sqlite://chatters.db");
        assert_eq!(s.web_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.command_prefix, "!");
        assert_eq!(s.log.filter, "info");
    }

    #[test]
    fn values_are_parsed() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://u:pw@db.internal:5432/chatters"),
            ("REDIS_URL", "redis://:pw@cache:6379/0"),
            ("CHATTERS_CHANNELS", " Forsen, ,#xqc,forsen,"),
            ("TWITCH_CLIENT_ID", "abc123"),
            ("TWITCH_CLIENT_SECRET", "s3cr3t"),
            ("TWITCH_BOT_LOGIN", "@ChattersBot"),
            ("TWITCH_BOT_TOKEN", "oauth:tok3n"),
            ("TWITCH_BOT_REFRESH_TOKEN", "r3fr3sh"),
            ("TWITCH_IRC_URL", "irc://127.0.0.1"),
            ("TWITCH_HELIX_URL", "http://127.0.0.1:9000/helix"),
            ("TWITCH_OAUTH2_URL", "http://127.0.0.1:9000/oauth2/"),
            ("WEB_ADDR", "0.0.0.0:9090"),
            ("PUBLIC_BASE_URL", "https://stats.example.com/chatters/"),
            (
                "DISCORD_WEBHOOK_URL",
                "http://127.0.0.1:7000/api/webhooks/1/t",
            ),
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T/B/x",
            ),
            ("SNAPSHOT_INTERVAL", "30s"),
            ("STREAM_POLL_INTERVAL", "2m"),
            ("OFFLINE_SNAPSHOT_INTERVAL", "1h"),
            ("PRESENCE_TIMEOUT", "10m 30s"),
            ("COMMAND_PREFIX", "?!"),
            ("RUST_LOG", "debug"),
        ])
        .expect("valid");

        assert_eq!(s.database_backend(), Backend::Postgres);
        assert_eq!(s.channels, vec![login("forsen"), login("xqc")]);
        assert_eq!(s.twitch_client_id.as_deref(), Some("abc123"));
        assert_eq!(s.twitch_bot_login, Some(login("chattersbot")));
        assert_eq!(
            s.twitch_bot_token.as_ref().map(|t| t.expose_secret()),
            Some("tok3n")
        );
        assert_eq!(
            s.twitch_irc_url,
            IrcUrl {
                tls: false,
                host: "127.0.0.1".into(),
                port: 6667
            }
        );
        assert_eq!(s.twitch_irc_url.to_string(), "irc://127.0.0.1:6667");
        assert_eq!(s.twitch_helix_url.as_str(), "http://127.0.0.1:9000/helix/");
        assert_eq!(
            s.twitch_oauth2_url.as_str(),
            "http://127.0.0.1:9000/oauth2/"
        );
        assert_eq!(s.web_addr.to_string(), "0.0.0.0:9090");
        assert_eq!(s.public_base_url, "https://stats.example.com/chatters");
        assert_eq!(s.snapshot_interval, Duration::from_secs(30));
        assert_eq!(s.stream_poll_interval, Duration::from_secs(120));
        assert_eq!(s.offline_snapshot_interval, Duration::from_secs(3600));
        assert_eq!(s.presence_timeout, Duration::from_secs(630));
        assert_eq!(s.command_prefix, "?!");
        assert_eq!(s.log.var, "RUST_LOG");
        assert_eq!(s.log.filter, "debug");
    }

    #[test]
    fn irc_urls_default_their_port_by_scheme() {
        let tls = settings(&[("TWITCH_IRC_URL", "ircs://irc.example.net")]).expect("valid");
        let ipv6 = settings(&[("TWITCH_IRC_URL", "irc://[::1]:7000")]).expect("valid");

        assert_eq!(tls.twitch_irc_url.port, 6697);
        assert!(tls.twitch_irc_url.tls);
        assert_eq!(ipv6.twitch_irc_url.host, "::1");
        assert_eq!(ipv6.twitch_irc_url.to_string(), "irc://[::1]:7000");
    }

    #[test]
    fn public_base_url_defaults_to_the_web_address() {
        let s = settings(&[("WEB_ADDR", "[::1]:3000")]).expect("valid");

        assert_eq!(s.public_base_url, "http://[::1]:3000");
    }

    #[test]
    fn log_wins_over_rust_log() {
        let s = settings(&[("RUST_LOG", "debug"), ("LOG", "warn")]).expect("valid");

        assert_eq!(
            s.log,
            LogFilter {
                var: "LOG",
                filter: "warn".into()
            }
        );
        assert_eq!(
            s.log.invalid().to_string(),
            "LOG: \"warn\" is not a tracing filter (use e.g. info, debug or info,chatters_core=debug)"
        );
    }

    #[test]
    fn other_database_schemes_are_accepted() {
        for (url, backend) in [
            ("sqlite::memory:", Backend::Sqlite),
            ("sqlite:file:t?mode=memory&cache=shared", Backend::Sqlite),
            (
                "sqlite:///var/lib/chatters/db.sqlite?mode=rwc",
                Backend::Sqlite,
            ),
            ("mysql://root@127.0.0.1:3306/chatters", Backend::MySql),
            ("mariadb://root@127.0.0.1/chatters", Backend::MySql),
            ("postgresql://localhost/chatters", Backend::Postgres),
        ] {
            let s = settings(&[("DATABASE_URL", url)]).expect(url);
            assert_eq!(s.database_backend(), backend, "{url}");
        }
    }

    #[test]
    fn bad_values_are_one_line_errors_naming_the_variable() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "DATABASE_URL",
                "bogus://x",
                "DATABASE_URL: scheme \"bogus\" is not supported (use sqlite://, mysql://, mariadb:// or postgres://)",
            ),
            (
                "DATABASE_URL",
                "chatters.db",
                "DATABASE_URL: has no URL scheme (use sqlite://chatters.db, mysql://user:password@host/database or postgres://user:password@host/database)",
            ),
            (
                "DATABASE_URL",
                "sqlite://",
                "DATABASE_URL: the sqlite URL names no file (use e.g. sqlite://chatters.db)",
            ),
            (
                "DATABASE_URL",
                "postgres://user:hunter2@",
                "DATABASE_URL: is not a valid postgres URL (use postgres://user:password@host:port/database)",
            ),
            (
                "REDIS_URL",
                "http://:hunter2@cache",
                "REDIS_URL: is not a Redis URL (use redis://host:6379, rediss://host:6379 for TLS, or redis+unix:///path/to/socket)",
            ),
            (
                "CHATTERS_CHANNELS",
                "forsen,bad login",
                "CHATTERS_CHANNELS: \"bad login\" is not a Twitch login (use comma-separated logins of 1-25 characters a-z, 0-9 or _)",
            ),
            (
                "TWITCH_CLIENT_ID",
                "ab cd",
                "TWITCH_CLIENT_ID: \"ab cd\" contains whitespace or control characters (use the value alone)",
            ),
            (
                "TWITCH_CLIENT_SECRET",
                "hunter2 hunter2",
                "TWITCH_CLIENT_SECRET: contains whitespace or control characters (use the value alone)",
            ),
            (
                "TWITCH_BOT_LOGIN",
                "chatters-bot",
                "TWITCH_BOT_LOGIN: \"chatters-bot\" is not a Twitch login (use 1-25 characters of a-z, 0-9 or _)",
            ),
            (
                "TWITCH_BOT_LOGIN",
                "chattersbot",
                "TWITCH_BOT_TOKEN: required when TWITCH_BOT_LOGIN is set (set both, or neither to read chat anonymously)",
            ),
            (
                "TWITCH_BOT_TOKEN",
                "hunter2",
                "TWITCH_BOT_LOGIN: required when TWITCH_BOT_TOKEN is set (set both, or neither to read chat anonymously)",
            ),
            (
                "TWITCH_BOT_TOKEN",
                "oauth:",
                "TWITCH_BOT_TOKEN: is only the oauth: prefix (use the token, with or without oauth:)",
            ),
            (
                "TWITCH_BOT_TOKEN",
                "hunter2\r\nPRIVMSG",
                "TWITCH_BOT_TOKEN: contains whitespace or control characters (use the token alone, with or without oauth:)",
            ),
            (
                "TWITCH_BOT_REFRESH_TOKEN",
                "hunter2\thunter2",
                "TWITCH_BOT_REFRESH_TOKEN: contains whitespace or control characters (use the value alone)",
            ),
            (
                "TWITCH_IRC_URL",
                "http://x",
                "TWITCH_IRC_URL: \"http://x\" is not an IRC URL (use irc://host:port for plain TCP or ircs://host:port for TLS)",
            ),
            (
                "TWITCH_IRC_URL",
                "ircs://",
                "TWITCH_IRC_URL: \"ircs://\" is not an IRC URL (use irc://host:port for plain TCP or ircs://host:port for TLS)",
            ),
            (
                "TWITCH_IRC_URL",
                "irc://host:6667/channel",
                "TWITCH_IRC_URL: \"irc://host:6667/channel\" is not an IRC URL (use irc://host:port for plain TCP or ircs://host:port for TLS)",
            ),
            (
                "TWITCH_HELIX_URL",
                "ftp://api.twitch.tv/helix/",
                "TWITCH_HELIX_URL: \"ftp://api.twitch.tv/helix/\" is not an http(s) base URL (use e.g. https://api.twitch.tv/helix/)",
            ),
            (
                "TWITCH_OAUTH2_URL",
                "id.twitch.tv/oauth2",
                "TWITCH_OAUTH2_URL: \"id.twitch.tv/oauth2\" is not an http(s) base URL (use e.g. https://id.twitch.tv/oauth2/)",
            ),
            (
                "TWITCH_IRC_URL",
                "ircs://bot:hunter2@irc.example.net",
                "TWITCH_IRC_URL: must not contain a user or password (use irc://host:port for plain TCP or ircs://host:port for TLS)",
            ),
            (
                "TWITCH_HELIX_URL",
                "https://user:hunter2@api.twitch.tv/helix/",
                "TWITCH_HELIX_URL: must not contain a user or password (use e.g. https://api.twitch.tv/helix/)",
            ),
            (
                "PUBLIC_BASE_URL",
                "https://admin:hunter2@example.com",
                "PUBLIC_BASE_URL: must not contain a user or password (use e.g. https://chatters.example.com)",
            ),
            (
                "WEB_ADDR",
                "nope",
                "WEB_ADDR: \"nope\" is not a socket address (use e.g. 127.0.0.1:8080 or 0.0.0.0:8080)",
            ),
            (
                "PUBLIC_BASE_URL",
                "https://example.com/?a=b",
                "PUBLIC_BASE_URL: \"https://example.com/?a=b\" is not an http(s) base URL (use e.g. https://chatters.example.com)",
            ),
            (
                "DISCORD_WEBHOOK_URL",
                "discord.com/api/webhooks/1/hunter2",
                "DISCORD_WEBHOOK_URL: is not an http(s) URL (use https://discord.com/api/webhooks/<id>/<token>)",
            ),
            (
                "SLACK_WEBHOOK_URL",
                "ws://hooks.slack.com/services/T/B/hunter2",
                "SLACK_WEBHOOK_URL: is not an http(s) URL (use https://hooks.slack.com/services/<team>/<bot>/<token>)",
            ),
            (
                "SNAPSHOT_INTERVAL",
                "abc",
                "SNAPSHOT_INTERVAL: \"abc\" is not a duration (use e.g. 30s, 5m, 1h)",
            ),
            (
                "STREAM_POLL_INTERVAL",
                "60",
                "STREAM_POLL_INTERVAL: \"60\" is not a duration (use e.g. 30s, 5m, 1h)",
            ),
            (
                "OFFLINE_SNAPSHOT_INTERVAL",
                "0s",
                "OFFLINE_SNAPSHOT_INTERVAL: \"0s\" must be greater than zero (use e.g. 30s, 5m, 1h)",
            ),
            (
                "PRESENCE_TIMEOUT",
                "-5m",
                "PRESENCE_TIMEOUT: \"-5m\" is not a duration (use e.g. 30s, 5m, 1h)",
            ),
            (
                "COMMAND_PREFIX",
                "/",
                "COMMAND_PREFIX: \"/\" must not start with / or . (Twitch reads those as chat commands; use e.g. !)",
            ),
            (
                "COMMAND_PREFIX",
                ".x",
                "COMMAND_PREFIX: \".x\" must not start with / or . (Twitch reads those as chat commands; use e.g. !)",
            ),
            (
                "COMMAND_PREFIX",
                "a b",
                "COMMAND_PREFIX: \"a b\" must be 1-8 characters without spaces (use e.g. ! or ?)",
            ),
            (
                "COMMAND_PREFIX",
                "123456789",
                "COMMAND_PREFIX: \"123456789\" must be 1-8 characters without spaces (use e.g. ! or ?)",
            ),
        ];
        for (var, value, expected) in cases {
            let message = error(var, value);
            assert_eq!(&message, expected, "{var}={value:?}");
            assert!(!message.contains('\n'), "{var}: {message}");
            assert!(!message.contains("hunter2"), "{var}: {message}");
        }
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let s = settings(&[
            ("DATABASE_URL", "mysql://root:hunter2-db@db/chatters"),
            ("REDIS_URL", "redis://:hunter2-redis@cache:6379"),
            ("TWITCH_CLIENT_SECRET", "hunter2-client"),
            ("TWITCH_BOT_LOGIN", "chattersbot"),
            ("TWITCH_BOT_TOKEN", "oauth:hunter2-token"),
            ("TWITCH_BOT_REFRESH_TOKEN", "hunter2-refresh"),
            (
                "DISCORD_WEBHOOK_URL",
                "https://discord.com/api/webhooks/1/hunter2-discord",
            ),
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T/B/hunter2-slack",
            ),
        ])
        .expect("valid");

        let debug = format!("{s:?} {s:#?}");

        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("REDACTED"));
        assert!(debug.contains("chattersbot"));
    }
}
