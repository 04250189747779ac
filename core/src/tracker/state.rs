//! The tracker's per-channel state: present users (16 bytes each), the live stream, and the
//! small helpers that turn them into rows.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use crate::domain::{Login, Timestamp, UserId};
use crate::event::UserRef;
use crate::store::{Batch, BotRule, ChannelKey, Sighting, StreamKey, StreamRef, UserRow};

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

impl Presence {
    /// The start of the open interval, as its `presence` row has it.
    pub(super) fn opened(&self) -> Timestamp {
        Timestamp(i64::from(self.since))
    }
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
    watch: 0,
    maybe_first: false,
    open: None,
};

/// A sighting of a user still present: [`LAST_SIGHTING`] with their open interval's start.
pub(super) fn still_present(p: &Presence) -> Sighting {
    Sighting {
        open: Some(p.opened()),
        ..LAST_SIGHTING
    }
}

/// The closing sighting of a user recorded in `live` whose presence interval opened at `since`
/// ends at `until`: [`LAST_SIGHTING`] plus the interval's watch time within the stream.
pub(super) fn closing(live: Live, since: u32, until: Timestamp) -> Sighting {
    Sighting {
        watch: (until.0 - i64::from(since).max(live.started_at.0)).max(0),
        ..LAST_SIGHTING
    }
}

/// Writes the end of `p`'s interval at `until` to the live stream's row of a user recorded in
/// it: the last sighting and the interval's watch time ([`closing`]). When that last sighting
/// precedes the stream's start (clocks apart) nothing is credited, but the row's open interval
/// is still cleared.
pub(super) fn close_row(
    batch: &mut Batch,
    live: Option<Live>,
    channel: ChannelKey,
    user: UserId,
    p: &Presence,
    until: Timestamp,
) {
    let Some(live) = live else {
        return;
    };
    if p.recorded != live.generation {
        return;
    }
    let last = Timestamp(i64::from(p.last));
    let seen = if last >= live.started_at {
        closing(live, p.since, until)
    } else {
        Sighting::default()
    };
    batch.stream_user(live.at(channel), user, last, seen);
}

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
    /// When present users may time out, earliest first (see [`Deadlines`]).
    pub(super) deadlines: Deadlines,
    /// Latest time this channel alone was ticked at ([`super::Tracker::tick_channel`]).
    pub(super) last_tick: i64,
}

/// One scheduled expiry check: the time (Unix seconds) a presence interval times out unless
/// the user was seen again, the user, and the interval's start (to tell a later interval of
/// the same user apart).
type Deadline = Reverse<(i64, UserId, u32)>;

/// Expiry deadlines of a channel's present users, a min-heap invalidated lazily: an entry is
/// pushed when an interval opens; when it falls due, the interval is gone (entry dropped),
/// timed out (expired), or was extended by later sightings (pushed again at its new deadline).
/// Expiring therefore costs O(expired · log n) instead of a scan of everyone present.
#[derive(Debug, Default)]
pub(super) struct Deadlines {
    heap: BinaryHeap<Deadline>,
}

impl Deadlines {
    /// Schedules the check of an interval opened at `since` whose latest sighting is `last`.
    pub(super) fn push(&mut self, user: UserId, since: u32, last: u32, timeout: i64) {
        self.heap
            .push(Reverse((i64::from(last) + timeout, user, since)));
    }

    /// The next entry due at `now` (deadline at or before it), removed, with its exact
    /// duplicates (a user who left and came back within one second).
    pub(super) fn pop_due(&mut self, now: i64) -> Option<(UserId, u32)> {
        let Reverse(due) = *self.heap.peek()?;
        if due.0 > now {
            return None;
        }
        self.heap.pop();
        while self.heap.peek().is_some_and(|Reverse(d)| *d == due) {
            self.heap.pop();
        }
        Some((due.1, due.2))
    }

    /// Drops every entry (nobody is present any more).
    pub(super) fn clear(&mut self) {
        self.heap.clear();
    }

    /// Rebuilds the heap from the present users when stale entries (intervals closed by a
    /// part or a snapshot, which never expire) outnumber live ones: memory stays O(present).
    pub(super) fn compact(&mut self, present: &FxHashMap<UserId, Presence>, timeout: i64) {
        if self.heap.len() <= 2 * present.len() + 1024 {
            return;
        }
        let entries: Vec<Deadline> = present
            .iter()
            .map(|(id, p)| Reverse((i64::from(p.last) + timeout, *id, p.since)))
            .collect();
        self.heap = BinaryHeap::from(entries);
    }

    /// Entries held (live and stale).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
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
