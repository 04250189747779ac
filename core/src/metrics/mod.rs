//! The process's metrics registry, built on `prometheus-client`: one [`Metrics`] handle that
//! the bot and web halves both register their families with, and that `GET /metrics` encodes
//! in the Prometheus text format (0.0.4, [`CONTENT_TYPE`]).
//!
//! Two ways to feed it:
//! - a live metric (counter, gauge, [`Histogram`], [`Family`]) that code updates as things
//!   happen, registered once with [`Metrics::register`];
//! - a source ([`Metrics::source`]): a closure that writes values kept elsewhere (a
//!   component's own atomics, a cache's sizes) into a [`Scrape`] at every scrape.
//!
//! Counter families are named without `_total` here: the encoder appends it, so
//! `register("chatters_events_committed", ..)` is scraped as `chatters_events_committed_total`.
//! Latencies are histograms over [`LATENCY_BUCKETS`] (seconds).

use std::fmt::{self, Write as _};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Metric, Registry};

pub mod ingest;

pub use prometheus_client::metrics::counter::Counter;
pub use prometheus_client::metrics::family::Family;
pub use prometheus_client::metrics::histogram::Histogram;

/// The `Content-Type` of the text format `GET /metrics` answers with.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Bucket bounds of every latency histogram, in seconds: 1 ms to 10 s, roughly ×2.5 apart, which
/// covers a SQLite commit (ms), a chat reply (tens of ms to a second under Twitch's limits), a
/// chart render and a Helix call (up to its timeout).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A histogram over [`LATENCY_BUCKETS`].
pub fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Latency histograms by one label (such as a Helix endpoint).
pub type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A new, empty [`LatencyFamily`].
pub fn latency_family<L>() -> LatencyFamily<L>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(latency_histogram)
}

/// The registry handle; cloning shares it.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<RwLock<Registry>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    /// A registry with the families every process has: `chatters_build_info` and
    /// `process_start_time_seconds`.
    fn default() -> Self {
        let metrics = Self {
            registry: Arc::new(RwLock::new(Registry::default())),
        };
        let build: Family<[(&'static str, &'static str); 1], Gauge> = Family::default();
        build
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        metrics.register(
            "chatters_build_info",
            "Version of the running chatters binary (always 1).",
            build,
        );
        let started: i64 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let start = Gauge::<i64>::default();
        start.set(started);
        metrics.register(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            start,
        );
        metrics
    }
}

impl Metrics {
    /// Registers a live metric (a clone of it: metrics share their value between clones).
    /// `help` is a sentence; counters are named without `_total`.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        // The registry appends the full stop itself.
        let help = help.strip_suffix('.').unwrap_or(help);
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .register(name, help, metric);
    }

    /// Adds a source: `write` is called at every scrape to write values kept elsewhere.
    pub fn source(&self, write: impl Fn(&mut Scrape<'_>) -> fmt::Result + Send + Sync + 'static) {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .register_collector(Box::new(Source(Box::new(write))));
    }

    /// Every family in the text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8192);
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        encode_into(&mut out, &registry);
        out
    }

    /// Every family, then what `extra` writes for this scrape only (values the caller owns,
    /// such as the web state's chart cache).
    pub fn encode_with(
        &self,
        extra: impl Fn(&mut Scrape<'_>) -> fmt::Result + Send + Sync + 'static,
    ) -> String {
        let mut out = self.encode();
        let mut once = Registry::default();
        once.register_collector(Box::new(Source(Box::new(extra))));
        encode_into(&mut out, &once);
        out
    }
}

/// Appends `registry` in the text format to `out`.
fn encode_into(out: &mut String, registry: &Registry) {
    if prometheus_client::encoding::prometheus_text::encode(out, registry).is_err() {
        // Writing into a String cannot fail: only a source can, which ends the text early.
        let _ = writeln!(out, "# encoding stopped early");
    }
}

type WriteFn = Box<dyn Fn(&mut Scrape<'_>) -> fmt::Result + Send + Sync>;

/// A registered source, as a `prometheus-client` collector.
struct Source(WriteFn);

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Source")
    }
}

impl Collector for Source {
    fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
        (self.0)(&mut Scrape { encoder })
    }
}

/// What a source writes into during one scrape: each call is one whole family.
#[derive(Debug)]
pub struct Scrape<'a> {
    encoder: DescriptorEncoder<'a>,
}

