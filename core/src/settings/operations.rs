//! The SPEC's "Operations settings" that concern running chatters rather than Twitch:
//! `RETENTION`, `METRICS_ADDR` and `LOG_FORMAT` ([`Operations`]), parsed with the rest of the
//! settings, which turn a [`Rejected`] value into their one-line error naming the variable.

use std::net::SocketAddr;
use std::time::Duration;

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

/// A value one of these variables does not accept (none of them is secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rejected {
    /// The variable.
    pub(super) var: &'static str,
    /// The value given.
    pub(super) value: String,
    /// What is wrong and what is accepted.
    pub(super) problem: &'static str,
}

impl Operations {
    /// Parses the variables through `get` (a set value, trimmed, or `None`).
    pub(super) fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, Rejected> {
        fn reject(var: &'static str, value: &str) -> impl FnOnce(&'static str) -> Rejected {
            let value = value.to_owned();
            move |problem| Rejected {
                var,
                value,
                problem,
            }
        }
        let mut operations = Self::default();
        if let Some(v) = get("RETENTION") {
            operations.retention = Some(retention(v).map_err(reject("RETENTION", v))?);
        }
        if let Some(v) = get("METRICS_ADDR") {
            operations.metrics_addr = Some(metrics_addr(v).map_err(reject("METRICS_ADDR", v))?);
        }
        if let Some(v) = get("LOG_FORMAT") {
            operations.log_format = log_format(v).map_err(reject("LOG_FORMAT", v))?;
        }
        Ok(operations)
    }
}

fn retention(value: &str) -> Result<Duration, &'static str> {
    match humantime::parse_duration(value) {
        Ok(d) if d >= MIN_RETENTION => Ok(d),
        Ok(_) => Err("must be at least 1d (use e.g. 400d, or leave it unset to keep everything)"),
        Err(_) => Err("is not a duration (use e.g. 400d or 90d)"),
    }
}

fn metrics_addr(value: &str) -> Result<SocketAddr, &'static str> {
    value
        .parse()
        .map_err(|_| "is not a socket address (use e.g. 127.0.0.1:9090)")
}

fn log_format(value: &str) -> Result<LogFormat, &'static str> {
    match value.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("must be text or json"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Settings, SettingsError};
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
