//! A chatter's standing in a channel, read from their badges: what command access and the
//! bot's own chat rate limit depend on.

use crate::event::Badge;

/// A user's standing in a channel, from their badges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Anyone.
    Viewer,
    /// A moderator.
    Moderator,
    /// The channel's broadcaster.
    Broadcaster,
}

impl Role {
    /// The highest role the badges give.
    pub fn from_badges(badges: &[Badge]) -> Self {
        let mut role = Self::Viewer;
        for b in badges {
            match b.name.as_str() {
                "broadcaster" => role = role.max(Self::Broadcaster),
                "moderator" | "lead_moderator" => role = role.max(Self::Moderator),
                _ => {}
            }
        }
        role
    }
}
