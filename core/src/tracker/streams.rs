//! The tracker's snapshots, stream transitions, raids, renames, opt-outs and the periodic
//! expiry and checkpoint: what changes presence other than a single chat line.

use super::Tracker;
use super::state::{
    ChannelState, Live, Presence, close_row, closing, name_hash, secs, still_present,
};
use crate::domain::{Login, Timestamp, UserId};
use crate::event::UserRef;
use crate::store::{Batch, Raid, SeriesRow, Sighting, StreamKey};

impl Tracker {
    /// Applies a complete Helix chatter list: presence becomes exactly this list.
    pub fn snapshot(
        &mut self,
        channel: &Login,
        users: &[UserRef],
        total: u64,
        at: Timestamp,
        batch: &mut Batch,
    ) {
        if !self.channels.contains_key(channel) {
            return;
        }
        let counted: Vec<bool> = users.iter().map(|u| self.counts(channel, u)).collect();
        let opted_out = &self.opted_out;
        let timeout = self.config.presence_timeout;
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        ch.snapshots = if ch.snapshots == u8::MAX {
            1
        } else {
            ch.snapshots + 1
        };
        let listing = ch.snapshots;
        let t = secs(at);
        let live = ch.live;
        let generation = live.map_or(0, |l| l.generation);
        let mut counted_in_list = 0usize;
        for (u, counted) in users.iter().zip(counted) {
            if opted_out.contains(&u.id) {
                continue;
            }
            let fresh = match ch.present.get_mut(&u.id) {
                // Listed twice (Helix pages can overlap): already handled.
                Some(p) if p.listed == listing => continue,
                Some(p) => {
                    p.listed = listing;
                    p.last = p.last.max(t);
                    p.counted = counted;
                    let name = name_hash(u);
                    if p.name != name {
                        p.name = name;
                        Self::write_name(u, at, batch);
                    }
                    let unrecorded = generation != 0 && p.recorded != generation;
                    p.recorded = generation;
                    unrecorded.then(|| p.opened())
                }
                None => {
                    ch.present.insert(
                        u.id,
                        Presence {
                            since: t,
                            last: t,
                            name: name_hash(u),
                            recorded: generation,
                            listed: listing,
                            counted,
                        },
                    );
                    Self::write_name(u, at, batch);
                    batch.presence.insert((ch.key, u.id, at), None);
                    batch.channel_user(ch.key, u.id, at, 0);
                    ch.deadlines.push(u.id, t, t, timeout);
                    Some(at)
                }
            };
            counted_in_list += usize::from(counted);
            // `fresh`: the start of an interval not yet written to the live stream's row.
            if let (Some(since), Some(live)) = (fresh, live) {
                let seen = Sighting {
                    active: true,
                    maybe_first: true,
                    open: Some(since),
                    ..Sighting::default()
                };
                batch.stream_user(live.at(ch.key), u.id, at, seen);
            }
        }
        // Everyone not listed has left: close their interval and record their last sighting.
        let key = ch.key;
        ch.present.retain(|id, p| {
            if p.listed == listing {
                return true;
            }
            batch
                .presence
                .insert((key, *id, Timestamp(i64::from(p.since))), Some(at));
            let last = Timestamp(i64::from(p.last));
            batch.channel_user(key, *id, last, 0);
            close_row(batch, live, key, *id, p, at);
            false
        });
        ch.deadlines.compact(&ch.present, timeout);
        // Presence is now exactly the list; while live, everyone listed is observed in the stream.
        ch.counted_present = counted_in_list;
        ch.live_present = if live.is_some() {
            i64::try_from(counted_in_list).unwrap_or(i64::MAX)
        } else {
            0
        };
        ch.last_snapshot = Some(at);
        batch.series.push(SeriesRow {
            channel: key,
            at,
            chatters: i64::try_from(counted_in_list).unwrap_or(i64::MAX),
            total: Some(i64::try_from(total).unwrap_or(i64::MAX)),
        });
        Self::raise_peak(ch, batch);
    }

