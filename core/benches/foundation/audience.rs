//! Section `audience` of the foundation benchmarks: every stream figure, watch time and
//! regulars included, of a live stream with 100,000 unique chatters and 500,000 presence
//! intervals, after five ended streams of 100,000 chatters (every user a regular); and the
//! storage of stream samples per live channel and hour.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chatters_core::bots::KnownBots;
use chatters_core::domain::{StreamId, Timestamp, UserId};
use chatters_core::event::UserRef;
use chatters_core::stats::Figures;
use chatters_core::store::{Batch, Store, Stream, StreamSample};
use chatters_core::tracker::Tracker;

use super::{Db, T0, file_size, login, ms, tracker_config, user};

const USERS: u64 = 100_000;
/// Snapshots of the measured stream: user `u` is listed in every other one (from the first
/// or the second by parity), so each user has 5 presence intervals: 500,000 in all.
const SNAPSHOTS: i64 = 10;
const PREVIOUS: i64 = 5;
const HOUR: i64 = 3600;

fn commit_snapshot(
    tracker: &mut Tracker,
    chan: &chatters_core::domain::Login,
    users: &[&UserRef],
    at: i64,
) -> Batch {
    let listed: Vec<UserRef> = users.iter().map(|u| (*u).clone()).collect();
    let mut batch = Batch::default();
    tracker.snapshot(
        chan,
        &listed,
        listed.len() as u64,
        Timestamp(at),
        &mut batch,
    );
    batch
}

/// Five ended streams of 4 hours (each user in 3 of them), then the live one.
async fn fill(store: &Arc<Store>) -> chatters_core::store::Stream {
    let chan = login("audience");
    let row = store.ensure_channel(&chan).await.expect("channel");
    let mut tracker = Tracker::new(tracker_config());
    tracker.add_channel(chan.clone(), row.key, None, Default::default());
    let users: Vec<UserRef> = (0..USERS).map(user).collect();
    let mut start = T0;
    for s in 0..=PREVIOUS {
        let id = StreamId::parse(&format!("{}", 8000 + s)).expect("id");
        let key = store
            .open_stream(row.key, &id, Timestamp(start), "bench")
            .await
            .expect("stream");
        // As ingestion does when a stream opens live (`Store::mark_stream`).
        assert!(store.mark_stream(key).await.expect("mark"));
        let mut batch = Batch::default();
        tracker.stream_online(&chan, key, Timestamp(start), None, &mut batch);
        store.commit(&batch).await.expect("commit");
        if s < PREVIOUS {
            let listed: Vec<&UserRef> = users
                .iter()
                .enumerate()
                .filter(|(u, _)| (*u as i64 + s) % 5 < 3)
                .map(|(_, u)| u)
                .collect();
            let batch = commit_snapshot(&mut tracker, &chan, &listed, start + 60);
            store.commit(&batch).await.expect("commit");
            let mut batch = Batch::default();
            tracker.stream_offline(&chan, Timestamp(start + 4 * HOUR), &mut batch);
            let empty = commit_snapshot(&mut tracker, &chan, &[], start + 4 * HOUR + 60);
            store.commit(&batch).await.expect("commit");
            store.commit(&empty).await.expect("commit");
            start += 24 * HOUR;
            continue;
        }
        for k in 0..SNAPSHOTS {
            let listed: Vec<&UserRef> = users
                .iter()
                .enumerate()
                .filter(|(u, _)| (*u as i64 + k) % 2 == 0)
                .map(|(_, u)| u)
                .collect();
            let batch = commit_snapshot(&mut tracker, &chan, &listed, start + 60 + k * 600);
            store.commit(&batch).await.expect("commit");
        }
        // A sample a minute for the 100 minutes so far, in three categories.
        let samples: Vec<_> = (0..100)
            .map(|m| {
                let (id, name) = match m / 40 {
                    0 => ("509658", "Just Chatting"),
                    1 => ("33214", "Fortnite"),
                    _ => ("743", "Chess"),
                };
                (
                    chan.clone(),
                    StreamSample {
                        at: Timestamp(start + 60 * m),
                        viewers: 150_000 + m * 100,
                        game_id: id.to_owned(),
                        game_name: name.to_owned(),
                    },
                )
            })
            .collect();
        store.record_samples(&samples).await.expect("samples");
    }
    store
        .stream(&StreamId::parse(&format!("{}", 8000 + PREVIOUS)).expect("id"))
        .await
        .expect("read")
        .expect("stream")
}

