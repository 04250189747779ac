//! The optional weekly digest of a channel (`chatters channel set <login> weekly_digest on`):
//! its streams of one ISO week, the week's totals, and the trend against the week before.

use chatters_core::domain::{Login, Timestamp};
use chatters_core::stats::{Figures, StreamFigures};
use chatters_core::store::{Channel, StoreError, Stream};

use super::content::{Field, duration_text, percent};
use super::target::Week;

/// Streams a channel can have in a week, at most (what is read to find them).
const STREAMS_PER_WEEK: i64 = 200;

/// One week of a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// Channel.
    pub login: Login,
    /// The week.
    pub week: Week,
    /// Its streams' figures, oldest first.
    pub streams: Vec<StreamFigures>,
    /// Distinct unique chatters over the week's streams.
    pub unique: i64,
    /// The same for the week before (`None`: no stream that week).
    pub previous_unique: Option<i64>,
    /// Public URL of the channel's 7-day chart.
    pub chart_url: String,
}

/// The streams of a channel that started within `week`, oldest first.
pub async fn week_streams(
    figures: &Figures,
    channel: &Channel,
    week: Week,
) -> Result<Vec<Stream>, StoreError> {
    let mut streams: Vec<Stream> = figures
        .store()
        .streams(channel.key, STREAMS_PER_WEEK)
        .await?
        .into_iter()
        .filter(|s| s.started_at >= week.start() && s.started_at < week.end())
        .collect();
    streams.reverse();
    Ok(streams)
}

/// Distinct unique chatters of the channel's streams started within `week` (`None` when
/// there was none).
async fn week_unique(
    figures: &Figures,
    channel: &Channel,
    week: Week,
) -> Result<Option<i64>, StoreError> {
    let streams = week_streams(figures, channel, week).await?;
    if streams.is_empty() {
        return Ok(None);
    }
    let excluded = figures.excluded(channel).await?;
    let mut ids = Vec::new();
    for s in &streams {
        ids.extend(figures.store().stream_chatters(s.key, &excluded).await?);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(Some(i64::try_from(ids.len()).unwrap_or(i64::MAX)))
}

impl Digest {
    /// Loads the digest of `week`.
    pub async fn load(
        figures: &Figures,
        channel: &Channel,
        week: Week,
        public_base_url: &str,
    ) -> Result<Self, StoreError> {
        let mut streams = Vec::new();
        for s in week_streams(figures, channel, week).await? {
            streams.push(figures.stream(&s).await?);
        }
        let unique = week_unique(figures, channel, week).await?.unwrap_or(0);
        let previous_unique = week_unique(figures, channel, week.previous()).await?;
        Ok(Self {
            login: channel.login.clone(),
            week,
            streams,
            unique,
            previous_unique,
            chart_url: format!(
                "{}/c/{}/chatters.png?range=7d",
                public_base_url.trim_end_matches('/'),
                channel.login
            ),
        })
    }

    /// `login: week 2026-W47`.
    pub fn title(&self) -> String {
        format!("{}: week {}", self.login, self.week)
    }

    /// `2026-11-16 – 2026-11-22 UTC`.
    pub fn period(&self) -> String {
        let first = self.week.start().to_datetime();
        let last = self.week.end().plus(-1).to_datetime();
        format!(
            "{} – {} UTC",
            first.format("%Y-%m-%d"),
            last.format("%Y-%m-%d")
        )
    }

    /// The chart's window: the week.
    pub fn window(&self) -> (Timestamp, Timestamp) {
        (self.week.start(), self.week.end())
    }

    /// `+25.0% (16 → 20)`, or why there is no trend.
    pub fn trend(&self) -> String {
        match self.previous_unique {
            Some(before) if before > 0 => {
                let change = (self.unique - before) as f64 / before as f64;
                let sign = if change >= 0.0 { "+" } else { "" };
                format!("{sign}{} ({before} → {})", percent(change), self.unique)
            }
            _ => "n/a (no chatters the week before)".to_owned(),
        }
    }

    /// Every figure, labelled.
    pub fn fields(&self) -> Vec<Field> {
        let sum = |f: fn(&StreamFigures) -> i64| self.streams.iter().map(f).sum::<i64>();
        let seconds = sum(|s| s.ended_at.map_or(0, |e| e.0 - s.started_at.0));
        let peak = self
            .streams
            .iter()
            .map(|s| s.peak_chatters)
            .max()
            .unwrap_or(0);
        let lines: Vec<String> = self
            .streams
            .iter()
            .map(|s| {
                format!(
                    "{} {}: {} chatters ({} new), peak {}, {} messages",
                    s.started_at.to_datetime().format("%a %Y-%m-%d %H:%M"),
                    if s.title.trim().is_empty() {
                        "(untitled)"
                    } else {
                        s.title.trim()
                    },
                    s.unique_chatters,
                    s.new_chatters,
                    s.peak_chatters,
                    s.messages
                )
            })
            .collect();
        vec![
            Field {
                name: "Streams",
                value: self.streams.len().to_string(),
                short: true,
            },
            Field {
                name: "Time live",
                value: duration_text(seconds),
                short: true,
            },
            Field {
                name: "Unique chatters",
                value: self.unique.to_string(),
                short: true,
            },
            Field {
                name: "New chatters",
                value: sum(|s| s.new_chatters).to_string(),
                short: true,
            },
            Field {
                name: "Messages",
                value: sum(|s| s.messages).to_string(),
                short: true,
            },
            Field {
                name: "Peak chatters",
                value: peak.to_string(),
                short: true,
            },
            Field {
                name: "Trend vs previous week",
                value: self.trend(),
                short: false,
            },
            Field {
                name: "Streams of the week",
                value: if lines.is_empty() {
                    "none".to_owned()
                } else {
                    lines.join("\n")
                },
                short: false,
            },
        ]
    }

    /// The plain-text version.
    pub fn text(&self) -> String {
        format!(
            "Weekly digest {} ({}): {} streams, {} unique chatters, trend {}. Chart: {}",
            self.title(),
            self.period(),
            self.streams.len(),
            self.unique,
            self.trend(),
            self.chart_url
        )
    }
}
