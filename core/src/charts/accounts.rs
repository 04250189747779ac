//! Account-age clusters: one bar per account-creation day (the largest first, as many as fit
//! with readable dates), flagged days highlighted, the flag threshold drawn across.

use plotters::prelude::*;

use crate::stats::AccountClusters;

use super::canvas::{self, Area, Palette, Sizes, Swatch, draw_err, nice_top, text};
use super::{ChartError, ChartSpec};

/// The account-age chart of `clusters` as PNG bytes, captioned `title`: "no account data yet"
/// when no chatter's creation date is known.
pub fn accounts(
    clusters: &AccountClusters,
    title: &str,
    spec: &ChartSpec,
) -> Result<Vec<u8>, ChartError> {
    canvas::render(spec, |root, palette, sizes| {
        draw(root, palette, sizes, clusters, title)
    })
}

fn draw(
    root: &Area<'_>,
    palette: &Palette,
    sizes: &Sizes,
    clusters: &AccountClusters,
    title: &str,
) -> Result<(), ChartError> {
    // A date label is about 6 label heights wide; days are already sorted by count, descending.
    let fit = (root.dim_in_pixel().0.saturating_sub(sizes.y_area) / (sizes.label * 7)).clamp(1, 40);
    let days = &clusters.days[..clusters.days.len().min(usize::try_from(fit).unwrap_or(1))];
    let Some(max) = days.iter().map(|d| d.count).max() else {
        return canvas::no_data(root, palette, sizes, title, "no account data yet");
    };
    let top = nice_top(max.max(clusters.threshold));
    let n = i32::try_from(days.len()).unwrap_or(i32::MAX);
    let flagged_label = format!("flagged: at least {} accounts", clusters.threshold);
    let mut legend = vec![(Swatch::Block, palette.bars, "accounts created that day")];
    if days.iter().any(|d| d.flagged) {
        legend.push((Swatch::Block, palette.flagged, flagged_label.as_str()));
    }
    canvas::header(root, palette, sizes, title, &legend)?;
    let mut chart = ChartBuilder::on(root)
        .margin(sizes.margin)
        .margin_top(sizes.header)
        .x_label_area_size(sizes.x_area)
        .y_label_area_size(sizes.y_area)
        .build_cartesian_2d((0..n).into_segmented(), 0i64..top)
        .map_err(draw_err)?;
    let plot_h = chart.plotting_area().dim_in_pixel().1;
    let label = |v: &SegmentValue<i32>| match v {
        SegmentValue::CenterOf(i) => usize::try_from(*i)
            .ok()
            .and_then(|i| days.get(i))
            .map(|d| d.date.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .light_line_style(RGBAColor(0, 0, 0, 0.0))
        .disable_x_mesh()
        .bold_line_style(palette.grid)
        .axis_style(palette.axis)
        .label_style(text(sizes.label, palette.muted))
        .x_labels(days.len())
        .y_labels(sizes.y_labels(plot_h))
        .x_label_formatter(&label)
        .y_desc("accounts created")
        .draw()
        .map_err(draw_err)?;

    let (normal, flagged) = (palette.bars, palette.flagged);
    let bar = |i: usize, count: i64, color: RGBColor| {
        let i = i32::try_from(i).unwrap_or(0);
        let mut r = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0),
                (SegmentValue::Exact(i + 1), count),
            ],
            color.filled(),
        );
        r.set_margin(0, 0, 3, 3);
        r
    };
    chart
        .draw_series(
            days.iter()
                .enumerate()
                .map(|(i, d)| bar(i, d.count, if d.flagged { flagged } else { normal })),
        )
        .map_err(draw_err)?;
    let threshold = flagged.stroke_width(1);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![
                (SegmentValue::Exact(0), clusters.threshold),
                (SegmentValue::Last, clusters.threshold),
            ],
            threshold,
        )))
        .map_err(draw_err)?;
    Ok(())
}
