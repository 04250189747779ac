//! The chat part of the stream chart: messages per minute as bars on a second (right) axis,
//! and the mood strip under the chart (each minute coloured by its most frequent mood).

use chrono::{DateTime, Utc};
use plotters::coord::types::RangedCoordi64;
use plotters::prelude::*;

use super::ChartError;
use super::canvas::{Area, Palette, Sizes, draw_err, nice_top, text, time};
use crate::signals::Mood;
use crate::store::MinuteRow;

/// Height of the mood strip, in pixels.
const STRIP: u32 = 12;

/// The chart's type once built (time on x, counts on y).
type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedDateTime<DateTime<Utc>>, RangedCoordi64>>;

/// Splits the mood strip off the bottom of `root` when a minute carries a mood.
pub(super) fn split<'a>(
    root: &Area<'a>,
    sizes: &Sizes,
    chat: &[MinuteRow],
) -> (Area<'a>, Option<Area<'a>>) {
    if !chat.iter().any(|m| m.mood_messages > 0) {
        return (root.clone(), None);
    }
    let height = root.dim_in_pixel().1;
    let (main, strip) = root.split_vertically(height.saturating_sub(STRIP + sizes.margin) as i32);
    (main, Some(strip))
}

/// The colour of a mood in the strip.
fn colour(mood: Mood) -> RGBColor {
    match mood {
        Mood::Hype => RGBColor(245, 140, 20),
        Mood::Laughter => RGBColor(225, 190, 30),
        Mood::Love => RGBColor(225, 80, 150),
        Mood::Sadness => RGBColor(70, 110, 200),
        Mood::Anger => RGBColor(200, 45, 45),
        Mood::Tension => RGBColor(130, 75, 180),
    }
}

/// Draws the messages-per-minute bars on the right axis and the mood strip (when split off).
pub(super) fn draw(
    chart: Chart<'_, '_>,
    palette: &Palette,
    sizes: &Sizes,
    chat: &[MinuteRow],
    (start, end): (i64, i64),
    strip: Option<&Area<'_>>,
) -> Result<(), ChartError> {
    let minutes: Vec<&MinuteRow> = chat
        .iter()
        .filter(|m| m.at.0 + 60 > start && m.at.0 < end)
        .collect();
    if minutes.is_empty() {
        return Ok(());
    }
    let (x_px, _) = chart.plotting_area().get_pixel_range();
    let top = nice_top(minutes.iter().map(|m| m.messages).max().unwrap_or(0));
    let mut dual = chart.set_secondary_coord(time(start)..time(end), 0i64..top);
    dual.configure_secondary_axes()
        .axis_style(palette.axis)
        .label_style(text(sizes.label, palette.muted))
        .y_desc("messages / min")
        .draw()
        .map_err(draw_err)?;
    let fill = palette.muted.mix(0.35);
    dual.draw_secondary_series(minutes.iter().map(|m| {
        Rectangle::new(
            [
                (time(m.at.0.max(start)), 0),
                (time((m.at.0 + 60).min(end)), m.messages),
            ],
            fill.filled(),
        )
    }))
    .map_err(draw_err)?;
    let Some(strip) = strip else {
        return Ok(());
    };
    let width = f64::from((x_px.end - x_px.start).max(1));
    let span = (end - start).max(1) as f64;
    let x =
        |t: i64| x_px.start + (((t - start).clamp(0, end - start)) as f64 * width / span) as i32;
    for m in minutes.iter().filter(|m| m.mood_messages > 0) {
        let Some(mood) = Mood::ALL
            .into_iter()
            .filter(|mood| m.moods.get(*mood) > 0)
            .max_by_key(|mood| (m.moods.get(*mood), std::cmp::Reverse(mood.index())))
        else {
            continue;
        };
        let (x0, x1) = (x(m.at.0), x(m.at.0 + 60).max(x(m.at.0) + 1));
        strip
            .draw(&Rectangle::new(
                [(x0, 1), (x1, STRIP as i32 - 1)],
                colour(mood).filled(),
            ))
            .map_err(draw_err)?;
    }
    Ok(())
}
