//! The recap counters published on `/metrics` as `chatters_recaps_total{service, result}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chatters_core::metrics::Metrics;

use super::Service;

/// What became of an attempt, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered.
    Sent,
    /// Failed, retried later.
    Retried,
    /// Failed for good (after 24 h of retries, or refused).
    GivenUp,
    /// The webhook was revoked; the target is disabled for the channel.
    Disabled,
}

impl Delivery {
    const ALL: [Delivery; 4] = [Self::Sent, Self::Retried, Self::GivenUp, Self::Disabled];

    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retried => "retried",
            Self::GivenUp => "given_up",
            Self::Disabled => "disabled",
        }
    }
}

/// Recap counters by service and result (`chatters_recaps_total`).
#[derive(Debug, Default)]
pub struct RecapMetrics {
    counts: [[AtomicU64; 4]; 2],
}

impl RecapMetrics {
    fn slot(&self, service: Service, result: Delivery) -> &AtomicU64 {
        let s = match service {
            Service::Discord => 0,
            Service::Slack => 1,
        };
        let r = Delivery::ALL.iter().position(|d| *d == result).unwrap_or(0);
        &self.counts[s][r]
    }

    pub(super) fn inc(&self, service: Service, result: Delivery) {
        self.slot(service, result).fetch_add(1, Ordering::Relaxed);
    }

    /// The count of one service and result.
    pub fn get(&self, service: Service, result: Delivery) -> u64 {
        self.slot(service, result).load(Ordering::Relaxed)
    }

    /// Publishes the counters in the process's registry.
    pub fn register(self: &Arc<Self>, metrics: &Metrics) {
        let this = self.clone();
        metrics.source(move |w| {
            let samples = [Service::Discord, Service::Slack]
                .into_iter()
                .flat_map(|service| {
                    Delivery::ALL.map(|result| {
                        (
                            [("service", service.as_str()), ("result", result.as_str())],
                            this.get(service, result),
                        )
                    })
                });
            w.counters(
                "chatters_recaps",
                "Recap and digest delivery attempts by service and result \
                 (sent, retried, given_up, disabled).",
                samples,
            )
        });
    }
}
