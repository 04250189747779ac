//! The import's line reading: the timestamp prefix, then the fast scanner (shared with the live
//! client). On every line the scanner accepts it must read exactly what twitch-irc followed by
//! `translate_irc` reads (with `Detail::Counted` badges and message id aside, which the import
//! never stores), `tmi-sent-ts` included, and the live client's command line as
//! `translate_chat` reads it.
#![no_main]

use chatters::import::read::split_prefix;
use chatters_bot::irc::scan::{Detail, Fields};
use chatters_bot::irc::translate::{translate_chat, translate_irc};
use chatters_bot::observed::Observed;
use chatters_core::domain::{Login, Timestamp};
use chatters_core::event::Event;
use libfuzzer_sys::fuzz_target;
use twitch_irc::message::IRCMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(own) = Login::parse("justinfan") else {
        return;
    };
    let (prefix, line) = split_prefix(text);
    let at = prefix.unwrap_or(Timestamp(1_700_000_000));
    let Some(fields) = Fields::parse(line) else {
        return;
    };
    let mut fast = Vec::new();
    fields.observe(at, &own, Detail::Counted, &mut fast);
    let mut full = Vec::new();
    fields.observe(at, &own, Detail::Full, &mut full);

    let Ok(msg) = IRCMessage::parse(line) else {
        panic!("the scanner accepted a line twitch-irc refuses: {line:?}");
    };
    let mut reference: Vec<Observed> = translate_irc(&msg, at, &own)
        .into_iter()
        .filter_map(Observed::for_identity)
        .collect();
    assert_eq!(full, reference, "{line:?}");
    let received = std::time::Instant::now();
    let command = translate_chat(&msg, received, "!").and_then(|o| match o {
        Observed::Command(c) => Some(*c),
        _ => None,
    });
    assert_eq!(fields.command_line(received, "!"), command, "{line:?}");
    for o in &mut reference {
        if let Observed::Event(Event::Message(m)) | Observed::MessageByLogin(m) = o {
            m.badges.clear();
            m.id = None;
        }
    }
    assert_eq!(fast, reference, "{line:?}");
    let sent = msg
        .tags
        .0
        .get("tmi-sent-ts")
        .and_then(|v| v.trim().parse().ok());
    assert_eq!(fields.sent_ms(), sent, "{line:?}");
});
