//! The bot account is never a chatter, in every process: `chatters run` records its id, and
//! `chatters export` (or `chatters web` alone), which never log in, read it from the database.

mod support;

use std::time::Duration;

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_helix::{FakeHelix, FakeStream, FakeUser};
use support::live::{WAIT, eventually, fake_twitch_users, rfc3339_now, start_bot};
use support::process::{Running, chatters};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_without_the_bot_running_leaves_the_bot_account_out() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let (_, chan) = fake_twitch_users(&helix);
    // Get Chatters lists the bot itself, as Twitch does for a moderator in chat.
    helix.set_chatters(
        "500",
        vec![
            FakeUser::new("1", "alice"),
            FakeUser::new("900", "chattersbot"),
        ],
    );
    let bot = start_bot(&irc, &helix, &[]).await;
    helix.set_stream(FakeStream {
        id: "1001".into(),
        user: chan.clone(),
        title: "live".into(),
        started_at: rfc3339_now(),
    });
    eventually("the first snapshot", || async {
        bot.stream_counts("1001").await.is_some_and(|c| c[0] == 1)
    })
    .await;
    bot.cancel.cancel();
    let dir = bot._dir;
    bot.process
        .await
        .expect("join")
        .expect("a clean stop with the final flush");

    // Later, with no token in the environment: only the database knows the bot's id.
    let url = format!("sqlite://{}/chatters.db", dir.path().display());
    let export = Running::spawn(chatters(
        dir.path(),
        &["export", "--channel", "chan", "--format", "csv"],
        &[("DATABASE_URL".to_owned(), url.clone())],
    ))
    .finish(WAIT.max(Duration::from_secs(30)));

    assert!(export.status.success(), "{export:?}");
    let logins: Vec<&str> = export
        .stdout
        .lines()
        .skip(1)
        .filter_map(|row| row.split(',').nth(1))
        .collect();
    assert_eq!(logins, ["alice"], "{}", export.stdout);
}
