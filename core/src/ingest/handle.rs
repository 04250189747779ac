//! The handle producers hold: events, flushes and state rows onto ingestion's bounded queue,
//! and the queue's depth and counters for `/metrics`.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::IngestMetrics;
use super::commit::Ack;
use crate::domain::Login;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::store::{Channel, ChannelKey, Uncommitted};

/// The ingestion task has stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ingestion has stopped")]
pub struct IngestClosed;

pub(super) enum Command {
    Event(Event),
    Events(Vec<Event>),
    /// `true`: with every held emote count ([`IngestHandle::flush`]); `false`: rows only
    /// ([`IngestHandle::flush_rows`]).
    Flush(Ack, bool),
    State(String, String),
    PresentCount(Login, oneshot::Sender<Option<usize>>),
    Uncommitted(ChannelKey, Login, oneshot::Sender<Uncommitted>),
}

/// A cheap, cloneable handle to the ingestion task.
#[derive(Debug, Clone)]
pub struct IngestHandle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) metrics: Arc<IngestMetrics>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Event(_) => "Event",
            Self::Events(_) => "Events",
            Self::Flush(..) => "Flush",
            Self::State(..) => "State",
            Self::PresentCount(..) => "PresentCount",
            Self::Uncommitted(..) => "Uncommitted",
        })
    }
}

impl IngestHandle {
    /// Queues one event, waiting while the queue is full.
    pub async fn send(&self, event: Event) -> Result<(), IngestClosed> {
        self.tx
            .send(Command::Event(event))
            .await
            .map_err(|_| IngestClosed)
    }

    /// Queues many events in one queue slot.
    pub async fn send_all(&self, events: Vec<Event>) -> Result<(), IngestClosed> {
        self.tx
            .send(Command::Events(events))
            .await
            .map_err(|_| IngestClosed)
    }

    /// Waits until every event sent before this call is committed, held emote counts
    /// included.
    pub async fn flush(&self) -> Result<(), IngestError> {
        self.flush_with(true).await
    }

    /// Waits until the rows of every event sent before this call are committed; emote
    /// counts held for their interval stay held (what a chat command's answer needs, except
    /// `!emotes`: writing every stream's held counts with each command's flush made each of
    /// those commits several times larger).
    pub async fn flush_rows(&self) -> Result<(), IngestError> {
        self.flush_with(false).await
    }

    async fn flush_with(&self, emotes: bool) -> Result<(), IngestError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Flush(tx, emotes))
            .await
            .map_err(|_| IngestError::Closed)?;
        rx.await
            .map_err(|_| IngestError::Closed)?
            .map_err(IngestError::Commit)
    }

    /// Writes a `bot_state` row with the batch holding every event sent before it (same
    /// transaction).
    pub async fn record_state(&self, name: String, value: String) -> Result<(), IngestClosed> {
        self.tx
            .send(Command::State(name, value))
            .await
            .map_err(|_| IngestClosed)
    }

    /// Counted users present in a channel now (`None`: channel not seen).
    pub async fn present_count(&self, channel: &Login) -> Result<Option<usize>, IngestClosed> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::PresentCount(channel.clone(), tx))
            .await
            .map_err(|_| IngestClosed)?;
        rx.await.map_err(|_| IngestClosed)
    }

    /// A channel's rows of every batch not known to be committed, once every event sent
    /// before this call is applied: what a chat command's answer adds to the committed
    /// figures instead of waiting for a commit (`Figures::fresh`).
    pub async fn uncommitted(&self, channel: &Channel) -> Result<Uncommitted, IngestClosed> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Uncommitted(channel.key, channel.login.clone(), tx))
            .await
            .map_err(|_| IngestClosed)?;
        rx.await.map_err(|_| IngestClosed)
    }

    /// Commands waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The pipeline's counters.
    pub fn metrics(&self) -> &Arc<IngestMetrics> {
        &self.metrics
    }

    /// Publishes the pipeline's counters, commit latencies and queue depth in `metrics`.
    pub fn register_metrics(&self, metrics: &Metrics) {
        // A weak sender: the registry must not keep the queue open after the last handle.
        let tx = self.tx.downgrade();
        self.metrics.register(metrics, move || {
            tx.upgrade()
                .map_or(0, |tx| tx.max_capacity() - tx.capacity())
        });
    }
}

/// Why a flush failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The task has stopped.
    #[error("ingestion has stopped")]
    Closed,
    /// The batch could not be committed.
    #[error("commit failed: {0}")]
    Commit(String),
}
