//! One stream: chatters present over time as a line, viewers as a second line, new arrivals
//! per interval as bars, the peak annotated, category runs labelled along the top.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::domain::Timestamp;

use super::canvas::{
    self, Area, Palette, Sizes, Swatch, draw_err, nice_top, text, time, time_label,
};
use super::{ChartError, ChartSpec, StreamSeries};
use super::{reduce, viewers};

/// Bar widths for new arrivals, in seconds: the first giving at most the wanted number of bars.
const INTERVALS: [i64; 12] = [
    60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/// The chart of one stream as PNG bytes: "no data yet" when it has neither points nor arrivals.
pub fn stream(data: &StreamSeries, spec: &ChartSpec) -> Result<Vec<u8>, ChartError> {
    canvas::render(spec, |root, palette, sizes| {
        draw(root, palette, sizes, data)
    })
}

fn draw(
    root: &Area<'_>,
    palette: &Palette,
    sizes: &Sizes,
    data: &StreamSeries,
) -> Result<(), ChartError> {
    let (main, strip) = super::stream_chat::split(root, sizes, &data.chat);
    let root = &main;
    let start = data.started_at.0;
    let latest = data
        .points
        .iter()
        .map(|p| p.at.0)
        .chain(data.arrivals.iter().map(|a| a.0))
        .max()
        .unwrap_or(start);
    let end = data
        .ended_at
        .map_or(latest, |e| e.0)
        .max(start.saturating_add(60));
    let window = reduce::window(&data.points, Timestamp(start), Timestamp(end));
    let arrivals: Vec<i64> = data
        .arrivals
        .iter()
        .map(|a| a.0)
        .filter(|&a| a >= start && a <= end)
        .collect();
    if window.is_empty() && arrivals.is_empty() {
        return canvas::no_data(root, palette, sizes, &data.title, "no data yet");
    }

    // Bars about two label heights wide, estimated from the image before the chart exists.
    let estimated_w = root
        .dim_in_pixel()
        .0
        .saturating_sub(sizes.y_area + 2 * sizes.margin)
        .max(1);
    let wanted_bars = i64::from((estimated_w / (sizes.label * 2)).clamp(4, 120));
    let interval = arrival_interval(end - start, wanted_bars);
    let bars = bucket_arrivals(&arrivals, start, interval);
    let viewer_points = viewers::points(&data.viewers, start, end);
    let max = window
        .iter()
        .chain(&viewer_points)
        .map(|p| p.chatters)
        .chain(bars.iter().map(|&(_, n)| n))
        .max()
        .unwrap_or(0);
    let top = nice_top(max);

    let arrivals_label = format!("new arrivals per {}", interval_name(interval));
    let mut legend = Vec::new();
    if !window.is_empty() {
        legend.push((Swatch::Line, palette.line, "chatters present"));
    }
    if !viewer_points.is_empty() {
        legend.push((Swatch::Line, palette.viewers, "viewers"));
    }
    if !bars.is_empty() {
        legend.push((Swatch::Block, palette.bars, arrivals_label.as_str()));
    }
    canvas::header(root, palette, sizes, &data.title, &legend)?;
    let mut chart = ChartBuilder::on(root)
        .margin(sizes.margin)
        .margin_top(sizes.header)
        .x_label_area_size(sizes.x_area)
        .y_label_area_size(sizes.y_area)
        .right_y_label_area_size(if data.chat.is_empty() {
            0
        } else {
            sizes.y_area
        })
        .build_cartesian_2d(time(start)..time(end), 0i64..top)
        .map_err(draw_err)?;
    let (plot_w, plot_h) = chart.plotting_area().dim_in_pixel();
    let span = end - start;
    let format = move |at: &chrono::DateTime<chrono::Utc>| time_label(at, span);
    chart
        .configure_mesh()
        .light_line_style(RGBAColor(0, 0, 0, 0.0))
        .bold_line_style(palette.grid)
        .axis_style(palette.axis)
        .label_style(text(sizes.label, palette.muted))
        .x_labels(sizes.x_labels(plot_w))
        .y_labels(sizes.y_labels(plot_h))
        .x_label_formatter(&format)
        .draw()
        .map_err(draw_err)?;

    let fill = palette.bars;
    if !bars.is_empty() {
        chart
            .draw_series(bars.iter().map(|&(at, n)| {
                let mut bar = Rectangle::new(
                    [(time(at), 0), (time((at + interval).min(end)), n)],
                    fill.filled(),
                );
                bar.set_margin(0, 0, 1, 1);
                bar
            }))
            .map_err(draw_err)?
            .label(format!("new arrivals per {}", interval_name(interval)))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], fill.filled()));
    }

    canvas::series_line(
        root,
        &mut chart,
        window,
        (start, end),
        plot_w,
        palette.line,
        sizes.line + 1,
        sizes.line + 2,
    )?;
    viewers::line(
        root,
        &mut chart,
        &viewer_points,
        (start, end),
        palette,
        sizes,
    )?;
    viewers::categories(
        root,
        &chart,
        &data.categories,
        (start, end),
        top,
        palette,
        sizes,
    )?;

    // The first of equal maxima is the peak.
    if let Some(peak) = window
        .iter()
        .fold(None::<&crate::store::SeriesPoint>, |best, p| match best {
            Some(b) if b.chatters >= p.chatters => Some(b),
            _ => Some(p),
        })
    {
        let right_half = (peak.at.0 - start) * 2 > span;
        let anchor = Pos::new(
            if right_half { HPos::Right } else { HPos::Left },
            VPos::Bottom,
        );
        let dx = if right_half { -6 } else { 6 };
        let label = format!(
            "peak {} at {}",
            peak.chatters,
            peak.at.to_datetime().format("%H:%M")
        );
        let radius = sizes.line + 3;
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((time(peak.at.0), peak.chatters))
                    + Circle::new((0, 0), radius, palette.peak.filled())
                    + Text::new(label, (dx, -4), text(sizes.label, palette.peak).pos(anchor)),
            ))
            .map_err(draw_err)?;
    }

    let chat = &data.chat;
    super::stream_chat::draw(chart, palette, sizes, chat, (start, end), strip.as_ref())
}
/// The bar width for a stream of `span` seconds showing about `bars` bars.
fn arrival_interval(span: i64, bars: i64) -> i64 {
    let want = span / bars.max(1);
    INTERVALS
        .iter()
        .copied()
        .find(|&i| i >= want)
        .unwrap_or_else(|| {
            let day = INTERVALS[INTERVALS.len() - 1];
            want.div_euclid(day).saturating_add(1).saturating_mul(day)
        })
}

