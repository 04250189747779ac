//! In-memory presence per channel, and the translation of events into row changes.
//!
//! The tracker is pure and clock-free: every method takes the time it should act at, and writes
//! what changed into a [`Batch`]. It holds, per channel, who is present now (ids as integers,
//! about 30 bytes a user), the live stream and the IRC-tracked peak. Storage follows changes:
//! a user already present and already recorded in the live stream costs nothing when the next
//! snapshot lists them again.
//!
//! Layout: this file holds the tracker and the chat-line path (join, part, message); `state`
//! the per-channel state (with the expiry deadlines); `streams` snapshots, stream transitions
//! and the periodic expiry.

#[cfg(test)]
mod expiry_tests;
mod state;
mod streams;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::bots::KnownBots;
use crate::domain::{Login, Timestamp, UserId};
use crate::event::{Message, UserRef};
use crate::store::{Batch, BotRule, ChannelKey, Sighting, StreamKey};
use state::{ChannelState, Obs, Presence, name_hash, secs, user_row};

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

/// Presence state of every channel, and the event-to-row translation.
#[derive(Debug)]
pub struct Tracker {
    config: TrackerConfig,
    channels: FxHashMap<Login, ChannelState>,
    opted_out: FxHashSet<UserId>,
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
            deadlines: state::Deadlines::default(),
            last_tick: i64::MIN,
        });
    }

    /// Replaces a channel's known-bot rules (takes effect for later observations).
    pub fn set_rules(&mut self, channel: &Login, rules: FxHashMap<Login, BotRule>) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.rules = rules;
        }
    }

    /// The key of a tracked channel.
    pub fn channel_key(&self, channel: &Login) -> Option<ChannelKey> {
        self.channels.get(channel).map(|c| c.key)
    }

    /// Every tracked channel with its key.
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

    /// Applies a message (shared-chat copies from other channels are dropped here); a counted
    /// user's message also adds its signals (activity, mood, emotes) to the batch.
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
        let counted = self.observe(&msg.channel, &msg.user, msg.at, obs, batch);
        // Chat signals: counted users' messages only, by minute and by the live stream.
        if counted
            && msg.has_text
            && let Some(ch) = self.channels.get(&msg.channel)
        {
            let stream = ch.live.map(|l| l.key);
            batch.signals.message(ch.key, stream, msg.at, &msg.signals);
        }
    }

    fn observe(
        &mut self,
        channel: &Login,
        user: &UserRef,
        at: Timestamp,
        obs: Obs,
        batch: &mut Batch,
    ) -> bool {
        if self.opted_out.contains(&user.id) || !self.channels.contains_key(channel) {
            return false;
        }
        let name = name_hash(user);
        let counted = self.counts(channel, user);
        let Some(ch) = self.channels.get_mut(channel) else {
            return false;
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
            // A part closes the interval: its watch time within the stream is credited.
            let watch = match ch.present.get(&user.id) {
                Some(p) if obs == Obs::Part && recorded => state::closing(live, p.since, at).watch,
                _ => 0,
            };
            // After this observation: a part leaves, anything else keeps the interval open
            // (or opens one now, whose `presence` row starts at `at`).
            let open = match obs {
                Obs::Part => None,
                _ => Some(ch.present.get(&user.id).map_or(at, |p| p.opened())),
            };
            let seen = Sighting {
                messages,
                first_msg,
                active: obs != Obs::Part,
                watch,
                maybe_first: !recorded,
                open,
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
                        ch.deadlines
                            .compact(&ch.present, self.config.presence_timeout);
                        ch.deadlines
                            .push(user.id, t, t, self.config.presence_timeout);
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
        counted
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
}
