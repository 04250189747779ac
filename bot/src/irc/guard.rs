//! Bytes twitch-irc cannot take, mended on the way in.
//!
//! twitch-irc 6.1.3 reads the `color` tag by byte offsets (`&value[1..3]`, ...): a value with a
//! multi-byte character at such an offset panics inside its connection task ("byte index is not
//! a char boundary", found by fuzzing `irc_translate`), and that connection reads nothing more.
//! Twitch itself only sends `#RRGGBB`, but a line is input, and input never panics. The
//! socket's reads pass through a [`Guard`], which replaces every non-ASCII byte of a `color`
//! value by `0` in place (the length stays, so nothing else moves): the line parses, with a
//! color that is wrong only where the line was.

/// Where the guard is in the stream of lines (reads split lines anywhere).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line.
    #[default]
    LineStart,
    /// In a tag's key; `len` bytes of it match `color` so far (6: it is not `color`).
    Key { len: u8 },
    /// In the value of the `color` tag.
    Color,
    /// In another tag's value.
    Value,
    /// Past the tags, up to the end of the line.
    Rest,
}

/// The state of one connection's incoming bytes.
#[derive(Debug, Default)]
pub struct Guard {
    state: State,
}

const COLOR: &[u8] = b"color";

impl Guard {
    /// Mends `bytes`, the next bytes read from the connection, in place.
    ///
    /// Past the tags and inside a value other than `color`'s, nothing is mended until the
    /// byte that ends it: those stretches (most of every line) are skipped with `memchr`.
    pub fn mend(&mut self, bytes: &mut [u8]) {
        let mut i = 0;
        while i < bytes.len() {
            let skip = match self.state {
                State::Rest => memchr::memchr(b'\n', &bytes[i..]),
                State::Value => memchr::memchr3(b';', b' ', b'\n', &bytes[i..]),
                _ => Some(0),
            };
            let Some(skip) = skip else {
                return;
            };
            i += skip;
            self.state = step(self.state, &mut bytes[i]);
            i += 1;
        }
    }
}

/// The state after byte `b` (mended in place where it is in a `color` value).
fn step(state: State, b: &mut u8) -> State {
    match (state, *b) {
        (_, b'\n') => State::LineStart,
        (State::LineStart, b'@') => State::Key { len: 0 },
        (State::LineStart, _) => State::Rest,
        (State::Key { len: 5 }, b'=') => State::Color,
        (State::Key { .. }, b'=') => State::Value,
        (State::Key { .. } | State::Color | State::Value, b';') => State::Key { len: 0 },
        (State::Key { .. } | State::Color | State::Value, b' ') => State::Rest,
        (State::Key { len }, c) => State::Key {
            len: if usize::from(len) < COLOR.len() && COLOR[usize::from(len)] == c {
                len + 1
            } else {
                6
            },
        },
        (State::Color, c) if c >= 0x80 => {
            *b = b'0';
            State::Color
        }
        (state, _) => state,
    }
}

