//! The SPEC's "Operations settings" that concern running chatters rather than Twitch:
//! `RETENTION`, `METRICS_ADDR` and `LOG_FORMAT` ([`Operations`]), parsed with the rest of
//! [`Settings`](super::Settings) and reported the same way.

use std::net::SocketAddr;
use std::time::Duration;

use super::{SettingsError, Vars};

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// `RETENTION`, `METRICS_ADDR` and `LOG_FORMAT`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operations {
    /// `RETENTION`: how long per-user history is kept (`None`: forever). Pruned daily.
    pub retention: Option<Duration>,
    /// `METRICS_ADDR`: when set, `/metrics` is served only on this address, not on `WEB_ADDR`.
    pub metrics_addr: Option<SocketAddr>,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
}

/// The shortest `RETENTION` accepted: pruning runs daily, so less would delete the history of
/// streams still being talked about.
pub const MIN_RETENTION: Duration = Duration::from_secs(24 * 3600);

impl Operations {
    pub(super) fn from_vars(vars: &Vars) -> Result<Self, SettingsError> {
        Ok(Self {
            retention: vars.opt("RETENTION", retention)?,
            metrics_addr: vars.opt("METRICS_ADDR", metrics_addr)?,
            log_format: vars
                .opt("LOG_FORMAT", log_format)?
                .unwrap_or(LogFormat::Text),
        })
    }
}

fn retention(var: &'static str, value: &str) -> Result<Duration, SettingsError> {
    match humantime::parse_duration(value) {
        Ok(d) if d >= MIN_RETENTION => Ok(d),
        Ok(_) => Err(SettingsError::invalid(
            var,
            value,
            "must be at least 1d (use e.g. 400d, or leave it unset to keep everything)",
        )),
        Err(_) => Err(SettingsError::invalid(
            var,
            value,
            "is not a duration (use e.g. 400d or 90d)",
        )),
    }
}

fn metrics_addr(var: &'static str, value: &str) -> Result<SocketAddr, SettingsError> {
    value.parse().map_err(|_| {
        SettingsError::invalid(
            var,
            value,
            "is not a socket address (use e.g. 127.0.0.1:9090)",
        )
    })
}

fn log_format(var: &'static str, value: &str) -> Result<LogFormat, SettingsError> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(SettingsError::invalid(var, value, "must be text or json")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    fn operations(vars: &[(&str, &str)]) -> Result<Operations, SettingsError> {
        Settings::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .map(|s| s.operations)
    }

    #[test]
    fn defaults_keep_everything_log_text_and_serve_metrics_on_the_web_address() {
        assert_eq!(operations(&[]), Ok(Operations::default()));
    }

    #[test]
    fn values_are_parsed() {
        let ops = operations(&[
            ("RETENTION", "400d"),
            ("METRICS_ADDR", "127.0.0.1:9090"),
            ("LOG_FORMAT", "JSON"),
        ])
        .expect("valid");

        assert_eq!(
            ops,
            Operations {
                retention: Some(Duration::from_secs(400 * 86_400)),
                metrics_addr: Some("127.0.0.1:9090".parse().expect("addr")),
                log_format: LogFormat::Json,
            }
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("RETENTION", "soon"),
            ("RETENTION", "1h"),
            ("METRICS_ADDR", "9090"),
            ("LOG_FORMAT", "xml"),
        ] {
            let error = operations(&[(var, value)])
                .expect_err("rejected")
                .to_string();
            assert!(error.starts_with(&format!("{var}: ")), "{error}");
        }
    }
}
