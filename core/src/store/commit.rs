//! Committing a [`Batch`]: the users (with their renames), the channel/stream/presence rows
//! through the [`bulk`](super::bulk) upsert, the per-stream "new chatter" check, series
//! points, stream peaks and ends, raids and broadcaster ids, all in one transaction.

use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::{QueryBuilder, Row as _};

use super::batch::Batch;
use super::bulk;
use super::dialect::{Dialect, fixed_chunks, id_list};
use super::error::StoreError;
use super::keys::{ChannelKey, StreamKey};
use super::pool::{Store, Tx, with_tx};
use crate::domain::{Login, Timestamp, UserId};

impl Store {
    /// Commits one batch of row changes in one transaction.
    pub async fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty()
            && !self
                .totals
                .pending(batch.hold_totals, std::time::Instant::now())
        {
            self.commits.skipped(batch.seq);
            return Ok(());
        }
        let started = std::time::Instant::now();
        let _gate = self.totals.gate().await;
        let mut tx = self.begin().await?;
        commit_users(&mut tx, batch).await?;
        let users = started.elapsed();
        let totals = commit_observations(&mut tx, batch, &self.marks, &self.totals).await?;
        let observations = started.elapsed();
        commit_rest(&mut tx, batch).await?;
        let rest = started.elapsed();
        super::signals::commit_signals(&mut tx, &batch.signals).await?;
        let signals = started.elapsed();
        let delay = self.commits.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.commits.committing();
        let committed = tx.commit().await;
        self.commits
            .settled(committed.as_ref().ok().map(|()| batch.seq));
        committed?;
        self.totals.settle(totals);
        self.marks.forget(batch.stream_ends.iter().map(|(s, _)| *s));
        tracing::debug!(
            events = batch.events,
            users = batch.users.len(),
            channel_users = batch.channel_users.len(),
            stream_users = batch.stream_users.len(),
            presence = batch.presence.len(),
            users_ms = users.as_millis() as u64,
            observations_ms = (observations - users).as_millis() as u64,
            rest_ms = (rest - observations).as_millis() as u64,
            signal_rows = batch.signals.rows(),
            signals_ms = (signals - rest).as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "batch committed"
        );
        Ok(())
    }
}

impl Store {
    /// A reader's view of which batches are committed (see [`CommitWatch`]).
    pub fn commit_watch(&self) -> super::commit_clock::CommitWatch {
        super::commit_clock::CommitWatch::new(self.commits.subscribe())
    }

    /// The highest batch number committed through this store: a new ingestion over it numbers
    /// its batches after it, so that readers never take them for committed ones.
    pub fn last_batch(&self) -> u64 {
        self.commits.committed()
    }

    /// Holds every batch's transaction open `delay` longer before its `COMMIT`, as a slow disk
    /// would (benchmarks and tests; zero by default).
    pub fn slow_commits(&self, delay: std::time::Duration) {
        self.commits.set_delay(delay);
    }
}

/// The dialect of an open transaction.
fn dialect(tx: &Tx) -> Dialect {
    with_tx!(tx, |_tx, Db, d| d)
}

/// A display name worth storing: `None` when it is the login in another case.
fn display_to_store<'a>(login: &Login, display: Option<&'a str>) -> Option<&'a str> {
    display.filter(|d| !d.eq_ignore_ascii_case(login.as_str()))
}

/// `(id, login, login_since)` of the stored users among `ids`.
async fn stored_users(tx: &mut Tx, ids: &[UserId]) -> Result<Vec<(i64, String, i64)>, StoreError> {
    let rows = match tx {
        // One array parameter: one statement text whatever the count.
        Tx::Postgres(tx) => {
            let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
            sqlx::query_as("SELECT id, login, login_since FROM users WHERE id = ANY($1)")
                .bind(ids)
                .fetch_all(&mut **tx)
                .await?
        }
        // Inlined ids through the text protocol: no prepared statement per list length.
        tx => with_tx!(tx, |tx, Db, d| {
            let sql = format!(
                "SELECT id, login, login_since FROM users WHERE id IN {}",
                id_list(ids)
            );
            let mut out = Vec::new();
            for row in sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .fetch_all(&mut **tx)
                .await?
            {
                out.push((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?));
            }
            out
        }),
    };
    Ok(rows)
}

