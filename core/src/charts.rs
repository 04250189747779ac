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
//! Layout: `series` (what the charts draw), `spec` (parameters), `reduce` (series reduction),
//! `canvas` (font, palettes, axes, PNG encoding), `error`, then `channel`, `stream`, `accounts`
//! (one chart each), `viewers` (the viewers line and category labels both add). This file only
//! declares and re-exports.

mod accounts;
mod canvas;
mod channel;
mod error;
mod reduce;
mod series;
mod spec;
mod stream;
mod stream_chat;
mod viewers;

pub use accounts::accounts;
pub use channel::channel;
pub use error::ChartError;
pub use reduce::reduce;
pub use series::{CategoryMark, ChannelSeries, LiveSpan, RaidMark, StreamSeries};
pub use spec::{ChartSpec, Range, SpecError, Theme};
pub use stream::stream;

#[cfg(test)]
mod tests;
