use chatters_core::event::Event;

use super::*;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/corpus/twitch-irc-real.txt"
);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_head_is_read_as_twitch_irc_reads_it() {
    let cases: [(&str, &str, Option<&str>, Option<&str>); 7] = [
        (
            "@badges=;user-id=1 :a!a@a.tmi.twitch.tv PRIVMSG #c :hi there",
            "PRIVMSG",
            Some("a"),
            Some("#c"),
        ),
        (
            ":b!b@b.tmi.twitch.tv JOIN #c",
            "JOIN",
            Some("b"),
            Some("#c"),
        ),
        (
            ":b!b@b.tmi.twitch.tv PART :#c",
            "PART",
            Some("b"),
            Some("#c"),
        ),
        ("PING :tmi.twitch.tv", "PING", None, Some("tmi.twitch.tv")),
        (
            ":tmi.twitch.tv CLEARCHAT #c :x",
            "CLEARCHAT",
            None,
            Some("#c"),
        ),
        ("@only-tags", "", None, None),
        (":x@y", "", Some("x"), None),
    ];
    for (line, command, nick, first) in cases {
        let h = head(line.as_bytes());
        assert_eq!(text(h.command), command, "{line}");
        assert_eq!(h.nick.map(text).as_deref(), nick, "{line}");
        assert_eq!(h.first.map(text).as_deref(), first, "{line}");
    }
}

#[test]
fn chat_lines_are_ours_and_the_connections_lines_twitch_irc_s() {
    let own = "chattersbot";
    let cases = [
        (":a!a@a.tmi.twitch.tv PRIVMSG #c :hi", Route::Ours),
        ("@msg-id=raid :tmi.twitch.tv USERNOTICE #c", Route::Ours),
        (":tmi.twitch.tv CLEARCHAT #c :a", Route::Ours),
        (":a!a@a.tmi.twitch.tv JOIN #c", Route::Both),
        (":a!a@a.tmi.twitch.tv PART #c", Route::Both),
        (
            ":chattersbot!chattersbot@chattersbot.tmi.twitch.tv JOIN #c",
            Route::Crate,
        ),
        (
            ":chattersbot!chattersbot@chattersbot.tmi.twitch.tv PART #c",
            Route::Crate,
        ),
        ("@mod=1 :tmi.twitch.tv USERSTATE #c", Route::Crate),
        ("PING :tmi.twitch.tv", Route::Crate),
        (
            ":tmi.twitch.tv 001 chattersbot :Welcome, GLHF!",
            Route::Crate,
        ),
        (
            "@msg-id=x :tmi.twitch.tv NOTICE * :Login authentication failed",
            Route::Crate,
        ),
        (":tmi.twitch.tv RECONNECT", Route::Crate),
        (":a!a@a.tmi.twitch.tv privmsg #c :lowercase", Route::Crate),
    ];
    for (line, expected) in cases {
        assert_eq!(route(&head(line.as_bytes()), own), expected, "{line}");
    }
}

/// What a splitter made of a stream of bytes.
struct Split {
    /// The chat lines in the chunks.
    ours: Vec<String>,
    /// Their observations (signals left out).
    events: Vec<Observed>,
    /// The channels given as evidence, consecutive repeats once.
    channels: Vec<String>,
    /// What twitch-irc got.
    to_crate: String,
    /// The lines counted for the backlog.
    counted: usize,
}

fn reader() -> LineReader {
    let own = chatters_core::domain::Login::parse("chattersbot").expect("a login");
    LineReader::new(
        own,
        Some("!".into()),
        chatters_core::signals::Registry::default(),
    )
}

