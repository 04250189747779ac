//! The dashboard's chatter table (`Store::chatter_page`) and its sessions (`web_sessions`) on
//! SQLite, MariaDB and PostgreSQL: every column sorts both ways with the same totals as the
//! export, the login prefix search, pagination, excluded users, and sessions that expire. The
//! totals the table reads are kept in `channel_users`: they equal the sums over the stream rows
//! after live tracking (across a restart), after an import and after retention pruning.

use std::sync::Arc;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Timestamp, UserId};
use chatters_core::event::Event;
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::retention::Retention;
use chatters_core::stats::Figures;
use chatters_core::store::{
    ChannelUser, ChatterQuery, ChatterSort, Store, WebSession, totals_written_mark,
};
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

/// The totals kept in each channel row of `channel` equal what a chatter row adds up from the
/// stream rows over all time (`Store::channel_users`, the export's figures), and the table's
/// pages (sorted by id here: login order) show them.
async fn assert_kept_totals(db: &TestDb, channel: &str, when: &str) {
    let store = &db.store;
    let chan = store
        .channel(&login(channel))
        .await
        .expect("read")
        .expect("channel");
    let counted: Vec<Vec<Option<i64>>> = store
        .channel_users(chan.key, Timestamp(0), Timestamp(i64::MAX), &[])
        .await
        .expect("users")
        .iter()
        .map(|u| {
            vec![
                Some(u.user_id.0),
                Some(u.messages),
                Some(u.last_seen.0),
                Some(u.streams_attended),
                Some(u.watch_time),
            ]
        })
        .collect();
    let kept = db
        .rows(&format!(
            "SELECT user_id, all_messages, all_last_seen, all_streams, all_watch \
             FROM channel_users WHERE channel_id = {} ORDER BY user_id",
            chan.key.0
        ))
        .await;
    assert!(!kept.is_empty(), "{when}: no users");
    assert_eq!(
        kept, counted,
        "{when}: (user, messages, last seen, streams, watch time)"
    );
    let mut table = Vec::new();
    loop {
        let page = store
            .chatter_page(
                chan.key,
                &query(ChatterSort::Messages, true, None, table.len() as i64),
                &[],
            )
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        table.extend(page);
    }
    table.sort_by_key(|u| u.user_id);
    let all = store
        .channel_users(chan.key, Timestamp(0), Timestamp(i64::MAX), &[])
        .await
        .expect("users");
    assert_eq!(table, all, "{when}: the table's rows");
}

fn config(history_only: bool) -> IngestConfig {
    IngestConfig {
        tracker: tracker_config(None),
        resume: !history_only,
        history_only,
        ..IngestConfig::default()
    }
}

/// Live tracking that holds the chatter-table totals: never a channel's turn within a test
/// (only a full flush, a release or the last batch writes them); with leases or not.
fn holding(leased: bool) -> IngestConfig {
    IngestConfig {
        totals_interval: std::time::Duration::from_secs(3600),
        leased,
        ..config(false)
    }
}

/// A new store over the test database, as a restarted process opens it.
async fn reopened(db: &TestDb) -> Arc<Store> {
    chatters_core::store::open(&db.url, &chatters_core::store::ConnectOptions::default())
        .await
        .expect("open")
}

/// User 1's kept message total.
async fn kept_messages(db: &TestDb) -> Vec<Vec<Option<i64>>> {
    db.rows("SELECT all_messages FROM channel_users WHERE user_id = 1")
        .await
}

/// Changes user 1's kept message total behind the store's back: a recount mends it.
async fn set_kept_messages(db: &TestDb, n: i64) {
    db.rows(&format!(
        "UPDATE channel_users SET all_messages = {n} WHERE user_id = 1"
    ))
    .await;
}

/// The name of `CHAN`'s totals-written mark.
async fn written_mark(db: &TestDb) -> String {
    let chan = db
        .store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    totals_written_mark(chan.key)
}

