//! One chat line to what identity resolution takes: read on the socket's side
//! (`super::divert`), so that the connection tasks share the work across the runtime's threads
//! instead of queueing it all for the one `irc` task (which measured busy 97% of the time at
//! 67,000 msgs/s when it read every line itself).
//!
//! The scanner ([`super::scan`]) reads nearly every line; the unusual ones it leaves go through
//! twitch-irc's parse and [`translate_irc`] / [`translate_chat`], as the crate's own messages do.
//! Either way each message's emotes and moods are scanned once here with its channel's
//! matcher (`super::signals`), and the text goes no further.

use std::borrow::Cow;
use std::time::Instant;

use chatters_core::domain::{Login, Timestamp};
use chatters_core::signals::Registry;
use twitch_irc::message::IRCMessage;

use super::scan::{Detail, Fields};
use super::translate::{translate_chat, translate_irc};
use crate::observed::Observed;

/// What reading a chat line needs of its session.
#[derive(Debug, Clone)]
pub struct LineReader {
    /// The session's login (its own JOIN/PART echoes are not events).
    own: Login,
    /// `COMMAND_PREFIX` when the session answers chat commands.
    prefix: Option<String>,
    /// The matchers messages are scanned with.
    signals: Registry,
}

impl LineReader {
    /// A reader for the session logged in as `own`.
    pub fn new(own: Login, prefix: Option<String>, signals: Registry) -> Self {
        Self {
            own,
            prefix,
            signals,
        }
    }

    /// The session's login.
    pub fn own(&self) -> &Login {
        &self.own
    }

    /// Appends the observations of `raw` (one chat line without its line ending, received at
    /// `received` / `now`) to `out`, in order: its events, then its command.
    pub fn read(&self, raw: &[u8], received: Timestamp, now: Instant, out: &mut Vec<Observed>) {
        // Not UTF-8: the invalid bytes replaced (twitch-irc's reader would close the
        // connection on it).
        let line = match std::str::from_utf8(raw) {
            Ok(line) => Cow::Borrowed(line),
            Err(_) => String::from_utf8_lossy(raw),
        };
        let start = out.len();
        if let Some(fields) = Fields::parse(&line) {
            fields.observe(received, &self.own, Detail::Full, out);
            for event in &mut out[start..] {
                super::signals::annotate(&self.signals, fields.text(), fields.emotes(), event);
            }
            let command = self
                .prefix
                .as_deref()
                .and_then(|prefix| fields.command_line(now, prefix));
            out.extend(command.map(|c| Observed::Command(Box::new(c))));
            return;
        }
        let msg = match IRCMessage::parse(&line) {
            Ok(msg) => msg,
            Err(error) => {
                tracing::debug!(%error, "line that is not IRC: skipped");
                return;
            }
        };
        let chat = self
            .prefix
            .as_deref()
            .and_then(|prefix| translate_chat(&msg, now, prefix));
        let text = msg.params.get(1).map(String::as_str);
        let emotes = msg.tags.0.get("emotes").map(String::as_str);
        for mut event in translate_irc(&msg, received, &self.own)
            .into_iter()
            .chain(chat)
        {
            super::signals::annotate(&self.signals, text, emotes, &mut event);
            // Chat lines give events and commands only: what concerns the connection (login,
            // notices, the bot's role) comes through twitch-irc.
            out.extend(event.for_identity());
        }
    }
}
