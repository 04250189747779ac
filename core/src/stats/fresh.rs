//! [`Fresh`]: the figures a chat command answers with, read from the committed rows plus the
//! rows ingestion has not committed yet (an [`Overlay`]), so a reply never waits for a commit
//! and still counts every message sent before it, its own included.
//!
//! Each figure is the committed one, minus what the stored rows of the users the overlay
//! touches gave it, plus what their merged rows (stored + uncommitted) give: a few keyed reads
//! of those users, whatever the stream's size. The caller brackets its reads with the store's
//! [`CommitWatch`](crate::store::CommitWatch), so the overlay holds exactly the batches those
//! reads did not see.

use std::cmp::Reverse;

use rustc_hash::{FxHashMap, FxHashSet};

use super::{AccountClusters, Figures, RaidFigures, Seen, StreamFigures, cluster_accounts, share};
use super::{RAID_ARRIVAL_WINDOW, RAID_RETENTION_AFTER};
use crate::domain::{Login, Timestamp, UserId};
use crate::store::{
    Channel, ChannelUser, NewChatter, Overlay, PendingRow, StoreError, StoredRow, Stream,
    StreamCounts, UserCount,
};

/// Figures of one channel with its uncommitted rows added (see the module).
#[derive(Debug, Clone, Copy)]
pub struct Fresh<'a> {
    figures: &'a Figures,
    overlay: &'a Overlay,
}

/// A user the overlay touches in a stream: the stored row (if any) and the merged one.
#[derive(Debug, Clone, Copy)]
struct Touched {
    user: UserId,
    stored: Option<StoredRow>,
    merged: StoredRow,
    /// Stored first observation in the channel.
    stored_first: Option<Timestamp>,
    /// First observation in the channel, stored and uncommitted together.
    first: Option<Timestamp>,
}

impl Figures {
    /// These figures with `overlay`'s uncommitted rows added.
    pub fn fresh<'a>(&'a self, overlay: &'a Overlay) -> Fresh<'a> {
        Fresh {
            figures: self,
            overlay,
        }
    }
}

/// New to the channel in a stream started at `started`: no observation before it.
fn new_to(channel_first: Option<Timestamp>, started: Timestamp) -> bool {
    channel_first.is_none_or(|f| f >= started)
}

/// The row a commit of `pending` onto `stored` leaves (`marks`: a new row's regular and
/// previous-stream bits), as `Store::commit` writes it.
fn merge(
    stored: Option<&StoredRow>,
    pending: &PendingRow,
    channel_first: Option<Timestamp>,
    started: Timestamp,
    (is_regular, in_previous): (bool, bool),
) -> StoredRow {
    let d = &pending.delta;
    let newly = d.maybe_first && new_to(channel_first, started);
    match stored {
        Some(s) => StoredRow {
            first_seen: s.first_seen.min(d.first_seen),
            last_seen: s.last_seen.max(d.last_seen),
            messages: s.messages + d.messages,
            first_msg: s.first_msg || d.first_msg,
            active: s.active || d.active,
            is_new: s.is_new || newly,
            watch_time: s.watch_time + d.watch,
            open_since: pending.open,
            is_regular: s.is_regular,
            in_previous: s.in_previous,
        },
        None => StoredRow {
            first_seen: d.first_seen,
            last_seen: d.last_seen,
            messages: d.messages,
            first_msg: d.first_msg,
            active: d.active,
            is_new: newly,
            watch_time: d.watch,
            open_since: pending.open,
            is_regular,
            in_previous,
        },
    }
}

/// What one row gives a stream's counts (`open_until`: a live stream's open intervals count
/// up to it; `None` for an ended stream).
fn row_counts(row: &StoredRow, started: Timestamp, open_until: Option<Timestamp>) -> StreamCounts {
    if !row.active {
        return StreamCounts::default();
    }
    let open = match (open_until, row.open_since) {
        (Some(now), Some(since)) if since < now => now.0 - since.0.max(started.0),
        _ => 0,
    };
    StreamCounts {
        unique: 1,
        new: i64::from(row.is_new),
        first_time: i64::from(row.first_msg),
        messages: row.messages,
        lurkers: i64::from(row.messages == 0),
        watched: row.watch_time + open,
        regulars: i64::from(row.is_regular),
        in_previous: i64::from(row.in_previous),
    }
}

