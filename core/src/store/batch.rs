//! [`Batch`]: the row changes accumulated from many events, committed in one transaction.
//!
//! Deltas are merged per key while the batch is open, so a user who chats 50 times in a second
//! costs one upsert per table, not 50.

use rustc_hash::FxHashMap;

use super::figures::Raid;
use super::keys::{ChannelKey, StreamKey};
use crate::domain::{Login, Timestamp, UserId};

/// A user's name as last seen (written only when new to the writer or changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Login.
    pub login: Login,
    /// Display name when it differs from the login in more than case.
    pub display_name: Option<String>,
    /// When this name was seen.
    pub at: Timestamp,
}

/// Change to a (channel, user) row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelUserDelta {
    /// Earliest observation in the batch.
    pub first_seen: Timestamp,
    /// Latest observation in the batch.
    pub last_seen: Timestamp,
    /// Messages to add.
    pub messages: i64,
}

impl ChannelUserDelta {
    /// Adds a later change of the same row.
    pub fn absorb(&mut self, later: &Self) {
        self.first_seen = self.first_seen.min(later.first_seen);
        self.last_seen = self.last_seen.max(later.last_seen);
        self.messages += later.messages;
    }
}

/// Change to a (stream, user) row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamUserDelta {
    /// The stream's channel (to decide "new": no earlier observation in the channel).
    pub channel: ChannelKey,
    /// The stream's `started_at`.
    pub stream_started: Timestamp,
    /// Earliest observation in the batch.
    pub first_seen: Timestamp,
    /// Latest observation in the batch.
    pub last_seen: Timestamp,
    /// Messages to add.
    pub messages: i64,
    /// A message carried `first-msg=1`.
    pub first_msg: bool,
    /// An observation other than a part.
    pub active: bool,
    /// Watch time to add: seconds of closed presence intervals clipped to the stream.
    pub watch: i64,
    /// The row may not exist yet (the user's first sighting in the stream as far as the
    /// tracker knows): the store decides whether they are new to the channel.
    pub maybe_first: bool,
}

impl StreamUserDelta {
    /// Adds a later change of the same row.
    pub fn absorb(&mut self, later: &Self) {
        self.first_seen = self.first_seen.min(later.first_seen);
        self.last_seen = self.last_seen.max(later.last_seen);
        self.messages += later.messages;
        self.first_msg |= later.first_msg;
        self.active |= later.active;
        self.watch += later.watch;
        self.maybe_first |= later.maybe_first;
    }
}

/// The stream an observation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRef {
    /// Stream row.
    pub stream: StreamKey,
    /// Its channel.
    pub channel: ChannelKey,
    /// Its `started_at`.
    pub started: Timestamp,
}

/// What one observation adds to a (stream, user) row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sighting {
    /// Messages to add.
    pub messages: i64,
    /// The message carried `first-msg=1`.
    pub first_msg: bool,
    /// Not a part.
    pub active: bool,
    /// See [`StreamUserDelta::watch`].
    pub watch: i64,
    /// See [`StreamUserDelta::maybe_first`].
    pub maybe_first: bool,
    /// The start of the user's presence interval still open after this observation (`None`:
    /// not present any more), see [`Batch::stream_open`].
    pub open: Option<Timestamp>,
}

/// A point of the chatter-count series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRow {
    /// Channel.
    pub channel: ChannelKey,
    /// When.
    pub at: Timestamp,
    /// Counted users present.
    pub chatters: i64,
    /// Helix `total` for snapshot points, `None` for IRC-only points.
    pub total: Option<i64>,
}

