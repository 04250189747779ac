//! Ingestion: a bounded queue of [`Event`]s into the [`Tracker`], whose row changes are
//! committed one transaction per batch, in the same task.
//!
//! - Back-pressure: [`IngestHandle::send`] waits when the queue is full; memory never grows
//!   without bound, and a slow database slows the producers instead of losing events.
//! - A batch is committed when it holds `batch_events` events or `flush_interval` has passed,
//!   whichever is first. The commit is a future the task polls beside its queue, so the
//!   tracker keeps working while it runs: one commit in flight at most, and a batch due while
//!   one runs is handed over as soon as it ends (the task waits only when the open batch has
//!   grown to twice `batch_events`). Anything else that writes to the store from this
//!   task waits for it first, so a write never queues behind a transaction only this task can
//!   finish.
//! - An event is stored once its batch commits; [`IngestHandle::flush`] waits for that.
//!   [`IngestHandle::uncommitted`] instead returns a channel's rows of the batches in memory
//!   (numbered, [`Batch::seq`]), so a reader can add them to what it reads (a chat command's
//!   answer does not wait for the disk).
//! - Opted-out users are dropped at the door (by the tracker); an opt-out waits for every
//!   earlier batch to commit, then deletes the user's rows in one transaction.
//! - On cancellation the queue is drained, present users' last sightings are written and the
//!   final batch committed before the task ends.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::{Login, Timestamp, UserId};
use crate::event::Event;
pub use crate::metrics::ingest::IngestMetrics;
use crate::store::{Batch, ChannelKey, Store, StoreError, UserRow};
use crate::tracker::Tracker;

mod commit;
mod config;
mod handle;
mod held;
mod held_rows;
use commit::{Ack, Commit, Job, commit, finish, until_reachable};
pub use config::IngestConfig;
use handle::Command;
pub use handle::{IngestClosed, IngestError, IngestHandle};
use held::HeldEmotes;
use held_rows::HeldRows;

/// Starts the ingestion pipeline.
#[derive(Debug)]
pub struct Ingest;

impl Ingest {
    /// Loads what the tracker needs (opt-outs, channels, live streams), repairs presence left
    /// open by a crash, and spawns the ingestion task. The returned task ends after
    /// `cancel` fires and the final batch is committed.
    pub async fn start(
        store: Arc<Store>,
        config: IngestConfig,
        cancel: CancellationToken,
    ) -> Result<(IngestHandle, JoinHandle<Result<(), StoreError>>), StoreError> {
        let dangling = if config.resume && !config.leased {
            store.close_dangling_presence(None).await?
        } else {
            0
        };
        if dangling > 0 {
            tracing::info!(
                intervals = dangling,
                "closed presence left open by the previous run"
            );
        }
        let mut tracker = Tracker::new(config.tracker.clone());
        tracker.set_opted_out(store.opted_out().await?);
        let channels = store.channels().await?;
        for c in &channels {
            let rules = store.bot_rules(c.key).await?.into_iter().collect();
            tracker.add_channel(c.login.clone(), c.key, c.twitch_id, rules);
        }
        let live = if config.resume {
            store.live_streams().await?
        } else {
            Vec::new()
        };
        for s in live {
            if let Some(c) = channels.iter().find(|c| c.key == s.channel) {
                tracker.resume_stream(&c.login, s.key, s.started_at, s.irc_peak);
            }
        }
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let metrics = Arc::new(IngestMetrics::default());
        let handle = IngestHandle {
            tx,
            metrics: metrics.clone(),
        };
        // After any batch an earlier ingestion over this store committed.
        let seq = store.last_batch();
        let pipeline = Pipeline {
            store,
            emotes: HeldEmotes::new(config.emotes_interval),
            rows: HeldRows::new(if config.history_only {
                std::time::Duration::ZERO
            } else {
                config.rows_interval
            }),
            all_totals: false,
            leased_channels: FxHashSet::default(),
            config,
            tracker,
            batch: Batch::default(),
            acks: Vec::new(),
            in_flight: None,
            in_flight_batch: None,
            due: None,
            seq,
            metrics,
            clock: i64::MIN,
            last_tick: i64::MIN,
            names: FxHashMap::default(),
            cancel: cancel.clone(),
        };
        let task = tokio::spawn(pipeline.run(rx, cancel));
        Ok((handle, task))
    }
}

