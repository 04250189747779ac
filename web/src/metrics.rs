//! Counters rendered as Prometheus text by `GET /metrics`.

/// The process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    _private: (),
}
