//! The audience layer of the charts: viewers (stream samples) as a second line on the channel
//! and stream charts, and the category runs labelled along the top of the stream chart.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{self, Area, Palette, Sizes, TimeChart, draw_err, text, time};
use super::{CategoryMark, ChartError};
use crate::domain::Timestamp;
use crate::store::SeriesPoint;

/// The viewer samples within `[from, to]` as series points (the count in `chatters`), so they
/// are reduced and drawn like the chatter line.
pub(super) fn points(viewers: &[(Timestamp, i64)], from: i64, to: i64) -> Vec<SeriesPoint> {
    viewers
        .iter()
        .filter(|(at, _)| at.0 >= from && at.0 <= to)
        .map(|&(at, n)| SeriesPoint {
            at,
            chatters: n,
            total: None,
        })
        .collect()
}

/// Draws the viewers line (thinner than the chatters line).
pub(super) fn line(
    root: &Area<'_>,
    chart: &mut TimeChart<'_, '_>,
    viewers: &[SeriesPoint],
    (from, to): (i64, i64),
    palette: &Palette,
    sizes: &Sizes,
) -> Result<(), ChartError> {
    if viewers.is_empty() {
        return Ok(());
    }
    let (plot_w, _) = chart.plotting_area().dim_in_pixel();
    canvas::series_line(
        root,
        chart,
        viewers,
        (from, to),
        plot_w,
        palette.viewers,
        sizes.line,
        sizes.line + 1,
    )
}

/// Labels each category run at the top of the plot, with a thin line where a run begins
/// (after the first); a label that would run into the next one is cut short or left out.
pub(super) fn categories(
    root: &Area<'_>,
    chart: &TimeChart<'_, '_>,
    runs: &[CategoryMark],
    (start, end): (i64, i64),
    top: i64,
    palette: &Palette,
    sizes: &Sizes,
) -> Result<(), ChartError> {
    let lefts: Vec<i32> = runs
        .iter()
        .map(|r| {
            chart
                .backend_coord(&(time(r.from.0.clamp(start, end)), top))
                .0
        })
        .collect();
    let (right_edge, top_px) = chart.backend_coord(&(time(end), top));
    let (_, bottom_px) = chart.backend_coord(&(time(end), 0));
    let style = text(sizes.label, palette.muted).pos(Pos::new(HPos::Left, VPos::Top));
    // DejaVu Sans averages about 0.6 em per character.
    let char_w = i32::try_from(sizes.label * 3 / 5).unwrap_or(1).max(1);
    for (i, run) in runs.iter().enumerate() {
        let left = lefts[i];
        if i > 0 {
            root.draw(&Rectangle::new(
                [(left, top_px), (left, bottom_px)],
                palette.axis.filled(),
            ))
            .map_err(draw_err)?;
        }
        let right = lefts.get(i + 1).copied().unwrap_or(right_edge);
        let room = usize::try_from((right - left - 8) / char_w).unwrap_or(0);
        let name = if run.name.is_empty() {
            "no category"
        } else {
            run.name.as_str()
        };
        let label: String = if name.chars().count() <= room {
            name.to_owned()
        } else if room >= 4 {
            let mut cut: String = name.chars().take(room - 1).collect();
            cut.push('…');
            cut
        } else {
            continue;
        };
        root.draw(&Text::new(label, (left + 4, top_px + 2), style.clone()))
            .map_err(draw_err)?;
    }
    Ok(())
}
