//! The ingestion pipeline's counters ([`IngestMetrics`]) and how they are published: events by
//! kind, commits, commit errors, the commit latency histogram and the queue depth.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Histogram, Metrics, latency_histogram};
use crate::event::Event;

/// How many event kinds there are ([`IngestMetrics::KINDS`]).
const KIND_COUNT: usize = 13;

/// Counters of the pipeline (read by `/metrics`).
#[derive(Debug)]
pub struct IngestMetrics {
    /// Events accepted, by kind index (see [`IngestMetrics::KINDS`]).
    pub events: [AtomicU64; KIND_COUNT],
    /// Events committed.
    pub committed: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Failed commit attempts (retried).
    pub commit_errors: AtomicU64,
    /// Duration of the latest commit, microseconds.
    pub last_commit_micros: AtomicU64,
    /// Durations of successful commits, seconds.
    pub commit_seconds: Histogram,
    /// Channel and stream rows held in memory across batches (see `IngestConfig::rows_interval`)
    /// or in the commit in flight: zero once every row of every accepted event is written.
    pub held_rows: AtomicU64,
}

impl Default for IngestMetrics {
    fn default() -> Self {
        Self {
            events: Default::default(),
            committed: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            commit_errors: AtomicU64::new(0),
            last_commit_micros: AtomicU64::new(0),
            commit_seconds: latency_histogram(),
            held_rows: AtomicU64::new(0),
        }
    }
}

impl IngestMetrics {
    /// Event kinds ([`Event::kind`]) in the order of [`IngestMetrics::events`].
    pub const KINDS: [&'static str; KIND_COUNT] = [
        "join",
        "part",
        "message",
        "snapshot",
        "stream_online",
        "stream_offline",
        "raid",
        "opt_out",
        "opt_in",
        "rename",
        "account",
        "channel_released",
        "channel_acquired",
    ];

    /// Counts one accepted event.
    pub(crate) fn count(&self, event: &Event) {
        let kind = event.kind();
        let index = Self::KINDS.iter().position(|k| *k == kind);
        debug_assert!(index.is_some(), "event kind {kind} missing from KINDS");
        if let Some(counter) = index.and_then(|i| self.events.get(i)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one successful commit of `events` events that took `took`.
    pub(crate) fn committed_batch(&self, took: Duration, events: u64) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_commit_micros.store(micros, Ordering::Relaxed);
        self.commit_seconds.observe(took.as_secs_f64());
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.committed.fetch_add(events, Ordering::Relaxed);
    }

    /// Records how many rows are held across batches.
    pub(crate) fn held_rows(&self, rows: usize) {
        self.held_rows
            .store(u64::try_from(rows).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Publishes these counters in `metrics`; `queue_depth` reads the queue at each scrape.
    pub(crate) fn register(
        self: &Arc<Self>,
        metrics: &Metrics,
        queue_depth: impl Fn() -> usize + Send + Sync + 'static,
    ) {
        metrics.register(
            "chatters_ingest_commit_seconds",
            "Time taken by successful batch commits.",
            self.commit_seconds.clone(),
        );
        let this = self.clone();
        metrics.source(move |w| {
            let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
            w.counters(
                "chatters_events_ingested",
                "Events accepted by the ingestion queue, by kind.",
                Self::KINDS
                    .iter()
                    .zip(&this.events)
                    .map(|(kind, n)| ([("kind", *kind)], load(n))),
            )?;
            w.counter(
                "chatters_events_committed",
                "Events whose batch was committed to the database.",
                load(&this.committed),
            )?;
            w.counter(
                "chatters_ingest_batches",
                "Batches committed to the database.",
                load(&this.batches),
            )?;
            w.counter(
                "chatters_ingest_commit_errors",
                "Failed batch commit attempts (each is retried).",
                load(&this.commit_errors),
            )?;
            // Microseconds of one commit, far below 2^52: exact as f64.
            w.gauge_f64(
                "chatters_ingest_last_commit_seconds",
                "Time taken by the latest successful batch commit.",
                load(&this.last_commit_micros) as f64 / 1e6,
            )?;
            w.gauge(
                "chatters_ingest_rows_held",
                "Channel and stream rows held in memory across batches or in the commit in flight.",
                i64::try_from(load(&this.held_rows)).unwrap_or(i64::MAX),
            )?;
            w.gauge(
                "chatters_ingest_queue_depth",
                "Commands waiting in the ingestion queue.",
                i64::try_from(queue_depth()).unwrap_or(i64::MAX),
            )
        });
    }
}
