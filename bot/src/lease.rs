//! Channel leases in Redis: with `REDIS_URL` set, several `chatters bot` instances share one
//! database and each channel is tracked (joined, polled, snapshotted) by exactly one of them.
//!
//! - A lease is the key `<prefix>lease:<login>` (prefix `chatters:`) holding this instance's
//!   random id, taken with `SET key id NX PX ttl` (ttl 10 s by default).
//! - The lease task ([`Leases::run`]) reads the wanted channels from the scheduler and publishes
//!   the leased ones to IRC and back to the scheduler. It is a task of its own so that slow
//!   Helix calls in the scheduler never delay a renewal.
//! - Every `ttl / 5` ([`Leases::renew_interval`]) and whenever the wanted set changes, the
//!   task calls [`Leases::sync`]: the held leases are extended by a Lua script that extends a
//!   key only while it still holds our id. A lease that is not ours any more (expired and taken, or overwritten) is dropped and
//!   counted as lost; the channel stops being tracked here.
//! - Each sync also refreshes this instance's heartbeat in the sorted set `<prefix>instances`
//!   (member = id, score = Redis time + ttl; entries past their score are removed), whose size
//!   is the number of live instances.
//! - Fair share: with `wanted` channels and `live` instances, an instance takes free channels
//!   while it holds fewer than `ceil(wanted / live)`, and releases its extras down to that
//!   number when it holds more than `ceil(wanted / live) + 1`. An instance's first sync only
//!   announces it (heartbeat, no lease taken): instances started within one renew interval of
//!   each other count each other before taking anything, so they share the channels from the
//!   start instead of the first taking everything (more than it can JOIN at Twitch's rate) and
//!   handing most of it back.
//! - Take-over: a dead instance's leases and heartbeat expire within one ttl of its last
//!   renewal; the channels are picked up at the survivors' next sync, so within about
//!   `ttl + 2 × ttl / 5` (14 s by default, usually 10-12 s; then the JOIN). A graceful shutdown
//!   ([`Leases::release_all`]) deletes the leases at once (check-and-delete script) and the
//!   others take over at their next sync (within `ttl / 5`).
//! - Redis unreachable: the leases already held are kept while they are still valid in Redis
//!   (measured from before the command that last took or renewed them); a lease that would
//!   expire before the next sync is dropped (counted as lost), so no channel is ever tracked
//!   without a lease. Nothing new is taken. One warning is logged when Redis becomes
//!   unreachable and one info line when it answers again; every sync retries.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chatters_core::domain::Login;
use chatters_core::metrics::Metrics;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Extends each key of `KEYS` by `ARGV[2]` ms while it holds `ARGV[1]`; 1 per key extended,
/// 0 per key lost.
const RENEW: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
";

/// Deletes each key of `KEYS` that holds `ARGV[1]`; the number deleted.
const RELEASE: &str = r"
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
";

/// Heartbeat of instance `ARGV[1]` for `ARGV[2]` ms in the sorted set `KEYS[1]` (scores are
/// expiry times in Redis' clock); the number of live instances.
const HEARTBEAT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
";

/// Removes instance `ARGV[1]` from the sorted set `KEYS[1]`.
const LEAVE: &str = "return redis.call('ZREM', KEYS[1], ARGV[1])";

/// Channels an instance may hold above its fair share before it releases the extras.
pub const SLACK: usize = 1;

/// Keys read per MGET when looking for free channels.
const MGET_CHUNK: usize = 500;

/// Lease timing and key names.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// How long a lease lives without renewal.
    pub ttl: Duration,
    /// Prefix of every key (`chatters:`); tests use their own.
    pub prefix: String,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            prefix: "chatters:".to_owned(),
        }
    }
}

/// Counters of the leases, for `/metrics`.
#[derive(Debug, Default)]
pub struct LeaseMetrics {
    /// Channels leased by this instance now.
    pub held: AtomicU64,
    /// Leases lost: taken by another instance, or expired while Redis was unreachable.
    pub lost: AtomicU64,
}

