//! The [`Store`] contract, written once and run on SQLite, MariaDB and PostgreSQL: channels,
//! settings, bot rules, streams, crash repair of presence, opt-out, and how storage grows.

use std::sync::Arc;
use std::time::Duration;

use chatters_core::bots::KnownBots;
use chatters_core::domain::{Login, StreamId, Timestamp, UserId};
use chatters_core::event::{Event, UserRef};
use chatters_core::ingest::{Ingest, IngestConfig, IngestHandle};
use chatters_core::stats::{Figures, StreamFigures};
use chatters_core::store::{
    Backend, Batch, BotRule, Channel, ChannelKey, ChannelUserDelta, Raid, SeriesRow, Store,
    StoreError, Stream, StreamKey, StreamUserDelta, UserRow,
};
use chatters_core::testing::*;
use chatters_core::tracker::TrackerConfig;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const CHAN: &str = "chan";
const ROOM: i64 = 500;
const BOT: i64 = 900;

/// A running ingestion pipeline.
struct Running {
    ingest: IngestHandle,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), StoreError>>,
}

async fn start(store: &Arc<Store>) -> Running {
    start_with(store, false).await
}

/// Ingestion of one instance among several sharing channel leases (`leased`) or alone.
async fn start_with(store: &Arc<Store>, leased: bool) -> Running {
    let config = IngestConfig {
        leased,
        tracker: TrackerConfig {
            bot_user: Some(UserId(BOT)),
            bot_login: Some(login("chattersbot")),
            ..TrackerConfig::default()
        },
        ..IngestConfig::default()
    };
    let cancel = CancellationToken::new();
    let (ingest, task) = Ingest::start(store.clone(), config, cancel.clone())
        .await
        .expect("start ingestion");
    Running {
        ingest,
        cancel,
        task,
    }
}

impl Running {
    /// Sends the events and waits until they are committed (failing instead of hanging when a
    /// commit keeps failing: the writer retries forever).
    async fn send(&self, events: Vec<Event>) {
        for e in events {
            self.ingest.send(e).await.expect("ingest");
        }
        tokio::time::timeout(Duration::from_secs(30), self.ingest.flush())
            .await
            .expect("the batch commits within 30 s")
            .expect("flush");
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.expect("join").expect("final flush");
    }
}

fn sid(id: &str) -> StreamId {
    StreamId::parse(id).expect("valid stream id")
}

async fn channel(store: &Arc<Store>, name: &str) -> Channel {
    store
        .channel(&login(name))
        .await
        .expect("read channel")
        .expect("channel exists")
}

async fn stream(store: &Arc<Store>, id: &str) -> Stream {
    store
        .stream(&sid(id))
        .await
        .expect("read stream")
        .expect("stream exists")
}

fn logins(channels: &[Channel]) -> Vec<(String, bool)> {
    channels
        .iter()
        .map(|c| (c.login.to_string(), c.wanted))
        .collect()
}

fn ids(streams: &[Stream]) -> Vec<String> {
    streams.iter().map(|s| s.id.to_string()).collect()
}

/// A batch that records `users` as observed in `channel` (and in `stream`, when given) at `at`.
fn observed(
    channel: ChannelKey,
    stream: Option<(StreamKey, Timestamp)>,
    users: &[&UserRef],
    at: i64,
) -> Batch {
    let mut b = Batch::default();
    for u in users {
        b.users.insert(
            u.id,
            UserRow {
                login: u.login.clone(),
                display_name: None,
                at: t(at),
            },
        );
        b.channel_users.insert(
            (channel, u.id),
            ChannelUserDelta {
                first_seen: t(at),
                last_seen: t(at),
                messages: 0,
            },
        );
        if let Some((key, started)) = stream {
            b.stream_users.insert(
                (key, u.id),
                StreamUserDelta {
                    channel,
                    stream_started: started,
                    first_seen: t(at),
                    last_seen: t(at),
                    messages: 0,
                    first_msg: false,
                    active: true,
                    watch: 0,
                    maybe_first: true,
                },
            );
        }
    }
    b
}

// ---- channels ----

