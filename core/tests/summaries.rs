//! The recap bookkeeping of the [`Store`], on SQLite, MariaDB and PostgreSQL: pending
//! rows written once per (subject, target), claims that only one worker wins, results written
//! only by the claim's holder, recently ended streams, and disabled targets.

use std::sync::Arc;

use chatters_core::domain::{StreamId, Timestamp};
use chatters_core::store::{DisabledTarget, Store, SummaryState, SummaryUpdate};
use chatters_core::testing::*;

fn targets(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_owned()).collect()
}

async fn summaries_are_recorded_once_claimed_once_and_finished_by_their_claim(store: Arc<Store>) {
    let added = store
        .add_summaries(7, &targets(&["discord:global", "slack:channel"]), 1_000)
        .await
        .expect("add");
    let again = store
        .add_summaries(7, &targets(&["discord:global"]), 5_000)
        .await
        .expect("add again");
    let early = store.due_summaries(999, 10).await.expect("due");
    let due = store.due_summaries(1_000, 10).await.expect("due");

    assert_eq!(added, 2);
    assert_eq!(again, 0);
    assert!(early.is_empty(), "{early:?}");
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].subject, 7);
    assert_eq!(due[0].target, "discord:global");
    assert_eq!(due[0].state, SummaryState::Pending);
    assert_eq!(due[0].attempts, 0);
    assert_eq!(due[0].next_at, Some(1_000));
    assert_eq!(due[0].created_at, Some(1_000));

    // Two workers read the same row: one claim wins.
    let first = store
        .claim_summary(7, "discord:global", 0, 61_000)
        .await
        .expect("claim");
    let second = store
        .claim_summary(7, "discord:global", 0, 61_000)
        .await
        .expect("claim");
    assert!(first);
    assert!(!second);
    // Claimed: not due until the lease ends.
    let due = store.due_summaries(60_999, 10).await.expect("due");
    assert_eq!(due.len(), 1, "{due:?}");
    let due = store.due_summaries(61_000, 10).await.expect("due");
    assert_eq!(due.len(), 2, "{due:?}");
    assert_eq!(due[1].state, SummaryState::Sending);
    assert_eq!(due[1].attempts, 1);

    // A stale holder (attempt 0) cannot write; the holder of attempt 1 can.
    let sent = SummaryUpdate {
        state: SummaryState::Sent,
        next_at: None,
        sent_at: Some(2_000),
        last_error: None,
    };
    let stale = store
        .finish_summary(7, "discord:global", 0, &sent)
        .await
        .expect("finish");
    let done = store
        .finish_summary(7, "discord:global", 1, &sent)
        .await
        .expect("finish");
    let twice = store
        .finish_summary(7, "discord:global", 1, &sent)
        .await
        .expect("finish");
    assert!(!stale);
    assert!(done);
    assert!(!twice);

    let rows = store.summaries(7).await.expect("summaries");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].target, "discord:global");
    assert_eq!(rows[0].state, SummaryState::Sent);
    assert_eq!(rows[0].sent_at, Some(2_000));
    assert_eq!(rows[0].next_at, None);
    assert_eq!(rows[1].state, SummaryState::Pending);
    let due = store.due_summaries(i64::MAX, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].target, "slack:channel");

    // A retry keeps its error text and is due again later.
    assert!(
        store
            .claim_summary(7, "slack:channel", 0, 9_000)
            .await
            .expect("claim")
    );
    let retry = SummaryUpdate {
        state: SummaryState::Pending,
        next_at: Some(4_000),
        sent_at: None,
        last_error: Some("HTTP 500".to_owned()),
    };
    assert!(
        store
            .finish_summary(7, "slack:channel", 1, &retry)
            .await
            .expect("finish")
    );
    let due = store.due_summaries(4_000, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(due[0].attempts, 1);
}

async fn store_key(store: &Store, id: &StreamId) -> chatters_core::store::StreamKey {
    store.stream(id).await.expect("read").expect("stream").key
}

async fn ended_streams_and_settings_are_listed(store: Arc<Store>) {
    let a = store.add_channel(&login("aaa")).await.expect("add");
    let b = store.add_channel(&login("bbb")).await.expect("add");
    let old = StreamId::parse("100").expect("id");
    let recent = StreamId::parse("200").expect("id");
    let live = StreamId::parse("300").expect("id");
    store
        .open_stream(a.key, &old, t(0), "old")
        .await
        .expect("open");
    store
        .open_stream(a.key, &recent, t(5_000), "recent")
        .await
        .expect("open");
    store
        .open_stream(b.key, &live, t(9_000), "live")
        .await
        .expect("open");
    let mut batch = chatters_core::store::Batch::default();
    batch
        .stream_ends
        .push((store_key(&store, &old).await, t(1_000)));
    batch
        .stream_ends
        .push((store_key(&store, &recent).await, t(6_000)));
    store.commit(&batch).await.expect("commit");
    store
        .set_channel_setting(b.key, "weekly_digest", Some("on"))
        .await
        .expect("set");
    store
        .set_channel_setting(a.key, "weekly_digest", Some("off"))
        .await
        .expect("set");

    let ended = store.ended_streams(t(2_000)).await.expect("ended");
    let all = store.ended_streams(Timestamp(0)).await.expect("ended");
    let digests = store
        .channels_with_setting("weekly_digest", "on")
        .await
        .expect("settings");

    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].id, recent);
    assert_eq!(ended[0].ended_at, Some(t(6_000)));
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, old);
    assert_eq!(digests, vec![b.key]);
}

async fn disabled_targets_are_recorded_per_channel(store: Arc<Store>) {
    let a = store.add_channel(&login("aaa")).await.expect("add");
    let b = store.add_channel(&login("bbb")).await.expect("add");
    let first = DisabledTarget {
        channel: a.key,
        target: "discord:channel".to_owned(),
        url_hash: "0123456789abcdef".to_owned(),
        status: 404,
        disabled_at: t(10),
    };
    store.disable_recap_target(&first).await.expect("disable");
    let replaced = DisabledTarget {
        url_hash: "fedcba9876543210".to_owned(),
        status: 401,
        disabled_at: t(20),
        ..first.clone()
    };
    store
        .disable_recap_target(&replaced)
        .await
        .expect("disable");

    let of_a = store.disabled_recap_targets(a.key).await.expect("read");
    let of_b = store.disabled_recap_targets(b.key).await.expect("read");

    assert_eq!(of_a, vec![replaced]);
    assert!(of_b.is_empty());
}

on_every_backend!(
    summaries_are_recorded_once_claimed_once_and_finished_by_their_claim,
    ended_streams_and_settings_are_listed,
    disabled_targets_are_recorded_per_channel,
);
