//! Fakes of Twitch for the integration tests and examples (cargo feature `fake`; never in the
//! shipped binary).
//!
//! - [`fake_helix`]: a Helix/OAuth HTTP server speaking Twitch's documented JSON, with real
//!   per-token rate-limit buckets, failure injection and a record of every call.
//! - [`fake_emotes`]: 7TV, BetterTTV and FrankerFaceZ APIs with the real paths and JSON.
//! - [`webhook_sink`]: an HTTP server standing in for Discord and Slack webhooks.

pub mod fake_emotes;
pub mod fake_helix;
pub mod webhook_sink;

use crate::irc::fake::FakeIrc;
use fake_helix::{CLIENT_ID, CLIENT_SECRET, FakeHelix};

/// The settings that point a whole process (`chatters run`) at the fake Twitch, signed in as
/// `bot_login` with `token` (which the caller registers in `helix`, e.g. with
/// [`fake_helix::FakeToken::user`]). Callers add the database, the web address and intervals.
pub fn process_vars(
    irc: &FakeIrc,
    helix: &FakeHelix,
    bot_login: &str,
    token: &str,
) -> Vec<(String, String)> {
    [
        ("TWITCH_IRC_URL", irc.url().to_string()),
        ("TWITCH_HELIX_URL", helix.helix_url().to_string()),
        ("TWITCH_OAUTH2_URL", helix.oauth2_url().to_string()),
        ("TWITCH_CLIENT_ID", CLIENT_ID.to_owned()),
        ("TWITCH_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("TWITCH_BOT_LOGIN", bot_login.to_owned()),
        ("TWITCH_BOT_TOKEN", token.to_owned()),
        // No emote provider on the internet from a test.
        ("SEVENTV_API_URL", "off".to_owned()),
        ("BTTV_API_URL", "off".to_owned()),
        ("FFZ_API_URL", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
