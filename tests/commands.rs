//! Chat commands end to end: the whole bot against the fake Twitch. A scripted stream, then a
//! moderator's commands get exactly the SPEC figures as replies threaded to the asking message;
//! a viewer's get nothing; cooldowns coalesce repeated asks; per-channel settings switch
//! commands off or open them; 200 commands in 10 s stay within Twitch's rate limit and 500
//! characters; `!optout` removes a viewer from every figure and export, and nothing of theirs is
//! recorded afterwards.

mod support;

use std::time::{Duration, Instant};

use chatters_bot::irc::fake::{FakeIrc, corpus_line_in, exclusive};
use chatters_bot::testing::fake_helix::{FakeHelix, FakeStream, FakeUser};
use chatters_core::domain::{StreamId, Timestamp, UserId};
use chatters_core::export::{ExportFormat, export};
use futures::StreamExt as _;
use support::live::{Bot, WAIT, eventually, fake_twitch_users, login, rfc3339_now, start_bot};

const BASE_URL: &str = "https://charts.example";

/// A PRIVMSG as Twitch sends it, with the message id, badges and `tmi-sent-ts` given.
fn chat(id: &str, user_id: u64, user: &str, badges: &str, ts_ms: i64, text: &str) -> String {
    let first = u8::from(id.starts_with("first-"));
    let moderator = u8::from(badges.contains("moderator"));
    format!(
        "@badge-info=;badges={badges};client-nonce=0;color=#1E90FF;display-name={user};emotes=;first-msg={first};flags=;id={id};mod={moderator};returning-chatter=0;room-id=500;subscriber=0;tmi-sent-ts={ts_ms};turbo=0;user-id={user_id};user-type= :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #chan :{text}"
    )
}

fn now_ms() -> i64 {
    Timestamp::now().0 * 1_000
}

/// The replies the bot wrote, as (parent message id, text).
fn replies(irc: &FakeIrc) -> Vec<(String, String)> {
    irc.state()
        .sent
        .iter()
        .filter_map(|s| {
            let rest = s.line.strip_prefix("@reply-parent-msg-id=")?;
            let (parent, rest) = rest.split_once(' ')?;
            let text = rest.strip_prefix("PRIVMSG #chan :")?;
            Some((parent.to_owned(), text.to_owned()))
        })
        .collect()
}

