//! What ingestion holds that may not be committed yet, for one channel: a slice of each batch
//! in memory (the one being committed and the open one), merged into an [`Overlay`] once a
//! reader knows which batches its reads saw ([`CommitWatch`](super::CommitWatch)).

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::batch::{Batch, ChannelUserDelta, StreamUserDelta};
use super::figures::Raid;
use super::keys::{ChannelKey, StreamKey};
use super::signals::MinuteDelta;
use crate::domain::{Login, Timestamp, UserId};
use crate::signals::Emote;

/// One batch's rows of one channel.
#[derive(Debug, Clone, Default)]
pub struct ChannelSlice {
    /// The batch's number ([`Batch::seq`]).
    pub seq: u64,
    /// Its (stream, user) changes with the open interval each row is written with.
    pub stream_users: Vec<(StreamKey, UserId, StreamUserDelta, Option<Timestamp>)>,
    /// Its (channel, user) changes.
    pub channel_users: Vec<(UserId, ChannelUserDelta)>,
    /// Names of users it writes.
    pub names: Vec<(UserId, Login)>,
    /// Account creation times of those users.
    pub accounts: Vec<(UserId, Timestamp)>,
    /// IRC-tracked peaks (every stream's: a peak row names no channel).
    pub peaks: Vec<(StreamKey, i64)>,
    /// Stream ends (every stream's).
    pub ends: Vec<(StreamKey, Timestamp)>,
    /// Raids of the channel.
    pub raids: Vec<Raid>,
    /// Chat activity of the channel: (minute start, messages and moods).
    pub minutes: Vec<(i64, MinuteDelta)>,
    /// Emote uses in the channel's streams (those of `stream_users` and `live`).
    pub emotes: Vec<(StreamKey, Arc<Emote>, i64)>,
}

impl Batch {
    /// This batch's rows of `channel` (whose live stream is `live`), numbered `seq` (the open
    /// batch's number is the one it will be committed under).
    pub fn channel_slice(
        &self,
        channel: ChannelKey,
        live: Option<StreamKey>,
        seq: u64,
    ) -> ChannelSlice {
        let stream_users: Vec<_> = self
            .stream_users
            .iter()
            .filter(|(_, d)| d.channel == channel)
            .map(|(&(s, u), d)| {
                let open = self.stream_open.get(&(s, u)).copied().flatten();
                (s, u, *d, open)
            })
            .collect();
        let channel_users: Vec<_> = self
            .channel_users
            .iter()
            .filter(|((c, _), _)| *c == channel)
            .map(|(&(_, u), d)| (u, *d))
            .collect();
        let mut names = Vec::new();
        let mut accounts = Vec::new();
        for (u, _) in &channel_users {
            if let Some(row) = self.users.get(u) {
                names.push((*u, row.login.clone()));
            }
            if let Some(at) = self.accounts.get(u) {
                accounts.push((*u, *at));
            }
        }
        let streams: FxHashSet<StreamKey> =
            stream_users.iter().map(|(s, ..)| *s).chain(live).collect();
        let minutes = self
            .signals
            .minutes
            .iter()
            .filter(|((c, _, _), _)| *c == channel)
            .map(|(&(_, minute, _), d)| (minute, *d))
            .collect();
        let emotes = self
            .signals
            .emotes
            .iter()
            .filter(|((s, _), _)| streams.contains(s))
            .map(|((s, e), n)| (*s, e.clone(), *n))
            .collect();
        ChannelSlice {
            seq,
            minutes,
            emotes,
            stream_users,
            channel_users,
            names,
            accounts,
            peaks: self.stream_peaks.iter().map(|(s, p)| (*s, *p)).collect(),
            ends: self.stream_ends.clone(),
            raids: self
                .raids
                .iter()
                .filter(|r| r.channel == channel)
                .cloned()
                .collect(),
        }
    }
}

/// The slices ingestion held when asked, oldest batch first.
#[derive(Debug, Clone, Default)]
pub struct Uncommitted {
    /// One per batch in memory.
    pub slices: Vec<ChannelSlice>,
    /// Emote counts of the channel's streams held across batches (in no batch yet).
    pub held_emotes: Vec<(StreamKey, Arc<Emote>, i64)>,
    /// The number of the batch open when asked: rows and counts held across batches go to
    /// that batch at the earliest, so once it is committed a reader cannot tell whether they
    /// are in what it read.
    pub held_until: u64,
}

/// A (stream, user) row's uncommitted change, merged over batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingRow {
    /// The merged change.
    pub delta: StreamUserDelta,
    /// The open interval the latest batch writes the row with.
    pub open: Option<Timestamp>,
}

