//! Getting and renewing tokens: the bot token's first validation (refreshing it when Twitch
//! refuses it), refreshes with a clone of the refresh token (the rotated one stored only after
//! success), app tokens, and the one-time report of missing scopes. Callers hold `renewing`.

use std::collections::BTreeSet;
use std::time::Duration;

use chatters_core::domain::{Login, UserId};
use chatters_core::store::StoreError;
use tokio::time::Instant;
use tracing::{info, warn};
use twitch_api::twitch_oauth2::{AccessToken, RefreshToken, TwitchToken as _, ValidatedToken};

use super::error::AuthError;
use super::oauth::{self, OAuthFailure, scope_set, validate_error};
use super::state::{
    Auth, AuthMode, BotAccount, REFRESH_ORIGIN_STATE, REFRESH_TOKEN_STATE, REQUIRED_SCOPES, Token,
    lock,
};
use super::stored::ACCESS_TOKEN_STATE;

impl Auth {
    pub(super) async fn load_stored_refresh_token(&self) {
        let Some(store) = &self.inner.store else {
            return;
        };
        let stored = async {
            let origin = store.state(REFRESH_ORIGIN_STATE).await?;
            let token = store.state(REFRESH_TOKEN_STATE).await?;
            Ok::<_, StoreError>((origin, token))
        };
        match stored.await {
            Ok((Some(origin), Some(token)))
                if origin == self.inner.refresh_origin && !token.is_empty() =>
            {
                *lock(&self.inner.refresh_token) = Some(RefreshToken::new(token));
            }
            Ok(_) => {}
            Err(error) => {
                warn!(%error, "reading the stored refresh token failed; using the setting")
            }
        }
    }

    pub(super) async fn start_user(&self, access: AccessToken) -> Result<(), AuthError> {
        let (access, validated) = match oauth::validate(&self.inner.http, &access).await {
            Ok(validated) => (access, validated),
            Err(OAuthFailure::Unauthorized) => {
                info!("Twitch refuses the bot token (expired?); refreshing it");
                let (access, _) =
                    self.refresh_user_token()
                        .await
                        .map_err(|e| AuthError::InvalidToken {
                            hint: format!(", and it could not be refreshed: {e}"),
                        })?;
                match oauth::validate(&self.inner.http, &access).await {
                    Ok(validated) => (access, validated),
                    Err(OAuthFailure::Unauthorized) => {
                        return Err(AuthError::InvalidToken {
                            hint: ", even freshly refreshed".to_owned(),
                        });
                    }
                    Err(failure) => return Err(validate_error(failure)),
                }
            }
            Err(failure) => return Err(validate_error(failure)),
        };
        let account = self.account_of(&validated)?;
        info!(login = %account.login, user_id = %account.id, "Twitch bot token validated");
        self.install(Token {
            access,
            client_id: validated.client_id.clone(),
            account: Some(account),
            scopes: scope_set(&validated),
            expires_at: validated.expires_in.map(|d| Instant::now() + d),
            validated_at: Instant::now(),
            generation: 0,
        });
        self.report_missing_scopes();
        Ok(())
    }

    fn account_of(&self, validated: &ValidatedToken) -> Result<BotAccount, AuthError> {
        let (Some(id), Some(login)) = (&validated.user_id, &validated.login) else {
            return Err(AuthError::NotAUserToken);
        };
        let protocol = |reason: String| AuthError::Protocol {
            endpoint: "oauth2/validate",
            reason,
        };
        let id = UserId::parse(id.as_str()).map_err(|e| protocol(e.to_string()))?;
        let login = Login::parse(login.as_str()).map_err(|e| protocol(e.to_string()))?;
        match &self.inner.expected_login {
            Some(expected) if *expected != login => Err(AuthError::WrongAccount {
                expected: expected.clone(),
                actual: login.to_string(),
            }),
            _ => Ok(BotAccount { id, login }),
        }
    }

    pub(super) async fn renew(&self) -> Result<(), AuthError> {
        match self.mode() {
            AuthMode::Anonymous => Err(AuthError::Anonymous),
            AuthMode::App => self.renew_app_token().await,
            AuthMode::User => {
                let (access, lifetime) = self.refresh_user_token().await?;
                self.update_token(true, |t| {
                    t.access = access;
                    t.expires_at = Some(Instant::now() + lifetime);
                    t.validated_at = Instant::now();
                });
                Ok(())
            }
        }
    }