/// A stream watched across a restart: presence left open by the stop is credited as watch time
/// when the next start closes it, and users already counted in the live stream are not counted
/// twice when the new tracker sees them again.
async fn kept_totals_follow_live_tracking_across_a_restart(db: &TestDb) {
    let [a, b, c, d, e] = [(1, "ann"), (2, "bob"), (3, "cid"), (4, "dee"), (5, "eve")]
        .map(|(id, name)| user(id, name));
    let first = Pipeline::start(db.store.clone(), config(false)).await;
    first
        .send(vec![
            msg(CHAN, ROOM, &a, 0),
            msg(CHAN, ROOM, &c, 5),
            online(CHAN, ROOM, "3001", 100),
            snapshot(CHAN, &[&a, &b, &c], 110),
        ])
        .await;
    first
        .send(vec![
            msg(CHAN, ROOM, &a, 120),
            msg(CHAN, ROOM, &a, 121),
            join(CHAN, &d, 130),
            msg(CHAN, ROOM, &d, 140),
            part(CHAN, &b, 150),
            msg(CHAN, ROOM, &a, 160),
        ])
        .await;
    assert_kept_totals(db, CHAN, "live").await;
    first.stop().await;

    let second = Pipeline::start(db.store.clone(), config(false)).await;
    assert_kept_totals(db, CHAN, "after the restart's watch credit").await;
    second
        .send(vec![
            msg(CHAN, ROOM, &a, 400),
            msg(CHAN, ROOM, &e, 410),
            snapshot(CHAN, &[&a, &c, &e], 420),
            msg(CHAN, ROOM, &c, 430),
        ])
        .await;
    second
        .send(vec![
            offline(CHAN, 2000),
            msg(CHAN, ROOM, &c, 2100),
            online(CHAN, ROOM, "3002", 5000),
            msg(CHAN, ROOM, &b, 5010),
            msg(CHAN, ROOM, &a, 5020),
            part(CHAN, &a, 5030),
            offline(CHAN, 6000),
        ])
        .await;
    second.stop().await;
    assert_kept_totals(db, CHAN, "after two streams").await;
    let streams = db
        .rows(&format!(
            "SELECT all_streams FROM channel_users WHERE user_id = {}",
            a.id.0
        ))
        .await;
    assert_eq!(streams, [[Some(2)]], "ann attended both streams, once each");
}

