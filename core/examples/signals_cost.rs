//! Micro-benchmark of the chat-signal scan: one channel's matcher with full sets (the shipped
//! mood lexicon, 7TV/BetterTTV/FrankerFaceZ globals and a 7TV channel set of 300 emotes, as
//! `irc_load` serves them) over 200,000 emote-heavy messages (3-12 words: a third Twitch
//! emotes with their `emotes` tag, a third third-party or channel emotes, a third words).
//! Prints nanoseconds per message and per word on one core.
//!
//! ```sh
//! cargo run --release -p chatters-core --example signals_cost
//! ```

use std::sync::Arc;
use std::time::Instant;

use chatters_core::signals::{EmoteSet, Lexicon, Matcher, Provider, Shared};

const TWITCH: [(&str, &str); 6] = [
    ("25", "Kappa"),
    ("425618", "LUL"),
    ("305954156", "PogChamp"),
    ("86", "BibleThump"),
    ("41", "Kreygasm"),
    ("354", "4Head"),
];
const THIRD: [&str; 20] = [
    "KEKW",
    "OMEGALUL",
    "catJAM",
    "Sadge",
    "monkaS",
    "EZ",
    "Clap",
    "POGGERS",
    "peepoLove",
    "WeirdChamp",
    "LULW",
    "PepeHands",
    "COPIUM",
    "Aware",
    "ICANT",
    "widepeepoHappy",
    "PauseChamp",
    "forsenE",
    "Madge",
    "xdd",
];
const WORDS: [&str; 24] = [
    "lol", "that", "was", "insane", "gg", "the", "what", "no", "way", "hype", "he", "is", "so",
    "bad", "chat", "lmao", "actually", "W", "L", "true", "bro", "this", "game", "omg",
];

fn set(provider: Provider, names: impl Iterator<Item = String>) -> EmoteSet {
    EmoteSet {
        provider,
        emotes: names
            .enumerate()
            .map(|(i, n)| (format!("{provider}-{i}"), n))
            .collect(),
    }
}

fn main() {
    let own = |s: &[&str]| s.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let globals = [
        set(Provider::SevenTv, own(&THIRD[10..]).into_iter()),
        set(Provider::Bttv, own(&THIRD[..6]).into_iter()),
        set(Provider::Ffz, own(&["ZreknarF", "LilZ"]).into_iter()),
    ];
    let channel = [
        set(
            Provider::SevenTv,
            own(&THIRD[..10])
                .into_iter()
                .chain((0..300).map(|i| format!("chanEmote{i}"))),
        ),
        set(Provider::Bttv, own(&THIRD[6..14]).into_iter()),
        set(Provider::Ffz, own(&["OMEGALUL", "monkaW"]).into_iter()),
    ];
    let matcher = Matcher::new(
        Arc::new(Shared::new(&Lexicon::shipped(), &globals)),
        &channel,
        &[],
    );

    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut messages: Vec<(String, String)> = Vec::new();
    let mut words = 0usize;
    for _ in 0..200_000 {
        let n = 3 + rand() % 10;
        let (mut text, mut tag) = (String::new(), String::new());
        for i in 0..n {
            if i > 0 {
                text.push(' ');
            }
            let pos = text.chars().count();
            match rand() % 3 {
                0 => {
                    let (id, name) = TWITCH[(rand() % 6) as usize];
                    if !tag.is_empty() {
                        tag.push('/');
                    }
                    tag.push_str(&format!("{id}:{pos}-{}", pos + name.len() - 1));
                    text.push_str(name);
                }
                1 if rand().is_multiple_of(4) => {
                    text.push_str(&format!("chanEmote{}", rand() % 300))
                }
                1 => text.push_str(THIRD[(rand() % 20) as usize]),
                _ => text.push_str(WORDS[(rand() % 24) as usize]),
            }
        }
        words += n as usize;
        messages.push((text, tag));
    }
    let mut best = f64::MAX;
    let mut found = 0usize;
    for _ in 0..7 {
        let started = Instant::now();
        for (text, tag) in &messages {
            let s = matcher.scan(text, Some(tag.as_str()).filter(|t| !t.is_empty()));
            found += s.emotes.len() + usize::from(!s.mood.is_empty());
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    assert!(found > 0);
    println!(
        "{} messages, {words} words: {:.0} ns per message, {:.1} ns per word (best of 7, one core)",
        messages.len(),
        best * 1e9 / messages.len() as f64,
        best * 1e9 / words as f64
    );
}
