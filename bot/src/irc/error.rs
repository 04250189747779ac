//! [`IrcError`]: why the IRC client stopped or could not do what was asked.

/// Why the IRC client stopped or could not do what was asked. Never contains a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrcError {
    /// Twitch rejected the login: the token is invalid, expired or not a chat token.
    #[error(
        "Twitch IRC rejected the login of {login:?} ({notice}): check TWITCH_BOT_LOGIN and TWITCH_BOT_TOKEN"
    )]
    LoginFailed {
        /// The login that was tried.
        login: String,
        /// Twitch's notice text.
        notice: String,
    },
    /// The login credentials could not be obtained (e.g. a token refresh failed).
    #[error("could not obtain IRC login credentials: {0}")]
    Credentials(String),
    /// The IRC address cannot be used (e.g. a host that is not a valid TLS server name).
    #[error("invalid IRC address {url}: {reason}")]
    Address {
        /// The address as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The receiver of IRC events was dropped.
    #[error("the consumer of IRC events has stopped")]
    ConsumerGone,
    /// The client task has ended, so nothing can be sent any more.
    #[error("the IRC client has stopped")]
    Closed,
    /// Twitch IRC did not accept a message we sent.
    #[error("could not send to Twitch IRC: {0}")]
    Send(String),
}
