//! In-memory presence per channel, and the translation of events into row changes.
//!
//! The tracker is pure and clock-free: every method takes the time it should act at, and writes
//! what changed into a [`Batch`]. It holds, per channel, who is present now (ids as integers,
//! about 30 bytes a user), the live stream and the IRC-tracked peak. Storage follows changes:
//! a user already present and already recorded in the live stream costs nothing when the next
//! snapshot lists them again.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::bots::KnownBots;
use crate::domain::{Login, Timestamp, UserId};
use crate::event::{Message, UserRef};
use crate::store::{
    Batch, BotRule, ChannelKey, Raid, SeriesRow, Sighting, StreamKey, StreamRef, UserRow,
};

/// What the tracker needs to know that is not in the events.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// The bot account (never counted).
    pub bot_user: Option<UserId>,
    /// The bot account's login (never counted, also before its id is known).
    pub bot_login: Option<Login>,
    /// IRC-only: a user silent this long is no longer present (seconds).
    pub presence_timeout: i64,
    /// A channel whose latest snapshot is older than this is tracked IRC-only (seconds).
    pub snapshot_stale_after: i64,
    /// The shipped known-bot list.
    pub bots: KnownBots,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            bot_user: None,
            bot_login: None,
            presence_timeout: 15 * 60,
            snapshot_stale_after: 2 * 15 * 60,
            bots: KnownBots::shipped(),
        }
    }
}

/// One present user: 16 bytes (24 with its id in the map). Times are Unix seconds as `u32`
/// (good until 2106).
#[derive(Debug, Clone, Copy)]
struct Presence {
    /// Start of the open presence interval.
    since: u32,
    /// Latest observation.
    last: u32,
    /// Hash of the login and display name last written for this user: an unchanged name is
    /// not written again while they stay.
    name: u32,
    /// Channel-local generation of the stream this user's stream row was written for (0: none).
    recorded: u16,
    /// Snapshot generation (mod 255, never 0) that last listed this user; 0 for arrivals by
    /// IRC after the latest snapshot. Every survivor of a snapshot carries its generation or 0,
    /// so one byte tells "listed now" apart.
    listed: u8,
    /// Counted in figures (not a bot, the broadcaster or the bot account).
    counted: bool,
}

fn secs(t: Timestamp) -> u32 {
    u32::try_from(t.0.max(0)).unwrap_or(u32::MAX)
}

/// The live stream of a channel.
#[derive(Debug, Clone, Copy)]
struct Live {
    key: StreamKey,
    started_at: Timestamp,
    /// Distinguishes this stream from the channel's earlier ones in [`Presence::recorded`].
    generation: u16,
    /// Largest number of counted users present at once while live.
    peak: i64,
}

impl Live {
    fn at(self, channel: ChannelKey) -> StreamRef {
        StreamRef {
            stream: self.key,
            channel,
            started: self.started_at,
        }
    }
}

/// The closing sighting of a user already recorded in the stream: refreshes `last_seen`.
const LAST_SIGHTING: Sighting = Sighting {
    messages: 0,
    first_msg: false,
    active: true,
    maybe_first: false,
};

/// State of one channel.
#[derive(Debug)]
struct ChannelState {
    /// Row key.
    key: ChannelKey,
    /// Channel login (also the broadcaster's login).
    login: Login,
    /// Broadcaster id, once known.
    broadcaster: Option<UserId>,
    /// Per-channel known-bot rules.
    rules: FxHashMap<Login, BotRule>,
    /// Present users.
    present: FxHashMap<UserId, Presence>,
    /// Present users that are counted.
    counted_present: usize,
    /// Counted present users already observed in the live stream (the IRC-tracked peak
    /// counts these: never more than the stream's unique chatters).
    live_present: i64,
    /// The live stream.
    live: Option<Live>,
    /// Latest snapshot time.
    last_snapshot: Option<Timestamp>,
    /// Snapshot generation counter (1..=255).
    snapshots: u8,
    /// Stream generation counter.
    streams: u16,
    /// Start of the minute of the latest IRC-only series point.
    last_irc_point: Option<i64>,
}

/// Presence state of every channel, and the event-to-row translation.
#[derive(Debug)]
pub struct Tracker {
    config: TrackerConfig,
    channels: FxHashMap<Login, ChannelState>,
    opted_out: FxHashSet<UserId>,
}

fn name_hash(user: &UserRef) -> u32 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    user.login.hash(&mut h);
    user.display_name.hash(&mut h);
    // Fold to 32 bits; a collision only delays writing a rename until the user's next arrival.
    let full = h.finish();
    (full ^ (full >> 32)) as u32
}

fn user_row(user: &UserRef, at: Timestamp) -> UserRow {
    UserRow {
        login: user.login.clone(),
        display_name: user.display_name.clone(),
        at,
    }
}

/// Kind of a per-user observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Obs {
    Join,
    Part,
    Message { counts: bool, first_msg: bool },
}

