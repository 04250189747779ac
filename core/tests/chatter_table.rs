//! The dashboard's chatter table (`Store::chatter_page`) and its sessions (`web_sessions`) on
//! SQLite, MariaDB and PostgreSQL: every column sorts both ways with the same totals as the
//! export, the login prefix search, pagination, excluded users, and sessions that expire.

use std::sync::Arc;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Timestamp, UserId};
use chatters_core::event::Event;
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::store::{ChannelUser, ChatterQuery, ChatterSort, Store, WebSession};
use chatters_core::testing::*;
use chatters_core::tracker::TrackerConfig;
use tokio_util::sync::CancellationToken;

const CHAN: &str = "chan";
const ROOM: i64 = 500;

async fn ingest(store: &Arc<Store>, events: Vec<Event>) {
    let config = IngestConfig {
        tracker: TrackerConfig {
            bot_user: None,
            bot_login: Some(login("chattersbot")),
            presence_timeout: 900,
            snapshot_stale_after: 3 * 3600,
            bots: KnownBots::shipped(),
        },
        ..IngestConfig::default()
    };
    let cancel = CancellationToken::new();
    let (handle, task) = Ingest::start(store.clone(), config, cancel.clone())
        .await
        .expect("start ingestion");
    for event in events {
        handle.send(event).await.expect("ingest");
    }
    handle.flush().await.expect("flush");
    cancel.cancel();
    task.await.expect("join").expect("final flush");
}

/// 250 users `u000`..`u249` (user i writes i % 7 messages in the first stream), `a_b` and
/// `axb` (to catch `_` as a wildcard), in two streams and offline.
fn crowd() -> Vec<Event> {
    let mut events = vec![online(CHAN, ROOM, "2001", 0)];
    let users: Vec<_> = (0..250)
        .map(|i| user(1000 + i, &format!("u{i:03}")))
        .collect();
    let refs: Vec<_> = users.iter().collect();
    events.push(snapshot(CHAN, &refs, 10));
    for (i, u) in users.iter().enumerate() {
        for m in 0..(i % 7) {
            events.push(msg(CHAN, ROOM, u, 20 + m as i64));
        }
    }
    events.push(offline(CHAN, 600));
    let (a_b, axb) = (user(5000, "a_b"), user(5001, "axb"));
    events.push(online(CHAN, ROOM, "2002", 3600));
    events.push(msg(CHAN, ROOM, &a_b, 3700));
    events.push(msg(CHAN, ROOM, &axb, 3710));
    events.push(msg(CHAN, ROOM, &users[3], 3720));
    events.push(offline(CHAN, 4000));
    events
}

fn query(sort: ChatterSort, descending: bool, prefix: Option<&str>, offset: i64) -> ChatterQuery {
    ChatterQuery {
        sort,
        descending,
        prefix: prefix.map(str::to_owned),
        offset,
        limit: 100,
    }
}

async fn every_column_sorts_both_ways_with_the_exports_totals(store: Arc<Store>) {
    ingest(&store, crowd()).await;
    let chan = store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let all = store
        .channel_users(chan.key, Timestamp(0), Timestamp(i64::MAX), &[])
        .await
        .expect("all users");
    assert_eq!(all.len(), 252);

    for sort in ChatterSort::ALL {
        for descending in [false, true] {
            let mut expected = all.clone();
            let key = |u: &ChannelUser| -> (i64, String) {
                match sort {
                    ChatterSort::Login => (0, u.login.to_string()),
                    ChatterSort::FirstSeen => (u.first_seen.0, String::new()),
                    ChatterSort::LastSeen => (u.last_seen.0, String::new()),
                    ChatterSort::Messages => (u.messages, String::new()),
                    ChatterSort::Streams => (u.streams_attended, String::new()),
                }
            };
            expected.sort_by(|a, b| key(a).cmp(&key(b)).then(a.user_id.cmp(&b.user_id)));
            if descending {
                expected.reverse();
            }
            let mut pages = Vec::new();
            for offset in [0, 100, 200] {
                pages.extend(
                    store
                        .chatter_page(chan.key, &query(sort, descending, None, offset), &[])
                        .await
                        .expect("page"),
                );
            }
            assert_eq!(pages, expected, "{sort:?} descending={descending}");
        }
    }
}

async fn the_search_keeps_logins_starting_with_the_prefix(store: Arc<Store>) {
    ingest(&store, crowd()).await;
    let chan = store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let logins = |rows: Vec<ChannelUser>| -> Vec<String> {
        rows.into_iter().map(|u| u.login.to_string()).collect()
    };

    let by_messages = store
        .chatter_page(
            chan.key,
            &query(ChatterSort::Messages, true, Some("U00"), 0),
            &[],
        )
        .await
        .expect("search");
    let underscore = store
        .chatter_page(
            chan.key,
            &query(ChatterSort::Login, false, Some("a_"), 0),
            &[],
        )
        .await
        .expect("search");
    let excluded = store
        .chatter_page(
            chan.key,
            &query(ChatterSort::Login, false, Some("u00"), 0),
            &[UserId(1000), UserId(1001)],
        )
        .await
        .expect("search");
    let nothing = store
        .chatter_page(
            chan.key,
            &query(ChatterSort::Streams, true, Some("zz"), 0),
            &[],
        )
        .await
        .expect("search");

    let found = logins(by_messages.clone());
    assert_eq!(found.len(), 10);
    assert!(found.iter().all(|l| l.starts_with("u00")), "{found:?}");
    assert_eq!(
        found[0], "u006",
        "6 messages, the most among u000-u009: {by_messages:?}"
    );
    assert_eq!(logins(underscore), ["a_b"], "`_` is not a wildcard");
    assert_eq!(logins(excluded).len(), 8);
    assert!(nothing.is_empty());
}

async fn sessions_are_found_by_hash_until_they_expire(store: Arc<Store>) {
    let now = Timestamp(1_800_000_000);
    let session = WebSession {
        user_id: UserId(42),
        login: login("mia"),
        csrf: "c".repeat(64),
        created_at: now,
        expires_at: now.plus(3600),
        channels: vec![login("mia"), login("chan")],
        channels_at: now,
    };
    store
        .create_web_session("hash-1", &session)
        .await
        .expect("create");

    let found = store.web_session("hash-1", now).await.expect("read");
    let expired = store
        .web_session("hash-1", now.plus(3600))
        .await
        .expect("read");
    store
        .touch_web_session("hash-1", now.plus(7200))
        .await
        .expect("touch");
    let touched = store
        .web_session("hash-1", now.plus(3600))
        .await
        .expect("read");
    let pruned = store
        .delete_expired_web_sessions(now.plus(7200))
        .await
        .expect("prune");
    let deleted = store.delete_web_session("hash-1").await.expect("delete");

    assert_eq!(found, Some(session.clone()));
    assert_eq!(expired, None);
    assert_eq!(touched.map(|s| s.expires_at), Some(now.plus(7200)));
    assert_eq!(pruned, 1);
    assert!(!deleted);
}

on_every_backend!(
    every_column_sorts_both_ways_with_the_exports_totals,
    the_search_keeps_logins_starting_with_the_prefix,
    sessions_are_found_by_hash_until_they_expire,
);
