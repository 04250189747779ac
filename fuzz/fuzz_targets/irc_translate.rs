//! IRC line → events: any line twitch-irc parses is translated (raw and typed, as the live
//! client and the import's slow path do) and prepared for identity resolution without a panic.
#![no_main]

use chatters_bot::irc::translate::{translate, translate_irc};
use chatters_bot::observed::Observed;
use chatters_core::domain::{Login, Timestamp};
use libfuzzer_sys::fuzz_target;
use twitch_irc::message::{IRCMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    // What the live client's socket does to every line before twitch-irc sees it
    // (`chatters_bot::irc::guard`: a multi-byte `color` value panicked twitch-irc's parse).
    let mut bytes = data.to_vec();
    chatters_bot::irc::guard::mend_line(&mut bytes);
    let Ok(line) = std::str::from_utf8(&bytes) else {
        return;
    };
    let Ok(irc) = IRCMessage::parse(line) else {
        return;
    };
    let Ok(own) = Login::parse("chattersbot") else {
        return;
    };
    let at = Timestamp(1_700_000_000);
    // twitch-irc's typed parse subtracts past zero on an `emotes` range whose start lies past
    // its end (`testdata/fuzz/irc_translate-emote-range-overflow.txt`): a panic only with
    // overflow checks, as here; the release build and the test builds (`Cargo.toml`) wrap.
    // Such lines get the raw translation only, which must stand on its own anyway.
    // Likewise a ROOMSTATE whose `followers-only` minutes overflow `i64` as seconds
    // (`testdata/fuzz/irc_translate-followers-only-overflow.txt`).
    if inverted_emote_range(&irc) || followers_only_overflows(&irc) {
        for o in translate_irc(&irc, at, &own) {
            let _ = Observed::for_identity(o);
        }
        return;
    }
    let observed = match ServerMessage::try_from(irc.clone()) {
        Ok(typed) => translate(&typed, at, &own),
        Err(_) => translate_irc(&irc, at, &own),
    };
    for o in observed {
        let _ = Observed::for_identity(o);
    }
});

/// True when the `emotes` tag holds a range `start-end` with `start > end + 1` (or an end of
/// `usize::MAX`), which twitch-irc's typed parse cannot take with overflow checks on.
fn inverted_emote_range(irc: &IRCMessage) -> bool {
    let Some(tag) = irc.tags.0.get("emotes") else {
        return false;
    };
    tag.split('/')
        .filter_map(|e| e.split_once(':'))
        .flat_map(|(_, ranges)| ranges.split(','))
        .filter_map(|r| r.split_once('-'))
        .any(|(a, b)| match (a.parse::<usize>(), b.parse::<usize>()) {
            (Ok(a), Ok(b)) => b == usize::MAX || a > b + 1,
            _ => false,
        })
}

/// True when the `followers-only` tag is a number of minutes whose seconds overflow `i64`.
fn followers_only_overflows(irc: &IRCMessage) -> bool {
    irc.tags
        .0
        .get("followers-only")
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|n| n.checked_mul(60).is_none())
}
