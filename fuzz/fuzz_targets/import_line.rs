//! The import's line reading: the timestamp prefix, then the fast scanner. On every line the
//! scanner accepts it must read exactly what twitch-irc followed by `translate_irc` reads
//! (badges and message id aside, which the import never stores), `tmi-sent-ts` included.
#![no_main]

use chatters::import::read::split_prefix;
use chatters::import::scan::Fields;
use chatters_bot::irc::translate::translate_irc;
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
    fields.observe(at, &own, &mut fast);

    let Ok(msg) = IRCMessage::parse(line) else {
        panic!("the scanner accepted a line twitch-irc refuses: {line:?}");
    };
    let mut reference: Vec<Observed> = translate_irc(&msg, at, &own)
        .into_iter()
        .filter_map(Observed::for_identity)
        .collect();
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
