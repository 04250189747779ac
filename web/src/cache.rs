//! The chart cache: rendered PNGs (and share pages) kept until new data arrives for their
//! channel, in process and, when `REDIS_URL` is set, in Redis for the other web instances.
//!
//! Each channel has a *data version* (see [`ChannelProbe`]): a hash of its latest series point,
//! latest stream and latest raid, read with a few small queries at most once per
//! [`ChartCache::probe_ttl`] per channel. A cached body is served while its channel's version is
//! unchanged and it is younger than its maximum age (a chart's window moves with the clock even
//! without new data). The in-process store is bounded by bytes and evicts the least recently
//! used body; concurrent misses of one key render once. Renders (and their durations) and hits
//! are counted for `/metrics`.

mod lru;
pub(crate) mod remote;
pub(crate) mod version;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderValue;
use chatters_core::domain::Login;
use chatters_core::metrics::{Histogram, latency_histogram};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

pub use version::ChannelProbe;

/// Default in-process budget: about 800 full-size charts.
const DEFAULT_BUDGET: usize = 64 << 20;
/// Default probe interval: new data shows within a second.
const DEFAULT_PROBE_TTL: Duration = Duration::from_secs(1);

/// A cached body with its strong validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The bytes served (a PNG, or an HTML page).
    pub body: Bytes,
    /// Strong `ETag`, quoted: the first 128 bits of the body's SHA-256 in hex.
    pub etag: HeaderValue,
}

impl Cached {
    /// A body with its ETag computed.
    pub fn new(body: Bytes) -> Self {
        let digest = Sha256::digest(&body);
        let mut etag = String::with_capacity(34);
        etag.push('"');
        for byte in &digest[..16] {
            etag.push_str(&format!("{byte:02x}"));
        }
        etag.push('"');
        // Quotes and hex digits only: always a valid header value.
        let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
        Self { body, etag }
    }

    /// True when an `If-None-Match` header value names this body (`*`, or a list of tags
    /// compared weakly, as RFC 9110 asks for this header).
    pub fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').map(str::trim).any(|tag| {
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == self.etag.as_bytes()
        })
    }
}

/// What [`ChartCache::probe_lookup`] advises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeLookup {
    /// Use this probe.
    Use(Arc<ChannelProbe>),
    /// Read a new probe; the last one known is given.
    Refresh(Option<Arc<ChannelProbe>>),
}

/// A channel's probe as held between requests.
#[derive(Debug)]
struct HeldProbe {
    /// When it was read.
    checked_at: Instant,
    /// What was read.
    probe: Arc<ChannelProbe>,
    /// A request is reading a new probe.
    refreshing: bool,
}

/// Rendered charts and pages by key, until new data arrives for their channel.
#[derive(Debug)]
pub struct ChartCache {
    /// In-process bodies.
    entries: Mutex<lru::Lru>,
    /// Byte budget of `entries`.
    budget: usize,
    /// Channel probes by login, each trusted for `probe_ttl`.
    probes: Mutex<HashMap<Login, HeldProbe>>,
    /// How long a channel probe is trusted.
    probe_ttl: Duration,
    /// One lock per key being rendered, so concurrent misses render once.
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Redis, created on first use when `REDIS_URL` is set.
    remote: OnceLock<Option<remote::RemoteCache>>,
    /// Bodies rendered.
    renders: AtomicU64,
    /// Bodies served from the cache (in process or Redis).
    hits: AtomicU64,
    /// Bodies of those hits read from Redis.
    remote_hits: AtomicU64,
    /// Time taken by successful renders (data read, drawing, encoding), seconds.
    render_seconds: Histogram,
}

impl Default for ChartCache {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET, DEFAULT_PROBE_TTL)
    }
}

