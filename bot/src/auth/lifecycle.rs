//! [`Auth`]'s entry points over time: [`Auth::start`] (the first token), [`Auth::refresh`] and
//! the renewal after a Helix 401, and the periodic check Twitch requires ([`Auth::check`],
//! [`Auth::maintain`]). The token work itself is in `renew`.

use std::sync::Arc;
use std::time::Duration;

use chatters_core::store::Store;
use secrecy::ExposeSecret as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use twitch_api::twitch_oauth2::AccessToken;

use super::error::AuthError;
use super::oauth::{self, OAuthFailure, scope_set, validate_error};
use super::state::{Auth, AuthConfig, lock};
use super::stored::StoredLogin;
use crate::twitch_http::TwitchHttp;

/// Twitch requires validating a user token at least hourly.
const REVALIDATE_EVERY: Duration = Duration::from_secs(3600);
/// A token this close to its expiry is renewed instead of validated.
const RENEW_AHEAD: Duration = Duration::from_secs(300);
/// Pause after a failed periodic check.
const CHECK_RETRY: Duration = Duration::from_secs(300);

impl Auth {
    /// Sets up the credentials of `config`: validates (and if needed refreshes) the bot token
    /// (`TWITCH_BOT_TOKEN`, else the sign-in `chatters login` stored), or gets an app access
    /// token, or stays anonymous. [`AuthError::is_config`] errors mean the settings are wrong
    /// (exit 2).
    pub async fn start(
        config: AuthConfig,
        http: TwitchHttp,
        store: Option<Arc<Store>>,
    ) -> Result<Self, AuthError> {
        let (config, signed_in) = with_stored_login(config, store.as_deref()).await;
        let auth = Self::with(&config, http, store, signed_in);
        if let Some(token) = &config.bot_token {
            auth.load_stored_refresh_token().await;
            let access = AccessToken::new(token.expose_secret().to_owned());
            let _renewing = auth.inner.renewing.lock().await;
            auth.start_user(access).await?;
        } else if auth.inner.client_id.is_some() && auth.inner.client_secret.is_some() {
            let _renewing = auth.inner.renewing.lock().await;
            auth.renew_app_token().await?;
            info!("Twitch app access token obtained: Helix Get Users and Get Streams only");
        } else {
            info!("no Twitch credentials: chat is read anonymously and Helix is off");
        }
        Ok(auth)
    }

    /// Renews the token after a 401 answered a call made with token `generation`, unless another
    /// call renewed it meanwhile.
    pub(crate) async fn renew_after(&self, generation: u64) -> Result<(), AuthError> {
        let _renewing = self.inner.renewing.lock().await;
        let current = lock(&self.inner.token).as_ref().map(|t| t.generation);
        if current != Some(generation) {
            return Ok(());
        }
        self.renew().await
    }

    /// Refreshes the user token (or renews the app token) now.
    pub async fn refresh(&self) -> Result<(), AuthError> {
        let _renewing = self.inner.renewing.lock().await;
        self.renew().await
    }

    /// The periodic check: validates the token (hourly, as Twitch requires), renewing it when it
    /// expires within 5 minutes or Twitch refuses it.
    pub async fn check(&self) -> Result<(), AuthError> {
        let _renewing = self.inner.renewing.lock().await;
        let Some(token) = lock(&self.inner.token).clone() else {
            return Ok(());
        };
        if token
            .expires_at
            .is_some_and(|at| at.saturating_duration_since(Instant::now()) < RENEW_AHEAD)
        {
            return self.renew().await;
        }
        match oauth::validate(&self.inner.http, &token.access).await {
            Ok(validated) => {
                self.update_token(false, |t| {
                    t.scopes = scope_set(&validated);
                    t.expires_at = validated.expires_in.map(|d| Instant::now() + d);
                    t.validated_at = Instant::now();
                });
                self.report_missing_scopes();
                Ok(())
            }
            Err(OAuthFailure::Unauthorized) => {
                warn!("Twitch no longer accepts the token; renewing it");
                self.renew().await
            }
            Err(failure) => Err(validate_error(failure)),
        }
    }

    /// Runs [`Auth::check`] whenever due (hourly, or 5 minutes before expiry) until `shutdown`.
    pub async fn maintain(&self, shutdown: CancellationToken) {
        loop {
            let due = match lock(&self.inner.token).as_ref() {
                None => return,
                Some(t) => {
                    let hourly = t.validated_at + REVALIDATE_EVERY;
                    t.expires_at.map_or(hourly, |at| {
                        hourly.min(at.checked_sub(RENEW_AHEAD).unwrap_or(at))
                    })
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep_until(due) => {}
            }
            if let Err(error) = self.check().await {
                warn!(%error, "Twitch token check failed; retrying in 5 minutes");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(CHECK_RETRY) => {}
                }
            }
        }
    }
}

/// `config` with the sign-in `chatters login` stored, when the environment sets no bot token
/// (the environment wins); true when the stored one is used.
async fn with_stored_login(config: AuthConfig, store: Option<&Store>) -> (AuthConfig, bool) {
    let Some(store) = store.filter(|_| config.bot_token.is_none()) else {
        return (config, false);
    };
    match StoredLogin::load(store).await {
        Ok(Some(stored)) => {
            info!(login = %stored.login, "using the Twitch sign-in stored by `chatters login`");
            let config = AuthConfig {
                client_id: config.client_id.or(stored.client_id),
                bot_login: Some(stored.login),
                bot_token: Some(stored.access),
                // Its refresh token is the stored one (origin: no setting).
                refresh_token: None,
                ..config
            };
            (config, true)
        }
        Ok(None) => (config, false),
        Err(error) => {
            warn!(%error, "reading the stored Twitch sign-in failed; continuing without it");
            (config, false)
        }
    }
}
