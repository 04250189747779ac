//! [`scripted_channel`]: a channel with two streams, a raid, arrivals and account ages, the
//! data behind the chart, share page and browser tests.

use crate::event::{Event, UserRef};

use super::events::{Timeline, login, user};

/// The first, ended stream of [`scripted_channel`].
pub const FIRST_STREAM: &str = "1001";
/// The second stream of [`scripted_channel`], still live.
pub const SECOND_STREAM: &str = "1002";

/// The scripted channel on `timeline`: an offline snapshot, stream [`FIRST_STREAM`] (two hours
/// from offset 0, snapshots every five minutes, messages, a raid at 30 minutes, newcomers
/// arriving), then stream [`SECOND_STREAM`] from 2.5 hours, live, titled with markup. Regulars
/// are users 1-4, newcomers 10-29, the raider 77. Twelve chatters have account ages, ten of
/// them created the same day (a flagged day).
pub fn scripted_channel(timeline: &Timeline, channel: &str, room: i64) -> Vec<Event> {
    let regulars: Vec<UserRef> = (1..=4).map(|i| user(i, &format!("regular{i}"))).collect();
    let newcomers: Vec<UserRef> = (10..=29)
        .map(|i| user(i, &format!("newcomer{i}")))
        .collect();
    let raider = user(77, "raider");
    let mut events = vec![timeline.snapshot(channel, &regulars.iter().collect::<Vec<_>>(), -900)];
    events.push(timeline.online_titled(channel, room, FIRST_STREAM, 0, "first stream"));
    for step in 0..24i64 {
        let at = step * 300 + 60;
        let arrived = usize::try_from(step).unwrap_or(0).min(newcomers.len());
        let present: Vec<&UserRef> = regulars.iter().chain(&newcomers[..arrived]).collect();
        events.push(timeline.snapshot(channel, &present, at));
        if let Some(u) = present.get(usize::try_from(step).unwrap_or(0) % present.len()) {
            events.push(timeline.msg(channel, room, u, at + 30));
        }
    }
    events.push(Event::Raid {
        channel: login(channel),
        from: raider,
        viewers: 42,
        at: timeline.t(1800),
    });
    events.push(timeline.offline(channel, 2 * 3600));
    events.push(timeline.online_titled(
        channel,
        room,
        SECOND_STREAM,
        2 * 3600 + 1800,
        "<b>second</b> & \"live\"",
    ));
    let second: Vec<&UserRef> = regulars.iter().chain(&newcomers[..6]).collect();
    events.push(timeline.snapshot(channel, &second, 2 * 3600 + 1860));
    events.push(timeline.msg(channel, room, &regulars[0], 2 * 3600 + 1900));
    let farm_day = timeline.t(-200 * 86_400);
    for (i, u) in newcomers.iter().take(10).enumerate() {
        events.push(Event::Account {
            user: u.clone(),
            created_at: farm_day.plus(i as i64 * 60),
        });
    }
    for (i, u) in regulars.iter().take(2).enumerate() {
        events.push(Event::Account {
            user: u.clone(),
            created_at: timeline.t(-2000 * 86_400 - i as i64 * 86_400 * 40),
        });
    }
    events
}