async fn commit_users(tx: &mut Tx, batch: &Batch) -> Result<(), StoreError> {
    let d = dialect(tx);
    // Key order: each b-tree page is visited once, in order.
    let mut rows: Vec<_> = batch.users.iter().collect();
    rows.sort_unstable_by_key(|(k, _)| **k);
    for chunk in d.write_chunks(&rows) {
        // Which of these users are stored under another login: their old name goes to the
        // history before the row is overwritten.
        let ids: Vec<UserId> = chunk.iter().map(|(id, _)| **id).collect();
        let stored: FxHashMap<i64, (String, i64)> = stored_users(tx, &ids)
            .await?
            .into_iter()
            .map(|(id, login, since)| (id, (login, since)))
            .collect();
        let renamed: Vec<_> = chunk
            .iter()
            .filter_map(|(id, row)| {
                stored
                    .get(&id.0)
                    .filter(|(old, _)| old.as_str() != row.login.as_str())
                    .map(|(old, since)| (id.0, old.clone(), *since, row.at.0))
            })
            .collect();
        if !renamed.is_empty() {
            // One (user, old login) per row: a chunk holds each user once.
            let tail = format!(
                "{}first_seen = {l}(name_history.first_seen, {f}), last_seen = {g}(name_history.last_seen, {ls})",
                d.upsert("user_id, login"),
                l = d.least(),
                g = d.greatest(),
                f = d.ex("first_seen"),
                ls = d.ex("last_seen"),
            );
            bulk::upsert(
                tx,
                "INSERT INTO name_history (user_id, login, first_seen, last_seen) ",
                &tail,
                &renamed,
                |r| r.clone(),
            )
            .await?;
        }
        // login_since first: MariaDB evaluates these left to right on the new values.
        let tail = format!(
            "{}login_since = CASE WHEN users.login = {l} THEN users.login_since ELSE {s} END, \
             display_name = {dn}, login = {l}",
            d.upsert("id"),
            l = d.ex("login"),
            s = d.ex("login_since"),
            dn = d.ex("display_name"),
        );
        bulk::upsert(
            tx,
            "INSERT INTO users (id, login, display_name, login_since) ",
            &tail,
            chunk,
            |(id, row)| {
                let display = display_to_store(&row.login, row.display_name.as_deref());
                (
                    id.0,
                    row.login.as_str().to_owned(),
                    display.map(str::to_owned),
                    row.at.0,
                )
            },
        )
        .await?;
    }
    for (id, created) in &batch.accounts {
        with_tx!(tx, |tx, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE users SET created_at = ");
            qb.push_bind(created.0).push(" WHERE id = ").push_bind(id.0);
            qb.build().execute(&mut **tx).await?;
        });
    }
    Ok(())
}

