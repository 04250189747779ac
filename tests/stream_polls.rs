//! Stream polls: a stream ends when the poll that found it offline answered, not when the first
//! failed attempt of that poll was sent; every successful poll of a live channel records a
//! stream sample (viewers, category) and a failed one records nothing.

mod support;

use std::time::UNIX_EPOCH;

use chatters_bot::irc::fake::{FakeIrc, exclusive};
use chatters_bot::testing::fake_helix::{Endpoint, Failure, FakeHelix, FakeStream};
use chatters_core::domain::{StreamId, Timestamp};
use chatters_core::store::Sample;
use support::live::{eventually, fake_twitch_users, login, rfc3339_now, start_bot};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_successful_poll_of_a_live_channel_records_a_sample() {
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let (_, chan) = fake_twitch_users(&helix);
    let bot = start_bot(&irc, &helix, &[]).await;
    // Get Streams answers `viewer_count`, `game_id` and `game_name` as Twitch documents them.
    helix.set_audience("500", 1234, "509658", "Just Chatting");
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
    let key = bot
        .store
        .channel(&login("chan"))
        .await
        .expect("read")
        .expect("channel")
        .key;
    let samples = || async {
        bot.store
            .samples(key, Timestamp(0), Timestamp(i64::MAX))
            .await
            .expect("samples")
    };
    eventually("two samples", || async { samples().await.len() >= 2 }).await;
    let first = samples().await[0].clone();
    assert_eq!(
        (
            first.viewers,
            first.game_id.as_str(),
            first.game_name.as_str()
        ),
        (1234, "509658", "Just Chatting")
    );

    // The category changes; polls failing after every retry record nothing.
    helix.set_audience("500", 2000, "33214", "Fortnite");
    eventually("a Fortnite sample", || async {
        samples().await.iter().any(|s| s.game_id == "33214")
    })
    .await;
    // One poll fails after all its 5 attempts: it records nothing, every answered poll one.
    helix.clear_calls();
    let before = samples().await.len();
    helix.fail_next(Endpoint::Streams, 5, Failure::Status(503));
    let answered = || {
        helix
            .calls_to(Endpoint::Streams)
            .iter()
            .filter(|c| c.status == 200)
            .count()
    };
    eventually("the failed poll and two answered ones after it", || async {
        let calls = helix.calls_to(Endpoint::Streams);
        calls.iter().filter(|c| c.status == 503).count() == 5 && answered() >= 2
    })
    .await;
    let ok = answered();
    eventually("the answered polls' samples", || async {
        samples().await.len() >= before + ok
    })
    .await;
    let added = samples().await.len() - before;
    let ok_after = answered();
    assert!(
        (ok..=ok_after + 1).contains(&added),
        "{added} samples for {ok}-{ok_after} answered polls (one may have been in flight at the start)"
    );

    // Offline: no more samples; every sample lies within the stream (times are whole seconds:
    // the last live poll and the offline one may fall in the same second).
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
    let stream = bot.store.stream(&id).await.expect("read").expect("stream");
    let all: Vec<Sample> = samples().await;
    assert!(
        all.iter()
            .all(|s| s.at >= stream.started_at && Some(s.at) <= stream.ended_at),
        "{all:?} within {stream:?}"
    );
    let figures = bot.figures.stream(&stream).await.expect("figures");
    assert_eq!(figures.audience.peak_viewers, Some(2000));
    let names: Vec<&str> = figures
        .audience
        .categories
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["Just Chatting", "Fortnite"]);
    bot.stop().await;
}
