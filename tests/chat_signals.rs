//! Chat signals end to end: the whole bot against the fake Twitch and fake emote providers.
//! Emotes from the `emotes` tag and from a provider's set, `!emotes` and `!mood` answered from
//! them, and the promise kept: a unique word said in chat is nowhere in the database files.

mod support;

use std::time::Duration;

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_emotes::FakeEmotes;
use chatters_bot::testing::fake_helix::{FakeHelix, FakeStream, FakeUser};
use chatters_core::domain::{StreamId, Timestamp};
use chatters_core::signals::Provider;
use support::live::{WAIT, eventually, fake_twitch_users, rfc3339_now, start_bot};

/// A PRIVMSG as Twitch sends it, with its `emotes` tag.
fn chat(id: &str, user_id: u64, user: &str, badges: &str, emotes: &str, text: &str) -> String {
    let ts = Timestamp::now().0 * 1_000;
    format!(
        "@badge-info=;badges={badges};client-nonce=0;color=#1E90FF;display-name={user};emotes={emotes};first-msg=0;flags=;id={id};mod=0;returning-chatter=0;room-id=500;subscriber=0;tmi-sent-ts={ts};turbo=0;user-id={user_id};user-type= :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #chan :{text}"
    )
}

/// The bot's reply threaded to message `id`.
async fn reply_to(irc: &FakeIrc, id: &str) -> String {
    let prefix = format!("@reply-parent-msg-id={id} PRIVMSG #chan :");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = irc
            .state()
            .sent
            .iter()
            .find_map(|s| s.line.strip_prefix(&prefix).map(str::to_owned));
        if let Some(text) = found {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reply to {id}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every byte of the SQLite database and its `-wal`/`-shm` files.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("chatters.db"))
        {
            all.extend(std::fs::read(&path).expect("read database file"));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emotes_and_mood_are_counted_and_no_word_of_chat_is_stored() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let emotes = FakeEmotes::start().await.expect("fake emotes");
    emotes.set_global(Provider::SevenTv, &[("7tv-catjam", "catJAM")]);
    let (_, chan) = fake_twitch_users(&helix);
    helix.add_user(FakeUser::new("42", "modann"));
    let vars = emotes.vars();
    let extra: Vec<(&str, String)> = vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let bot = start_bot(&irc, &helix, &extra).await;
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "joined #chan"
    );
    helix.set_stream(FakeStream {
        id: "1001".into(),
        user: chan,
        title: "signals".into(),
        started_at: rfc3339_now(),
    });
    let id = StreamId::parse("1001").expect("id");
    eventually("the stream", || async {
        bot.store.stream(&id).await.ok().flatten().is_some()
    })
    .await;
    eventually("7TV's global set", || async {
        emotes.calls(Provider::SevenTv) >= 1
    })
    .await;
    // The set is published right after it is read.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // A word nobody else would say, in a message full of signals.
    let secret = format!("zq{}xv", Timestamp::now().0 % 1_000_000 + 7_919);
    irc.send_to_channel(
        "chan",
        &chat(
            "a-1",
            1,
            "alice",
            "",
            "25:0-4,6-10",
            &format!("Kappa Kappa catJAM {secret} lol"),
        ),
    );
    irc.send_to_channel("chan", &chat("b-1", 2, "bob", "", "", "monkaS catJAM"));
    let moderator = "moderator/1";
    irc.send_to_channel("chan", &chat("m-1", 42, "modann", moderator, "", "!emotes"));
    assert_eq!(
        reply_to(&irc, "m-1").await,
        "Top emotes: Kappa ×2, catJAM ×2"
    );
    // 2 of the 3 messages before it carry a mood: alice's hype (catJAM) and laughter (Kappa,
    // lol), bob's tension (monkaS) and hype (catJAM).
    irc.send_to_channel("chan", &chat("m-2", 42, "modann", moderator, "", "!mood"));
    assert_eq!(
        reply_to(&irc, "m-2").await,
        "Mood, last 10 min: hype 100%, laughter 50%, tension 50% (of 2 messages with a mood)"
    );
    // The answers counted rows ingestion still held; the stored figures have them within the
    // rows interval (2 s).
    let stream = bot.store.stream(&id).await.expect("read").expect("stream");
    eventually("the mood's minutes written", || async {
        let figures = bot.figures.stream(&stream).await.expect("figures");
        figures.chat.mood.laughter == 1
    })
    .await;
    let figures = bot.figures.stream(&stream).await.expect("figures");
    // Four counted messages, in one minute or two.
    assert_eq!(
        figures.chat.peak_messages_per_minute.map(|n| n >= 2),
        Some(true)
    );

    // Stopped as `Bot::stop` does, keeping the directory to read the files.
    let support::live::Bot {
        cancel,
        process,
        _dir: dir,
        ..
    } = bot;
    cancel.cancel();
    process.await.expect("join").expect("a clean stop");
    let bytes = database_bytes(dir.path());
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("catJAM"),
        "emote names are stored (the search works)"
    );
    assert!(!contains(&secret), "a word said in chat is in the database");
    assert!(
        !contains("monkaS catJAM"),
        "message text is in the database"
    );
}