impl LeaseMetrics {
    /// Publishes these counters in the process's registry.
    pub fn register(self: &Arc<Self>, metrics: &Metrics) {
        let this = self.clone();
        metrics.source(move |w| {
            w.gauge(
                "chatters_channels_leased",
                "Channels whose Redis lease this instance holds (the channels it tracks).",
                i64::try_from(this.held.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
            )?;
            w.counter(
                "chatters_lease_losses",
                "Channel leases lost: taken by another instance, or expired while Redis was unreachable.",
                this.lost.load(Ordering::Relaxed),
            )
        });
    }
}

/// The Redis URL could not be used (the URL itself is never part of the message).
#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL cannot be used for channel leases")]
pub struct LeaseError;

/// This instance's channel leases.
pub struct Leases {
    manager: ConnectionManager,
    id: String,
    config: LeaseConfig,
    /// Held leases and until when each is valid (local clock, from before the command that
    /// took or renewed it).
    held: BTreeMap<Login, Instant>,
    metrics: Arc<LeaseMetrics>,
    /// Redis failed at the last sync (warned once).
    unreachable: bool,
    /// The first sync (heartbeat only) is done.
    announced: bool,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("id", &self.id)
            .field("config", &self.config)
            .field("held", &self.held.len())
            .finish_non_exhaustive()
    }
}

/// A random instance id: 16 random bytes in hex.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No system randomness: the process id and the clock are unique enough per host.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes[..8].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
        bytes[8..].copy_from_slice(&(nanos as u64).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn retryable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

fn eval(script: &str, keys: &[String], args: &[&str]) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len()).arg(keys);
    for a in args {
        cmd.arg(*a);
    }
    cmd
}

impl Leases {
    /// Leases over `url` (connected lazily) with a new random instance id.
    pub fn connect(url: &SecretString, config: LeaseConfig) -> Result<Self, LeaseError> {
        let timeout = (config.ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(2));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = redis::Client::open(url.expose_secret())
            .and_then(|client| ConnectionManager::new_lazy_with_config(client, manager_config))
            .map_err(|_| LeaseError)?;
        Ok(Self {
            manager,
            id: random_id(),
            config,
            held: BTreeMap::new(),
            metrics: Arc::new(LeaseMetrics::default()),
            unreachable: false,
            announced: false,
        })
    }

    /// This instance's id (the value of its lease keys).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How often [`sync`](Self::sync) is to be called: a fifth of the ttl.
    pub fn renew_interval(&self) -> Duration {
        self.config.ttl / 5
    }

    /// The channels leased now.
    pub fn held(&self) -> BTreeSet<Login> {
        self.held.keys().cloned().collect()
    }

    /// The counters.
    pub fn metrics(&self) -> Arc<LeaseMetrics> {
        self.metrics.clone()
    }

    /// The Redis key of a channel's lease.
    pub fn key(&self, login: &Login) -> String {
        format!("{}lease:{}", self.config.prefix, login.as_str())
    }

    fn instances_key(&self) -> String {
        format!("{}instances", self.config.prefix)
    }

    fn ttl_ms(&self) -> String {
        self.config.ttl.as_millis().max(1).to_string()
    }

    /// Runs `cmd`, once more after a connection failure (the manager reconnects in between).
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisError> {
        let mut manager = self.manager.clone();
        match cmd.query_async(&mut manager).await {
            Err(e) if retryable(&e) => cmd.query_async(&mut manager).await,
            other => other,
        }
    }

