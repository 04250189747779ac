//! [`scripted_channel`]: a channel with two streams, a raid, arrivals and account ages, the
//! data behind the chart, share page and browser tests.

use crate::domain::Timestamp;
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
/// them created the same day (a flagged day, see [`farm_day`]).
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
    let farm_day = farm_day(timeline);
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

/// Noon (UTC) of the day 200 days before `timeline`'s base: the ten farm accounts of
/// [`scripted_channel`] are created there a minute apart, so they share one UTC day whatever
/// time of day the timeline starts (a base near midnight once split them over two days).
pub fn farm_day(timeline: &Timeline) -> Timestamp {
    const DAY: i64 = 86_400;
    let day = (timeline.base - 200 * DAY).div_euclid(DAY);
    Timestamp(day * DAY + DAY / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The creation days of the farm accounts of [`scripted_channel`] on `timeline`.
    fn farm_days(timeline: &Timeline) -> Vec<i64> {
        let mut days: Vec<i64> = scripted_channel(timeline, "chan", 500)
            .iter()
            .filter_map(|e| match e {
                Event::Account { user, created_at } if user.id.0 >= 10 => {
                    Some(created_at.0.div_euclid(86_400))
                }
                _ => None,
            })
            .collect();
        days.dedup();
        days
    }

    #[test]
    fn the_farm_accounts_share_one_day_whatever_the_time_of_day() {
        // 2026-12-06T00:00Z minus three hours, then through the day in steps of 7 minutes,
        // midnight and the minutes before it included.
        let midnight = 1_796_515_200;
        for offset in (-3 * 3600..86_400)
            .step_by(420)
            .chain([-1, -300, -540, -599])
        {
            let timeline = Timeline::at(midnight + offset);
            let days = farm_days(&timeline);
            assert_eq!(days.len(), 1, "base {}: days {days:?}", timeline.base);
            assert_eq!(
                days[0],
                (timeline.base - 200 * 86_400).div_euclid(86_400),
                "base {}",
                timeline.base
            );
        }
    }
}
