//! The chat-command parser and the reply cleaner, on any chat text: no panic, `name_of` and
//! `parse` agree, arguments stay in bounds, and a reply never carries a control character,
//! never starts with `/` or `.` and never exceeds 500 characters.
#![no_main]

use chatters_bot::commands::parse::{self, Command, MAX_N};
use chatters_bot::commands::reply::{MAX_CHARS, Reply};
use libfuzzer_sys::fuzz_target;

/// Prefixes `COMMAND_PREFIX` may hold: the default, another character, a multi-byte one and
/// two characters.
const PREFIXES: [&str; 4] = ["!", "?", "¡", "!!"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let prefix = PREFIXES[usize::from(first) % PREFIXES.len()];
    let text = String::from_utf8_lossy(rest);

    let name = parse::name_of(prefix, &text);
    let parsed = parse::parse(prefix, &text);
    assert_eq!(name.is_some(), parsed.is_some(), "{text:?}");
    match parsed {
        Some(Ok(command)) => {
            assert_eq!(Some(command.name()), name, "{text:?}");
            if let Command::New(n) | Command::Top(n) = command {
                assert!((1..=MAX_N).contains(&n), "{text:?} gave n = {n}");
            }
        }
        Some(Err(usage)) => assert_safe(&Reply::new(usage.0)),
        None => {}
    }
    assert_safe(&Reply::new(&text));
});

fn assert_safe(reply: &Reply) {
    let s = reply.as_str();
    assert!(!s.chars().any(char::is_control), "{s:?}");
    assert!(!s.starts_with(['/', '.']), "{s:?}");
    assert!(s.chars().count() <= MAX_CHARS, "{s:?}");
}