async fn channels_are_added_once_removed_softly_and_listed_by_login(store: Arc<Store>) {
    let before = Timestamp::now();
    let beta = store.add_channel(&login("beta")).await.expect("add");
    let after = Timestamp::now();
    assert_eq!(
        (beta.login.as_str(), beta.twitch_id, beta.wanted),
        ("beta", None, true)
    );
    assert!(
        before <= beta.added_at && beta.added_at <= after,
        "added_at is the time of the first add"
    );
    assert_eq!(
        store.add_channel(&login("beta")).await.expect("add again"),
        beta,
        "adding twice changes nothing"
    );

    let alpha = store.ensure_channel(&login("alpha")).await.expect("ensure");
    assert_eq!(
        (alpha.login.as_str(), alpha.twitch_id, alpha.wanted),
        ("alpha", None, false)
    );
    assert_ne!(alpha.key, beta.key);
    assert_eq!(
        store.ensure_channel(&login("beta")).await.expect("ensure"),
        beta,
        "ensure keeps a wanted channel wanted"
    );
    store.add_channel(&login("gamma")).await.expect("add");
    let listed = store.channels().await.expect("list");
    assert_eq!(
        logins(&listed),
        vec![
            ("alpha".into(), false),
            ("beta".into(), true),
            ("gamma".into(), true)
        ]
    );

    // History: a stream and an observation in beta, which outlive its removal.
    let key = store
        .open_stream(beta.key, &sid("b1"), t(0), "beta live")
        .await
        .expect("open stream");
    let bob = user(2, "bob");
    store
        .commit(&observed(beta.key, Some((key, t(0))), &[&bob], 10))
        .await
        .expect("commit");

    assert!(store.remove_channel(&login("beta")).await.expect("remove"));
    assert!(
        !store
            .remove_channel(&login("beta"))
            .await
            .expect("remove again"),
        "second remove is a no-op"
    );
    assert!(
        !store
            .remove_channel(&login("alpha"))
            .await
            .expect("remove unwanted"),
        "alpha was never wanted"
    );
    assert!(
        !store
            .remove_channel(&login("nobody"))
            .await
            .expect("remove unknown")
    );
    let removed = channel(&store, "beta").await;
    assert_eq!(
        removed,
        Channel {
            wanted: false,
            ..beta.clone()
        }
    );
    assert_eq!(stream(&store, "b1").await.key, key);
    let record = store
        .channel_user(beta.key, UserId(2))
        .await
        .expect("read")
        .expect("history is kept");
    assert_eq!(
        (record.first_seen, record.last_seen, record.streams_attended),
        (t(10), t(10), 1)
    );
    assert_eq!(
        logins(&store.channels().await.expect("list")),
        vec![
            ("alpha".into(), false),
            ("beta".into(), false),
            ("gamma".into(), true)
        ]
    );

    // Adding it back revives the same row.
    assert_eq!(
        store.add_channel(&login("beta")).await.expect("re-add"),
        beta
    );

    store
        .set_channel_twitch_id(alpha.key, UserId(42))
        .await
        .expect("set id");
    assert_eq!(
        channel(&store, "alpha").await,
        Channel {
            twitch_id: Some(UserId(42)),
            ..alpha
        }
    );
    assert_eq!(store.channel(&login("nobody")).await.expect("read"), None);
}

async fn channel_settings_are_set_overwritten_cleared_and_listed_by_name(store: Arc<Store>) {
    let chan = store.add_channel(&login(CHAN)).await.expect("add");
    let other = store.add_channel(&login("other")).await.expect("add");
    let listed = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    };
    assert_eq!(
        store.channel_settings(chan.key).await.expect("read"),
        listed(&[])
    );

    store
        .set_channel_setting(chan.key, "public", Some("true"))
        .await
        .expect("set");
    store
        .set_channel_setting(chan.key, "commands.stats", Some("off"))
        .await
        .expect("set");
    store
        .set_channel_setting(
            chan.key,
            "discord.webhook",
            Some("https://discord.com/api/webhooks/1/ä-token"),
        )
        .await
        .expect("set");
    store
        .set_channel_setting(other.key, "public", Some("false"))
        .await
        .expect("set");
    assert_eq!(
        store.channel_settings(chan.key).await.expect("read"),
        listed(&[
            ("commands.stats", "off"),
            (
                "discord.webhook",
                "https://discord.com/api/webhooks/1/ä-token"
            ),
            ("public", "true")
        ])
    );

    store
        .set_channel_setting(chan.key, "public", Some("false"))
        .await
        .expect("overwrite");
    store
        .set_channel_setting(chan.key, "commands.stats", None)
        .await
        .expect("clear");
    store
        .set_channel_setting(chan.key, "never.set", None)
        .await
        .expect("clearing an unset name is fine");
    assert_eq!(
        store.channel_settings(chan.key).await.expect("read"),
        listed(&[
            (
                "discord.webhook",
                "https://discord.com/api/webhooks/1/ä-token"
            ),
            ("public", "false")
        ])
    );
    assert_eq!(
        store.channel_settings(other.key).await.expect("read"),
        listed(&[("public", "false")])
    );
}

