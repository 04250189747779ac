//! [`Health`]: what `/healthz` reports, one [`Status`] per component (the database, Twitch IRC,
//! Helix), set by whichever part of the process owns that component and read by the web half.
//! Both halves reach it through `core`, so neither imports the other.
//!
//! Who sets what:
//! - the database: [`integrity_task`] (SQLite `PRAGMA quick_check` at start and daily; a
//!   failure is the one state in which `/healthz` answers 503 besides a database that does not
//!   answer its ping);
//! - IRC and Helix: the bot half, with [`Health::set_irc`] / [`Health::set_helix`]: `None`
//!   when the component works, `Some(reason)` when it is degraded (a short text, shown as is,
//!   so never a secret). A process that does not run the bot half leaves them
//!   [`Status::NotRun`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde::ser::Serializer;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How often the database's integrity is checked after the check at start.
pub const INTEGRITY_CHECK_EVERY: Duration = Duration::from_secs(24 * 3600);

/// One component's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// Working.
    Ok,
    /// This process does not run the component (`chatters web` has no IRC connection), or
    /// has not checked it yet.
    #[default]
    NotRun,
    /// Not working, for the reason given (short, safe to show to anyone).
    Degraded(String),
}

impl Status {
    /// `None` → [`Status::Ok`], `Some(reason)` → [`Status::Degraded`].
    pub fn from_problem(problem: Option<String>) -> Self {
        match problem {
            None => Self::Ok,
            Some(reason) => Self::Degraded(reason),
        }
    }

    /// True for [`Status::Degraded`].
    pub fn is_degraded(&self) -> bool {
        matches!(self, Self::Degraded(_))
    }

    /// The text `/healthz` shows: `ok`, `not run`, or the reason.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ok => "ok",
            Self::NotRun => "not run",
            Self::Degraded(reason) => reason,
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The components' states at one moment, in `/healthz`'s field order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Report {
    /// The database (integrity; the web half adds its own ping).
    pub database: Status,
    /// The Twitch IRC connection.
    pub irc: Status,
    /// The Helix API (and token refresh).
    pub helix: Status,
}

impl Report {
    /// True when any component is degraded.
    pub fn degraded(&self) -> bool {
        self.database.is_degraded() || self.irc.is_degraded() || self.helix.is_degraded()
    }
}

/// The process's component states: cheap to clone, shared by every task that sets or reads
/// them. Every component starts [`Status::NotRun`].
#[derive(Debug, Clone, Default)]
pub struct Health {
    report: Arc<RwLock<Report>>,
}

impl Health {
    /// Every component [`Status::NotRun`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The database: `None` = ok, `Some(reason)` = degraded (`/healthz` answers 503).
    pub fn set_database(&self, problem: Option<String>) {
        self.update(|r| r.database = Status::from_problem(problem));
    }

    /// Twitch IRC: `None` = connected and logged in, `Some(reason)` = degraded (e.g. `login
    /// rejected, retrying`). `/healthz` stays 200 either way.
    pub fn set_irc(&self, problem: Option<String>) {
        self.update(|r| r.irc = Status::from_problem(problem));
    }

    /// Helix: `None` = answering, `Some(reason)` = degraded. `/healthz` stays 200 either way.
    pub fn set_helix(&self, problem: Option<String>) {
        self.update(|r| r.helix = Status::from_problem(problem));
    }

    /// The states now.
    pub fn report(&self) -> Report {
        self.report
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut Report)) {
        let mut report = self
            .report
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut report);
    }
}

/// Checks the database's integrity now and every [`INTEGRITY_CHECK_EVERY`] until `cancel`
/// fires, recording the outcome in `health` (a check that cannot run at all, e.g. the
/// database is away, changes nothing: the ping of `/healthz` shows that).
pub async fn integrity_task(store: Arc<Store>, health: Health, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(INTEGRITY_CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let checked = tokio::select! {
            () = cancel.cancelled() => break,
            checked = store.integrity_check() => checked,
        };
        match checked {
            Ok(None) => health.set_database(None),
            Ok(Some(problem)) => {
                tracing::error!(%problem, "database integrity check failed");
                health.set_database(Some("integrity check failed".to_owned()));
            }
            Err(error) => tracing::warn!(%error, "database integrity check could not run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_start_not_run_and_only_degraded_ones_degrade_the_report() {
        let health = Health::new();
        assert_eq!(health.report(), Report::default());
        assert!(!health.report().degraded());

        health.set_database(None);
        health.set_irc(Some("login rejected, retrying".into()));
        let report = health.report();

        assert_eq!(
            serde_json::to_value(&report).expect("json"),
            serde_json::json!({
                "database": "ok",
                "irc": "login rejected, retrying",
                "helix": "not run",
            })
        );
        assert!(report.degraded());
        health.set_irc(None);
        assert!(!health.report().degraded());
    }
}
