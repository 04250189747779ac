//! Twitch chat over IRC: the twitch-irc client with our own connector, and the translation of
//! its messages into what the rest of chatters consumes.
//!
//! # Layout
//! - [`connector`]: the process-global IRC address (`TWITCH_IRC_URL`), plain TCP or TLS, and the
//!   `CAP REQ :twitch.tv/membership` written on every new socket (the crate never asks for it).
//! - [`translate`]: pure `ServerMessage` → [`IrcEvent`] translation (tags, raids, bans,
//!   notices, login failures), tested on real captured lines.
//! - [`membership`]: which channels to (re)join, and when; it works around the crate's join
//!   bookkeeping, which another user's PART corrupts.
//! - [`client`]: the long-lived task ([`run`], [`IrcSession`]).
//! - [`sender`]: [`IrcSender`], for chat replies while the task runs.
//! - `fake` (feature `fake`): a fake Twitch IRC server for the tests and the `irc_load` example.
//!
//! # One client per process
//! twitch-irc's `MakeConnection::new_socket()` takes no arguments, so the address lives in a
//! process-global ([`connector::set_target`], done by [`run`]). Production runs one client per
//! process; tests that start clients must hold a global lock for the whole test (see
//! `bot/tests/support/fake_irc.rs`).

pub mod client;
pub mod connector;
#[cfg(feature = "fake")]
#[doc(hidden)]
pub mod fake;
pub mod membership;
pub mod sender;
pub mod translate;

use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::event::Event;

pub use client::{IrcConfig, IrcSession, anonymous, run};
pub use sender::IrcSender;
pub use translate::{translate, translate_chat, translate_irc};

/// What the IRC client reports to the rest of the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IrcEvent {
    /// An event ready for ingestion: an [`Event::Message`] (PRIVMSG, or a USERNOTICE from a
    /// user) or an [`Event::Raid`] (USERNOTICE `msg-id=raid`, which also gives the raider's
    /// [`Event::Message`] observation just before it).
    Message(Event),
    /// A PRIVMSG naming its sender only by login (no `user-id` tag: old tag formats): the
    /// identity module resolves the login, then it is an ordinary message. `message.user.id`
    /// is a placeholder until then.
    MessageByLogin(Box<chatters_core::event::Message>),
    /// Another user joined a channel (membership capability). Only the login is known: the
    /// identity module resolves it to a user id.
    Join {
        /// Channel joined.
        channel: Login,
        /// Who joined.
        login: Login,
        /// When the line was received.
        at: Timestamp,
    },
    /// Another user left a channel.
    Part {
        /// Channel left.
        channel: Login,
        /// Who left.
        login: Login,
        /// When the line was received.
        at: Timestamp,
    },
    /// A user was banned or timed out (CLEARCHAT with a target user).
    Ban {
        /// Channel.
        channel: Login,
        /// The banned user (`target-user-id`).
        user_id: UserId,
        /// The banned user's login.
        login: Login,
        /// `tmi-sent-ts`, or when the line was received.
        at: Timestamp,
        /// `ban-duration` in seconds for a timeout; `None` for a permanent ban.
        duration_secs: Option<u64>,
    },
    /// A NOTICE from Twitch (e.g. `msg_channel_suspended`, `msg_banned`).
    Notice {
        /// The channel it concerns (`None` for `NOTICE *`).
        channel: Option<Login>,
        /// The `msg-id` tag, when present.
        msg_id: Option<String>,
        /// The human-readable text.
        text: String,
    },
    /// Twitch rejected the login (`Login authentication failed`, `Improperly formatted auth`,
    /// ...). The client stops on this instead of reconnecting forever.
    LoginFailed {
        /// Twitch's notice text.
        text: String,
    },
    /// Twitch asked the connection to reconnect; twitch-irc does so and rejoins by itself.
    Reconnect,
    /// A chat line starting with the command prefix (only when the session answers
    /// commands). It follows the line's [`IrcEvent::Message`], so the message is ingested
    /// before the command is answered.
    Command(Box<CommandLine>),
    /// The bot's own standing in a channel (USERSTATE): a moderator or the broadcaster may send
    /// 100 messages per 30 s there instead of 20.
    OwnRole {
        /// The channel.
        channel: Login,
        /// Whether the bot is a moderator (or the broadcaster) there.
        moderator: bool,
    },
}

/// A chat line that may be a command, with what answering it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// The channel it was said in.
    pub channel: Login,
    /// The channel's user id (`room-id`), when given.
    pub channel_id: Option<UserId>,
    /// Twitch's message id (`id` tag): the reply is threaded to it.
    pub message_id: String,
    /// The sender.
    pub user: UserId,
    /// The sender's login.
    pub login: Login,
    /// The sender's badges in this channel.
    pub badges: Vec<chatters_core::event::Badge>,
    /// The message text as sent.
    pub text: String,
    /// When it was received (monotonic, for the reply's latency and staleness).
    pub received: std::time::Instant,
}

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
