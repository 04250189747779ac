//! The scheduler: which channels to be in, when each is live, and when to take its snapshot.
//!
//! - Wanted channels = `CHATTERS_CHANNELS` ∪ channels added in the store ∪ channels the bot
//!   account moderates (Helix, re-read every 10 minutes). The store is re-read every 10 s so
//!   `chatters channel add` takes effect quickly. The set is published to the IRC task.
//! - Streams: Helix Get Streams (100 channels a call) every `STREAM_POLL_INTERVAL`; a channel
//!   found live gets `StreamOnline` (Twitch's id and `started_at`), a live one found offline
//!   gets `StreamOffline` at the poll's time. A failed poll ends nothing. Each live channel of
//!   a successful poll is a stream sample (viewers, category) written to the store.
//! - Snapshots: Get Chatters per channel every `SNAPSHOT_INTERVAL` while live and
//!   `OFFLINE_SNAPSHOT_INTERVAL` while offline, each channel at its own phase so the calls
//!   spread over the interval. A 403 switches the channel to IRC-only until the next read of
//!   the moderated channels; a failed snapshot is counted and logged, never stored as empty.
//! - Leases (with `REDIS_URL`, see [`crate::lease`]): the wanted set goes to the lease task
//!   instead of IRC; the lease task publishes the channels whose lease this instance holds to
//!   IRC, and the scheduler polls and snapshots only those ([`Scheduler::following`]).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::Event;
use chatters_core::ingest::{IngestClosed, IngestHandle};
use chatters_core::store::{Store, StreamSample};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{Api, ApiError, ChatterList, LiveInfo};
use crate::observed::Observed;

/// Timing and scope of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Snapshot period while live.
    pub snapshot_interval: Duration,
    /// Snapshot period while offline.
    pub offline_snapshot_interval: Duration,
    /// Get Streams period.
    pub stream_poll_interval: Duration,
    /// How often the moderated channels are re-read.
    pub moderated_refresh: Duration,
    /// How often the store's channels are re-read.
    pub store_refresh: Duration,
    /// `CHATTERS_CHANNELS`.
    pub extra_channels: Vec<Login>,
    /// Snapshots are possible (bot token with `moderator:read:chatters`).
    pub snapshots: bool,
    /// Moderated channels can be read (`user:read:moderated_channels`).
    pub moderated: bool,
    /// Snapshot calls in flight at most.
    pub concurrency: usize,
}

/// Counters of the scheduler.
#[derive(Debug, Default)]
pub struct SchedulerMetrics {
    /// Snapshots stored.
    pub snapshots_ok: AtomicU64,
    /// Snapshots that failed after the client's retries.
    pub snapshots_failed: AtomicU64,
    /// Stream polls that failed.
    pub polls_failed: AtomicU64,
}

/// One wanted channel.
#[derive(Debug, Clone)]
struct Tracked {
    /// Broadcaster id, once resolved.
    id: Option<UserId>,
    /// Live stream id.
    live: Option<StreamId>,
    /// 403 on Get Chatters: no snapshots until the moderated channels are read again.
    irc_only: bool,
    /// When the next snapshot is due.
    next_snapshot: Instant,
    /// A snapshot call is in flight.
    in_flight: bool,
}

/// The scheduler task's state.
#[derive(Debug)]
pub struct Scheduler {
    api: Option<Arc<dyn Api>>,
    store: Arc<Store>,
    ingest: IngestHandle,
    wanted: watch::Sender<BTreeSet<Login>>,
    config: SchedulerConfig,
    channels: BTreeMap<Login, Tracked>,
    moderated: Vec<(UserId, Login)>,
    metrics: Arc<SchedulerMetrics>,
    learn: Option<mpsc::Sender<Observed>>,
    /// The channels leased by this instance, when several instances share the work.
    leased: Option<watch::Receiver<BTreeSet<Login>>>,
    /// Every wanted channel, leased here or not.
    all_wanted: BTreeSet<Login>,
    /// Broadcaster ids known from the store and the moderated channels.
    known_ids: BTreeMap<Login, UserId>,
}