struct Pipeline {
    store: Arc<Store>,
    config: IngestConfig,
    tracker: Tracker,
    batch: Batch,
    acks: Vec<Ack>,
    /// Emote counts not yet handed to a batch.
    emotes: HeldEmotes,
    /// Channels' rows not yet handed to a batch.
    rows: HeldRows,
    /// The next batch writes every held total (a channel was released).
    all_totals: bool,
    /// Channels this instance holds the lease of (with leases).
    leased_channels: FxHashSet<ChannelKey>,
    /// The previous batch's commit, while it runs.
    in_flight: Option<Commit>,
    /// Its batch, read by [`Command::Uncommitted`] until the commit ends.
    in_flight_batch: Option<Arc<Batch>>,
    /// The open batch is due (with what it must write, see [`Self::hand_over_with`]) but a
    /// commit runs.
    due: Option<Force>,
    /// Number of the latest batch handed over.
    seq: u64,
    metrics: Arc<IngestMetrics>,
    /// Latest event time seen: the tracker's clock (deterministic, import-friendly).
    clock: i64,
    /// Clock value of the latest tracker tick.
    last_tick: i64,
    /// Hash of each user's name as last handed to a commit (bounded by [`NAME_CACHE_LIMIT`]).
    names: FxHashMap<UserId, u64>,
    cancel: CancellationToken,
}

/// What a hand-over writes beyond the batch's own changes, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Force {
    /// The held rows, emote counts and totals that are due.
    Due,
    /// Every held row (what a flush waits for); emote counts and totals as they fall due.
    Rows,
    /// Everything held: rows, emote counts, totals.
    All,
}

/// Names remembered by the pipeline before the cache starts over (about 40 MB).
const NAME_CACHE_LIMIT: usize = 1_000_000;

fn name_hash(row: &UserRow) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    row.login.hash(&mut h);
    row.display_name.hash(&mut h);
    h.finish()
}

