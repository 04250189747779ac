//! `RETENTION`: streams keep their exact figures, frozen when they ended, after the daily
//! pruning deleted their per-user rows, presence, series and the users not seen since; on
//! every backend. (Also the migration bookkeeping `chatters doctor` reads.)

use std::time::Duration;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{StreamId, Timestamp, UserId};
use chatters_core::ingest::IngestConfig;
use chatters_core::retention::Retention;
use chatters_core::stats::{Figures, StreamFigures};
use chatters_core::store::{Pruned, Store};
use chatters_core::testing::*;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const BOT: i64 = 900;
const DAY: i64 = 86_400;
/// Keep 10 days.
const KEEP: Duration = Duration::from_secs(10 * 86_400);

/// The scripted channel 30 days ago (streams 1001 and 1002, both ended then),
/// and stream 2001 yesterday with regular1 (renamed) and a newcomer, user 50.
async fn history(store: &std::sync::Arc<Store>, now: Timestamp) -> Figures {
    let old = Timeline::at(now.0 - 30 * DAY);
    let recent = Timeline::at(now.0 - DAY);
    let config = IngestConfig {
        tracker: tracker_config(Some(UserId(BOT))),
        ..IngestConfig::default()
    };
    let pipeline = Pipeline::start(store.clone(), config).await;
    let mut events = scripted_channel(&old, CHAN, ROOM);
    events.push(old.offline(CHAN, 3 * 3600));
    pipeline.send(events).await;
    let regular = user(1, "regular1");
    let newcomer = user(50, "newcomer50");
    pipeline
        .send(vec![
            recent.online(CHAN, ROOM, "2001", 0),
            recent.snapshot(CHAN, &[&regular, &newcomer], 60),
            recent.msg(CHAN, ROOM, &newcomer, 120),
            // A rename yesterday: regular1's former login is recent name history.
            recent.msg(CHAN, ROOM, &user(1, "regular1new"), 180),
            recent.offline(CHAN, 3600),
        ])
        .await;
    pipeline.stop().await;
    Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(BOT)))
}

async fn figures_of(figures: &Figures, id: &str) -> StreamFigures {
    let stream = figures
        .store()
        .stream(&StreamId::parse(id).expect("id"))
        .await
        .expect("read")
        .expect("stream");
    figures.stream(&stream).await.expect("figures")
}

async fn stream_users(db: &TestDb, id: &str) -> i64 {
    db.count(
        "stream_users",
        &format!("stream_id = (SELECT id FROM streams WHERE twitch_id = '{id}')"),
    )
    .await
}

async fn pruning_keeps_the_exact_figures_of_old_streams(db: &TestDb) {
    let now = Timestamp::now();
    let figures = history(&db.store, now).await;
    let ids = ["1001", "1002", "2001"];
    let mut before = Vec::new();
    for id in ids {
        before.push(figures_of(&figures, id).await);
    }
    assert!(stream_users(db, "1001").await > 0);
    // A former login of newcomer25, last seen a month ago.
    let month_ago = now.0 - 30 * DAY;
    db.rows(&format!(
        "INSERT INTO name_history (user_id, login, first_seen, last_seen) \
         VALUES (25, 'oldname25', {month_ago}, {month_ago})"
    ))
    .await;
    let users_before = u64::try_from(db.count("users", "1=1").await).expect("count");
    assert_eq!(
        db.rows("SELECT user_id FROM name_history ORDER BY user_id")
            .await,
        [[Some(1)], [Some(25)]]
    );

    let pruned = Retention::new(figures.clone(), KEEP)
        .prune(now)
        .await
        .expect("prune");

    let mut after = Vec::new();
    for id in ids {
        after.push(figures_of(&figures, id).await);
    }
    assert_eq!(after, before);
    let first = &after[0];
    assert_eq!(
        [
            first.unique_chatters,
            first.new_chatters,
            first.returning_chatters,
            first.peak_chatters,
            first.messages,
            first.lurkers,
        ],
        [24, 20, 4, 24, 24, 0],
        "{first:?}"
    );
    assert_eq!(
        [
            after[2].unique_chatters,
            after[2].new_chatters,
            after[2].messages
        ],
        [2, 1, 2]
    );
    assert_eq!(pruned.streams, 2);
    assert_eq!(stream_users(db, "1001").await, 0);
    assert_eq!(stream_users(db, "1002").await, 0);
    assert_eq!(stream_users(db, "2001").await, 2);
    let cutoff = now.0 - 10 * DAY;
    assert_eq!(db.count("presence", &format!("until < {cutoff}")).await, 0);
    assert_eq!(db.count("series", &format!("at < {cutoff}")).await, 0);
    assert!(
        db.count("series", "1=1").await > 0,
        "yesterday's series stays"
    );
    // Only the users seen yesterday remain, with their name history.
    assert_eq!(
        db.rows("SELECT id FROM users ORDER BY id").await,
        [[Some(1)], [Some(50)]]
    );
    assert_eq!(
        db.count("name_history", "user_id = 25").await,
        0,
        "a stale user's former logins go"
    );
    assert_eq!(
        db.rows("SELECT user_id FROM name_history ORDER BY user_id")
            .await,
        [[Some(1)]]
    );
    assert_eq!(
        db.rows("SELECT DISTINCT user_id FROM channel_users ORDER BY user_id")
            .await,
        [[Some(1)], [Some(50)]]
    );
    assert_eq!(pruned.users, users_before - 2);
    // The pruned streams' sums lost their rows' shares with them (the frozen figures stay).
    assert_eq!(assert_kept_sums(&db.store).await, 3);
}

async fn a_second_pruning_the_next_day_finds_nothing_more(db: &TestDb) {
    let now = Timestamp::now();
    let figures = history(&db.store, now).await;
    let retention = Retention::new(figures.clone(), KEEP);
    retention.prune(now).await.expect("first");

    let again = retention.prune(now.plus(DAY)).await.expect("second");

    assert_eq!(again, Pruned::default());
}

async fn streams_not_frozen_keep_their_rows(db: &TestDb) {
    let now = Timestamp::now();
    history(&db.store, now).await;
    let before = stream_users(db, "1001").await;

    let pruned = db
        .store
        .prune(Timestamp(now.0 - 10 * DAY), now)
        .await
        .expect("prune");

    assert_eq!(pruned.streams, 0);
    assert_eq!(stream_users(db, "1001").await, before);
}

/// `chatters doctor` reads the migration bookkeeping of each backend.
async fn a_migrated_database_has_no_pending_migrations(db: &TestDb) {
    assert_eq!(
        db.store.pending_migrations().await.expect("read"),
        Vec::<i64>::new()
    );
}

on_every_backend!(; with_db:
    a_migrated_database_has_no_pending_migrations,
    pruning_keeps_the_exact_figures_of_old_streams,
    a_second_pruning_the_next_day_finds_nothing_more,
    streams_not_frozen_keep_their_rows,
);
