//! Who may use a command: the asker's [`Role`] from their badges, and a channel's [`Access`]
//! rule for a command (`commands.<name> off|mods|everyone`).

use crate::event::Badge;

/// The asker's standing in the channel, from their badges.
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

/// A channel's rule for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nobody.
    Off,
    /// Broadcaster and moderators.
    Mods,
    /// Everyone.
    Everyone,
}

impl Access {
    /// Parses a value, with the synonyms older stored values may hold.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" | "disabled" | "false" => Some(Self::Off),
            "mods" | "moderators" | "on" => Some(Self::Mods),
            "everyone" | "all" => Some(Self::Everyone),
            _ => None,
        }
    }

    /// The value stored (and shown): `off`, `mods` or `everyone`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Mods => "mods",
            Self::Everyone => "everyone",
        }
    }

    /// The rule of a command a channel did not set: everyone may opt out and back in, the
    /// rest is for the broadcaster and moderators.
    pub fn default_for(command: &str) -> Self {
        match command {
            "optout" | "optin" => Self::Everyone,
            _ => Self::Mods,
        }
    }

    /// Whether `role` may use the command.
    pub fn allows(self, role: Role) -> bool {
        match self {
            Self::Off => false,
            Self::Mods => role >= Role::Moderator,
            Self::Everyone => true,
        }
    }
}
