//! `RETENTION`: streams' figures frozen when they end, and the daily pruning of per-user history
//! older than the retention (SPEC "Operations settings").
//!
//! [`Retention::run`] (a task of the bot half, only when `RETENTION` is set) freezes the figures
//! of every ended stream every [`FREEZE_EVERY`] and prunes once a day. Several instances
//! (`--scale bot=3`) share one "last pruned" time in the store, so a day's pruning normally
//! runs once; should two run at once, the second finds nothing left to delete. A frozen
//! stream's figures are read from the frozen copy ([`Figures::stream`]), so they no longer
//! change once its per-user rows are gone.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::domain::Timestamp;
use crate::stats::Figures;
use crate::store::{Pruned, StoreError};

/// How often ended streams are looked for and frozen.
pub const FREEZE_EVERY: Duration = Duration::from_secs(5 * 60);
/// How often history is pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Store state key of the last pruning (Unix seconds).
pub const PRUNED_AT_STATE: &str = "retention_pruned_at";
/// Streams frozen per round (a first run on a long history catches up over several rounds).
const FREEZE_BATCH: i64 = 200;

/// Freezes and prunes.
#[derive(Debug, Clone)]
pub struct Retention {
    figures: Figures,
    keep: Duration,
}

impl Retention {
    /// Keeps `keep` of history over the store of `figures` (whose bot account and known bots
    /// decide the frozen figures, as for every figure).
    pub fn new(figures: Figures, keep: Duration) -> Self {
        Self { figures, keep }
    }

    /// Freezes the figures of ended streams not frozen yet; returns how many were frozen.
    pub async fn freeze_ended(&self, now: Timestamp) -> Result<usize, StoreError> {
        let store = self.figures.store();
        let mut frozen = 0;
        loop {
            let streams = store.streams_to_freeze(FREEZE_BATCH).await?;
            if streams.is_empty() {
                return Ok(frozen);
            }
            let round = streams.len();
            for stream in streams {
                let figures = self.figures.stream(&stream).await?;
                let json = serde_json::to_string(&figures).map_err(|e| StoreError::Corrupt {
                    column: "stream_figures.figures",
                    value: e.to_string(),
                })?;
                store.freeze_figures(stream.key, &json, now).await?;
                frozen += 1;
            }
            if round < FREEZE_BATCH as usize {
                return Ok(frozen);
            }
        }
    }

    /// Freezes what ended, then deletes the history older than the retention.
    pub async fn prune(&self, now: Timestamp) -> Result<Pruned, StoreError> {
        self.freeze_ended(now).await?;
        let keep = i64::try_from(self.keep.as_secs()).unwrap_or(i64::MAX);
        let cutoff = Timestamp(now.0.saturating_sub(keep));
        let pruned = self.figures.store().prune(cutoff, now).await?;
        self.figures
            .store()
            .set_state(PRUNED_AT_STATE, &now.0.to_string())
            .await?;
        Ok(pruned)
    }

    /// Whether a day has passed since the last pruning (by any instance).
    async fn prune_due(&self, now: Timestamp) -> Result<bool, StoreError> {
        let last = self.figures.store().state(PRUNED_AT_STATE).await?;
        let last = last.and_then(|v| v.parse::<i64>().ok()).unwrap_or(i64::MIN);
        let every = i64::try_from(PRUNE_EVERY.as_secs()).unwrap_or(i64::MAX);
        Ok(now.0.saturating_sub(last) >= every)
    }

    /// Freezes every [`FREEZE_EVERY`] and prunes daily until `cancel`. Failures are logged and
    /// retried at the next round: they never stop the process.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            let now = Timestamp::now();
            let round = async {
                if self.prune_due(now).await? {
                    let pruned = self.prune(now).await?;
                    info!(
                        streams = pruned.streams,
                        stream_users = pruned.stream_users,
                        presence = pruned.presence,
                        series = pruned.timed,
                        users = pruned.users,
                        "history older than RETENTION pruned"
                    );
                } else {
                    self.freeze_ended(now).await?;
                }
                Ok::<_, StoreError>(())
            };
            if let Err(error) = round.await {
                warn!(%error, "retention round failed; retrying later");
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(FREEZE_EVERY) => {}
            }
        }
    }
}
