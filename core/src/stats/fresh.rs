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

use super::pending::{self, Touched};
use super::{
    AccountClusters, Figures, RaidFigures, Seen, StreamFigures, StreamStats, cluster_accounts,
    share,
};
use super::{RAID_ARRIVAL_WINDOW, RAID_RETENTION_AFTER};
use crate::domain::{Login, Timestamp, UserId};
use crate::store::{
    Channel, ChannelUser, NewChatter, Overlay, StoreError, StoredRow, Stream, UserCount,
};

/// Figures of one channel with its uncommitted rows added (see the module).
#[derive(Debug, Clone, Copy)]
pub struct Fresh<'a> {
    figures: &'a Figures,
    overlay: &'a Overlay,
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

    /// Every figure of a stream (`Figures::stream` with the overlay).
    pub async fn stream(&self, stream: &Stream) -> Result<StreamFigures, StoreError> {
        let stream = self.as_now(stream.clone());
        self.figures.stream_with(&stream, Some(self.overlay)).await
    }

    /// The counts and peak of a stream (`!stats`, `!chatters`, `!lurkers`, `!new`): the
    /// figures of [`Fresh::stream`] those commands show, without its other reads.
    pub async fn stream_stats(&self, stream: &Stream) -> Result<StreamStats, StoreError> {
        let stream = self.as_now(stream.clone());
        self.figures
            .stream_stats_with(&stream, Some(self.overlay))
            .await
    }

    /// The stream's users the overlay touches and `keep` accepts ([`pending::touched`]).
    async fn touched(
        &self,
        stream: &Stream,
        keep: impl Fn(UserId) -> bool,
    ) -> Result<Vec<Touched>, StoreError> {
        pending::touched(self.figures.store(), self.overlay, stream, keep).await
    }

    /// Everyone not counted in a channel, sorted, users known only from uncommitted rows
    /// included.
    async fn excluded(&self, channel: &Channel) -> Result<Vec<UserId>, StoreError> {
        Ok(self
            .figures
            .bots_and_excluded(channel, Some(self.overlay))
            .await?
            .1)
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
        self.figures
            .viewers_of(channel, &stream, figures, now)
            .await
            .map(Some)
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

    /// The mood of a channel's last `MOOD_WINDOW` before `now` (`!mood`), the uncommitted
    /// minutes added.
    pub async fn mood_now(
        &self,
        channel: &Channel,
        now: Timestamp,
    ) -> Result<crate::signals::MoodShares, StoreError> {
        self.figures
            .mood_now_with(channel, now, Some(self.overlay))
            .await
    }

    /// A stream's most used emotes, at most `n` (and at most `MAX_EMOTES`), the uses ingestion
    /// holds (in its batches and across them) added: ordered as the stored ones (uses, then
    /// name, provider and id).
    pub async fn stream_emotes(
        &self,
        stream: &Stream,
        n: i64,
    ) -> Result<Vec<crate::signals::EmoteFigure>, StoreError> {
        self.figures
            .stream_emotes_with(stream, n, Some(self.overlay))
            .await
    }
}