async fn reply_to(irc: &FakeIrc, id: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some((_, text)) = replies(irc).into_iter().find(|(p, _)| p == id) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reply to {id}; replies: {:?}",
            replies(irc)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Users of the scripted stream, on top of [`fake_twitch_users`].
fn more_users(helix: &FakeHelix) {
    helix.add_user(FakeUser::new("42", "modann"));
    helix.add_user(FakeUser::new("5", "vic"));
}

/// Starts the bot, joins #chan, takes the stream online with its snapshot (alice, bob and the
/// bot itself) and returns the bot with the stream's `started` time.
async fn live_stream(irc: &FakeIrc, helix: &FakeHelix) -> Bot {
    let (_, chan) = fake_twitch_users(helix);
    more_users(helix);
    helix.set_chatters(
        "500",
        vec![
            FakeUser::new("1", "alice"),
            FakeUser::new("2", "bob"),
            FakeUser::new("900", "chattersbot"),
        ],
    );
    let bot = start_bot(irc, helix, &[("PUBLIC_BASE_URL", BASE_URL.to_owned())]).await;
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "joined #chan"
    );
    helix.set_stream(FakeStream {
        id: "1001".into(),
        user: chan,
        title: "commands".into(),
        started_at: rfc3339_now(),
    });
    eventually("the stream and its snapshot", || async {
        bot.stream_counts("1001").await.is_some_and(|c| c[0] == 2)
    })
    .await;
    bot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderators_commands_get_the_spec_figures_as_threaded_replies() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let bot = live_stream(&irc, &helix).await;
    // Times are kept in seconds: dave's JOIN (stamped on receipt) must fall after the snapshot.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let t0 = now_ms();
    let ts = |s: i64| t0 + s * 1_000;

    // The chat, one second apart so that "newest first" is well defined: dave only joins,
    // carol says her first message ever, alice chats twice, a raid arrives, erin chats.
    irc.send_to_channel("chan", ":dave!dave@dave.tmi.twitch.tv JOIN #chan");
    irc.send_to_channel("chan", &chat("first-c1", 3, "carol", "", ts(2), "hi all"));
    irc.send_to_channel("chan", &chat("a-1", 1, "alice", "", ts(3), "hello"));
    irc.send_to_channel("chan", &chat("a-2", 1, "alice", "", ts(4), "again"));
    let raid = corpus_line_in(41, "xqcow", "chan")
        .replace("room-id=71092938", "room-id=500")
        .replace(
            "tmi-sent-ts=1594517796120",
            &format!("tmi-sent-ts={}", ts(5)),
        );
    irc.send_to_channel("chan", &raid);
    irc.send_to_channel("chan", &chat("e-1", 7, "erin", "", ts(6), "hey"));
    // unique: alice, bob (snapshot), dave, carol, the raider, erin; messages: 1 + 2 + 1.
    eventually("the chat to be ingested", || async {
        bot.stream_counts("1001").await == Some([6, 4, 6, 2])
    })
    .await;

    // A viewer asks: no reply (checked below, once later asks have been answered).
    irc.send_to_channel("chan", &chat("v-1", 5, "vic", "", ts(7), "!stats"));

    // !stats counts the asking message itself: unique 8 (vic, modann), all new, peak from the
    // snapshot (2: the bot is not counted), messages 6, lurkers bob, dave and the raider.
    let moderator = "moderator/1,subscriber/12";
    irc.send_to_channel(
        "chan",
        &chat("m-1", 42, "modann", moderator, ts(8), "!stats"),
    );
    assert_eq!(
        reply_to(&irc, "m-1").await,
        format!(
            "This stream: 8 unique (8 new, 0 returning), peak 2, 6 messages, 3 lurkers · {BASE_URL}/c/chan/streams/1001.png"
        )
    );
    assert!(
        replies(&irc).iter().all(|(p, _)| p != "v-1"),
        "a viewer's !stats gets nothing"
    );
    // Repeated asks within the cooldown (5 s) are coalesced: the broadcaster's !stats right
    // after the moderator's gets nothing (checked at the end).
    irc.send_to_channel(
        "chan",
        &chat("b-1", 500, "chan", "broadcaster/1", ts(8), "!stats"),
    );

    // By messages, ties by login.
    irc.send_to_channel(
        "chan",
        &chat("m-2", 42, "modann", moderator, ts(9), "!TOP 3"),
    );
    assert_eq!(
        reply_to(&irc, "m-2").await,
        "Top chatters: alice (2), modann (2), carol (1)"
    );

    // Newest first; carol's first message ever is marked; alice and bob are left over.
    irc.send_to_channel(
        "chan",
        &chat("m-3", 42, "modann", moderator, ts(10), "!new 6"),
    );
    assert_eq!(
        reply_to(&irc, "m-3").await,
        "8 new this stream, newest first: modann, vic, erin, iamelisabete, carol (first message ever), dave +2 more"
    );

    // Present: the snapshot's alice and bob, and everyone who joined or chatted after it.
    irc.send_to_channel(
        "chan",
        &chat("m-4", 42, "modann", moderator, ts(11), "!chatters"),
    );
    assert_eq!(
        reply_to(&irc, "m-4").await,
        "8 present now · 8 unique this stream · 8 new"
    );

    // Account ages come from Get Users in the background: wait for them before !seen.
    eventually(
        "the chatters' account ages (Get Users, in the background)",
        || async {
            let mut known = 0;
            for id in [1, 2, 3, 4, 5, 7, 42] {
                let user = bot.store.user(UserId(id)).await.ok().flatten();
                known += usize::from(user.is_some_and(|u| u.created_at.is_some()));
            }
            known == 7
        },
    )
    .await;
    irc.send_to_channel(
        "chan",
        &chat("m-5", 42, "modann", moderator, ts(12), "!seen @Carol"),
    );
    let created = Timestamp::from_millis(ts(2)).date();
    // Account created 2020-01-01 (the fake's Get Users): 6 full years old.
    assert_eq!(
        reply_to(&irc, "m-5").await,
        format!(
            "carol: first seen {created} (just now), last seen just now, 1 stream, 1 message, account 6 years old"
        )
    );

    // The arrivals are the viewers first seen within 5 minutes after the raid (erin, vic,
    // modann; not the raider, who brought them); none has been seen 30 minutes later (yet).
    irc.send_to_channel(
        "chan",
        &chat("m-6", 42, "modann", moderator, ts(13), "!raid"),
    );
    assert_eq!(
        reply_to(&irc, "m-6").await,
        "Last raid: iamelisabete with 430 viewers, just now · 0% of 3 arrivals still here 30 min later"
    );

    // Account ages: the seven Helix-known chatters were created on 2020-01-01; the raider is
    // unknown to the fake Helix. Threshold max(10, 2% of 8) = 10: nothing flagged.
    irc.send_to_channel(
        "chan",
        &chat("m-7", 42, "modann", moderator, ts(14), "!accounts"),
    );
    assert_eq!(
        reply_to(&irc, "m-7").await,
        "8 chatters, 0 flagged days (≥10 accounts): 2020-01-01 (7)"
    );

    // A wrong argument: a one-line usage reply (and no cooldown for it).
    irc.send_to_channel(
        "chan",
        &chat("m-8", 42, "modann", moderator, ts(15), "!new 99"),
    );
    assert_eq!(reply_to(&irc, "m-8").await, "usage: !new [1-25]");

    // Per-channel settings: !lurkers opened to everyone answers vic; !chart switched off
    // answers nobody.
    let channel = bot
        .store
        .channel(&login("chan"))
        .await
        .expect("read")
        .expect("channel");
    bot.store
        .set_channel_setting(channel.key, "commands.lurkers", Some("everyone"))
        .await
        .expect("setting");
    bot.store
        .set_channel_setting(channel.key, "commands.chart", Some("off"))
        .await
        .expect("setting");
    irc.send_to_channel(
        "chan",
        &chat("m-9", 42, "modann", moderator, ts(17), "!chart"),
    );
    irc.send_to_channel("chan", &chat("v-2", 5, "vic", "", ts(18), "!lurkers"));
    // 8 unique (the broadcaster is not counted), lurkers bob, dave and the raider.
    assert_eq!(reply_to(&irc, "v-2").await, "3 lurkers of 8 chatters (38%)");
    // A channel without cooldown answers every ask; the same text again within 30 s gets an
    // invisible suffix, or Twitch would refuse it as a duplicate.
    bot.store
        .set_channel_setting(channel.key, "commands.cooldown", Some("0s"))
        .await
        .expect("setting");
    irc.send_to_channel("chan", &chat("v-3", 5, "vic", "", ts(19), "!lurkers"));
    assert_eq!(
        reply_to(&irc, "v-3").await,
        "3 lurkers of 8 chatters (38%) \u{E0000}"
    );
    let answered: Vec<String> = replies(&irc).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        answered,
        [
            "m-1", "m-2", "m-3", "m-4", "m-5", "m-6", "m-7", "m-8", "v-2", "v-3"
        ],
        "no reply to the viewer's !stats, the coalesced ask or the switched-off command"
    );
    // Every reply is a threaded PRIVMSG; nothing else was said.
    let said = irc.state().count_sent(|l| l.contains("PRIVMSG"));
    assert_eq!(said, answered.len());
    bot.stop().await;
}