/// Every uncommitted change of a channel after a given batch, merged.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    /// Per (stream, user).
    pub rows: FxHashMap<(StreamKey, UserId), PendingRow>,
    /// Per user of the channel.
    pub channel_users: FxHashMap<UserId, ChannelUserDelta>,
    /// Latest names.
    pub names: FxHashMap<UserId, Login>,
    /// Account creation times.
    pub accounts: FxHashMap<UserId, Timestamp>,
    /// Highest IRC-tracked peak per stream.
    pub peaks: FxHashMap<StreamKey, i64>,
    /// Stream ends.
    pub ends: FxHashMap<StreamKey, Timestamp>,
    /// Raids, oldest first.
    pub raids: Vec<Raid>,
    /// Chat activity by minute start (summed over the channel's streams and offline).
    pub minutes: FxHashMap<i64, MinuteDelta>,
    /// Emote uses per stream.
    pub emotes: FxHashMap<(StreamKey, Arc<Emote>), i64>,
}

impl Uncommitted {
    /// The changes of the batches after `committed`, merged in batch order; `None` when the
    /// batch open when asked is committed (ask again: what was held may be in it or not).
    pub fn after(&self, committed: u64) -> Option<Overlay> {
        if committed >= self.held_until {
            return None;
        }
        let mut o = Overlay::default();
        for (s, e, n) in &self.held_emotes {
            *o.emotes.entry((*s, e.clone())).or_default() += n;
        }
        for slice in self.slices.iter().filter(|s| s.seq > committed) {
            for &(s, u, d, open) in &slice.stream_users {
                o.rows
                    .entry((s, u))
                    .and_modify(|row| {
                        row.delta.absorb(&d);
                        row.open = open;
                    })
                    .or_insert(PendingRow { delta: d, open });
            }
            for &(u, d) in &slice.channel_users {
                o.channel_users
                    .entry(u)
                    .and_modify(|m| m.absorb(&d))
                    .or_insert(d);
            }
            o.names.extend(slice.names.iter().cloned());
            o.accounts.extend(slice.accounts.iter().copied());
            for &(s, p) in &slice.peaks {
                let peak = o.peaks.entry(s).or_insert(p);
                *peak = (*peak).max(p);
            }
            o.ends.extend(slice.ends.iter().copied());
            o.raids.extend(slice.raids.iter().cloned());
            for (minute, d) in &slice.minutes {
                o.minutes.entry(*minute).or_default().absorb(d);
            }
            for (s, e, n) in &slice.emotes {
                *o.emotes.entry((*s, e.clone())).or_default() += n;
            }
        }
        Some(o)
    }
}

impl Overlay {
    /// True when nothing is uncommitted.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
            && self.minutes.is_empty()
            && self.emotes.is_empty()
            && self.channel_users.is_empty()
            && self.peaks.is_empty()
            && self.ends.is_empty()
            && self.raids.is_empty()
    }

    /// The uncommitted rows of one stream.
    pub fn stream_rows(&self, stream: StreamKey) -> impl Iterator<Item = (UserId, &PendingRow)> {
        self.rows
            .iter()
            .filter(move |((s, _), _)| *s == stream)
            .map(|(&(_, u), row)| (u, row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Sighting, StreamRef};

    fn live() -> StreamRef {
        StreamRef {
            stream: StreamKey(7),
            channel: ChannelKey(1),
            started: Timestamp(1_000),
        }
    }

    fn said(batch: &mut Batch, user: i64, at: i64, open: Option<i64>) {
        batch.channel_user(ChannelKey(1), UserId(user), Timestamp(at), 1);
        batch.stream_user(
            live(),
            UserId(user),
            Timestamp(at),
            Sighting {
                messages: 1,
                active: true,
                open: open.map(Timestamp),
                ..Sighting::default()
            },
        );
    }

    #[test]
    fn batches_after_the_committed_one_merge_in_order() {
        let mut first = Batch::default();
        said(&mut first, 10, 1_010, Some(1_005));
        said(&mut first, 11, 1_011, Some(1_011));
        let mut second = Batch::default();
        said(&mut second, 10, 1_020, None);
        // Another channel's rows stay out.
        second.channel_user(ChannelKey(2), UserId(12), Timestamp(1_020), 1);
        let held = Uncommitted {
            slices: vec![
                first.channel_slice(ChannelKey(1), None, 4),
                second.channel_slice(ChannelKey(1), None, 5),
            ],
            held_emotes: Vec::new(),
            held_until: 5,
        };
        let both = held.after(3).expect("batch 5 not committed");
        let row = both.rows[&(StreamKey(7), UserId(10))];
        assert_eq!(row.delta.messages, 2);
        assert_eq!(row.delta.first_seen, Timestamp(1_010));
        assert_eq!(row.delta.last_seen, Timestamp(1_020));
        // The latest batch's open interval: the user left.
        assert_eq!(row.open, None);
        assert_eq!(both.channel_users[&UserId(10)].messages, 2);
        assert_eq!(both.channel_users.len(), 2);
        // Batch 4 committed: only batch 5 is added.
        let last = held.after(4).expect("batch 5 not committed");
        assert_eq!(last.rows.len(), 1);
        assert_eq!(last.rows[&(StreamKey(7), UserId(10))].delta.messages, 1);
        // Batch 5 committed: rows held across batches may or may not have gone with it.
        assert!(held.after(5).is_none());
    }
}
