//! What a webhook's answer means for a recap, the same for Discord and Slack: delivered, try
//! again (when), the webhook is gone, or the message was refused for good.

use std::time::Duration;

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Accepted (2xx).
    Sent,
    /// A failure that may pass (5xx, 408, 429, network): try again, not before `after` when
    /// the service said so (`Retry-After`, Discord's JSON `retry_after`).
    Retry {
        /// What happened (no URL in it).
        error: String,
        /// The service's wait, if it gave one.
        after: Option<Duration>,
    },
    /// 401/403/404/410: the webhook was deleted or its token revoked.
    Revoked {
        /// The status.
        status: u16,
    },
    /// Any other 4xx: sending the same message again cannot succeed.
    Rejected {
        /// What happened.
        error: String,
    },
}

impl Outcome {
    /// Classifies an HTTP answer from its status, `Retry-After` header and body.
    pub fn from_response(status: u16, retry_after: Option<&str>, body: &[u8]) -> Self {
        match status {
            200..=299 => Self::Sent,
            401 | 403 | 404 | 410 => Self::Revoked { status },
            408 | 429 | 500..=599 => {
                let header = retry_after.and_then(seconds);
                let json = json_retry_after(body);
                Self::Retry {
                    error: format!("HTTP {status}{}", detail(body)),
                    after: header.max(json),
                }
            }
            _ => Self::Rejected {
                error: format!("HTTP {status}{}", detail(body)),
            },
        }
    }

    /// A request that got no answer (connection refused, timeout, ...). The text must not
    /// carry the URL: callers pass errors stripped of it.
    pub fn unreachable(error: &(dyn std::error::Error + 'static)) -> Self {
        // The causes say why (refused, timed out, TLS); one quoting a URL is left out.
        let mut text = format!("request failed: {error}");
        let mut source = error.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !cause_text.contains("://") && !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        Self::Retry {
            error: text,
            after: None,
        }
    }
}

/// `Retry-After` as seconds (integer or decimal; an HTTP date is ignored).
fn seconds(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Discord's `{"retry_after": 1.5, ...}` body of a 429.
fn json_retry_after(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let secs = value.get("retry_after")?.as_f64()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// `: message` from a Discord JSON error or a short Slack text body (`invalid_payload`).
fn detail(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => v
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
    // A body echoing a URL is not repeated (it could be the webhook's).
    if text.trim().is_empty() || text.contains("://") {
        String::new()
    } else {
        format!(": {}", text.trim())
    }
}

/// The wait before attempt `attempts + 1`: `base · 2^(attempts − 1)`, at most `max`, or the
/// service's own wait when it gave one.
pub fn backoff(attempts: i64, base: Duration, max: Duration, asked: Option<Duration>) -> Duration {
    if let Some(asked) = asked {
        return asked;
    }
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    base.saturating_mul(2_u32.saturating_pow(exponent)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(Outcome::from_response(204, None, b""), Outcome::Sent);
        assert_eq!(Outcome::from_response(200, None, b"ok"), Outcome::Sent);
        assert_eq!(
            Outcome::from_response(
                404,
                None,
                br#"{"message": "Unknown Webhook", "code": 10015}"#
            ),
            Outcome::Revoked { status: 404 }
        );
        assert_eq!(
            Outcome::from_response(401, None, b""),
            Outcome::Revoked { status: 401 }
        );
        assert_eq!(
            Outcome::from_response(500, None, b"oops"),
            Outcome::Retry {
                error: "HTTP 500: oops".into(),
                after: None
            }
        );
        assert_eq!(
            Outcome::from_response(400, None, b"invalid_payload"),
            Outcome::Rejected {
                error: "HTTP 400: invalid_payload".into()
            }
        );
    }

    #[test]
    fn a_429_waits_as_long_as_asked() {
        let header = Outcome::from_response(429, Some("2"), b"");
        let json = Outcome::from_response(
            429,
            None,
            br#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#,
        );
        let both = Outcome::from_response(429, Some("1"), br#"{"retry_after": 3.25}"#);

        assert!(
            matches!(header, Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(2))
        );
        assert!(
            matches!(json, Outcome::Retry { after: Some(d), .. } if d == Duration::from_millis(1_500))
        );
        assert!(
            matches!(both, Outcome::Retry { after: Some(d), .. } if d == Duration::from_millis(3_250))
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(3_600);
        assert_eq!(backoff(1, base, max, None), Duration::from_secs(30));
        assert_eq!(backoff(2, base, max, None), Duration::from_secs(60));
        assert_eq!(backoff(4, base, max, None), Duration::from_secs(240));
        assert_eq!(backoff(20, base, max, None), max);
        assert_eq!(
            backoff(3, base, max, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn error_details_never_repeat_urls() {
        let o = Outcome::from_response(
            500,
            None,
            b"see https://hooks.slack.com/services/T/B/secret",
        );
        assert_eq!(
            o,
            Outcome::Retry {
                error: "HTTP 500".into(),
                after: None
            }
        );
    }
}