impl Scrape<'_> {
    /// A counter without labels (`name` without `_total`).
    pub fn counter(&mut self, name: &str, help: &str, value: u64) -> fmt::Result {
        let counter = ConstCounter::new(value);
        let encoder = self
            .encoder
            .encode_descriptor(name, help, None, counter.metric_type())?;
        counter.encode(encoder)
    }

    /// A counter family: one value per set of label values (`name` without `_total`).
    /// Labels are pairs such as `[("result", "ok")]`.
    pub fn counters<L: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (L, u64)>,
    ) -> fmt::Result {
        let mut family = self
            .encoder
            .encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, value) in samples {
            ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// A histogram (kept by the caller) without labels.
    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) -> fmt::Result {
        let encoder = self
            .encoder
            .encode_descriptor(name, help, None, histogram.metric_type())?;
        histogram.encode(encoder)
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: i64) -> fmt::Result {
        let gauge = ConstGauge::new(value);
        let encoder = self
            .encoder
            .encode_descriptor(name, help, None, gauge.metric_type())?;
        gauge.encode(encoder)
    }

    /// A gauge without labels, as a float (such as seconds).
    pub fn gauge_f64(&mut self, name: &str, help: &str, value: f64) -> fmt::Result {
        let gauge = ConstGauge::new(value);
        let encoder = self
            .encoder
            .encode_descriptor(name, help, None, gauge.metric_type())?;
        gauge.encode(encoder)
    }
}

/// The value of one sample of an encoded text, by its whole series (`name` or
/// `name{label="value"}`), if present: for tests, benchmarks and load tools.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The families of an encoded text (their `# TYPE` names) none of whose samples has a non-zero
/// value, in order: for tests that check every exported family is fed by some code path.
pub fn silent_families(text: &str) -> Vec<String> {
    let mut families: Vec<(String, bool)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap_or_default();
            families.push((name.to_owned(), false));
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let metric = series.split('{').next().unwrap_or_default();
        let non_zero = value.parse::<f64>().is_ok_and(|v| v != 0.0);
        if let Some((_, touched)) = families.last_mut().filter(|(name, _)| {
            metric
                .strip_prefix(name.as_str())
                .is_some_and(|suffix| ["", "_bucket", "_sum", "_count"].contains(&suffix))
        }) {
            *touched |= non_zero;
        }
    }
    families
        .into_iter()
        .filter_map(|(name, touched)| (!touched).then_some(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_metrics_and_sources_are_encoded_in_the_text_format() {
        let metrics = Metrics::default();
        let jobs = Counter::<u64>::default();
        metrics.register("jobs", "Jobs done.", jobs.clone());
        let latency = latency_histogram();
        metrics.register("job_seconds", "Time per job.", latency.clone());
        metrics.source(|w| {
            w.counters(
                "calls",
                "Calls by status.",
                [([("status", "ok")], 2), ([("status", "say \"hi\"")], 1)],
            )?;
            w.gauge("depth", "Depth.", 7)?;
            w.gauge_f64("last_seconds", "Last.", 0.25)
        });
        jobs.inc_by(5);
        latency.observe(0.003);
        latency.observe(20.0);

        let text = metrics.encode();

        for line in [
            "# HELP jobs_total Jobs done.",
            "# TYPE jobs_total counter",
            "jobs_total 5",
            "# TYPE job_seconds histogram",
            "job_seconds_bucket{le=\"0.0025\"} 0",
            "job_seconds_bucket{le=\"0.005\"} 1",
            "job_seconds_bucket{le=\"10\"} 1",
            "job_seconds_bucket{le=\"+Inf\"} 2",
            "job_seconds_count 2",
            "# TYPE calls_total counter",
            "calls_total{status=\"ok\"} 2",
            "calls_total{status=\"say \\\"hi\\\"\"} 1",
            "depth 7",
            "last_seconds 0.25",
            "# TYPE chatters_build_info gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(
            text.lines()
                .any(|l| l.starts_with("chatters_build_info{version=\"") && l.ends_with("\"} 1")),
            "{text}"
        );
    }

    #[test]
    fn silent_families_are_those_without_a_non_zero_sample() {
        let metrics = Metrics::default();
        let used = latency_histogram();
        used.observe(0.5);
        metrics.register("used_seconds", "Used.", used);
        metrics.register("unused_seconds", "Unused.", latency_histogram());
        metrics.register("idle", "Idle.", Counter::<u64>::default());
        metrics.source(|w| {
            w.counters("mixed", "Mixed.", [([("r", "a")], 0), ([("r", "b")], 3)])?;
            w.gauge("zero", "Zero.", 0)
        });

        assert_eq!(
            silent_families(&metrics.encode()),
            ["unused_seconds", "idle_total", "zero"]
        );
    }
}
