//! The [`Event`] enum: everything chatters learns from Twitch (IRC, Helix, imports) is ingested
//! as one of these, already resolved to user ids.

use crate::domain::{Login, StreamId, Timestamp, UserId};

/// A user as seen in one observation: the id is the identity, the login is what it was called then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// Twitch user id.
    pub id: UserId,
    /// Login at the time of the observation.
    pub login: Login,
    /// Display name (`display-name` tag or Helix `user_name`), when known.
    pub display_name: Option<String>,
}

impl UserRef {
    /// A user with no display name known.
    pub fn new(id: UserId, login: Login) -> Self {
        Self {
            id,
            login,
            display_name: None,
        }
    }
}

/// A chat badge (`badges` tag), e.g. `moderator/1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// Badge name (`broadcaster`, `moderator`, `vip`, `subscriber`, ...).
    pub name: String,
    /// Badge version (`1`, or months for subscriber badges).
    pub version: String,
}

/// A PRIVMSG, or a USERNOTICE from a user, with the Twitch tags chatters uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Channel the line arrived in.
    pub channel: Login,
    /// Author.
    pub user: UserRef,
    /// `tmi-sent-ts`, or the time it was received.
    pub at: Timestamp,
    /// `room-id`: the receiving channel's id.
    pub room_id: Option<UserId>,
    /// `source-room-id` (shared chat): the channel the message was typed in.
    pub source_room_id: Option<UserId>,
    /// `first-msg=1`: the user's first message ever in this channel.
    pub first_msg: bool,
    /// `returning-chatter=1`.
    pub returning_chatter: bool,
    /// `badges`.
    pub badges: Vec<Badge>,
    /// True when the user typed text (every PRIVMSG; a USERNOTICE only with a message body).
    /// A USERNOTICE without text is an observation, not a message.
    pub has_text: bool,
    /// Twitch's message `id` tag (replies thread on it).
    pub id: Option<String>,
    /// Emotes and moods counted from the text on its way in (the text itself is not kept).
    pub signals: crate::signals::MessageSignals,
}

impl Message {
    /// A shared-chat message from another channel: counted only in its source channel.
    pub fn is_foreign_shared_chat(&self) -> bool {
        matches!((self.room_id, self.source_room_id), (Some(r), Some(s)) if r != s)
    }
}

/// Everything that can be ingested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// IRC JOIN of another user.
    Join {
        /// Channel joined.
        channel: Login,
        /// Who joined.
        user: UserRef,
        /// When.
        at: Timestamp,
    },
    /// IRC PART of another user.
    Part {
        /// Channel left.
        channel: Login,
        /// Who left.
        user: UserRef,
        /// When.
        at: Timestamp,
    },
    /// A chat message (see [`Message`]).
    Message(Box<Message>),
    /// A complete Helix Get Chatters list.
    Snapshot {
        /// Channel listed.
        channel: Login,
        /// When the last page was read.
        at: Timestamp,
        /// Every user of every page.
        users: Vec<UserRef>,
        /// Helix `total` (kept beside the counted figure, never used for it).
        total: u64,
    },
    /// Helix Get Streams reports the channel live.
    StreamOnline {
        /// Channel.
        channel: Login,
        /// The channel's broadcaster user id, when known.
        broadcaster: Option<UserId>,
        /// Twitch's stream id.
        stream: StreamId,
        /// Helix `started_at`.
        started_at: Timestamp,
        /// Stream title.
        title: String,
    },
    /// The first poll that finds the channel offline.
    StreamOffline {
        /// Channel.
        channel: Login,
        /// Time of that poll (the stream's `ended_at`).
        at: Timestamp,
    },
    /// USERNOTICE `msg-id=raid`.
    Raid {
        /// Raided channel.
        channel: Login,
        /// The raiding broadcaster.
        from: UserRef,
        /// `msg-param-viewerCount`.
        viewers: u64,
        /// When.
        at: Timestamp,
    },
    /// A viewer asked to be forgotten: every row about them is deleted, nothing recorded again.
    OptOut {
        /// Who.
        user: UserId,
        /// When.
        at: Timestamp,
    },
    /// A viewer lifts their opt-out (history stays deleted).
    OptIn {
        /// Who.
        user: UserId,
    },
    /// A user's login or display name changed (seen on Helix or IRC); recorded in name history.
    Rename {
        /// The user with their new name.
        user: UserRef,
        /// When the new name was seen.
        at: Timestamp,
    },
    /// This instance stopped tracking the channel (its lease went to another instance): the
    /// presence open here ends, and the live stream is left open for the new tracker.
    ChannelReleased {
        /// Channel.
        channel: Login,
        /// When it stopped being tracked here.
        at: Timestamp,
    },
    /// This instance took the channel's lease: presence another instance left open there
    /// (it died, or was stopped without handing over) is closed at its last sighting before
    /// this instance's own tracking starts.
    ChannelAcquired {
        /// Channel.
        channel: Login,
    },
    /// Helix Get Users `created_at` of an account (account-age clusters).
    Account {
        /// The user.
        user: UserRef,
        /// Account creation time.
        created_at: Timestamp,
    },
}

impl Event {
    /// When the event happened (`None` for events without a time of their own).
    pub fn time(&self) -> Option<Timestamp> {
        match self {
            Self::Join { at, .. }
            | Self::Part { at, .. }
            | Self::Snapshot { at, .. }
            | Self::StreamOffline { at, .. }
            | Self::Raid { at, .. }
            | Self::OptOut { at, .. }
            | Self::Rename { at, .. }
            | Self::ChannelReleased { at, .. } => Some(*at),
            Self::Message(m) => Some(m.at),
            Self::StreamOnline { started_at, .. } => Some(*started_at),
            Self::OptIn { .. } | Self::Account { .. } | Self::ChannelAcquired { .. } => None,
        }
    }

    /// The channel the event happened in, for events of one channel.
    pub fn channel(&self) -> Option<&Login> {
        match self {
            Self::Join { channel, .. }
            | Self::Part { channel, .. }
            | Self::Snapshot { channel, .. }
            | Self::StreamOnline { channel, .. }
            | Self::StreamOffline { channel, .. }
            | Self::Raid { channel, .. }
            | Self::ChannelReleased { channel, .. }
            | Self::ChannelAcquired { channel } => Some(channel),
            Self::Message(m) => Some(&m.channel),
            Self::OptOut { .. }
            | Self::OptIn { .. }
            | Self::Rename { .. }
            | Self::Account { .. } => None,
        }
    }

    /// A short name of the variant, for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Join { .. } => "join",
            Self::Part { .. } => "part",
            Self::Message(_) => "message",
            Self::Snapshot { .. } => "snapshot",
            Self::StreamOnline { .. } => "stream_online",
            Self::StreamOffline { .. } => "stream_offline",
            Self::Raid { .. } => "raid",
            Self::OptOut { .. } => "opt_out",
            Self::OptIn { .. } => "opt_in",
            Self::Rename { .. } => "rename",
            Self::Account { .. } => "account",
            Self::ChannelReleased { .. } => "channel_released",
            Self::ChannelAcquired { .. } => "channel_acquired",
        }
    }
}
