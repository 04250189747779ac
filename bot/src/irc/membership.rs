//! Which channels the bot must (re)join, decided without trusting twitch-irc's join bookkeeping.
//!
//! The crate marks a channel "joined" on the JOIN echo and "not joined" on *any* PART in it —
//! including other users' PARTs once the membership capability is on. Re-asserting the wanted
//! set with `set_wanted_channels` every 30 s would therefore re-send a JOIN for almost every
//! busy channel each time, far beyond Twitch's JOIN rate limit (20 per 10 s for a normal
//! account). Instead a channel is a *suspect* only when nothing at all (own JOIN echo, chat,
//! other users' JOIN/PART, ROOMSTATE, ...) has arrived from it since the latest socket closure
//! or for `stale_after`; the client then re-joins a suspect only when the crate also reports it
//! unconfirmed, with a per-channel backoff. Pure and clock-free: every method takes `now`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chatters_core::domain::Login;

/// Timing of the membership checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipConfig {
    /// A wanted channel silent this long is checked (and re-joined when the crate does not
    /// confirm it).
    pub stale_after: Duration,
    /// How long a JOIN may go unanswered, and how long after a socket closure twitch-irc gets
    /// to rejoin by itself, before we step in. Also the first retry delay.
    pub join_timeout: Duration,
    /// Longest delay between two re-JOINs of a channel that never answers (e.g. suspended).
    pub max_backoff: Duration,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(600),
            join_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(600),
        }
    }
}

/// What to do after the wanted set changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Channels to JOIN.
    pub join: Vec<Login>,
    /// Channels to PART.
    pub part: Vec<Login>,
}

#[derive(Debug, Clone, Copy)]
struct Retry {
    attempts: u32,
    next: Instant,
}

/// The wanted channels and the evidence that we are in them.
#[derive(Debug)]
pub struct Membership {
    config: MembershipConfig,
    wanted: BTreeSet<Login>,
    /// Latest line received from each wanted channel (keyed by login text, so the hot path
    /// looks it up by `&str` without allocating).
    evidence: HashMap<String, Instant>,
    /// When a channel may be (re)joined next.
    retries: HashMap<Login, Retry>,
}

impl Membership {
    /// No channel wanted yet.
    pub fn new(config: MembershipConfig) -> Self {
        Self {
            config,
            wanted: BTreeSet::new(),
            evidence: HashMap::new(),
            retries: HashMap::new(),
        }
    }

    /// The channels wanted now.
    pub fn wanted(&self) -> &BTreeSet<Login> {
        &self.wanted
    }

    /// Replaces the wanted set; returns what to join and leave.
    pub fn set_wanted(&mut self, wanted: BTreeSet<Login>, now: Instant) -> Plan {
        let join: Vec<Login> = wanted.difference(&self.wanted).cloned().collect();
        let part: Vec<Login> = self.wanted.difference(&wanted).cloned().collect();
        for channel in &part {
            self.evidence.remove(channel.as_str());
            self.retries.remove(channel);
        }
        for channel in &join {
            let next = now + self.config.join_timeout;
            self.retries
                .insert(channel.clone(), Retry { attempts: 0, next });
        }
        self.wanted = wanted;
        Plan { join, part }
    }

    /// A line arrived from `channel` (login without `#`): we are in it.
    pub fn seen(&mut self, channel: &str, now: Instant) {
        if let Some(at) = self.evidence.get_mut(channel) {
            *at = now;
        } else if let Ok(login) = Login::parse(channel)
            && self.wanted.contains(&login)
        {
            self.retries.remove(&login);
            self.evidence.insert(login.as_str().to_owned(), now);
        }
    }

    /// Our own PART echo: no longer in `channel`.
    pub fn parted(&mut self, channel: &str) {
        self.evidence.remove(channel);
    }

    /// Wanted channels with no line since the latest socket closure (once twitch-irc has had
    /// `join_timeout` to rejoin) or for `stale_after`, whose retry delay has passed.
    pub fn suspects(&self, now: Instant, last_closure: Option<Instant>) -> Vec<Login> {
        let mut cutoff = now.checked_sub(self.config.stale_after);
        if let Some(closed) = last_closure
            && now >= closed + self.config.join_timeout
        {
            cutoff = Some(cutoff.map_or(closed, |c| c.max(closed)));
        }
        self.wanted
            .iter()
            .filter(|c| match self.evidence.get(c.as_str()) {
                None => true,
                Some(at) => cutoff.is_some_and(|cutoff| *at < cutoff),
            })
            .filter(|c| self.retries.get(*c).is_none_or(|r| now >= r.next))
            .cloned()
            .collect()
    }

