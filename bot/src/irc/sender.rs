//! Sending chat messages through a running [`IrcSession`](super::IrcSession).
//!
//! twitch-irc's `say` prefixes every message with `. ` to defuse commands; chatters instead
//! cleans the text itself ([`clean`]) and sends a plain PRIVMSG, threaded with
//! `reply-parent-msg-id` when it answers a message.

use std::sync::Weak;

use chatters_core::domain::Login;
use twitch_irc::login::LoginCredentials;
use twitch_irc::message::{IRCMessage, IRCTags};

use super::connector::Client;
use super::error::IrcError;

/// Sends chat messages through a running session; fails with [`IrcError::Closed`] once the
/// session has ended (it never keeps the connections alive by itself).
#[derive(Debug)]
pub struct IrcSender<L: LoginCredentials> {
    client: Weak<Client<L>>,
}

impl<L: LoginCredentials> Clone for IrcSender<L> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
        }
    }
}

impl<L: LoginCredentials> IrcSender<L> {
    pub(super) fn new(client: Weak<Client<L>>) -> Self {
        Self { client }
    }

    /// Says `text` (cleaned, see [`clean`]) in `channel` as a reply to the message whose Twitch
    /// `id` is `reply_to`.
    pub async fn say_in_reply_to(
        &self,
        channel: &Login,
        reply_to: &str,
        text: &str,
    ) -> Result<(), IrcError> {
        let mut tags = IRCTags::new();
        tags.0
            .insert("reply-parent-msg-id".to_owned(), clean(reply_to));
        self.send(tags, channel, text).await
    }

    /// Says `text` (cleaned, see [`clean`]) in `channel`.
    pub async fn say(&self, channel: &Login, text: &str) -> Result<(), IrcError> {
        self.send(IRCTags::new(), channel, text).await
    }

    async fn send(&self, tags: IRCTags, channel: &Login, text: &str) -> Result<(), IrcError> {
        let client = self.client.upgrade().ok_or(IrcError::Closed)?;
        let params = vec![format!("#{channel}"), clean(text)];
        let message = IRCMessage::new(tags, None, "PRIVMSG".to_owned(), params);
        client
            .send_message(message)
            .await
            .map_err(|e| IrcError::Send(e.to_string()))
    }
}

/// Makes `text` safe to send as chat: line breaks and other control characters become spaces
/// (no IRC command can be smuggled in), and leading `/`, `.` and spaces are dropped (no chat
/// command runs).
pub fn clean(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.trim_start_matches(['/', '.', ' '])
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_defuses_line_breaks_and_commands() {
        let cases = [
            ("hello", "hello"),
            ("a\r\nPRIVMSG #x :b", "a  PRIVMSG #x :b"),
            ("/ban someone", "ban someone"),
            (". /timeout x", "timeout x"),
            ("  .me waves", "me waves"),
            ("1.5 / 2", "1.5 / 2"),
            ("\u{1}ACTION hi\u{1}", "ACTION hi"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "{input:?}");
        }
    }
}