// ---- bot rules ----

fn figure_counts(f: &StreamFigures) -> [i64; 4] {
    [f.unique_chatters, f.messages, f.lurkers, f.known_bots]
}

async fn bot_rules_decide_who_counts_in_the_figures(store: Arc<Store>) {
    let alice = user(1, "alice");
    let mybot = user(3, "mybot");
    let nightbot = user(901, "nightbot");
    let ingest = start(&store).await;
    ingest
        .send(vec![
            online(CHAN, ROOM, "7001", 0),
            msg(CHAN, ROOM, &alice, 10),
            msg(CHAN, ROOM, &mybot, 20),
            msg(CHAN, ROOM, &mybot, 21),
            msg(CHAN, ROOM, &nightbot, 30),
            msg(CHAN, ROOM, &nightbot, 31),
            msg(CHAN, ROOM, &nightbot, 32),
            msg("other", 600, &mybot, 40),
            offline(CHAN, 100),
        ])
        .await;
    ingest.stop().await;
    let figures = Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(BOT)));
    let chan = channel(&store, CHAN).await;
    let other = channel(&store, "other").await;
    let s = stream(&store, "7001").await;
    assert_eq!(chan.twitch_id, Some(UserId(ROOM)));
    let rules = |v: &[(&str, BotRule)]| -> Vec<(Login, BotRule)> {
        v.iter().map(|(l, r)| (login(l), *r)).collect()
    };

    // Shipped list only: nightbot (3 messages) is a known bot; alice (1) and mybot (2) count.
    assert_eq!(store.bot_rules(chan.key).await.expect("rules"), rules(&[]));
    assert_eq!(
        figures.bot_ids(&chan).await.expect("bots"),
        vec![UserId(901)]
    );
    assert_eq!(
        figures.excluded(&chan).await.expect("excluded"),
        vec![UserId(ROOM), UserId(BOT), UserId(901)]
    );
    assert_eq!(
        figure_counts(&figures.stream(&s).await.expect("figures")),
        [2, 3, 0, 1]
    );

    store
        .set_bot_rule(chan.key, &login("mybot"), Some(BotRule::Add))
        .await
        .expect("add rule");
    assert_eq!(
        store.bot_rules(chan.key).await.expect("rules"),
        rules(&[("mybot", BotRule::Add)])
    );
    assert_eq!(
        figures.bot_ids(&chan).await.expect("bots"),
        vec![UserId(3), UserId(901)]
    );
    assert_eq!(
        figures.excluded(&chan).await.expect("excluded"),
        vec![UserId(3), UserId(ROOM), UserId(BOT), UserId(901)]
    );
    assert_eq!(
        figure_counts(&figures.stream(&s).await.expect("figures")),
        [1, 1, 0, 2]
    );

    store
        .set_bot_rule(chan.key, &login("nightbot"), Some(BotRule::Allow))
        .await
        .expect("allow rule");
    assert_eq!(
        store.bot_rules(chan.key).await.expect("rules"),
        rules(&[("mybot", BotRule::Add), ("nightbot", BotRule::Allow)])
    );
    assert_eq!(figures.bot_ids(&chan).await.expect("bots"), vec![UserId(3)]);
    assert_eq!(
        figure_counts(&figures.stream(&s).await.expect("figures")),
        [2, 4, 0, 1]
    );

    // Overwriting a rule, then removing it (bots.remove): mybot counts again.
    store
        .set_bot_rule(chan.key, &login("nightbot"), Some(BotRule::Add))
        .await
        .expect("overwrite rule");
    assert_eq!(
        figure_counts(&figures.stream(&s).await.expect("figures")),
        [1, 1, 0, 2]
    );
    store
        .set_bot_rule(chan.key, &login("nightbot"), Some(BotRule::Allow))
        .await
        .expect("overwrite rule");
    store
        .set_bot_rule(chan.key, &login("mybot"), None)
        .await
        .expect("remove rule");
    store
        .set_bot_rule(chan.key, &login("neverset"), None)
        .await
        .expect("removing an absent rule is fine");
    assert_eq!(
        store.bot_rules(chan.key).await.expect("rules"),
        rules(&[("nightbot", BotRule::Allow)])
    );
    assert_eq!(
        figures.bot_ids(&chan).await.expect("bots"),
        Vec::<UserId>::new()
    );
    assert_eq!(
        figures.excluded(&chan).await.expect("excluded"),
        vec![UserId(ROOM), UserId(BOT)]
    );
    assert_eq!(
        figure_counts(&figures.stream(&s).await.expect("figures")),
        [3, 6, 0, 0]
    );

    // Rules are per channel.
    assert_eq!(store.bot_rules(other.key).await.expect("rules"), rules(&[]));
    assert_eq!(
        figures.bot_ids(&other).await.expect("bots"),
        vec![UserId(901)]
    );
}