/// A reply does not wait for the disk: with every commit held open 20 s, `!stats` still
/// answers at once with the chat before it and the asking message counted, while the stored
/// figures do not have them yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_counts_the_chat_before_it_without_waiting_for_its_commit() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let bot = live_stream(&irc, &helix).await;
    // The snapshot's alice and bob are committed; from now on a commit takes 20 s.
    assert_eq!(bot.stream_counts("1001").await, Some([2, 0, 2, 2]));
    bot.store.slow_commits(Duration::from_secs(20));
    let ts = |s: i64| now_ms() + s;
    irc.send_to_channel("chan", &chat("first-c1", 3, "carol", "", ts(0), "hi all"));
    irc.send_to_channel("chan", &chat("a-1", 1, "alice", "", ts(1), "hello"));
    irc.send_to_channel("chan", &chat("a-2", 1, "alice", "", ts(2), "again"));
    let moderator = "moderator/1,subscriber/12";
    irc.send_to_channel(
        "chan",
        &chat("m-1", 42, "modann", moderator, ts(3), "!stats"),
    );
    // alice, bob, carol, modann, all new; peak from the snapshot; messages 1 + 2 + 1; bob lurks.
    assert_eq!(
        reply_to(&irc, "m-1").await,
        format!(
            "This stream: 4 unique (4 new, 0 returning), peak 2, 4 messages, 1 lurkers · {BASE_URL}/c/chan/streams/1001.png"
        )
    );
    assert_eq!(
        bot.stream_counts("1001").await,
        Some([2, 0, 2, 2]),
        "the reply came before the commit of what it counted"
    );
    bot.store.slow_commits(Duration::ZERO);
    eventually("the held commit to land", || async {
        bot.stream_counts("1001").await == Some([4, 4, 4, 2])
    })
    .await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_commands_in_ten_seconds_stay_within_the_limits() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let bot = live_stream(&irc, &helix).await;
    // Forty chatters with 25-character logins make the list answers long.
    let t0 = now_ms();
    for i in 0..40_u64 {
        let name = format!("a_rather_long_login_{i:05}");
        irc.send_to_channel(
            "chan",
            &chat(&format!("x-{i}"), 10_000 + i, &name, "", t0, "hi"),
        );
    }
    eventually("the chatters", || async {
        bot.stream_counts("1001").await.is_some_and(|c| c[0] == 42)
    })
    .await;

    // 200 asks over 10 s from moderators: every command, list answers at their longest,
    // usage errors (no cooldown), injection attempts.
    let asks = [
        "!stats",
        "!top 25",
        "!new 25",
        "!chatters",
        "!seen alice",
        "!lurkers",
        "!raid",
        "!accounts",
        "!chart",
        "!new 99",
        "!seen",
        "!overlap chan",
        "!seen /ban alice",
        "!seen \u{1}ACTION",
    ];
    let started = Instant::now();
    for i in 0..200_u64 {
        let text = asks[usize::try_from(i).expect("small") % asks.len()];
        let line = chat(
            &format!("s-{i}"),
            42,
            "modann",
            "moderator/1",
            now_ms(),
            text,
        );
        irc.send_to_channel("chan", &line);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(12));
    // Let the outbox drain what it may in the window.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let sent: Vec<(Instant, String)> = irc
        .state()
        .sent
        .iter()
        .filter(|s| s.line.contains(" PRIVMSG #chan :"))
        .map(|s| (s.at, s.line.clone()))
        .collect();
    // Not a moderator in #chan: at most 20 messages in any 30 s, and a second between two.
    assert!(sent.len() >= 8, "replies were sent: {}", sent.len());
    assert!(sent.len() <= 20, "{} messages within 30 s", sent.len());
    for pair in sent.windows(2) {
        assert!(
            pair[1].0 - pair[0].0 >= Duration::from_millis(1_000),
            "two replies in #chan {:?} apart",
            pair[1].0 - pair[0].0
        );
    }
    for (_, line) in &sent {
        let text = line.split_once(" PRIVMSG #chan :").map_or("", |(_, t)| t);
        assert!(
            text.chars().count() <= 500,
            "{} chars: {text}",
            text.chars().count()
        );
        assert!(!text.starts_with('/') && !text.starts_with('.'), "{text}");
        assert!(!text.contains('\r') && !text.contains('\n'));
    }
    // The longest answers were cut with "+N more".
    assert!(
        sent.iter()
            .any(|(_, l)| l.contains("Top chatters: ") && l.contains(" more")),
        "{sent:?}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optout_removes_a_viewer_everywhere_and_nothing_is_recorded_after() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let bot = live_stream(&irc, &helix).await;
    let t0 = now_ms();
    irc.send_to_channel("chan", &chat("c-1", 3, "carol", "", t0, "hello"));
    irc.send_to_channel("chan", &chat("v-1", 5, "vic", "", t0 + 1_000, "hi there"));
    irc.send_to_channel("chan", &chat("v-2", 5, "vic", "", t0 + 2_000, "me again"));
    eventually("the chat", || async {
        bot.stream_counts("1001").await == Some([4, 3, 4, 2])
    })
    .await;

    // Anyone may opt out; the reply confirms it.
    irc.send_to_channel("chan", &chat("v-3", 5, "vic", "", t0 + 3_000, "!optout"));
    assert_eq!(
        reply_to(&irc, "v-3").await,
        "@vic you are opted out: everything about you is deleted and nothing is recorded anymore (type !optin to undo)."
    );
    // Gone from every figure: alice, bob, carol remain; carol's one message.
    assert_eq!(bot.stream_counts("1001").await, Some([3, 1, 3, 2]));
    assert_eq!(bot.store.user(UserId(5)).await.expect("read"), None);
    assert!(
        bot.store
            .name_history(UserId(5))
            .await
            .expect("read")
            .is_empty()
    );
    let stream = bot
        .store
        .stream(&StreamId::parse("1001").expect("id"))
        .await
        .expect("read")
        .expect("stream");
    let top = bot.figures.top_chatters(&stream, 10).await.expect("top");
    assert!(top.iter().all(|u| u.user_id != UserId(5)), "{top:?}");
    // ...and from the export.
    let channel = bot
        .store
        .channel(&login("chan"))
        .await
        .expect("read")
        .expect("channel");
    let excluded = bot.figures.excluded(&channel).await.expect("excluded");
    let chunks: Vec<_> = export(
        bot.store.as_ref(),
        channel.key,
        Timestamp(0),
        Timestamp(i64::MAX / 2),
        &excluded,
        ExportFormat::Csv,
    )
    .collect()
    .await;
    let csv: String = chunks
        .into_iter()
        .map(|c| String::from_utf8(c.expect("chunk")).expect("utf8"))
        .collect();
    assert!(csv.contains(",carol,"), "{csv}");
    assert!(!csv.contains("vic"), "{csv}");

    // Later messages and joins of theirs leave no trace (lines are ingested in order, so once
    // carol's later message counts, vic's have been dropped).
    irc.send_to_channel("chan", &chat("v-4", 5, "vic", "", t0 + 4_000, "still here"));
    irc.send_to_channel("chan", ":vic!vic@vic.tmi.twitch.tv JOIN #chan");
    irc.send_to_channel("chan", &chat("c-2", 3, "carol", "", t0 + 5_000, "bye"));
    eventually("carol's second message", || async {
        bot.stream_counts("1001").await == Some([3, 2, 3, 2])
    })
    .await;
    assert_eq!(bot.store.user(UserId(5)).await.expect("read"), None);
    assert_eq!(bot.stream_counts("1001").await, Some([3, 2, 3, 2]));

    // !optin lifts the block; the history stays deleted.
    irc.send_to_channel("chan", &chat("v-5", 5, "vic", "", t0 + 6_000, "!optin"));
    assert_eq!(
        reply_to(&irc, "v-5").await,
        "@vic you are opted in again: from now on you count in the figures."
    );
    irc.send_to_channel("chan", &chat("v-6", 5, "vic", "", t0 + 7_000, "back"));
    eventually("vic counted again", || async {
        bot.stream_counts("1001").await == Some([4, 3, 4, 2])
    })
    .await;
    bot.stop().await;
}