/// `a + sign * b`, field by field.
fn add(a: StreamCounts, b: StreamCounts, sign: i64) -> StreamCounts {
    StreamCounts {
        unique: a.unique + sign * b.unique,
        new: a.new + sign * b.new,
        first_time: a.first_time + sign * b.first_time,
        messages: a.messages + sign * b.messages,
        lurkers: a.lurkers + sign * b.lurkers,
        watched: a.watched + sign * b.watched,
        regulars: a.regulars + sign * b.regulars,
        in_previous: a.in_previous + sign * b.in_previous,
    }
}

/// At most `n` (a SQL `LIMIT`) as a length.
fn at_most(n: i64) -> usize {
    usize::try_from(n.max(0)).unwrap_or(usize::MAX)
}

impl Fresh<'_> {
    /// The uncommitted changes added here.
    pub fn overlay(&self) -> &Overlay {
        self.overlay
    }

    /// A stream as it stands with the overlay (its end may not be committed yet).
    fn as_now(&self, mut stream: Stream) -> Stream {
        if stream.ended_at.is_none() {
            stream.ended_at = self.overlay.ends.get(&stream.key).copied();
        }
        stream
    }

    /// The live stream of a channel, or its latest one.
    pub async fn current_or_last_stream(
        &self,
        channel: &Channel,
    ) -> Result<Option<Stream>, StoreError> {
        Ok(self
            .figures
            .current_or_last_stream(channel)
            .await?
            .map(|s| self.as_now(s)))
    }

    /// The users of `stream` the overlay touches and `keep` accepts, with their stored and
    /// merged rows.
    async fn touched(
        &self,
        stream: &Stream,
        keep: impl Fn(UserId) -> bool,
    ) -> Result<Vec<Touched>, StoreError> {
        let pending: Vec<(UserId, &PendingRow)> = self
            .overlay
            .stream_rows(stream.key)
            .filter(|(u, _)| keep(*u))
            .collect();
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.figures.store();
        let mut users: Vec<UserId> = pending.iter().map(|(u, _)| *u).collect();
        users.sort_unstable();
        let stored = store.stream_rows_of(stream.key, &users).await?;
        let stored_firsts = store.channel_first_seen(stream.channel, &users).await?;
        let new_rows: Vec<UserId> = users
            .iter()
            .copied()
            .filter(|u| !stored.contains_key(u))
            .collect();
        let (regulars, previous) = if stream.marked && !new_rows.is_empty() {
            store
                .marks_among(stream.key, stream.previous, &new_rows)
                .await?
        } else {
            Default::default()
        };
        Ok(pending
            .into_iter()
            .map(|(user, row)| {
                let stored_first = stored_firsts.get(&user).copied();
                let first = match (stored_first, self.overlay.channel_users.get(&user)) {
                    (Some(f), Some(d)) => Some(f.min(d.first_seen)),
                    (f, d) => f.or(d.map(|d| d.first_seen)),
                };
                let stored = stored.get(&user).copied();
                let merged = merge(
                    stored.as_ref(),
                    row,
                    first,
                    stream.started_at,
                    (regulars.contains(&user), previous.contains(&user)),
                );
                Touched {
                    user,
                    stored,
                    merged,
                    stored_first,
                    first,
                }
            })
            .collect())
    }

    /// `counts` (committed, over users outside `excluded`, sorted) with the overlay's rows of
    /// the stream added.
    pub(crate) async fn counts(
        &self,
        stream: &Stream,
        counts: StreamCounts,
        excluded: &[UserId],
        now: Timestamp,
    ) -> Result<StreamCounts, StoreError> {
        let touched = self
            .touched(stream, |u| excluded.binary_search(&u).is_err())
            .await?;
        let open_until = stream.ended_at.is_none().then_some(now);
        Ok(touched.iter().fold(counts, |sum, t| {
            let before = t
                .stored
                .map(|s| row_counts(&s, stream.started_at, open_until))
                .unwrap_or_default();
            let after = row_counts(&t.merged, stream.started_at, open_until);
            add(add(sum, before, -1), after, 1)
        }))
    }

    /// Known bots seen in the stream: the committed `count` plus those the overlay makes
    /// active (`bots` sorted).
    pub(crate) async fn known_bots(
        &self,
        stream: &Stream,
        count: i64,
        bots: &[UserId],
    ) -> Result<i64, StoreError> {
        let touched = self
            .touched(stream, |u| bots.binary_search(&u).is_ok())
            .await?;
        let added = touched
            .iter()
            .filter(|t| t.merged.active && !t.stored.is_some_and(|s| s.active))
            .count();
        Ok(count + i64::try_from(added).unwrap_or(i64::MAX))
    }

    /// The highest IRC-tracked peak of a stream, committed or not.
    pub(crate) fn irc_peak(&self, stream: &Stream) -> i64 {
        self.overlay
            .peaks
            .get(&stream.key)
            .map_or(stream.irc_peak, |p| stream.irc_peak.max(*p))
    }

    /// Every figure of a stream (`Figures::stream` with the overlay).
    pub async fn stream(&self, stream: &Stream) -> Result<StreamFigures, StoreError> {
        let stream = self.as_now(stream.clone());
        self.figures.stream_with(&stream, Some(self)).await
    }

    /// Logins of `users`: the overlay's names first, then the stored ones.
    async fn logins(&self, users: &[UserId]) -> Result<FxHashMap<UserId, Login>, StoreError> {
        let mut out: FxHashMap<UserId, Login> = FxHashMap::default();
        let mut missing = Vec::new();
        for u in users {
            match self.overlay.names.get(u) {
                Some(l) => {
                    out.insert(*u, l.clone());
                }
                None => missing.push(*u),
            }
        }
        if !missing.is_empty() {
            out.extend(self.figures.store().logins_of(&missing).await?);
        }
        Ok(out)
    }

    /// The channel's known bots and everyone not counted (`Figures::bot_ids`,
    /// `Figures::excluded`, both sorted), users known only from uncommitted rows included.
    pub(crate) async fn bots_and_excluded(
        &self,
        channel: &Channel,
    ) -> Result<(Vec<UserId>, Vec<UserId>), StoreError> {
        let logins = self.figures.bot_logins(channel).await?;
        let mut bots = self.figures.bot_ids(channel).await?;
        let named = |wanted: &dyn Fn(&Login) -> bool| {
            self.overlay
                .names
                .iter()
                .filter(|(_, l)| wanted(l))
                .map(|(u, _)| *u)
                .collect::<Vec<_>>()
        };
        bots.extend(named(&|l| logins.contains(l)));
        bots.sort_unstable();
        bots.dedup();
        let mut excluded = self.figures.excluded_with(channel, bots.clone()).await?;
        excluded.extend(named(&|l| *l == channel.login));
        excluded.sort_unstable();
        excluded.dedup();
        Ok((bots, excluded))
    }

    /// Everyone not counted in a channel, sorted ([`Fresh::bots_and_excluded`]).
    async fn excluded(&self, channel: &Channel) -> Result<Vec<UserId>, StoreError> {
        Ok(self.bots_and_excluded(channel).await?.1)
    }

    /// The channel's excluded users (sorted) and the stream's touched users outside them.
    async fn counted(&self, stream: &Stream) -> Result<(Vec<UserId>, Vec<Touched>), StoreError> {
        let channel = self.figures.channel_of(stream).await?;
        let excluded = self.excluded(&channel).await?;
        let touched = self
            .touched(stream, |u| excluded.binary_search(&u).is_err())
            .await?;
        Ok((excluded, touched))
    }

    /// Top chatters of a stream by messages (ties by login).
    pub async fn top_chatters(
        &self,
        stream: &Stream,
        n: i64,
    ) -> Result<Vec<UserCount>, StoreError> {
        let (excluded, touched) = self.counted(stream).await?;
        // Enough committed rows that `n` of them are untouched.
        let extra = i64::try_from(touched.len()).unwrap_or(i64::MAX);
        let committed = self
            .figures
            .store()
            .top_chatters(stream.key, &excluded, n.saturating_add(extra))
            .await?;
        let mine: FxHashSet<UserId> = touched.iter().map(|t| t.user).collect();
        let mut top: Vec<UserCount> = committed
            .into_iter()
            .filter(|c| !mine.contains(&c.user_id))
            .collect();
        let ids: Vec<UserId> = touched.iter().map(|t| t.user).collect();
        let logins = self.logins(&ids).await?;
        top.extend(
            touched
                .iter()
                .filter(|t| t.merged.messages > 0)
                .filter_map(|t| {
                    Some(UserCount {
                        user_id: t.user,
                        login: logins.get(&t.user)?.clone(),
                        count: t.merged.messages,
                    })
                }),
        );
        top.sort_by(|a, b| {
            (Reverse(a.count), a.login.as_str()).cmp(&(Reverse(b.count), b.login.as_str()))
        });
        top.truncate(at_most(n));
        Ok(top)
    }

    /// The newest new chatters of a stream, first-time chatters marked.
    pub async fn new_chatters(
        &self,
        stream: &Stream,
        n: i64,
    ) -> Result<Vec<NewChatter>, StoreError> {
        let (excluded, touched) = self.counted(stream).await?;
        let extra = i64::try_from(touched.len()).unwrap_or(i64::MAX);
        let committed = self
            .figures
            .store()
            .new_chatters(stream, &excluded, n.saturating_add(extra))
            .await?;
        let mine: FxHashSet<UserId> = touched.iter().map(|t| t.user).collect();
        let mut new: Vec<NewChatter> = committed
            .into_iter()
            .filter(|c| !mine.contains(&c.user_id))
            .collect();
        let ids: Vec<UserId> = touched.iter().map(|t| t.user).collect();
        let logins = self.logins(&ids).await?;
        new.extend(
            touched
                .iter()
                .filter(|t| t.merged.active && t.merged.is_new)
                .filter_map(|t| {
                    Some(NewChatter {
                        user_id: t.user,
                        login: logins.get(&t.user)?.clone(),
                        first_seen: t.merged.first_seen,
                        first_time: t.merged.first_msg,
                    })
                }),
        );
        new.sort_by(|a, b| {
            (Reverse(a.first_seen), a.login.as_str())
                .cmp(&(Reverse(b.first_seen), b.login.as_str()))
        });
        new.truncate(at_most(n));
        Ok(new)
    }

    /// Account-age clusters of one stream's chatters.
    pub async fn accounts_stream(&self, stream: &Stream) -> Result<AccountClusters, StoreError> {
        let (excluded, touched) = self.counted(stream).await?;
        let store = self.figures.store();
        let mut ids = store.stream_chatters(stream.key, &excluded).await?;
        ids.extend(touched.iter().filter(|t| t.merged.active).map(|t| t.user));
        ids.sort_unstable();
        ids.dedup();
        let mut accounts: FxHashMap<UserId, (Login, Timestamp)> = store
            .accounts(&ids)
            .await?
            .into_iter()
            .map(|(u, l, at)| (u, (l, at)))
            .collect();
        let learnt: Vec<UserId> = ids
            .iter()
            .copied()
            .filter(|u| self.overlay.accounts.contains_key(u))
            .collect();
        let logins = self.logins(&learnt).await?;
        for u in learnt {
            if let (Some(login), Some(at)) = (logins.get(&u), self.overlay.accounts.get(&u)) {
                accounts.insert(u, (login.clone(), *at));
            }
        }
        let mut accounts: Vec<(UserId, Login, Timestamp)> = accounts
            .into_iter()
            .map(|(u, (l, at))| (u, l, at))
            .collect();
        accounts.sort_by_key(|(u, _, _)| *u);
        let until = stream.ended_at.unwrap_or_else(Timestamp::now);
        Ok(cluster_accounts(
            ids.len(),
            &accounts,
            stream.started_at,
            until,
        ))
    }

    /// What `!seen` shows, the user's uncommitted observations in the channel included.
    pub async fn seen(&self, channel: &Channel, login: &Login) -> Result<Option<Seen>, StoreError> {
        let store = self.figures.store();
        let pending = self
            .overlay
            .names
            .iter()
            .find(|(_, l)| *l == login)
            .map(|(u, _)| *u);
        let id = match pending {
            Some(id) => id,
            None => match store
                .user_ids(std::slice::from_ref(login))
                .await?
                .into_iter()
                .next()
            {
                Some((_, id)) => id,
                None => return Ok(None),
            },
        };
        let user = store.user(id).await?;
        let mut record = store.channel_user(channel.key, id).await?;
        // A record's messages are those outside streams plus its stream rows' (see
        // `Store::channel_user`): the uncommitted ones of both kinds are added.
        let mut rows: Vec<_> = self
            .overlay
            .rows
            .iter()
            .filter(|((_, u), _)| *u == id)
            .map(|((s, _), row)| (*s, row.delta))
            .collect();
        rows.sort_unstable_by_key(|(s, _)| *s);
        let outside = self.overlay.channel_users.get(&id);
        let seen_at = rows
            .iter()
            .map(|(_, d)| (d.first_seen, d.last_seen))
            .chain(outside.map(|d| (d.first_seen, d.last_seen)))
            .reduce(|(f, l), (f2, l2)| (f.min(f2), l.max(l2)));
        if let Some((first, last)) = seen_at {
            let r = record.get_or_insert_with(|| ChannelUser {
                user_id: id,
                login: login.clone(),
                display_name: login.to_string(),
                first_seen: first,
                last_seen: last,
                messages: 0,
                streams_attended: 0,
                watch_time: 0,
            });
            r.first_seen = r.first_seen.min(first);
            r.last_seen = r.last_seen.max(last);
            r.messages += outside.map_or(0, |d| d.messages);
            for (stream, delta) in rows {
                r.messages += delta.messages;
                r.watch_time += delta.watch;
                // A stream the uncommitted rows make the user a unique chatter of.
                if delta.active {
                    let stored = store.stream_rows_of(stream, &[id]).await?;
                    if !stored.get(&id).is_some_and(|s| s.active) {
                        r.streams_attended += 1;
                    }
                }
            }
        }
        let created_at = self
            .overlay
            .accounts
            .get(&id)
            .copied()
            .or_else(|| user.and_then(|u| u.created_at));
        let names = store.name_history(id).await?;
        Ok(Some(Seen {
            record,
            created_at,
            names,
        }))
    }

    /// The latest raid of a channel (`!raid`), committed or not, with its retention.
    pub async fn last_raid(&self, channel: &Channel) -> Result<Option<RaidFigures>, StoreError> {
        let store = self.figures.store();
        let mut raids = store
            .raids(channel.key, Timestamp(i64::MIN), Timestamp(i64::MAX))
            .await?;
        raids.extend(self.overlay.raids.iter().cloned());
        // The latest; of raids in the same second, the last recorded.
        let Some(last) = raids.into_iter().max_by_key(|r| r.at) else {
            return Ok(None);
        };
        let stream = match last.stream {
            Some(key) => store.stream_by_key(key).await?.map(|s| self.as_now(s)),
            None => None,
        };
        let Some(stream) = stream else {
            return Ok(Some(RaidFigures {
                from_login: last.from_login,
                viewers: last.viewers,
                at: last.at,
                retention: None,
                arrivals: 0,
            }));
        };
        let mut excluded = self.excluded(channel).await?;
        excluded.push(last.from);
        excluded.sort_unstable();
        let (from, to, later) = (
            last.at,
            last.at.plus(RAID_ARRIVAL_WINDOW),
            last.at.plus(RAID_RETENTION_AFTER),
        );
        let (mut arrivals, mut retained) = store
            .arrivals_retained(&stream, from, to, later, &excluded)
            .await?;
        let touched = self
            .touched(&stream, |u| excluded.binary_search(&u).is_err())
            .await?;
        if !touched.is_empty() {
            // As the stored figure reads it: a present user's last sighting is the latest
            // snapshot that listed them.
            let snapshot = store
                .last_snapshot(stream.channel)
                .await?
                .filter(|s| *s >= later);
            let judge = |row: &StoredRow, first: Option<Timestamp>| {
                let arrived = first.is_some_and(|f| f >= from && f <= to);
                let stayed = row.last_seen >= later
                    || snapshot.is_some_and(|s| row.open_since.is_some_and(|o| o <= s));
                (i64::from(arrived), i64::from(arrived && stayed))
            };
            for t in &touched {
                if let Some(stored) = &t.stored {
                    let (a, r) = judge(stored, t.stored_first);
                    arrivals -= a;
                    retained -= r;
                }
                let (a, r) = judge(&t.merged, t.first);
                arrivals += a;
                retained += r;
            }
        }
        Ok(Some(RaidFigures {
            from_login: last.from_login,
            viewers: last.viewers,
            at: last.at,
            retention: share(retained, arrivals),
            arrivals,
        }))
    }

    /// What `!viewers` shows (`Figures::viewers_now`, its chatters per viewer with the
    /// overlay).
    pub async fn viewers_now(
        &self,
        channel: &Channel,
        now: Timestamp,
    ) -> Result<Option<crate::audience::ViewersNow>, StoreError> {
        let Some(stream) = self.current_or_last_stream(channel).await? else {
            return Ok(None);
        };
        let figures = self.stream(&stream).await?;
        let end = stream.ended_at.unwrap_or(now);
        let latest = self
            .figures
            .store()
            .sample_at(channel.key, end)
            .await?
            .filter(|s| s.at >= stream.started_at);
        Ok(Some(crate::audience::ViewersNow {
            live: stream.ended_at.is_none(),
            latest,
            figures: figures.audience,
        }))
    }

    /// A stream's regulars (as of its start) and how many of them are its unique chatters
    /// (`Figures::stream_regulars` with the overlay).
    pub async fn stream_regulars(&self, stream: &Stream) -> Result<(i64, i64), StoreError> {
        let (excluded, touched) = self.counted(stream).await?;
        let store = self.figures.store();
        let (regulars, mut here) = store.regulars_of_stream(stream, &excluded).await?;
        let ids: Vec<UserId> = touched.iter().map(|t| t.user).collect();
        if !ids.is_empty() {
            let (of_stream, _) = store.marks_among(stream.key, None, &ids).await?;
            let came = touched
                .iter()
                .filter(|t| of_stream.contains(&t.user))
                .filter(|t| t.merged.active && !t.stored.is_some_and(|s| s.active))
                .count();
            here += i64::try_from(came).unwrap_or(i64::MAX);
        }
        Ok((regulars, here))
    }

    /// A user's watch time in `stream` and over the channel's streams of the last
    /// `WATCH_WINDOW` (`Figures::watch_time` with the overlay).
    pub async fn watch_time(
        &self,
        channel: &Channel,
        user: UserId,
        stream: Option<&Stream>,
        now: Timestamp,
    ) -> Result<(i64, i64), StoreError> {
        let (mut in_stream, mut window) =
            self.figures.watch_time(channel, user, stream, now).await?;
        let store = self.figures.store();
        let since = now.0 - crate::audience::WATCH_WINDOW;
        let mut rows: Vec<_> = self
            .overlay
            .rows
            .iter()
            .filter(|((_, u), _)| *u == user)
            .map(|((s, _), row)| (*s, *row))
            .collect();
        rows.sort_unstable_by_key(|(s, _)| *s);
        for (key, pending) in rows {
            // Read as stored: the stream's end may be in the overlay, the rows' watch is not.
            let Some(s) = store.stream_by_key(key).await? else {
                continue;
            };
            if s.channel != channel.key {
                continue;
            }
            let open_until = s.ended_at.is_none().then_some(now);
            let watched = |watch: i64, open: Option<Timestamp>| {
                let open = match (open_until, open) {
                    (Some(now), Some(since)) if since < now => now.0 - since.0.max(s.started_at.0),
                    _ => 0,
                };
                watch + open
            };
            let stored = store.stream_rows_of(key, &[user]).await?;
            let before = stored
                .get(&user)
                .map_or(0, |r| watched(r.watch_time, r.open_since));
            let after = watched(
                stored.get(&user).map_or(0, |r| r.watch_time) + pending.delta.watch,
                pending.open,
            );
            if stream.is_some_and(|x| x.key == key) {
                in_stream += after - before;
            }
            if s.started_at.0 <= now.0 && s.ended_at.is_none_or(|e| e.0 >= since) {
                window += after - before;
            }
        }
        Ok((in_stream, window))
    }
}