// ---- streams ----

async fn streams_are_opened_once_and_listed_newest_first(store: Arc<Store>) {
    let chan = store.add_channel(&login(CHAN)).await.expect("add");
    let other = store.add_channel(&login("other")).await.expect("add");
    let k1 = store
        .open_stream(chan.key, &sid("100"), t(0), "first")
        .await
        .expect("open");
    let again = store
        .open_stream(chan.key, &sid("100"), t(5), "changed title")
        .await
        .expect("open again");
    assert_eq!(again, k1, "the same Twitch id is the same stream (restart)");
    let s1 = stream(&store, "100").await;
    assert_eq!(
        s1,
        Stream {
            key: k1,
            id: sid("100"),
            channel: chan.key,
            started_at: t(0),
            ended_at: None,
            title: "first".into(),
            irc_peak: 0,
            marked: false,
            previous: None,
        }
    );
    let k2 = store
        .open_stream(chan.key, &sid("200"), t(1000), &"x".repeat(600))
        .await
        .expect("open");
    let k3 = store
        .open_stream(other.key, &sid("300"), t(500), "other")
        .await
        .expect("open");
    assert_eq!(
        stream(&store, "200").await.title,
        "x".repeat(500),
        "titles are cut at 500 characters"
    );
    assert_eq!(
        ids(&store.live_streams().await.expect("live")),
        vec!["100", "200", "300"]
    );

    let mut end = Batch::default();
    end.stream_ends.push((k1, t(900)));
    end.stream_peaks.insert(k2, 5);
    store.commit(&end).await.expect("commit");
    // A second end and a lower peak change nothing.
    let mut late = Batch::default();
    late.stream_ends.push((k1, t(950)));
    late.stream_peaks.insert(k2, 3);
    store.commit(&late).await.expect("commit");
    let s1 = stream(&store, "100").await;
    assert_eq!(s1.ended_at, Some(t(900)));
    let s2 = stream(&store, "200").await;
    assert_eq!((s2.key, s2.irc_peak, s2.ended_at), (k2, 5, None));
    assert_eq!(
        ids(&store.live_streams().await.expect("live")),
        vec!["200", "300"]
    );
    assert_eq!(
        store.stream_by_key(k3).await.expect("read"),
        Some(stream(&store, "300").await)
    );
    assert_eq!(store.stream(&sid("999")).await.expect("read"), None);

    // Same start as 200: the later row is the newer stream.
    store
        .open_stream(chan.key, &sid("250"), t(1000), "same start")
        .await
        .expect("open");
    assert_eq!(
        ids(&store.streams(chan.key, 10).await.expect("streams")),
        vec!["250", "200", "100"]
    );
    assert_eq!(
        ids(&store.streams(chan.key, 2).await.expect("streams")),
        vec!["250", "200"]
    );
    assert_eq!(
        ids(&store.streams(other.key, 10).await.expect("streams")),
        vec!["300"]
    );
    let s250 = stream(&store, "250").await;
    assert_eq!(
        store.previous_stream(&s250).await.expect("previous"),
        Some(s2.clone())
    );
    assert_eq!(
        store.previous_stream(&s2).await.expect("previous"),
        Some(s1.clone())
    );
    assert_eq!(store.previous_stream(&s1).await.expect("previous"), None);
    let s3 = stream(&store, "300").await;
    assert_eq!(
        store.previous_stream(&s3).await.expect("previous"),
        None,
        "other channels' streams do not count"
    );
}

