//! The metrics registry rendered by `GET /metrics` in the Prometheus text format (0.0.4).
//!
//! Any part of the process feeds it in one of two ways:
//! - a handle: [`Metrics::counter`], [`Metrics::counter_vec`] or [`Metrics::gauge`] register a
//!   family and return an `Arc` to bump (`metrics.helix_requests.inc(&["chatters", "200"])`);
//! - a source: [`Metrics::register`] adds a closure that writes current values into a
//!   [`PromWriter`] at every scrape (for counters that live elsewhere, such as
//!   [`chatters_core::ingest::IngestMetrics`]; see [`Metrics::register_ingest`]).
//!
//! The families every deployment has (snapshots, Helix calls) are created up front, so they
//! show as 0 before the first event. The chart cache's counters are read from the cache itself
//! at each scrape (`routes/metrics.rs`).
//!
//! Rendering groups each family's samples under one `# HELP` and `# TYPE` pair, sorted by
//! name, whichever sources wrote them; help text and label values are escaped as the format
//! requires.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use chatters_core::ingest::{IngestHandle, IngestMetrics};

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (names end in `_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// `_sum` and `_count` of observations (no quantiles).
    Summary,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Summary => "summary",
        }
    }
}

/// One family being written: its help, type and samples (`name{labels} value` lines).
#[derive(Debug)]
struct Family {
    help: String,
    kind: Kind,
    samples: Vec<String>,
}

/// Collects samples during one scrape and renders them grouped by family.
#[derive(Debug, Default)]
pub struct PromWriter {
    families: BTreeMap<String, Family>,
}

impl PromWriter {
    /// A counter without labels.
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.sample(name, help, Kind::Counter, "", &[], Value::Int(value));
    }

    /// One labelled sample of a counter family.
    pub fn counter_with(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        self.sample(name, help, Kind::Counter, "", labels, Value::Int(value));
    }

    /// A gauge without labels.
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.sample(name, help, Kind::Gauge, "", &[], Value::Float(value));
    }

    /// One labelled sample of a gauge family.
    pub fn gauge_with(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.sample(name, help, Kind::Gauge, "", labels, Value::Float(value));
    }

    /// A summary without quantiles: the sum of observations (e.g. seconds) and their count.
    pub fn summary(&mut self, name: &str, help: &str, sum: f64, count: u64) {
        self.sample(name, help, Kind::Summary, "_sum", &[], Value::Float(sum));
        self.sample(name, help, Kind::Summary, "_count", &[], Value::Int(count));
    }

    /// Declares a family without samples (a labelled family nothing has touched yet).
    pub fn declare(&mut self, name: &str, help: &str, kind: Kind) {
        self.family(name, help, kind);
    }

    fn family(&mut self, name: &str, help: &str, kind: Kind) -> &mut Family {
        // The first writer of a family sets its help and type.
        self.families
            .entry(sanitize(name, true))
            .or_insert_with(|| Family {
                help: help.to_owned(),
                kind,
                samples: Vec::new(),
            })
    }

    fn sample(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        suffix: &str,
        labels: &[(&str, &str)],
        value: Value,
    ) {
        let mut line = sanitize(name, true);
        line.push_str(suffix);
        if !labels.is_empty() {
            line.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&sanitize(label, false));
                line.push_str("=\"");
                escape_into(&mut line, value, true);
                line.push('"');
            }
            line.push('}');
        }
        let _ = write!(line, " {value}");
        self.family(name, help, kind).samples.push(line);
    }

    /// The text exposition: `# HELP`, `# TYPE` and the samples of each family, by name.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        for (name, family) in &self.families {
            out.push_str("# HELP ");
            out.push_str(name);
            out.push(' ');
            escape_into(&mut out, &family.help, false);
            out.push('\n');
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for sample in &family.samples {
                out.push_str(sample);
                out.push('\n');
            }
        }
        out
    }
}

