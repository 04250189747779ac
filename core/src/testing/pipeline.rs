//! [`Pipeline`]: the real ingestion pipeline over a test store, fed and flushed by tests.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::sums::assert_kept_sums;
use crate::bots::KnownBots;
use crate::domain::UserId;
use crate::event::Event;
use crate::ingest::{Ingest, IngestConfig, IngestHandle};
use crate::store::{Store, StoreError};
use crate::tracker::TrackerConfig;

use super::events::login;

/// The tracker settings of the test scenarios: the bot account `chattersbot` (with id
/// `bot_user` when given), the shipped known bots, presence ending after 15 minutes and
/// snapshots trusted for 3 hours (so a scenario's sparse snapshots keep users present).
pub fn tracker_config(bot_user: Option<UserId>) -> TrackerConfig {
    TrackerConfig {
        bot_user,
        bot_login: Some(login("chattersbot")),
        presence_timeout: 900,
        snapshot_stale_after: 3 * 3600,
        bots: KnownBots::shipped(),
    }
}

/// Ingestion running over a store. Dropping it cancels ingestion, which commits what it holds
/// in the background; [`Pipeline::stop`] waits for that.
#[derive(Debug)]
pub struct Pipeline {
    /// The handle events are sent through (e.g. to register its metrics).
    pub ingest: IngestHandle,
    cancel: CancellationToken,
    task: Option<JoinHandle<Result<(), StoreError>>>,
    store: Arc<Store>,
}

impl Pipeline {
    /// Starts ingestion over `store` with `config`.
    pub async fn start(store: Arc<Store>, config: IngestConfig) -> Self {
        let cancel = CancellationToken::new();
        let (ingest, task) = Ingest::start(store.clone(), config, cancel.clone())
            .await
            .expect("start ingestion");
        Self {
            ingest,
            cancel,
            task: Some(task),
            store,
        }
    }

    /// Ingests `events` in order and waits until they are committed.
    pub async fn send(&self, events: Vec<Event>) {
        self.ingest.send_all(events).await.expect("ingest");
        self.ingest.flush().await.expect("flush");
    }

    /// Stops ingestion and waits for its final commit (panics if it failed), then checks that
    /// every stream's kept sums equal the pass over its rows ([`assert_kept_sums`]).
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("final flush");
        }
        assert_kept_sums(&self.store).await;
    }
}

impl Pipeline {
    /// Ends ingestion as a crash would: its task is aborted, nothing more is written. What it
    /// held in memory is lost with the store once the caller drops it (a new process opens
    /// another).
    pub fn crash(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
