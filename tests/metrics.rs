//! Every metric family the bot half exports is fed by the code it counts: the whole Twitch
//! side against the fake Twitch (Helix calls, snapshots, a failed stream poll, an unresolved
//! login, a moderator's command and its reply), ingestion on a real SQLite store (including a
//! commit that fails and is retried), channel leases on Redis (one taken over by another
//! instance) and the recap the process posts to a webhook sink, all in one registry; then no
//! family of the encoded text may be all zeros. A family registered but never incremented fails
//! here.

mod support;

use std::collections::BTreeSet;

use chatters_bot::irc::fake::{FakeIrc, corpus_line_in, exclusive};
use chatters_bot::lease::{LeaseConfig, Leases};
use chatters_bot::testing::fake_helix::{Endpoint, Failure, FakeHelix, FakeStream, FakeUser};
use chatters_bot::testing::webhook_sink::{Reply, Sink};
use chatters_core::domain::{Login, StreamId, Timestamp};
use chatters_core::metrics::{sample, silent_families};
use secrecy::SecretString;
use support::live::{WAIT, eventually, fake_twitch_users, login, privmsg, rfc3339_now, start_bot};

/// Families that are levels at rest, not counts: zero is their normal value once the work is
/// done, so they need not be non-zero here (they must still be exported).
const LEVELS: &[&str] = &[
    "chatters_ingest_queue_depth",
    "chatters_ingest_rows_held",
    "chatters_irc_backlog",
    "chatters_irc_reading_paused",
];

