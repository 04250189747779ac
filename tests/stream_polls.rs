//! Stream polls that need retries: a stream ends when the poll that found it offline answered,
//! not when the first failed attempt of that poll was sent.

mod support;

use std::time::UNIX_EPOCH;

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_helix::{Endpoint, Failure, FakeHelix, FakeStream};
use chatters_core::domain::StreamId;
use support::live::{eventually, fake_twitch_users, rfc3339_now, start_bot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_the_retried_poll_found_it_offline() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let (_, chan) = fake_twitch_users(&helix);
    let bot = start_bot(&irc, &helix, &[]).await;
    helix.set_stream(FakeStream {
        id: "1001".into(),
        user: chan.clone(),
        title: "live".into(),
        started_at: rfc3339_now(),
    });
    let id = StreamId::parse("1001").expect("id");
    eventually("the stream to start", || async {
        bot.store.stream(&id).await.ok().flatten().is_some()
    })
    .await;

    // Offline, and the next poll needs three retries (250 ms, 500 ms, 1 s and more).
    helix.clear_calls();
    helix.fail_next(Endpoint::Streams, 3, Failure::Status(503));
    helix.end_stream("500");
    eventually("the stream to end", || async {
        bot.store
            .stream(&id)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s.ended_at.is_some())
    })
    .await;

    let polls = helix.calls_to(Endpoint::Streams);
    let first_failed = polls
        .iter()
        .find(|c| c.status == 503)
        .expect("a failed attempt");
    let found_offline = polls
        .iter()
        .find(|c| c.status == 200 && c.at > first_failed.at)
        .expect("the attempt that succeeded");
    let secs = |at: std::time::SystemTime| {
        i64::try_from(at.duration_since(UNIX_EPOCH).expect("after 1970").as_secs())
            .expect("seconds")
    };
    assert!(secs(found_offline.at) > secs(first_failed.at), "{polls:#?}");
    let ended = bot
        .store
        .stream(&id)
        .await
        .expect("read")
        .and_then(|s| s.ended_at)
        .expect("ended");
    assert!(
        (secs(found_offline.at)..=secs(found_offline.at) + 1).contains(&ended.0),
        "ended at {}, the poll that found it offline at {}, its first attempt at {}",
        ended.0,
        secs(found_offline.at),
        secs(first_failed.at)
    );
    bot.stop().await;
}