// ---- crash repair ----

/// Presence rows of a channel: `(user, since, until)` relative to T0, by user and since.
async fn presence(db: &TestDb, channel: ChannelKey) -> Vec<(i64, i64, Option<i64>)> {
    let sql = format!(
        "SELECT user_id, since, until FROM presence WHERE channel_id = {} ORDER BY user_id, since",
        channel.0
    );
    db.rows(&sql)
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].expect("user"),
                r[1].expect("since") - T0,
                r[2].map(|u| u - T0),
            )
        })
        .collect()
}

async fn a_restart_closes_presence_left_open_at_the_last_sighting(db: &TestDb) {
    let store = db.store.clone();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let run = start(&store).await;
    run.send(vec![
        online(CHAN, ROOM, "8001", 0),
        snapshot(CHAN, &[&alice, &bob], 10),
        msg(CHAN, ROOM, &alice, 50),
    ])
    .await;
    // A crash: the task dies without the shutdown checkpoint.
    run.task.abort();
    assert!(run.task.await.expect_err("aborted").is_cancelled());
    let chan = channel(&store, CHAN).await;
    assert_eq!(
        presence(db, chan.key).await,
        vec![(1, 10, None), (2, 10, None)]
    );

    let run = start(&store).await;
    // The repair's writes (open_since cleared, watch time credited) kept the sums.
    assert_eq!(assert_kept_sums(&store).await, 1);
    // Closed at the last recorded sighting + 1 s: alice's message, bob's snapshot.
    assert_eq!(
        presence(db, chan.key).await,
        vec![(1, 10, Some(51)), (2, 10, Some(11))]
    );
    assert_eq!(
        store.close_dangling_presence(None).await.expect("close"),
        0,
        "nothing is left open"
    );
    // The live stream is resumed: alice is back, bob is still gone.
    run.send(vec![snapshot(CHAN, &[&alice], 100)]).await;
    run.stop().await;
    assert_eq!(
        presence(db, chan.key).await,
        vec![(1, 10, Some(51)), (1, 100, None), (2, 10, Some(11))]
    );
    assert_eq!(
        ids(&store.live_streams().await.expect("live")),
        vec!["8001"]
    );
}

/// Several instances share the channels through leases: a starting instance must not cut the
/// presence the others hold open; a channel it takes over has its dangling presence closed, and
/// only that channel.
async fn with_leases_only_a_taken_over_channel_has_its_presence_closed(db: &TestDb) {
    let store = db.store.clone();
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    // Another instance tracks both channels, then dies.
    let other = start_with(&store, true).await;
    other
        .send(vec![
            online(CHAN, ROOM, "8001", 0),
            snapshot(CHAN, &[&alice], 10),
            msg(CHAN, ROOM, &alice, 50),
            online("other", 600, "8002", 0),
            snapshot("other", &[&bob], 20),
        ])
        .await;
    other.task.abort();
    assert!(other.task.await.expect_err("aborted").is_cancelled());
    let chan = channel(&store, CHAN).await;
    let elsewhere = channel(&store, "other").await;

    // A new instance starts: nothing is closed (the other channel may still be tracked).
    let run = start_with(&store, true).await;
    assert_eq!(presence(db, chan.key).await, vec![(1, 10, None)]);
    assert_eq!(presence(db, elsewhere.key).await, vec![(2, 20, None)]);

    // It takes #chan's lease: #chan's presence closes at alice's last sighting + 1 s.
    run.send(vec![Event::ChannelAcquired {
        channel: login(CHAN),
    }])
    .await;
    assert_eq!(presence(db, chan.key).await, vec![(1, 10, Some(51))]);
    assert_eq!(presence(db, elsewhere.key).await, vec![(2, 20, None)]);

    // Its own tracking of #chan then goes on as usual.
    run.send(vec![snapshot(CHAN, &[&alice], 100)]).await;
    run.stop().await;
    assert_eq!(
        presence(db, chan.key).await,
        vec![(1, 10, Some(51)), (1, 100, None)]
    );
    assert_eq!(presence(db, elsewhere.key).await, vec![(2, 20, None)]);
}

