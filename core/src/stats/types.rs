//! The shapes of the figures (the JSON objects of the API, what the commands and recaps
//! show) and the grouping of accounts by creation day: plain data, no store access.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audience::AudienceFigures;
use crate::domain::{Login, StreamId, Timestamp, UserId};
use crate::store::{ChannelUser, NameRecord};

/// A stream's figures (the JSON `Stream` object). Deserialized from the copy frozen for
/// `RETENTION` (`crate::retention`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamFigures {
    /// Twitch's stream id.
    pub id: StreamId,
    /// Helix `started_at`.
    pub started_at: Timestamp,
    /// First offline poll; `null` while live.
    pub ended_at: Option<Timestamp>,
    /// Title.
    pub title: String,
    /// Counted users with an observation other than a part.
    pub unique_chatters: i64,
    /// Unique chatters whose first observation ever in the channel is in this stream.
    pub new_chatters: i64,
    /// Unique minus new.
    pub returning_chatters: i64,
    /// Users whose message carried `first-msg=1`.
    pub first_time_chatters: i64,
    /// Most counted users in one snapshot (IRC-only: most present at once).
    pub peak_chatters: i64,
    /// Messages.
    pub messages: i64,
    /// Unique chatters without a message.
    pub lurkers: i64,
    /// Share of the previous stream's unique chatters who are unique chatters here
    /// (`null` for a channel's first stream).
    pub retention: Option<f64>,
    /// Known bots seen in the stream (excluded from everything above).
    pub known_bots: i64,
    /// Viewers, categories, watch time and regulars (`crate::audience`).
    #[serde(flatten)]
    pub audience: AudienceFigures,
    /// Messages per minute at the busiest minute, and the stream's mood totals
    /// (`peak_messages_per_minute`, `peak_activity_at`, `mood`).
    #[serde(flatten)]
    pub chat: crate::signals::StreamChat,
}

/// The part of [`StreamFigures`] that `!stats`, `!chatters`, `!lurkers` and `!new` show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// See [`StreamFigures::unique_chatters`].
    pub unique_chatters: i64,
    /// See [`StreamFigures::new_chatters`].
    pub new_chatters: i64,
    /// See [`StreamFigures::returning_chatters`].
    pub returning_chatters: i64,
    /// See [`StreamFigures::peak_chatters`].
    pub peak_chatters: i64,
    /// See [`StreamFigures::messages`].
    pub messages: i64,
    /// See [`StreamFigures::lurkers`].
    pub lurkers: i64,
}

impl From<&StreamFigures> for StreamStats {
    fn from(f: &StreamFigures) -> Self {
        Self {
            unique_chatters: f.unique_chatters,
            new_chatters: f.new_chatters,
            returning_chatters: f.returning_chatters,
            peak_chatters: f.peak_chatters,
            messages: f.messages,
            lurkers: f.lurkers,
        }
    }
}

/// A raid with its retention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaidFigures {
    /// Raiding channel.
    pub from_login: Login,
    /// Viewers announced.
    pub viewers: i64,
    /// When.
    pub at: Timestamp,
    /// Of the users first observed in the channel within 5 minutes after the raid, the share
    /// observed again 30 minutes or more after it, in the same stream (`null`: nobody arrived).
    pub retention: Option<f64>,
    /// How many arrived.
    #[serde(skip)]
    pub arrivals: i64,
}

/// Chatters shared by two channels over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Overlap {
    /// Unique chatters of the first channel.
    pub a: i64,
    /// Unique chatters of the second channel.
    pub b: i64,
    /// Chatters of both.
    pub shared: i64,
}

/// One account-creation day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountDay {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Accounts created that day.
    pub count: i64,
    /// At least the threshold.
    pub flagged: bool,
    /// Logins, for flagged days only.
    pub logins: Vec<Login>,
}

/// Account-age clusters of a set of chatters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountClusters {
    /// Window start.
    pub since: Timestamp,
    /// Window end.
    pub until: Timestamp,
    /// Chatters considered.
    pub total: i64,
    /// `max(10, 2% of total)`, rounded up: days with at least this many accounts are flagged.
    pub threshold: i64,
    /// Days by count, descending (then by date).
    pub days: Vec<AccountDay>,
}

/// What `!seen` shows about a user in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The user in the channel (`None`: known user, never seen in this channel).
    pub record: Option<ChannelUser>,
    /// Account creation.
    pub created_at: Option<Timestamp>,
    /// Every login, oldest first (the current one last).
    pub names: Vec<NameRecord>,
}

/// Groups accounts by creation day; `total` is the number of chatters considered (accounts
/// whose creation time is unknown count in it but in no day).
pub fn cluster_accounts(
    total: usize,
    accounts: &[(UserId, Login, Timestamp)],
    since: Timestamp,
    until: Timestamp,
) -> AccountClusters {
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    // max(10, 2% of chatters), as an integer: the smallest count that is >= 2%.
    let threshold = 10.max((total * 2 + 99) / 100);
    let mut by_day: BTreeMap<String, Vec<&Login>> = BTreeMap::new();
    for (_, login, created) in accounts {
        by_day.entry(created.date()).or_default().push(login);
    }
    let mut days: Vec<AccountDay> = by_day
        .into_iter()
        .map(|(date, mut logins)| {
            let count = i64::try_from(logins.len()).unwrap_or(i64::MAX);
            let flagged = count >= threshold;
            logins.sort();
            AccountDay {
                date,
                count,
                flagged,
                logins: if flagged {
                    logins.into_iter().cloned().collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    days.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.date.cmp(&b.date)));
    AccountClusters {
        since,
        until,
        total,
        threshold,
        days,
    }
}
