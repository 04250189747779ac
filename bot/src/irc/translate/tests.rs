//! Table tests on real captured lines (`testdata/corpus/twitch-irc-real.txt`, a copy of the shared corpus, by line number).

use super::*;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/corpus/twitch-irc-real.txt"
);

fn corpus() -> Vec<String> {
    std::fs::read_to_string(CORPUS)
        .expect("the corpus (testdata/corpus)")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Line `n` (1-based) of the corpus.
fn line(n: usize) -> String {
    corpus()[n - 1].clone()
}

const RECEIVED: Timestamp = Timestamp(1_700_000_000);

fn own() -> Login {
    login("chattersbot")
}

fn login(s: &str) -> Login {
    Login::parse(s).expect("login")
}

fn run(raw: &str) -> Vec<Observed> {
    let msg = IRCMessage::parse(raw).expect("an IRC line");
    translate_irc(&msg, RECEIVED, &own())
}

fn user(id: i64, name: &str, display: &str) -> UserRef {
    UserRef {
        id: UserId(id),
        login: login(name),
        display_name: Some(display.to_owned()),
    }
}

fn badge(name: &str, version: &str) -> Badge {
    Badge {
        name: name.into(),
        version: version.into(),
    }
}

fn message(m: Message) -> Observed {
    Observed::Event(Event::Message(Box::new(m)))
}

#[test]
fn privmsg_becomes_a_message_with_its_tags() {
    assert_eq!(
        run(&line(20)),
        vec![message(Message {
            channel: login("pajlada"),
            user: user(29803735, "jun1orrrr", "JuN1oRRRR"),
            at: Timestamp(1594545155),
            room_id: Some(UserId(11148817)),
            source_room_id: None,
            first_msg: false,
            returning_chatter: false,
            badges: vec![],
            has_text: true,
            id: Some("e9d998c3-36f1-430f-89ec-6b887c28af36".into()),
            signals: Default::default(),
        })]
    );
}

#[test]
fn privmsg_badges_are_kept_in_order() {
    let events = run(&line(21));
    let [Observed::Event(Event::Message(m))] = events.as_slice() else {
        panic!("one message expected: {events:?}");
    };
    assert_eq!(
        m.badges,
        vec![badge("moderator", "1"), badge("subscriber", "12")]
    );
    assert_eq!(m.user, user(40286300, "randers", "randers"));
}

#[test]
fn privmsg_without_badges_tag_still_counts() {
    // twitch-irc rejects this line (no `badges`) and hands it over as a generic message.
    assert!(ServerMessage::try_from(IRCMessage::parse(&line(62)).expect("irc")).is_err());
    assert_eq!(
        run(&line(62)),
        vec![message(Message {
            channel: login("anny"),
            user: user(73714767, "dixtor334", "Dixtor334"),
            at: Timestamp(1686049636),
            room_id: Some(UserId(56418014)),
            source_room_id: None,
            first_msg: false,
            returning_chatter: false,
            badges: vec![],
            has_text: true,
            id: Some("0b4c70e4-9a47-4ce1-9c3e-8f78111cdc19".into()),
            signals: Default::default(),
        })]
    );
}

#[test]
fn first_msg_returning_chatter_and_shared_chat_tags() {
    // Line 20 with the tags Twitch adds for a first message in shared chat.
    let raw = line(20).replacen(
        "@badge-info=;",
        "@badge-info=;first-msg=1;returning-chatter=1;source-room-id=99;",
        1,
    );
    let events = run(&raw);
    let [Observed::Event(Event::Message(m))] = events.as_slice() else {
        panic!("one message expected: {events:?}");
    };
    assert!(m.first_msg && m.returning_chatter);
    assert_eq!(m.source_room_id, Some(UserId(99)));
    assert!(m.is_foreign_shared_chat());
}

#[test]
fn usernotice_with_text_is_a_message() {
    let events = run(&line(191));
    assert_eq!(
        events,
        vec![message(Message {
            channel: login("schmoopiie"),
            user: user(20624989, "schmoopiie", "Schmoopiie"),
            at: RECEIVED,
            room_id: Some(UserId(20624989)),
            source_room_id: None,
            first_msg: false,
            returning_chatter: false,
            badges: vec![
                badge("staff", "1"),
                badge("subscriber", "1"),
                badge("turbo", "1")
            ],
            has_text: true,
            id: None,
            signals: Default::default(),
        })]
    );
}

#[test]
fn usernotice_without_text_is_an_observation_only() {
    let events = run(&line(37));
    let [Observed::Event(Event::Message(m))] = events.as_slice() else {
        panic!("one message expected: {events:?}");
    };
    assert!(!m.has_text);
    assert_eq!(m.user.login, login("whoopiix"));
    assert_eq!(m.at, Timestamp(1594520403));
}

#[test]
fn raid_gives_the_raider_observation_then_the_raid() {
    let raider = user(155874595, "iamelisabete", "iamelisabete");
    assert_eq!(
        run(&line(41)),
        vec![
            message(Message {
                channel: login("xqcow"),
                user: raider.clone(),
                at: Timestamp(1594517796),
                room_id: Some(UserId(71092938)),
                source_room_id: None,
                first_msg: false,
                returning_chatter: false,
                badges: vec![badge("glhf-pledge", "1")],
                has_text: false,
                id: Some("bb99dda7-3736-4583-9114-52aa11b23d17".into()),
                signals: Default::default(),
            }),
            Observed::Event(Event::Raid {
                channel: login("xqcow"),
                from: raider,
                viewers: 430,
                at: Timestamp(1594517796),
            }),
        ]
    );
}

#[test]
fn other_users_join_and_part() {
    let at = RECEIVED;
    assert_eq!(
        run(&line(10)),
        vec![Observed::Join {
            channel: login("pajlada"),
            login: login("randers811"),
            at
        }]
    );
    assert_eq!(
        run(&line(14)),
        vec![Observed::Part {
            channel: login("pajlada"),
            login: login("randers811"),
            at
        }]
    );
}

#[test]
fn own_join_echo_is_not_an_event() {
    let msg = IRCMessage::parse(&line(61)).expect("irc");
    assert!(translate_irc(&msg, RECEIVED, &login("justinfan57624")).is_empty());
}

#[test]
fn clearchat_with_a_target_is_a_ban_or_timeout() {
    assert_eq!(
        run(&line(2)),
        vec![Observed::Ban {
            channel: login("pajlada"),
            user_id: UserId(148973258),
            login: login("fabzeef"),
            at: Timestamp(1594553828),
            duration_secs: Some(1),
        }]
    );
    assert_eq!(
        run(&line(168)),
        vec![Observed::Ban {
            channel: login("schmoopiie"),
            user_id: UserId(20624989),
            login: login("schmoopiie"),
            at: RECEIVED,
            duration_secs: None,
        }]
    );
    assert!(run(&line(4)).is_empty(), "a whole-chat clear is no ban");
}

#[test]
fn notices_and_login_failures() {
    assert_eq!(
        run(&line(12)),
        vec![Observed::Notice {
            channel: Some(login("forsen")),
            msg_id: Some("msg_banned".into()),
            text: "You are permanently banned from talking in forsen.".into(),
        }]
    );
    assert_eq!(
        run(&line(13)),
        vec![Observed::LoginFailed {
            text: "Improperly formatted auth".into()
        }]
    );
    assert_eq!(
        run(":tmi.twitch.tv NOTICE * :Login authentication failed"),
        vec![Observed::LoginFailed {
            text: "Login authentication failed".into()
        }]
    );
    assert_eq!(
        run(&line(78)),
        vec![Observed::LoginFailed {
            text: "Login unsuccessful.".into()
        }]
    );
}

#[test]
fn reconnect_and_protocol_noise() {
    assert_eq!(run(&line(29)), vec![Observed::Reconnect]);
    for n in [1, 11, 17, 30, 51, 64, 66, 7, 53, 5, 148] {
        assert_eq!(run(&line(n)), vec![], "line {n}");
    }
}

#[test]
fn privmsg_sent_by_the_server_is_skipped() {
    // tmi.js fixtures sent by `tmi.twitch.tv` itself: no user at all.
    for n in [55, 163, 164] {
        assert_eq!(run(&line(n)), vec![], "line {n}");
    }
}

#[test]
fn privmsg_without_a_user_id_is_a_message_by_login() {
    // tmi.js fixtures in the pre-2017 tag format: the sender only as a login.
    for n in [165, 169, 171, 172] {
        let events = run(&line(n));
        assert_eq!(events.len(), 1, "line {n}");
        let Observed::MessageByLogin(m) = &events[0] else {
            panic!("line {n}: {events:?}");
        };
        assert_eq!(m.user.login.as_str(), "schmoopiie", "line {n}");
        assert_eq!(m.channel.as_str(), "schmoopiie", "line {n}");
        assert_eq!(
            m.user.display_name.as_deref(),
            Some("Schmoopiie"),
            "line {n}"
        );
        assert!(m.has_text, "line {n}");
    }
}

#[test]
fn malformed_values_are_skipped_not_panicked_on() {
    let bad = [
        line(20).replace("user-id=29803735", "user-id=abc"),
        line(20).replace("#pajlada", "#pa-jlada"),
        line(20).replace("tmi-sent-ts=1594545155039", "tmi-sent-ts=soon"),
        line(41).replace("msg-param-viewerCount=430", "msg-param-viewerCount=many"),
        line(2).replace("target-user-id=148973258", "target-user-id=-1"),
        ":a!a@a.tmi.twitch.tv JOIN".to_owned(),
        ":tmi.twitch.tv CLEARCHAT #x :not-a-login!".to_owned(),
    ];
    let counts: Vec<usize> = bad.iter().map(|l| run(l).len()).collect();
    // A bad timestamp falls back to the receive time; a bad viewer count keeps the observation.
    assert_eq!(counts, vec![0, 0, 1, 1, 0, 0, 0]);
    assert_eq!(run(&bad[2])[0].clone(), {
        let Observed::Event(Event::Message(mut m)) = run(&line(20)).remove(0) else {
            panic!("message");
        };
        m.at = RECEIVED;
        Observed::Event(Event::Message(m))
    });
}

#[test]
fn the_whole_corpus_replays_and_every_attributable_privmsg_counts() {
    let lines = corpus();
    let privmsg_lines = lines.iter().filter(|l| l.contains(" PRIVMSG #")).count();
    assert_eq!(privmsg_lines, 30, "the corpus has 30 PRIVMSG lines");
    let (mut messages, mut skipped_privmsg) = (0, 0);
    for raw in &lines {
        let Ok(msg) = IRCMessage::parse(raw) else {
            continue;
        };
        // The path the client takes: twitch-irc's ServerMessage (or its generic fallback).
        let events = match ServerMessage::try_from(msg.clone()) {
            Ok(server) => translate(&server, RECEIVED, &own()),
            Err(_) => translate_irc(&msg, RECEIVED, &own()),
        };
        let texts = events
            .iter()
            .filter(|e| match e {
                Observed::Event(Event::Message(m)) | Observed::MessageByLogin(m) => m.has_text,
                _ => false,
            })
            .count();
        if msg.command == "PRIVMSG" {
            messages += texts;
            skipped_privmsg += usize::from(texts == 0);
        }
    }
    // 23 PRIVMSGs carry Twitch's user-id, 4 (pre-2017 tag format) only the sender's login,
    // resolved to an id by the identity module; 3 are sent by the server itself (no user).
    assert_eq!((messages, skipped_privmsg), (27, 3));
}

mod chat {
    use std::time::Instant;

    use super::*;

    fn chat(raw: &str, prefix: &str) -> Option<Observed> {
        let msg = IRCMessage::parse(raw).expect("an IRC line");
        translate_chat(&msg, Instant::now(), prefix)
    }

    const MOD_ASKS: &str = "@badge-info=;badges=moderator/1;color=;display-name=Mod_Ann;emotes=;first-msg=0;flags=;id=aaaa-1;mod=1;room-id=1000;subscriber=0;tmi-sent-ts=1673925983585;turbo=0;user-id=42;user-type=mod :mod_ann!mod_ann@mod_ann.tmi.twitch.tv PRIVMSG #chan :!top 3";

    #[test]
    fn a_prefixed_privmsg_is_a_command_line() {
        let Some(Observed::Command(c)) = chat(MOD_ASKS, "!") else {
            panic!("a command line");
        };
        assert_eq!(c.channel, login("chan"));
        assert_eq!(c.channel_id, Some(UserId(1000)));
        assert_eq!(c.message_id, "aaaa-1");
        assert_eq!(c.user, UserId(42));
        assert_eq!(c.login, login("mod_ann"));
        assert_eq!(c.badges, vec![badge("moderator", "1")]);
        assert_eq!(c.text, "!top 3");
    }

    #[test]
    fn other_lines_are_not_commands() {
        // Another prefix, an ordinary corpus message, a reply thread, a line without an id.
        assert_eq!(chat(MOD_ASKS, "?"), None);
        assert_eq!(chat(&line(20), "!"), None);
        assert_eq!(chat(&line(23), "!"), None);
        assert_eq!(chat(&MOD_ASKS.replace("id=aaaa-1;", ""), "!"), None);
        assert_eq!(chat(&MOD_ASKS.replace("user-id=42;", ""), "!"), None);
        // Shared chat: answered in the source channel only.
        let shared = MOD_ASKS.replace("room-id=1000;", "room-id=1000;source-room-id=2000;");
        assert_eq!(chat(&shared, "!"), None);
        let own_room = MOD_ASKS.replace("room-id=1000;", "room-id=1000;source-room-id=1000;");
        assert!(matches!(chat(&own_room, "!"), Some(Observed::Command(_))));
    }

    #[test]
    fn userstate_gives_the_bots_role() {
        assert_eq!(
            chat(&line(51), "!"),
            Some(Observed::OwnRole {
                channel: login("randers"),
                moderator: false
            })
        );
        assert_eq!(
            chat(&line(52), "!"),
            Some(Observed::OwnRole {
                channel: login("randers"),
                moderator: true
            })
        );
        // GLOBALUSERSTATE has no channel.
        assert_eq!(chat(&line(7), "!"), None);
    }
}

/// Found by fuzzing (`testdata/fuzz/irc_translate-emote-range-overflow.txt`): an `emotes` range
/// whose start lies past its end (`49:945-46`) made twitch-irc's typed parse subtract past zero,
/// a panic in builds with overflow checks (the tests', the fuzzer's), inside the crate's
/// connection task that parses every line; the shipped release build wraps and reads on.
/// `[profile.dev.package.twitch-irc]` in `Cargo.toml` makes test builds behave as the release
/// build; our translation reads the raw tags and gives the same events either way.
#[test]
fn an_inverted_emote_range_neither_panics_nor_changes_the_events() {
    let kept = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/fuzz/irc_translate-emote-range-overflow.txt"
    ))
    .expect("the kept fuzz input");
    let corpus_line = line(21).replace("emotes=;", "emotes=25:9-3,0-4;");
    assert!(corpus_line.contains("emotes=25:9-3,0-4;"), "{corpus_line}");
    for raw in [kept.trim_end_matches(['\r', '\n']), corpus_line.as_str()] {
        let msg = IRCMessage::parse(raw).expect("an IRC line");
        let typed = ServerMessage::try_from(msg.clone());
        if let Ok(typed) = typed {
            assert_eq!(
                translate(&typed, RECEIVED, &own()),
                translate_irc(&msg, RECEIVED, &own())
            );
        }
    }
    let events = run(&corpus_line);
    let [Observed::Event(Event::Message(m))] = events.as_slice() else {
        panic!("one message expected: {events:?}");
    };
    assert_eq!(m.user, user(40286300, "randers", "randers"));
}

/// A ROOMSTATE whose `followers-only` minutes overflow when twitch-irc turns them into seconds
/// (`n * 60` on `i64`, found by fuzzing): the test builds wrap as the release build does
/// (`Cargo.toml`), so the typed parse neither panics nor disagrees with the raw translation.
#[test]
fn an_overflowing_followers_only_value_neither_panics_nor_changes_the_events() {
    let kept = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/fuzz/irc_translate-followers-only-overflow.txt"
    ))
    .expect("the kept fuzz input");
    let crafted = "@emote-only=0;followers-only=9223372036854775807;r9k=0;room-id=1;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #chan";
    for raw in [kept.trim_end_matches(['\r', '\n']), crafted] {
        let Ok(msg) = IRCMessage::parse(raw) else {
            continue;
        };
        if let Ok(typed) = ServerMessage::try_from(msg.clone()) {
            assert_eq!(
                translate(&typed, RECEIVED, &own()),
                translate_irc(&msg, RECEIVED, &own())
            );
        }
    }
    assert!(IRCMessage::parse(crafted).is_ok());
}
