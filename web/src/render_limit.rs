//! [`RenderLimiter`]: the bounds on uncached chart renders (SPEC "Health and limits"). A
//! distinct `w`/`h`/`theme` is a cache miss, so without bounds one client looping over sizes
//! holds every core and, with a render thread each, hundreds of MB.
//!
//! On a cache miss (hits are never limited) a render first passes the client IP's budget (10
//! a second, burst 30, [`governor`]'s GCRA; beyond: 429 with `Retry-After`), then waits for
//! one of the render slots (one per core) among at most `queued` others (beyond: 503 with
//! `Retry-After`). The slot is held for the whole render (data read, drawing, encoding), so
//! render threads and their buffers are bounded by the slots.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::ApiError;

/// `Retry-After` of a 503 when every slot and queue place is taken.
const BUSY_RETRY_AFTER: u64 = 1;

/// How often the per-IP table forgets clients whose budget is full again.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The bounds; [`Default`] is SPEC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLimits {
    /// Renders at once (default: one per core).
    pub concurrent: usize,
    /// Renders waiting for a slot; beyond, 503.
    pub queued: usize,
    /// Longest wait for a slot before a 503.
    pub queue_wait: Duration,
    /// One render of a client IP's budget comes back every this long (default 100 ms: 10/s).
    pub per_ip_every: Duration,
    /// Renders a client IP may start at once with a full budget (default 30).
    pub per_ip_burst: u32,
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self {
            concurrent: std::thread::available_parallelism().map_or(1, usize::from),
            queued: 64,
            queue_wait: Duration::from_secs(10),
            per_ip_every: Duration::from_millis(100),
            per_ip_burst: 30,
        }
    }
}

/// Admits uncached renders within [`RenderLimits`]; counts what it did for `/metrics` and
/// tests.
#[derive(Debug)]
pub struct RenderLimiter {
    limits: RenderLimits,
    slots: Semaphore,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    last_sweep: Mutex<Instant>,
    queued: AtomicUsize,
    running: AtomicUsize,
    peak_running: AtomicUsize,
    refused_rate: AtomicU64,
    refused_busy: AtomicU64,
}

impl Default for RenderLimiter {
    fn default() -> Self {
        Self::new(RenderLimits::default())
    }
}

impl RenderLimiter {
    /// A limiter with `limits` (zeros are taken as one).
    pub fn new(limits: RenderLimits) -> Self {
        let burst = NonZeroU32::new(limits.per_ip_burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(limits.per_ip_every)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst);
        Self {
            slots: Semaphore::new(limits.concurrent.max(1)),
            limits,
            per_ip: DefaultKeyedRateLimiter::keyed(quota),
            last_sweep: Mutex::new(Instant::now()),
            queued: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            peak_running: AtomicUsize::new(0),
            refused_rate: AtomicU64::new(0),
            refused_busy: AtomicU64::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> RenderLimits {
        self.limits
    }

    /// Admits one render for `client`: a permit to hold while rendering, or the 429/503 to
    /// answer. `None` (the peer is unknown: the router was called without [`crate::server`],
    /// as tests do) skips the per-IP budget; the slots still apply.
    pub async fn admit(&self, client: Option<IpAddr>) -> Result<RenderPermit<'_>, ApiError> {
        if let Some(client) = client {
            self.sweep();
            if let Err(not_until) = self.per_ip.check_key(&client) {
                self.refused_rate.fetch_add(1, Ordering::Relaxed);
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(ApiError::too_many_requests(ceil_secs(wait)));
            }
        }
        let slot = match self.slots.try_acquire() {
            Ok(slot) => slot,
            Err(_) => self.wait_in_queue().await?,
        };
        let running = self.running.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_running.fetch_max(running, Ordering::Relaxed);
        Ok(RenderPermit {
            limiter: self,
            _slot: slot,
        })
    }

    /// Waits for a slot among at most `queued` others, for at most `queue_wait`.
    async fn wait_in_queue(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        let place = self.queued.fetch_add(1, Ordering::Relaxed);
        let _leave = Leave(&self.queued);
        if place >= self.limits.queued {
            self.refused_busy.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::busy(BUSY_RETRY_AFTER));
        }
        match tokio::time::timeout(self.limits.queue_wait, self.slots.acquire()).await {
            Ok(Ok(slot)) => Ok(slot),
            // Timed out (the semaphore is never closed).
            _ => {
                self.refused_busy.fetch_add(1, Ordering::Relaxed);
                Err(ApiError::busy(BUSY_RETRY_AFTER))
            }
        }
    }

    /// Forgets, at most once per [`SWEEP_EVERY`], the clients whose budget is full again, so
    /// the table holds only recent clients.
    fn sweep(&self) {
        let mut last = self
            .last_sweep
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed() >= SWEEP_EVERY {
            *last = Instant::now();
            drop(last);
            self.per_ip.retain_recent();
        }
    }

    /// Renders running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Renders waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The most renders that ran at once since start.
    pub fn peak_running(&self) -> usize {
        self.peak_running.load(Ordering::Relaxed)
    }

    /// Renders refused 429 (a client over its budget) since start.
    pub fn refused_rate(&self) -> u64 {
        self.refused_rate.load(Ordering::Relaxed)
    }

    /// Renders refused 503 (slots and queue full, or the wait too long) since start.
    pub fn refused_busy(&self) -> u64 {
        self.refused_busy.load(Ordering::Relaxed)
    }

    /// Takes every slot (waiting for renders in progress) and holds them until the guard is
    /// dropped, so tests can fill the queue without racing real renders. `None` never happens
    /// (the semaphore is never closed).
    pub async fn hold_all_slots(&self) -> Option<SemaphorePermit<'_>> {
        let all = u32::try_from(self.limits.concurrent.max(1)).unwrap_or(u32::MAX);
        self.slots.acquire_many(all).await.ok()
    }
}

/// The peer's IP address, when the request came through [`crate::server`] (`None` when a
/// test calls the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip()),
        ))
    }
}

/// Leaves the queue when dropped (admitted, refused, or the request went away).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One admitted render: hold it until the render is done.
#[derive(Debug)]
pub struct RenderPermit<'a> {
    limiter: &'a RenderLimiter,
    _slot: SemaphorePermit<'a>,
}

impl Drop for RenderPermit<'_> {
    fn drop(&mut self) {
        self.limiter.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whole seconds, rounded up, at least 1.
fn ceil_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limits_are_the_specs() {
        let limits = RenderLimits::default();

        assert!(limits.concurrent >= 1);
        assert_eq!(limits.queued, 64);
        assert_eq!(limits.per_ip_every, Duration::from_millis(100));
        assert_eq!(limits.per_ip_burst, 30);
    }

    #[tokio::test]
    async fn a_client_gets_its_burst_then_429_with_retry_after_while_others_go_on() {
        let limiter = RenderLimiter::default();
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));

        for _ in 0..30 {
            drop(limiter.admit(a).await.expect("within the burst"));
        }
        let refused = limiter.admit(a).await.expect_err("over the burst");

        assert_eq!(refused.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(1));
        assert!(
            limiter.admit(b).await.is_ok(),
            "another client has its own budget"
        );
        assert_eq!(limiter.refused_rate(), 1);
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(ceil_secs(Duration::ZERO), 1);
        assert_eq!(ceil_secs(Duration::from_millis(100)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1001)), 2);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }
}