impl Tracker {
    /// An empty tracker.
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            channels: FxHashMap::default(),
            opted_out: FxHashSet::default(),
        }
    }

    /// Whether events of this channel can be applied (else call [`Tracker::add_channel`] first).
    pub fn knows(&self, channel: &Login) -> bool {
        self.channels.contains_key(channel)
    }

    /// Registers a channel with its row key, known broadcaster id and bot rules.
    pub fn add_channel(
        &mut self,
        login: Login,
        key: ChannelKey,
        broadcaster: Option<UserId>,
        rules: FxHashMap<Login, BotRule>,
    ) {
        self.channels.entry(login.clone()).or_insert(ChannelState {
            key,
            login,
            broadcaster,
            rules,
            present: FxHashMap::default(),
            counted_present: 0,
            live_present: 0,
            live: None,
            last_snapshot: None,
            snapshots: 0,
            streams: 0,
            last_irc_point: None,
        });
    }

    /// Replaces a channel's known-bot rules (takes effect for later observations).
    pub fn set_rules(&mut self, channel: &Login, rules: FxHashMap<Login, BotRule>) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.rules = rules;
        }
    }

    /// Channel keys by login.
    pub fn channel_keys(&self) -> impl Iterator<Item = (&Login, ChannelKey)> {
        self.channels.iter().map(|(l, c)| (l, c.key))
    }

    /// Marks users as opted out (loaded at start).
    pub fn set_opted_out(&mut self, users: impl IntoIterator<Item = UserId>) {
        self.opted_out.extend(users);
    }

    /// Whether a user is opted out.
    pub fn is_opted_out(&self, user: UserId) -> bool {
        self.opted_out.contains(&user)
    }

    /// Counted users present in a channel now (`!chatters`).
    pub fn present_count(&self, channel: &Login) -> Option<usize> {
        self.channels.get(channel).map(|c| c.counted_present)
    }

    /// Users present in a channel now (counted or not).
    pub fn present_total(&self) -> usize {
        self.channels.values().map(|c| c.present.len()).sum()
    }

    /// The live stream of a channel, if any.
    pub fn live_stream(&self, channel: &Login) -> Option<StreamKey> {
        self.channels
            .get(channel)
            .and_then(|c| c.live.map(|l| l.key))
    }

    /// Hands a user's name to the writer (which records renames).
    fn write_name(user: &UserRef, at: Timestamp, batch: &mut Batch) {
        batch.users.insert(user.id, user_row(user, at));
    }

    /// Applies a JOIN.
    pub fn join(&mut self, channel: &Login, user: &UserRef, at: Timestamp, batch: &mut Batch) {
        self.observe(channel, user, at, Obs::Join, batch);
    }

    /// Applies a PART.
    pub fn part(&mut self, channel: &Login, user: &UserRef, at: Timestamp, batch: &mut Batch) {
        self.observe(channel, user, at, Obs::Part, batch);
    }

    /// Applies a message (shared-chat copies from other channels are dropped here).
    pub fn message(&mut self, msg: &Message, batch: &mut Batch) {
        if msg.is_foreign_shared_chat() {
            return;
        }
        if let (Some(room), Some(ch)) = (msg.room_id, self.channels.get_mut(&msg.channel))
            && ch.broadcaster != Some(room)
        {
            ch.broadcaster = Some(room);
            batch.channel_ids.insert(ch.key, room);
        }
        let obs = Obs::Message {
            counts: msg.has_text,
            first_msg: msg.first_msg,
        };
        self.observe(&msg.channel, &msg.user, msg.at, obs, batch);
    }

    fn observe(
        &mut self,
        channel: &Login,
        user: &UserRef,
        at: Timestamp,
        obs: Obs,
        batch: &mut Batch,
    ) {
        if self.opted_out.contains(&user.id) || !self.channels.contains_key(channel) {
            return;
        }
        let name = name_hash(user);
        let counted = self.counts(channel, user);
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let (messages, first_msg) = match obs {
            Obs::Message { counts, first_msg } => (i64::from(counts), first_msg),
            _ => (0, false),
        };
        // While live, messages are counted per stream only (a channel's total adds its
        // streams'), and the channel row changes only when the user arrives or parts: that
        // halves the rows a busy chat writes.
        let arriving = !ch.present.contains_key(&user.id);
        if ch.live.is_none() {
            batch.channel_user(ch.key, user.id, at, messages);
        } else if arriving || obs == Obs::Part {
            batch.channel_user(ch.key, user.id, at, 0);
        }
        let generation = ch.live.map_or(0, |l| l.generation);
        if let Some(live) = ch.live {
            let recorded = ch
                .present
                .get(&user.id)
                .is_some_and(|p| p.recorded == generation);
            let seen = Sighting {
                messages,
                first_msg,
                active: obs != Obs::Part,
                maybe_first: !recorded,
            };
            batch.stream_user(live.at(ch.key), user.id, at, seen);
        }
        let t = secs(at);
        match obs {
            Obs::Part => {
                let known = ch.present.get(&user.id).is_some_and(|p| p.name == name);
                if !known {
                    Self::write_name(user, at, batch);
                }
                if let Some(p) = ch.present.remove(&user.id) {
                    batch
                        .presence
                        .insert((ch.key, user.id, Timestamp(i64::from(p.since))), Some(at));
                    Self::leave(ch, &p);
                }
            }
            Obs::Join | Obs::Message { .. } => {
                match ch.present.get_mut(&user.id) {
                    Some(p) => {
                        p.last = p.last.max(t);
                        if p.name != name {
                            p.name = name;
                            Self::write_name(user, at, batch);
                        }
                        let newly_live = generation != 0 && p.recorded != generation && p.counted;
                        p.recorded = generation;
                        if newly_live {
                            ch.live_present += 1;
                        }
                    }
                    None => {
                        ch.present.insert(
                            user.id,
                            Presence {
                                since: t,
                                last: t,
                                name,
                                recorded: generation,
                                listed: 0,
                                counted,
                            },
                        );
                        Self::write_name(user, at, batch);
                        batch.presence.insert((ch.key, user.id, at), None);
                        if counted {
                            ch.counted_present += 1;
                            if generation != 0 {
                                ch.live_present += 1;
                            }
                        }
                    }
                }
                Self::raise_peak(ch, batch);
            }
        }
    }

    /// Bookkeeping when a present user leaves.
    fn leave(ch: &mut ChannelState, p: &Presence) {
        if p.counted {
            ch.counted_present -= 1;
            if ch.live.is_some_and(|l| l.generation == p.recorded) {
                ch.live_present -= 1;
            }
        }
    }

    fn raise_peak(ch: &mut ChannelState, batch: &mut Batch) {
        if let Some(live) = ch.live.as_mut()
            && ch.live_present > live.peak
        {
            live.peak = ch.live_present;
            batch.stream_peaks.insert(live.key, live.peak);
        }
    }

    /// Whether `user` counts in `channel`'s figures.
    fn counts(&self, channel: &Login, user: &UserRef) -> bool {
        let Some(ch) = self.channels.get(channel) else {
            return false;
        };
        !(Some(user.id) == self.config.bot_user
            || self.config.bot_login.as_ref() == Some(&user.login)
            || ch.broadcaster == Some(user.id)
            || user.login == ch.login
            || self.config.bots.is_bot(&ch.rules, &user.login))
    }

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
                    unrecorded
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
                    true
                }
            };
            counted_in_list += usize::from(counted);
            if fresh && let Some(live) = live {
                let seen = Sighting {
                    active: true,
                    maybe_first: true,
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
            if let Some(live) = live
                && p.recorded == live.generation
                && last >= live.started_at
            {
                batch.stream_user(live.at(key), *id, last, LAST_SIGHTING);
            }
            false
        });
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

    fn next_stream(ch: &mut ChannelState) -> u16 {
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
            if let Some(live) = live
                && p.recorded == live.generation
                && last >= live.started_at
            {
                batch.stream_user(live.at(key), id, last, LAST_SIGHTING);
            }
        }
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

    fn end_stream(ch: &mut ChannelState, at: Timestamp, batch: &mut Batch) {
        let Some(live) = ch.live.take() else {
            return;
        };
        ch.live_present = 0;
        // Present users' stream rows get their last sighting (snapshots do not rewrite them).
        for (id, p) in &ch.present {
            let last = Timestamp(i64::from(p.last));
            if p.recorded == live.generation && last >= live.started_at {
                batch.stream_user(live.at(ch.key), *id, last, LAST_SIGHTING);
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
            let irc_only = ch.last_snapshot.is_none_or(|s| now.0 - s.0 > stale);
            if !irc_only {
                continue;
            }
            let current = now.0.div_euclid(60) * 60;
            let mut minute = match ch.last_irc_point {
                Some(p) => (p + 60).max(current - 1440 * 60),
                None => current,
            };
            while minute <= current {
                Self::expire(ch, Timestamp(minute), timeout, batch);
                if ch.live.is_some() || ch.counted_present > 0 {
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
    }

    /// Ends the presence of users whose last sighting is `timeout` or more before `now`.
    fn expire(ch: &mut ChannelState, now: Timestamp, timeout: i64, batch: &mut Batch) {
        let key = ch.key;
        let live = ch.live;
        let mut left = Vec::new();
        ch.present.retain(|id, p| {
            let last = Timestamp(i64::from(p.last));
            if now.0 - last.0 < timeout {
                return true;
            }
            batch.presence.insert(
                (key, *id, Timestamp(i64::from(p.since))),
                Some(last.plus(timeout)),
            );
            if let Some(live) = live
                && p.recorded == live.generation
                && last >= live.started_at
            {
                batch.stream_user(live.at(key), *id, last, LAST_SIGHTING);
            }
            left.push(*p);
            false
        });
        for p in &left {
            Self::leave(ch, p);
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
                    batch.stream_user(live.at(ch.key), *id, last, LAST_SIGHTING);
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