async fn dangling_presence_without_a_sighting_closes_one_second_after_it_began(db: &TestDb) {
    let store = db.store.clone();
    let chan = store.add_channel(&login(CHAN)).await.expect("add");
    let alice = user(1, "alice");
    let mut b = observed(chan.key, None, &[&alice], 40);
    b.presence.insert((chan.key, UserId(1), t(10)), None);
    b.presence.insert((chan.key, UserId(1), t(0)), Some(t(5)));
    // A row whose user has no channel row, and one whose last sighting predates it.
    b.presence.insert((chan.key, UserId(7), t(20)), None);
    b.presence.insert((chan.key, UserId(1), t(60)), None);
    store.commit(&b).await.expect("commit");
    assert_eq!(store.close_dangling_presence(None).await.expect("close"), 3);
    assert_eq!(
        presence(db, chan.key).await,
        vec![
            (1, 0, Some(5)),
            (1, 10, Some(41)),
            (1, 60, Some(61)),
            (7, 20, Some(21))
        ]
    );
}

// ---- opt-out ----

async fn opt_out_deletes_every_row_about_the_user_and_opt_in_lifts_it(db: &TestDb) {
    let store = db.store.clone();
    let chan = store.add_channel(&login(CHAN)).await.expect("add");
    let s = store
        .open_stream(chan.key, &sid("100"), t(0), "live")
        .await
        .expect("open");
    let alice = user(1, "alice");
    let bob = user(2, "bob");
    let mut b = observed(chan.key, Some((s, t(0))), &[&alice, &bob], 10);
    b.presence.insert((chan.key, UserId(1), t(10)), Some(t(50)));
    b.presence.insert((chan.key, UserId(1), t(100)), None);
    b.presence.insert((chan.key, UserId(2), t(10)), None);
    for (at, chatters) in [(20, 2), (60, 1), (120, 2)] {
        b.series.push(SeriesRow {
            channel: chan.key,
            at: t(at),
            chatters,
            total: Some(chatters),
        });
    }
    b.raids.push(Raid {
        channel: chan.key,
        stream: Some(s),
        from: UserId(1),
        from_login: login("alice"),
        viewers: 3,
        at: t(30),
    });
    store.commit(&b).await.expect("commit");
    // A rename gives alice a name-history row.
    let mut rename = Batch::default();
    rename.users.insert(
        UserId(1),
        UserRow {
            login: login("alicia"),
            display_name: None,
            at: t(200),
        },
    );
    store.commit(&rename).await.expect("commit");

    let of = |u: i64| {
        [
            ("users", format!("id = {u}")),
            ("channel_users", format!("user_id = {u}")),
            ("stream_users", format!("user_id = {u}")),
            ("presence", format!("user_id = {u}")),
            ("name_history", format!("user_id = {u}")),
            ("raids", format!("from_id = {u}")),
        ]
    };
    let counts = async |u: i64| {
        let mut out = Vec::new();
        for (table, filter) in of(u) {
            out.push(db.count(table, &filter).await);
        }
        out
    };
    let series = async || {
        db.rows("SELECT at, chatters FROM series ORDER BY at")
            .await
            .into_iter()
            .map(|r| (r[0].expect("at") - T0, r[1].expect("chatters")))
            .collect::<Vec<_>>()
    };
    assert_eq!(counts(1).await, vec![1, 1, 1, 2, 1, 1]);
    assert_eq!(counts(2).await, vec![1, 1, 1, 1, 0, 0]);

    store.opt_out(UserId(1), t(300)).await.expect("opt out");
    assert_eq!(counts(1).await, vec![0, 0, 0, 0, 0, 0]);
    assert_eq!(
        counts(2).await,
        vec![1, 1, 1, 1, 0, 0],
        "other users are untouched"
    );
    // Series points alice was present for (20 s and 120 s) no longer count her.
    assert_eq!(series().await, vec![(20, 1), (60, 1), (120, 1)]);
    assert_eq!(store.opted_out().await.expect("opted out"), vec![UserId(1)]);
    assert_eq!(
        db.int("SELECT at FROM opt_outs WHERE user_id = 1").await,
        Some(T0 + 300)
    );
    assert_eq!(store.user(UserId(1)).await.expect("user"), None);
    assert_eq!(store.name_history(UserId(1)).await.expect("names"), vec![]);

    // Twice is harmless (the points are not decremented again).
    store
        .opt_out(UserId(1), t(400))
        .await
        .expect("opt out again");
    assert_eq!(series().await, vec![(20, 1), (60, 1), (120, 1)]);
    assert_eq!(store.opted_out().await.expect("opted out"), vec![UserId(1)]);

    store.opt_out(UserId(2), t(500)).await.expect("opt out");
    // The stream's kept sums lost both users' rows with them.
    assert_eq!(assert_kept_sums(&store).await, 1);
    assert_eq!(
        store.opted_out().await.expect("opted out"),
        vec![UserId(1), UserId(2)]
    );
    store.opt_in(UserId(1)).await.expect("opt in");
    store
        .opt_in(UserId(3))
        .await
        .expect("opting in a user who never opted out is fine");
    assert_eq!(store.opted_out().await.expect("opted out"), vec![UserId(2)]);
    assert_eq!(
        counts(1).await,
        vec![0, 0, 0, 0, 0, 0],
        "history stays deleted"
    );
}