/// A snapshot's outcome, from a spawned call back to the loop.
type SnapshotResult = (Login, Timestamp, Result<ChatterList, ApiError>);

/// A deterministic phase in `[0, period)` for a channel, so snapshots spread evenly.
fn phase(login: &Login, period: Duration) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    login.hash(&mut h);
    let millis = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(h.finish() % millis)
}

impl Scheduler {
    /// A scheduler; `wanted` is what the IRC task joins.
    pub fn new(
        api: Option<Arc<dyn Api>>,
        store: Arc<Store>,
        ingest: IngestHandle,
        wanted: watch::Sender<BTreeSet<Login>>,
        config: SchedulerConfig,
    ) -> Self {
        Self {
            api,
            store,
            ingest,
            wanted,
            config,
            channels: BTreeMap::new(),
            moderated: Vec::new(),
            metrics: Arc::new(SchedulerMetrics::default()),
            learn: None,
            leased: None,
            all_wanted: BTreeSet::new(),
            known_ids: BTreeMap::new(),
        }
    }

    /// Tracks only the wanted channels also in `leased` (published by the lease task, which
    /// then reads `wanted` from this scheduler).
    #[must_use]
    pub fn following(mut self, leased: watch::Receiver<BTreeSet<Login>>) -> Self {
        self.leased = Some(leased);
        self
    }

    /// Also tells identity resolution who each snapshot listed (logins known without a lookup,
    /// account ages wanted).
    #[must_use]
    pub fn learning(mut self, identity: mpsc::Sender<Observed>) -> Self {
        self.learn = Some(identity);
        self
    }

    /// The scheduler's counters.
    pub fn metrics(&self) -> Arc<SchedulerMetrics> {
        self.metrics.clone()
    }

