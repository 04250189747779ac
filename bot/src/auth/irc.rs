//! [`IrcCredentials`]: twitch-irc's `LoginCredentials` over the current bot token, so every IRC
//! (re)connection logs in with the latest, refreshed token. Without a user token chat is read
//! anonymously. [`Auth::irc_credentials`] hands them out.

use std::time::Duration;

use async_trait::async_trait;
use chatters_core::domain::Login;
use tokio::time::Instant;
use tracing::warn;
use twitch_irc::login::{CredentialsPair, LoginCredentials};

use super::error::AuthError;
use super::state::{Auth, lock};

/// The login twitch-irc uses for anonymous, read-only chat.
pub const ANONYMOUS_LOGIN: &str = "justinfan12345";

/// The bot's chat credentials, read from [`Auth`] at every connection. `Debug` shows no token.
#[derive(Debug, Clone)]
pub struct IrcCredentials {
    auth: Auth,
}

impl IrcCredentials {
    /// Credentials following `auth`'s current token.
    pub fn new(auth: Auth) -> Self {
        Self { auth }
    }
}

#[async_trait]
impl LoginCredentials for IrcCredentials {
    type Error = AuthError;

    async fn get_credentials(&self) -> Result<CredentialsPair, AuthError> {
        Ok(match self.auth.token_for_chat().await {
            Some((login, token)) => CredentialsPair {
                login: login.as_str().to_owned(),
                token: Some(token),
            },
            None => CredentialsPair {
                login: ANONYMOUS_LOGIN.to_owned(),
                token: None,
            },
        })
    }
}

impl Auth {
    /// Credentials for twitch-irc that follow this token through refreshes.
    pub fn irc_credentials(&self) -> IrcCredentials {
        IrcCredentials::new(self.clone())
    }

    /// The bot login and current user token for a chat login, refreshed first when it expires
    /// within a minute. `None`: log in anonymously.
    async fn token_for_chat(&self) -> Option<(Login, String)> {
        let expiring = lock(&self.inner.token).as_ref().is_some_and(|t| {
            t.account.is_some()
                && t.expires_at.is_some_and(|at| {
                    at.saturating_duration_since(Instant::now()) < Duration::from_secs(60)
                })
        });
        if expiring && let Err(error) = self.refresh().await {
            warn!(%error, "refreshing the token before a chat login failed");
        }
        let guard = lock(&self.inner.token);
        let token = guard.as_ref()?;
        let account = token.account.as_ref()?;
        Some((account.login.clone(), token.access.secret().to_owned()))
    }
}