/// Totals held between commits: the flush of a chat command (rows only) leaves a counted
/// user's later messages out of their channel row until the channel's turn, a full flush or a
/// recount; a crash loses them and the next start recounts them from the stream rows.
async fn held_totals_reach_the_table_by_a_full_flush_a_recount_or_the_next_start(db: &TestDb) {
    let [a, b] = [(1, "ann"), (2, "bob")].map(|(id, name)| user(id, name));
    let config = || holding(false);
    let kept = || async {
        db.rows(&format!(
            "SELECT user_id, all_messages, all_last_seen - {T0} FROM channel_users ORDER BY user_id"
        ))
        .await
    };
    let first = Pipeline::start(reopened(db).await, config()).await;
    first
        .send(vec![
            online(CHAN, ROOM, "3001", 100),
            msg(CHAN, ROOM, &a, 110),
            msg(CHAN, ROOM, &b, 111),
        ])
        .await;
    assert_kept_totals(db, CHAN, "first sightings").await;
    let later = vec![
        msg(CHAN, ROOM, &a, 120),
        msg(CHAN, ROOM, &a, 121),
        msg(CHAN, ROOM, &b, 130),
    ];
    first.ingest.send_all(later).await.expect("send");
    first.ingest.flush_rows().await.expect("flush rows");
    // The stream rows have them; the totals wait.
    let messages = "SELECT user_id, messages FROM stream_users ORDER BY user_id";
    assert_eq!(
        db.rows(messages).await,
        [[Some(1), Some(3)], [Some(2), Some(2)]]
    );
    assert_eq!(
        kept().await,
        [[Some(1), Some(1), Some(110)], [Some(2), Some(1), Some(111)]]
    );
    first.crash();

    let restarted = reopened(db).await;
    let second = Pipeline::start(restarted.clone(), config()).await;
    assert_kept_totals(db, CHAN, "after the crash").await;
    // The new tracker does not know ann is counted: her first message is written at once, the
    // next one waits.
    for at in [200, 201] {
        second
            .ingest
            .send_all(vec![msg(CHAN, ROOM, &a, at)])
            .await
            .expect("send");
        second.ingest.flush_rows().await.expect("flush rows");
    }
    assert_eq!(kept().await[0], [Some(1), Some(4), Some(200)]);
    // A recount writes what is held first (else it would be counted twice).
    let chan = db
        .store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    restarted.recount_totals(chan.key).await.expect("recount");
    assert_kept_totals(db, CHAN, "after a recount").await;
    second
        .ingest
        .send_all(vec![msg(CHAN, ROOM, &a, 202)])
        .await
        .expect("send");
    second.ingest.flush_rows().await.expect("flush rows");
    assert_eq!(kept().await[0], [Some(1), Some(5), Some(201)]);
    second
        .ingest
        .send_all(vec![msg(CHAN, ROOM, &b, 210)])
        .await
        .expect("send");
    second.ingest.flush().await.expect("flush");
    assert_kept_totals(db, CHAN, "after a full flush").await;
    assert_eq!(
        kept().await,
        [[Some(1), Some(6), Some(202)], [Some(2), Some(3), Some(210)]]
    );
    second.stop().await;
}

/// `chatters import` (history only, with inferred streams) beside what the bot tracked.
async fn kept_totals_follow_an_import(db: &TestDb) {
    ingest(&db.store, crowd()).await;
    let (old, new) = (user(1003, "u003"), user(7000, "imported"));
    let import = Pipeline::start(db.store.clone(), config(true)).await;
    import
        .send(vec![
            online(CHAN, ROOM, "import-chan-1", -90_000),
            msg(CHAN, ROOM, &old, -90_000),
            msg(CHAN, ROOM, &new, -89_990),
            msg(CHAN, ROOM, &old, -89_000),
            offline(CHAN, -89_000),
            msg(CHAN, ROOM, &new, -50_000),
            online(CHAN, ROOM, "import-chan-2", 100_000),
            msg(CHAN, ROOM, &old, 100_000),
            join(CHAN, &new, 100_010),
            offline(CHAN, 100_500),
        ])
        .await;
    import.stop().await;
    assert_kept_totals(db, CHAN, "after the import").await;
}

/// Pruning deletes old streams' rows: their users' totals lose them.
async fn kept_totals_follow_retention_pruning(db: &TestDb) {
    let now = Timestamp::now();
    let (old, recent) = (
        Timeline::at(now.0 - 30 * 86_400),
        Timeline::at(now.0 - 86_400),
    );
    let pipeline = Pipeline::start(db.store.clone(), config(false)).await;
    let mut events = scripted_channel(&old, CHAN, ROOM);
    events.push(old.offline(CHAN, 3 * 3600));
    pipeline.send(events).await;
    let regular = user(1, "regular1");
    pipeline
        .send(vec![
            recent.online(CHAN, ROOM, "2001", 0),
            recent.snapshot(CHAN, &[&regular], 60),
            recent.msg(CHAN, ROOM, &regular, 120),
            recent.offline(CHAN, 3600),
        ])
        .await;
    pipeline.stop().await;
    assert_kept_totals(db, CHAN, "before pruning").await;
    let figures = Figures::new(db.store.clone(), KnownBots::shipped(), None);

    let pruned = Retention::new(figures, std::time::Duration::from_secs(10 * 86_400))
        .prune(now)
        .await
        .expect("prune");

    assert_eq!(pruned.streams, 2);
    assert_kept_totals(db, CHAN, "after pruning").await;
}

