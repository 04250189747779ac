//! The store methods behind API keys and exports, on SQLite, MariaDB and PostgreSQL: keys are
//! stored hashed with their channels and revoked once; the streamed export rows equal
//! [`Store::channel_users`]; the CSV and JSON bytes parse back to the same rows.

use std::sync::Arc;

use chatters_core::apikey::{self, ApiKey};
use chatters_core::bots::KnownBots;
use chatters_core::domain::{Timestamp, UserId};
use chatters_core::event::Event;
use chatters_core::export::{self, ExportFormat};
use chatters_core::ingest::{Ingest, IngestConfig};
use chatters_core::store::{ApiKeyId, ChannelKey, ChannelUser, Store};
use chatters_core::testing::*;
use chatters_core::tracker::TrackerConfig;
use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

const CHAN: &str = "chan";
const ROOM: i64 = 500;

/// Ingests `events` through the real pipeline and waits until they are committed.
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

/// Two streams with messages, lurkers, an offline sighting, a known bot and the broadcaster.
fn two_streams() -> Vec<Event> {
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let carol = user(3, "carol");
    let dave = user(4, "dave");
    let nightbot = user(901, "nightbot");
    let owner = user(ROOM, CHAN);
    vec![
        snapshot(CHAN, &[&alice], -600),
        online(CHAN, ROOM, "1001", 0),
        snapshot(CHAN, &[&alice, &bob, &nightbot, &owner], 60),
        msg(CHAN, ROOM, &alice, 100),
        msg(CHAN, ROOM, &alice, 110),
        msg(CHAN, ROOM, &owner, 120),
        offline(CHAN, 600),
        online(CHAN, ROOM, "1002", 3600),
        snapshot(CHAN, &[&alice, &carol], 3700),
        msg(CHAN, ROOM, &carol, 3800),
        join(CHAN, &dave, 3900),
        offline(CHAN, 4200),
    ]
}

async fn channel_key(store: &Arc<Store>, name: &str) -> ChannelKey {
    store
        .channel(&login(name))
        .await
        .expect("read channel")
        .expect("channel exists")
        .key
}

async fn api_keys_are_stored_hashed_with_their_channels_and_revoked_once(store: Arc<Store>) {
    let a = store.add_channel(&login("alpha")).await.expect("add").key;
    let b = store.add_channel(&login("beta")).await.expect("add").key;
    let key = ApiKey::generate().expect("random");
    let hash = key.hash().to_hex();

    let id = store
        .create_api_key(&hash, "ci key", &[b, a, b], t(0))
        .await
        .expect("create");
    let other = store
        .create_api_key(
            &ApiKey::generate().expect("random").hash().to_hex(),
            "",
            &[],
            t(5),
        )
        .await
        .expect("create unscoped");

    let found = store
        .api_key_by_hash(&hash)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.id, id);
    assert_eq!(found.label, "ci key");
    assert_eq!(found.created_at, t(0));
    assert_eq!(found.revoked_at, None);
    assert_eq!(
        found.channels,
        vec![(a, login("alpha")), (b, login("beta"))],
        "deduplicated, by login"
    );
    assert!(apikey::verify(&key, &found.key_hash));
    assert!(
        !found.key_hash.contains(&key.expose()[4..]),
        "only the hash is stored"
    );
    assert_eq!(
        store
            .api_key_by_hash(&ApiKey::generate().expect("random").hash().to_hex())
            .await
            .expect("lookup"),
        None
    );

    let listed = store.api_keys().await.expect("list");
    assert_eq!(
        listed.iter().map(|k| k.id).collect::<Vec<_>>(),
        vec![id, other]
    );
    assert!(listed[1].channels.is_empty());

    assert!(store.revoke_api_key(id, t(100)).await.expect("revoke"));
    assert!(
        !store.revoke_api_key(id, t(200)).await.expect("again"),
        "already revoked"
    );
    assert!(
        !store
            .revoke_api_key(ApiKeyId(9999), t(200))
            .await
            .expect("unknown"),
        "no such key"
    );
    let revoked = store
        .api_key_by_hash(&hash)
        .await
        .expect("lookup")
        .expect("still found");
    assert_eq!(
        revoked.revoked_at,
        Some(t(100)),
        "the first revocation stays"
    );
    assert_eq!(store.api_keys().await.expect("list")[1].revoked_at, None);
}

async fn streamed_rows_equal_channel_users(store: Arc<Store>) {
    ingest(&store, two_streams()).await;
    let chan = channel_key(&store, CHAN).await;
    let everyone = (Timestamp(0), Timestamp(i64::MAX));
    let windows = [
        everyone,
        (t(-1000), t(-500)),
        (t(3650), t(3850)),
        (t(5000), t(6000)),
    ];
    let exclusions = [vec![], vec![UserId(ROOM), UserId(901)]];

    for (since, until) in windows {
        for excluded in &exclusions {
            let listed = store
                .channel_users(chan, since, until, excluded)
                .await
                .expect("list");
            let streamed: Vec<ChannelUser> = store
                .channel_users_stream(chan, since, until, excluded)
                .map(|r| r.expect("row"))
                .collect()
                .await;
            assert_eq!(
                streamed, listed,
                "{since:?}..{until:?} without {excluded:?}"
            );
        }
    }

    let all: Vec<ChannelUser> = store
        .channel_users_stream(chan, everyone.0, everyone.1, &exclusions[1])
        .map(|r| r.expect("row"))
        .collect()
        .await;
    let summary: Vec<_> = all
        .iter()
        .map(|u| {
            (
                u.user_id.0,
                u.login.to_string(),
                u.first_seen,
                u.last_seen,
                u.messages,
                u.streams_attended,
            )
        })
        .collect();
    // Last seen is the latest observation. alice: offline sighting at -600, both streams, 2
    // messages; bob: stream 1 only; carol: stream 2 with a message; dave: joined in stream 2.
    assert_eq!(
        summary,
        vec![
            (1, "alice".into(), t(-600), t(3700), 2, 2),
            (2, "bob".into(), t(60), t(60), 0, 1),
            (3, "carol".into(), t(3700), t(3800), 1, 1),
            (4, "dave".into(), t(3900), t(3900), 0, 1),
        ]
    );
}

