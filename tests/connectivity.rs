//! The real Twitch wiring (credentials, Helix, IRC, identity, scheduler, ingestion) against the
//! fake Twitch: a stream from online to offline with a snapshot, joins, messages, a rename and
//! a JOIN-only user resolved through Helix gives exactly the SPEC figures; a channel the bot
//! does not moderate (403 on Get Chatters) falls back to IRC-only presence.

mod support;

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_helix::{Endpoint, FakeHelix, FakeStream, FakeUser};
use chatters_core::domain::{StreamId, UserId};
use support::live::{WAIT, eventually, fake_twitch_users, login, privmsg, rfc3339_now, start_bot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_from_online_to_offline_gives_the_spec_figures() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let (_, chan) = fake_twitch_users(&helix);
    helix.set_chatters(
        "500",
        vec![
            FakeUser::new("1", "alice"),
            FakeUser::new("2", "bob"),
            FakeUser::new("900", "chattersbot"),
        ],
    );
    let bot = start_bot(&irc, &helix, &[]).await;

    // The moderated channel is joined (with the membership capability).
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "joined #chan"
    );
    assert!(
        irc.state()
            .count_sent(|l| l == "CAP REQ :twitch.tv/membership")
            >= 1
    );

    // Online: the stream is recorded and its first snapshot taken at once.
    helix.set_stream(FakeStream {
        id: "1001".into(),
        user: chan.clone(),
        title: "first stream".into(),
        started_at: rfc3339_now(),
    });
    eventually("the stream and its snapshot", || async {
        bot.stream_counts("1001").await.is_some_and(|c| c[0] == 2)
    })
    .await;

    // Chat: a first-time chatter, a JOIN-only user (resolved through Helix), and alice renamed.
    irc.send_to_channel("chan", &privmsg("chan", 500, 3, "carol", true, "hi all"));
    irc.send_to_channel("chan", ":dave!dave@dave.tmi.twitch.tv JOIN #chan");
    irc.send_to_channel(
        "chan",
        &privmsg("chan", 500, 1, "alicia", false, "new name"),
    );
    irc.send_to_channel("chan", &privmsg("chan", 500, 1, "alicia", false, "again"));
    // An old-format PRIVMSG naming its sender only by login: resolved through Get Users.
    irc.send_to_channel(
        "chan",
        "@badges=;color=;display-name=Bob;emotes=;subscriber=0;turbo=0;user-type= :bob!bob@bob.tmi.twitch.tv PRIVMSG #chan :old format",
    );
    eventually("the chat to be ingested", || async {
        bot.stream_counts("1001").await == Some([4, 4, 4, 2])
    })
    .await;

    // Offline: the next poll ends the stream.
    helix.end_stream("500");
    eventually("the stream to end", || async {
        let s = bot
            .store
            .stream(&StreamId::parse("1001").expect("id"))
            .await;
        s.ok().flatten().is_some_and(|s| s.ended_at.is_some())
    })
    .await;

    let stream = bot
        .store
        .stream(&StreamId::parse("1001").expect("id"))
        .await
        .expect("read")
        .expect("stream");
    let f = bot.figures.stream(&stream).await.expect("figures");
    // unique: alice (snapshot, then as alicia), bob (snapshot), carol (message), dave (JOIN);
    // all new; returning 0; first-time: carol; peak: the snapshot's 2 (the bot account is not
    // counted); messages: carol 1 + alicia 2 + bob 1; lurkers: dave.
    assert_eq!(
        (
            f.unique_chatters,
            f.new_chatters,
            f.returning_chatters,
            f.first_time_chatters,
            f.peak_chatters,
            f.messages,
            f.lurkers,
            f.retention,
        ),
        (4, 4, 0, 1, 2, 4, 1, None)
    );
    assert_eq!(f.title, "first stream");
    let dave = bot
        .store
        .user(UserId(4))
        .await
        .expect("read")
        .expect("dave resolved to his id");
    assert_eq!(dave.login, login("dave"));
    assert!(
        dave.created_at.is_some(),
        "account creation time from Get Users"
    );
    let names = bot.store.name_history(UserId(1)).await.expect("names");
    let names: Vec<String> = names.iter().map(|n| n.login.to_string()).collect();
    assert_eq!(names, vec!["alice".to_owned(), "alicia".to_owned()]);
    let channel = bot
        .store
        .channel(&login("chan"))
        .await
        .expect("read")
        .expect("channel");
    assert_eq!(channel.twitch_id, Some(UserId(500)));
    assert_eq!(
        helix.calls_to(Endpoint::Chatters).len(),
        1,
        "one snapshot while live"
    );
    assert_eq!(helix.answered(429), 0);
    // The same counters reach /metrics.
    let text = bot.scrape().await;
    assert!(
        text.contains("chatters_snapshot_results_total{result=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("chatters_snapshot_results_total{result=\"failed\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("chatters_helix_calls_total{endpoint=\"chat/chatters\",status=\"200\"} 1"),
        "{text}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_the_bot_does_not_moderate_falls_back_to_irc_only() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    fake_twitch_users(&helix);
    let other = FakeUser::new("600", "other");
    let bot = start_bot(&irc, &helix, &[("CHATTERS_CHANNELS", "other".to_owned())]).await;
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("other").is_empty()).await,
        "joined #other"
    );
    helix.set_stream(FakeStream {
        id: "2001".into(),
        user: other,
        title: "not a mod here".into(),
        started_at: rfc3339_now(),
    });
    eventually("the stream row", || async {
        bot.stream_counts("2001").await.is_some()
    })
    .await;
    eventually("the 403 on Get Chatters", || async {
        helix.answered(403) >= 1
    })
    .await;
    irc.send_to_channel("other", ":erin!erin@erin.tmi.twitch.tv JOIN #other");
    irc.send_to_channel("other", &privmsg("other", 600, 3, "carol", false, "hello"));
    // IRC-only: unique erin and carol, one message, peak 2 from JOIN/message tracking.
    eventually("IRC-only figures", || async {
        bot.stream_counts("2001").await == Some([2, 1, 2, 2])
    })
    .await;
    assert_eq!(
        helix.calls_to(Endpoint::Chatters).len(),
        1,
        "not retried before the next moderated-channels read"
    );
    bot.stop().await;
}
