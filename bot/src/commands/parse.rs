//! The pure chat-command parser: prefix, case-insensitive name, arguments with bounds.
//!
//! `parse` answers `None` for anything that is not one of our commands (no reply at all), and
//! `Some(Err(usage))` for one of ours with a wrong argument (a one-line usage reply).

use chatters_core::domain::Login;

/// Largest `n` accepted by `!new` and `!top`.
pub const MAX_N: usize = 25;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `!chatters`: present now, unique and new this stream.
    Chatters,
    /// `!new [n]`: the newest new chatters (default 10).
    New(usize),
    /// `!seen <user>`.
    Seen(Login),
    /// `!stats`.
    Stats,
    /// `!top [n]` (default 5).
    Top(usize),
    /// `!lurkers`.
    Lurkers,
    /// `!overlap <channel>`.
    Overlap(Login),
    /// `!raid`.
    Raid,
    /// `!accounts`.
    Accounts,
    /// `!chart`.
    Chart,
    /// `!optout`.
    OptOut,
    /// `!optin`.
    OptIn,
    /// `!viewers`: viewers now, peak, chatters per viewer, category.
    Viewers,
    /// `!watchtime [user]` (default: the asker).
    Watchtime(Option<Login>),
    /// `!regulars`.
    Regulars,
    /// `!emotes`: the stream's top 5 emotes.
    Emotes,
    /// `!mood`: the top 3 moods of the last 10 minutes.
    Mood,
}

impl Command {
    /// The command's name (settings keys, cooldowns, logs).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Chatters => "chatters",
            Self::New(_) => "new",
            Self::Seen(_) => "seen",
            Self::Stats => "stats",
            Self::Top(_) => "top",
            Self::Lurkers => "lurkers",
            Self::Overlap(_) => "overlap",
            Self::Raid => "raid",
            Self::Accounts => "accounts",
            Self::Chart => "chart",
            Self::OptOut => "optout",
            Self::OptIn => "optin",
            Self::Viewers => "viewers",
            Self::Watchtime(_) => "watchtime",
            Self::Regulars => "regulars",
            Self::Emotes => "emotes",
            Self::Mood => "mood",
        }
    }

    /// Every command name, for settings validation.
    pub const NAMES: [&'static str; chatters_core::channel_settings::COMMAND_NAMES.len()] =
        chatters_core::channel_settings::COMMAND_NAMES;
}

/// A wrong argument: the usage line to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub &'static str);

fn count(arg: Option<&str>, default: usize, usage: &'static str) -> Result<usize, Usage> {
    match arg {
        None => Ok(default),
        Some(a) => match a.parse::<usize>() {
            Ok(n) if (1..=MAX_N).contains(&n) => Ok(n),
            _ => Err(Usage(usage)),
        },
    }
}

fn login(arg: Option<&str>, usage: &'static str) -> Result<Login, Usage> {
    arg.and_then(|a| Login::parse(a).ok()).ok_or(Usage(usage))
}

/// The name of the command a chat line asks for (one of [`Command::NAMES`]), whether or not
/// its arguments are right: access is checked before a usage line is answered.
pub fn name_of(prefix: &str, text: &str) -> Option<&'static str> {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{E0000}');
    let rest = text.strip_prefix(prefix)?;
    let name = rest.split_whitespace().next()?;
    if rest.starts_with(char::is_whitespace) {
        return None;
    }
    Command::NAMES
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(name))
}

