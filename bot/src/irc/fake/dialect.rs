//! The fake server's answers to what a client says, in Twitch's dialect.

use super::state::{Sent, Shared, State};

/// The bot's USERSTATE in `channel` (a moderator there when the test says so).
fn userstate(out: &mut String, state: &State, nick: &str, channel: &str) {
    let (badges, moderator) = if state.moderator_in.contains(channel) {
        ("moderator/1", 1)
    } else {
        ("", 0)
    };
    out.push_str(&format!(
        "@badge-info=;badges={badges};color=;display-name={nick};emote-sets=0;mod={moderator};subscriber=0;user-type= :tmi.twitch.tv USERSTATE #{channel}\r\n"
    ));
}

/// Records `line` from connection `id` and returns the answer (CRLF lines) and whether to hang up.
pub(super) fn respond(shared: &Shared, id: u64, line: &str) -> (String, bool) {
    let mut state = shared.lock();
    state.sent.push(Sent {
        conn: id,
        line: line.to_owned(),
        at: std::time::Instant::now(),
    });
    // Client tags (`@reply-parent-msg-id=… PRIVMSG …`) do not change the command.
    let untagged = match line.strip_prefix('@') {
        Some(tagged) => tagged.split_once(' ').map_or("", |(_, rest)| rest),
        None => line,
    };
    let (command, rest) = untagged.split_once(' ').unwrap_or((untagged, ""));
    let nick = state.conns[&id]
        .nick
        .clone()
        .unwrap_or_else(|| "*".to_owned());
    let mut out = String::new();
    let mut close = false;
    match command {
        "CAP" => {
            let caps = rest.strip_prefix("REQ :").unwrap_or(rest);
            out.push_str(&format!(":tmi.twitch.tv CAP * ACK :{caps}\r\n"));
        }
        "PASS" => {
            if let Some(c) = state.conns.get_mut(&id) {
                c.pass = true;
            }
        }
        "NICK" => {
            let fail = state.fail_logins;
            let pass = state.conns[&id].pass;
            if let Some(c) = state.conns.get_mut(&id) {
                c.nick = Some(rest.to_owned());
            }
            if fail {
                out.push_str(":tmi.twitch.tv NOTICE * :Login authentication failed\r\n");
                close = true;
            } else {
                welcome(&mut out, rest, pass);
            }
        }
        "JOIN" => {
            for channel in rest.split(',').filter_map(|c| c.strip_prefix('#')) {
                let room = state.room_id(channel);
                if let Some(c) = state.conns.get_mut(&id) {
                    c.channels.insert(channel.to_owned());
                }
                out.push_str(&format!(
                    ":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{channel}\r\n\
                     :{nick}.tmi.twitch.tv 353 {nick} = #{channel} :{nick}\r\n\
                     :{nick}.tmi.twitch.tv 366 {nick} #{channel} :End of /NAMES list\r\n"
                ));
                userstate(&mut out, &state, &nick, channel);
                out.push_str(&format!(
                    "@emote-only=0;followers-only=-1;r9k=0;room-id={room};slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #{channel}\r\n"
                ));
            }
        }
        "PART" => {
            for channel in rest.split(',').filter_map(|c| c.strip_prefix('#')) {
                if let Some(c) = state.conns.get_mut(&id) {
                    c.channels.remove(channel);
                }
                out.push_str(&format!(
                    ":{nick}!{nick}@{nick}.tmi.twitch.tv PART #{channel}\r\n"
                ));
            }
        }
        "PRIVMSG" => {
            // Twitch answers the sender of a chat message with its USERSTATE there.
            if let Some(channel) = rest.split(' ').next().and_then(|c| c.strip_prefix('#')) {
                userstate(&mut out, &state, &nick, channel);
            }
        }
        "PING" => {
            let arg = rest.strip_prefix(':').unwrap_or(rest);
            out.push_str(&format!(":tmi.twitch.tv PONG tmi.twitch.tv :{arg}\r\n"));
        }
        "PONG" => {
            if let Some(c) = state.conns.get_mut(&id) {
                c.pongs += 1;
            }
        }
        _ => {}
    }
    (out, close)
}

fn welcome(out: &mut String, nick: &str, authenticated: bool) {
    for (code, text) in [
        ("001", "Welcome, GLHF!"),
        ("002", "Your host is tmi.twitch.tv"),
        ("003", "This server is rather new"),
        ("004", "-"),
        ("375", "-"),
        ("372", "You are in a maze of twisty passages, all alike."),
        ("376", ">"),
    ] {
        out.push_str(&format!(":tmi.twitch.tv {code} {nick} :{text}\r\n"));
    }
    if authenticated {
        out.push_str(&format!(
            "@badge-info=;badges=;color=;display-name={nick};emote-sets=0;user-id=900;user-type= :tmi.twitch.tv GLOBALUSERSTATE\r\n"
        ));
    }
}