    /// One round: heartbeat, renew the held leases, release the unwanted ones and those over
    /// the fair share, take free wanted channels up to the fair share. Returns the channels
    /// leased now (a subset of `wanted`). Never fails: Redis errors keep the still-valid
    /// leases (see the module documentation).
    pub async fn sync(&mut self, wanted: &BTreeSet<Login>) -> BTreeSet<Login> {
        let unwanted: Vec<Login> = self
            .held
            .keys()
            .filter(|l| !wanted.contains(*l))
            .cloned()
            .collect();
        match self.round(wanted, &unwanted).await {
            Ok(()) => {
                if self.unreachable {
                    tracing::info!("channel leases: Redis answers again");
                    self.unreachable = false;
                }
            }
            Err(error) => self.unreachable(&error),
        }
        // A round slower than a lease's life (Redis stalling) never leaves an expired lease.
        let now = Instant::now();
        let before = self.held.len();
        self.held.retain(|_, valid_until| *valid_until > now);
        let expired = before - self.held.len();
        if expired > 0 {
            self.metrics
                .lost
                .fetch_add(expired as u64, Ordering::Relaxed);
            tracing::warn!(
                expired,
                "channel leases expired during a slow sync: those channels are no longer tracked here"
            );
        }
        self.metrics
            .held
            .store(self.held.len() as u64, Ordering::Relaxed);
        self.held()
    }

    async fn round(
        &mut self,
        wanted: &BTreeSet<Login>,
        unwanted: &[Login],
    ) -> Result<(), RedisError> {
        if !unwanted.is_empty() {
            for login in unwanted {
                self.held.remove(login);
            }
            // Not ours any more either way: a failed release just expires.
            self.release(unwanted).await?;
        }
        let live: usize = self
            .query(&eval(
                HEARTBEAT,
                &[self.instances_key()],
                &[&self.id, &self.ttl_ms()],
            ))
            .await?;
        if !self.announced {
            // Counted by the others first; nothing is taken before the next sync.
            self.announced = true;
            return Ok(());
        }
        self.renew().await?;
        let target = wanted.len().div_ceil(live.max(1));
        if self.held.len() > target + SLACK {
            let extras: Vec<Login> = self
                .held
                .keys()
                .rev()
                .take(self.held.len() - target)
                .cloned()
                .collect();
            for login in &extras {
                self.held.remove(login);
            }
            tracing::info!(
                released = extras.len(),
                live,
                target,
                "channel leases: over the fair share, releasing"
            );
            self.release(&extras).await?;
        }
        if self.held.len() < target {
            self.acquire(wanted, target).await?;
        }
        Ok(())
    }

    /// Extends the held leases; drops those no longer ours.
    async fn renew(&mut self) -> Result<(), RedisError> {
        if self.held.is_empty() {
            return Ok(());
        }
        let logins: Vec<Login> = self.held.keys().cloned().collect();
        let keys: Vec<String> = logins.iter().map(|l| self.key(l)).collect();
        let started = Instant::now();
        let renewed: Vec<i64> = self
            .query(&eval(RENEW, &keys, &[&self.id, &self.ttl_ms()]))
            .await?;
        for (login, ok) in logins.into_iter().zip(renewed) {
            if ok == 1 {
                self.held.insert(login, started + self.config.ttl);
            } else {
                self.held.remove(&login);
                self.metrics.lost.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(channel = %login, "channel lease lost to another instance: no longer tracked here");
            }
        }
        Ok(())
    }

    /// Takes free wanted channels until `target` are held.
    async fn acquire(&mut self, wanted: &BTreeSet<Login>, target: usize) -> Result<(), RedisError> {
        let mut candidates: Vec<&Login> = wanted
            .iter()
            .filter(|l| !self.held.contains_key(*l))
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        // Each instance starts at its own point, so concurrent instances rarely race.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.id.hash(&mut h);
        let start = (h.finish() % candidates.len() as u64) as usize;
        candidates.rotate_left(start);
        for chunk in candidates.chunks(MGET_CHUNK) {
            let keys: Vec<String> = chunk.iter().map(|l| self.key(l)).collect();
            let mut mget = redis::cmd("MGET");
            mget.arg(&keys);
            let owners: Vec<Option<String>> = self.query(&mget).await?;
            for (login, owner) in chunk.iter().zip(owners) {
                if self.held.len() >= target {
                    return Ok(());
                }
                if owner.is_some() {
                    continue;
                }
                let mut set = redis::cmd("SET");
                set.arg(self.key(login))
                    .arg(&self.id)
                    .arg("NX")
                    .arg("PX")
                    .arg(self.ttl_ms());
                let started = Instant::now();
                let taken: Option<String> = self.query(&set).await?;
                if taken.is_some() {
                    self.held
                        .insert((*login).clone(), started + self.config.ttl);
                    tracing::debug!(channel = %login, "channel lease taken");
                }
            }
        }
        Ok(())
    }

