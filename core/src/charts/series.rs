//! What the charts draw: a channel's series with its streams and raids, one stream's series
//! with its arrivals.

use crate::domain::{Login, Timestamp};
use crate::store::SeriesPoint;

/// A period during which the channel was live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSpan {
    /// Stream start.
    pub start: Timestamp,
    /// Stream end (`None`: still live; shaded to the end of the chart).
    pub end: Option<Timestamp>,
}

/// A raid, marked on the chart with a line and a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaidMark {
    /// When.
    pub at: Timestamp,
    /// Raiding channel.
    pub from_login: Login,
    /// Viewers announced.
    pub viewers: i64,
}

/// Everything [`super::channel()`] draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSeries {
    /// Caption, e.g. `forsen: chatters, last 24 hours`.
    pub title: String,
    /// Left edge of the chart.
    pub from: Timestamp,
    /// Right edge of the chart.
    pub to: Timestamp,
    /// The series, oldest first (points outside `[from, to]` are ignored).
    pub points: Vec<SeriesPoint>,
    /// Streams overlapping the window.
    pub streams: Vec<LiveSpan>,
    /// Raids within the window.
    pub raids: Vec<RaidMark>,
    /// Viewer counts of the stream samples in the window, oldest first (a second line).
    pub viewers: Vec<(Timestamp, i64)>,
}

/// Everything [`super::stream()`] draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSeries {
    /// Caption, e.g. `forsen: stream of 2026-11-25 18:00 UTC`.
    pub title: String,
    /// Stream start (left edge).
    pub started_at: Timestamp,
    /// Stream end (right edge); while live, the latest point or arrival.
    pub ended_at: Option<Timestamp>,
    /// The series during the stream, oldest first.
    pub points: Vec<SeriesPoint>,
    /// First-seen times of the stream's new chatters, in any order.
    pub arrivals: Vec<Timestamp>,
    /// Viewer counts of the stream's samples, oldest first (a second line).
    pub viewers: Vec<(Timestamp, i64)>,
    /// The stream's category runs, in order (labelled along the top).
    pub categories: Vec<CategoryMark>,
    /// Messages and moods per minute (bars on a second axis, the mood strip).
    pub chat: Vec<crate::store::MinuteRow>,
}

/// A category run of a stream, labelled on its chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryMark {
    /// Start of the run.
    pub from: Timestamp,
    /// Game name (empty: no category).
    pub name: String,
}
