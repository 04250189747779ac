//! What the Twitch side observes, in one type: the IRC translation ([`crate::irc::translate`])
//! emits [`Observed`], the IRC task passes on what identity resolution needs
//! ([`Observed::for_identity`]) and [`crate::identity`] turns it into core events. The
//! scheduler adds [`Observed::Known`]. Also the [`CommandLine`] handed to the commands task
//! and the bot's own roles ([`ModeratorOf`]), which the IRC task records and the outbox reads.
//!
//! Depends on core only, so `irc`, `identity`, `commands` and `scheduler` all import it
//! without importing each other.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::event::{Badge, Event, Message, UserRef};

/// One observation from Twitch, before identity resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// An event that already carries ids: an [`Event::Message`] (PRIVMSG, or a USERNOTICE
    /// from a user) or an [`Event::Raid`] (USERNOTICE `msg-id=raid`, which also gives the
    /// raider's [`Event::Message`] observation just before it).
    Event(Event),
    /// A PRIVMSG naming its sender only by login (no `user-id` tag: old tag formats): identity
    /// resolves the login, then it is an ordinary message. `user.id` is a placeholder until
    /// then.
    MessageByLogin(Box<Message>),
    /// Another user joined a channel (membership capability). Only the login is known.
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
    /// ...). The IRC client stops on this instead of reconnecting forever.
    LoginFailed {
        /// Twitch's notice text.
        text: String,
    },
    /// Twitch asked the connection to reconnect; twitch-irc does so and rejoins by itself.
    Reconnect,
    /// A chat line starting with the command prefix (only when the session answers
    /// commands). It follows the line's [`Observed::Event`], and identity hands it to the
    /// commands task once everything before it has gone to ingestion.
    Command(Box<CommandLine>),
    /// The bot's own standing in a channel (USERSTATE): a moderator or the broadcaster may send
    /// 100 messages per 30 s there instead of 20.
    OwnRole {
        /// The channel.
        channel: Login,
        /// Whether the bot is a moderator (or the broadcaster) there.
        moderator: bool,
    },
    /// Users listed by a Helix snapshot (ingested separately): their logins and ids are known
    /// without a lookup, and their account ages are wanted (bot farms lurk, they do not chat).
    Known(Vec<UserRef>),
}

impl Observed {
    /// What identity resolution gets of this observation: a permanent ban ends the user's
    /// presence (a part), a timeout does not; notices, login failures, reconnects and the
    /// bot's own roles are the IRC side's business and give nothing.
    pub fn for_identity(self) -> Option<Self> {
        match self {
            Self::Ban {
                channel,
                login,
                at,
                duration_secs: None,
                ..
            } => Some(Self::Part { channel, login, at }),
            Self::Ban { .. }
            | Self::Notice { .. }
            | Self::LoginFailed { .. }
            | Self::Reconnect
            | Self::OwnRole { .. } => None,
            other => Some(other),
        }
    }
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
    pub badges: Vec<Badge>,
    /// The message text as sent.
    pub text: String,
    /// When it was received (monotonic, for the reply's latency and staleness).
    pub received: std::time::Instant,
}

/// The channels where the bot is a moderator or the broadcaster (from USERSTATE).
#[derive(Debug, Clone, Default)]
pub struct ModeratorOf(Arc<Mutex<HashSet<Login>>>);

impl ModeratorOf {
    /// Records the bot's standing in `channel`.
    pub fn set(&self, channel: Login, moderator: bool) {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if moderator {
            set.insert(channel);
        } else {
            set.remove(&channel);
        }
    }

    /// Whether the bot moderates `channel`.
    pub fn contains(&self, channel: &Login) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(channel)
    }
}