/// Feeds `bytes` in reads of the given sizes.
fn split_all(bytes: &[u8], sizes: &mut dyn Iterator<Item = usize>) -> Split {
    let (divert, mut chunks) = Divert::new(reader());
    let mut splitter = Splitter::new(Some(divert));
    let mut counted = 0;
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        counted += splitter.feed(&rest[..n]);
        rest = &rest[n..];
    }
    counted += splitter.finish();
    let mut split = Split {
        ours: Vec::new(),
        events: Vec::new(),
        channels: Vec::new(),
        to_crate: String::new(),
        counted,
    };
    while let Ok(chunk) = chunks.try_recv() {
        let mut in_chunk = 0;
        for line in lines_in(&chunk.lines) {
            if route(&head(line), "chattersbot").ours() {
                in_chunk += 1;
                split.ours.push(text(line));
            }
        }
        assert_eq!(in_chunk, chunk.ours, "a chunk counts its lines");
        for channel in chunk.channels() {
            if split.channels.last().map(String::as_bytes) != Some(channel) {
                split.channels.push(text(channel));
            }
        }
        split
            .events
            .extend(chunk.events.into_iter().map(without_signals));
    }
    split.to_crate = crate_bytes(&mut splitter);
    split
}

fn without_signals(mut o: Observed) -> Observed {
    if let Observed::Event(Event::Message(m)) | Observed::MessageByLogin(m) = &mut o {
        m.signals = Default::default();
    }
    o
}

/// twitch-irc's reading of a chat line, as the `irc` task made it before lines went past
/// twitch-irc (signals left out).
fn reference(line: &str) -> Vec<Observed> {
    let Ok(msg) = twitch_irc::message::IRCMessage::parse(line) else {
        return Vec::new();
    };
    let own = chatters_core::domain::Login::parse("chattersbot").expect("a login");
    let at = chatters_core::domain::Timestamp(0);
    let now = std::time::Instant::now();
    super::super::translate::translate_irc(&msg, at, &own)
        .into_iter()
        .chain(super::super::translate::translate_chat(&msg, now, "!"))
        .filter_map(Observed::for_identity)
        .map(without_signals)
        .collect()
}

/// `events` with their receive times (JOIN and PART, lines without `tmi-sent-ts`) and a
/// command's receive instant made equal to `reference`'s.
fn same_times(events: &[Observed], reference: &[Observed]) -> Vec<Observed> {
    events
        .iter()
        .zip(reference)
        .map(|(got, want)| match (got, want) {
            (Observed::Command(c), Observed::Command(w)) => {
                let mut c = c.clone();
                c.received = w.received;
                Observed::Command(c)
            }
            (Observed::Join { channel, login, .. }, Observed::Join { at, .. }) => Observed::Join {
                channel: channel.clone(),
                login: login.clone(),
                at: *at,
            },
            (Observed::Part { channel, login, .. }, Observed::Part { at, .. }) => Observed::Part {
                channel: channel.clone(),
                login: login.clone(),
                at: *at,
            },
            (Observed::MessageByLogin(m), Observed::MessageByLogin(w))
                if w.at == chatters_core::domain::Timestamp(0) =>
            {
                let mut m = m.clone();
                m.at = w.at;
                Observed::MessageByLogin(m)
            }
            (Observed::Event(Event::Message(m)), Observed::Event(Event::Message(w)))
                if w.at == chatters_core::domain::Timestamp(0) =>
            {
                let mut m = m.clone();
                m.at = w.at;
                Observed::Event(Event::Message(m))
            }
            _ => got.clone(),
        })
        .collect()
}

/// Everything the splitter holds for twitch-irc, taken through `hand_out` in small reads.
fn crate_bytes(splitter: &mut Splitter) -> String {
    let mut out = Vec::new();
    let mut storage = [0u8; 100];
    loop {
        let mut buf = ReadBuf::new(&mut storage);
        if splitter.hand_out(&mut buf).is_pending() {
            break;
        }
        out.extend_from_slice(buf.filled());
    }
    text(&out)
}