/// A channel past the point (20,000 candidates) where a page is found by walking the sort
/// column's index rather than by sorting the candidates (and, on PostgreSQL, where the
/// candidates of a rarer prefix are read first): every way gives the pages the definition
/// gives. 20,500 users `w00000`..`w20499`, user i with i % 5 messages.
async fn a_large_channel_pages_the_same_whichever_way_it_is_read(store: Arc<Store>) {
    const N: i64 = 20_500;
    let users: Vec<_> = (0..N)
        .map(|i| user(10_000 + i, &format!("w{i:05}")))
        .collect();
    let refs: Vec<_> = users.iter().collect();
    let mut events = vec![snapshot(CHAN, &refs, 10)];
    for (i, u) in users.iter().enumerate() {
        for m in 0..(i % 5) {
            events.push(msg(CHAN, ROOM, u, 20 + m as i64));
        }
    }
    ingest(&store, events).await;
    let chan = store
        .channel(&login(CHAN))
        .await
        .expect("read")
        .expect("channel");
    let page = |sort, descending, prefix: Option<&'static str>, offset| {
        let store = store.clone();
        async move {
            store
                .chatter_page(chan.key, &query(sort, descending, prefix, offset), &[])
                .await
                .expect("page")
                .into_iter()
                .map(|u| (u.login.to_string(), u.messages))
                .collect::<Vec<_>>()
        }
    };
    // By messages, then id, descending, among the logins with the prefix.
    let expected = |prefix: &str| -> Vec<(String, i64)> {
        let mut rows: Vec<(i64, String, i64)> = (0..N)
            .map(|i| (i, format!("w{i:05}"), i % 5))
            .filter(|(_, l, _)| l.starts_with(prefix))
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse((r.2, r.0)));
        rows.into_iter().take(100).map(|(_, l, m)| (l, m)).collect()
    };
    let all = page(ChatterSort::Messages, true, Some("w"), 0).await;
    assert_eq!(all, expected("w"));
    assert_eq!(all[0], ("w20499".to_owned(), 4));
    let rarer = page(ChatterSort::Messages, true, Some("w1"), 0).await;
    assert_eq!(rarer, expected("w1"));
    assert_eq!(rarer[0], ("w19999".to_owned(), 4));
    let by_login = page(ChatterSort::Login, false, None, 0).await;
    let first: Vec<String> = (0..100).map(|i| format!("w{i:05}")).collect();
    assert_eq!(
        by_login.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        first
    );
    let last = page(ChatterSort::Login, true, None, N - 50).await;
    assert_eq!(last.len(), 50);
    assert_eq!(last[49].0, "w00000");
}

