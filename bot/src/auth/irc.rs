//! [`IrcCredentials`]: twitch-irc's `LoginCredentials` over the current bot token, so every IRC
//! (re)connection logs in with the latest, refreshed token. Without a user token chat is read
//! anonymously.

use async_trait::async_trait;
use twitch_irc::login::{CredentialsPair, LoginCredentials};

use super::{Auth, AuthError};

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
