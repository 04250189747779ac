use super::*;

fn set(provider: Provider, emotes: &[(&str, &str)]) -> EmoteSet {
    EmoteSet {
        provider,
        emotes: emotes
            .iter()
            .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
            .collect(),
    }
}

fn lexicon() -> Lexicon {
    Lexicon::parse(
        r#"
[hype]
emotes = ["PogChamp", "POGGERS"]
words = ["pog", "hype"]
[laughter]
emotes = ["KEKW", "LUL"]
words = ["lol"]
[love]
words = ["<3"]
[tension]
emotes = ["monkaS", "D:"]
"#,
    )
    .expect("valid")
}

/// `(provider, id, name, count)` of each emote, and the moods.
type Scanned = (Vec<(Provider, String, String, u32)>, Vec<Mood>);

/// What a scan found, sorted.
fn scan(m: &Matcher, text: &str, tag: Option<&str>) -> Scanned {
    let s = m.scan(text, tag);
    let mut emotes: Vec<_> = s
        .emotes
        .iter()
        .map(|u| {
            (
                u.emote.provider,
                u.emote.id.to_string(),
                u.emote.name.to_string(),
                u.count,
            )
        })
        .collect();
    emotes.sort();
    (emotes, s.mood.iter().collect())
}

fn matcher() -> Matcher {
    let globals = [
        set(
            Provider::Ffz,
            &[("f1", "LULW"), ("f2", "OMEGALUL"), ("f3", "Clash")],
        ),
        set(
            Provider::Bttv,
            &[("b1", "OMEGALUL"), ("b2", "catJAM"), ("b3", "Clash")],
        ),
        set(Provider::SevenTv, &[("s1", "Clash"), ("s2", "KEKW")]),
    ];
    let channel = [
        set(Provider::Ffz, &[("cf1", "catJAM"), ("cf2", "ffzOnly")]),
        set(Provider::Bttv, &[("cb1", "ffzOnly"), ("cb2", "bttvChan")]),
    ];
    let shared = Arc::new(Shared::new(&lexicon(), &globals));
    Matcher::new(shared, &channel, &[])
}

#[test]
fn every_use_of_a_third_party_emote_counts_and_names_are_case_sensitive() {
    let (emotes, _) = scan(&matcher(), "LULW LULW lulw LULW", None);
    assert_eq!(emotes, vec![(Provider::Ffz, "f1".into(), "LULW".into(), 3)]);
}

#[test]
fn a_channel_set_beats_every_global_set_and_7tv_beats_bttv_beats_ffz() {
    let m = matcher();
    // Global clash: 7TV wins over BTTV and FFZ.
    assert_eq!(
        scan(&m, "Clash", None).0,
        vec![(Provider::SevenTv, "s1".into(), "Clash".into(), 1)]
    );
    // Global BTTV over global FFZ.
    assert_eq!(
        scan(&m, "OMEGALUL", None).0,
        vec![(Provider::Bttv, "b1".into(), "OMEGALUL".into(), 1)]
    );
    // The channel's FFZ set beats the global BTTV set.
    assert_eq!(
        scan(&m, "catJAM", None).0,
        vec![(Provider::Ffz, "cf1".into(), "catJAM".into(), 1)]
    );
    // Among channel sets BTTV beats FFZ.
    assert_eq!(
        scan(&m, "ffzOnly", None).0,
        vec![(Provider::Bttv, "cb1".into(), "ffzOnly".into(), 1)]
    );
}

#[test]
fn words_only_match_whole_space_separated_words() {
    let (emotes, _) = scan(&matcher(), "catJAMcatJAM xcatJAM catJAM, catJAM", None);
    assert_eq!(
        emotes,
        vec![(Provider::Ffz, "cf1".into(), "catJAM".into(), 1)]
    );
}