impl Pipeline {
    /// Moves the clock to `at` (never back) and runs the tracker's periodic work once per second
    /// of event time, before the event at `at` is applied.
    fn advance(&mut self, at: Timestamp) {
        if at.0 > self.clock {
            self.clock = at.0;
        }
        if self.clock > self.last_tick {
            self.last_tick = self.clock;
            self.tracker.tick(Timestamp(self.clock), &mut self.batch);
        }
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command>,
        cancel: CancellationToken,
    ) -> Result<(), StoreError> {
        let mut flush = tokio::time::interval(self.config.flush_interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rules = tokio::time::interval(self.config.rules_reload);
        rules.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            let step = tokio::select! {
                biased;
                () = cancel.cancelled() => break Ok(()),
                // Polled before the queue, so a busy queue never starves the commit.
                committed = finish(&mut self.in_flight) => match committed {
                    Ok(()) => self.committed().await,
                    Err(e) => Err(e),
                },
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => break Ok(()),
                },

                _ = flush.tick() => {
                    // With no events for a while, a live bot's clock still moves on (imports of
                    // old lines never drive it: their times are far from now, and a replay's
                    // channels run on their own clocks).
                    let now = Timestamp::now();
                    if !self.config.history_only && now.0.saturating_sub(self.clock) < 600 {
                        self.advance(now);
                    }
                    self.hand_over().await
                }
                _ = rules.tick() => self.reload_rules().await,
            };
            if let Err(e) = step {
                break Err(e);
            }
            // A batch due while a commit ran whose end another step awaited.
            if self.in_flight.is_none()
                && let Some(force) = self.due
                && let Err(e) = self.hand_over_with(force).await
            {
                break Err(e);
            }
            if self.batch.events >= self.config.batch_events
                && let Err(e) = self.hand_over().await
            {
                break Err(e);
            }
        };
        // Drain what was queued before the stop, then write the final batch.
        rx.close();
        let mut drained = result;
        while let Some(cmd) = rx.recv().await {
            if drained.is_ok() {
                drained = self.command(cmd).await;
            }
        }
        if self.config.history_only {
            self.tracker.close_all(&mut self.batch);
        } else {
            self.tracker.checkpoint(&mut self.batch);
            // The last batch writes every held total: the next start need not recount the
            // channels this instance tracked (an import holds none and tracks no channel).
            let owned: Vec<ChannelKey> = if self.config.leased {
                self.leased_channels.iter().copied().collect()
            } else {
                self.tracker.channel_keys().map(|(_, key)| key).collect()
            };
            for key in owned {
                self.mark_written(key);
            }
        }
        let written = self.settle().await;
        drained.and(written)
    }

    async fn command(&mut self, cmd: Command) -> Result<(), StoreError> {
        match cmd {
            Command::Event(e) => self.apply(e).await,
            Command::Events(list) => {
                for e in list {
                    self.apply(e).await?;
                }
                Ok(())
            }
            Command::Flush(ack, emotes) => {
                self.acks.push(ack);
                self.hand_over_with(if emotes { Force::All } else { Force::Rows })
                    .await
            }
            Command::State(name, value) => {
                self.batch.states.push((name, value));
                Ok(())
            }
            Command::PresentCount(channel, reply) => {
                let _ = reply.send(self.tracker.present_count(&channel));
                Ok(())
            }
            Command::Uncommitted(channel, login, reply) => {
                let live = self.tracker.live_stream(&login);
                let mut slices = Vec::with_capacity(3);
                if let Some(batch) = &self.in_flight_batch {
                    slices.push(batch.channel_slice(channel, live, batch.seq));
                }
                // Older than the open batch's rows; committed with the open batch at the
                // earliest.
                slices.extend(self.rows.slice(channel, live, self.seq + 1));
                slices.push(self.batch.channel_slice(channel, live, self.seq + 1));
                let mut streams: FxHashSet<_> = slices
                    .iter()
                    .flat_map(|s| s.stream_users.iter().map(|(k, ..)| *k))
                    .collect();
                streams.extend(live);
                let held_emotes = self.emotes.counts_of(streams);
                let _ = reply.send(crate::store::Uncommitted {
                    slices,
                    held_emotes,
                    held_until: self.seq + 1,
                });
                Ok(())
            }
        }
    }

    /// The commit in flight has ended: a batch that fell due meanwhile is handed over now.
    async fn committed(&mut self) -> Result<(), StoreError> {
        self.in_flight_batch = None;
        match self.due.take() {
            Some(force) => self.hand_over_with(force).await,
            None => Ok(()),
        }
    }

    /// Starts the open batch's commit (answering the waiting flush acks when it is done), after
    /// the previous one has finished.
    async fn hand_over(&mut self) -> Result<(), StoreError> {
        self.hand_over_with(Force::Due).await
    }

    /// [`Self::hand_over`], with what `force` asks for beyond the rows that are due. While a
    /// commit runs the batch stays open, due (handed over when that commit ends), unless it
    /// has grown to twice `batch_events`: then the task waits for the commit.
    async fn hand_over_with(&mut self, force: Force) -> Result<(), StoreError> {
        if self.in_flight.is_some() {
            if self.batch.events < self.config.batch_events.saturating_mul(2) {
                self.due = Some(force.max(self.due.unwrap_or(Force::Due)));
                return Ok(());
            }
            self.wait_commit().await?;
        }
        let force = force.max(self.due.take().unwrap_or(Force::Due));
        let all = force == Force::All;
        let now = std::time::Instant::now();
        self.emotes.pass(&mut self.batch, all, now);
        // A released channel's rows go with the batch that records its release.
        let released = std::mem::take(&mut self.all_totals);
        self.rows
            .pass(&mut self.batch, force >= Force::Rows || released, now);
        let handed = self.batch.channel_users.len() + self.batch.stream_users.len();
        self.metrics.held_rows(self.rows.rows() + handed);
        // An import writes mostly new rows, and holds no more memory than it has to.
        let hold = if all || released || self.config.history_only {
            std::time::Duration::ZERO
        } else {
            self.config.totals_interval
        };
        if self.batch.is_empty() && self.acks.is_empty() && !self.store.totals_pending(hold) {
            return Ok(());
        }
        self.batch.hold_totals = hold;
        if self.config.history_only {
            // Intervals still open are written once they close (at the latest on stop).
            self.batch.presence.retain(|_, until| until.is_some());
            // ... and so stream rows never point at one.
            self.batch.stream_open.clear();
        }
        // Names committed already (and unchanged since) need no second write.
        let names = &mut self.names;
        if names.len() + self.batch.users.len() > NAME_CACHE_LIMIT {
            names.clear();
        }
        self.batch.users.retain(|id, row| {
            let h = name_hash(row);
            names.insert(*id, h) != Some(h)
        });
        self.seq += 1;
        self.batch.seq = self.seq;
        let batch = Arc::new(std::mem::take(&mut self.batch));
        self.in_flight_batch = Some(batch.clone());
        let job = Job {
            batch,
            acks: std::mem::take(&mut self.acks),
            held_after: self.rows.rows(),
        };
        self.in_flight = Some(Box::pin(commit(
            self.store.clone(),
            job,
            self.metrics.clone(),
            self.cancel.clone(),
        )));
        Ok(())
    }

    /// Waits for the commit in flight, if any.
    async fn wait_commit(&mut self) -> Result<(), StoreError> {
        let result = match self.in_flight.take() {
            Some(commit) => commit.await,
            None => Ok(()),
        };
        self.in_flight_batch = None;
        result
    }

    /// Commits the open batch and waits until everything before it is committed.
    async fn settle(&mut self) -> Result<(), StoreError> {
        self.wait_commit().await?;
        self.hand_over_with(Force::All).await?;
        self.wait_commit().await
    }

    /// Records, with the open batch (which must write every held total), that no total of
    /// `channel` is held any more: no row of it was seen after now (or the latest event).
    fn mark_written(&mut self, channel: ChannelKey) {
        let at = Timestamp::now().0.max(self.clock);
        self.batch
            .states
            .push((crate::store::totals_written_mark(channel), at.to_string()));
    }

    async fn ensure_channel(&mut self, channel: &Login) -> Result<(), StoreError> {
        if self.tracker.knows(channel) {
            return Ok(());
        }
        self.wait_commit().await?;
        let store = &self.store;
        let row = until_reachable(&self.cancel, || store.ensure_channel(channel)).await?;
        let rules = until_reachable(&self.cancel, || store.bot_rules(row.key))
            .await?
            .into_iter()
            .collect();
        self.tracker
            .add_channel(row.login, row.key, row.twitch_id, rules);
        Ok(())
    }

    async fn reload_rules(&mut self) -> Result<(), StoreError> {
        let keys: Vec<_> = self
            .tracker
            .channel_keys()
            .map(|(l, k)| (l.clone(), k))
            .collect();
        for (login, key) in keys {
            match self.store.bot_rules(key).await {
                Ok(rules) => {
                    let rules: FxHashMap<_, _> = rules.into_iter().collect();
                    self.tracker.set_rules(&login, rules);
                }
                // The rules in memory stay; the next reload tries again.
                Err(error) if error.is_transient() => {
                    tracing::debug!(%error, "reloading bot rules failed; keeping the current ones");
                    return Ok(());
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    async fn apply(&mut self, event: Event) -> Result<(), StoreError> {
        self.metrics.count(&event);
        self.batch.events += 1;
        if let Some(at) = event.time() {
            if self.config.history_only {
                self.clock = self.clock.max(at.0);
                if let Some(channel) = event.channel() {
                    self.tracker
                        .tick_channel(channel, at, false, &mut self.batch);
                }
            } else {
                self.advance(at);
            }
        }
        let batch = &mut self.batch;
        match event {
            Event::Join { channel, user, at } => {
                self.ensure_channel(&channel).await?;
                self.tracker.join(&channel, &user, at, &mut self.batch);
            }
            Event::Part { channel, user, at } => {
                self.ensure_channel(&channel).await?;
                self.tracker.part(&channel, &user, at, &mut self.batch);
            }
            Event::Message(msg) => {
                self.ensure_channel(&msg.channel).await?;
                self.tracker.message(&msg, &mut self.batch);
            }
            Event::Snapshot {
                channel,
                at,
                users,
                total,
            } => {
                self.ensure_channel(&channel).await?;
                self.tracker
                    .snapshot(&channel, &users, total, at, &mut self.batch);
            }
            Event::StreamOnline {
                channel,
                broadcaster,
                stream,
                started_at,
                title,
            } => {
                self.ensure_channel(&channel).await?;
                let key = self.tracker.channel_key(&channel);
                if let Some(key) = key {
                    // A live stream is marked before its rows are written: that needs the
                    // previous stream's end and rows committed (an end may be in this batch).
                    let mark = !self.config.history_only;
                    if mark && !self.batch.stream_ends.is_empty() {
                        self.settle().await?;
                    } else {
                        self.wait_commit().await?;
                    }
                    let store = &self.store;
                    let stream_key = until_reachable(&self.cancel, || {
                        store.open_stream(key, &stream, started_at, &title)
                    })
                    .await?;
                    if mark {
                        until_reachable(&self.cancel, || store.mark_stream(stream_key)).await?;
                    }
                    self.tracker.stream_online(
                        &channel,
                        stream_key,
                        started_at,
                        broadcaster,
                        &mut self.batch,
                    );
                }
            }
            Event::StreamOffline { channel, at } => {
                self.tracker.stream_offline(&channel, at, batch);
            }
            Event::Raid {
                channel,
                from,
                viewers,
                at,
            } => {
                self.ensure_channel(&channel).await?;
                self.tracker
                    .raid(&channel, &from, viewers, at, &mut self.batch);
            }
            Event::OptOut { user, at } => {
                // Earlier batches may hold the user's rows: commit them, then delete.
                self.tracker.opt_out(user);
                self.names.remove(&user);
                self.settle().await?;
                let store = &self.store;
                until_reachable(&self.cancel, || store.opt_out(user, at)).await?;
            }
            Event::OptIn { user } => {
                self.wait_commit().await?;
                let store = &self.store;
                until_reachable(&self.cancel, || store.opt_in(user)).await?;
                self.tracker.opt_in(user);
            }
            Event::Rename { user, at } => self.tracker.rename(&user, at, batch),
            Event::ChannelReleased { channel, at } => {
                let key = self.tracker.channel_key(&channel);
                self.tracker.release(&channel, at, batch);
                // This batch writes every held total, so the instance taking the channel need
                // not recount it.
                self.all_totals = true;
                if let Some(key) = key {
                    self.leased_channels.remove(&key);
                    self.mark_written(key);
                }
            }
            Event::ChannelAcquired { channel } => {
                self.ensure_channel(&channel).await?;
                let key = self.tracker.channel_key(&channel);
                if let Some(key) = key {
                    // Whatever this instance wrote there before (a release) is committed first.
                    self.settle().await?;
                    let store = &self.store;
                    let closed =
                        until_reachable(&self.cancel, || store.close_dangling_presence(Some(key)))
                            .await?;
                    if closed > 0 {
                        tracing::info!(%channel, intervals = closed, "closed presence left open by the channel's previous instance");
                    }
                    self.leased_channels.insert(key);
                }
            }
            Event::Account { user, created_at } => {
                self.tracker
                    .account(&user, created_at, Timestamp::now(), batch);
            }
        }
        Ok(())
    }
}