/// `TEST_REDIS_URL`; CI sets it (skipping the lease part elsewhere would hide its families).
fn redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("TEST_REDIS_URL must be set in CI"),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exported_family_is_fed_by_some_code_path() {
    let Some(redis) = redis_url() else {
        eprintln!("TEST_REDIS_URL not set: skipping (CI sets it)");
        return;
    };
    let _irc_lock = exclusive().await;
    let irc = FakeIrc::start().await.expect("fake irc");
    let helix = FakeHelix::start().await.expect("fake helix");
    let (_, chan) = fake_twitch_users(&helix);
    helix.set_chatters(
        "500",
        vec![FakeUser::new("1", "alice"), FakeUser::new("2", "bob")],
    );
    // The process posts its recap to a (global) Discord webhook: this sink.
    let discord = Sink::start(Reply::status(204)).await;
    let bot = start_bot(
        &irc,
        &helix,
        &[
            ("PUBLIC_BASE_URL", "https://c.example".into()),
            (
                "DISCORD_WEBHOOK_URL",
                discord.url("/api/webhooks/1/metrics-token"),
            ),
        ],
    )
    .await;
    let metrics = bot.metrics.clone();
    let scrape = || metrics.encode();
    assert!(
        irc.wait_for(WAIT, |s| !s.joined("chan").is_empty()).await,
        "joined #chan"
    );

    // Leases: two channels taken, then one overwritten by another instance.
    let lease_config = LeaseConfig {
        prefix: format!("chatters-test:{}:metrics:", std::process::id()),
        ..LeaseConfig::default()
    };
    let mut leases =
        Leases::connect(&SecretString::from(redis.clone()), lease_config).expect("leases");
    leases.metrics().register(&metrics);
    let wanted: BTreeSet<Login> = [login("leased1"), login("leased2")].into();
    assert!(
        leases.sync(&wanted).await.is_empty(),
        "the first sync announces"
    );
    assert_eq!(leases.sync(&wanted).await, wanted);
    let client = redis::Client::open(redis.as_str()).expect("redis url");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let () = redis::cmd("SET")
        .arg(leases.key(&login("leased2")))
        .arg("someone-else")
        .arg("PX")
        .arg(60_000)
        .query_async(&mut con)
        .await
        .expect("SET");
    assert_eq!(leases.sync(&wanted).await, [login("leased1")].into());

    // A stream with its snapshot, chat from a login Helix does not know, a moderator's command.
    helix.set_stream(FakeStream {
        id: "1001".into(),
        user: chan.clone(),
        title: "metrics".into(),
        started_at: rfc3339_now(),
    });
    eventually("the stream and its snapshot", || async {
        bot.stream_counts("1001").await.is_some_and(|c| c[0] == 2)
    })
    .await;
    irc.send_to_channel("chan", ":nobody!nobody@nobody.tmi.twitch.tv JOIN #chan");
    let ask = privmsg("chan", 500, 1, "alice", false, "!chatters")
        .replacen("badges=;", "badges=moderator/1;", 1)
        .replacen("mod=0", "mod=1", 1);
    irc.send_to_channel("chan", &ask);
    eventually("the reply", || async {
        sample(&scrape(), "chatters_replies_total{result=\"sent\"}").is_some_and(|n| n >= 1.0)
    })
    .await;
    eventually("the unresolved login", || async {
        sample(&scrape(), "chatters_logins_unresolved_total").is_some_and(|n| n >= 1.0)
    })
    .await;

    // A failed stream poll (a 400 is not retried).
    helix.fail_next(Endpoint::Streams, 1, Failure::Status(400));
    eventually("the failed poll", || async {
        sample(&scrape(), "chatters_stream_polls_failed_total").is_some_and(|n| n >= 1.0)
    })
    .await;

    // A commit that fails while a table is missing (a raid, from a real captured line), and
    // succeeds once it is back.
    let db = format!("sqlite://{}/chatters.db", bot._dir.path().display());
    let sqlite = sqlx::SqlitePool::connect(&db).await.expect("sqlite");
    sqlx::query("ALTER TABLE raids RENAME TO raids_away")
        .execute(&sqlite)
        .await
        .expect("rename");
    let raid = corpus_line_in(185, "channel", "chan")
        .replacen("room-id=987654321", "room-id=500", 1)
        .replacen(
            "tmi-sent-ts=1500000000000",
            &format!("tmi-sent-ts={}", Timestamp::now().0 * 1000),
            1,
        );
    irc.send_to_channel("chan", &raid);
    eventually("a failed commit", || async {
        sample(&scrape(), "chatters_ingest_commit_errors_total").is_some_and(|n| n >= 1.0)
    })
    .await;
    sqlx::query("ALTER TABLE raids_away RENAME TO raids")
        .execute(&sqlite)
        .await
        .expect("rename back");
    eventually("the raid committed after the retry", || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM raids")
            .fetch_one(&sqlite)
            .await
            .is_ok_and(|n| n == 1)
    })
    .await;
    sqlite.close().await;

    // The stream ends; the process posts its recap to the (global) Discord webhook.
    helix.end_stream("500");
    eventually("the stream to end", || async {
        let stream = bot
            .store
            .stream(&StreamId::parse("1001").expect("id"))
            .await;
        stream.ok().flatten().is_some_and(|s| s.ended_at.is_some())
    })
    .await;
    eventually(
        "the recap posted (the recap worker polls every 15 s)",
        || async { !discord.requests().is_empty() },
    )
    .await;
    eventually("the recap counted", || async {
        sample(
            &scrape(),
            "chatters_recaps_total{service=\"discord\",result=\"sent\"}",
        )
        .is_some_and(|n| n >= 1.0)
    })
    .await;

    let text = scrape();
    let silent: Vec<String> = silent_families(&text)
        .into_iter()
        .filter(|f| !LEVELS.contains(&f.as_str()))
        .collect();
    assert_eq!(silent, Vec::<String>::new(), "never fed:\n{text}");
    for family in LEVELS {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} exported"
        );
    }
    // The families of each part are all there (a part that registered nothing would pass the
    // check above).
    for family in [
        "chatters_build_info",
        "process_start_time_seconds",
        "chatters_events_ingested_total",
        "chatters_events_committed_total",
        "chatters_ingest_batches_total",
        "chatters_ingest_commit_errors_total",
        "chatters_ingest_commit_seconds",
        "chatters_ingest_last_commit_seconds",
        "chatters_helix_calls_total",
        "chatters_helix_call_seconds",
        "chatters_snapshot_results_total",
        "chatters_stream_polls_failed_total",
        "chatters_logins_unresolved_total",
        "chatters_commands_total",
        "chatters_command_reads_total",
        "chatters_replies_total",
        "chatters_reply_latency_seconds",
        "chatters_channels_leased",
        "chatters_lease_losses_total",
        "chatters_recaps_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} in\n{text}"
        );
    }
    assert_eq!(sample(&text, "chatters_channels_leased"), Some(1.0));
    assert_eq!(sample(&text, "chatters_lease_losses_total"), Some(1.0));
    leases.release_all().await;
    bot.stop().await;
}
