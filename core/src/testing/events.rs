//! Event builders for test scenarios: [`Timeline`] builds events at offsets (seconds) from its
//! base, and the free functions build them on [`FIXED`], whose base is [`T0`].

use crate::domain::{Login, StreamId, Timestamp, UserId};
use crate::event::{Event, Message, UserRef};

/// 2024-01-01T00:00:00Z: the base of [`FIXED`].
pub const T0: i64 = 1_704_067_200;

/// The timeline of the free builders: offsets from [`T0`].
pub const FIXED: Timeline = Timeline::at(T0);

/// Builds events at `base + offset` (seconds). Use a base in the past relative to now for
/// figures that look back from the clock (charts, the API's default windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// Unix seconds of offset 0.
    pub base: i64,
}

impl Timeline {
    /// A timeline whose offset 0 is `base` (Unix seconds).
    pub const fn at(base: i64) -> Self {
        Self { base }
    }

    /// `base + offset`.
    pub fn t(&self, offset: i64) -> Timestamp {
        Timestamp(self.base + offset)
    }

    /// `u` joins `channel`.
    pub fn join(&self, channel: &str, u: &UserRef, at: i64) -> Event {
        Event::Join {
            channel: login(channel),
            user: u.clone(),
            at: self.t(at),
        }
    }

    /// `u` parts `channel`.
    pub fn part(&self, channel: &str, u: &UserRef, at: i64) -> Event {
        Event::Part {
            channel: login(channel),
            user: u.clone(),
            at: self.t(at),
        }
    }

    /// A plain text message of `u` in `channel` (room id `room`), to adjust before wrapping.
    pub fn message_in(&self, channel: &str, room: i64, u: &UserRef, at: i64) -> Message {
        Message {
            channel: login(channel),
            user: u.clone(),
            at: self.t(at),
            room_id: Some(UserId(room)),
            source_room_id: None,
            first_msg: false,
            returning_chatter: false,
            badges: Vec::new(),
            has_text: true,
            id: None,
            signals: Default::default(),
        }
    }

    /// [`Timeline::message_in`] as an event.
    pub fn msg(&self, channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
        Event::Message(Box::new(self.message_in(channel, room, u, at)))
    }

    /// A message flagged as `u`'s first in the channel.
    pub fn first_msg(&self, channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
        let mut m = self.message_in(channel, room, u, at);
        m.first_msg = true;
        Event::Message(Box::new(m))
    }

    /// A chatter-list snapshot of exactly `users`.
    pub fn snapshot(&self, channel: &str, users: &[&UserRef], at: i64) -> Event {
        Event::Snapshot {
            channel: login(channel),
            at: self.t(at),
            users: users.iter().map(|u| (*u).clone()).collect(),
            total: users.len() as u64,
        }
    }

    /// Stream `id` of `broadcaster` goes live, titled `stream <id>`.
    pub fn online(&self, channel: &str, broadcaster: i64, id: &str, at: i64) -> Event {
        self.online_titled(channel, broadcaster, id, at, &format!("stream {id}"))
    }

    /// Stream `id` of `broadcaster` goes live with `title`.
    pub fn online_titled(
        &self,
        channel: &str,
        broadcaster: i64,
        id: &str,
        at: i64,
        title: &str,
    ) -> Event {
        Event::StreamOnline {
            channel: login(channel),
            broadcaster: Some(UserId(broadcaster)),
            stream: StreamId::parse(id).expect("valid stream id"),
            started_at: self.t(at),
            title: title.to_owned(),
        }
    }

    /// The channel's stream ends.
    pub fn offline(&self, channel: &str, at: i64) -> Event {
        Event::StreamOffline {
            channel: login(channel),
            at: self.t(at),
        }
    }
}

/// A valid login (panics otherwise).
pub fn login(s: &str) -> Login {
    Login::parse(s).expect("valid login")
}

/// A user with id `id` and login `name`.
pub fn user(id: i64, name: &str) -> UserRef {
    UserRef::new(UserId(id), login(name))
}

/// [`Timeline::t`] on [`FIXED`].
pub fn t(offset: i64) -> Timestamp {
    FIXED.t(offset)
}

/// [`Timeline::join`] on [`FIXED`].
pub fn join(channel: &str, u: &UserRef, at: i64) -> Event {
    FIXED.join(channel, u, at)
}

/// [`Timeline::part`] on [`FIXED`].
pub fn part(channel: &str, u: &UserRef, at: i64) -> Event {
    FIXED.part(channel, u, at)
}

/// [`Timeline::message_in`] on [`FIXED`].
pub fn message_in(channel: &str, room: i64, u: &UserRef, at: i64) -> Message {
    FIXED.message_in(channel, room, u, at)
}

/// [`Timeline::msg`] on [`FIXED`].
pub fn msg(channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
    FIXED.msg(channel, room, u, at)
}

/// [`Timeline::first_msg`] on [`FIXED`].
pub fn first_msg(channel: &str, room: i64, u: &UserRef, at: i64) -> Event {
    FIXED.first_msg(channel, room, u, at)
}

/// [`Timeline::snapshot`] on [`FIXED`].
pub fn snapshot(channel: &str, users: &[&UserRef], at: i64) -> Event {
    FIXED.snapshot(channel, users, at)
}

/// [`Timeline::online`] on [`FIXED`].
pub fn online(channel: &str, broadcaster: i64, id: &str, at: i64) -> Event {
    FIXED.online(channel, broadcaster, id, at)
}

/// [`Timeline::offline`] on [`FIXED`].
pub fn offline(channel: &str, at: i64) -> Event {
    FIXED.offline(channel, at)
}