// ---- storage growth ----

async fn storage_grows_with_changes_not_with_snapshots(db: &TestDb) {
    let store = db.store.clone();
    let users: Vec<UserRef> = (0..50)
        .map(|i| user(1000 + i, &format!("viewer{i}")))
        .collect();
    let listed: Vec<&UserRef> = users.iter().collect();
    let run = start(&store).await;
    // The first snapshot shares the stream's start second, so no IRC-only point precedes it.
    let mut events = vec![online(CHAN, ROOM, "9001", 0)];
    for i in 0..100 {
        events.push(snapshot(CHAN, &listed, 60 * i));
        if i % 10 == 9 {
            run.send(std::mem::take(&mut events)).await;
        }
    }
    let chan = channel(&store, CHAN).await;
    let rows = async || {
        [
            db.count("presence", "1=1").await,
            db.count("presence", "until IS NULL").await,
            db.count("stream_users", "1=1").await,
            db.count("channel_users", "1=1").await,
            db.count("users", "1=1").await,
            db.count("series", "1=1").await,
        ]
    };
    assert_eq!(rows().await, [50, 50, 50, 50, 50, 100]);
    let series = store.series(chan.key, t(0), t(6000)).await.expect("series");
    assert!(
        series
            .iter()
            .all(|p| p.chatters == 50 && p.total == Some(50))
    );

    // Ending the stream and stopping write last sightings into the same rows.
    run.send(vec![offline(CHAN, 6000)]).await;
    run.stop().await;
    assert_eq!(rows().await, [50, 50, 50, 50, 50, 100]);
    assert_eq!(
        db.count(
            "stream_users",
            &format!("first_seen = {} AND last_seen = {}", T0, T0 + 5940)
        )
        .await,
        50
    );
    assert_eq!(
        db.count(
            "channel_users",
            &format!("first_seen = {} AND last_seen = {}", T0, T0 + 5940)
        )
        .await,
        50
    );
    let figures = Figures::new(store.clone(), KnownBots::shipped(), Some(UserId(BOT)));
    let f = figures
        .stream(&stream(&store, "9001").await)
        .await
        .expect("figures");
    assert_eq!(
        [
            f.unique_chatters,
            f.new_chatters,
            f.peak_chatters,
            f.messages,
            f.lurkers
        ],
        [50, 50, 50, 0, 50]
    );
}

/// A channel's first snapshot taken on a minute boundary: the tick before it adds an IRC-only
/// point at the same second, so the batch holds two series rows with one key.
async fn a_first_snapshot_on_a_minute_boundary_commits_one_point(db: &TestDb) {
    let store = db.store.clone();
    let alice = user(1, "alice");
    let run = start(&store).await;
    run.send(vec![
        online(CHAN, ROOM, "9101", 0),
        snapshot(CHAN, &[&alice], 60),
    ])
    .await;
    run.stop().await;
    let chan = channel(&store, CHAN).await;
    let points: Vec<_> = store
        .series(chan.key, t(0), t(120))
        .await
        .expect("series")
        .iter()
        .map(|p| (p.at.0 - T0, p.chatters, p.total))
        .collect();
    assert_eq!(points, vec![(60, 1, Some(1))], "the snapshot's point wins");
}

