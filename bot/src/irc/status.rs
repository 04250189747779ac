//! The chat connection's state, as `/healthz` reports it: fine once Twitch welcomed the login,
//! otherwise a short reason (connecting, login rejected and retrying).

use std::sync::{Arc, RwLock};

/// Shared by the `irc` task (which sets it) and whoever reports health (which reads it).
#[derive(Debug, Clone)]
pub struct IrcStatus(Arc<RwLock<Option<String>>>);

impl Default for IrcStatus {
    /// Not logged in yet: "connecting".
    fn default() -> Self {
        Self(Arc::new(RwLock::new(Some("connecting".to_owned()))))
    }
}

impl IrcStatus {
    /// Why chat is not working now; `None` when Twitch welcomed the login.
    pub fn problem(&self) -> Option<String> {
        self.0.read().map_or(None, |p| p.clone())
    }

    /// Twitch welcomed the login.
    pub fn set_ok(&self) {
        self.set(None);
    }

    /// Chat is not working, for `why`.
    pub fn set_problem(&self, why: impl Into<String>) {
        self.set(Some(why.into()));
    }

    fn set(&self, value: Option<String>) {
        if let Ok(mut p) = self.0.write() {
            *p = value;
        }
    }
}