fn median(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    (ms(times[times.len() / 2]), ms(times[times.len() - 1]))
}

pub(super) async fn run() {
    let db = Db::sqlite().await;
    let store = &db.store;
    let built = Instant::now();
    let stream = fill(store).await;
    println!(
        "audience/setup: 5 ended streams of 60,000 chatters, a live one of {USERS} with 500,000 presence intervals: {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
    let first = Instant::now();
    let f = figures.stream(&stream).await.expect("figures");
    println!(
        "audience/first read (computes the stream's regulars once): {:.1} ms",
        ms(first.elapsed())
    );
    let intervals: i64 = db.count("presence", "1=1").await;
    assert_eq!(f.unique_chatters, USERS as i64);
    assert_eq!(
        intervals,
        5 * USERS as i64 + 3 * USERS as i64 * PREVIOUS / 5
    );
    assert_eq!(f.audience.regulars_present, USERS as i64);
    assert_eq!(f.audience.categories.len(), 3);
    let channel = store
        .channel(&login("audience"))
        .await
        .expect("read")
        .expect("channel");
    let excluded = figures.excluded(&channel).await.expect("excluded");
    // The marked stream's sums agree with the intersections unmarked streams are read by.
    assert!(stream.marked);
    let prev = store
        .previous_stream(&stream)
        .await
        .expect("read")
        .expect("previous");
    let shared = store
        .shared_unique(stream.key, prev.key, &excluded)
        .await
        .expect("shared");
    let counts = store
        .stream_counts(&stream, &excluded, Timestamp::now())
        .await
        .expect("counts");
    assert_eq!(counts.in_previous, shared);
    assert_eq!(
        store
            .regulars_present(&stream, &excluded)
            .await
            .expect("regulars"),
        f.audience.regulars_present
    );
    let now = Timestamp(stream.started_at.0 + 2 * HOUR);
    let mut all = Vec::new();
    let mut audience = Vec::new();
    let mut top = Vec::new();
    let mut regulars = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        figures.stream(&stream).await.expect("figures");
        all.push(t.elapsed());
        let t = Instant::now();
        let a = figures
            .audience_at(
                &stream,
                &excluded,
                (f.peak_chatters, f.unique_chatters),
                now,
            )
            .await
            .expect("audience");
        audience.push(t.elapsed());
        assert!(a.avg_watch_time.is_some());
        let t = Instant::now();
        figures.top_watchers(&stream, 10, now).await.expect("top");
        top.push(t.elapsed());
        let t = Instant::now();
        let r = figures.regulars(&channel).await.expect("regulars");
        regulars.push(t.elapsed());
        assert_eq!(r.regulars.len(), USERS as usize);
    }
    let line = |what: &str, (median, max): (f64, f64)| {
        println!("audience/{what}: median {median:.1} ms, max {max:.1} ms (21 runs)");
    };
    line(
        "every stream figure (live: SPEC figures, viewers, categories, watch time, regulars)",
        median(all),
    );
    line(
        "the audience figures alone (viewers, categories, avg watch time, regulars present)",
        median(audience),
    );
    line("top 10 watchers (live)", median(top));
    line(
        "GET …/regulars (100,000 regulars over 5 streams)",
        median(regulars),
    );
    if std::env::var_os("BENCH_PROFILE").is_some() {
        profile(store, &figures, &stream, &excluded).await;
    }
    if let Ok(copy) = std::env::var("BENCH_KEEP_DB") {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(&db.url)
            .await
            .expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{copy}'")))
            .execute(&mut conn)
            .await
            .expect("copy");
    }
    samples_storage(&db, store).await;
    // Last, as it changes the data (the storage measurement above reads file growth): what a
    // start (or taking the channel's lease) does, after a crash and also after a clean stop:
    // close the open intervals, credit their watch time and recount the totals of the live
    // stream's users. The second time there is nothing left to close: the recount alone.
    for what in [
        "after a crash: closing and recounting its 100,000 users",
        "the recount alone",
        "after a clean stop: its mark checked, no recount",
    ] {
        if what.starts_with("after a clean") {
            // What the last batch of a clean stop writes.
            store
                .set_state(
                    &chatters_core::store::totals_written_mark(channel.key),
                    &Timestamp::now().0.to_string(),
                )
                .await
                .expect("mark");
        }
        let t = Instant::now();
        let closed = store
            .close_dangling_presence(Some(channel.key))
            .await
            .expect("close dangling presence");
        println!(
            "audience/start-up repair of the live stream, {what} ({closed} open intervals closed): {:.1} ms (once)",
            ms(t.elapsed())
        );
    }
    db.cleanup().await;
}

