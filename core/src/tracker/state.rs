//! The tracker's per-channel state: present users (16 bytes each), the live stream, and the
//! small helpers that turn them into rows.

use rustc_hash::FxHashMap;

use crate::domain::{Login, Timestamp, UserId};
use crate::event::UserRef;
use crate::store::{BotRule, ChannelKey, Sighting, StreamKey, StreamRef, UserRow};

/// One present user: 16 bytes (24 with its id in the map). Times are Unix seconds as `u32`
/// (good until 2106).
#[derive(Debug, Clone, Copy)]
pub(super) struct Presence {
    /// Start of the open presence interval.
    pub(super) since: u32,
    /// Latest observation.
    pub(super) last: u32,
    /// Hash of the login and display name last written for this user: an unchanged name is
    /// not written again while they stay.
    pub(super) name: u32,
    /// Channel-local generation of the stream this user's stream row was written for (0: none).
    pub(super) recorded: u16,
    /// Snapshot generation (mod 255, never 0) that last listed this user; 0 for arrivals by
    /// IRC after the latest snapshot. Every survivor of a snapshot carries its generation or 0,
    /// so one byte tells "listed now" apart.
    pub(super) listed: u8,
    /// Counted in figures (not a bot, the broadcaster or the bot account).
    pub(super) counted: bool,
}

pub(super) fn secs(t: Timestamp) -> u32 {
    u32::try_from(t.0.max(0)).unwrap_or(u32::MAX)
}

/// The live stream of a channel.
#[derive(Debug, Clone, Copy)]
pub(super) struct Live {
    pub(super) key: StreamKey,
    pub(super) started_at: Timestamp,
    /// Distinguishes this stream from the channel's earlier ones in [`Presence::recorded`].
    pub(super) generation: u16,
    /// Largest number of counted users present at once while live.
    pub(super) peak: i64,
}

impl Live {
    pub(super) fn at(self, channel: ChannelKey) -> StreamRef {
        StreamRef {
            stream: self.key,
            channel,
            started: self.started_at,
        }
    }
}

/// The closing sighting of a user already recorded in the stream: refreshes `last_seen`.
pub(super) const LAST_SIGHTING: Sighting = Sighting {
    messages: 0,
    first_msg: false,
    active: true,
    maybe_first: false,
};

/// State of one channel.
#[derive(Debug)]
pub(super) struct ChannelState {
    /// Row key.
    pub(super) key: ChannelKey,
    /// Channel login (also the broadcaster's login).
    pub(super) login: Login,
    /// Broadcaster id, once known.
    pub(super) broadcaster: Option<UserId>,
    /// Per-channel known-bot rules.
    pub(super) rules: FxHashMap<Login, BotRule>,
    /// Present users.
    pub(super) present: FxHashMap<UserId, Presence>,
    /// Present users that are counted.
    pub(super) counted_present: usize,
    /// Counted present users already observed in the live stream (the IRC-tracked peak
    /// counts these: never more than the stream's unique chatters).
    pub(super) live_present: i64,
    /// The live stream.
    pub(super) live: Option<Live>,
    /// Latest snapshot time.
    pub(super) last_snapshot: Option<Timestamp>,
    /// Snapshot generation counter (1..=255).
    pub(super) snapshots: u8,
    /// Stream generation counter.
    pub(super) streams: u16,
    /// Start of the minute of the latest IRC-only series point.
    pub(super) last_irc_point: Option<i64>,
}

pub(super) fn name_hash(user: &UserRef) -> u32 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    user.login.hash(&mut h);
    user.display_name.hash(&mut h);
    // Fold to 32 bits; a collision only delays writing a rename until the user's next arrival.
    let full = h.finish();
    (full ^ (full >> 32)) as u32
}

pub(super) fn user_row(user: &UserRef, at: Timestamp) -> UserRow {
    UserRow {
        login: user.login.clone(),
        display_name: user.display_name.clone(),
        at,
    }
}

/// Kind of a per-user observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Obs {
    Join,
    Part,
    Message { counts: bool, first_msg: bool },
}
