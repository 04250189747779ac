//! Known bots: the list shipped in `assets/known_bots.txt` plus per-channel rules
//! (`bots.add`, `bots.remove`, `bots.allow`). Known bots are excluded from every figure.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::domain::Login;
use crate::store::BotRule;

const SHIPPED: &str = include_str!("../../assets/known_bots.txt");

/// The shipped list, parsed once. Cheap to clone (shared): the web state holding it is cloned
/// for every request.
#[derive(Debug, Clone)]
pub struct KnownBots {
    shipped: Arc<FxHashSet<Login>>,
}

impl Default for KnownBots {
    fn default() -> Self {
        Self::shipped()
    }
}

impl KnownBots {
    /// The list in `assets/known_bots.txt` (comments and blank lines skipped).
    pub fn shipped() -> Self {
        let shipped = SHIPPED
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| Login::parse(l).ok())
            .collect();
        Self {
            shipped: Arc::new(shipped),
        }
    }

    /// An empty list (tests that want every user counted).
    pub fn none() -> Self {
        Self {
            shipped: Arc::new(FxHashSet::default()),
        }
    }

    /// Every shipped login.
    pub fn logins(&self) -> impl Iterator<Item = &Login> {
        self.shipped.iter()
    }

    /// Whether `login` is a bot in a channel with these rules.
    pub fn is_bot(&self, rules: &FxHashMap<Login, BotRule>, login: &Login) -> bool {
        match rules.get(login) {
            Some(BotRule::Add) => true,
            Some(BotRule::Allow) => false,
            None => self.shipped.contains(login),
        }
    }

    /// The bot logins of a channel: shipped ones not allowed, plus added ones.
    pub fn channel_bots(&self, rules: &FxHashMap<Login, BotRule>) -> Vec<Login> {
        let mut out: Vec<Login> = self
            .shipped
            .iter()
            .filter(|l| !matches!(rules.get(*l), Some(BotRule::Allow)))
            .cloned()
            .chain(
                rules
                    .iter()
                    .filter(|(_, r)| **r == BotRule::Add)
                    .map(|(l, _)| l.clone()),
            )
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(s: &str) -> Login {
        Login::parse(s).expect("valid login")
    }

    #[test]
    fn shipped_list_names_the_common_service_bots() {
        let bots = KnownBots::shipped();
        let rules = FxHashMap::default();
        for name in [
            "nightbot",
            "streamelements",
            "moobot",
            "fossabot",
            "streamlabs",
            "soundalerts",
            "sery_bot",
            "wizebot",
            "commanderroot",
        ] {
            assert!(bots.is_bot(&rules, &login(name)), "{name}");
        }
        assert!(!bots.is_bot(&rules, &login("forsen")));
    }

    #[test]
    fn channel_rules_add_and_allow() {
        let bots = KnownBots::shipped();
        let mut rules = FxHashMap::default();
        rules.insert(login("mybot"), BotRule::Add);
        rules.insert(login("nightbot"), BotRule::Allow);
        assert!(bots.is_bot(&rules, &login("mybot")));
        assert!(!bots.is_bot(&rules, &login("nightbot")));
        let listed = bots.channel_bots(&rules);
        assert!(listed.contains(&login("mybot")));
        assert!(!listed.contains(&login("nightbot")));
        assert!(listed.contains(&login("moobot")));
    }
}
