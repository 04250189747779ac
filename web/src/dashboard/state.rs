//! [`Dashboard`]: the dashboard's settings (the Twitch app, `DASHBOARD_ADMINS`, the public base
//! URL and its path) and its session store.

use std::sync::Arc;

use chatters_core::domain::Login;
use chatters_core::settings::Settings;
use chatters_core::store::Store;

use super::twitch::TwitchApp;
use crate::session::Sessions;
use crate::session::cookie::CookieScope;

/// How long the moderated-channels list read at sign-in is trusted.
pub const CHANNELS_FRESH_FOR: i64 = 10 * 60;

/// The dashboard's configuration and session store.
#[derive(Debug)]
pub struct Dashboard {
    /// The Twitch app (`None`: `TWITCH_CLIENT_ID` or `TWITCH_CLIENT_SECRET` missing, and every
    /// dashboard route answers a page saying so).
    pub app: Option<TwitchApp>,
    /// `DASHBOARD_ADMINS`.
    pub admins: Vec<Login>,
    /// Where sessions live.
    pub sessions: Sessions,
    /// Cookie path and `Secure`.
    pub scope: CookieScope,
    /// `PUBLIC_BASE_URL`, without a trailing slash.
    pub base_url: String,
    /// Its path (`""` or `/prefix`), put before every link.
    pub base_path: String,
}

impl Dashboard {
    /// A dashboard over `store`; `app` and `admins` from the settings.
    pub fn new(
        store: Arc<Store>,
        public_base_url: &str,
        redis_url: Option<&secrecy::SecretString>,
        app: Option<TwitchApp>,
        admins: Vec<Login>,
    ) -> Self {
        let base_url = public_base_url.trim_end_matches('/').to_owned();
        let scope = CookieScope::for_base(&base_url);
        let base_path = scope.path.trim_end_matches('/').to_owned();
        Self {
            app,
            admins,
            sessions: Sessions::new(store, redis_url),
            scope,
            base_url,
            base_path,
        }
    }

    /// The dashboard the settings describe.
    pub fn from_settings(store: Arc<Store>, settings: &Settings) -> Self {
        let app = match (&settings.twitch_client_id, &settings.twitch_client_secret) {
            (Some(id), Some(secret)) => Some(TwitchApp::new(
                id.clone(),
                secret.clone(),
                settings.twitch_oauth2_url.clone(),
                settings.twitch_helix_url.clone(),
            )),
            _ => None,
        };
        Self::new(
            store,
            &settings.public_base_url,
            settings.redis_url.as_ref(),
            app,
            settings.dashboard.admins.clone(),
        )
    }

    /// Where Twitch sends the browser back.
    pub fn redirect_uri(&self) -> String {
        format!("{}/auth/callback", self.base_url)
    }

    /// A path of this site, under the public base URL's path.
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base_path)
    }
}
