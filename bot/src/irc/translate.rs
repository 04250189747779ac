//! Pure translation of Twitch IRC messages into [`Observed`]s.
//!
//! It reads the raw tags, prefix and parameters (`ServerMessage::source()`) rather than
//! twitch-irc's typed structs: the crate turns lines that lack a tag it insists on (e.g. a
//! PRIVMSG without `badges`) into `ServerMessage::Generic`, and those must count all the same.
//! A line that cannot become an event (no `user-id`, an unparsable login) is skipped with a
//! `debug!`; nothing here panics on input.

use chatters_core::channel_settings::Role;
use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::event::{Badge, Event, Message, UserRef};
use tracing::debug;
use twitch_irc::message::{IRCMessage, IRCPrefix, ServerMessage};

use crate::observed::{CommandLine, Observed};

/// NOTICE texts by which Twitch (and its older servers) reject a login.
const LOGIN_FAILURES: [&str; 5] = [
    "Login authentication failed",
    "Improperly formatted auth",
    "Login unsuccessful",
    "Error logging in",
    "Invalid NICK",
];

/// Translates one message received at `received_at`. `own` is the bot's login: its own
/// JOIN/PART echoes are not events. Returns no event for PING, PONG, ROOMSTATE and the like,
/// two for a raid (the raider's observation, then the raid).
pub fn translate(msg: &ServerMessage, received_at: Timestamp, own: &Login) -> Vec<Observed> {
    translate_irc(msg.source(), received_at, own)
}

/// [`translate`] on the raw IRC message (what `ServerMessage::source()` returns).
pub fn translate_irc(msg: &IRCMessage, received_at: Timestamp, own: &Login) -> Vec<Observed> {
    let result = match msg.command.as_str() {
        "PRIVMSG" => message(msg, received_at, Kind::Privmsg).map(|m| vec![m]),
        "USERNOTICE" => usernotice(msg, received_at),
        "JOIN" | "PART" => membership(msg, received_at, own).map(|e| e.into_iter().collect()),
        "CLEARCHAT" => ban(msg, received_at).map(|e| e.into_iter().collect()),
        "NOTICE" => Ok(vec![notice(msg)]),
        "RECONNECT" => Ok(vec![Observed::Reconnect]),
        _ => Ok(Vec::new()),
    };
    result.unwrap_or_else(|reason| {
        debug!(
            command = %msg.command,
            channel = msg.params.first().map(String::as_str).unwrap_or(""),
            reason,
            "IRC line skipped"
        );
        Vec::new()
    })
}

type Skip = &'static str;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Privmsg,
    UserNotice,
}

/// A tag's value, `None` when absent or empty.
fn tag<'a>(msg: &'a IRCMessage, key: &str) -> Option<&'a str> {
    msg.tags
        .0
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn flag(msg: &IRCMessage, key: &str) -> bool {
    tag(msg, key) == Some("1")
}

/// The `#channel` parameter.
fn channel(msg: &IRCMessage) -> Result<Login, Skip> {
    let raw = msg.params.first().ok_or("no channel parameter")?;
    let name = raw.strip_prefix('#').ok_or("channel parameter without #")?;
    Login::parse(name).map_err(|_| "invalid channel login")
}

fn nick(msg: &IRCMessage) -> Option<&str> {
    match &msg.prefix {
        Some(IRCPrefix::Full { nick, .. }) => Some(nick),
        _ => None,
    }
}

/// `tmi-sent-ts`, else the receive time.
fn sent_at(msg: &IRCMessage, received_at: Timestamp) -> Timestamp {
    tag(msg, "tmi-sent-ts")
        .and_then(|v| v.parse::<i64>().ok())
        .map_or(received_at, Timestamp::from_millis)
}

fn badges(msg: &IRCMessage) -> Vec<Badge> {
    badges_of(tag(msg, "badges"))
}

/// The badges of a `badges` tag's value (trimmed, `None` when absent or empty).
pub(super) fn badges_of(raw: Option<&str>) -> Vec<Badge> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    raw.split(',')
        .filter(|b| !b.is_empty())
        .map(|b| {
            let (name, version) = b.split_once('/').unwrap_or((b, ""));
            Badge {
                name: name.to_owned(),
                version: version.to_owned(),
            }
        })
        .collect()
}

/// A PRIVMSG, or a USERNOTICE from a user, as an [`Event::Message`].
fn message(msg: &IRCMessage, received_at: Timestamp, kind: Kind) -> Result<Observed, Skip> {
    let channel = channel(msg)?;
    let login = match kind {
        Kind::Privmsg => nick(msg).or_else(|| tag(msg, "login")),
        Kind::UserNotice => tag(msg, "login").or_else(|| nick(msg)),
    }
    .ok_or("no sender login")?;
    let login = Login::parse(login).map_err(|_| "invalid sender login")?;
    let by_login = kind == Kind::Privmsg && tag(msg, "user-id").is_none();
    let id = if by_login {
        // Resolved from the login by the identity module.
        UserId(0)
    } else {
        UserId::parse(tag(msg, "user-id").ok_or("no user-id tag")?)
            .map_err(|_| "invalid user-id tag")?
    };
    let has_text = match kind {
        Kind::Privmsg => true,
        Kind::UserNotice => msg.params.get(1).is_some_and(|t| !t.trim().is_empty()),
    };
    let user = UserRef {
        id,
        login,
        display_name: tag(msg, "display-name").map(str::to_owned),
    };
    let wrap = |m: Box<Message>| {
        if by_login {
            Observed::MessageByLogin(m)
        } else {
            Observed::Event(Event::Message(m))
        }
    };
    Ok(wrap(Box::new(Message {
        channel,
        user,
        at: sent_at(msg, received_at),
        room_id: tag(msg, "room-id").and_then(|v| UserId::parse(v).ok()),
        source_room_id: tag(msg, "source-room-id").and_then(|v| UserId::parse(v).ok()),
        first_msg: flag(msg, "first-msg"),
        returning_chatter: flag(msg, "returning-chatter"),
        badges: badges(msg),
        has_text,
        id: tag(msg, "id").map(str::to_owned),
        signals: Default::default(),
    })))
}