async fn commit_observations(
    tx: &mut Tx,
    batch: &Batch,
    marks: &super::mark_cache::MarkCache,
    held: &super::held_totals::HeldTotals,
) -> Result<super::held_totals::Plan, StoreError> {
    let d = dialect(tx);
    let step = std::time::Instant::now();
    // Before the stream rows change: which of them become active.
    let totals = super::totals::batch_totals(tx, batch).await?;
    // Before the channel rows change: which stream rows are new to their channel.
    let new = new_rows(tx, batch, &totals).await?;
    let t_reads = step.elapsed();
    // The users' totals go with their channel rows.
    let tail = format!(
        "{}first_seen = {l}(channel_users.first_seen, {f}), \
         last_seen = {g}(channel_users.last_seen, {ls}), \
         messages = channel_users.messages + {m}",
        d.upsert("channel_id, user_id"),
        l = d.least(),
        g = d.greatest(),
        f = d.ex("first_seen"),
        ls = d.ex("last_seen"),
        m = d.ex("messages"),
    );
    // Totals of rows already counted may wait for their channel's turn.
    let plan = held.plan(totals, batch.hold_totals, std::time::Instant::now());
    super::totals::write_totals(tx, &batch.channel_users, &plan.write, &tail).await?;
    let t_channels = step.elapsed();
    // Key order: each b-tree page is visited once, in order.
    let mut rows: Vec<_> = batch.stream_users.iter().collect();
    rows.sort_unstable_by_key(|(k, _)| **k);
    // Inserted rows of a marked stream say whether their user is a regular of it and was in
    // its previous stream (an update leaves both as they are).
    let marks = super::marks::batch_marks(marks, tx, batch).await?;
    let t_marks = step.elapsed();
    let tail = format!(
        "{}first_seen = {l}(stream_users.first_seen, {f}), \
         last_seen = {g}(stream_users.last_seen, {ls}), \
         messages = stream_users.messages + {m}, \
         first_msg = {g}(stream_users.first_msg, {fm}), \
         active = {g}(stream_users.active, {a}), \
         is_new = {g}(stream_users.is_new, {n}), \
         watch_time = stream_users.watch_time + {w}, \
         open_since = {o}",
        d.upsert("stream_id, user_id"),
        l = d.least(),
        g = d.greatest(),
        f = d.ex("first_seen"),
        ls = d.ex("last_seen"),
        m = d.ex("messages"),
        fm = d.ex("first_msg"),
        a = d.ex("active"),
        n = d.ex("is_new"),
        w = d.ex("watch_time"),
        o = d.ex("open_since"),
    );
    bulk::upsert(
        tx,
        "INSERT INTO stream_users (stream_id, user_id, first_seen, last_seen, messages, first_msg, \
         active, is_new, watch_time, open_since, is_regular, in_previous) ",
        &tail,
        &rows,
        |(key, delta)| {
            let (s, u) = **key;
            let bits = super::marks::bits(&marks, s, u);
            (
                s.0,
                u.0,
                delta.first_seen.0,
                delta.last_seen.0,
                delta.messages,
                i64::from(delta.first_msg),
                i64::from(delta.active),
                i64::from(new.contains(*key)),
                delta.watch,
                batch.stream_open.get(*key).copied().flatten().map(|t| t.0),
                i64::from(bits & super::marks::REGULAR != 0),
                i64::from(bits & super::marks::PREVIOUS != 0),
            )
        },
    )
    .await?;
    let t_streams = step.elapsed();
    let mut rows: Vec<_> = batch.presence.iter().collect();
    rows.sort_unstable_by_key(|(k, _)| **k);
    let tail = format!(
        "{}until = {}",
        d.upsert("channel_id, user_id, since"),
        d.ex("until")
    );
    bulk::upsert(
        tx,
        "INSERT INTO presence (channel_id, user_id, since, until) ",
        &tail,
        &rows,
        |((c, u, since), until)| (c.0, u.0, since.0, until.map(|t| t.0)),
    )
    .await?;
    tracing::trace!(
        reads_ms = t_reads.as_millis() as u64,
        channels_ms = (t_channels - t_reads).as_millis() as u64,
        marks_ms = (t_marks - t_channels).as_millis() as u64,
        streams_ms = (t_streams - t_marks).as_millis() as u64,
        presence_ms = (step.elapsed() - t_streams).as_millis() as u64,
        "observation steps"
    );
    commit_series(tx, batch).await?;
    Ok(plan)
}

/// The stream rows of `batch` new to their channel (`is_new`): rows the tracker may not have
/// recorded (`maybe_first`) of users with no observation in the channel before the stream
/// started, neither stored nor in this batch. Read before the channel rows are written, one
/// statement per stream; `totals` gives the batch's first sighting of a channel row created
/// from stream rows alone.
async fn new_rows(
    tx: &mut Tx,
    batch: &Batch,
    totals: &FxHashMap<(ChannelKey, UserId), super::held_totals::TotalsDelta>,
) -> Result<FxHashSet<(StreamKey, UserId)>, StoreError> {
    let mut first: FxHashMap<(StreamKey, ChannelKey, Timestamp), Vec<UserId>> =
        FxHashMap::default();
    for ((s, u), delta) in batch.stream_users.iter().filter(|(_, d)| d.maybe_first) {
        let key = (delta.channel, *u);
        let in_batch = batch
            .channel_users
            .get(&key)
            .map(|c| c.first_seen.0)
            .or_else(|| totals.get(&key).map(|t| t.first_seen));
        if in_batch.is_none_or(|t| t >= delta.stream_started.0) {
            first
                .entry((*s, delta.channel, delta.stream_started))
                .or_default()
                .push(*u);
        }
    }
    let mut new = FxHashSet::default();
    for ((stream, channel, started), mut users) in first {
        users.sort_unstable();
        for chunk in users.chunks(10_000) {
            let sql = format!(
                "SELECT user_id FROM channel_users WHERE channel_id = {c} AND first_seen < {t} AND user_id IN {ids}",
                c = channel.0,
                t = started.0,
                ids = id_list(chunk),
            );
            let mut known = FxHashSet::default();
            with_tx!(tx, |tx, Db, d| {
                for row in sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut **tx)
                    .await?
                {
                    known.insert(row.try_get::<i64, _>(0)?);
                }
            });
            new.extend(
                chunk
                    .iter()
                    .filter(|u| !known.contains(&u.0))
                    .map(|u| (stream, *u)),
            );
        }
    }
    Ok(new)
}