/// A clean stop writes every held total with its last batch and marks the channels it tracked,
/// so the next start does not recount them (a kept total changed behind its back stays as it
/// is); a mark older than rows seen since, or a crash (the start removed the marks), makes
/// the next start recount.
async fn a_clean_stop_spares_the_next_start_its_recount(db: &TestDb) {
    let a = user(1, "ann");
    let config = || holding(false);
    let first = Pipeline::start(reopened(db).await, config()).await;
    first
        .send(vec![
            online(CHAN, ROOM, "4001", 100),
            msg(CHAN, ROOM, &a, 110),
            msg(CHAN, ROOM, &a, 111),
            // Gone: a start credits the watch time of users still present and recounts them
            // anyway; ann's totals can come back only through the recount of the open stream.
            part(CHAN, &a, 112),
        ])
        .await;
    first.stop().await;
    assert_kept_totals(db, CHAN, "after a clean stop").await;
    let mark = written_mark(db).await;
    assert!(db.store.state(&mark).await.expect("read").is_some());

    set_kept_messages(db, 99).await;
    let second = Pipeline::start(reopened(db).await, config()).await;
    assert_eq!(
        kept_messages(db).await,
        [[Some(99)]],
        "recounted after a clean stop"
    );
    assert_eq!(db.store.state(&mark).await.expect("read"), None);
    second.stop().await;

    // A mark older than a row of the open stream: whoever wrote the row may have held its
    // totals (an older version writes no mark).
    db.store
        .set_state(&mark, &(T0 + 105).to_string())
        .await
        .expect("set");
    set_kept_messages(db, 77).await;
    let third = Pipeline::start(reopened(db).await, config()).await;
    assert_kept_totals(db, CHAN, "after a stale mark").await;
    assert_eq!(kept_messages(db).await, [[Some(2)]]);
    for at in [200, 201] {
        third
            .ingest
            .send_all(vec![msg(CHAN, ROOM, &a, at)])
            .await
            .expect("send");
        third.ingest.flush_rows().await.expect("flush rows");
    }
    // The second message's total is held (not yet the channel's turn), and lost by the crash;
    // the third start removed the mark, so the next start recounts (ann is present again, so
    // the watch credit of her open interval recounts her as well).
    assert_eq!(kept_messages(db).await, [[Some(3)]]);
    assert_eq!(db.store.state(&mark).await.expect("read"), None);
    third.crash();
    set_kept_messages(db, 55).await;
    let fourth = Pipeline::start(reopened(db).await, config()).await;
    assert_kept_totals(db, CHAN, "after the crash").await;
    assert_eq!(kept_messages(db).await, [[Some(4)]]);
    fourth.stop().await;
}

/// Under leases: the batch releasing a channel writes its held totals and marks it, so the
/// instance taking it does not recount; the first instance's later stop marks only the
/// channels it still holds (not this one, whose totals the new holder now holds).
async fn a_released_channel_is_marked_for_its_next_holder(db: &TestDb) {
    let a = user(1, "ann");
    let leased = || holding(true);
    let acquired = || Event::ChannelAcquired {
        channel: login(CHAN),
    };
    let first = Pipeline::start(reopened(db).await, leased()).await;
    first
        .send(vec![acquired(), online(CHAN, ROOM, "4101", 100)])
        .await;
    for event in [msg(CHAN, ROOM, &a, 110), msg(CHAN, ROOM, &a, 111)] {
        first.ingest.send_all(vec![event]).await.expect("send");
        first.ingest.flush_rows().await.expect("flush rows");
    }
    // The second message's total is held.
    assert_eq!(kept_messages(db).await, [[Some(1)]]);
    first
        .send(vec![Event::ChannelReleased {
            channel: login(CHAN),
            at: t(113),
        }])
        .await;
    assert_kept_totals(db, CHAN, "after the release").await;
    let mark = written_mark(db).await;
    assert!(db.store.state(&mark).await.expect("read").is_some());

    set_kept_messages(db, 99).await;
    let second = Pipeline::start(reopened(db).await, leased()).await;
    second.send(vec![acquired()]).await;
    assert_eq!(
        kept_messages(db).await,
        [[Some(99)]],
        "recounted after a release"
    );
    assert_eq!(db.store.state(&mark).await.expect("read"), None);
    first.stop().await;
    assert_eq!(
        db.store.state(&mark).await.expect("read"),
        None,
        "marked by an instance that no longer holds it"
    );
    second.stop().await;
    assert!(db.store.state(&mark).await.expect("read").is_some());
}

on_every_backend!(
    every_column_sorts_both_ways_with_the_exports_totals,
    the_search_keeps_logins_starting_with_the_prefix,
    sessions_are_found_by_hash_until_they_expire,
    a_large_channel_pages_the_same_whichever_way_it_is_read;
    with_db:
    kept_totals_follow_live_tracking_across_a_restart,
    kept_totals_follow_an_import,
    kept_totals_follow_retention_pruning,
    held_totals_reach_the_table_by_a_full_flush_a_recount_or_the_next_start,
    a_clean_stop_spares_the_next_start_its_recount,
    a_released_channel_is_marked_for_its_next_holder,
);