impl ChartCache {
    /// A cache holding at most `budget` bytes in process, trusting a channel's data version for
    /// `probe_ttl` (zero: checked on every request).
    pub fn new(budget: usize, probe_ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(lru::Lru::default()),
            budget,
            probes: Mutex::new(HashMap::new()),
            probe_ttl,
            flights: Mutex::new(HashMap::new()),
            remote: OnceLock::new(),
            renders: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            remote_hits: AtomicU64::new(0),
            render_seconds: latency_histogram(),
        }
    }

    /// Bodies rendered since start.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// Bodies served from the cache since start (in process or Redis).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Of [`hits`](Self::hits), those read from Redis.
    pub fn remote_hits(&self) -> u64 {
        self.remote_hits.load(Ordering::Relaxed)
    }

    /// Durations of the renders counted by [`renders`](Self::renders), in seconds.
    pub fn render_seconds(&self) -> &Histogram {
        &self.render_seconds
    }

    /// How long a channel's data version is trusted before it is read again.
    pub fn probe_ttl(&self) -> Duration {
        self.probe_ttl
    }

    /// Bytes held in process.
    pub fn bytes(&self) -> usize {
        lock(&self.entries).bytes
    }

    /// What to do about a channel's probe: use the one held, or read a new one (handed the
    /// last probe, however old, whose latest times bound the queries). While one request reads
    /// a new probe, the others keep using the old one for up to ten probe TTLs, so a busy
    /// chart costs one probe per TTL, not one per request in flight.
    pub(crate) fn probe_lookup(&self, login: &Login) -> ProbeLookup {
        let mut probes = lock(&self.probes);
        match probes.get_mut(login) {
            Some(held) if held.checked_at.elapsed() < self.probe_ttl => {
                ProbeLookup::Use(held.probe.clone())
            }
            Some(held) if held.refreshing && held.checked_at.elapsed() < self.probe_ttl * 10 => {
                ProbeLookup::Use(held.probe.clone())
            }
            Some(held) => {
                held.refreshing = true;
                ProbeLookup::Refresh(Some(held.probe.clone()))
            }
            None => ProbeLookup::Refresh(None),
        }
    }

    /// Records a new probe of a channel.
    pub(crate) fn set_probe(&self, login: Login, probe: Arc<ChannelProbe>) {
        let mut probes = lock(&self.probes);
        // Bounded by the logins people ask about.
        if probes.len() >= 100_000 {
            probes.clear();
        }
        let held = HeldProbe {
            checked_at: Instant::now(),
            probe,
            refreshing: false,
        };
        probes.insert(login, held);
    }

    /// A probe read failed: the next request tries again.
    pub(crate) fn probe_failed(&self, login: &Login) {
        if let Some(held) = lock(&self.probes).get_mut(login) {
            held.refreshing = false;
        }
    }

    /// The body under `key` for data `version`: from process memory, else Redis (when
    /// `redis_url` is set), else rendered by `render` and stored in both for `max_age`.
    pub async fn get_or_render<F, Fut, E>(
        &self,
        redis_url: Option<&SecretString>,
        key: &str,
        version: u64,
        max_age: Duration,
        render: F,
    ) -> Result<Cached, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, E>>,
    {
        if let Some(hit) = self.local(key, version) {
            return Ok(hit);
        }
        let flight = self.flight(key);
        let result = async {
            let _turn = flight.lock().await;
            if let Some(hit) = self.local(key, version) {
                return Ok(hit);
            }
            let remote = self.remote(redis_url);
            let remote_key = remote::key(key, version);
            if let Some(remote) = remote
                && let Some(body) = remote.get(&remote_key).await
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                self.remote_hits.fetch_add(1, Ordering::Relaxed);
                let cached = Cached::new(Bytes::from(body));
                self.store_local(key, version, cached.clone(), max_age);
                return Ok(cached);
            }
            let started = Instant::now();
            let body = render().await?;
            self.render_seconds.observe(started.elapsed().as_secs_f64());
            self.renders.fetch_add(1, Ordering::Relaxed);
            if let Some(remote) = remote {
                remote.set(&remote_key, &body, max_age).await;
            }
            let cached = Cached::new(Bytes::from(body));
            self.store_local(key, version, cached.clone(), max_age);
            Ok(cached)
        }
        .await;
        self.land(key, &flight);
        result
    }

    fn local(&self, key: &str, version: u64) -> Option<Cached> {
        let hit = lock(&self.entries).get(key, version, Instant::now());
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    fn store_local(&self, key: &str, version: u64, cached: Cached, max_age: Duration) {
        let expires = Instant::now() + max_age;
        lock(&self.entries).put(key.to_owned(), version, cached, expires, self.budget);
    }

    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.flights)
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    /// Forgets a key's render lock once nobody else waits on it.
    fn land(&self, key: &str, flight: &Arc<tokio::sync::Mutex<()>>) {
        let mut flights = lock(&self.flights);
        // Two references: the map's and ours.
        if Arc::strong_count(flight) <= 2 {
            flights.remove(key);
        }
    }

    fn remote(&self, url: Option<&SecretString>) -> Option<&remote::RemoteCache> {
        let url = url?;
        self.remote
            .get_or_init(|| remote::RemoteCache::connect(url))
            .as_ref()
    }
}

/// Locks a mutex, recovering from a panic of another holder (the data stays consistent: every
/// critical section here leaves it whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Cached {
        Cached::new(Bytes::from(vec![7u8; n]))
    }

    #[test]
    fn etags_are_strong_quoted_hashes_of_the_body() {
        let a = body(10);
        let etag = a.etag.to_str().expect("ASCII");
        assert_eq!(etag.len(), 34);
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        assert_eq!(a, body(10));
        assert_ne!(a.etag, body(11).etag);
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let a = body(1);
        let etag = a.etag.to_str().expect("ASCII");
        assert!(a.matches(etag));
        assert!(a.matches(&format!("\"x\", {etag}")));
        assert!(a.matches(&format!("W/{etag}")));
        assert!(a.matches("*"));
        assert!(!a.matches("\"other\""));
        assert!(!a.matches(""));
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_render_once() {
        let cache = Arc::new(ChartCache::default());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let cache = cache.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_render(None, "k", 1, Duration::from_secs(60), || async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(vec![1, 2, 3])
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(
                t.await.expect("join").expect("rendered").body,
                Bytes::from_static(&[1, 2, 3])
            );
        }

        assert_eq!(cache.renders(), 1);
        assert_eq!(cache.hits(), 7);
        assert!(lock(&cache.flights).is_empty());
    }
}
