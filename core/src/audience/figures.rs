//! The audience figures over the store: [`Figures`] methods for stream figures, top watchers,
//! a user's watch time, regulars, `!viewers` and the viewer counts of series points.

use super::{
    AudienceFigures, Regular, Regulars, ViewersNow, WATCH_WINDOW, category_runs,
    chatters_per_viewer, rounded_mean, viewer_figures, viewers_at,
};
use crate::charts::CategoryMark;
use crate::domain::{Timestamp, UserId};
use crate::stats::{Figures, STREAMS_IN_WINDOW};
use crate::store::{Channel, SeriesPoint, StoreError, Stream, StreamCounts, StreamKey, UserWatch};

impl Figures {
    /// The audience figures of a stream at `now` (open presence of a live stream counts up
    /// to it), over users outside `excluded`, given its peak and unique chatters.
    pub async fn audience_at(
        &self,
        stream: &Stream,
        excluded: &[UserId],
        chatters: (i64, i64),
        now: Timestamp,
    ) -> Result<AudienceFigures, StoreError> {
        let counts = self.store().stream_counts(stream, excluded, now).await?;
        self.audience_with(stream, excluded, chatters, &counts)
            .await
    }

    /// [`Figures::audience_at`] given the stream's counts (`Figures::stream` reads them
    /// anyway): the total watch time of the unique chatters and, for a marked stream, its
    /// regulars among them come from the same pass.
    pub(crate) async fn audience_with(
        &self,
        stream: &Stream,
        excluded: &[UserId],
        (peak_chatters, unique): (i64, i64),
        counts: &StreamCounts,
    ) -> Result<AudienceFigures, StoreError> {
        let watched = counts.watched;
        let store = self.store();
        let end = stream.ended_at.unwrap_or(Timestamp(i64::MAX));
        let samples = store
            .samples(stream.channel, stream.started_at, end)
            .await?;
        let (peak_viewers, avg_viewers) = viewer_figures(&samples);
        let regulars_present = if stream.marked {
            counts.regulars
        } else {
            store.regulars_present(stream, excluded).await?
        };
        Ok(AudienceFigures {
            peak_viewers,
            avg_viewers,
            chatters_per_viewer: chatters_per_viewer(peak_chatters, peak_viewers),
            categories: category_runs(&samples, stream.started_at, stream.ended_at),
            avg_watch_time: rounded_mean(watched, unique),
            regulars_present,
        })
    }

    /// The longest watchers of a stream (`top_watchers`), at most `n`.
    pub async fn top_watchers(
        &self,
        stream: &Stream,
        n: i64,
        now: Timestamp,
    ) -> Result<Vec<UserWatch>, StoreError> {
        let channel = self.channel_of(stream).await?;
        let excluded = self.excluded(&channel).await?;
        self.store().top_watchers(stream, &excluded, n, now).await
    }

    /// A user's watch time in `stream` (if any) and over the channel's streams of the last
    /// [`WATCH_WINDOW`] (`!watchtime`).
    pub async fn watch_time(
        &self,
        channel: &Channel,
        user: UserId,
        stream: Option<&Stream>,
        now: Timestamp,
    ) -> Result<(i64, i64), StoreError> {
        let store = self.store();
        let in_stream = match stream {
            Some(s) => store.stream_user_watch(s, user, now).await?,
            None => 0,
        };
        let window = store
            .user_watch(channel.key, user, Timestamp(now.0 - WATCH_WINDOW), now, now)
            .await?;
        Ok((in_stream, window))
    }

    /// Regulars of a stream as of its start (counted users): how many, and how many of them
    /// are its unique chatters.
    pub async fn stream_regulars(&self, stream: &Stream) -> Result<(i64, i64), StoreError> {
        let channel = self.channel_of(stream).await?;
        let excluded = self.excluded(&channel).await?;
        self.store().regulars_of_stream(stream, &excluded).await
    }