/// `BENCH_PROFILE=1`: the median of each store read `Figures::stream` makes for the live
/// stream (21 runs each), to see where its time goes.
async fn profile(store: &Arc<Store>, figures: &Figures, stream: &Stream, excluded: &[UserId]) {
    let now = Timestamp::now();
    let end = Timestamp(i64::MAX);
    let prev = store
        .previous_stream(stream)
        .await
        .expect("read")
        .expect("previous stream");
    let channel = store
        .channel(&login("audience"))
        .await
        .expect("read")
        .expect("channel");
    let bots = figures.bot_ids(&channel).await.expect("bots");
    macro_rules! time {
        ($what:expr, $call:expr) => {
            crate::profile_read!("audience", $what, $call)
        };
    }
    time!("excluded", figures.excluded(&channel));
    time!("stream_counts", store.stream_counts(stream, excluded, now));
    time!(
        "snapshot_peak",
        store.snapshot_peak(stream.channel, stream.started_at, end)
    );
    time!("previous_stream", store.previous_stream(stream));
    time!(
        "stream_unique(previous)",
        store.stream_unique(prev.key, excluded)
    );
    time!(
        "shared_unique",
        store.shared_unique(stream.key, prev.key, excluded)
    );
    time!("bot_ids", figures.bot_ids(&channel));
    time!(
        "count_unique_among",
        store.count_unique_among(stream.key, &bots)
    );
    time!(
        "samples",
        store.samples(stream.channel, stream.started_at, end)
    );
    time!("regulars_present", store.regulars_present(stream, excluded));
    time!("stream_chat", figures.stream_chat(stream));
}

/// Bytes a live channel adds per hour of samples (one a minute), on SQLite after a checkpoint.
async fn samples_storage(db: &Db, store: &Arc<Store>) {
    const CHANNELS: i64 = 1_000;
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let before = file_size(db, &path).await;
    for c in 0..CHANNELS {
        store
            .ensure_channel(&login(&format!("sampled{c}")))
            .await
            .expect("channel");
    }
    let with_channels = file_size(db, &path).await;
    for minute in 0..60 {
        let samples: Vec<_> = (0..CHANNELS)
            .map(|c| {
                (
                    login(&format!("sampled{c}")),
                    StreamSample {
                        at: Timestamp(T0 + 100 * HOUR + minute * 60),
                        viewers: 1_000 + c * 37 + minute,
                        game_id: format!("{}", 500_000 + c % 50),
                        game_name: format!("Game {}", c % 50),
                    },
                )
            })
            .collect();
        store.record_samples(&samples).await.expect("samples");
    }
    let after = file_size(db, &path).await;
    println!(
        "audience/storage: {} samples of {CHANNELS} live channels: {} bytes, {:.0} bytes per live channel per hour ({:.1} per sample); database {} → {} bytes",
        60 * CHANNELS,
        after - with_channels,
        (after - with_channels) as f64 / CHANNELS as f64,
        (after - with_channels) as f64 / (60 * CHANNELS) as f64,
        before,
        after
    );
}
