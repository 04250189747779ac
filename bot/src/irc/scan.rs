//! A fast scanner for the lines chat is made of (PRIVMSG, USERNOTICE, JOIN, PART, CLEARCHAT),
//! used by the live client (`super::divert`) and the import: it reads only the tags, prefix and
//! parameters that become events, as borrowed slices, instead of building twitch-irc's full
//! message (a map of every tag, owned strings).
//!
//! It must agree with twitch-irc's `IRCMessage::parse` followed by
//! [`translate_irc`](super::translate::translate_irc) (and, for the live client,
//! [`translate_chat`](super::translate::translate_chat) and the signals' scan) on every line it
//! accepts: anything unusual (another command, an escaped value in a tag it reads, a stray CR,
//! empty middle parameters, a lowercase command) is left to that slow path ([`Fields::parse`]
//! gives `None`). With [`Detail::Counted`] what it builds leaves out what ingestion never reads
//! (badges, message id).

use chatters_core::domain::{Login, Timestamp, UserId};
use chatters_core::event::{Event, Message, UserRef};
use memchr::memchr;

use crate::observed::{CommandLine, Observed};

/// How much of a message [`Fields::observe`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// What ingestion reads (the import): no badges, no message id.
    Counted,
    /// Everything `translate_irc` gives (the live client: commands read badges and ids).
    Full,
}

/// The commands the scanner handles itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Privmsg,
    UserNotice,
    Join,
    Part,
    ClearChat,
}

/// What the import reads of one line, borrowed from it.
#[derive(Debug, Default)]
pub struct Fields<'a> {
    command: Option<Command>,
    nick: Option<&'a str>,
    channel: Option<&'a str>,
    second: Option<&'a str>,
    tmi_sent_ts: Option<&'a str>,
    user_id: Option<&'a str>,
    room_id: Option<&'a str>,
    source_room_id: Option<&'a str>,
    first_msg: Option<&'a str>,
    returning_chatter: Option<&'a str>,
    display_name: Option<&'a str>,
    login: Option<&'a str>,
    msg_id: Option<&'a str>,
    raid_login: Option<&'a str>,
    raid_display_name: Option<&'a str>,
    raid_viewers: Option<&'a str>,
    target_user_id: Option<&'a str>,
    ban_duration: Option<&'a str>,
    badges: Option<&'a str>,
    id: Option<&'a str>,
    emotes: Option<&'a str>,
}

