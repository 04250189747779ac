//! A channel's probe: does it exist, is its public page on, and its *data version*, which
//! changes whenever data that charts show arrives (a series point, a stream starting or ending,
//! a raid).
//!
//! Reading it costs five small indexed queries; after the first probe the series and raid
//! queries only look past the latest times already known, so they return a handful of rows.
//! The store has no single "latest change" read, and web instances may run apart from the
//! ingesting one, so the version is read from the database rather than pushed.

use std::hash::{Hash, Hasher};

use chatters_core::channel_settings::ChannelSettings;
use chatters_core::domain::{Login, Timestamp};
use chatters_core::store::{Channel, Store, StoreError};

/// How far back the first probe of a channel looks for its latest series point.
const FIRST_LOOK_BACK: i64 = 24 * 3600;

/// What a request needs to know about a channel before serving a chart or page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelProbe {
    /// The channel row (`None`: no such channel).
    pub channel: Option<Channel>,
    /// False when the channel switched its public page off.
    pub public: bool,
    /// Changes whenever new chart data arrives for the channel.
    pub version: u64,
    /// Latest series point known: `(at, chatters)`.
    last_point: Option<(Timestamp, i64)>,
    /// Latest raid known.
    last_raid: Option<Timestamp>,
}

/// Reads the probe of `login`; `previous` (the last probe, however old) bounds the queries.
pub(crate) async fn probe(
    store: &Store,
    login: &Login,
    previous: Option<&ChannelProbe>,
    now: Timestamp,
) -> Result<ChannelProbe, StoreError> {
    let Some(channel) = store.channel(login).await? else {
        return Ok(ChannelProbe {
            channel: None,
            public: false,
            version: 0,
            last_point: None,
            last_raid: None,
        });
    };
    let public = ChannelSettings::load(store, channel.key).await?.public_page;
    let latest_stream = store.streams(channel.key, 1).await?.into_iter().next();
    // A previous probe of another channel row (removed and re-added) says nothing about this one.
    let previous = previous.filter(|p| p.channel.as_ref().map(|c| c.key) == Some(channel.key));
    let since = previous
        .and_then(|p| p.last_point)
        .map_or(now.plus(-FIRST_LOOK_BACK), |(at, _)| at);
    let last_point = store
        .series(channel.key, since, Timestamp(i64::MAX))
        .await?
        .last()
        .map(|p| (p.at, p.chatters))
        .or(previous.and_then(|p| p.last_point));
    let raids_since = previous
        .and_then(|p| p.last_raid)
        .unwrap_or(Timestamp(i64::MIN));
    let raids = store
        .raids(channel.key, raids_since, Timestamp(i64::MAX))
        .await?;
    let last_raid = raids
        .last()
        .map(|r| r.at)
        .or(previous.and_then(|p| p.last_raid));

    let mut hasher = rustc_hash::FxHasher::default();
    channel.key.hash(&mut hasher);
    last_point.hash(&mut hasher);
    latest_stream
        .as_ref()
        .map(|s| (s.key, s.ended_at, s.irc_peak))
        .hash(&mut hasher);
    last_raid.hash(&mut hasher);
    Ok(ChannelProbe {
        channel: Some(channel),
        public,
        version: hasher.finish(),
        last_point,
        last_raid,
    })
}