async fn commit_series(tx: &mut Tx, batch: &Batch) -> Result<(), StoreError> {
    // One row per (channel, at), the latest: PostgreSQL refuses a multi-row upsert that
    // touches a row twice, and an IRC-only tick can share its second with the channel's first
    // snapshot.
    let mut kept = FxHashSet::default();
    let mut series: Vec<_> = batch
        .series
        .iter()
        .rev()
        .filter(|p| kept.insert((p.channel, p.at)))
        .collect();
    series.reverse();
    for chunk in fixed_chunks(&series) {
        with_tx!(tx, |tx, Db, d| {
            let mut qb =
                QueryBuilder::<Db>::new("INSERT INTO series (channel_id, at, chatters, total) ");
            qb.push_values(chunk, |mut b, p| {
                b.push_bind(p.channel.0)
                    .push_bind(p.at.0)
                    .push_bind(p.chatters)
                    .push_bind(p.total);
            });
            qb.push(d.upsert("channel_id, at"));
            qb.push(format!(
                "chatters = {}, total = {}",
                d.ex("chatters"),
                d.ex("total")
            ));
            qb.build().execute(&mut **tx).await?;
        });
    }
    Ok(())
}

async fn commit_rest(tx: &mut Tx, batch: &Batch) -> Result<(), StoreError> {
    for (stream, peak) in &batch.stream_peaks {
        with_tx!(tx, |tx, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(format!(
                "UPDATE streams SET irc_peak = {}(irc_peak, ",
                d.greatest()
            ));
            qb.push_bind(*peak)
                .push(") WHERE id = ")
                .push_bind(stream.0);
            qb.build().execute(&mut **tx).await?;
        });
    }
    for (stream, at) in &batch.stream_ends {
        with_tx!(tx, |tx, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE streams SET ended_at = ");
            qb.push_bind(at.0)
                .push(" WHERE id = ")
                .push_bind(stream.0)
                .push(" AND ended_at IS NULL");
            qb.build().execute(&mut **tx).await?;
        });
    }
    if !batch.raids.is_empty() {
        with_tx!(tx, |tx, Db, d| {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO raids (channel_id, stream_id, from_id, from_login, viewers, at) ",
            );
            qb.push_values(&batch.raids, |mut b, r| {
                b.push_bind(r.channel.0)
                    .push_bind(r.stream.map(|s| s.0))
                    .push_bind(r.from.0)
                    .push_bind(r.from_login.as_str().to_owned())
                    .push_bind(r.viewers)
                    .push_bind(r.at.0);
            });
            qb.build().execute(&mut **tx).await?;
        });
    }
    for (channel, id) in &batch.channel_ids {
        with_tx!(tx, |tx, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("UPDATE channels SET twitch_id = ");
            qb.push_bind(id.0).push(" WHERE id = ").push_bind(channel.0);
            qb.build().execute(&mut **tx).await?;
        });
    }
    for (name, value) in &batch.states {
        with_tx!(tx, |tx, Db, d| {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO bot_state (name, value) VALUES (");
            qb.push_bind(name.clone())
                .push(", ")
                .push_bind(value.clone())
                .push(")");
            qb.push(d.upsert("name"))
                .push(format!("value = {}", d.ex("value")));
            qb.build().execute(&mut **tx).await?;
        });
    }
    Ok(())
}
