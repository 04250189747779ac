//! The in-process body store: bodies by key with their data version and expiry, bounded by
//! bytes, the least recently used evicted first.

use std::collections::HashMap;
use std::time::Instant;

use super::Cached;

/// A body with the data version it was rendered for.
#[derive(Debug)]
struct Entry {
    version: u64,
    cached: Cached,
    expires: Instant,
    last_used: u64,
}

/// Bodies by key, least recently used evicted first once over budget.
#[derive(Debug, Default)]
pub(super) struct Lru {
    map: HashMap<String, Entry>,
    /// Bytes held (bodies and keys).
    pub(super) bytes: usize,
    clock: u64,
}

impl Lru {
    /// The body under `key` when it is of `version` and not expired; marks it used.
    pub(super) fn get(&mut self, key: &str, version: u64, now: Instant) -> Option<Cached> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.map.get_mut(key)?;
        if entry.version != version || entry.expires <= now {
            return None;
        }
        entry.last_used = clock;
        Some(entry.cached.clone())
    }

    /// Stores a body (replacing the key's previous one), then evicts the least recently used
    /// bodies until the store fits `budget` bytes. A body larger than the budget is not kept.
    pub(super) fn put(
        &mut self,
        key: String,
        version: u64,
        cached: Cached,
        expires: Instant,
        budget: usize,
    ) {
        self.clock += 1;
        let size = cached.body.len() + key.len();
        if size > budget {
            return;
        }
        let entry = Entry {
            version,
            cached,
            expires,
            last_used: self.clock,
        };
        if let Some(old) = self.map.insert(key.clone(), entry) {
            self.bytes -= old.cached.body.len() + key.len();
        }
        self.bytes += size;
        // Linear scan: eviction follows a render (milliseconds), and the map holds hundreds.
        while self.bytes > budget {
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = self.map.remove(&oldest) {
                self.bytes -= e.cached.body.len() + oldest.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Bytes;

    use super::*;

    fn body(n: usize) -> Cached {
        Cached::new(Bytes::from(vec![7u8; n]))
    }

    #[test]
    fn a_new_version_or_an_expired_entry_misses() {
        let mut lru = Lru::default();
        let now = Instant::now();
        lru.put("k".into(), 1, body(10), now + Duration::from_secs(60), 1000);

        assert!(lru.get("k", 1, now).is_some());
        assert!(lru.get("k", 2, now).is_none());
        assert!(lru.get("k", 1, now + Duration::from_secs(61)).is_none());
    }

    #[test]
    fn the_least_recently_used_body_is_evicted_over_budget() {
        let mut lru = Lru::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        lru.put("a".into(), 1, body(400), later, 1000);
        lru.put("b".into(), 1, body(400), later, 1000);
        assert!(lru.get("a", 1, now).is_some());

        lru.put("c".into(), 1, body(400), later, 1000);

        assert!(lru.get("a", 1, now).is_some());
        assert!(lru.get("b", 1, now).is_none());
        assert!(lru.get("c", 1, now).is_some());
        assert_eq!(lru.bytes, 802);
    }

    #[test]
    fn a_body_larger_than_the_budget_is_not_kept() {
        let mut lru = Lru::default();
        let now = Instant::now();

        lru.put(
            "big".into(),
            1,
            body(2000),
            now + Duration::from_secs(1),
            1000,
        );

        assert!(lru.get("big", 1, now).is_none());
        assert_eq!(lru.bytes, 0);
    }
}
