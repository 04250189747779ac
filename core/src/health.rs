//! [`Health`]: what `/healthz` reports, one [`Status`] per component (the database, Twitch IRC,
//! Helix), set by whichever part of the process owns that component and read by the web half.
//! Both halves reach it through `core`, so neither imports the other.
//!
//! Who sets what:
//! - the database: [`integrity_task`] (SQLite `PRAGMA quick_check` at start and daily; a
//!   failure is the one state in which `/healthz` answers 503 besides a database that does not
//!   answer its ping);
//! - IRC and Helix: the bot half, either by pushing each change with [`Health::set_irc`] /
//!   [`Health::set_helix`], or by handing over a probe read at each report with
//!   [`Health::watch_irc`] / [`Health::watch_helix`] (e.g. `health.watch_irc(move ||
//!   irc_status.problem())`). Either way `None` means the component works and `Some(reason)`
//!   that it is degraded (a short text, shown as is, so never a secret). A process that does
//!   not run the bot half leaves them [`Status::NotRun`].

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

/// A component's state read when asked: `None` = ok, `Some(reason)` = degraded.
type Probe = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// The process's component states: cheap to clone, shared by every task that sets or reads
/// them. Every component starts [`Status::NotRun`].
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// The states set.
    report: Report,
    /// When set, read for `irc` instead of the state set.
    irc_probe: Option<Probe>,
    /// When set, read for `helix` instead of the state set.
    helix_probe: Option<Probe>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Health").field(&self.report()).finish()
    }
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

    /// Reads Twitch IRC's state from `probe` at each report from now on (`None` = ok,
    /// `Some(reason)` = degraded), instead of the state set with [`Self::set_irc`].
    pub fn watch_irc(&self, probe: impl Fn() -> Option<String> + Send + Sync + 'static) {
        self.write().irc_probe = Some(Arc::new(probe));
    }

    /// Reads Helix's state from `probe` at each report from now on, instead of the state set
    /// with [`Self::set_helix`].
    pub fn watch_helix(&self, probe: impl Fn() -> Option<String> + Send + Sync + 'static) {
        self.write().helix_probe = Some(Arc::new(probe));
    }

    /// The states now.
    pub fn report(&self) -> Report {
        let (mut report, irc, helix) = {
            let inner = self
                .inner
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (
                inner.report.clone(),
                inner.irc_probe.clone(),
                inner.helix_probe.clone(),
            )
        };
        // Probes run outside the lock: they may take locks of their own.
        if let Some(probe) = irc {
            report.irc = Status::from_problem(probe());
        }
        if let Some(probe) = helix {
            report.helix = Status::from_problem(probe());
        }
        report
    }

    fn update(&self, change: impl FnOnce(&mut Report)) {
        change(&mut self.write().report);
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    #[test]
    fn a_watched_component_is_read_at_each_report() {
        let health = Health::new();
        let problem = Arc::new(RwLock::new(Some("connecting".to_owned())));
        let source = problem.clone();
        health.set_irc(None);

        health.watch_irc(move || source.read().ok().and_then(|p| p.clone()));
        let connecting = health.report().irc;
        *problem.write().expect("lock") = None;
        let welcomed = health.report().irc;

        assert_eq!(connecting, Status::Degraded("connecting".into()));
        assert_eq!(welcomed, Status::Ok);
    }
}