/// One batch across 1,100 live streams, each with a user arriving: the commit's read of which
/// stream rows become active was one `OR` term per stream, past SQLite's expression depth
/// limit (1,000), so every commit of such a batch failed and ingestion retried it forever.
async fn a_batch_across_1100_live_streams_commits(db: &TestDb) {
    let store = &db.store;
    let mut batch = Batch::default();
    // Every third user was seen in the channel before its stream started: not new.
    let mut before = Batch::default();
    for c in 0..1_100i64 {
        let channel = store
            .ensure_channel(&login(&format!("c{c}")))
            .await
            .expect("channel");
        let stream = store
            .open_stream(channel.key, &sid(&format!("{}", 10_000 + c)), t(0), "live")
            .await
            .expect("stream");
        let u = user(100_000 + c, &format!("u{c}"));
        if c % 3 == 0 {
            let seen = observed(channel.key, None, &[&u], -50);
            before.users.extend(seen.users);
            before.channel_users.extend(seen.channel_users);
        }
        let one = observed(channel.key, Some((stream, t(0))), &[&u], 10);
        batch.users.extend(one.users);
        batch.channel_users.extend(one.channel_users);
        batch.stream_users.extend(one.stream_users);
    }
    store.commit(&before).await.expect("commit");
    store.commit(&batch).await.expect("commit");
    assert_eq!(db.count("stream_users", "active = 1").await, 1_100);
    assert_eq!(db.count("channel_users", "all_streams = 1").await, 1_100);
    // Every stream gets its new-chatter check.
    assert_eq!(db.count("stream_users", "is_new = 1").await, 733);
    // The kept sums follow both statements.
    assert_eq!(db.count("stream_sums", "chatters = 1").await, 1_100);
    assert_eq!(db.count("stream_sums", "new_chatters = 1").await, 733);
}

/// Migration 0011 over a database that already has streams: its sums are filled from the rows
/// (the schema is brought back to 0010's, rows written without the triggers, then 0011 run).
async fn migration_0011_sums_the_rows_already_stored(db: &TestDb) {
    let store = &db.store;
    let (undo, redo) = match store.backend() {
        Backend::Sqlite => (
            "DROP TRIGGER stream_sums_open; DROP TRIGGER stream_sums_insert; \
             DROP TRIGGER stream_sums_update; DROP TRIGGER stream_sums_delete; \
             DROP TABLE stream_sums;",
            include_str!("../../migrations/sqlite/0011_keep_stream_sums.sql"),
        ),
        Backend::MySql => (
            "DROP TRIGGER stream_sums_open; DROP TRIGGER stream_sums_insert; \
             DROP TRIGGER stream_sums_update; DROP TRIGGER stream_sums_delete; \
             DROP TABLE stream_sums;",
            include_str!("../../migrations/mysql/0011_keep_stream_sums.sql"),
        ),
        Backend::Postgres => (
            "DROP FUNCTION stream_sums_open() CASCADE; DROP FUNCTION stream_sums_change() CASCADE; \
             DROP TABLE stream_sums;",
            include_str!("../../migrations/postgres/0011_keep_stream_sums.sql"),
        ),
    };
    db.execute(undo).await;
    // An ended stream and a live one with open presence intervals.
    let run = start(store).await;
    run.send(scripted_channel(&FIXED, CHAN, ROOM)).await;
    run.stop().await;
    assert_eq!(db.count("stream_users", "open_since IS NOT NULL").await, 10);
    db.execute(redo).await;
    assert_eq!(db.count("stream_sums", "1 = 1").await, 2);
    assert_eq!(assert_kept_sums(store).await, 2);
}

on_every_backend!(
    channels_are_added_once_removed_softly_and_listed_by_login,
    channel_settings_are_set_overwritten_cleared_and_listed_by_name,
    bot_rules_decide_who_counts_in_the_figures,
    streams_are_opened_once_and_listed_newest_first;
    with_db:
    a_restart_closes_presence_left_open_at_the_last_sighting,
    with_leases_only_a_taken_over_channel_has_its_presence_closed,
    dangling_presence_without_a_sighting_closes_one_second_after_it_began,
    opt_out_deletes_every_row_about_the_user_and_opt_in_lifts_it,
    storage_grows_with_changes_not_with_snapshots,
    a_first_snapshot_on_a_minute_boundary_commits_one_point,
    a_batch_across_1100_live_streams_commits,
    migration_0011_sums_the_rows_already_stored,
);
