//! [`AuthError`]: why Twitch credentials could not be used. No variant ever holds a token or the
//! client secret: reasons come from Twitch's error messages or from our own words.

use chatters_core::domain::Login;

/// Why Twitch credentials could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Twitch rejected `TWITCH_BOT_TOKEN` and it could not be refreshed. Exit 2 at start.
    #[error("TWITCH_BOT_TOKEN: Twitch rejects the token (invalid, revoked or expired){hint}")]
    InvalidToken {
        /// Why no refresh helped, starting with a separator (may be empty).
        hint: String,
    },
    /// The token is not the bot account's. Exit 2 at start.
    #[error("TWITCH_BOT_TOKEN: the token belongs to {actual}, not to TWITCH_BOT_LOGIN={expected}")]
    WrongAccount {
        /// `TWITCH_BOT_LOGIN`.
        expected: Login,
        /// The login Twitch reports for the token.
        actual: String,
    },
    /// `TWITCH_BOT_TOKEN` is an app access token. Exit 2 at start.
    #[error(
        "TWITCH_BOT_TOKEN: this is an app access token; the bot account's user token is needed"
    )]
    NotAUserToken,
    /// Twitch refused the client credentials. Exit 2 at start.
    #[error("TWITCH_CLIENT_ID/TWITCH_CLIENT_SECRET: Twitch refused an app access token: {reason}")]
    InvalidClient {
        /// Twitch's explanation.
        reason: String,
    },
    /// Twitch refused to refresh the token.
    #[error("refreshing the Twitch token failed: {reason}")]
    RefreshFailed {
        /// Twitch's explanation, or what went wrong on the way.
        reason: String,
    },
    /// A refresh is impossible without this setting.
    #[error("the Twitch token cannot be refreshed: {missing} is not set")]
    CannotRefresh {
        /// The missing variable.
        missing: &'static str,
    },
    /// Twitch's OAuth service did not answer usefully after retries.
    #[error("Twitch OAuth {endpoint} unavailable: {reason}")]
    Unavailable {
        /// `oauth2/validate` or `oauth2/token`.
        endpoint: &'static str,
        /// The last failure.
        reason: String,
    },
    /// Twitch answered something we do not understand (e.g. a user id that is not a number).
    #[error("Twitch OAuth {endpoint} answered unexpectedly: {reason}")]
    Protocol {
        /// `oauth2/validate` or `oauth2/token`.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// There are no credentials to use (anonymous mode).
    #[error("no Twitch credentials are configured")]
    Anonymous,
}

impl AuthError {
    /// A configuration problem: the binary exits 2 with this one-line message.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Self::InvalidToken { .. }
                | Self::WrongAccount { .. }
                | Self::NotAUserToken
                | Self::InvalidClient { .. }
        )
    }
}
