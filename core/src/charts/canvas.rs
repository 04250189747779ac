//! What every chart shares: the embedded font, the palettes, sizes that follow the image, the
//! RGB buffer and its PNG encoding, and the "no data yet" image.

use std::sync::OnceLock;

use plotters::backend::RGBPixel;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use chrono::{DateTime, Utc};

use super::{ChartError, ChartSpec, Theme};
use crate::domain::Timestamp;

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The family every text style names; the embedded font is registered under it.
pub(super) const FAMILY: &str = "sans-serif";

/// The drawing area of one chart.
pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Registers the embedded font once. plotters' ab_glyph text has no system fallback: text
/// drawn before this would fail.
fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

/// Colours of one theme.
#[derive(Debug, Clone, Copy)]
pub(super) struct Palette {
    pub background: RGBColor,
    pub text: RGBColor,
    pub muted: RGBColor,
    pub grid: RGBColor,
    pub axis: RGBColor,
    pub line: RGBColor,
    /// Stream periods, already blended into the background (solid fills are cheaper).
    pub live: RGBColor,
    pub raid: RGBColor,
    pub bars: RGBColor,
    pub flagged: RGBColor,
    pub peak: RGBColor,
    /// The viewers line (stream samples).
    pub viewers: RGBColor,
}

impl Palette {
    pub(super) fn of(theme: Theme) -> Self {
        match theme {
            Theme::Light => Self {
                background: RGBColor(255, 255, 255),
                text: RGBColor(31, 31, 35),
                muted: RGBColor(83, 83, 95),
                grid: RGBColor(232, 232, 238),
                axis: RGBColor(173, 173, 184),
                line: RGBColor(119, 44, 232),
                live: RGBColor(241, 234, 255),
                raid: RGBColor(214, 96, 0),
                bars: RGBColor(0, 150, 136),
                flagged: RGBColor(215, 38, 61),
                peak: RGBColor(31, 31, 35),
                viewers: RGBColor(30, 136, 229),
            },
            Theme::Dark => Self {
                background: RGBColor(24, 24, 27),
                text: RGBColor(239, 239, 241),
                muted: RGBColor(173, 173, 184),
                grid: RGBColor(47, 47, 53),
                axis: RGBColor(83, 83, 95),
                line: RGBColor(169, 112, 255),
                live: RGBColor(42, 33, 58),
                raid: RGBColor(255, 159, 64),
                bars: RGBColor(38, 198, 180),
                flagged: RGBColor(255, 92, 112),
                peak: RGBColor(239, 239, 241),
                viewers: RGBColor(100, 181, 246),
            },
        }
    }
}

/// Sizes that follow the image, so a 200×150 thumbnail and a 2400×1600 poster both read well.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizes {
    /// Axis labels and annotations.
    pub label: u32,
    /// The caption.
    pub caption: u32,
    /// Outer margin.
    pub margin: u32,
    /// Height of the x label area.
    pub x_area: u32,
    /// Width of the y label area.
    pub y_area: u32,
    /// Line width of the series.
    pub line: u32,
    /// Height of the header row (caption and legend).
    pub header: u32,
}

impl Sizes {
    pub(super) fn of(spec: &ChartSpec) -> Self {
        let short = spec.width().min(spec.height() * 2);
        let label = (short / 75).clamp(9, 22);
        Self {
            label,
            caption: label * 13 / 10 + 1,
            margin: (label / 2).max(4),
            x_area: label * 2 + 4,
            y_area: label * 4,
            line: (spec.width() / 600).clamp(1, 3),
            header: label * 13 / 10 + 1 + (label / 2).max(4) * 2,
        }
    }

    /// How many x labels fit in `width` pixels of plot.
    pub(super) fn x_labels(&self, width: u32) -> usize {
        usize::try_from(width / (self.label * 8))
            .unwrap_or(2)
            .clamp(2, 16)
    }

    /// How many y labels fit in `height` pixels of plot.
    pub(super) fn y_labels(&self, height: u32) -> usize {
        usize::try_from(height / (self.label * 3))
            .unwrap_or(2)
            .clamp(2, 10)
    }
}

/// A plotters failure as ours (its error types are generic over the backend).
pub(super) fn draw_err<E: std::error::Error + Send + Sync>(
    e: DrawingAreaErrorKind<E>,
) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// A text style of the embedded font.
pub(super) fn text(size: u32, color: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&color)
}

/// RGB buffers up to this size are kept per thread between renders (a default 1200×600 chart
/// is 2.2 MB): allocating and faulting in fresh pages costs about a tenth of a render.
const KEPT_BUFFER: usize = 8 << 20;