    async fn release(&self, logins: &[Login]) -> Result<(), RedisError> {
        let keys: Vec<String> = logins.iter().map(|l| self.key(l)).collect();
        let _: i64 = self.query(&eval(RELEASE, &keys, &[&self.id])).await?;
        Ok(())
    }

    /// Redis failed: keep only the leases still valid at the next sync.
    fn unreachable(&mut self, error: &RedisError) {
        if !self.unreachable {
            tracing::warn!(%error, "channel leases: Redis unreachable; keeping the leases held until they expire, then not tracking those channels; retrying");
            self.unreachable = true;
        }
        let deadline = Instant::now() + self.renew_interval();
        let before = self.held.len();
        self.held.retain(|_, valid_until| *valid_until > deadline);
        let dropped = before - self.held.len();
        if dropped > 0 {
            self.metrics
                .lost
                .fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::warn!(
                dropped,
                "channel leases expired while Redis was unreachable: those channels are no longer tracked here"
            );
        }
    }

    /// The lease task: syncs every [`renew_interval`](Self::renew_interval) and whenever
    /// `wanted` changes, publishes the leased channels to `leased`; on `cancel` (or when the
    /// scheduler is gone) publishes none, then releases every lease.
    pub async fn run(
        mut self,
        mut wanted: watch::Receiver<BTreeSet<Login>>,
        leased: watch::Sender<BTreeSet<Login>>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(self.renew_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = tick.tick() => {}
                changed = wanted.changed() => if changed.is_err() {
                    break;
                },
            }
            let all = wanted.borrow_and_update().clone();
            let held = self.sync(&all).await;
            leased.send_if_modified(|current| {
                if *current == held {
                    false
                } else {
                    *current = held;
                    true
                }
            });
        }
        // Part first, then let the others take over.
        leased.send_replace(BTreeSet::new());
        // Bounded: the commands time out by themselves, but a stop never waits long.
        if tokio::time::timeout(Duration::from_secs(5), self.release_all())
            .await
            .is_err()
        {
            tracing::warn!("releasing the channel leases timed out; they expire by themselves");
        }
        Ok(())
    }

    /// Releases every lease and leaves the instance set (graceful shutdown): the other
    /// instances take the channels over at their next sync.
    pub async fn release_all(&mut self) {
        let logins: Vec<Login> = std::mem::take(&mut self.held).into_keys().collect();
        self.metrics.held.store(0, Ordering::Relaxed);
        let mut result = Ok(());
        if !logins.is_empty() {
            result = self.release(&logins).await;
        }
        if result.is_ok() {
            result = self
                .query::<i64>(&eval(LEAVE, &[self.instances_key()], &[&self.id]))
                .await
                .map(|_| ());
        }
        match result {
            Ok(()) => tracing::info!(released = logins.len(), "channel leases released"),
            Err(error) => {
                tracing::warn!(%error, "releasing the channel leases failed; they expire by themselves")
            }
        }
    }
}

