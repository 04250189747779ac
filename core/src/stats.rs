//! The SPEC figures, computed over the store: one [`Figures`] API for the bot's commands, the
//! web API and the recaps.
//!
//! Every figure is over *counted* users: everyone except the bot account, the channel's
//! broadcaster and known bots (shipped list and per-channel rules); opted-out users have no
//! rows left. Known bots are counted separately.

use std::sync::Arc;

use rustc_hash::FxHashMap;

pub mod fresh;
mod pending;
mod types;
pub use types::{
    AccountClusters, AccountDay, Overlap, RaidFigures, Seen, StreamFigures, StreamStats,
    cluster_accounts,
};

use crate::bots::KnownBots;
use crate::charts::{ChannelSeries, LiveSpan, RaidMark, StreamSeries};
use crate::domain::{Login, Timestamp, UserId};
use crate::store::{
    Channel, NewChatter, Overlay, SeriesPoint, Store, StoreError, Stream, StreamCounts, UserCount,
};

/// Streams considered for the shading of a channel chart (a channel streams a few times a day
/// at most, so this covers the 30-day chart).
pub const STREAMS_IN_WINDOW: i64 = 500;
/// Raid arrivals: first observed within this many seconds after the raid.
pub const RAID_ARRIVAL_WINDOW: i64 = 5 * 60;
/// Raid retention: arrivals observed again this many seconds or more after the raid.
pub const RAID_RETENTION_AFTER: i64 = 30 * 60;

/// The figures API.
#[derive(Debug, Clone)]
pub struct Figures {
    store: Arc<Store>,
    bots: KnownBots,
    bot_user: Option<UserId>,
}

fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Figures {
    /// Figures over `store`, with the shipped bot list and the bot account's id.
    pub fn new(store: Arc<Store>, bots: KnownBots, bot_user: Option<UserId>) -> Self {
        Self {
            store,
            bots,
            bot_user,
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The bot account's id: given, or else as the bot's own process recorded it.
    pub async fn bot_user(&self) -> Result<Option<UserId>, StoreError> {
        match self.bot_user {
            Some(id) => Ok(Some(id)),
            None => self.store.bot_user().await,
        }
    }

    /// Logins of known bots in a channel (shipped and added, minus allowed).
    async fn bot_logins(&self, channel: &Channel) -> Result<Vec<Login>, StoreError> {
        let rules: FxHashMap<_, _> = self
            .store
            .bot_rules(channel.key)
            .await?
            .into_iter()
            .collect();
        Ok(self.bots.channel_bots(&rules))
    }

    /// Ids of known bots in a channel (shipped and added, minus allowed).
    pub async fn bot_ids(&self, channel: &Channel) -> Result<Vec<UserId>, StoreError> {
        let logins = self.bot_logins(channel).await?;
        self.ids_of(&logins).await
    }

    /// The stored ids of `logins`, sorted.
    async fn ids_of(&self, logins: &[Login]) -> Result<Vec<UserId>, StoreError> {
        let mut ids: Vec<UserId> = self
            .store
            .user_ids(logins)
            .await?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The channel's known bots and everyone not counted ([`Figures::bot_ids`],
    /// [`Figures::excluded`], both sorted), with the users `overlay` alone knows by name.
    pub(crate) async fn bots_and_excluded(
        &self,
        channel: &Channel,
        overlay: Option<&Overlay>,
    ) -> Result<(Vec<UserId>, Vec<UserId>), StoreError> {
        let logins = self.bot_logins(channel).await?;
        let mut bots = self.ids_of(&logins).await?;
        if let Some(overlay) = overlay {
            bots.extend(pending::named(overlay, |l| logins.contains(l)));
            bots.sort_unstable();
            bots.dedup();
        }
        let mut excluded = self.excluded_with(channel, bots.clone()).await?;
        if let Some(overlay) = overlay {
            excluded.extend(pending::named(overlay, |l| *l == channel.login));
            excluded.sort_unstable();
            excluded.dedup();
        }
        Ok((bots, excluded))
    }

    /// Everyone not counted in a channel: the bot account, the broadcaster, known bots.
    pub async fn excluded(&self, channel: &Channel) -> Result<Vec<UserId>, StoreError> {
        let bots = self.bot_ids(channel).await?;
        self.excluded_with(channel, bots).await
    }

    /// [`Figures::excluded`] given the channel's known bots ([`Figures::bot_ids`]).
    async fn excluded_with(
        &self,
        channel: &Channel,
        mut ids: Vec<UserId>,
    ) -> Result<Vec<UserId>, StoreError> {
        ids.extend(self.bot_user().await?);
        ids.extend(channel.twitch_id);
        ids.extend(
            self.store
                .user_ids(std::slice::from_ref(&channel.login))
                .await?
                .into_iter()
                .map(|(_, id)| id),
        );
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    pub(crate) async fn channel_of(&self, stream: &Stream) -> Result<Channel, StoreError> {
        let channels = self.store.channels().await?;
        channels
            .into_iter()
            .find(|c| c.key == stream.channel)
            .ok_or_else(|| StoreError::Corrupt {
                column: "streams.channel_id",
                value: stream.channel.0.to_string(),
            })
    }

    /// The live stream of a channel, or its latest one.
    pub async fn current_or_last_stream(
        &self,
        channel: &Channel,
    ) -> Result<Option<Stream>, StoreError> {
        Ok(self.store.streams(channel.key, 1).await?.into_iter().next())
    }

    /// Every figure of one stream; an ended stream frozen for `RETENTION` has them from its
    /// frozen copy (its per-user rows may be gone).
    pub async fn stream(&self, stream: &Stream) -> Result<StreamFigures, StoreError> {
        self.stream_with(stream, None).await
    }

    /// An ended stream's figures frozen for `RETENTION` (its per-user rows may be gone).
    async fn frozen(&self, stream: &Stream) -> Result<Option<StreamFigures>, StoreError> {
        if stream.ended_at.is_none() {
            return Ok(None);
        }
        let Some(frozen) = self.store.frozen_figures(stream.key).await? else {
            return Ok(None);
        };
        match serde_json::from_str(&frozen) {
            Ok(figures) => Ok(Some(figures)),
            Err(error) => {
                tracing::warn!(stream = %stream.id, %error, "frozen figures unreadable; computing them");
                Ok(None)
            }
        }
    }

    /// A stream's counts over users outside `excluded` and its peak, with `overlay`'s rows.
    async fn counts_and_peak(
        &self,
        stream: &Stream,
        excluded: &[UserId],
        overlay: Option<&Overlay>,
    ) -> Result<(StreamCounts, i64), StoreError> {
        let now = Timestamp::now();
        let mut counts = self.store.stream_counts(stream, excluded, now).await?;
        if let Some(overlay) = overlay {
            counts = pending::counts(&self.store, overlay, stream, counts, excluded, now).await?;
        }
        let end = stream.ended_at.unwrap_or(Timestamp(i64::MAX));
        let peak = match self
            .store
            .snapshot_peak(stream.channel, stream.started_at, end)
            .await?
        {
            Some(p) => p,
            None => overlay.map_or(stream.irc_peak, |o| pending::irc_peak(o, stream)),
        };
        Ok((counts, peak))
    }

    /// The figures of [`StreamStats`] alone (what most chat commands show), with `overlay`'s
    /// rows: the counts' pass and the peak, none of the other reads of [`Figures::stream`].
    async fn stream_stats_with(
        &self,
        stream: &Stream,
        overlay: Option<&Overlay>,
    ) -> Result<StreamStats, StoreError> {
        if let Some(frozen) = self.frozen(stream).await? {
            return Ok(StreamStats::from(&frozen));
        }
        let channel = self.channel_of(stream).await?;
        let (_, excluded) = self.bots_and_excluded(&channel, overlay).await?;
        let (counts, peak) = self.counts_and_peak(stream, &excluded, overlay).await?;
        Ok(StreamStats {
            unique_chatters: counts.unique,
            new_chatters: counts.new,
            returning_chatters: counts.unique - counts.new,
            peak_chatters: peak,
            messages: counts.messages,
            lurkers: counts.lurkers,
        })
    }

    /// [`Figures::stream`], with the uncommitted rows of `overlay` added when given.
    async fn stream_with(
        &self,
        stream: &Stream,
        overlay: Option<&Overlay>,
    ) -> Result<StreamFigures, StoreError> {
        if let Some(frozen) = self.frozen(stream).await? {
            return Ok(frozen);
        }
        let channel = self.channel_of(stream).await?;
        let (bots, excluded) = self.bots_and_excluded(&channel, overlay).await?;
        let (counts, peak) = self.counts_and_peak(stream, &excluded, overlay).await?;
        let retention = match self.store.previous_stream(stream).await? {
            Some(prev) => {
                let prev_unique = self.store.stream_unique(prev.key, &excluded).await?;
                // A marked stream's rows say who was in the previous stream it recorded
                // (another one may have been imported in between since).
                let shared = if stream.marked && stream.previous == Some(prev.key) {
                    counts.in_previous
                } else {
                    self.store
                        .shared_unique(stream.key, prev.key, &excluded)
                        .await?
                };
                share(shared, prev_unique)
            }
            None => None,
        };
        let mut known_bots = self.store.count_unique_among(stream.key, &bots).await?;
        if let Some(overlay) = overlay {
            known_bots =
                pending::known_bots(&self.store, overlay, stream, known_bots, &bots).await?;
        }
        let audience = self
            .audience_with(stream, &excluded, (peak, counts.unique), &counts)
            .await?;
        let chat = self.stream_chat(stream).await?;
        Ok(StreamFigures {
            id: stream.id.clone(),
            started_at: stream.started_at,
            ended_at: stream.ended_at,
            title: stream.title.clone(),
            unique_chatters: counts.unique,
            new_chatters: counts.new,
            returning_chatters: counts.unique - counts.new,
            first_time_chatters: counts.first_time,
            peak_chatters: peak,
            messages: counts.messages,
            lurkers: counts.lurkers,
            retention,
            known_bots,
            audience,
            chat,
        })
    }

    /// Top chatters of a stream by messages.
    pub async fn top_chatters(
        &self,
        stream: &Stream,
        n: i64,
    ) -> Result<Vec<UserCount>, StoreError> {
        let channel = self.channel_of(stream).await?;
        let excluded = self.excluded(&channel).await?;
        self.store.top_chatters(stream.key, &excluded, n).await
    }

    /// The newest new chatters of a stream, first-time chatters marked.
    pub async fn new_chatters(
        &self,
        stream: &Stream,
        n: i64,
    ) -> Result<Vec<NewChatter>, StoreError> {
        let channel = self.channel_of(stream).await?;
        let excluded = self.excluded(&channel).await?;
        self.store.new_chatters(stream, &excluded, n).await
    }

    /// Raids received during a stream, with their retention.
    pub async fn raids(&self, stream: &Stream) -> Result<Vec<RaidFigures>, StoreError> {
        let channel = self.channel_of(stream).await?;
        let excluded = self.excluded(&channel).await?;
        let end = stream.ended_at.unwrap_or(Timestamp(i64::MAX));
        let raids = self
            .store
            .raids(stream.channel, stream.started_at, end)
            .await?;
        let mut out = Vec::with_capacity(raids.len());
        for raid in raids {
            let mut excluded = excluded.clone();
            excluded.push(raid.from);
            let (arrivals, retained) = self
                .store
                .arrivals_retained(
                    stream,
                    raid.at,
                    raid.at.plus(RAID_ARRIVAL_WINDOW),
                    raid.at.plus(RAID_RETENTION_AFTER),
                    &excluded,
                )
                .await?;
            out.push(RaidFigures {
                from_login: raid.from_login,
                viewers: raid.viewers,
                at: raid.at,
                retention: share(retained, arrivals),
                arrivals,
            });
        }
        Ok(out)
    }

    /// The latest raid of a channel (`!raid`), in whichever stream it fell.
    pub async fn last_raid(&self, channel: &Channel) -> Result<Option<RaidFigures>, StoreError> {
        let raids = self
            .store
            .raids(channel.key, Timestamp(i64::MIN), Timestamp(i64::MAX))
            .await?;
        let Some(last) = raids.last() else {
            return Ok(None);
        };
        let stream = match last.stream {
            Some(key) => self.store.stream_by_key(key).await?,
            None => None,
        };
        match stream {
            Some(stream) => Ok(self
                .raids(&stream)
                .await?
                .into_iter()
                .rev()
                .find(|r| r.at == last.at)),
            None => Ok(Some(RaidFigures {
                from_login: last.from_login.clone(),
                viewers: last.viewers,
                at: last.at,
                retention: None,
                arrivals: 0,
            })),
        }
    }

    /// Chatters shared by two channels: unique chatters of both, over their streams
    /// overlapping `[since, until]`.
    pub async fn overlap(
        &self,
        a: &Channel,
        b: &Channel,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Overlap, StoreError> {
        let ea = self.excluded(a).await?;
        let eb = self.excluded(b).await?;
        let ua = self.store.window_chatters(a.key, since, until, &ea).await?;
        let ub = self.store.window_chatters(b.key, since, until, &eb).await?;
        let set: rustc_hash::FxHashSet<UserId> = ua.iter().copied().collect();
        let shared = ub.iter().filter(|u| set.contains(u)).count();
        Ok(Overlap {
            a: i64::try_from(ua.len()).unwrap_or(i64::MAX),
            b: i64::try_from(ub.len()).unwrap_or(i64::MAX),
            shared: i64::try_from(shared).unwrap_or(i64::MAX),
        })
    }

    /// Account-age clusters of a channel's chatters over `[since, until]`.
    pub async fn accounts_window(
        &self,
        channel: &Channel,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<AccountClusters, StoreError> {
        let excluded = self.excluded(channel).await?;
        let ids = self
            .store
            .window_chatters(channel.key, since, until, &excluded)
            .await?;
        self.clusters(&ids, since, until).await
    }

    /// Account-age clusters of one stream's chatters.
    pub async fn accounts_stream(&self, stream: &Stream) -> Result<AccountClusters, StoreError> {
        let channel = self.channel_of(stream).await?;
        let excluded = self.excluded(&channel).await?;
        let ids = self.store.stream_chatters(stream.key, &excluded).await?;
        let until = stream.ended_at.unwrap_or_else(Timestamp::now);
        self.clusters(&ids, stream.started_at, until).await
    }

    async fn clusters(
        &self,
        ids: &[UserId],
        since: Timestamp,
        until: Timestamp,
    ) -> Result<AccountClusters, StoreError> {
        let accounts = self.store.accounts(ids).await?;
        Ok(cluster_accounts(ids.len(), &accounts, since, until))
    }

    /// What `!seen` shows: the user's record in the channel, account age, former names.
    pub async fn seen(&self, channel: &Channel, login: &Login) -> Result<Option<Seen>, StoreError> {
        let Some((_, id)) = self
            .store
            .user_ids(std::slice::from_ref(login))
            .await?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let user = self.store.user(id).await?;
        let record = self.store.channel_user(channel.key, id).await?;
        let names = self.store.name_history(id).await?;
        Ok(Some(Seen {
            record,
            created_at: user.and_then(|u| u.created_at),
            names,
        }))
    }

    /// What the stream chart draws (`charts::stream`): the series during the stream and its new
    /// chatters' arrivals. One path for the web chart and the Discord recap.
    pub async fn stream_series(
        &self,
        channel: &Channel,
        stream: &Stream,
    ) -> Result<StreamSeries, StoreError> {
        let end = stream.ended_at.unwrap_or_else(Timestamp::now);
        let points = self
            .store
            .series(channel.key, stream.started_at, end)
            .await?;
        let arrivals = self
            .new_chatters(stream, i64::MAX)
            .await?
            .into_iter()
            .map(|c| c.first_seen)
            .collect();
        let started = stream.started_at.to_datetime().format("%Y-%m-%d %H:%M");
        let (viewers, categories) = self.stream_marks(stream).await?;
        Ok(StreamSeries {
            title: format!("{}: stream of {started} UTC", channel.login),
            started_at: stream.started_at,
            ended_at: stream.ended_at,
            points,
            arrivals,
            viewers,
            categories,
            chat: self.stream_minutes(stream).await?,
        })
    }

    /// What the channel chart draws (`charts::channel`) over `[from, to]`: the series, the
    /// streams overlapping the window and its raids. One path for the web chart and the weekly
    /// digest.
    pub async fn channel_series(
        &self,
        channel: &Channel,
        from: Timestamp,
        to: Timestamp,
        title: String,
    ) -> Result<ChannelSeries, StoreError> {
        let points = self.store.series(channel.key, from, to).await?;
        let streams = self
            .store
            .streams(channel.key, STREAMS_IN_WINDOW)
            .await?
            .into_iter()
            .filter(|s| s.started_at <= to && s.ended_at.is_none_or(|end| end >= from))
            .map(|s| LiveSpan {
                start: s.started_at,
                end: s.ended_at,
            })
            .collect();
        let raids = self
            .store
            .raids(channel.key, from, to)
            .await?
            .into_iter()
            .map(|r| RaidMark {
                at: r.at,
                from_login: r.from_login,
                viewers: r.viewers,
            })
            .collect();
        let viewers = self.viewer_points(channel, from, to).await?;
        Ok(ChannelSeries {
            title,
            from,
            to,
            points,
            streams,
            raids,
            viewers,
        })
    }

    /// The chatter-count series of a channel in `[from, to]`.
    pub async fn series(
        &self,
        channel: &Channel,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        self.store.series(channel.key, from, to).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(s: &str) -> Login {
        Login::parse(s).expect("valid")
    }

    #[test]
    fn days_with_at_least_ten_accounts_are_flagged_in_small_windows() {
        let day = Timestamp::parse_rfc3339("2026-01-05T10:00:00Z").expect("valid");
        let other = Timestamp::parse_rfc3339("2020-03-01T00:00:00Z").expect("valid");
        let mut accounts: Vec<_> = (0..10)
            .map(|i| (UserId(i + 1), login(&format!("farm{i}")), day.plus(i * 60)))
            .collect();
        accounts.push((UserId(100), login("old"), other));
        let c = cluster_accounts(12, &accounts, Timestamp(0), Timestamp(1));
        assert_eq!(c.threshold, 10);
        assert_eq!(c.total, 12);
        assert_eq!(c.days.len(), 2);
        assert_eq!(c.days[0].date, "2026-01-05");
        assert_eq!(c.days[0].count, 10);
        assert!(c.days[0].flagged);
        assert_eq!(c.days[0].logins.len(), 10);
        assert_eq!(
            c.days[1],
            AccountDay {
                date: "2020-03-01".into(),
                count: 1,
                flagged: false,
                logins: vec![]
            }
        );
    }

    #[test]
    fn threshold_is_two_percent_rounded_up_above_five_hundred_chatters() {
        assert_eq!(
            cluster_accounts(500, &[], Timestamp(0), Timestamp(0)).threshold,
            10
        );
        assert_eq!(
            cluster_accounts(501, &[], Timestamp(0), Timestamp(0)).threshold,
            11
        );
        assert_eq!(
            cluster_accounts(1000, &[], Timestamp(0), Timestamp(0)).threshold,
            20
        );
        assert_eq!(
            cluster_accounts(0, &[], Timestamp(0), Timestamp(0)).threshold,
            10
        );
    }
}