    /// The channel went live (the stream row exists already, with key `key`).
    pub fn stream_online(
        &mut self,
        channel: &Login,
        key: StreamKey,
        started_at: Timestamp,
        broadcaster: Option<UserId>,
        batch: &mut Batch,
    ) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        if let Some(b) = broadcaster
            && ch.broadcaster != Some(b)
        {
            ch.broadcaster = Some(b);
            batch.channel_ids.insert(ch.key, b);
            if let Some(p) = ch.present.get_mut(&b)
                && p.counted
            {
                p.counted = false;
                ch.counted_present -= 1;
            }
        }
        match ch.live {
            Some(live) if live.key == key => return,
            Some(_) => Self::end_stream(ch, started_at, batch),
            None => {}
        }
        let generation = Self::next_stream(ch);
        ch.live = Some(Live {
            key,
            started_at,
            generation,
            peak: 0,
        });
        ch.live_present = 0;
    }

    pub(super) fn next_stream(ch: &mut ChannelState) -> u16 {
        ch.streams = if ch.streams == u16::MAX {
            1
        } else {
            ch.streams + 1
        };
        ch.streams
    }

    /// Another instance tracks `channel` from `at` on (its lease moved): every present user's
    /// presence ends at their last sighting plus the presence timeout, at `at` at the latest;
    /// the live stream is forgotten here without being ended (the new tracker continues it), so
    /// this instance writes nothing more about the channel until it tracks it again.
    pub fn release(&mut self, channel: &Login, at: Timestamp, batch: &mut Batch) {
        let timeout = self.config.presence_timeout;
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let key = ch.key;
        let live = ch.live.take();
        for (id, p) in ch.present.drain() {
            let since = Timestamp(i64::from(p.since));
            let last = Timestamp(i64::from(p.last));
            let end = Timestamp(last.plus(timeout).0.min(at.0).max(since.0));
            batch.presence.insert((key, id, since), Some(end));
            close_row(batch, live, key, id, &p, end);
        }
        ch.deadlines.clear();
        ch.counted_present = 0;
        ch.live_present = 0;
        ch.last_snapshot = None;
        ch.last_irc_point = None;
    }

    /// The first poll that finds the channel offline.
    pub fn stream_offline(&mut self, channel: &Login, at: Timestamp, batch: &mut Batch) {
        if let Some(ch) = self.channels.get_mut(channel) {
            Self::end_stream(ch, at, batch);
        }
    }

    pub(super) fn end_stream(ch: &mut ChannelState, at: Timestamp, batch: &mut Batch) {
        let Some(live) = ch.live.take() else {
            return;
        };
        ch.live_present = 0;
        // Present users' stream rows get their last sighting (snapshots do not rewrite them)
        // and their open interval's watch time, cut at the stream's end.
        for (id, p) in &ch.present {
            let last = Timestamp(i64::from(p.last));
            if p.recorded == live.generation && last >= live.started_at {
                batch.stream_user(live.at(ch.key), *id, last, closing(live, p.since, at));
            }
        }
        batch.stream_ends.push((live.key, at));
    }

    /// A raid into `channel`.
    pub fn raid(
        &mut self,
        channel: &Login,
        from: &UserRef,
        viewers: u64,
        at: Timestamp,
        batch: &mut Batch,
    ) {
        if self.opted_out.contains(&from.id) {
            return;
        }
        Self::write_name(from, at, batch);
        if let Some(ch) = self.channels.get(channel) {
            batch.raids.push(Raid {
                channel: ch.key,
                stream: ch.live.map(|l| l.key),
                from: from.id,
                from_login: from.login.clone(),
                viewers: i64::try_from(viewers).unwrap_or(i64::MAX),
                at,
            });
        }
    }

    /// A user's name changed (recorded in name history by the store).
    pub fn rename(&mut self, user: &UserRef, at: Timestamp, batch: &mut Batch) {
        if !self.opted_out.contains(&user.id) {
            Self::write_name(user, at, batch);
        }
    }

    /// An account's creation time (Helix Get Users).
    pub fn account(
        &mut self,
        user: &UserRef,
        created_at: Timestamp,
        at: Timestamp,
        batch: &mut Batch,
    ) {
        if !self.opted_out.contains(&user.id) {
            Self::write_name(user, at, batch);
            batch.accounts.insert(user.id, created_at);
        }
    }

    /// Forgets everything about a user (their rows are deleted by the store) and drops their
    /// later events.
    pub fn opt_out(&mut self, user: UserId) {
        self.opted_out.insert(user);
        for ch in self.channels.values_mut() {
            if let Some(p) = ch.present.remove(&user) {
                Self::leave(ch, &p);
            }
        }
    }

    /// Lifts an opt-out.
    pub fn opt_in(&mut self, user: UserId) {
        self.opted_out.remove(&user);
    }

    /// Periodic work at `now`: IRC-only channels get one series point per minute boundary
    /// passed (at most a day's worth at once), and users silent for the presence timeout are
    /// expired at the exact time they time out.
    pub fn tick(&mut self, now: Timestamp, batch: &mut Batch) {
        let timeout = self.config.presence_timeout;
        let stale = self.config.snapshot_stale_after;
        for ch in self.channels.values_mut() {
            Self::tick_one(ch, now, timeout, stale, true, batch);
        }
    }

    /// [`Tracker::tick`] for one channel on its own clock (the latest time this was called
    /// with for it; earlier times do nothing), for replays whose channels arrive one after
    /// another rather than interleaved. `series`: whether IRC-only series points are written.
    pub fn tick_channel(
        &mut self,
        channel: &Login,
        now: Timestamp,
        series: bool,
        batch: &mut Batch,
    ) {
        let timeout = self.config.presence_timeout;
        let stale = self.config.snapshot_stale_after;
        if let Some(ch) = self.channels.get_mut(channel)
            && now.0 > ch.last_tick
        {
            ch.last_tick = now.0;
            Self::tick_one(ch, now, timeout, stale, series, batch);
        }
    }

    fn tick_one(
        ch: &mut ChannelState,
        now: Timestamp,
        timeout: i64,
        stale: i64,
        series: bool,
        batch: &mut Batch,
    ) {
        let irc_only = ch.last_snapshot.is_none_or(|s| now.0 - s.0 > stale);
        if !irc_only {
            return;
        }
        let current = now.0.div_euclid(60) * 60;
        let mut minute = match ch.last_irc_point {
            Some(p) => (p + 60).max(current - 1440 * 60),
            None => current,
        };
        while minute <= current {
            Self::expire(ch, Timestamp(minute), timeout, batch);
            if series && (ch.live.is_some() || ch.counted_present > 0) {
                batch.series.push(SeriesRow {
                    channel: ch.key,
                    at: Timestamp(minute),
                    chatters: i64::try_from(ch.counted_present).unwrap_or(i64::MAX),
                    total: None,
                });
            }
            ch.last_irc_point = Some(minute);
            minute += 60;
        }
        Self::expire(ch, now, timeout, batch);
    }

    /// Ends the presence of users whose last sighting is `timeout` or more before `now`, in
    /// O(expired): only entries of [`ChannelState::deadlines`] due by `now` are looked at.
    pub(super) fn expire(ch: &mut ChannelState, now: Timestamp, timeout: i64, batch: &mut Batch) {
        let key = ch.key;
        let live = ch.live;
        while let Some((id, since)) = ch.deadlines.pop_due(now.0) {
            let Some(p) = ch.present.get(&id).copied() else {
                continue;
            };
            if p.since != since {
                continue;
            }
            let last = Timestamp(i64::from(p.last));
            if now.0 - last.0 < timeout {
                // Seen since the entry was pushed: check again at the new deadline.
                ch.deadlines.push(id, p.since, p.last, timeout);
                continue;
            }
            ch.present.remove(&id);
            let until = last.plus(timeout);
            batch
                .presence
                .insert((key, id, Timestamp(i64::from(p.since))), Some(until));
            close_row(batch, live, key, id, &p, until);
            Self::leave(ch, &p);
        }
    }

    /// Ends every presence at its timeout (last sighting plus the presence timeout), writing
    /// each present user's last sighting first: what a replay of old logs leaves behind is
    /// history only, never an open interval.
    pub fn close_all(&mut self, batch: &mut Batch) {
        self.checkpoint(batch);
        let logins: Vec<Login> = self.channels.keys().cloned().collect();
        for login in logins {
            self.release(&login, Timestamp(i64::MAX), batch);
        }
    }

    /// Writes every present user's latest sighting (on shutdown, so a restart closes their
    /// intervals at the right time).
    pub fn checkpoint(&self, batch: &mut Batch) {
        for ch in self.channels.values() {
            for (id, p) in &ch.present {
                let last = Timestamp(i64::from(p.last));
                batch.channel_user(ch.key, *id, last, 0);
                if let Some(live) = ch.live
                    && p.recorded == live.generation
                    && last >= live.started_at
                {
                    batch.stream_user(live.at(ch.key), *id, last, still_present(p));
                }
            }
        }
    }

    /// Resumes a stream that was live before a restart.
    pub fn resume_stream(
        &mut self,
        channel: &Login,
        key: StreamKey,
        started_at: Timestamp,
        irc_peak: i64,
    ) {
        if let Some(ch) = self.channels.get_mut(channel) {
            let generation = Self::next_stream(ch);
            ch.live = Some(Live {
                key,
                started_at,
                generation,
                peak: irc_peak,
            });
        }
    }
}
