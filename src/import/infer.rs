//! `--infer-streams <gap>`: stream boundaries guessed from chat activity, since logs carry none.
//!
//! Per channel, activity (messages, raids, joins) separated by less than `gap` forms one
//! inferred stream: a [`Event::StreamOnline`] at its first event, a [`Event::StreamOffline`] at
//! its last. A PART neither starts nor extends a stream (Twitch sends them late, in batches);
//! one within `gap` of the stream's last activity still belongs to it. Inferred stream ids are
//! `import-<channel>-<start, Unix seconds>`: Twitch's ids are decimal, so they never collide.

use std::time::Duration;

use chatters_core::domain::{Login, StreamId, Timestamp};
use chatters_core::event::Event;
use rustc_hash::FxHashMap;

/// Title given to inferred streams.
pub const TITLE: &str = "inferred from imported chat logs";

/// The open inferred stream of a channel.
#[derive(Debug, Clone, Copy)]
struct Open {
    /// Latest activity (the stream ends there).
    last: Timestamp,
}

/// Stream inference state over one import run.
#[derive(Debug)]
pub struct Inference {
    /// A silence of at least this many seconds ends a stream.
    gap: i64,
    /// Channels with an inferred stream open.
    open: FxHashMap<Login, Open>,
    /// Streams started so far.
    started: u64,
}

impl Inference {
    /// Inference with the given silence between two streams.
    pub fn new(gap: Duration) -> Self {
        Self {
            gap: i64::try_from(gap.as_secs()).unwrap_or(i64::MAX).max(1),
            open: FxHashMap::default(),
            started: 0,
        }
    }

    /// Streams started so far.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Appends `event` to `out`, preceded by the end of its channel's inferred stream and the
    /// start of the next one when `event` comes `gap` or more after the stream's last activity.
    pub fn push(&mut self, event: Event, out: &mut Vec<Event>) {
        let Some((channel, at, active)) = activity(&event) else {
            out.push(event);
            return;
        };
        let current = self.open.get(channel).copied();
        let within = current.is_some_and(|o| at.0.saturating_sub(o.last.0) < self.gap);
        if within {
            if active && let Some(o) = self.open.get_mut(channel) {
                o.last = o.last.max(at);
            }
            out.push(event);
            return;
        }
        if let Some(o) = current {
            out.push(Event::StreamOffline {
                channel: channel.clone(),
                at: o.last,
            });
            self.open.remove(channel);
        }
        if active && let Some(online) = self.start(channel, at) {
            out.push(online);
        }
        out.push(event);
    }

    fn start(&mut self, channel: &Login, at: Timestamp) -> Option<Event> {
        let stream = StreamId::parse(&format!("import-{channel}-{}", at.0)).ok()?;
        self.open.insert(channel.clone(), Open { last: at });
        self.started += 1;
        Some(Event::StreamOnline {
            channel: channel.clone(),
            broadcaster: None,
            stream,
            started_at: at,
            title: TITLE.to_owned(),
        })
    }

    /// Ends every open inferred stream at its last activity (channels in login order).
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let mut open: Vec<_> = self.open.drain().collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        out.extend(open.into_iter().map(|(channel, o)| Event::StreamOffline {
            channel,
            at: o.last,
        }));
    }
}

/// The channel and time of an event that belongs to a stream, and whether it is activity
/// (anything but a PART).
fn activity(event: &Event) -> Option<(&Login, Timestamp, bool)> {
    match event {
        Event::Message(m) => Some((&m.channel, m.at, true)),
        Event::Join { channel, at, .. } | Event::Raid { channel, at, .. } => {
            Some((channel, *at, true))
        }
        Event::Part { channel, at, .. } => Some((channel, *at, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chatters_core::domain::UserId;
    use chatters_core::event::UserRef;

    use super::*;

    fn login(s: &str) -> Login {
        Login::parse(s).expect("valid login")
    }

    fn join(channel: &str, at: i64) -> Event {
        Event::Join {
            channel: login(channel),
            user: UserRef::new(UserId(1), login("viewer")),
            at: Timestamp(at),
        }
    }

    fn part(channel: &str, at: i64) -> Event {
        Event::Part {
            channel: login(channel),
            user: UserRef::new(UserId(1), login("viewer")),
            at: Timestamp(at),
        }
    }

    /// `on:<id>`, `off:<channel>@<at>`, or the event kind and time.
    fn describe(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::StreamOnline { stream, .. } => format!("on:{stream}"),
                Event::StreamOffline { channel, at } => format!("off:{channel}@{}", at.0),
                other => format!("{}@{}", other.kind(), other.time().map_or(-1, |t| t.0)),
            })
            .collect()
    }

    fn run(gap_secs: u64, events: Vec<Event>) -> (Vec<String>, u64) {
        let mut inference = Inference::new(Duration::from_secs(gap_secs));
        let mut out = Vec::new();
        for e in events {
            inference.push(e, &mut out);
        }
        inference.finish(&mut out);
        (describe(&out), inference.started())
    }

    #[test]
    fn a_silence_of_at_least_the_gap_separates_two_streams() {
        let (out, started) = run(
            100,
            vec![
                join("a", 1000),
                join("a", 1099),
                join("a", 1199),
                join("a", 1298),
            ],
        );

        assert_eq!(
            out,
            [
                "on:import-a-1000",
                "join@1000",
                "join@1099",
                "off:a@1099",
                "on:import-a-1199",
                "join@1199",
                "join@1298",
                "off:a@1298",
            ]
        );
        assert_eq!(started, 2);
    }

    #[test]
    fn channels_are_inferred_independently() {
        let (out, started) = run(100, vec![join("a", 1000), join("b", 1050), join("a", 1090)]);

        assert_eq!(
            out,
            [
                "on:import-a-1000",
                "join@1000",
                "on:import-b-1050",
                "join@1050",
                "join@1090",
                "off:a@1090",
                "off:b@1050",
            ]
        );
        assert_eq!(started, 2);
    }

    #[test]
    fn parts_neither_start_nor_extend_a_stream() {
        let (out, started) = run(
            100,
            vec![
                part("a", 900),
                join("a", 1000),
                part("a", 1090),
                part("a", 1180),
            ],
        );

        assert_eq!(
            out,
            [
                "part@900",
                "on:import-a-1000",
                "join@1000",
                "part@1090",
                "off:a@1000",
                "part@1180",
            ]
        );
        assert_eq!(started, 1);
    }
}
