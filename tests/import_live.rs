//! `chatters import` beside a running `chatters run` on the same SQLite file: the import writes
//! history only, so the live stream's figures and the live presence stay exactly what the live
//! chat made them, while the imported lines (old ones, and some timed during the live stream)
//! land in the channel's history.

mod support;

use std::process::{Command, Stdio};

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_helix::{FakeHelix, FakeStream, FakeUser};
use chatters_core::domain::{Timestamp, UserId};
use support::live::{WAIT, eventually, fake_twitch_users, login, privmsg, rfc3339_now, start_bot};

/// Imported lines: enough that the import is still running while live chat goes on.
const IMPORTED: i64 = 40_000;
/// Imported users: ids from here (none of them chat live).
const FIRST_IMPORTED_ID: i64 = 10_000;

/// A PRIVMSG of an imported user at `ms`.
fn archived(id: i64, ms: i64) -> String {
    format!(
        "@badge-info=;badges=;color=;display-name=u{id};emotes=;first-msg=0;flags=;id=x{id}-{ms};\
         mod=0;returning-chatter=0;room-id=500;subscriber=0;tmi-sent-ts={ms};turbo=0;\
         user-id={id};user-type= :u{id}!u{id}@u{id}.tmi.twitch.tv PRIVMSG #chan :from the archive"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_beside_the_live_bot_leaves_the_live_stream_and_presence_exact() {
    // Arrange: the live bot in #chan, live, alice and bob in its snapshot.
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let (_, chan) = fake_twitch_users(&helix);
    helix.set_chatters(
        "500",
        vec![FakeUser::new("1", "alice"), FakeUser::new("2", "bob")],
    );
    let bot = start_bot(&irc, &helix, &[]).await;
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "joined #chan"
    );
    helix.set_stream(FakeStream {
        id: "2001".into(),
        user: chan.clone(),
        title: "live".into(),
        started_at: rfc3339_now(),
    });
    eventually("the stream and its snapshot", || async {
        bot.stream_counts("2001").await.is_some_and(|c| c[0] == 2)
    })
    .await;
    // An archive of the same channel: old lines, then lines timed during the live stream.
    let now_ms = Timestamp::now().0 * 1000;
    let old_ms = 1_700_000_000_000i64;
    let mut lines: Vec<String> = (0..IMPORTED)
        .map(|i| {
            let id = FIRST_IMPORTED_ID + i % 500;
            // The second half: the 20 seconds after now, during the live stream.
            let ms = if i < IMPORTED / 2 {
                old_ms + i * 1000
            } else {
                now_ms + (i - IMPORTED / 2)
            };
            archived(id, ms)
        })
        .collect();
    lines.push(":u10001!u10001@u10001.tmi.twitch.tv JOIN #chan".to_owned());
    let log = bot._dir.path().join("archive.log");
    std::fs::write(&log, lines.join("\n")).expect("write the archive");
    let url = format!("sqlite://{}/chatters.db", bot._dir.path().display());

    // Act: the import runs while live chat goes on.
    let import = Command::new(env!("CARGO_BIN_EXE_chatters"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &url)
        .args(["import", log.to_str().expect("utf-8 path")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the import");
    for (id, user, text) in [
        (1, "alice", "hi"),
        (3, "carol", "hello"),
        (1, "alice", "again"),
    ] {
        irc.send_to_channel("chan", &privmsg("chan", 500, id, user, false, text));
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    let output = tokio::task::spawn_blocking(move || import.wait_with_output())
        .await
        .expect("join")
        .expect("the import ran");
    irc.send_to_channel("chan", &privmsg("chan", 500, 2, "bob", false, "after"));

    // Assert: the live stream counts live chat only: alice, bob, carol; 4 messages; all new;
    // peak from the snapshot.
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "{} lines, {} events ingested",
            IMPORTED + 1,
            IMPORTED + 1
        )),
        "{stdout}"
    );
    eventually("the live figures", || async {
        bot.stream_counts("2001").await == Some([3, 4, 3, 2])
    })
    .await;
    let key = bot
        .store
        .channel(&login("chan"))
        .await
        .expect("read the channel")
        .expect("the channel")
        .key;
    // The history got the archive: an imported user with all their lines.
    let imported = bot
        .store
        .channel_user(key, UserId(FIRST_IMPORTED_ID))
        .await
        .expect("read a user")
        .expect("an imported user");
    assert_eq!(imported.messages, IMPORTED / 500);
    // Live presence is untouched: the live users' intervals are open, the import left none.
    let pool = sqlx::SqlitePool::connect(&url).await.expect("sqlite");
    let open: Vec<(i64,)> = sqlx::query_as(
        "SELECT user_id FROM presence WHERE channel_id = ? AND until IS NULL ORDER BY user_id",
    )
    .bind(key.0)
    .fetch_all(&pool)
    .await
    .expect("presence");
    assert_eq!(open, [(1,), (2,), (3,)]);
    pool.close().await;
    bot.stop().await;
}