/// Row changes of many events, applied in one transaction by [`super::Store::commit`].
#[derive(Debug, Default)]
pub struct Batch {
    /// Names to upsert (rename detection happens in the store).
    pub users: FxHashMap<UserId, UserRow>,
    /// Account creation times learnt from Helix.
    pub accounts: FxHashMap<UserId, Timestamp>,
    /// Per (channel, user) changes.
    pub channel_users: FxHashMap<(ChannelKey, UserId), ChannelUserDelta>,
    /// Per (stream, user) changes.
    pub stream_users: FxHashMap<(StreamKey, UserId), StreamUserDelta>,
    /// Per (stream, user) row written: the start of the user's presence interval open after
    /// the batch's last observation of them (`None`: not present), as the row's `open_since`.
    /// Every write of a row sets it, so a live stream's open intervals are read from its rows
    /// rather than from `presence` (a row without an entry gets `NULL`).
    pub stream_open: FxHashMap<(StreamKey, UserId), Option<Timestamp>>,
    /// Presence intervals opened or closed, keyed by (channel, user, since).
    pub presence: FxHashMap<(ChannelKey, UserId, Timestamp), Option<Timestamp>>,
    /// Series points.
    pub series: Vec<SeriesRow>,
    /// Streams that ended.
    pub stream_ends: Vec<(StreamKey, Timestamp)>,
    /// New IRC-tracked peaks of live streams.
    pub stream_peaks: FxHashMap<StreamKey, i64>,
    /// Raids.
    pub raids: Vec<Raid>,
    /// Broadcaster ids learnt for channels.
    pub channel_ids: FxHashMap<ChannelKey, UserId>,
    /// Process state (`bot_state` rows) written with these changes, e.g. an imported file's
    /// content hash, so it is recorded in the same transaction as the file's last rows.
    pub states: Vec<(String, String)>,
    /// Chat activity, mood and emote counts.
    pub signals: super::signals::SignalsBatch,
    /// How long the commit may hold the chatter-table totals of rows already counted (see
    /// `held_totals`): zero writes every held total with this batch.
    pub hold_totals: std::time::Duration,
    /// How many events went into this batch.
    pub events: u64,
    /// Ingestion's number for this batch (increasing; 0 outside ingestion): the store's
    /// [`CommitWatch`](super::CommitWatch) tells readers which numbers are committed.
    pub seq: u64,
}

impl Batch {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.accounts.is_empty()
            && self.channel_users.is_empty()
            && self.stream_users.is_empty()
            && self.presence.is_empty()
            && self.series.is_empty()
            && self.stream_ends.is_empty()
            && self.stream_peaks.is_empty()
            && self.raids.is_empty()
            && self.channel_ids.is_empty()
            && self.states.is_empty()
            && self.signals.is_empty()
    }

    /// Number of rows this batch will touch (a measure of its size), chat signals aside
    /// (`signals.rows()`: one row per channel and minute, one per stream and emote).
    pub fn rows(&self) -> usize {
        self.users.len()
            + self.accounts.len()
            + self.channel_users.len()
            + self.stream_users.len()
            + self.presence.len()
            + self.series.len()
            + self.stream_ends.len()
            + self.stream_peaks.len()
            + self.raids.len()
            + self.channel_ids.len()
            + self.states.len()
    }

    /// Records an observation of `user` in `channel`.
    pub fn channel_user(
        &mut self,
        channel: ChannelKey,
        user: UserId,
        at: Timestamp,
        messages: i64,
    ) {
        self.merge_channel_user(
            (channel, user),
            ChannelUserDelta {
                first_seen: at,
                last_seen: at,
                messages,
            },
        );
    }

    /// Adds `delta`, a change later than any this batch holds for the row.
    pub fn merge_channel_user(&mut self, key: (ChannelKey, UserId), delta: ChannelUserDelta) {
        self.channel_users
            .entry(key)
            .and_modify(|d| d.absorb(&delta))
            .or_insert(delta);
    }

    /// Adds `delta`, a change later than any this batch holds for the row, written with the
    /// open interval `open`.
    pub fn merge_stream_user(
        &mut self,
        key: (StreamKey, UserId),
        delta: StreamUserDelta,
        open: Option<Timestamp>,
    ) {
        self.stream_users
            .entry(key)
            .and_modify(|d| d.absorb(&delta))
            .or_insert(delta);
        self.stream_open.insert(key, open);
    }

    /// Records an observation of `user` in a stream.
    pub fn stream_user(&mut self, live: StreamRef, user: UserId, at: Timestamp, seen: Sighting) {
        let delta = StreamUserDelta {
            channel: live.channel,
            stream_started: live.started,
            first_seen: at,
            last_seen: at,
            messages: seen.messages,
            first_msg: seen.first_msg,
            active: seen.active,
            watch: seen.watch,
            maybe_first: seen.maybe_first,
        };
        self.merge_stream_user((live.stream, user), delta, seen.open);
    }
}