/// A USERNOTICE: the user's observation (a message when they typed text), and for
/// `msg-id=raid` the raid after it.
fn usernotice(msg: &IRCMessage, received_at: Timestamp) -> Result<Vec<Observed>, Skip> {
    let observed = message(msg, received_at, Kind::UserNotice)?;
    if tag(msg, "msg-id") != Some("raid") {
        return Ok(vec![observed]);
    }
    let Observed::Event(Event::Message(m)) = &observed else {
        return Ok(vec![observed]);
    };
    let from = UserRef {
        id: m.user.id,
        login: tag(msg, "msg-param-login")
            .and_then(|l| Login::parse(l).ok())
            .unwrap_or_else(|| m.user.login.clone()),
        display_name: tag(msg, "msg-param-displayName")
            .map(str::to_owned)
            .or_else(|| m.user.display_name.clone()),
    };
    let Some(viewers) = tag(msg, "msg-param-viewerCount").and_then(|v| v.parse::<u64>().ok())
    else {
        debug!(channel = %m.channel, "raid without a valid msg-param-viewerCount: observation only");
        return Ok(vec![observed]);
    };
    let raid = Observed::Event(Event::Raid {
        channel: m.channel.clone(),
        from,
        viewers,
        at: m.at,
    });
    Ok(vec![observed, raid])
}

/// Another user's JOIN or PART (the bot's own echoes give nothing).
fn membership(msg: &IRCMessage, at: Timestamp, own: &Login) -> Result<Option<Observed>, Skip> {
    let channel = channel(msg)?;
    let login = Login::parse(nick(msg).ok_or("no sender nick")?).map_err(|_| "invalid login")?;
    if &login == own {
        return Ok(None);
    }
    Ok(Some(if msg.command == "JOIN" {
        Observed::Join { channel, login, at }
    } else {
        Observed::Part { channel, login, at }
    }))
}

/// CLEARCHAT with a target user: a ban or a timeout. A whole-chat clear gives nothing.
fn ban(msg: &IRCMessage, received_at: Timestamp) -> Result<Option<Observed>, Skip> {
    let channel = channel(msg)?;
    let Some(target) = msg.params.get(1) else {
        return Ok(None);
    };
    let login = Login::parse(target).map_err(|_| "invalid target login")?;
    let user_id = UserId::parse(tag(msg, "target-user-id").ok_or("no target-user-id tag")?)
        .map_err(|_| "invalid target-user-id tag")?;
    Ok(Some(Observed::Ban {
        channel,
        user_id,
        login,
        at: sent_at(msg, received_at),
        duration_secs: tag(msg, "ban-duration").and_then(|d| d.parse().ok()),
    }))
}

fn notice(msg: &IRCMessage) -> Observed {
    let text = msg.params.get(1).map(|t| t.trim()).unwrap_or("").to_owned();
    let failed = LOGIN_FAILURES
        .iter()
        .any(|f| text.trim_end_matches('.').eq_ignore_ascii_case(f));
    if failed {
        return Observed::LoginFailed { text };
    }
    Observed::Notice {
        channel: channel(msg).ok(),
        msg_id: tag(msg, "msg-id").map(str::to_owned),
        text,
    }
}

/// The command side of a line, for a session that answers commands with `prefix`: a PRIVMSG
/// starting with it becomes an [`Observed::Command`] (sent after the line's message event), a
/// USERSTATE the bot's [`Observed::OwnRole`]. Shared-chat lines from another channel
/// (`source-room-id` ≠ `room-id`) are answered in their own channel only, so they give nothing
/// here; so do lines without a message id or user id (nothing to reply to or to check).
pub fn translate_chat(
    msg: &IRCMessage,
    received: std::time::Instant,
    prefix: &str,
) -> Option<Observed> {
    match msg.command.as_str() {
        "PRIVMSG" => command_line(msg, received, prefix).map(|c| Observed::Command(Box::new(c))),
        "USERSTATE" => {
            let channel = channel(msg).ok()?;
            let moderator = flag(msg, "mod") || Role::from_badges(&badges(msg)) >= Role::Moderator;
            Some(Observed::OwnRole { channel, moderator })
        }
        _ => None,
    }
}

fn command_line(
    msg: &IRCMessage,
    received: std::time::Instant,
    prefix: &str,
) -> Option<CommandLine> {
    let text = msg.params.get(1)?;
    if prefix.is_empty() || !text.trim_start().starts_with(prefix) {
        return None;
    }
    let room = tag(msg, "room-id");
    if tag(msg, "source-room-id").is_some_and(|source| Some(source) != room) {
        return None;
    }
    Some(CommandLine {
        channel: channel(msg).ok()?,
        channel_id: room.and_then(|v| UserId::parse(v).ok()),
        message_id: tag(msg, "id")?.to_owned(),
        user: UserId::parse(tag(msg, "user-id")?).ok()?,
        login: Login::parse(nick(msg).or_else(|| tag(msg, "login"))?).ok()?,
        badges: badges(msg),
        text: text.clone(),
        received,
    })
}

#[cfg(test)]
mod tests;
