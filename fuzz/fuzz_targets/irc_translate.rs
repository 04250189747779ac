//! IRC line → events: any line twitch-irc parses is translated (raw and typed, as the live
//! client and the import's slow path do) and prepared for identity resolution without a panic.
#![no_main]

use chatters_bot::irc::translate::{translate, translate_irc};
use chatters_bot::observed::Observed;
use chatters_core::domain::{Login, Timestamp};
use libfuzzer_sys::fuzz_target;
use twitch_irc::message::{IRCMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(irc) = IRCMessage::parse(line) else {
        return;
    };
    let Ok(own) = Login::parse("chattersbot") else {
        return;
    };
    let at = Timestamp(1_700_000_000);
    let observed = match ServerMessage::try_from(irc.clone()) {
        Ok(typed) => translate(&typed, at, &own),
        Err(_) => translate_irc(&irc, at, &own),
    };
    for o in observed {
        let _ = Observed::for_identity(o);
    }
});