    /// Runs until cancelled.
    pub async fn run(mut self, cancel: CancellationToken) -> anyhow::Result<()> {
        self.resume().await?;
        self.read_moderated().await;
        self.refresh_channels().await?;
        let mut store_tick = tokio::time::interval(self.config.store_refresh);
        let mut moderated_tick = tokio::time::interval(self.config.moderated_refresh);
        let mut poll_tick = tokio::time::interval(self.config.stream_poll_interval);
        let mut snapshot_tick = tokio::time::interval(Duration::from_millis(250));
        // Without leases, a receiver that never changes.
        let (_unleased, unleased) = watch::channel(BTreeSet::new());
        let mut leased = self.leased.clone().unwrap_or(unleased);
        leased.mark_unchanged();
        for t in [
            &mut store_tick,
            &mut moderated_tick,
            &mut poll_tick,
            &mut snapshot_tick,
        ] {
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        moderated_tick.reset();
        let mut calls: JoinSet<SnapshotResult> = JoinSet::new();
        loop {
            let step: anyhow::Result<()> = tokio::select! {
                () = cancel.cancelled() => break,
                _ = store_tick.tick() => self.refresh_channels().await,
                _ = moderated_tick.tick() => {
                    self.read_moderated().await;
                    self.refresh_channels().await
                }
                Ok(()) = leased.changed() => self.track_wanted().await,
                _ = poll_tick.tick() => self.poll_streams().await,
                _ = snapshot_tick.tick() => {
                    self.start_snapshots(&mut calls);
                    Ok(())
                }
                Some(done) = calls.join_next() => match done {
                    Ok(result) => self.finish_snapshot(result).await,
                    Err(e) => {
                        tracing::error!(error = %e, "snapshot task failed");
                        Ok(())
                    }
                },
            };
            match step {
                Ok(()) => {}
                // A step that was under way when the stop came (a poll's retries, a slow
                // write) finds ingestion stopped: what it found is dropped, as it would be a
                // moment later; the stop is no failure.
                Err(error) if cancel.is_cancelled() && error.is::<IngestClosed>() => {
                    tracing::debug!("stopping: a step's events found ingestion stopped");
                    break;
                }
                Err(error) => return Err(error),
            }
        }
        calls.abort_all();
        Ok(())
    }

    /// Streams live before a restart are live until a poll says otherwise.
    async fn resume(&mut self) -> anyhow::Result<()> {
        let channels = self.store.channels().await?;
        for stream in self.store.live_streams().await? {
            if let Some(c) = channels.iter().find(|c| c.key == stream.channel) {
                let t = self.track(&c.login);
                t.live = Some(stream.id.clone());
                t.id = t.id.or(c.twitch_id);
            }
        }
        Ok(())
    }

    fn track(&mut self, login: &Login) -> &mut Tracked {
        let first = Instant::now()
            + phase(
                login,
                self.config
                    .offline_snapshot_interval
                    .min(Duration::from_secs(60)),
            );
        self.channels.entry(login.clone()).or_insert(Tracked {
            id: None,
            live: None,
            irc_only: false,
            next_snapshot: first,
            in_flight: false,
        })
    }

    async fn read_moderated(&mut self) {
        let Some(api) = self.api.clone().filter(|_| self.config.moderated) else {
            return;
        };
        match api.moderated_channels().await {
            Ok(list) => {
                self.moderated = list;
                // A 403 is retried after each read of the moderated channels.
                for t in self.channels.values_mut() {
                    t.irc_only = false;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "reading the moderated channels failed; keeping the last list")
            }
        }
    }

    /// Recomputes the wanted set, publishes it, and tracks it (or its leased part).
    async fn refresh_channels(&mut self) -> anyhow::Result<()> {
        let stored = self.store.channels().await?;
        let mut wanted: BTreeSet<Login> = self.config.extra_channels.iter().cloned().collect();
        wanted.extend(stored.iter().filter(|c| c.wanted).map(|c| c.login.clone()));
        wanted.extend(self.moderated.iter().map(|(_, l)| l.clone()));
        let known_ids: BTreeMap<Login, UserId> = stored
            .iter()
            .filter_map(|c| c.twitch_id.map(|id| (c.login.clone(), id)))
            .chain(self.moderated.iter().map(|(id, l)| (l.clone(), *id)))
            .collect();
        self.all_wanted = wanted;
        self.known_ids = known_ids;
        self.track_wanted().await?;
        let wanted = &self.all_wanted;
        self.wanted.send_if_modified(|current| {
            if current == wanted {
                false
            } else {
                current.clone_from(wanted);
                true
            }
        });
        Ok(())
    }

    /// Tracks the wanted channels (those leased here, with leases) and resolves new channels'
    /// ids.
    async fn track_wanted(&mut self) -> anyhow::Result<()> {
        let wanted: BTreeSet<Login> = match &self.leased {
            Some(leased) => leased
                .borrow()
                .intersection(&self.all_wanted)
                .cloned()
                .collect(),
            None => self.all_wanted.clone(),
        };
        if self.leased.is_some() {
            // Another instance may track these now: this one's tracker lets them go.
            let at = Timestamp::now();
            let released: Vec<Event> = self
                .channels
                .keys()
                .filter(|l| !wanted.contains(*l))
                .map(|l| Event::ChannelReleased {
                    channel: l.clone(),
                    at,
                })
                .collect();
            if !released.is_empty() {
                self.ingest.send_all(released).await?;
            }
            // Taken here: what its previous instance left open is closed before tracking starts.
            let acquired: Vec<Event> = wanted
                .iter()
                .filter(|l| !self.channels.contains_key(*l))
                .map(|l| Event::ChannelAcquired { channel: l.clone() })
                .collect();
            if !acquired.is_empty() {
                self.ingest.send_all(acquired).await?;
            }
        }
        self.channels.retain(|l, _| wanted.contains(l));
        for login in &wanted {
            let id = self.known_ids.get(login).copied();
            let t = self.track(login);
            t.id = t.id.or(id);
        }
        let unresolved: Vec<Login> = self
            .channels
            .iter()
            .filter(|(_, t)| t.id.is_none())
            .map(|(l, _)| l.clone())
            .collect();
        if let (Some(api), false) = (&self.api, unresolved.is_empty()) {
            match api.users_by_login(&unresolved).await {
                Ok(found) => {
                    for account in found {
                        if let Some(t) = self.channels.get_mut(&account.user.login) {
                            t.id = Some(account.user.id);
                            let row = self.store.ensure_channel(&account.user.login).await?;
                            self.store
                                .set_channel_twitch_id(row.key, account.user.id)
                                .await?;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "resolving channel ids failed; retrying later")
                }
            }
        }
        Ok(())
    }

    /// Get Streams for every channel with a known id; online/offline transitions become events.
    async fn poll_streams(&mut self) -> anyhow::Result<()> {
        let Some(api) = self.api.clone() else {
            return Ok(());
        };
        let ids: Vec<UserId> = self.channels.values().filter_map(|t| t.id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let live = match api.streams(&ids).await {
            Ok(live) => live,
            Err(error) => {
                self.metrics.polls_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "stream poll failed; nothing ends on a failed poll");
                return Ok(());
            }
        };
        // A stream ends when the answer that found it offline came, however long the call's
        // retries took before it.
        let at = Timestamp::now();
        let by_id: BTreeMap<UserId, _> = live.into_iter().map(|s| (s.user_id, s)).collect();
        let mut events = Vec::new();
        for (login, t) in &mut self.channels {
            let Some(id) = t.id else { continue };
            match (by_id.get(&id), &t.live) {
                (Some(s), current) if current.as_ref() != Some(&s.id) => {
                    if current.is_some() {
                        events.push(Event::StreamOffline {
                            channel: login.clone(),
                            at: s.started_at,
                        });
                    }
                    t.live = Some(s.id.clone());
                    // A fresh stream gets its first snapshot right away.
                    t.next_snapshot = Instant::now();
                    events.push(Event::StreamOnline {
                        channel: login.clone(),
                        broadcaster: Some(id),
                        stream: s.id.clone(),
                        started_at: s.started_at,
                        title: s.title.clone(),
                    });
                }
                (None, Some(_)) => {
                    t.live = None;
                    events.push(Event::StreamOffline {
                        channel: login.clone(),
                        at,
                    });
                }
                _ => {}
            }
        }
        if !events.is_empty() {
            self.ingest.send_all(events).await?;
        }
        self.record_samples(&by_id, at).await;
        Ok(())
    }

    /// Every successful poll of a live channel is a stream sample (viewers, category).
    async fn record_samples(&self, live: &BTreeMap<UserId, LiveInfo>, at: Timestamp) {
        let samples: Vec<_> = self
            .channels
            .iter()
            .filter_map(|(login, t)| {
                let s = live.get(&t.id?)?;
                Some((
                    login.clone(),
                    StreamSample {
                        at,
                        viewers: s.viewers,
                        game_id: s.game_id.clone(),
                        game_name: s.game_name.clone(),
                    },
                ))
            })
            .collect();
        if let Err(error) = self.store.record_samples(&samples).await {
            tracing::warn!(%error, "recording stream samples failed");
        }
    }

    /// Starts the snapshots that are due, within the concurrency limit.
    fn start_snapshots(&mut self, calls: &mut JoinSet<SnapshotResult>) {
        let Some(api) = self.api.clone().filter(|_| self.config.snapshots) else {
            return;
        };
        let now = Instant::now();
        for (login, t) in &mut self.channels {
            if calls.len() >= self.config.concurrency {
                break;
            }
            let (Some(id), false, false) = (t.id, t.irc_only, t.in_flight) else {
                continue;
            };
            if t.next_snapshot > now {
                continue;
            }
            t.in_flight = true;
            let period = if t.live.is_some() {
                self.config.snapshot_interval
            } else {
                self.config.offline_snapshot_interval
            };
            // Keep the channel's phase: the next one is due a period after this one was.
            t.next_snapshot = (t.next_snapshot + period).max(now + period / 2);
            let api = api.clone();
            let login = login.clone();
            calls.spawn(async move {
                let result = api.chatters(id).await;
                (login, Timestamp::now(), result)
            });
        }
    }

    async fn finish_snapshot(&mut self, (login, at, result): SnapshotResult) -> anyhow::Result<()> {
        let Some(t) = self.channels.get_mut(&login) else {
            return Ok(());
        };
        t.in_flight = false;
        match result {
            Ok(list) => {
                self.metrics.snapshots_ok.fetch_add(1, Ordering::Relaxed);
                if let Some(learn) = &self.learn {
                    // A hint only: when identity is busy it is dropped, never waited for.
                    let _ = learn.try_send(Observed::Known(list.users.clone()));
                }
                self.ingest
                    .send(Event::Snapshot {
                        channel: login,
                        at,
                        users: list.users,
                        total: list.total,
                    })
                    .await?;
            }
            Err(ApiError::Forbidden) => {
                t.irc_only = true;
                tracing::warn!(channel = %login, "Get Chatters answered 403 (not a moderator?): IRC-only until the moderated channels are read again");
            }
            Err(error) => {
                self.metrics
                    .snapshots_failed
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel = %login, %error, "snapshot failed");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chatters_core::ingest::{Ingest, IngestConfig};
    use secrecy::ExposeSecret;

    use super::*;
    use crate::api::{Account, LiveInfo};
    use crate::lease::{LeaseConfig, Leases};

    /// `channelN` has id `1000 + N`; remembers the ids of the last stream poll.
    #[derive(Debug, Default)]
    struct FakeApi {
        polled: std::sync::Mutex<BTreeSet<UserId>>,
        /// When set, a stream poll says so (`.0`), then waits for `.1` and finds every
        /// channel live.
        held_poll: Option<(tokio::sync::Notify, tokio::sync::Notify)>,
    }

    fn fake_id(login: &Login) -> UserId {
        let n: i64 = login.as_str()["channel".len()..].parse().unwrap_or(0);
        UserId(1000 + n)
    }

    #[async_trait::async_trait]
    impl Api for FakeApi {
        async fn users_by_login(&self, logins: &[Login]) -> Result<Vec<Account>, ApiError> {
            Ok(logins
                .iter()
                .map(|l| Account {
                    user: chatters_core::event::UserRef {
                        id: fake_id(l),
                        login: l.clone(),
                        display_name: None,
                    },
                    created_at: Timestamp::now(),
                })
                .collect())
        }
        async fn users_by_id(&self, _: &[UserId]) -> Result<Vec<Account>, ApiError> {
            Ok(Vec::new())
        }
        async fn chatters(&self, _: UserId) -> Result<ChatterList, ApiError> {
            Err(ApiError::Forbidden)
        }
        async fn streams(&self, ids: &[UserId]) -> Result<Vec<LiveInfo>, ApiError> {
            *self.polled.lock().expect("lock") = ids.iter().copied().collect();
            let Some((entered, release)) = &self.held_poll else {
                return Ok(Vec::new());
            };
            entered.notify_one();
            release.notified().await;
            Ok(ids
                .iter()
                .map(|id| LiveInfo {
                    user_id: *id,
                    login: Login::parse(&format!("channel{}", id.0 - 1000)).expect("login"),
                    id: chatters_core::domain::StreamId::parse(&format!("s{}", id.0))
                        .expect("stream id"),
                    started_at: Timestamp::now(),
                    title: String::new(),
                    viewers: 1,
                    game_id: String::new(),
                    game_name: String::new(),
                })
                .collect())
        }
        async fn moderated_channels(&self) -> Result<Vec<(UserId, Login)>, ApiError> {
            Ok(Vec::new())
        }
    }

    use crate::lease::test_redis_url as redis_url;

    fn config(channels: &[Login]) -> SchedulerConfig {
        SchedulerConfig {
            snapshot_interval: Duration::from_secs(60),
            offline_snapshot_interval: Duration::from_secs(60),
            stream_poll_interval: Duration::from_secs(60),
            moderated_refresh: Duration::from_secs(600),
            store_refresh: Duration::from_secs(60),
            extra_channels: channels.to_vec(),
            snapshots: false,
            moderated: false,
            concurrency: 1,
        }
    }

    /// Waits until `check` holds for the published sets, up to `limit`.
    async fn until(
        a: &watch::Receiver<BTreeSet<Login>>,
        b: &watch::Receiver<BTreeSet<Login>>,
        limit: Duration,
        check: impl Fn(&BTreeSet<Login>, &BTreeSet<Login>) -> bool,
    ) {
        let start = Instant::now();
        loop {
            let (sa, sb) = (a.borrow().clone(), b.borrow().clone());
            if check(&sa, &sb) {
                return;
            }
            assert!(start.elapsed() < limit, "published: {sa:?} / {sb:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A migrated SQLite store in `dir` and ingestion over it.
    async fn pipeline(
        dir: &tempfile::TempDir,
        cancel: &CancellationToken,
    ) -> (
        Arc<Store>,
        IngestHandle,
        tokio::task::JoinHandle<Result<(), chatters_core::store::StoreError>>,
    ) {
        let store = chatters_core::store::open(
            &format!("sqlite://{}/chatters.db", dir.path().display()),
            &Default::default(),
        )
        .await
        .expect("store");
        store.migrate().await.expect("migrate");
        let (ingest, writer) =
            Ingest::start(store.clone(), IngestConfig::default(), cancel.clone())
                .await
                .expect("ingest");
        (store, ingest, writer)
    }

    #[tokio::test]
    async fn without_leases_every_wanted_channel_is_published() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        let (store, ingest, writer) = pipeline(&dir, &cancel).await;
        let channels: Vec<Login> = (0..3)
            .map(|i| Login::parse(&format!("channel{i}")).expect("login"))
            .collect();
        let (tx, mut rx) = watch::channel(BTreeSet::new());
        let scheduler = Scheduler::new(None, store, ingest.clone(), tx, config(&channels));
        let run = tokio::spawn(scheduler.run(cancel.clone()));

        rx.changed().await.expect("published");
        assert_eq!(*rx.borrow(), channels.iter().cloned().collect());

        cancel.cancel();
        run.await.expect("join").expect("scheduler");
        drop(ingest);
        writer.await.expect("join").expect("writer");
    }

    /// A stream poll under way when the stop comes finds ingestion stopped: the scheduler
    /// stops cleanly (it failed the whole run with "ingestion has stopped", seen at the end of
    /// an `irc_load` run whose poll was slowed by the load).
    #[tokio::test]
    async fn a_poll_finishing_after_ingestion_stopped_is_no_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ingestion_stop = CancellationToken::new();
        let (store, ingest, writer) = pipeline(&dir, &ingestion_stop).await;
        let channels = vec![Login::parse("channel1").expect("login")];
        let api = Arc::new(FakeApi {
            held_poll: Some(Default::default()),
            ..FakeApi::default()
        });
        let (tx, _rx) = watch::channel(BTreeSet::new());
        let mut scheduler_config = config(&channels);
        scheduler_config.stream_poll_interval = Duration::from_millis(20);
        let scheduler = Scheduler::new(
            Some(api.clone()),
            store,
            ingest.clone(),
            tx,
            scheduler_config,
        );
        let cancel = CancellationToken::new();
        let run = tokio::spawn(scheduler.run(cancel.clone()));
        let (entered, release) = api.held_poll.as_ref().expect("held");
        tokio::time::timeout(Duration::from_secs(10), entered.notified())
            .await
            .expect("a poll started");
        // The stop: ingestion ends first, then the poll's answer arrives.
        cancel.cancel();
        ingestion_stop.cancel();
        writer.await.expect("join").expect("writer");
        release.notify_one();
        let stopped = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("stopped")
            .expect("join");
        assert!(stopped.is_ok(), "{stopped:?}");
    }

    #[tokio::test]
    async fn with_leases_only_the_leased_channels_are_published() {
        let Some(url) = redis_url() else { return };
        let dir = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        let (store, ingest, writer) = pipeline(&dir, &cancel).await;
        let channels: Vec<Login> = (0..10)
            .map(|i| Login::parse(&format!("channel{i}")).expect("login"))
            .collect();
        let all: BTreeSet<Login> = channels.iter().cloned().collect();
        let lease_config = LeaseConfig {
            ttl: Duration::from_millis(600),
            prefix: format!("chatters-test:{}:scheduler:", std::process::id()),
        };
        let mut watches = Vec::new();
        let mut runs = Vec::new();
        let mut apis = Vec::new();
        let mut scheduler_config = config(&channels);
        scheduler_config.stream_poll_interval = Duration::from_millis(100);
        for _ in 0..2 {
            let api = Arc::new(FakeApi::default());
            apis.push(api.clone());
            let leases = Leases::connect(&url, lease_config.clone()).expect("leases");
            let (all_tx, all_rx) = watch::channel(BTreeSet::new());
            // What IRC would join.
            let (leased_tx, leased_rx) = watch::channel(BTreeSet::new());
            let scheduler = Scheduler::new(
                Some(api),
                store.clone(),
                ingest.clone(),
                all_tx,
                scheduler_config.clone(),
            )
            .following(leased_rx.clone());
            let stop = CancellationToken::new();
            let lease_task = tokio::spawn(leases.run(all_rx, leased_tx, stop.clone()));
            let scheduler_task = tokio::spawn(scheduler.run(stop.clone()));
            runs.push((stop, lease_task, scheduler_task));
            watches.push(leased_rx);
        }

        // Shared out: every channel published by exactly one, 5 and 5 once settled.
        until(&watches[0], &watches[1], Duration::from_secs(3), |a, b| {
            a.is_disjoint(b) && a.len() == 5 && b.len() == 5
        })
        .await;
        // Each instance polls only the channels it leases.
        let start = Instant::now();
        for (api, leased) in apis.iter().zip(&watches) {
            let ids: BTreeSet<UserId> = leased.borrow().iter().map(fake_id).collect();
            while *api.polled.lock().expect("lock") != ids {
                assert!(
                    start.elapsed() < Duration::from_secs(2),
                    "polled {:?}",
                    api.polled
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }

        // The first stops (releasing its leases): the second publishes all of them.
        let (stop, lease_task, scheduler_task) = runs.remove(0);
        stop.cancel();
        lease_task.await.expect("join").expect("leases");
        scheduler_task.await.expect("join").expect("scheduler");
        until(&watches[0], &watches[1], Duration::from_secs(2), |_, b| {
            *b == all
        })
        .await;

        let (stop, lease_task, scheduler_task) = runs.remove(0);
        stop.cancel();
        lease_task.await.expect("join").expect("leases");
        scheduler_task.await.expect("join").expect("scheduler");
        cancel.cancel();
        drop(ingest);
        writer.await.expect("join").expect("writer");
        let client = redis::Client::open(url.expose_secret()).expect("URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connection");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", lease_config.prefix))
            .query_async(&mut conn)
            .await
            .expect("KEYS");
        assert!(keys.is_empty(), "released on stop: {keys:?}");
    }
}