    /// Refreshes with a clone of the refresh token; a rotated one replaces it (and is stored)
    /// only after success.
    async fn refresh_user_token(&self) -> Result<(AccessToken, Duration), AuthError> {
        let client_id = self
            .inner
            .client_id
            .clone()
            .or_else(|| {
                lock(&self.inner.token)
                    .as_ref()
                    .map(|t| t.client_id.clone())
            })
            .ok_or(AuthError::CannotRefresh {
                missing: "TWITCH_CLIENT_ID",
            })?;
        // A public client (the device flow of `chatters login`) refreshes without a secret.
        let secret = match (&self.inner.client_secret, self.inner.signed_in) {
            (Some(secret), _) => Some(secret.clone()),
            (None, true) => None,
            (None, false) => {
                return Err(AuthError::CannotRefresh {
                    missing: "TWITCH_CLIENT_SECRET",
                });
            }
        };
        let refresh = lock(&self.inner.refresh_token)
            .clone()
            .ok_or(AuthError::CannotRefresh {
                missing: "TWITCH_BOT_REFRESH_TOKEN",
            })?;
        let metrics = self.inner.http.metrics();
        match oauth::refresh(&self.inner.http, &refresh, &client_id, secret.as_ref()).await {
            Ok((access, lifetime, rotated)) => {
                metrics.refresh(true);
                info!(
                    expires_in_s = lifetime.as_secs(),
                    "Twitch bot token refreshed"
                );
                if let Some(rotated) = rotated {
                    self.save_refresh_token(&rotated).await;
                    *lock(&self.inner.refresh_token) = Some(rotated);
                }
                if self.inner.signed_in {
                    self.save_access_token(&access).await;
                }
                Ok((access, lifetime))
            }
            Err(failure) => {
                metrics.refresh(false);
                Err(AuthError::RefreshFailed {
                    reason: failure.to_string(),
                })
            }
        }
    }

    async fn save_refresh_token(&self, token: &RefreshToken) {
        let Some(store) = &self.inner.store else {
            return;
        };
        let saved = async {
            store.set_state(REFRESH_TOKEN_STATE, token.secret()).await?;
            store
                .set_state(REFRESH_ORIGIN_STATE, &self.inner.refresh_origin)
                .await
        };
        if let Err(error) = saved.await {
            warn!(%error, "saving the new refresh token failed; the next start may need a new one");
        }
    }

    /// Keeps a signed-in bot's new access token for the next start.
    async fn save_access_token(&self, token: &AccessToken) {
        let Some(store) = &self.inner.store else {
            return;
        };
        if let Err(error) = store.set_state(ACCESS_TOKEN_STATE, token.secret()).await {
            warn!(%error, "saving the new access token failed; the next start refreshes it");
        }
    }

    pub(super) async fn renew_app_token(&self) -> Result<(), AuthError> {
        let (Some(id), Some(secret)) = (&self.inner.client_id, &self.inner.client_secret) else {
            return Err(AuthError::Anonymous);
        };
        let metrics = self.inner.http.metrics();
        let token = oauth::app_token(&self.inner.http, id, secret)
            .await
            .inspect_err(|_| metrics.refresh(false))
            .map_err(|failure| match failure {
                OAuthFailure::Transient(reason) => AuthError::Unavailable {
                    endpoint: "oauth2/token",
                    reason,
                },
                other => AuthError::InvalidClient {
                    reason: other.to_string(),
                },
            })?;
        metrics.refresh(true);
        self.install(Token {
            access: token.access_token.clone(),
            client_id: id.clone(),
            account: None,
            scopes: BTreeSet::new(),
            expires_at: Some(Instant::now() + token.expires_in()),
            validated_at: Instant::now(),
            generation: 0,
        });
        Ok(())
    }

    /// Replaces the token (with the next generation).
    pub(super) fn install(&self, mut token: Token) {
        let mut guard = lock(&self.inner.token);
        token.generation = guard.as_ref().map_or(0, |t| t.generation + 1);
        *guard = Some(token);
    }

    /// Changes the token in place; `renewed`: it is a new access token (next generation).
    pub(super) fn update_token(&self, renewed: bool, change: impl FnOnce(&mut Token)) {
        let mut guard = lock(&self.inner.token);
        if let Some(token) = guard.as_mut() {
            change(token);
            token.generation += u64::from(renewed);
        }
    }

    /// Logs each missing scope once per process.
    pub(super) fn report_missing_scopes(&self) {
        let missing = self.missing_scopes();
        let mut reported = lock(&self.inner.reported_missing);
        for (scope, feature) in REQUIRED_SCOPES {
            if missing.contains(&scope) && reported.insert(scope) {
                warn!(
                    scope,
                    "the bot token lacks the scope {scope}: {feature} is off"
                );
            }
        }
    }
}