thread_local! {
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Draws with `draw` into an RGB buffer of the spec's size and encodes it as PNG.
pub(super) fn render(
    spec: &ChartSpec,
    draw: impl FnOnce(&Area<'_>, &Palette, &Sizes) -> Result<(), ChartError>,
) -> Result<Vec<u8>, ChartError> {
    ensure_font()?;
    let (w, h) = (spec.width(), spec.height());
    let len = usize::try_from(u64::from(w) * u64::from(h) * 3)
        .map_err(|_| ChartError::Draw("image too large".to_owned()))?;
    let mut rgb = BUFFER.with(|b| {
        b.try_borrow_mut()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    });
    // Every pixel is painted by the background fill below, so stale content does not matter.
    rgb.resize(len, 0);
    let drawn = paint(&mut rgb, spec, draw).and_then(|()| encode(&rgb, w, h));
    if rgb.capacity() <= KEPT_BUFFER {
        BUFFER.with(|b| {
            if let Ok(mut b) = b.try_borrow_mut() {
                *b = rgb;
            }
        });
    }
    drawn
}

fn paint(
    rgb: &mut [u8],
    spec: &ChartSpec,
    draw: impl FnOnce(&Area<'_>, &Palette, &Sizes) -> Result<(), ChartError>,
) -> Result<(), ChartError> {
    let backend =
        BitMapBackend::<RGBPixel>::with_buffer_and_format(rgb, (spec.width(), spec.height()))
            .map_err(|e| ChartError::Draw(e.to_string()))?;
    let root = backend.into_drawing_area();
    let palette = Palette::of(spec.theme());
    root.fill(&palette.background).map_err(draw_err)?;
    draw(&root, &palette, &Sizes::of(spec))?;
    root.present().map_err(draw_err)
}

/// RGB bytes to PNG with fast compression (a few ms for a full-size chart; see BENCHMARKS.md).
fn encode(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// The chart of a channel or stream that has nothing to show yet: its caption and a centred
/// "no data yet".
pub(super) fn no_data(
    root: &Area<'_>,
    palette: &Palette,
    sizes: &Sizes,
    caption: &str,
    note: &str,
) -> Result<(), ChartError> {
    let (w, h) = root.dim_in_pixel();
    let x = i32::try_from(w / 2).unwrap_or(0);
    let top = i32::try_from(sizes.margin + sizes.caption / 2).unwrap_or(0);
    let middle = i32::try_from(h / 2).unwrap_or(0);
    let centred = Pos::new(HPos::Center, VPos::Center);
    root.draw(&Text::new(
        caption.to_owned(),
        (x, top),
        text(sizes.caption, palette.text).pos(centred),
    ))
    .map_err(draw_err)?;
    root.draw(&Text::new(
        note.to_owned(),
        (x, middle),
        text(sizes.caption, palette.muted).pos(centred),
    ))
    .map_err(draw_err)
}

/// A series line `width` pixels wide through backend pixel coordinates. plotters draws wide
/// paths as one filled polygon, which costs milliseconds for a few thousand points; instead the
/// path is drawn one pixel wide, then thickened segment by segment: steep segments shifted
/// sideways, flat ones up and down (what a thick-line Bresenham does).
pub(super) fn polyline(
    root: &Area<'_>,
    pixels: &[(i32, i32)],
    color: RGBColor,
    width: u32,
) -> Result<(), ChartError> {
    let mut path: Vec<(i32, i32)> = Vec::with_capacity(pixels.len());
    for &p in pixels {
        if path.last() != Some(&p) {
            path.push(p);
        }
    }
    let style = color.stroke_width(1);
    root.draw(&PathElement::new(path.clone(), style))
        .map_err(draw_err)?;
    let extra = i32::try_from(width.clamp(1, 8) - 1).unwrap_or(0);
    for pass in 1..=extra {
        // Alternate sides: +1, -1, +2, ...
        let offset = if pass % 2 == 1 {
            (pass + 1) / 2
        } else {
            -(pass / 2)
        };
        for pair in path.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            let (dx, dy) = if (y1 - y0).abs() > (x1 - x0).abs() {
                (offset, 0)
            } else {
                (0, offset)
            };
            root.draw(&PathElement::new(
                vec![(x0 + dx, y0 + dy), (x1 + dx, y1 + dy)],
                style,
            ))
            .map_err(draw_err)?;
        }
    }
    Ok(())
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Swatch {
    /// A short horizontal line (a series).
    Line,
    /// A filled square (bars, shaded periods).
    Block,
    /// A short vertical line (markers).
    Tick,
}

/// The header row above the plot: the caption on the left, the legend on the right (left out
/// when both do not fit, as on thumbnails). Charts reserve [`Sizes::header`] pixels for it.
pub(super) fn header(
    root: &Area<'_>,
    palette: &Palette,
    sizes: &Sizes,
    caption: &str,
    legend: &[(Swatch, RGBColor, &str)],
) -> Result<(), ChartError> {
    let (w, _) = root.dim_in_pixel();
    let middle = i32::try_from(sizes.margin + sizes.caption / 2 + 2).unwrap_or(0);
    let left = i32::try_from(sizes.margin * 2).unwrap_or(0);
    let caption_style = text(sizes.caption, palette.text).pos(Pos::new(HPos::Left, VPos::Center));
    root.draw(&Text::new(
        caption.to_owned(),
        (left, middle),
        caption_style.clone(),
    ))
    .map_err(draw_err)?;
    let caption_w = root
        .estimate_text_size(caption, &caption_style)
        .map_err(draw_err)?
        .0;
    let label_style = text(sizes.label, palette.text).pos(Pos::new(HPos::Left, VPos::Center));
    let swatch = sizes.label;
    let gap = sizes.label;
    let mut widths = Vec::with_capacity(legend.len());
    for (_, _, label) in legend {
        widths.push(
            root.estimate_text_size(label, &label_style)
                .map_err(draw_err)?
                .0,
        );
    }
    let total: u32 = widths.iter().map(|lw| swatch + gap / 2 + lw + gap).sum();
    if caption_w + total + 2 * gap + sizes.margin * 4 > w {
        return Ok(());
    }
    let mut x = i32::try_from(w - sizes.margin * 2 - total + gap).unwrap_or(0);
    let half = i32::try_from(swatch / 2).unwrap_or(0);
    let sw = i32::try_from(swatch).unwrap_or(0);
    for ((kind, color, label), lw) in legend.iter().zip(widths) {
        let stroke = color.stroke_width(sizes.line.max(2));
        match kind {
            Swatch::Line => root.draw(&PathElement::new(
                vec![(x, middle), (x + sw, middle)],
                stroke,
            )),
            Swatch::Block => root.draw(&Rectangle::new(
                [(x, middle - half + 1), (x + sw, middle + half - 1)],
                color.filled(),
            )),
            Swatch::Tick => root.draw(&PathElement::new(
                vec![(x + half, middle - half), (x + half, middle + half)],
                stroke,
            )),
        }
        .map_err(draw_err)?;
        let text_x = x + sw + i32::try_from(gap / 2).unwrap_or(0);
        root.draw(&Text::new(
            (*label).to_owned(),
            (text_x, middle),
            label_style.clone(),
        ))
        .map_err(draw_err)?;
        x = text_x + i32::try_from(lw + gap).unwrap_or(0);
    }
    Ok(())
}

/// The top of a count axis: the next round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a
/// power of ten) above `max` plus 10% headroom, at least 5.
pub(super) fn nice_top(max: i64) -> i64 {
    let want = max.saturating_add(max / 10).saturating_add(1).max(5);
    let mut step: i64 = 1;
    while step <= i64::MAX / 100 {
        for tenths in [10, 15, 20, 25, 30, 40, 50, 60, 80] {
            let candidate = step * tenths / 10;
            if candidate >= want {
                return candidate;
            }
        }
        step *= 10;
    }
    want
}

/// A chart over time (x: UTC date-time, y: a count), as both time charts build it.
pub(super) type TimeChart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<
        RangedDateTime<chrono::DateTime<chrono::Utc>>,
        plotters::coord::types::RangedCoordi64,
    >,
>;

/// Draws `window` (reduced to two points per pixel column of a `plot_w`-wide plot over
/// `[from, to]`) as lines, broken where data is missing; a lone point becomes a dot.
#[allow(
    clippy::too_many_arguments,
    reason = "the plot's area, chart, data, window and style are each needed; a struct would only rename them"
)]
pub(super) fn series_line(
    root: &Area<'_>,
    chart: &mut TimeChart<'_, '_>,
    window: &[crate::store::SeriesPoint],
    (from, to): (i64, i64),
    plot_w: u32,
    color: RGBColor,
    width: u32,
    dot: u32,
) -> Result<(), ChartError> {
    let buckets = usize::try_from(plot_w)
        .unwrap_or(1000)
        .saturating_mul(2)
        .max(1);
    let reduced = super::reduce::reduce(window, Timestamp(from), Timestamp(to), buckets);
    let bucket_seconds = (to - from) / i64::try_from(buckets).unwrap_or(i64::MAX);
    for run in super::reduce::segments(&reduced, super::reduce::max_gap(window, bucket_seconds)) {
        if let [only] = run {
            let point = Circle::new((time(only.at.0), only.chatters), dot, color.filled());
            chart
                .draw_series(std::iter::once(point))
                .map_err(draw_err)?;
        } else {
            let pixels: Vec<(i32, i32)> = run
                .iter()
                .map(|p| chart.backend_coord(&(time(p.at.0), p.chatters)))
                .collect();
            polyline(root, &pixels, color, width)?;
        }
    }
    Ok(())
}

/// A time as the chart's x coordinate.
pub(super) fn time(seconds: i64) -> DateTime<Utc> {
    Timestamp(seconds).to_datetime()
}

/// An x-axis label: clock time for spans up to two days, the date beyond.
pub(super) fn time_label(at: &DateTime<Utc>, span_seconds: i64) -> String {
    if span_seconds <= 2 * 24 * 3600 {
        at.format("%H:%M").to_string()
    } else {
        at.format("%b %d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_axes_end_on_round_numbers_above_the_maximum() {
        assert_eq!(nice_top(0), 5);
        assert_eq!(nice_top(4), 5);
        assert_eq!(nice_top(5), 6);
        assert_eq!(nice_top(9), 10);
        assert_eq!(nice_top(10), 15);
        assert_eq!(nice_top(180), 200);
        assert_eq!(nice_top(190), 250);
        assert_eq!(nice_top(43_000), 50_000);
        assert_eq!(nice_top(i64::MAX), i64::MAX);
    }
}