async fn exports_parse_back_to_the_rows(store: Arc<Store>) {
    ingest(&store, two_streams()).await;
    let chan = channel_key(&store, CHAN).await;
    let excluded = [UserId(ROOM), UserId(901)];
    let (since, until) = (Timestamp(0), Timestamp(i64::MAX));
    let rows = store
        .channel_users(chan, since, until, &excluded)
        .await
        .expect("rows");

    let csv: Vec<u8> = export::export(
        store.as_ref(),
        chan,
        since,
        until,
        &excluded,
        ExportFormat::Csv,
    )
    .map(|c| c.expect("chunk"))
    .collect::<Vec<_>>()
    .await
    .concat();
    let json: Vec<u8> = export::export(
        store.as_ref(),
        chan,
        since,
        until,
        &excluded,
        ExportFormat::Json,
    )
    .map(|c| c.expect("chunk"))
    .collect::<Vec<_>>()
    .await
    .concat();

    let mut reader = csv::Reader::from_reader(csv.as_slice());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        export::COLUMNS
    );
    let from_csv: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect();
    let json: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    let from_json: Vec<Vec<String>> = json["chatters"]
        .as_array()
        .expect("array")
        .iter()
        .map(|o| {
            export::COLUMNS
                .iter()
                .map(|c| match &o[*c] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let expected: Vec<Vec<String>> = rows
        .iter()
        .map(|u| {
            vec![
                u.user_id.to_string(),
                u.login.to_string(),
                u.display_name.clone(),
                u.first_seen.to_rfc3339(),
                u.last_seen.to_rfc3339(),
                u.messages.to_string(),
                u.streams_attended.to_string(),
                u.watch_time.to_string(),
            ]
        })
        .collect();
    assert_eq!(from_csv, expected);
    assert_eq!(from_json, expected);
    assert_eq!(expected.len(), 4);
}

async fn large_exports_stream_every_row_in_id_order(store: Arc<Store>) {
    // Two pages of 10,000 users (the export reads by pages of user ids).
    let crowd: Vec<_> = (0..12_000)
        .map(|i| user(10_000 + i, &format!("viewer{i}")))
        .collect();
    let refs: Vec<_> = crowd.iter().collect();
    ingest(
        &store,
        vec![
            online(CHAN, ROOM, "3001", 0),
            snapshot(CHAN, &refs, 60),
            offline(CHAN, 600),
        ],
    )
    .await;
    let chan = channel_key(&store, CHAN).await;

    let mut count = 0_i64;
    let mut last = 0_i64;
    let mut rows = store.channel_users_stream(chan, Timestamp(0), Timestamp(i64::MAX), &[]);
    while let Some(row) = rows.next().await {
        let row = row.expect("row");
        assert!(row.user_id.0 > last, "ordered by id");
        last = row.user_id.0;
        count += 1;
    }

    assert_eq!(count, 12_000);
    let chunks: Vec<Vec<u8>> = export::export(
        store.as_ref(),
        chan,
        Timestamp(0),
        Timestamp(i64::MAX),
        &[],
        ExportFormat::Csv,
    )
    .map(|c| c.expect("chunk"))
    .collect()
    .await;
    assert!(chunks.len() >= 4, "{} chunks", chunks.len());
    let lines = chunks.concat().split(|b| *b == b'\n').count();
    assert_eq!(
        lines,
        12_000 + 2,
        "header, rows, and the empty tail after the last CRLF"
    );
}

async fn many_concurrent_exports_all_finish(store: Arc<Store>) {
    ingest(&store, two_streams()).await;
    let chan = channel_key(&store, CHAN).await;

    // Twice the pool size: each export needs two connections while it streams.
    let exports = (0..16).map(|_| {
        store
            .channel_users_stream(chan, Timestamp(0), Timestamp(i64::MAX), &[])
            .map(|r| r.expect("row"))
            .collect::<Vec<_>>()
    });
    let all = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        futures::future::join_all(exports),
    )
    .await
    .expect("no export waits forever for a connection");

    assert!(all.iter().all(|rows| rows.len() == 6), "{:?}", all[0].len());
}

on_every_backend!(
    api_keys_are_stored_hashed_with_their_channels_and_revoked_once,
    streamed_rows_equal_channel_users,
    exports_parse_back_to_the_rows,
    large_exports_stream_every_row_in_id_order,
    many_concurrent_exports_all_finish,
);