/// Mends one whole line (what the socket's [`Guard`] does to it).
pub fn mend_line(line: &mut [u8]) {
    Guard::default().mend(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "@badges=;color=#1ǹ6E6;display-name=a;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :ǹ color=ǹ\r\n";

    fn mended(text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        mend_line(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn only_the_color_value_is_mended() {
        assert_eq!(
            mended(HOSTILE),
            "@badges=;color=#1006E6;display-name=a;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :ǹ color=ǹ\r\n"
        );
        for untouched in [
            "@colorx=ǹ;xcolor=ǹ;display-name=ǹ :a PRIVMSG #c :x\r\n",
            ":a!a@a PRIVMSG #c :color=ǹ\r\n",
            "@color=#FF0000 :a PRIVMSG #c :ǹ\r\n",
        ] {
            assert_eq!(mended(untouched), untouched);
        }
    }

    /// Every byte through [`step`], none skipped: what the guard must equal.
    fn mend_bytewise(bytes: &mut [u8]) {
        let mut state = State::default();
        for b in bytes {
            state = step(state, b);
        }
    }

    #[test]
    fn skipping_changes_no_byte_of_real_or_hostile_lines() {
        let corpus = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/corpus/twitch-irc-real.txt"
        ))
        .expect("the corpus (testdata/corpus)");
        // The whole file, and each line alone.
        let lines: Vec<Vec<u8>> = corpus
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        assert!(lines.len() > 100, "{} lines", lines.len());
        let corpus = std::iter::once(corpus.clone()).chain(lines);
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Random lines from the bytes that steer the guard, and multi-byte characters.
        let alphabet: [&[u8]; 10] = [
            b"@",
            b"color",
            b"=",
            b";",
            b" ",
            b"\n",
            b"\xc7\xb9",
            b"x",
            b"col",
            b"\r",
        ];
        let random = (0..300).map(|_| {
            (0..next() % 80)
                .flat_map(|_| alphabet[(next() % 10) as usize].to_vec())
                .collect::<Vec<u8>>()
        });
        let mut inputs: Vec<Vec<u8>> = corpus.chain(random).collect();
        inputs.push(format!("{HOSTILE}{HOSTILE}").into_bytes());
        for input in inputs {
            let mut expected = input.clone();
            mend_bytewise(&mut expected);
            let mut whole = input.clone();
            Guard::default().mend(&mut whole);
            assert_eq!(whole, expected, "{:?}", String::from_utf8_lossy(&input));
            // Split into reads of random sizes.
            let mut split = input.clone();
            let mut guard = Guard::default();
            let mut rest = split.as_mut_slice();
            while !rest.is_empty() {
                let cut = (next() as usize % 64 + 1).min(rest.len());
                let (a, b) = rest.split_at_mut(cut);
                guard.mend(a);
                rest = b;
            }
            assert_eq!(split, expected, "{:?}", String::from_utf8_lossy(&input));
        }
    }

    #[test]
    fn reads_split_anywhere_give_the_same_bytes() {
        let two = format!("{HOSTILE}{HOSTILE}");
        let mut whole = two.as_bytes().to_vec();
        Guard::default().mend(&mut whole);
        for cut in 0..two.len() {
            let mut bytes = two.as_bytes().to_vec();
            let mut guard = Guard::default();
            let (a, b) = bytes.split_at_mut(cut);
            guard.mend(a);
            guard.mend(b);
            assert_eq!(bytes, whole, "cut at {cut}");
        }
    }

    #[test]
    fn the_fuzzers_line_parses_after_mending() {
        let kept = include_str!("../../../testdata/fuzz/irc_translate-color-char-boundary.txt");
        // As read, twitch-irc 6.1.3's typed parse panics on it.
        let raw = twitch_irc::message::IRCMessage::parse(kept.trim_end()).expect("IRC line");
        let panicked = std::panic::catch_unwind(|| {
            let _ = twitch_irc::message::ServerMessage::try_from(raw);
        });
        assert!(
            panicked.is_err(),
            "twitch-irc no longer panics here: the guard may go"
        );
        let mut bytes = kept.trim_end().as_bytes().to_vec();
        mend_line(&mut bytes);
        let line = String::from_utf8(bytes).expect("still UTF-8");
        let irc = twitch_irc::message::IRCMessage::parse(&line).expect("IRC line");
        let msg = twitch_irc::message::ServerMessage::try_from(irc).expect("typed parse");
        let twitch_irc::message::ServerMessage::Privmsg(p) = msg else {
            panic!("not a PRIVMSG: {msg:?}");
        };
        assert_eq!(p.sender.login, "randers");
        assert_eq!(
            p.name_color,
            Some(twitch_irc::message::RGBColor {
                r: 0x10,
                g: 0x06,
                b: 0xE6
            })
        );
    }
}
