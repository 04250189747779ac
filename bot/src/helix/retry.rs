//! [`RetryPolicy`]: how often and how patiently a Helix call is retried, as a backon backoff.

use std::time::Duration;

use backon::ExponentialBuilder;

/// How often and how patiently a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included).
    pub attempts: usize,
    /// Delay before the first retry; it doubles (with jitter) from there.
    pub min_delay: Duration,
    /// Cap of the delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 250 ms doubling up to 8 s.
    fn default() -> Self {
        Self {
            attempts: 5,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    pub(super) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.attempts.saturating_sub(1))
            .with_jitter()
    }
}
