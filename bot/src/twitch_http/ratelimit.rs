//! The Helix budget: one token bucket per access token, kept in step with Twitch's
//! `Ratelimit-Limit`, `Ratelimit-Remaining` and `Ratelimit-Reset` headers.
//!
//! Twitch refills a bucket continuously (`Ratelimit-Limit` points a minute) and answers 429 when it
//! is empty. The local [`Bucket`] mirrors it: every response resets the estimate to what Twitch
//! reported (minus the calls still in flight, which Twitch may not have counted yet), and between
//! responses it refills at `limit / 60 s`. A call goes out only while more than a small reserve
//! would remain, so a busy client runs at the refill rate instead of draining the bucket and
//! meeting a 429. A 429 blocks the bucket until `Ratelimit-Reset` (when Twitch says it is full).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Twitch's default budget (points a minute) until a response says otherwise.
const DEFAULT_LIMIT: f64 = 800.0;
/// Twitch refills a whole bucket in a minute.
const REFILL_WINDOW_SECS: f64 = 60.0;
/// Never trust a reset further away than this (clock skew, bogus headers).
const MAX_BLOCK: Duration = Duration::from_secs(65);
/// A 429 whose reset is already past (clock skew) still pauses this long.
const MIN_BLOCK: Duration = Duration::from_millis(250);

/// What one Helix response said about its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHeaders {
    /// `Ratelimit-Limit`: bucket size (points a minute).
    pub limit: u32,
    /// `Ratelimit-Remaining`: points left after this call.
    pub remaining: u32,
    /// `Ratelimit-Reset` converted to a local instant: when the bucket is full again.
    pub reset: Option<Instant>,
}

impl RateHeaders {
    /// Reads the headers; `None` when `Ratelimit-Limit` or `Ratelimit-Remaining` is missing or
    /// not a number. `now`/`wall` are the same moment on the monotonic and the wall clock.
    pub fn parse(headers: &http::HeaderMap, now: Instant, wall: SystemTime) -> Option<Self> {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let limit = u32::try_from(number("ratelimit-limit")?).ok()?;
        let remaining = u32::try_from(number("ratelimit-remaining")?).ok()?;
        let reset = number("ratelimit-reset").map(|unix| {
            let reset = UNIX_EPOCH + Duration::from_secs(unix);
            now + reset
                .duration_since(wall)
                .unwrap_or(Duration::ZERO)
                .min(MAX_BLOCK)
        });
        Some(Self {
            limit,
            remaining,
            reset,
        })
    }
}

/// The local mirror of one Twitch bucket. Pure: every method takes `now`.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Bucket size in points (Twitch's `Ratelimit-Limit`).
    limit: f64,
    /// Estimated points left at `updated`.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
    /// After a 429: nothing goes out before this.
    blocked_until: Option<Instant>,
    /// Calls let through whose response has not arrived yet.
    in_flight: u32,
}

impl Bucket {
    /// A bucket nothing is known about yet: one call may go out at once, and the answer to it
    /// tells the real state.
    pub fn new(now: Instant) -> Self {
        let mut bucket = Self {
            limit: DEFAULT_LIMIT,
            tokens: 0.0,
            updated: now,
            blocked_until: None,
            in_flight: 0,
        };
        bucket.tokens = bucket.reserve() + 1.0;
        bucket
    }

    /// Points refilled a second.
    fn rate(&self) -> f64 {
        self.limit / REFILL_WINDOW_SECS
    }

    /// Points kept back: headroom for calls in flight, responses arriving out of order and other
    /// clients of the same token (2% of the bucket, 16 of Twitch's 800).
    fn reserve(&self) -> f64 {
        (self.limit / 50.0).floor()
    }

    fn refill(&mut self, now: Instant) {
        if now > self.updated {
            let elapsed = now.duration_since(self.updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate()).min(self.limit);
            self.updated = now;
        }
    }

    /// Takes one point for a call, or says how long to wait before asking again.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.blocked_until {
            if now < until {
                return Err(until - now);
            }
            self.blocked_until = None;
        }
        self.refill(now);
        let needed = self.reserve() + 1.0;
        if self.tokens >= needed {
            self.tokens -= 1.0;
            self.in_flight += 1;
            Ok(())
        } else {
            let deficit = needed - self.tokens;
            Err(Duration::from_secs_f64(
                deficit * REFILL_WINDOW_SECS / self.limit,
            ))
        }
    }

    /// Takes in what a response said. `rate_limited`: it was a 429.
    pub fn on_response(&mut self, now: Instant, rate_limited: bool, headers: Option<RateHeaders>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(h) = headers {
            if h.limit > 0 {
                self.limit = f64::from(h.limit);
            }
            let remaining = f64::from(h.remaining) - f64::from(self.in_flight);
            self.tokens = remaining.clamp(0.0, self.limit);
            self.updated = now;
        }
        if rate_limited {
            let reset = headers
                .and_then(|h| h.reset)
                .unwrap_or(now + Duration::from_secs(1));
            let until = reset.clamp(now + MIN_BLOCK, now + MAX_BLOCK);
            self.blocked_until = Some(until);
            // Twitch's reset is the moment the bucket is full again.
            self.tokens = self.limit;
            self.updated = until;
        }
    }

    /// A call that got no response (connection error, timeout): its point counts as spent.
    pub fn on_abandoned(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// The estimated points left at `now`.
    pub fn estimate(&self, now: Instant) -> f64 {
        let mut copy = self.clone();
        copy.refill(now);
        copy.tokens
    }
}

