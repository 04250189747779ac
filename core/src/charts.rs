//! Chart images, data in and PNG bytes out, with no I/O: the web endpoint, the share page and
//! the Discord recaps all call these.
//!
//! Three charts: a channel's chatter count over a range ([`channel`]: stream periods shaded,
//! raids marked), one stream ([`stream`]: present count and new arrivals per interval, peak
//! annotated) and account-age clusters ([`accounts`]: flagged days highlighted). Each is drawn
//! with plotters into an RGB buffer of the size a validated [`ChartSpec`] gives and encoded with
//! the `png` crate (fast compression). Series are [`reduce`]d to about two points per pixel
//! column first (the highest of each bucket, so peaks survive), which keeps a 30-day chart as
//! cheap as a 24-hour one. Text uses DejaVu Sans embedded from `assets/fonts/`.
//!
//! Layout: `spec` (parameters), `reduce` (series reduction), `canvas` (font, palettes, PNG
//! encoding), `channel`, `stream`, `accounts` (one chart each).

mod accounts;
mod canvas;
mod channel;
mod reduce;
mod spec;
mod stream;

use chrono::{DateTime, Utc};

pub use accounts::accounts;
pub use channel::channel;
pub use reduce::reduce;
pub use spec::{ChartSpec, Range, SpecError, Theme};
pub use stream::stream;

use crate::domain::{Login, Timestamp};
use crate::store::SeriesPoint;

/// Why a chart could not be drawn. None of these follow from the data or the spec: they are
/// bugs or resource failures, answered as internal errors.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The embedded font did not parse.
    #[error("the embedded chart font could not be loaded")]
    Font,
    /// plotters failed to draw.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(#[from] png::EncodingError),
}

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

/// Everything [`channel`] draws.
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
}

/// Everything [`stream`] draws.
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
}

/// A time as the chart's x coordinate.
fn time(seconds: i64) -> DateTime<Utc> {
    Timestamp(seconds).to_datetime()
}

/// An x-axis label: clock time for spans up to two days, the date beyond.
fn time_label(at: &DateTime<Utc>, span_seconds: i64) -> String {
    if span_seconds <= 2 * 24 * 3600 {
        at.format("%H:%M").to_string()
    } else {
        at.format("%b %d").to_string()
    }
}

#[cfg(test)]
mod tests;
