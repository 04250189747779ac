//! [`CommitClock`]: which of ingestion's batches are committed, for readers that add what is
//! not committed yet (a chat command's answer, `Figures::fresh`).
//!
//! Ingestion numbers its batches (`Batch::seq`); [`Store::commit`](super::Store::commit) tells
//! the clock when it issues a batch's `COMMIT` and when that returns. A reader takes the state
//! while no `COMMIT` is in progress, reads the store, and checks that the state did not change
//! meanwhile: then every read saw exactly the batches up to [`ClockState::committed`], and the
//! batches after it are the ones to add from memory. A `COMMIT` is a short statement (the
//! batch's writes run before it, invisible to other connections), so a reader seldom waits.

use std::time::Duration;

use tokio::sync::watch;

/// The committed batches, as a reader sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockState {
    /// Highest batch sequence number whose `COMMIT` returned.
    pub committed: u64,
    /// A batch's `COMMIT` is in progress: its rows may or may not be visible.
    pub committing: bool,
    /// Changes with every `COMMIT` issued, so two equal states bracket no commit at all.
    pub generation: u64,
}

/// The writer's side of the state, shared by every clone of the store.
#[derive(Debug, Clone)]
pub(crate) struct CommitClock {
    tx: std::sync::Arc<watch::Sender<ClockState>>,
    /// Held open before every batch's `COMMIT` (benchmarks and tests: a slow disk on purpose).
    delay: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for CommitClock {
    fn default() -> Self {
        Self {
            tx: std::sync::Arc::new(watch::Sender::new(ClockState::default())),
            delay: std::sync::Arc::default(),
        }
    }
}

impl CommitClock {
    /// A batch's `COMMIT` is about to be issued.
    pub(crate) fn committing(&self) {
        self.tx.send_modify(|s| {
            s.committing = true;
            s.generation += 1;
        });
    }

    /// The `COMMIT` issued returned: `Some(seq)` committed, `None` failed.
    pub(crate) fn settled(&self, seq: Option<u64>) {
        self.tx.send_modify(|s| {
            s.committing = false;
            if let Some(seq) = seq {
                s.committed = s.committed.max(seq);
            }
        });
    }

    /// Batch `seq` had nothing to write: committed without a transaction.
    pub(crate) fn skipped(&self, seq: u64) {
        self.tx.send_if_modified(|s| {
            let moved = seq > s.committed;
            s.committed = s.committed.max(seq);
            moved
        });
    }

    /// The highest committed batch number.
    pub(crate) fn committed(&self) -> u64 {
        self.tx.borrow().committed
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<ClockState> {
        self.tx.subscribe()
    }

    pub(crate) fn delay(&self) -> Duration {
        Duration::from_millis(self.delay.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay.store(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A reader's view of the clock: [`CommitWatch::steady`] before its reads,
/// [`CommitWatch::unchanged`] after them.
#[derive(Debug)]
pub struct CommitWatch {
    rx: watch::Receiver<ClockState>,
    seen: ClockState,
}

impl CommitWatch {
    pub(crate) fn new(rx: watch::Receiver<ClockState>) -> Self {
        let seen = *rx.borrow();
        Self { rx, seen }
    }

    /// Waits until no `COMMIT` is in progress (at most `patience`) and returns the highest
    /// committed batch; `None` when a `COMMIT` was still running after `patience`.
    pub async fn steady(&mut self, patience: Duration) -> Option<u64> {
        let wait = self.rx.wait_for(|s| !s.committing);
        let state = match tokio::time::timeout(patience, wait).await {
            Ok(Ok(state)) => *state,
            // The store is gone (cannot happen while a reader holds it) or it took too long.
            Ok(Err(_)) | Err(_) => return None,
        };
        self.seen = state;
        Some(state.committed)
    }

    /// True when no `COMMIT` was issued since [`CommitWatch::steady`] returned.
    pub fn unchanged(&self) -> bool {
        *self.rx.borrow() == self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_sees_a_commit_between_its_reads() {
        let clock = CommitClock::default();
        let mut watch = CommitWatch::new(clock.subscribe());
        assert_eq!(watch.steady(Duration::from_millis(10)).await, Some(0));
        assert!(watch.unchanged());
        clock.committing();
        assert!(!watch.unchanged());
        // While the COMMIT runs, a reader cannot tell: it waits, then gives up.
        assert_eq!(watch.steady(Duration::from_millis(10)).await, None);
        clock.settled(Some(3));
        assert_eq!(watch.steady(Duration::from_millis(10)).await, Some(3));
        clock.skipped(4);
        assert!(!watch.unchanged());
        assert_eq!(watch.steady(Duration::from_millis(10)).await, Some(4));
        // A failed COMMIT changes nothing committed, but the reader still reads again.
        clock.committing();
        clock.settled(None);
        assert!(!watch.unchanged());
        assert_eq!(watch.steady(Duration::from_millis(10)).await, Some(4));
        assert!(watch.unchanged());
    }
}
