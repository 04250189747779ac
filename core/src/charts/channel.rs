//! A channel's chatter count over a range: one line (viewers a second one), stream periods
//! shaded, raids marked.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{
    self, Area, Palette, Sizes, Swatch, draw_err, nice_top, text, time, time_label,
};
use super::{reduce, viewers};
use crate::domain::Timestamp;

use super::{ChannelSeries, ChartError, ChartSpec};

/// The chatter-count chart of a channel as PNG bytes: "no data yet" when the window holds no
/// point.
pub fn channel(data: &ChannelSeries, spec: &ChartSpec) -> Result<Vec<u8>, ChartError> {
    canvas::render(spec, |root, palette, sizes| {
        draw(root, palette, sizes, data)
    })
}

fn draw(
    root: &Area<'_>,
    palette: &Palette,
    sizes: &Sizes,
    data: &ChannelSeries,
) -> Result<(), ChartError> {
    let from = data.from.0;
    let to = data.to.0.max(from.saturating_add(60));
    let window = reduce::window(&data.points, Timestamp(from), Timestamp(to));
    let Some(max) = window.iter().map(|p| p.chatters).max() else {
        return canvas::no_data(root, palette, sizes, &data.title, "no data yet");
    };
    let viewer_points = viewers::points(&data.viewers, from, to);
    let top = nice_top(viewer_points.iter().map(|p| p.chatters).fold(max, i64::max));
    let spans: Vec<(i64, i64)> = data
        .streams
        .iter()
        .filter_map(|s| {
            let (a, b) = (s.start.0.max(from), s.end.map_or(to, |e| e.0).min(to));
            (a < b).then_some((a, b))
        })
        .collect();
    let raids: Vec<_> = data
        .raids
        .iter()
        .filter(|r| r.at.0 >= from && r.at.0 <= to)
        .collect();
    let mut legend = vec![(Swatch::Line, palette.line, "chatters")];
    if !viewer_points.is_empty() {
        legend.push((Swatch::Line, palette.viewers, "viewers"));
    }
    if !spans.is_empty() {
        legend.push((Swatch::Block, palette.live, "live"));
    }
    if !raids.is_empty() {
        legend.push((Swatch::Tick, palette.raid, "raid (viewers)"));
    }
    canvas::header(root, palette, sizes, &data.title, &legend)?;
    let mut chart = ChartBuilder::on(root)
        .margin(sizes.margin)
        .margin_top(sizes.header)
        .x_label_area_size(sizes.x_area)
        .y_label_area_size(sizes.y_area)
        .build_cartesian_2d(time(from)..time(to), 0i64..top)
        .map_err(draw_err)?;
    let (plot_w, plot_h) = chart.plotting_area().dim_in_pixel();

    let live = palette.live;
    chart
        .draw_series(
            spans
                .iter()
                .map(|&(a, b)| Rectangle::new([(time(a), 0), (time(b), top)], live.filled())),
        )
        .map_err(draw_err)?;

    let span = to - from;
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

    canvas::series_line(
        root,
        &mut chart,
        window,
        (from, to),
        plot_w,
        palette.line,
        sizes.line,
        sizes.line + 1,
    )?;
    viewers::line(root, &mut chart, &viewer_points, (from, to), palette, sizes)?;

    // Raid lines, each labelled at the top in the first of four rows where the label does not
    // run into another; a raid without room keeps its line only.
    let (plot_left, plot_right) = (from, to);
    let bar = i32::try_from(sizes.line).unwrap_or(1);
    let mut rows = [(i32::MIN, i32::MIN); 4];
    for r in raids {
        let (px, top_px) = chart.backend_coord(&(time(r.at.0), top));
        let (_, bottom_px) = chart.backend_coord(&(time(r.at.0), 0));
        root.draw(&Rectangle::new(
            [(px, top_px), (px + bar - 1, bottom_px)],
            palette.raid.filled(),
        ))
        .map_err(draw_err)?;
        let caption = format!("{} ({})", r.from_login, r.viewers);
        // DejaVu Sans averages about 0.6 em per character.
        let width = i32::try_from(caption.len() as u32 * sizes.label * 3 / 5).unwrap_or(0);
        let right_half = (r.at.0 - plot_left) * 2 > plot_right - plot_left;
        let (start, end) = if right_half {
            (px - 4 - width, px - 4)
        } else {
            (px + bar + 3, px + bar + 3 + width)
        };
        let Some(row) = rows.iter().position(|&(s, e)| end + 4 < s || start > e + 4) else {
            continue;
        };
        rows[row] = (start, end);
        let y = top_px + 4 + i32::try_from(row as u32 * (sizes.label + 4)).unwrap_or(0);
        let style = text(sizes.label, palette.raid).pos(Pos::new(HPos::Left, VPos::Top));
        root.draw(&Text::new(caption, (start, y), style))
            .map_err(draw_err)?;
    }
    Ok(())
}
