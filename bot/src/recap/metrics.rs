//! The recap counters published on `/metrics` as `chatters_recaps_total{service, result}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Publishes the counters on the web endpoint's `/metrics`.
    pub fn register(self: &Arc<Self>, metrics: &chatters_web::metrics::Metrics) {
        let this = self.clone();
        metrics.register(move |w| {
            for service in [Service::Discord, Service::Slack] {
                for result in Delivery::ALL {
                    w.counter_with(
                        "chatters_recaps_total",
                        "Recap and digest delivery attempts by service and result \
                         (sent, retried, given_up, disabled).",
                        &[("service", service.as_str()), ("result", result.as_str())],
                        this.get(service, result),
                    );
                }
            }
        });
    }
}