/// A sample value as the format spells it.
#[derive(Debug, Clone, Copy)]
enum Value {
    Int(u64),
    Float(f64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) if x.is_nan() => f.write_str("NaN"),
            Self::Float(x) if x == f64::INFINITY => f.write_str("+Inf"),
            Self::Float(x) if x == f64::NEG_INFINITY => f.write_str("-Inf"),
            Self::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Help text escapes `\` and newlines; label values also escape `"`.
fn escape_into(out: &mut String, text: &str, quotes: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A valid metric (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or label (no `:`) name: other characters
/// become `_`.
fn sanitize(name: &str, metric: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A counter without labels.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge without labels.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// Adds `delta` (negative to decrease).
    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A counter family with labels: one count per combination of label values. Keep the values
/// few (statuses, endpoints, results), never user input.
#[derive(Debug)]
pub struct CounterVec {
    labels: Vec<&'static str>,
    counts: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterVec {
    fn new(labels: &[&'static str]) -> Self {
        Self {
            labels: labels.to_vec(),
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds one to the series with these label values (in the family's label order).
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1);
    }

    /// Adds `n` to the series with these label values. Missing values are empty, extra ones
    /// ignored.
    pub fn add(&self, values: &[&str], n: u64) {
        let key: Vec<String> = (0..self.labels.len())
            .map(|i| values.get(i).copied().unwrap_or("").to_owned())
            .collect();
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(key).or_default() += n;
    }

    /// The value of one series (0 when never touched).
    pub fn get(&self, values: &[&str]) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .iter()
            .find(|(k, _)| k.iter().map(String::as_str).eq(values.iter().copied()))
            .map_or(0, |(_, n)| *n)
    }

    fn write(&self, w: &mut PromWriter, name: &str, help: &str) {
        w.declare(name, help, Kind::Counter);
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for (values, n) in counts.iter() {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            w.counter_with(name, help, &labels, *n);
        }
    }
}

/// Writes current values into a [`PromWriter`] at each scrape.
pub type Source = Box<dyn Fn(&mut PromWriter) + Send + Sync>;

/// The process's metrics: built-in families plus registered sources.
pub struct Metrics {
    sources: RwLock<Vec<Source>>,
    /// Helix calls, labelled `endpoint` (e.g. `chatters`, `streams`, `users`) and `status`
    /// (the HTTP status, or `error` when no answer came).
    pub helix_requests: Arc<CounterVec>,
    /// Helix Get Chatters snapshots, labelled `result` = `ok` or `failed`.
    pub snapshots: Arc<CounterVec>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sources = self
            .sources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Metrics")
            .field("sources", &sources)
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Self {
            sources: RwLock::new(Vec::new()),
            helix_requests: Arc::new(CounterVec::new(&["endpoint", "status"])),
            snapshots: Arc::new(CounterVec::new(&["result"])),
        };
        // Both results show from the start, so a rate of failures is never "no data".
        metrics.snapshots.add(&["ok"], 0);
        metrics.snapshots.add(&["failed"], 0);
        let helix = metrics.helix_requests.clone();
        let snapshots = metrics.snapshots.clone();
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64().floor());
        metrics.register(move |w| {
            w.gauge_with(
                "chatters_build_info",
                "Version of the running chatters binary (always 1).",
                &[("version", env!("CARGO_PKG_VERSION"))],
                1.0,
            );
            w.gauge(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds.",
                started,
            );
            helix.write(
                w,
                "chatters_helix_requests_total",
                "Twitch Helix API calls by endpoint and HTTP status.",
            );
            snapshots.write(
                w,
                "chatters_snapshots_total",
                "Helix Get Chatters snapshots taken, by result.",
            );
        });
        metrics
    }
}

impl Metrics {
    /// Adds a source, called at every scrape.
    pub fn register(&self, source: impl Fn(&mut PromWriter) + Send + Sync + 'static) {
        self.sources
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(source));
    }

    /// A new counter family without labels (`name` should end in `_total`).
    pub fn counter(&self, name: &'static str, help: &'static str) -> Arc<Counter> {
        let counter = Arc::new(Counter::default());
        let handle = counter.clone();
        self.register(move |w| w.counter(name, help, handle.get()));
        counter
    }

    /// A new counter family with these labels.
    pub fn counter_vec(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[&'static str],
    ) -> Arc<CounterVec> {
        let counters = Arc::new(CounterVec::new(labels));
        let handle = counters.clone();
        self.register(move |w| handle.write(w, name, help));
        counters
    }

    /// A new gauge without labels.
    pub fn gauge(&self, name: &'static str, help: &'static str) -> Arc<Gauge> {
        let gauge = Arc::new(Gauge::default());
        let handle = gauge.clone();
        #[allow(clippy::cast_precision_loss)] // gauges here are counts far below 2^52
        self.register(move |w| w.gauge(name, help, handle.get() as f64));
        gauge
    }

    /// Publishes the ingestion pipeline's counters: events by kind, events committed,
    /// batches, commit errors, commit latency and queue depth.
    pub fn register_ingest(&self, handle: IngestHandle) {
        self.register(move |w| write_ingest(w, handle.metrics(), handle.queue_depth()));
    }

    /// Every family, in the text format.
    pub fn render(&self) -> String {
        self.render_with(|_| {})
    }

    /// Every family plus what `extra` writes for this scrape only (values owned by the caller,
    /// such as the web state's chart cache).
    pub fn render_with(&self, extra: impl FnOnce(&mut PromWriter)) -> String {
        let mut writer = PromWriter::default();
        extra(&mut writer);
        for source in self
            .sources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            source(&mut writer);
        }
        writer.render()
    }
}

/// The ingestion counters as families.
#[allow(clippy::cast_precision_loss)] // microsecond sums stay far below 2^52
fn write_ingest(w: &mut PromWriter, m: &IngestMetrics, queue_depth: usize) {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    for (kind, count) in IngestMetrics::KINDS.iter().zip(&m.events) {
        w.counter_with(
            "chatters_events_ingested_total",
            "Events accepted by the ingestion queue, by kind.",
            &[("kind", kind)],
            load(count),
        );
    }
    w.counter(
        "chatters_events_committed_total",
        "Events whose batch was committed to the database.",
        load(&m.committed),
    );
    w.counter(
        "chatters_ingest_batches_total",
        "Batches committed to the database.",
        load(&m.batches),
    );
    w.counter(
        "chatters_ingest_commit_errors_total",
        "Failed batch commit attempts (each is retried).",
        load(&m.commit_errors),
    );
    w.summary(
        "chatters_ingest_commit_seconds",
        "Time taken by successful batch commits.",
        load(&m.commit_micros_total) as f64 / 1e6,
        load(&m.batches),
    );
    w.gauge(
        "chatters_ingest_last_commit_seconds",
        "Time taken by the latest successful batch commit.",
        load(&m.last_commit_micros) as f64 / 1e6,
    );
    w.gauge(
        "chatters_ingest_queue_depth",
        "Commands waiting in the ingestion queue.",
        queue_depth as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_grouped_under_one_help_and_type_and_sorted_by_name() {
        let mut w = PromWriter::default();
        w.counter_with("b_total", "B things.", &[("kind", "x")], 1);
        w.gauge("a", "An a.", 2.5);
        w.counter_with("b_total", "ignored second help", &[("kind", "y")], 3);

        assert_eq!(
            w.render(),
            "# HELP a An a.\n# TYPE a gauge\na 2.5\n\
             # HELP b_total B things.\n# TYPE b_total counter\n\
             b_total{kind=\"x\"} 1\nb_total{kind=\"y\"} 3\n"
        );
    }

    #[test]
    fn help_and_label_values_are_escaped_and_names_sanitized() {
        let mut w = PromWriter::default();
        w.counter_with(
            "odd-name",
            "line\\one\nline two",
            &[("a-b", "say \"hi\"\\\n")],
            1,
        );

        assert_eq!(
            w.render(),
            "# HELP odd_name line\\\\one\\nline two\n# TYPE odd_name counter\n\
             odd_name{a_b=\"say \\\"hi\\\"\\\\\\n\"} 1\n"
        );
    }

    #[test]
    fn special_floats_use_the_format_spelling() {
        let mut w = PromWriter::default();
        w.gauge("n", "n", f64::NAN);
        w.gauge("p", "p", f64::INFINITY);
        w.gauge("m", "m", f64::NEG_INFINITY);

        let text = w.render();

        assert!(text.contains("\nn NaN\n"), "{text}");
        assert!(text.contains("\np +Inf\n"), "{text}");
        assert!(text.contains("\nm -Inf\n"), "{text}");
    }

    #[test]
    fn summaries_have_sum_and_count() {
        let mut w = PromWriter::default();
        w.summary("lat_seconds", "Latency.", 1.5, 3);

        assert_eq!(
            w.render(),
            "# HELP lat_seconds Latency.\n# TYPE lat_seconds summary\n\
             lat_seconds_sum 1.5\nlat_seconds_count 3\n"
        );
    }

    #[test]
    fn built_in_families_show_before_any_event() {
        let text = Metrics::default().render();

        for line in [
            "# TYPE chatters_helix_requests_total counter",
            "chatters_snapshots_total{result=\"ok\"} 0",
            "chatters_snapshots_total{result=\"failed\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn handles_and_sources_feed_the_rendering() {
        let metrics = Metrics::default();
        let helix = metrics.helix_requests.clone();
        let jobs = metrics.counter("jobs_total", "Jobs.");
        let depth = metrics.gauge("depth", "Depth.");
        let labelled = metrics.counter_vec("calls_total", "Calls.", &["status"]);
        metrics.register(|w| w.counter("custom_total", "Custom.", 42));

        helix.inc(&["chatters", "200"]);
        helix.inc(&["chatters", "200"]);
        helix.inc(&["users", "429"]);
        jobs.add(5);
        depth.set(7);
        labelled.inc(&["ok"]);
        let text = metrics.render_with(|w| w.counter("extra_total", "Extra.", 3));

        for line in [
            "chatters_helix_requests_total{endpoint=\"chatters\",status=\"200\"} 2",
            "chatters_helix_requests_total{endpoint=\"users\",status=\"429\"} 1",
            "jobs_total 5",
            "depth 7",
            "calls_total{status=\"ok\"} 1",
            "custom_total 42",
            "extra_total 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert_eq!(helix.get(&["chatters", "200"]), 2);
    }
}