/// `1h 02m 09s`, `2m 09s` or `9s` back to seconds.
fn seconds_of(text: &str) -> i64 {
    text.split(' ')
        .map(|part| {
            let (n, unit) = part.split_at(part.len() - 1);
            let n: i64 = n.parse().expect("a number");
            n * match unit {
                "h" => 3600,
                "m" => 60,
                _ => 1,
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_commands_answer_viewers_watch_time_and_regulars() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    helix.set_audience("500", 120, "509658", "Just Chatting");
    let bot = live_stream(&irc, &helix).await;
    let channel = bot
        .store
        .channel(&login("chan"))
        .await
        .expect("read")
        .expect("channel");
    eventually("a stream sample", || async {
        bot.store
            .samples(channel.key, Timestamp(0), Timestamp(i64::MAX))
            .await
            .is_ok_and(|s| !s.is_empty())
    })
    .await;
    let moderator = "moderator/1";
    let t0 = now_ms();

    // Peak chatters 2 (the snapshot's alice and bob) per 120 viewers.
    irc.send_to_channel(
        "chan",
        &chat("w-1", 42, "modann", moderator, t0, "!viewers"),
    );
    assert_eq!(
        reply_to(&irc, "w-1").await,
        "120 viewers now, peak 120, 0.02 chatters per viewer, category: Just Chatting"
    );

    // alice has been present since the snapshot: the same time this stream and over 30 days.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    irc.send_to_channel(
        "chan",
        &chat("w-2", 42, "modann", moderator, t0 + 1, "!watchtime @alice"),
    );
    let text = reply_to(&irc, "w-2").await;
    let rest = text
        .strip_prefix("alice watched ")
        .and_then(|r| r.strip_suffix(" over the last 30 days"))
        .unwrap_or_else(|| panic!("{text}"));
    let (stream, window) = rest.split_once(" this stream, ").expect("two durations");
    let (stream, window) = (seconds_of(stream), seconds_of(window));
    assert!((1..60).contains(&stream), "{text}");
    assert!(window == stream || window == stream + 1, "{text}");
    // Past the channel's command cooldown (5 s by default) for the next `!watchtime`.
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    irc.send_to_channel(
        "chan",
        &chat("w-3", 42, "modann", moderator, t0 + 2, "!watchtime nobody"),
    );
    assert_eq!(reply_to(&irc, "w-3").await, "I have not seen nobody here.");

    // The channel's first stream: no ended streams, so no regulars yet.
    irc.send_to_channel(
        "chan",
        &chat("w-4", 42, "modann", moderator, t0 + 3, "!regulars"),
    );
    assert_eq!(
        reply_to(&irc, "w-4").await,
        "0 regulars (chatters of 3 of the last 5 streams), 0 of them here this stream"
    );
    // A viewer may not ask (moderators and the broadcaster by default).
    irc.send_to_channel("chan", &chat("v-9", 5, "vic", "", t0 + 4, "!viewers"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(replies(&irc).iter().all(|(p, _)| p != "v-9"));
    bot.stop().await;
}
