//! Who may use a command, and per-channel cooldowns.
//!
//! Broadcaster and moderators by default; `!optout`/`!optin` for everyone. Per channel, a
//! command can be switched off or opened to everyone with the setting `commands.<name>` =
//! `off` | `mods` | `everyone`. Cooldown: per channel and command, from the answer; asks
//! within it get no reply and do not extend it; `!optout`/`!optin` have none.

use std::collections::HashMap;
use std::time::Duration;

use chatters_core::domain::Login;
use tokio::time::Instant;

/// Longest per-channel command cooldown accepted (`channel set <login> commands.cooldown`).
pub const MAX_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(3_600);

pub use chatters_core::role::Role;

/// A channel's rule for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nobody.
    Off,
    /// Broadcaster and moderators.
    Mods,
    /// Everyone.
    Everyone,
}

impl Access {
    /// Parses a setting value.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" | "disabled" | "false" => Some(Self::Off),
            "mods" | "moderators" | "on" => Some(Self::Mods),
            "everyone" | "all" => Some(Self::Everyone),
            _ => None,
        }
    }

    /// The default for a command.
    pub fn default_for(command: &str) -> Self {
        match command {
            "optout" | "optin" => Self::Everyone,
            _ => Self::Mods,
        }
    }

    /// Whether `role` may use the command.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Self::Off => false,
            Self::Mods => role >= Role::Moderator,
            Self::Everyone => true,
        }
    }
}

/// Cooldowns per (channel, command): when each was last answered. The period is given when
/// asking, so a changed `commands.cooldown` applies at once.
#[derive(Debug, Default)]
pub struct Cooldowns {
    answered: HashMap<(Login, &'static str), Instant>,
}

/// Answers kept before old entries are swept.
const SWEEP_AT: usize = 100_000;

impl Cooldowns {
    /// Whether the command may be answered now, `period` after its last answer.
    pub fn ready(
        &self,
        channel: &Login,
        command: &'static str,
        now: Instant,
        period: Duration,
    ) -> bool {
        if matches!(command, "optout" | "optin") {
            return true;
        }
        self.answered
            .get(&(channel.clone(), command))
            .is_none_or(|at| now >= *at + period)
    }

    /// Records an answer (the cooldown runs from here).
    pub fn answered(&mut self, channel: &Login, command: &'static str, now: Instant) {
        if matches!(command, "optout" | "optin") {
            return;
        }
        if self.answered.len() > SWEEP_AT {
            let horizon = MAX_COOLDOWN;
            self.answered.retain(|_, at| *at + horizon > now);
        }
        self.answered.insert((channel.clone(), command), now);
    }
}

#[cfg(test)]
mod tests {
    use chatters_core::event::Badge;

    use super::*;

    fn badge(name: &str) -> Badge {
        Badge {
            name: name.into(),
            version: "1".into(),
        }
    }

    #[test]
    fn roles_come_from_badges() {
        assert_eq!(Role::from_badges(&[]), Role::Viewer);
        assert_eq!(
            Role::from_badges(&[badge("subscriber"), badge("moderator")]),
            Role::Moderator
        );
        assert_eq!(
            Role::from_badges(&[badge("broadcaster"), badge("subscriber")]),
            Role::Broadcaster
        );
        assert_eq!(Role::from_badges(&[badge("vip")]), Role::Viewer);
    }

    #[test]
    fn defaults_let_moderators_in_and_everyone_opt_out() {
        assert!(!Access::default_for("stats").allows(Role::Viewer));
        assert!(Access::default_for("stats").allows(Role::Moderator));
        assert!(Access::default_for("stats").allows(Role::Broadcaster));
        assert!(Access::default_for("optout").allows(Role::Viewer));
        assert!(!Access::Off.allows(Role::Broadcaster));
        assert_eq!(Access::parse("Everyone"), Some(Access::Everyone));
        assert_eq!(Access::parse("nope"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn cooldown_runs_from_the_answer() {
        let chan = Login::parse("chan").expect("valid");
        let mut c = Cooldowns::default();
        let t0 = Instant::now();
        let five = Duration::from_secs(5);
        assert!(c.ready(&chan, "stats", t0, five));
        c.answered(&chan, "stats", t0);
        assert!(!c.ready(&chan, "stats", t0 + Duration::from_secs(4), five));
        assert!(c.ready(&chan, "top", t0 + Duration::from_secs(1), five));
        assert!(c.ready(&chan, "stats", t0 + five, five));
        // A shorter cooldown set meanwhile applies at once.
        assert!(c.ready(&chan, "stats", t0 + Duration::from_secs(1), Duration::ZERO));
        c.answered(&chan, "optout", t0);
        assert!(c.ready(&chan, "optout", t0, five));
    }
}