/// A tag value as twitch-irc's `tag()` reads it: trimmed, `None` when empty.
fn value(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

impl<'a> Fields<'a> {
    /// Scans a line (without its line ending). `None`: not a line for the fast path (another
    /// command, or anything twitch-irc might read differently); parse it with twitch-irc.
    pub fn parse(line: &'a str) -> Option<Self> {
        if memchr(b'\r', line.as_bytes()).is_some() || memchr(b'\n', line.as_bytes()).is_some() {
            return None;
        }
        let mut fields = Fields::default();
        let mut rest = line;
        if let Some(after) = rest.strip_prefix('@') {
            let space = memchr(b' ', after.as_bytes())?;
            let tags = &after[..space];
            if tags.is_empty() {
                return None;
            }
            fields.tags(tags)?;
            rest = &after[space + 1..];
        }
        if let Some(after) = rest.strip_prefix(':') {
            let space = memchr(b' ', after.as_bytes())?;
            let prefix = &after[..space];
            if prefix.is_empty() {
                return None;
            }
            // twitch-irc: a prefix without `@` is a host only (no nick).
            if memchr(b'@', prefix.as_bytes()).is_some() {
                let nick_user = prefix.split_once('@').map_or(prefix, |(n, _)| n);
                fields.nick = Some(nick_user.split_once('!').map_or(nick_user, |(n, _)| n));
            }
            rest = &after[space + 1..];
        }
        let (command, params) = match memchr(b' ', rest.as_bytes()) {
            Some(space) => (&rest[..space], Some(&rest[space + 1..])),
            None => (rest, None),
        };
        fields.command = Some(match command {
            "PRIVMSG" => Command::Privmsg,
            "USERNOTICE" => Command::UserNotice,
            "JOIN" => Command::Join,
            "PART" => Command::Part,
            "CLEARCHAT" => Command::ClearChat,
            _ => return None,
        });
        if let Some(params) = params {
            fields.params(params)?;
        }
        Some(fields)
    }

    /// Reads the tags the import uses; the last of duplicated keys wins (as in twitch-irc's
    /// map). `None` for an escaped value among them (left to twitch-irc's decoding).
    fn tags(&mut self, tags: &'a str) -> Option<()> {
        for tag in tags.split(';') {
            let (key, value) = tag.split_once('=').unwrap_or((tag, ""));
            let slot = match key {
                "tmi-sent-ts" => &mut self.tmi_sent_ts,
                "user-id" => &mut self.user_id,
                "room-id" => &mut self.room_id,
                "source-room-id" => &mut self.source_room_id,
                "first-msg" => &mut self.first_msg,
                "returning-chatter" => &mut self.returning_chatter,
                "display-name" => &mut self.display_name,
                "login" => &mut self.login,
                "msg-id" => &mut self.msg_id,
                "msg-param-login" => &mut self.raid_login,
                "msg-param-displayName" => &mut self.raid_display_name,
                "msg-param-viewerCount" => &mut self.raid_viewers,
                "target-user-id" => &mut self.target_user_id,
                "ban-duration" => &mut self.ban_duration,
                "badges" => &mut self.badges,
                "id" => &mut self.id,
                "emotes" => &mut self.emotes,
                _ => continue,
            };
            if memchr(b'\\', value.as_bytes()).is_some() {
                return None;
            }
            *slot = Some(value);
        }
        Some(())
    }

    /// The first two parameters, split as twitch-irc does (`None` where it fails).
    fn params(&mut self, params: &'a str) -> Option<()> {
        let mut rest = Some(params);
        let mut index = 0;
        while let Some(part) = rest {
            let param = if let Some(trailing) = part.strip_prefix(':') {
                rest = None;
                trailing
            } else {
                let (param, tail) = match memchr(b' ', part.as_bytes()) {
                    Some(space) => (&part[..space], Some(&part[space + 1..])),
                    None => (part, None),
                };
                if param.is_empty() {
                    return None;
                }
                rest = tail;
                param
            };
            match index {
                0 => self.channel = Some(param),
                1 => self.second = Some(param),
                _ => {}
            }
            index += 1;
        }
        Some(())
    }

    /// `tmi-sent-ts` in milliseconds, when it is a number.
    pub fn sent_ms(&self) -> Option<i64> {
        value(self.tmi_sent_ts).and_then(|v| v.parse().ok())
    }

    /// The line's observations (as `translate_irc` then `Observed::for_identity` give them,
    /// with [`Detail::Counted`] less badges and message id) appended to `out`; `received_at`
    /// stands in for a missing `tmi-sent-ts`.
    pub fn observe(
        &self,
        received_at: Timestamp,
        own: &Login,
        detail: Detail,
        out: &mut Vec<Observed>,
    ) {
        match self.command {
            Some(Command::Privmsg) => {
                if let Some(m) = self.message(received_at, false, detail) {
                    out.push(m);
                }
            }
            Some(Command::UserNotice) => self.usernotice(received_at, detail, out),
            Some(Command::Join | Command::Part) => self.membership(received_at, own, out),
            Some(Command::ClearChat) => self.ban(received_at, out),
            None => {}
        }
    }

    fn channel(&self) -> Option<Login> {
        Login::parse(self.channel?.strip_prefix('#')?).ok()
    }

    fn at(&self, received_at: Timestamp) -> Timestamp {
        self.sent_ms().map_or(received_at, Timestamp::from_millis)
    }

    /// A message's text (a PRIVMSG's, or what a user typed into a USERNOTICE), for the signals'
    /// scan.
    pub fn text(&self) -> Option<&'a str> {
        match self.command {
            Some(Command::Privmsg | Command::UserNotice) => self.second,
            _ => None,
        }
    }

    /// The raw `emotes` tag, for the signals' scan.
    pub fn emotes(&self) -> Option<&'a str> {
        self.emotes
    }

    /// What [`translate_chat`](super::translate::translate_chat) gives for a PRIVMSG.
    pub fn command_line(&self, received: std::time::Instant, prefix: &str) -> Option<CommandLine> {
        if self.command != Some(Command::Privmsg) {
            return None;
        }
        let text = self.second?;
        if prefix.is_empty() || !text.trim_start().starts_with(prefix) {
            return None;
        }
        let room = value(self.room_id);
        if value(self.source_room_id).is_some_and(|source| Some(source) != room) {
            return None;
        }
        Some(CommandLine {
            channel: self.channel()?,
            channel_id: room.and_then(|v| UserId::parse(v).ok()),
            message_id: value(self.id)?.to_owned(),
            user: UserId::parse(value(self.user_id)?).ok()?,
            login: Login::parse(self.nick.or_else(|| value(self.login))?).ok()?,
            badges: super::translate::badges_of(value(self.badges)),
            text: text.to_owned(),
            received,
        })
    }

    fn message(&self, received_at: Timestamp, notice: bool, detail: Detail) -> Option<Observed> {
        let channel = self.channel()?;
        let login = if notice {
            value(self.login).or(self.nick)
        } else {
            self.nick.or_else(|| value(self.login))
        }?;
        let login = Login::parse(login).ok()?;
        let user_id = value(self.user_id);
        let by_login = !notice && user_id.is_none();
        let id = if by_login {
            UserId(0)
        } else {
            UserId::parse(user_id?).ok()?
        };
        let has_text = !notice || self.second.is_some_and(|t| !t.trim().is_empty());
        let message = Box::new(Message {
            channel,
            user: UserRef {
                id,
                login,
                display_name: value(self.display_name).map(str::to_owned),
            },
            at: self.at(received_at),
            room_id: value(self.room_id).and_then(|v| UserId::parse(v).ok()),
            source_room_id: value(self.source_room_id).and_then(|v| UserId::parse(v).ok()),
            first_msg: value(self.first_msg) == Some("1"),
            returning_chatter: value(self.returning_chatter) == Some("1"),
            badges: match detail {
                Detail::Counted => Vec::new(),
                Detail::Full => super::translate::badges_of(value(self.badges)),
            },
            has_text,
            id: match detail {
                Detail::Counted => None,
                Detail::Full => value(self.id).map(str::to_owned),
            },
            signals: Default::default(),
        });
        Some(if by_login {
            Observed::MessageByLogin(message)
        } else {
            Observed::Event(Event::Message(message))
        })
    }

    fn usernotice(&self, received_at: Timestamp, detail: Detail, out: &mut Vec<Observed>) {
        let Some(observed) = self.message(received_at, true, detail) else {
            return;
        };
        let raid = match &observed {
            Observed::Event(Event::Message(m)) if value(self.msg_id) == Some("raid") => {
                value(self.raid_viewers)
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(|viewers| Event::Raid {
                        channel: m.channel.clone(),
                        from: UserRef {
                            id: m.user.id,
                            login: value(self.raid_login)
                                .and_then(|l| Login::parse(l).ok())
                                .unwrap_or_else(|| m.user.login.clone()),
                            display_name: value(self.raid_display_name)
                                .map(str::to_owned)
                                .or_else(|| m.user.display_name.clone()),
                        },
                        viewers,
                        at: m.at,
                    })
            }
            _ => None,
        };
        out.push(observed);
        if let Some(raid) = raid {
            out.push(Observed::Event(raid));
        }
    }

    fn membership(&self, at: Timestamp, own: &Login, out: &mut Vec<Observed>) {
        let Some(channel) = self.channel() else {
            return;
        };
        let Some(login) = self.nick.and_then(|n| Login::parse(n).ok()) else {
            return;
        };
        if &login == own {
            return;
        }
        out.push(if self.command == Some(Command::Join) {
            Observed::Join { channel, login, at }
        } else {
            Observed::Part { channel, login, at }
        });
    }

    /// A permanent ban ends the user's presence (a part); a timeout or a clear gives nothing.
    fn ban(&self, received_at: Timestamp, out: &mut Vec<Observed>) {
        let Some(channel) = self.channel() else {
            return;
        };
        let Some(target) = self.second else {
            return;
        };
        let Ok(login) = Login::parse(target) else {
            return;
        };
        let valid_id = value(self.target_user_id).is_some_and(|v| UserId::parse(v).is_ok());
        let timeout = value(self.ban_duration).is_some_and(|d| d.parse::<u64>().is_ok());
        if valid_id && !timeout {
            out.push(Observed::Part {
                channel,
                login,
                at: self.at(received_at),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use twitch_irc::message::IRCMessage;

    use super::super::translate::{translate_chat, translate_irc};
    use super::*;

    const CORPUS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/corpus/twitch-irc-real.txt"
    );

    fn own() -> Login {
        Login::parse("justinfan").expect("a login")
    }

    /// twitch-irc's reading; with [`Detail::Counted`] without what the scanner then leaves out
    /// (badges, message id).
    fn reference(line: &str, at: Timestamp, detail: Detail) -> Option<Vec<Observed>> {
        let msg = IRCMessage::parse(line).ok()?;
        let mut out: Vec<Observed> = translate_irc(&msg, at, &own())
            .into_iter()
            .filter_map(Observed::for_identity)
            .collect();
        for o in &mut out {
            if let Observed::Event(Event::Message(m)) | Observed::MessageByLogin(m) = o
                && detail == Detail::Counted
            {
                m.badges.clear();
                m.id = None;
            }
        }
        Some(out)
    }

    /// The scanner's reading: `None` when it leaves the line to twitch-irc.
    fn scanned(line: &str, at: Timestamp, detail: Detail) -> Option<Vec<Observed>> {
        let fields = Fields::parse(line)?;
        let mut out = Vec::new();
        fields.observe(at, &own(), detail, &mut out);
        Some(out)
    }

    /// Asserts agreement on `line` (events at both details, the command, the text and the
    /// `emotes` tag the signals read); true when the scanner read it itself.
    fn agrees(line: &str) -> bool {
        let at = Timestamp(1_700_000_000);
        let received = std::time::Instant::now();
        let Some(fields) = Fields::parse(line) else {
            return false;
        };
        for detail in [Detail::Counted, Detail::Full] {
            let fast = scanned(line, at, detail);
            assert_eq!(fast, reference(line, at, detail), "{line}");
        }
        let msg = IRCMessage::parse(line).expect("twitch-irc parses what the scanner reads");
        let sent = msg
            .tags
            .0
            .get("tmi-sent-ts")
            .and_then(|v| v.trim().parse().ok());
        assert_eq!(fields.sent_ms(), sent, "{line}");
        for prefix in ["!", "?", ""] {
            assert_eq!(
                fields.command_line(received, prefix),
                translate_chat(&msg, received, prefix).and_then(|o| match o {
                    Observed::Command(c) => Some(*c),
                    _ => None,
                }),
                "{line}"
            );
        }
        if matches!(msg.command.as_str(), "PRIVMSG" | "USERNOTICE") {
            assert_eq!(
                fields.text(),
                msg.params.get(1).map(String::as_str),
                "{line}"
            );
            assert_eq!(
                fields.emotes(),
                msg.tags.0.get("emotes").map(String::as_str),
                "{line}"
            );
        }
        true
    }

    #[test]
    fn the_scanner_agrees_with_twitch_irc_on_every_corpus_line() {
        let corpus = std::fs::read_to_string(CORPUS).expect("the corpus");
        let mut fast = 0;
        let mut chat = 0;
        for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
            let command = IRCMessage::parse(line)
                .map(|m| m.command)
                .unwrap_or_default();
            if ["PRIVMSG", "USERNOTICE", "JOIN", "PART", "CLEARCHAT"].contains(&command.as_str()) {
                chat += 1;
            }
            if agrees(line) {
                fast += 1;
            }
        }
        // Nearly every chat line takes the fast path (a few carry escaped tag values).
        assert!(fast * 10 >= chat * 9, "{fast} of {chat} chat lines scanned");
    }

    #[test]
    fn the_scanner_agrees_on_unusual_lines_or_leaves_them_to_twitch_irc() {
        let lines = [
            "@user-id=1;tmi-sent-ts=1700000000123;room-id=5 :a!a@a.tmi.twitch.tv PRIVMSG #c :hi",
            "@user-id=1;display-name=A\\sB :a!a@a.tmi.twitch.tv PRIVMSG #c :hi",
            "@user-id=1;user-id=2 :a!a@a.tmi.twitch.tv PRIVMSG #c :last id wins",
            "@user-id;first-msg=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :no value",
            "@user-id= 7 ;first-msg= 1 :a!a@a.tmi.twitch.tv PRIVMSG #c :spaces",
            ":a!a@a.tmi.twitch.tv privmsg #c :lowercase",
            ":a!a@a.tmi.twitch.tv PRIVMSG  #c :two spaces",
            ":a!a@a.tmi.twitch.tv PRIVMSG #c",
            ":a!a@a.tmi.twitch.tv PRIVMSG c :no hash",
            ":tmi.twitch.tv PRIVMSG #c :host only",
            "@login=b :tmi.twitch.tv PRIVMSG #c :login tag",
            ":a!a@a.tmi.twitch.tv JOIN #c",
            ":a!a@a.tmi.twitch.tv JOIN :#c",
            ":justinfan!justinfan@justinfan.tmi.twitch.tv JOIN #c",
            ":a!a@a.tmi.twitch.tv PART #c",
            ":a JOIN #c",
            "@target-user-id=9;tmi-sent-ts=1700000001000 :tmi.twitch.tv CLEARCHAT #c :bad",
            "@target-user-id=9;ban-duration=600 :tmi.twitch.tv CLEARCHAT #c :bad",
            "@target-user-id=x :tmi.twitch.tv CLEARCHAT #c :bad",
            ":tmi.twitch.tv CLEARCHAT #c",
            "@msg-id=raid;user-id=3;login=r;msg-param-login=r;msg-param-viewerCount=6 :tmi.twitch.tv USERNOTICE #c",
            "@msg-id=raid;user-id=3;login=r;msg-param-viewerCount=x :tmi.twitch.tv USERNOTICE #c",
            "@msg-id=resub;user-id=3;login=r :tmi.twitch.tv USERNOTICE #c :  ",
            "@msg-id=resub;user-id=3;login=r :tmi.twitch.tv USERNOTICE #c :text",
            "@msg-id=resub;login=r :tmi.twitch.tv USERNOTICE #c :no id",
            "@user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :carriage\rreturn",
            "@ :a!a@a.tmi.twitch.tv PRIVMSG #c :empty tags",
            "PRIVMSG #c :no prefix",
            "@source-room-id=8;room-id=5;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :shared",
            "@id=m1;user-id=1;room-id=5;badges=moderator/1,subscriber/12 :a!a@a.tmi.twitch.tv PRIVMSG #c :!stats now",
            "@id=m1;user-id=1;room-id=5;badges=;emotes= :a!a@a.tmi.twitch.tv PRIVMSG #c : !top",
            "@id=m1;user-id=1;source-room-id=8;room-id=5 :a!a@a.tmi.twitch.tv PRIVMSG #c :!stats shared",
            "@id=m1;user-id=1;source-room-id=5;room-id=5 :a!a@a.tmi.twitch.tv PRIVMSG #c :!stats own",
            "@id=;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :!stats no id",
            "@id=m1;user-id=x :a!a@a.tmi.twitch.tv PRIVMSG #c :!stats bad user",
            "@id=m1;user-id=1;badges=a\\sb/1 :a!a@a.tmi.twitch.tv PRIVMSG #c :!stats escaped badge",
            "@id=m1;user-id=1;badges=broadcaster,vip/1, :a!a@a.tmi.twitch.tv PRIVMSG #c :odd badges",
            "@id=m1;user-id=1;emotes=25:0-4,6-10/1902:12-16 :a!a@a.tmi.twitch.tv PRIVMSG #c :Kappa Kappa Keepo",
            "@id=m1;user-id=1;msg-id=resub;login=a;emotes=25:0-4 :tmi.twitch.tv USERNOTICE #c :Kappa",
        ];
        for line in lines {
            agrees(line);
        }
        assert!(agrees(lines[0]), "an ordinary line is scanned");
        assert!(!agrees(lines[1]), "escaped values go to twitch-irc");
        assert!(!agrees(lines[5]), "lowercase commands go to twitch-irc");
        let commands = &lines[29..];
        assert!(commands[0].contains("!stats now") && agrees(commands[0]));
        assert!(
            !agrees(commands[6]),
            "an escaped value of a tag read (badges) goes to twitch-irc"
        );
        let fields = Fields::parse(commands[0]).expect("scanned");
        let command = fields
            .command_line(std::time::Instant::now(), "!")
            .expect("a command");
        assert_eq!(
            (
                command.text.as_str(),
                command.message_id.as_str(),
                command.badges.len()
            ),
            ("!stats now", "m1", 2)
        );
    }
}
