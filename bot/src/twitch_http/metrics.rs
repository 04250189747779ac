//! Counters of every call to Twitch (Helix and OAuth): by endpoint and outcome, their
//! durations by endpoint, plus retries, final failures, token refreshes and the time spent
//! waiting for budget. [`HelixMetrics::register`] publishes the calls and their durations;
//! tests read a [`MetricsSnapshot`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chatters_core::metrics::{LatencyFamily, Metrics, latency_family};

/// The label set of the duration histograms: the endpoint.
type EndpointLabel = [(&'static str, String); 1];

/// Shared counters; cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct HelixMetrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// (endpoint, outcome) → calls. Outcome: the HTTP status, or `timeout`/`connect`/`error`.
    calls: Mutex<BTreeMap<(String, String), u64>>,
    /// Durations of the calls (one HTTP exchange each, after any wait for budget), by endpoint.
    durations: LatencyFamily<EndpointLabel>,
    /// endpoint → calls that failed after every retry.
    failures: Mutex<BTreeMap<String, u64>>,
    retries: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    budget_wait_micros: AtomicU64,
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            calls: Mutex::default(),
            durations: latency_family(),
            failures: Mutex::default(),
            retries: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            refresh_failures: AtomicU64::new(0),
            budget_wait_micros: AtomicU64::new(0),
        }
    }
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
    /// Counts one call to `endpoint` that ended with `outcome` after `took`.
    pub(crate) fn call(&self, endpoint: &str, outcome: &str, took: Duration) {
        self.inner
            .durations
            .get_or_create(&[("endpoint", endpoint.to_owned())])
            .observe(took.as_secs_f64());
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

    /// Publishes the calls (`chatters_helix_calls_total{endpoint, status}`) and their durations
    /// (`chatters_helix_call_seconds{endpoint}`) in `metrics`.
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(
            "chatters_helix_call_seconds",
            "Duration of Helix and OAuth calls (one HTTP exchange each), by endpoint.",
            self.inner.durations.clone(),
        );
        let inner = self.inner.clone();
        metrics.source(move |w| {
            let calls = inner
                .calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            w.counters(
                "chatters_helix_calls",
                "Helix and OAuth calls by endpoint and HTTP status (or timeout/connect/error).",
                calls.iter().map(|((endpoint, status), n)| {
                    (
                        [("endpoint", endpoint.as_str()), ("status", status.as_str())],
                        *n,
                    )
                }),
            )
        });
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
        let ms = Duration::from_millis;
        metrics.call("users", "200", ms(3));
        metrics.call("users", "200", ms(30));
        metrics.call("users", "429", ms(3));
        metrics.call("oauth2/token", "timeout", ms(3000));
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

    #[test]
    fn calls_and_their_durations_are_published() {
        let helix = HelixMetrics::default();
        let registry = Metrics::default();
        helix.register(&registry);
        helix.call("users", "200", Duration::from_millis(3));
        helix.call("users", "429", Duration::from_millis(40));

        let text = registry.encode();

        for line in [
            "chatters_helix_calls_total{endpoint=\"users\",status=\"200\"} 1",
            "chatters_helix_calls_total{endpoint=\"users\",status=\"429\"} 1",
            "chatters_helix_call_seconds_bucket{endpoint=\"users\",le=\"0.0025\"} 0",
            "chatters_helix_call_seconds_bucket{endpoint=\"users\",le=\"0.005\"} 1",
            "chatters_helix_call_seconds_bucket{endpoint=\"users\",le=\"0.05\"} 2",
            "chatters_helix_call_seconds_count{endpoint=\"users\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