#[test]
fn a_word_covered_by_a_twitch_position_is_not_counted_again() {
    // Twitch says "KEKW" (0-3) is its emote 555 (a follower emote of the same name as the 7TV
    // global); the second KEKW is not covered and counts for 7TV.
    let (emotes, moods) = scan(&matcher(), "KEKW KEKW", Some("555:0-3"));
    assert_eq!(
        emotes,
        vec![
            (Provider::Twitch, "555".into(), "KEKW".into(), 1),
            (Provider::SevenTv, "s2".into(), "KEKW".into(), 1),
        ]
    );
    assert_eq!(moods, vec![Mood::Laughter]);
}

#[test]
fn twitch_positions_count_every_use_and_lend_the_emote_its_name() {
    let (emotes, moods) = scan(
        &matcher(),
        "PogChamp PogChamp hype PogChamp",
        Some("305954156:0-7,9-16,23-30"),
    );
    assert_eq!(
        emotes,
        vec![(Provider::Twitch, "305954156".into(), "PogChamp".into(), 3)]
    );
    assert_eq!(moods, vec![Mood::Hype]);
}

#[test]
fn a_message_carries_each_mood_at_most_once() {
    let m = matcher();
    let s = m.scan("LUL lol KEKW LOL lol! POGGERS pog <3 monkaS D:", None);
    assert_eq!(
        s.mood.iter().collect::<Vec<_>>(),
        vec![Mood::Hype, Mood::Laughter, Mood::Love, Mood::Tension]
    );
    let mut totals = super::super::MoodTotals::default();
    totals.add(s.mood);
    assert_eq!(totals.laughter, 1);
}

#[test]
fn words_match_in_any_case_and_emote_names_only_exactly() {
    let m = matcher();
    assert_eq!(scan(&m, "LoL", None).1, vec![Mood::Laughter]);
    assert_eq!(scan(&m, "HYPE!!", None).1, vec![Mood::Hype]);
    assert_eq!(scan(&m, "kekw", None).1, vec![]);
    assert_eq!(scan(&m, "d:", None).1, vec![]);
    assert_eq!(scan(&m, "Lölol ÜBER", None).1, vec![]);
}

#[test]
fn channel_rules_add_and_remove_moods() {
    let shared = Arc::new(Shared::new(&lexicon(), &[]));
    let rules = [
        MoodRule {
            mood: Mood::Hype,
            word: "letsgoo".into(),
            add: true,
        },
        MoodRule {
            mood: Mood::Love,
            word: "chanHeart".into(),
            add: true,
        },
        MoodRule {
            mood: Mood::Laughter,
            word: "lol".into(),
            add: false,
        },
        MoodRule {
            mood: Mood::Tension,
            word: "monkaS".into(),
            add: false,
        },
    ];
    let m = Matcher::new(shared, &[], &rules);
    assert_eq!(scan(&m, "LETSGOO", None).1, vec![Mood::Hype]);
    assert_eq!(scan(&m, "chanHeart", None).1, vec![Mood::Love]);
    assert_eq!(scan(&m, "chanheart", None).1, vec![]);
    assert_eq!(scan(&m, "lol", None).1, vec![]);
    assert_eq!(scan(&m, "monkaS", None).1, vec![]);
    assert_eq!(scan(&m, "KEKW", None).1, vec![Mood::Laughter]);
}

#[test]
fn action_lines_are_scanned_inside_their_wrapper() {
    let (emotes, _) = scan(&matcher(), "\u{1}ACTION Kappa catJAM\u{1}", Some("25:0-4"));
    assert_eq!(
        emotes,
        vec![
            (Provider::Twitch, "25".into(), "Kappa".into(), 1),
            (Provider::Ffz, "cf1".into(), "catJAM".into(), 1),
        ]
    );
}

#[test]
fn positions_after_multibyte_text_still_cover_the_right_word() {
    // "ü" is one code point: KEKW sits at 5-8.
    let (emotes, _) = scan(&matcher(), "über KEKW KEKW", Some("555:5-8"));
    assert_eq!(
        emotes,
        vec![
            (Provider::Twitch, "555".into(), "KEKW".into(), 1),
            (Provider::SevenTv, "s2".into(), "KEKW".into(), 1),
        ]
    );
}
