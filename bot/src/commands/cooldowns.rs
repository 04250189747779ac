//! Per-channel command cooldowns: per channel and command, from the answer; asks within it
//! get no reply and do not extend it; `!optout`/`!optin` have none. Who may use a command is a
//! channel setting ([`chatters_core::channel_settings::Access`]).

use std::collections::HashMap;
use std::time::Duration;

use chatters_core::channel_settings::MAX_COOLDOWN;
use chatters_core::domain::Login;
use tokio::time::Instant;

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
            self.answered.retain(|_, at| *at + MAX_COOLDOWN > now);
        }
        self.answered.insert((channel.clone(), command), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
