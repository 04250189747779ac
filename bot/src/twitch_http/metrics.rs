//! Counters of every call to Twitch (Helix and OAuth): by endpoint and outcome, plus retries,
//! final failures, token refreshes and the time spent waiting for budget. The web `/metrics`
//! renders a [`MetricsSnapshot`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Shared counters; cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct HelixMetrics {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (endpoint, outcome) → calls. Outcome: the HTTP status, or `timeout`/`connect`/`error`.
    calls: Mutex<BTreeMap<(String, String), u64>>,
    /// endpoint → calls that failed after every retry.
    failures: Mutex<BTreeMap<String, u64>>,
    retries: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    budget_wait_micros: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Calls sent, by endpoint (`users`, `chat/chatters`, `oauth2/token`, ...) and outcome (the
    /// HTTP status such as `200`, or `timeout`, `connect`, `error` when no response came).
    pub calls: BTreeMap<(String, String), u64>,
    /// Requests that failed after every retry, by endpoint.
    pub failures: BTreeMap<String, u64>,
    /// Attempts repeated after a transient failure (5xx, 429, timeout, unparsable body).
    pub retries: u64,
    /// Successful token refreshes (user token refreshed or app token renewed).
    pub refreshes: u64,
    /// Failed token refreshes.
    pub refresh_failures: u64,
    /// Total time calls waited for rate-limit budget.
    pub budget_wait: Duration,
}

impl MetricsSnapshot {
    /// Calls to `endpoint` that ended with `outcome` (e.g. `("chat/chatters", "429")`).
    pub fn count(&self, endpoint: &str, outcome: &str) -> u64 {
        self.calls
            .get(&(endpoint.to_owned(), outcome.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

impl HelixMetrics {
    /// Counts one call to `endpoint` that ended with `outcome`.
    pub(crate) fn call(&self, endpoint: &str, outcome: &str) {
        let mut calls = self
            .inner
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *calls
            .entry((endpoint.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// Counts a request that failed after every retry.
    pub(crate) fn failure(&self, endpoint: &str) {
        let mut failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *failures.entry(endpoint.to_owned()).or_default() += 1;
    }

    /// Counts one retry.
    pub(crate) fn retry(&self) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one token refresh, successful or not.
    pub(crate) fn refresh(&self, ok: bool) {
        let counter = if ok {
            &self.inner.refreshes
        } else {
            &self.inner.refresh_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds time spent waiting for budget.
    pub(crate) fn budget_wait(&self, waited: Duration) {
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        self.inner
            .budget_wait_micros
            .fetch_add(micros, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let calls = self
            .inner
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        MetricsSnapshot {
            calls,
            failures,
            retries: self.inner.retries.load(Ordering::Relaxed),
            refreshes: self.inner.refreshes.load(Ordering::Relaxed),
            refresh_failures: self.inner.refresh_failures.load(Ordering::Relaxed),
            budget_wait: Duration::from_micros(
                self.inner.budget_wait_micros.load(Ordering::Relaxed),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_endpoint_and_outcome() {
        let metrics = HelixMetrics::default();
        metrics.call("users", "200");
        metrics.call("users", "200");
        metrics.call("users", "429");
        metrics.call("oauth2/token", "timeout");
        metrics.failure("users");
        metrics.retry();
        metrics.refresh(true);
        metrics.refresh(false);
        metrics.budget_wait(Duration::from_millis(75));
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.count("users", "200"), 2);
        assert_eq!(snapshot.count("users", "429"), 1);
        assert_eq!(snapshot.count("oauth2/token", "timeout"), 1);
        assert_eq!(snapshot.count("streams", "200"), 0);
        assert_eq!(snapshot.failures, BTreeMap::from([("users".to_owned(), 1)]));
        assert_eq!(snapshot.retries, 1);
        assert_eq!(snapshot.refreshes, 1);
        assert_eq!(snapshot.refresh_failures, 1);
        assert_eq!(snapshot.budget_wait, Duration::from_millis(75));
    }
}