    /// The channel's regulars now: counted users who were unique chatters of at least 3 of
    /// its last 5 ended streams.
    pub async fn regulars(&self, channel: &Channel) -> Result<Regulars, StoreError> {
        let store = self.store();
        let excluded = self.excluded(channel).await?;
        let deciding = store
            .deciding_streams(channel.key, Timestamp(i64::MAX))
            .await?;
        let keys: Vec<StreamKey> = deciding.iter().map(|s| s.key).collect();
        let rows = store.regulars(&keys, &excluded).await?;
        Ok(Regulars {
            streams: deciding.into_iter().map(|s| s.id).collect(),
            regulars: rows.into_iter().map(Regular::from).collect(),
        })
    }

    /// What `!viewers` shows: the current (or last) stream's latest sample and figures.
    pub async fn viewers_now(
        &self,
        channel: &Channel,
        now: Timestamp,
    ) -> Result<Option<ViewersNow>, StoreError> {
        let Some(stream) = self.current_or_last_stream(channel).await? else {
            return Ok(None);
        };
        let figures = self.stream(&stream).await?;
        self.viewers_of(channel, &stream, figures, now)
            .await
            .map(Some)
    }

    /// [`Figures::viewers_now`] of `stream`, given its figures.
    pub(crate) async fn viewers_of(
        &self,
        channel: &Channel,
        stream: &Stream,
        figures: crate::stats::StreamFigures,
        now: Timestamp,
    ) -> Result<ViewersNow, StoreError> {
        let end = stream.ended_at.unwrap_or(now);
        let latest = self
            .store()
            .sample_at(channel.key, end)
            .await?
            .filter(|s| s.at >= stream.started_at);
        Ok(ViewersNow {
            live: stream.ended_at.is_none(),
            latest,
            figures: figures.audience,
        })
    }

    /// The viewer counts for series points (`/series`, charts).
    pub async fn series_viewers(
        &self,
        channel: &Channel,
        points: &[SeriesPoint],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return Ok(Vec::new());
        };
        let spans = self.stream_spans(channel, first.at, last.at).await?;
        let from = spans.first().map_or(first.at, |s| s.0.min(first.at));
        let samples = self.store().samples(channel.key, from, last.at).await?;
        Ok(viewers_at(points, &samples, &spans))
    }

    /// `(start, end)` of the channel's streams overlapping `[from, to]`, oldest first.
    async fn stream_spans(
        &self,
        channel: &Channel,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<Timestamp>)>, StoreError> {
        let mut spans: Vec<_> = self
            .store()
            .streams(channel.key, STREAMS_IN_WINDOW)
            .await?
            .into_iter()
            .filter(|s| s.started_at <= to && s.ended_at.is_none_or(|end| end >= from))
            .map(|s| (s.started_at, s.ended_at))
            .collect();
        spans.sort();
        Ok(spans)
    }

    /// What the stream chart adds: the stream's viewer counts and its category runs.
    pub async fn stream_marks(
        &self,
        stream: &Stream,
    ) -> Result<(Vec<(Timestamp, i64)>, Vec<CategoryMark>), StoreError> {
        let end = stream.ended_at.unwrap_or(Timestamp(i64::MAX));
        let samples = self
            .store()
            .samples(stream.channel, stream.started_at, end)
            .await?;
        let marks = category_runs(&samples, stream.started_at, stream.ended_at)
            .into_iter()
            .map(|c| CategoryMark {
                from: c.from,
                name: c.name,
            })
            .collect();
        Ok((samples.iter().map(|s| (s.at, s.viewers)).collect(), marks))
    }

    /// The viewer samples of the channel in `[from, to]`, as chart points `(at, viewers)`.
    pub async fn viewer_points(
        &self,
        channel: &Channel,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(Timestamp, i64)>, StoreError> {
        let samples = self.store().samples(channel.key, from, to).await?;
        Ok(samples.into_iter().map(|s| (s.at, s.viewers)).collect())
    }
}