/// `TEST_REDIS_URL` (set by `.ci/run`) for the tests; skipped without it outside CI.
#[cfg(test)]
pub(crate) fn test_redis_url() -> Option<SecretString> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(SecretString::from(url)),
        _ if std::env::var_os("CI").is_some() => panic!("TEST_REDIS_URL must be set in CI"),
        _ => {
            eprintln!("TEST_REDIS_URL not set: skipping (CI sets it)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_redis_url as redis_url;

    const TTL: Duration = Duration::from_millis(600);

    fn config(test: &str) -> LeaseConfig {
        LeaseConfig {
            ttl: TTL,
            prefix: format!("chatters-test:{}:{test}:", std::process::id()),
        }
    }

    fn channels() -> BTreeSet<Login> {
        (0..10)
            .map(|i| Login::parse(&format!("channel{i}")).expect("login"))
            .collect()
    }

    /// Deletes every key under the test's prefix.
    async fn cleanup(url: &SecretString, prefix: &str) {
        let client = redis::Client::open(url.expose_secret()).expect("URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connection");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .expect("KEYS");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("DEL");
        }
    }

    /// Syncs both until neither changes (a few rounds), like their ticks would.
    async fn settle(a: &mut Leases, b: &mut Leases, wanted: &BTreeSet<Login>) {
        for _ in 0..4 {
            a.sync(wanted).await;
            b.sync(wanted).await;
        }
    }

    fn assert_partition(a: &Leases, b: &Leases, wanted: &BTreeSet<Login>) {
        let (ha, hb) = (a.held(), b.held());
        assert!(ha.is_disjoint(&hb), "{ha:?} {hb:?}");
        let all: BTreeSet<Login> = ha.union(&hb).cloned().collect();
        assert_eq!(&all, wanted);
    }

    async fn owner(a: &Leases, login: &Login) -> Option<String> {
        let mut get = redis::cmd("GET");
        get.arg(a.key(login));
        a.query(&get).await.expect("GET")
    }

    #[tokio::test]
    async fn two_instances_share_the_channels_five_and_five() {
        let Some(url) = redis_url() else { return };
        let config = config("share");
        let wanted = channels();
        let mut a = Leases::connect(&url, config.clone()).expect("leases");
        let mut b = Leases::connect(&url, config.clone()).expect("leases");
        assert_ne!(a.id(), b.id());

        // A starts alone: its first sync only announces it, the second takes everything; B's
        // arrival makes A hand half over.
        assert!(
            a.sync(&wanted).await.is_empty(),
            "the first sync only announces"
        );
        assert_eq!(a.sync(&wanted).await, wanted);
        settle(&mut a, &mut b, &wanted).await;

        assert_partition(&a, &b, &wanted);
        assert_eq!((a.held().len(), b.held().len()), (5, 5));
        for login in &a.held() {
            assert_eq!(owner(&a, login).await.as_deref(), Some(a.id()));
        }
        assert_eq!(a.metrics().held.load(Ordering::Relaxed), 5);
        assert_eq!(a.metrics().lost.load(Ordering::Relaxed), 0);
        a.release_all().await;
        b.release_all().await;
        cleanup(&url, &config.prefix).await;
    }

    #[tokio::test]
    async fn instances_starting_together_share_the_channels_from_the_start() {
        let Some(url) = redis_url() else { return };
        let config = config("together");
        let wanted = channels();
        let mut a = Leases::connect(&url, config.clone()).expect("leases");
        let mut b = Leases::connect(&url, config.clone()).expect("leases");

        // Both announce themselves before either takes anything ...
        assert!(a.sync(&wanted).await.is_empty());
        assert!(b.sync(&wanted).await.is_empty());
        // ... so each takes its half at once, and nothing is handed back.
        assert_eq!(a.sync(&wanted).await.len(), 5);
        assert_eq!(b.sync(&wanted).await.len(), 5);
        assert_partition(&a, &b, &wanted);
        settle(&mut a, &mut b, &wanted).await;
        assert_eq!((a.held().len(), b.held().len()), (5, 5));
        assert_eq!(a.metrics().lost.load(Ordering::Relaxed), 0);
        a.release_all().await;
        b.release_all().await;
        cleanup(&url, &config.prefix).await;
    }

    #[tokio::test]
    async fn a_dead_instance_is_taken_over_within_about_a_ttl() {
        let Some(url) = redis_url() else { return };
        let config = config("dead");
        let wanted = channels();
        let mut a = Leases::connect(&url, config.clone()).expect("leases");
        let mut b = Leases::connect(&url, config.clone()).expect("leases");
        settle(&mut a, &mut b, &wanted).await;
        assert_eq!(b.held().len(), 5);

        // A dies without releasing anything.
        drop(a);
        let died = Instant::now();
        while b.held() != wanted {
            assert!(died.elapsed() < TTL * 2, "not taken over: {:?}", b.held());
            tokio::time::sleep(b.renew_interval()).await;
            b.sync(&wanted).await;
        }
        assert!(
            died.elapsed() >= TTL / 2,
            "taken over before A's leases expired"
        );
        b.release_all().await;
        cleanup(&url, &config.prefix).await;
    }

    #[tokio::test]
    async fn a_graceful_shutdown_hands_over_at_the_next_sync() {
        let Some(url) = redis_url() else { return };
        let config = config("graceful");
        let wanted = channels();
        let mut a = Leases::connect(&url, config.clone()).expect("leases");
        let mut b = Leases::connect(&url, config.clone()).expect("leases");
        settle(&mut a, &mut b, &wanted).await;
        assert_eq!(b.held().len(), 5);

        a.release_all().await;
        assert!(a.held().is_empty());

        assert_eq!(b.sync(&wanted).await, wanted);
        b.release_all().await;
        cleanup(&url, &config.prefix).await;
    }

    #[tokio::test]
    async fn an_overwritten_lease_is_dropped_at_the_next_renewal() {
        let Some(url) = redis_url() else { return };
        let config = config("overwritten");
        let wanted = channels();
        let mut a = Leases::connect(&url, config.clone()).expect("leases");
        a.sync(&wanted).await;
        assert_eq!(a.sync(&wanted).await, wanted);
        let stolen = Login::parse("channel3").expect("login");
        let mut set = redis::cmd("SET");
        set.arg(a.key(&stolen))
            .arg("someone-else")
            .arg("PX")
            .arg(60_000);
        let () = a.query(&set).await.expect("SET");

        let held = a.sync(&wanted).await;

        assert!(!held.contains(&stolen));
        assert_eq!(held.len(), 9);
        assert_eq!(a.metrics().lost.load(Ordering::Relaxed), 1);
        assert_eq!(owner(&a, &stolen).await.as_deref(), Some("someone-else"));
        a.release_all().await;
        assert_eq!(owner(&a, &stolen).await.as_deref(), Some("someone-else"));
        cleanup(&url, &config.prefix).await;
    }

    #[tokio::test]
    async fn unwanted_channels_are_released() {
        let Some(url) = redis_url() else { return };
        let config = config("unwanted");
        let wanted = channels();
        let mut a = Leases::connect(&url, config.clone()).expect("leases");
        a.sync(&wanted).await;
        assert_eq!(a.sync(&wanted).await, wanted);
        let fewer: BTreeSet<Login> = wanted.iter().take(4).cloned().collect();

        assert_eq!(a.sync(&fewer).await, fewer);
        let gone = Login::parse("channel9").expect("login");
        assert_eq!(owner(&a, &gone).await, None);
        a.release_all().await;
        cleanup(&url, &config.prefix).await;
    }

    #[tokio::test]
    async fn without_redis_nothing_is_held_and_leases_expire() {
        // A port nobody listens on: every command fails.
        let url = SecretString::from("redis://127.0.0.1:1".to_owned());
        let mut a = Leases::connect(&url, config("down")).expect("leases");
        let login = Login::parse("channel1").expect("login");
        a.held.insert(login.clone(), Instant::now() + TTL);
        let wanted: BTreeSet<Login> = [login.clone()].into();

        // Still valid past the next sync: kept.
        assert_eq!(a.sync(&wanted).await, wanted);
        // Would expire before the next sync: dropped.
        a.held
            .insert(login, Instant::now() + a.renew_interval() / 2);
        assert!(a.sync(&wanted).await.is_empty());
        assert_eq!(a.metrics().lost.load(Ordering::Relaxed), 1);
    }
}