#[test]
fn the_corpus_is_split_into_the_same_lines_whatever_the_reads() {
    let corpus = std::fs::read(CORPUS).expect("the corpus");
    let lines: Vec<&[u8]> = corpus
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect();
    let expected_ours: Vec<String> = lines
        .iter()
        .filter(|l| route(&head(l), "chattersbot").ours())
        .map(|l| text(l))
        .collect();
    let expected_crate: String = lines
        .iter()
        .filter(|l| route(&head(l), "chattersbot") != Route::Ours)
        .map(|l| {
            let mut bytes = l.to_vec();
            crate::irc::guard::mend_line(&mut bytes);
            format!("{}\r\n", text(&bytes))
        })
        .collect();
    assert!(expected_ours.len() >= 50 && expected_crate.len() > 10_000);
    let expected_events: Vec<Observed> = expected_ours.iter().flat_map(|l| reference(l)).collect();
    assert!(expected_events.len() >= 40, "{expected_events:?}");
    let mut expected_channels: Vec<String> = Vec::new();
    for line in &expected_ours {
        let channel = head(line.as_bytes())
            .first
            .and_then(|c| c.strip_prefix(b"#"));
        if let Some(channel) = channel.map(text)
            && expected_channels.last() != Some(&channel)
        {
            expected_channels.push(channel);
        }
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = std::iter::from_fn(move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Some(usize::try_from(seed % 700).unwrap_or(1) + 1)
    });
    for sizes in [
        &mut std::iter::repeat(corpus.len()) as &mut dyn Iterator<Item = usize>,
        &mut std::iter::repeat(1),
        &mut random,
    ] {
        let split = split_all(&corpus, sizes);
        let (ours, to_crate, counted) = (split.ours, split.to_crate, split.counted);
        assert_eq!(ours, expected_ours);
        assert_eq!(to_crate, expected_crate);
        assert_eq!(split.events.len(), expected_events.len());
        assert_eq!(
            same_times(&split.events, &expected_events),
            expected_events,
            "every chat line read as twitch-irc and the translation read it, in order"
        );
        assert_eq!(split.channels, expected_channels);
        let both = lines
            .iter()
            .filter(|l| route(&head(l), "chattersbot") == Route::Both)
            .count();
        assert!(both >= 4, "the corpus has other users' JOIN and PART");
        assert_eq!(
            counted,
            lines.len() + both,
            "lines going both ways count twice"
        );
    }
}

#[test]
fn bad_bytes_and_long_lines_lose_only_themselves() {
    let mut input = Vec::new();
    input.extend_from_slice(b":tmi.twitch.tv NOTICE #c :caf\xe9\r\n");
    input.extend_from_slice(b":a!a@a.tmi.twitch.tv PRIVMSG #c :caf\xe9\r\n");
    input.extend_from_slice(b":a!a@a.tmi.twitch.tv PRIVMSG #c :");
    input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
    input.extend_from_slice(b"\r\n:b!b@b.tmi.twitch.tv PRIVMSG #c :after\r\nPING :last");
    let split = split_all(&input, &mut std::iter::repeat(4096));
    let (ours, to_crate, counted) = (split.ours, split.to_crate, split.counted);
    assert_eq!(
        split.events.len(),
        2,
        "both chat lines read: {:?}",
        split.events
    );
    assert_eq!(split.channels, ["c"]);
    assert_eq!(
        to_crate, ":tmi.twitch.tv NOTICE #c :caf\u{fffd}\r\nPING :last\r\n",
        "not UTF-8: replaced; the last line without its ending: still a line"
    );
    assert_eq!(
        ours,
        [
            ":a!a@a.tmi.twitch.tv PRIVMSG #c :caf\u{fffd}",
            ":b!b@b.tmi.twitch.tv PRIVMSG #c :after"
        ],
        "the over-long line dropped, the next one kept"
    );
    assert_eq!(counted, 4);
}

#[test]
fn without_a_session_every_line_goes_to_twitch_irc() {
    let mut splitter = Splitter::new(None);
    let counted = splitter.feed(b":a!a@a.tmi.twitch.tv PRIVMSG #c :hi\nPING :x\r\n\r\n:a");
    assert_eq!(counted, 2);
    assert_eq!(
        crate_bytes(&mut splitter),
        ":a!a@a.tmi.twitch.tv PRIVMSG #c :hi\r\nPING :x\r\n"
    );
}