    /// Records a re-JOIN of `channel` at `now`: the next one waits twice as long as the last.
    pub fn rejoining(&mut self, channel: &Login, now: Instant) {
        let attempts = self.retries.get(channel).map_or(0, |r| r.attempts) + 1;
        let factor = 1u32 << attempts.min(16);
        let delay = self
            .config
            .join_timeout
            .saturating_mul(factor)
            .min(self.config.max_backoff);
        self.retries.insert(
            channel.clone(),
            Retry {
                attempts,
                next: now + delay,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(s: &str) -> Login {
        Login::parse(s).expect("login")
    }

    fn set(names: &[&str]) -> BTreeSet<Login> {
        names.iter().map(|n| login(n)).collect()
    }

    fn config() -> MembershipConfig {
        MembershipConfig {
            stale_after: Duration::from_secs(600),
            join_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(600),
        }
    }

    #[test]
    fn wanted_changes_give_joins_and_parts() {
        let t0 = Instant::now();
        let mut m = Membership::new(config());
        let plan = m.set_wanted(set(&["a", "b"]), t0);
        assert_eq!(plan.join, vec![login("a"), login("b")]);
        assert!(plan.part.is_empty());
        let plan = m.set_wanted(set(&["b", "c"]), t0);
        assert_eq!(
            plan,
            Plan {
                join: vec![login("c")],
                part: vec![login("a")]
            }
        );
    }

    #[test]
    fn a_fresh_join_is_not_suspected_before_the_join_timeout() {
        let t0 = Instant::now();
        let mut m = Membership::new(config());
        m.set_wanted(set(&["a"]), t0);
        assert!(m.suspects(t0 + Duration::from_secs(5), None).is_empty());
        assert_eq!(
            m.suspects(t0 + Duration::from_secs(11), None),
            vec![login("a")]
        );
    }

    #[test]
    fn any_line_from_the_channel_clears_suspicion_until_it_goes_stale() {
        let t0 = Instant::now();
        let mut m = Membership::new(config());
        m.set_wanted(set(&["a"]), t0);
        m.seen("a", t0 + Duration::from_secs(1));
        m.seen("unwanted", t0 + Duration::from_secs(1));
        assert!(m.suspects(t0 + Duration::from_secs(300), None).is_empty());
        assert_eq!(
            m.suspects(t0 + Duration::from_secs(602), None),
            vec![login("a")]
        );
        assert!(!m.evidence.contains_key("unwanted"));
    }

    #[test]
    fn a_socket_closure_makes_quiet_channels_suspects_after_the_grace() {
        let t0 = Instant::now();
        let mut m = Membership::new(config());
        m.set_wanted(set(&["a", "b"]), t0);
        m.seen("a", t0 + Duration::from_secs(1));
        m.seen("b", t0 + Duration::from_secs(1));
        let closed = t0 + Duration::from_secs(100);
        // b's connection survived and keeps talking; a's was lost and its rejoin never answered.
        m.seen("b", closed + Duration::from_secs(2));
        assert!(
            m.suspects(closed + Duration::from_secs(5), Some(closed))
                .is_empty()
        );
        assert_eq!(
            m.suspects(closed + Duration::from_secs(11), Some(closed)),
            vec![login("a")]
        );
    }

    #[test]
    fn rejoins_back_off_until_the_channel_answers() {
        let t0 = Instant::now();
        let mut m = Membership::new(config());
        m.set_wanted(set(&["a"]), t0);
        let t1 = t0 + Duration::from_secs(11);
        assert_eq!(m.suspects(t1, None), vec![login("a")]);
        m.rejoining(&login("a"), t1);
        assert!(m.suspects(t1 + Duration::from_secs(19), None).is_empty());
        let t2 = t1 + Duration::from_secs(20);
        assert_eq!(m.suspects(t2, None), vec![login("a")]);
        m.rejoining(&login("a"), t2);
        assert!(m.suspects(t2 + Duration::from_secs(39), None).is_empty());
        m.seen("a", t2 + Duration::from_secs(1));
        assert!(m.suspects(t2 + Duration::from_secs(100), None).is_empty());
    }

    #[test]
    fn parting_forgets_the_evidence() {
        let t0 = Instant::now();
        let mut m = Membership::new(config());
        m.set_wanted(set(&["a"]), t0);
        m.seen("a", t0);
        m.parted("a");
        assert_eq!(
            m.suspects(t0 + Duration::from_secs(11), None),
            vec![login("a")]
        );
    }
}