/// One [`Bucket`] per token, behind a lock; cheap to share.
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    buckets: Arc<Mutex<HashMap<u64, Bucket>>>,
}

impl RateLimiter {
    fn with_bucket<T>(&self, key: u64, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| Bucket::new(Instant::now()));
        f(bucket)
    }

    /// Waits until the bucket of `key` lets a call through. Returns the permit (which must be
    /// completed with the response) and how long it waited.
    pub async fn acquire(&self, key: u64) -> (Permit, Duration) {
        let start = Instant::now();
        loop {
            match self.with_bucket(key, |b| b.try_take(Instant::now())) {
                Ok(()) => {
                    let permit = Permit {
                        limiter: self.clone(),
                        key,
                        open: true,
                    };
                    return (permit, start.elapsed());
                }
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// The estimated points left for `key`, when it has been used.
    pub fn estimate(&self, key: u64) -> Option<f64> {
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets.get(&key).map(|b| b.estimate(Instant::now()))
    }
}

/// One call let through by the [`RateLimiter`]. Dropping it without [`Permit::complete`] (the
/// call failed or was cancelled) counts the point as spent.
#[derive(Debug)]
pub struct Permit {
    limiter: RateLimiter,
    key: u64,
    open: bool,
}

impl Permit {
    /// Feeds the response's status and headers back into the bucket.
    pub fn complete(mut self, status: http::StatusCode, headers: &http::HeaderMap) {
        self.open = false;
        let now = Instant::now();
        let parsed = RateHeaders::parse(headers, now, SystemTime::now());
        let limited = status == http::StatusCode::TOO_MANY_REQUESTS;
        self.limiter
            .with_bucket(self.key, |b| b.on_response(now, limited, parsed));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.open {
            self.limiter.with_bucket(self.key, Bucket::on_abandoned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: u32, remaining: u32, reset: Option<Instant>) -> Option<RateHeaders> {
        Some(RateHeaders {
            limit,
            remaining,
            reset,
        })
    }

    #[test]
    fn an_unknown_bucket_lets_one_call_through_then_paces() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(t0);
        assert_eq!(bucket.try_take(t0), Ok(()));
        // 800/min = 13.33 points a second: the next point needs 75 ms.
        assert_eq!(bucket.try_take(t0), Err(Duration::from_millis(75)));
    }

    #[test]
    fn a_response_sets_the_estimate_minus_calls_in_flight() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(t0);
        bucket.on_response(t0, false, headers(800, 700, None));
        assert_eq!(bucket.estimate(t0), 700.0);
        bucket.try_take(t0).expect("room");
        bucket.try_take(t0).expect("room");
        // Twitch answered the first with 699 left; the second is still in flight.
        bucket.on_response(t0, false, headers(800, 699, None));
        assert_eq!(bucket.estimate(t0), 698.0);
    }

    #[test]
    fn a_drained_bucket_runs_at_the_refill_rate_above_the_reserve() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(t0);
        bucket.on_response(t0, false, headers(60, 1, None));
        // limit 60: reserve 1, one point a second.
        assert_eq!(bucket.try_take(t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(bucket.try_take(t1), Ok(()));
        assert_eq!(bucket.try_take(t1), Err(Duration::from_secs(1)));
    }

    #[test]
    fn refill_stops_at_the_limit() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(t0);
        bucket.on_response(t0, false, headers(800, 10, None));
        assert_eq!(bucket.estimate(t0 + Duration::from_secs(3600)), 800.0);
    }

    #[test]
    fn a_429_blocks_until_the_reset_then_the_bucket_is_full() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(t0);
        bucket.try_take(t0).expect("room");
        let reset = t0 + Duration::from_secs(2);
        bucket.on_response(t0, true, headers(800, 0, Some(reset)));
        assert_eq!(bucket.try_take(t0), Err(Duration::from_secs(2)));
        assert_eq!(bucket.try_take(reset), Ok(()));
        assert_eq!(bucket.estimate(reset), 799.0);
    }

    #[test]
    fn a_429_with_a_past_reset_still_pauses_briefly() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(t0);
        bucket.on_response(t0, true, headers(800, 0, Some(t0)));
        assert_eq!(bucket.try_take(t0), Err(MIN_BLOCK));
    }

    #[test]
    fn an_abandoned_call_leaves_the_in_flight_count() {
        let t0 = Instant::now();
        let mut bucket = Bucket::new(t0);
        bucket.on_response(t0, false, headers(800, 500, None));
        bucket.try_take(t0).expect("room");
        bucket.on_abandoned();
        bucket.on_response(t0, false, headers(800, 400, None));
        assert_eq!(bucket.estimate(t0), 400.0);
    }

    #[test]
    fn headers_are_read_case_insensitively_and_reset_becomes_an_instant() {
        let mut map = http::HeaderMap::new();
        map.insert("Ratelimit-Limit", http::HeaderValue::from_static("800"));
        map.insert("ratelimit-remaining", http::HeaderValue::from_static("799"));
        map.insert(
            "RATELIMIT-RESET",
            http::HeaderValue::from_static("1000000010"),
        );
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            RateHeaders::parse(&map, now, wall),
            Some(RateHeaders {
                limit: 800,
                remaining: 799,
                reset: Some(now + Duration::from_secs(10)),
            })
        );
        map.remove("ratelimit-remaining");
        assert_eq!(RateHeaders::parse(&map, now, wall), None);
    }
}
