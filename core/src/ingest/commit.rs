//! Writing to the store from the ingestion task: a batch's commit (retried with backoff, the
//! flushes waiting for it answered) and direct store calls retried while the database is away.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::metrics::ingest::IngestMetrics;
use crate::store::{Batch, Store, StoreError};

/// Answers a flush once its batch is committed (or failed).
pub(super) type Ack = oneshot::Sender<Result<(), String>>;

pub(super) struct Job {
    /// Shared with the pipeline, which adds its rows to answers until it is committed.
    pub(super) batch: Arc<Batch>,
    pub(super) acks: Vec<Ack>,
    /// Rows the pipeline holds across batches while this commit runs (it hands over no other
    /// batch meanwhile): the gauge's value once the commit ends.
    pub(super) held_after: usize,
}

/// A batch's commit in progress.
pub(super) type Commit = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;

/// Commits one batch, retrying failures with backoff (until cancelled, then 5 attempts), and
/// answers the flushes waiting for it.
pub(super) async fn commit(
    store: Arc<Store>,
    Job {
        batch,
        acks,
        held_after,
    }: Job,
    metrics: Arc<IngestMetrics>,
    cancel: CancellationToken,
) -> Result<(), StoreError> {
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0u32;
    let result = loop {
        let started = Instant::now();
        match store.commit(&batch).await {
            Ok(()) => {
                metrics.committed_batch(started.elapsed(), batch.events);
                metrics.held_rows(held_after);
                break Ok(());
            }
            Err(e) => {
                attempts += 1;
                metrics.commit_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, attempts, rows = batch.rows(), "batch commit failed, retrying");
                if cancel.is_cancelled() && attempts >= 5 {
                    break Err(e);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    for ack in acks {
        let _ = ack.send(result.as_ref().map_err(ToString::to_string).copied());
    }
    result
}

/// Runs a direct store call (outside a batch), retrying while the database is unreachable
/// until it answers or `cancel` fires: an outage delays ingestion, it does not stop it.
pub(super) async fn until_reachable<T, Fut>(
    cancel: &CancellationToken,
    mut call: impl FnMut() -> Fut,
) -> Result<T, StoreError>
where
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(100);
    let mut warned = false;
    loop {
        match call().await {
            Err(error) if error.is_transient() && !cancel.is_cancelled() => {
                if !warned {
                    tracing::warn!(%error, "database unreachable; ingestion holds the events and retries");
                    warned = true;
                }
                tokio::select! {
                    () = cancel.cancelled() => {}
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// Completes the commit in `slot`, if any; pending forever otherwise (a `select!` branch that
/// never fires while nothing is in flight). Cancel-safe: the commit stays in `slot`.
pub(super) async fn finish(slot: &mut Option<Commit>) -> Result<(), StoreError> {
    match slot {
        Some(commit) => {
            let result = commit.await;
            *slot = None;
            result
        }
        None => std::future::pending().await,
    }
}
