//! The names channel settings are stored under, the command names a `commands.<name>` rule may
//! name, and the bounds of the command cooldown. Nothing outside [`super`] spells a setting name.

use std::time::Duration;

/// `public_page on|off`.
pub(super) const PUBLIC_PAGE: &str = "public_page";
/// `weekly_digest on|off`.
pub(super) const WEEKLY_DIGEST: &str = "weekly_digest";
/// `commands.cooldown <duration>`.
pub(super) const COOLDOWN: &str = "commands.cooldown";
/// Prefix of `commands.<name> off|mods|everyone` (and of [`COOLDOWN`]).
pub(super) const COMMANDS: &str = "commands.";
/// `discord_webhook <url>|none`.
pub(super) const DISCORD_WEBHOOK: &str = "discord_webhook";
/// `slack_webhook <url>|none`.
pub(super) const SLACK_WEBHOOK: &str = "slack_webhook";
/// Prefix of `mood.<mood>.add|remove <word>` (stored as `mood.<mood>.<word>` = add|remove).
pub(super) const MOOD: &str = "mood.";
/// The stored value of a switch that is on.
pub(super) const ON: &str = "on";
/// The stored value of a switch that is off.
pub(super) const OFF: &str = "off";

/// Every chat command's name: what a `commands.<name>` rule may name.
pub const COMMAND_NAMES: [&str; 17] = [
    "chatters",
    "new",
    "seen",
    "stats",
    "top",
    "lurkers",
    "overlap",
    "raid",
    "accounts",
    "chart",
    "optout",
    "optin",
    "viewers",
    "watchtime",
    "regulars",
    "emotes",
    "mood",
];

/// The command cooldown of a channel that did not set `commands.cooldown`.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);

/// The longest `commands.cooldown` accepted.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(3_600);
