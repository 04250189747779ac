//! Emote-heavy chat text for the load: words drawn from what busy Twitch chats type (Twitch
//! global emotes with their `emotes` tag positions, popular 7TV, BetterTTV and FrankerFaceZ
//! names, channel emotes, and plain words), and the third-party sets the fake providers serve.

use std::fmt::Write as _;

/// Twitch global emotes: `(id, name)`; their positions go in the `emotes` tag.
pub const TWITCH: [(&str, &str); 8] = [
    ("25", "Kappa"),
    ("425618", "LUL"),
    ("305954156", "PogChamp"),
    ("86", "BibleThump"),
    ("41", "Kreygasm"),
    ("33", "DansGame"),
    ("88", "PogChamp"),
    ("354", "4Head"),
];

/// Popular third-party emote names (globals and the channel sets of the fakes).
pub const THIRD_PARTY: [&str; 20] = [
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

/// Plain words (a few of them in the mood lexicon).
pub const WORDS: [&str; 24] = [
    "lol", "that", "was", "insane", "gg", "the", "what", "no", "way", "hype", "he", "is", "so",
    "bad", "chat", "lmao", "actually", "W", "L", "true", "bro", "this", "game", "omg",
];

/// Channel emotes every channel has at 7TV (`chanEmote0` …), so each channel's map is full size.
pub const CHANNEL_EMOTES: usize = 300;

/// `(id, name)` pairs of one set.
pub type Pairs = Vec<(String, String)>;

/// The sets the fake 7TV, BetterTTV and FrankerFaceZ serve: `(global, every channel)` each.
pub fn provider_sets() -> [(Pairs, Pairs); 3] {
    let pairs = |names: &[&str], prefix: &str| -> Vec<(String, String)> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{prefix}{i}"), (*n).to_owned()))
            .collect()
    };
    let mut seventv_channel = pairs(&THIRD_PARTY[..10], "7c");
    seventv_channel
        .extend((0..CHANNEL_EMOTES).map(|i| (format!("7x{i}"), format!("chanEmote{i}"))));
    [
        (pairs(&THIRD_PARTY[10..20], "7g"), seventv_channel),
        (
            pairs(&THIRD_PARTY[..6], "bg"),
            pairs(&THIRD_PARTY[6..14], "bc"),
        ),
        (
            pairs(&["ZreknarF", "LilZ"], "1"),
            pairs(&["OMEGALUL", "monkaW"], "2"),
        ),
    ]
}

/// Appends a message of 3 to 12 words (about a third Twitch emotes, a third third-party
/// emotes or channel emotes) to `text`, and its `emotes` tag to `tag`.
pub fn message(rand: &mut impl FnMut() -> u64, text: &mut String, tag: &mut String) {
    let words = 3 + rand() % 10;
    let mut pos = 0usize;
    let mut positions: Vec<(&str, Vec<(usize, usize)>)> = Vec::new();
    for i in 0..words {
        if i > 0 {
            text.push(' ');
            pos += 1;
        }
        let word: String = match rand() % 3 {
            0 => {
                let (id, name) = TWITCH[(rand() % TWITCH.len() as u64) as usize];
                match positions.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, p)) => p.push((pos, pos + name.len() - 1)),
                    None => positions.push((id, vec![(pos, pos + name.len() - 1)])),
                }
                name.to_owned()
            }
            1 if rand().is_multiple_of(4) => format!("chanEmote{}", rand() % CHANNEL_EMOTES as u64),
            1 => THIRD_PARTY[(rand() % THIRD_PARTY.len() as u64) as usize].to_owned(),
            _ => WORDS[(rand() % WORDS.len() as u64) as usize].to_owned(),
        };
        pos += word.len();
        text.push_str(&word);
    }
    for (i, (id, spans)) in positions.iter().enumerate() {
        if i > 0 {
            tag.push('/');
        }
        let _ = write!(tag, "{id}:");
        for (j, (a, b)) in spans.iter().enumerate() {
            if j > 0 {
                tag.push(',');
            }
            let _ = write!(tag, "{a}-{b}");
        }
    }
}