/// Arrivals counted per `interval` from `start`: `(bucket start, count)` for non-empty buckets.
fn bucket_arrivals(arrivals: &[i64], start: i64, interval: i64) -> Vec<(i64, i64)> {
    let mut counts = std::collections::BTreeMap::<i64, i64>::new();
    for &a in arrivals {
        let bucket = start + (a - start).div_euclid(interval) * interval;
        *counts.entry(bucket).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// `1 min`, `15 min`, `2 h`, `1 d`.
fn interval_name(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{} min", s / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_bars_widen_with_the_stream() {
        assert_eq!(arrival_interval(3600, 60), 60);
        assert_eq!(arrival_interval(4 * 3600, 50), 300);
        assert_eq!(arrival_interval(12 * 3600, 48), 900);
        assert_eq!(arrival_interval(100 * 86_400, 10), 11 * 86_400);
        assert_eq!(interval_name(900), "15 min");
        assert_eq!(interval_name(7200), "2 h");
        assert_eq!(interval_name(86_400), "1 d");
    }

    #[test]
    fn arrivals_are_counted_per_interval_from_the_start() {
        let counts = bucket_arrivals(&[100, 150, 159, 160, 400], 100, 60);

        assert_eq!(counts, vec![(100, 3), (160, 1), (400, 1)]);
    }
}
