//! Internal row keys of channels and streams (not Twitch's ids, which may be unknown at first).

/// Internal key of a channel row (not the Twitch id, which may be unknown at first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKey(pub i64);

/// Internal key of a stream row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey(pub i64);