/// Parses a chat line. Leading/trailing whitespace and Twitch's invisible anti-duplicate
/// suffix (U+E0000) are ignored; extra arguments are ignored.
pub fn parse(prefix: &str, text: &str) -> Option<Result<Command, Usage>> {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{E0000}');
    let rest = text.strip_prefix(prefix)?;
    if rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut words = rest.split_whitespace();
    let name = words.next()?;
    if name.len() > 16 {
        return None;
    }
    let name = name.to_ascii_lowercase();
    let arg = words.next();
    let parsed = match name.as_str() {
        "chatters" => Ok(Command::Chatters),
        "new" => count(arg, 10, "usage: !new [1-25]").map(Command::New),
        "seen" => login(arg, "usage: !seen <user>").map(Command::Seen),
        "stats" => Ok(Command::Stats),
        "top" => count(arg, 5, "usage: !top [1-25]").map(Command::Top),
        "lurkers" => Ok(Command::Lurkers),
        "overlap" => login(arg, "usage: !overlap <channel>").map(Command::Overlap),
        "raid" => Ok(Command::Raid),
        "accounts" => Ok(Command::Accounts),
        "chart" => Ok(Command::Chart),
        "optout" => Ok(Command::OptOut),
        "optin" => Ok(Command::OptIn),
        "viewers" => Ok(Command::Viewers),
        "watchtime" => match arg {
            None => Ok(Command::Watchtime(None)),
            Some(_) => login(arg, "usage: !watchtime [user]").map(|l| Command::Watchtime(Some(l))),
        },
        "regulars" => Ok(Command::Regulars),
        "emotes" => Ok(Command::Emotes),
        "mood" => Ok(Command::Mood),
        _ => return None,
    };
    Some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(s: &str) -> Login {
        Login::parse(s).expect("valid")
    }

    #[test]
    fn parses_the_command_table() {
        let cases: &[(&str, Option<Result<Command, Usage>>)] = &[
            ("!chatters", Some(Ok(Command::Chatters))),
            ("!emotes", Some(Ok(Command::Emotes))),
            ("!MOOD now", Some(Ok(Command::Mood))),
            ("!STATS", Some(Ok(Command::Stats))),
            ("  !Stats  extra words", Some(Ok(Command::Stats))),
            ("!new", Some(Ok(Command::New(10)))),
            ("!new 3", Some(Ok(Command::New(3)))),
            ("!new 25", Some(Ok(Command::New(25)))),
            ("!new 26", Some(Err(Usage("usage: !new [1-25]")))),
            ("!new 0", Some(Err(Usage("usage: !new [1-25]")))),
            ("!new -1", Some(Err(Usage("usage: !new [1-25]")))),
            ("!new ten", Some(Err(Usage("usage: !new [1-25]")))),
            (
                "!new 99999999999999999999999",
                Some(Err(Usage("usage: !new [1-25]"))),
            ),
            ("!top", Some(Ok(Command::Top(5)))),
            ("!top 7", Some(Ok(Command::Top(7)))),
            ("!seen @SomeUser", Some(Ok(Command::Seen(l("someuser"))))),
            ("!seen someuser", Some(Ok(Command::Seen(l("someuser"))))),
            ("!seen", Some(Err(Usage("usage: !seen <user>")))),
            ("!seen ünïcødé", Some(Err(Usage("usage: !seen <user>")))),
            ("!seen a;DROP", Some(Err(Usage("usage: !seen <user>")))),
            // Line breaks are whitespace: injected words only ever become a validated login.
            (
                "!seen \r\nPRIVMSG #x :hi",
                Some(Ok(Command::Seen(l("privmsg")))),
            ),
            ("!seen x\r\n:tmi PRIVMSG", Some(Ok(Command::Seen(l("x"))))),
            ("!overlap #Forsen", Some(Ok(Command::Overlap(l("forsen"))))),
            ("!overlap", Some(Err(Usage("usage: !overlap <channel>")))),
            ("!raid", Some(Ok(Command::Raid))),
            ("!accounts", Some(Ok(Command::Accounts))),
            ("!chart", Some(Ok(Command::Chart))),
            ("!lurkers", Some(Ok(Command::Lurkers))),
            ("!optout", Some(Ok(Command::OptOut))),
            ("!OptIn", Some(Ok(Command::OptIn))),
            ("!viewers", Some(Ok(Command::Viewers))),
            ("!regulars", Some(Ok(Command::Regulars))),
            ("!watchtime", Some(Ok(Command::Watchtime(None)))),
            (
                "!WatchTime @Alice",
                Some(Ok(Command::Watchtime(Some(l("alice"))))),
            ),
            (
                "!watchtime a;b",
                Some(Err(Usage("usage: !watchtime [user]"))),
            ),
            ("!stats \u{E0000}", Some(Ok(Command::Stats))),
            ("!unknown", None),
            ("stats", None),
            ("!", None),
            ("! stats", None),
            ("hello !stats", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(&parse("!", input), expected, "{input:?}");
        }
    }

    #[test]
    fn names_are_found_whatever_the_arguments() {
        assert_eq!(name_of("!", "!NEW ten"), Some("new"));
        assert_eq!(name_of("!", "!seen"), Some("seen"));
        assert_eq!(name_of("!", "! seen x"), None);
        assert_eq!(name_of("!", "!unknown"), None);
        assert_eq!(name_of("?", "!stats"), None);
        assert_eq!(name_of("?", "?Stats"), Some("stats"));
    }

    #[test]
    fn the_prefix_is_configurable() {
        assert_eq!(parse("?", "?stats"), Some(Ok(Command::Stats)));
        assert_eq!(parse("?", "!stats"), None);
        assert_eq!(parse("~~", "~~top 2"), Some(Ok(Command::Top(2))));
    }

    #[test]
    fn very_long_input_is_ignored_or_bounded() {
        let long = format!("!{}", "a".repeat(10_000));
        assert_eq!(parse("!", &long), None);
        let long_arg = format!("!seen {}", "b".repeat(10_000));
        assert_eq!(
            parse("!", &long_arg),
            Some(Err(Usage("usage: !seen <user>")))
        );
    }
}
