//! The fake's state: accounts, chatter lists, streams, moderated channels, tokens, the per-token
//! rate-limit buckets, queued failures and the call record.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::model::{
    CLIENT_ID, CLIENT_SECRET, DeviceGrant, Endpoint, Failure, FakeDevice, FakeStream, FakeToken,
    FakeUser, RecordedCall,
};

/// A Twitch-style token bucket: `limit` points, refilled continuously at `limit` a minute.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    limit: f64,
    tokens: f64,
    updated: Instant,
}

/// The rate-limit headers of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RateHeaders {
    pub(super) limit: u32,
    pub(super) remaining: u32,
    /// Unix seconds when the bucket is full again.
    pub(super) reset: u64,
}

impl Bucket {
    fn full(limit: u32, now: Instant) -> Self {
        Self {
            limit: f64::from(limit),
            tokens: f64::from(limit),
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limit / 60.0).min(self.limit);
        self.updated = now;
    }

    /// Takes a point; false when the bucket is empty.
    pub(super) fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The headers describing the bucket at `now` (`wall` is the same moment).
    pub(super) fn headers(&mut self, now: Instant, wall: SystemTime) -> RateHeaders {
        self.refill(now);
        let to_full = (self.limit - self.tokens) * 60.0 / self.limit;
        let wall = wall
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        RateHeaders {
            limit: self.limit as u32,
            remaining: self.tokens.floor() as u32,
            reset: (wall + to_full).ceil() as u64,
        }
    }
}

/// Everything the fake knows.
#[derive(Debug)]
pub(super) struct State {
    pub(super) points_per_minute: u32,
    pub(super) client_id: String,
    pub(super) client_secret: String,
    /// By user id.
    pub(super) users: BTreeMap<String, FakeUser>,
    /// Broadcaster id → chatters.
    pub(super) chatters: HashMap<String, Vec<FakeUser>>,
    /// Broadcaster id → live stream.
    pub(super) streams: BTreeMap<String, FakeStream>,
    /// Broadcaster id → `viewer_count`, `game_id`, `game_name` of the live stream.
    pub(super) audience: HashMap<String, (u64, String, String)>,
    /// User id → channels they moderate.
    pub(super) moderated: HashMap<String, Vec<FakeUser>>,
    /// Access token → token.
    pub(super) tokens: HashMap<String, FakeToken>,
    /// Refresh token → the token it renews (even after the access token was revoked).
    pub(super) refresh_tokens: HashMap<String, FakeToken>,
    pub(super) buckets: HashMap<String, Bucket>,
    /// Per endpoint, what the next calls do: `None` answer normally, `Some` fail.
    pub(super) failures: HashMap<Endpoint, VecDeque<Option<Failure>>>,
    pub(super) calls: Vec<RecordedCall>,
    /// How the device code flow behaves (`None`: `device` answers 400).
    pub(super) device: Option<FakeDevice>,
    /// Device codes handed out, by device code.
    pub(super) device_grants: HashMap<String, DeviceGrant>,
    /// Refresh tokens of public clients (refreshed without the secret).
    pub(super) public_refresh: HashSet<String>,
    /// Who approves `oauth2/authorize` (`None`: the user declines).
    pub(super) authorizer: Option<FakeUser>,
    /// Authorization codes handed out and not yet redeemed.
    pub(super) code_grants: HashMap<String, CodeGrant>,
    /// Tokens issued so far (names `access-N`, `refresh-N`, `app-N`, `device-N`).
    pub(super) issued: u32,
}

/// An authorization code handed out by `oauth2/authorize`.
#[derive(Debug, Clone)]
pub(super) struct CodeGrant {
    pub(super) user: FakeUser,
    pub(super) scopes: Vec<String>,
    pub(super) redirect_uri: String,
}

impl State {
    pub(super) fn new(points_per_minute: u32) -> Self {
        Self {
            points_per_minute,
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            users: BTreeMap::new(),
            chatters: HashMap::new(),
            streams: BTreeMap::new(),
            audience: HashMap::new(),
            moderated: HashMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            buckets: HashMap::new(),
            failures: HashMap::new(),
            calls: Vec::new(),
            device: None,
            device_grants: HashMap::new(),
            public_refresh: HashSet::new(),
            issued: 0,
            authorizer: None,
            code_grants: HashMap::new(),
        }
    }

    pub(super) fn add_token(&mut self, token: FakeToken) {
        if let Some(user) = &token.user {
            self.users
                .entry(user.id.clone())
                .or_insert_with(|| user.clone());
        }
        if let Some(refresh) = &token.refresh {
            self.refresh_tokens.insert(refresh.clone(), token.clone());
        }
        self.tokens.insert(token.access.clone(), token);
    }

    /// The bucket of an access token, created full.
    pub(super) fn bucket(&mut self, access: &str, now: Instant) -> &mut Bucket {
        let limit = self.points_per_minute;
        self.buckets
            .entry(access.to_owned())
            .or_insert_with(|| Bucket::full(limit, now))
    }

    /// The next queued failure of an endpoint, if any.
    pub(super) fn next_failure(&mut self, endpoint: Endpoint) -> Option<Failure> {
        self.failures.get_mut(&endpoint)?.pop_front().flatten()
    }

    /// Rotates a user token: new access and refresh tokens, the old ones revoked.
    pub(super) fn rotate(&mut self, refresh: &str) -> Option<FakeToken> {
        let mut token = self.refresh_tokens.remove(refresh)?;
        self.tokens.remove(&token.access);
        self.issued += 1;
        token.access = format!("access-{}", self.issued);
        token.refresh = Some(format!("refresh-{}", self.issued));
        if self.public_refresh.remove(refresh) {
            self.public_refresh
                .insert(format!("refresh-{}", self.issued));
        }
        self.add_token(token.clone());
        Some(token)
    }

    /// Issues an app token.
    pub(super) fn issue_app_token(&mut self) -> FakeToken {
        self.issued += 1;
        let mut token = FakeToken::app(&format!("app-{}", self.issued));
        token.client_id = self.client_id.clone();
        self.add_token(token.clone());
        token
    }

    /// Whether `moderator` may read `broadcaster`'s chatters.
    pub(super) fn moderates(&self, moderator: &str, broadcaster: &str) -> bool {
        moderator == broadcaster
            || self
                .moderated
                .get(moderator)
                .is_some_and(|channels| channels.iter().any(|c| c.id == broadcaster))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_bucket_refills_continuously_and_reports_when_it_is_full() {
        let t0 = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000);
        let mut bucket = Bucket::full(60, t0);
        for _ in 0..60 {
            assert!(bucket.take(t0));
        }
        assert!(!bucket.take(t0));
        assert_eq!(
            bucket.headers(t0, wall),
            RateHeaders {
                limit: 60,
                remaining: 0,
                reset: 1_060
            }
        );
        let t1 = t0 + Duration::from_secs(1);
        assert!(bucket.take(t1));
        assert!(!bucket.take(t1));
    }
}
