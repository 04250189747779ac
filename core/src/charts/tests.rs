//! Rendering tests: every chart decodes as a PNG of the requested size, in both themes, with
//! and without data.

use plotters::style::Color;

use super::*;
use crate::domain::{Login, Timestamp};
use crate::stats::{AccountClusters, AccountDay};
use crate::store::SeriesPoint;

const T0: i64 = 1_704_067_200;

fn point(offset: i64, chatters: i64) -> SeriesPoint {
    SeriesPoint {
        at: Timestamp(T0 + offset),
        chatters,
        total: Some(chatters),
    }
}

/// Width, height and RGB pixels of a PNG.
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn has_colour(rgb: &[u8], colour: (u8, u8, u8)) -> bool {
    rgb.chunks_exact(3).any(|p| (p[0], p[1], p[2]) == colour)
}

fn day_of_points() -> ChannelSeries {
    let points = (0..288)
        .map(|i| point(i * 300, 50 + (i % 40) * 3))
        .collect();
    ChannelSeries {
        title: "chan: chatters, last 24 hours".into(),
        from: Timestamp(T0),
        to: Timestamp(T0 + 86_400),
        points,
        streams: vec![
            LiveSpan {
                start: Timestamp(T0 + 3_600),
                end: Some(Timestamp(T0 + 4 * 3_600)),
            },
            LiveSpan {
                start: Timestamp(T0 + 20 * 3_600),
                end: None,
            },
        ],
        raids: vec![RaidMark {
            at: Timestamp(T0 + 2 * 3_600),
            from_login: Login::parse("raider").expect("valid"),
            viewers: 120,
        }],
        viewers: (0..36)
            .map(|i| (Timestamp(T0 + 3_600 + i * 300), 200 + i * 4))
            .collect(),
    }
}

fn a_stream() -> StreamSeries {
    StreamSeries {
        title: "chan: stream of 2024-01-01 00:00 UTC".into(),
        started_at: Timestamp(T0),
        ended_at: Some(Timestamp(T0 + 3 * 3_600)),
        points: (0..36).map(|i| point(i * 300, 10 + i * 2)).collect(),
        arrivals: (0..90).map(|i| Timestamp(T0 + i * 113)).collect(),
        viewers: (0..36)
            .map(|i| (Timestamp(T0 + 60 + i * 300), 120 + i))
            .collect(),
        categories: vec![
            CategoryMark {
                from: Timestamp(T0),
                name: "Just Chatting".into(),
            },
            CategoryMark {
                from: Timestamp(T0 + 3_600),
                name: "A game with a rather long name that will not fit".into(),
            },
        ],
        chat: (0..180)
            .map(|i| crate::store::MinuteRow {
                at: Timestamp(T0 + i * 60),
                messages: 20 + (i % 17) * 3,
                mood_messages: i % 5,
                moods: crate::signals::MoodTotals::from_array([i % 5, i % 3, 0, i % 2, 0, 1]),
            })
            .collect(),
    }
}

fn clusters(flagged: bool) -> AccountClusters {
    let days = ["2024-01-03", "2019-05-01", "2016-02-29"]
        .iter()
        .enumerate()
        .map(|(i, date)| {
            let count = if i == 0 && flagged { 14 } else { 3 - i as i64 };
            AccountDay {
                date: (*date).to_owned(),
                count,
                flagged: count >= 10,
                logins: Vec::new(),
            }
        })
        .collect();
    AccountClusters {
        since: Timestamp(T0),
        until: Timestamp(T0 + 86_400),
        total: 40,
        threshold: 10,
        days,
    }
}

#[test]
fn every_chart_decodes_with_the_requested_size() {
    for (w, h) in [(200, 150), (1200, 600), (2400, 1600), (333, 777)] {
        for theme in [Theme::Light, Theme::Dark] {
            let spec = ChartSpec::new(w, h, theme).expect("valid spec");
            let images = [
                channel(&day_of_points(), &spec).expect("channel chart"),
                stream(&a_stream(), &spec).expect("stream chart"),
                accounts(&clusters(true), "accounts", &spec).expect("accounts chart"),
            ];
            for png_bytes in images {
                let (width, height, _) = decode(&png_bytes);
                assert_eq!((width, height), (w, h), "{theme}");
            }
        }
    }
}

#[test]
fn a_channel_chart_draws_its_line_live_periods_and_raids() {
    let palette = canvas::Palette::of(Theme::Light);

    let (_, _, rgb) = decode(&channel(&day_of_points(), &ChartSpec::default()).expect("chart"));

    assert!(has_colour(&rgb, palette.line.rgb()), "line");
    assert!(has_colour(&rgb, palette.live.rgb()), "live shading");
    assert!(has_colour(&rgb, palette.raid.rgb()), "raid mark");
}

#[test]
fn an_empty_series_renders_a_no_data_chart() {
    let mut empty = day_of_points();
    empty.points.clear();
    let palette = canvas::Palette::of(Theme::Light);

    let png_bytes = channel(&empty, &ChartSpec::default()).expect("chart");

    let (w, h, rgb) = decode(&png_bytes);
    assert_eq!((w, h), (1200, 600));
    assert!(!has_colour(&rgb, palette.line.rgb()), "no line");
    // The "no data yet" text sits across the middle row band.
    let row = (w * 3) as usize;
    let middle = &rgb[row * (h as usize / 2 - 8)..row * (h as usize / 2 + 8)];
    assert!(
        middle
            .chunks_exact(3)
            .any(|p| (p[0], p[1], p[2]) != palette.background.rgb())
    );

    let mut no_stream = a_stream();
    no_stream.points.clear();
    no_stream.arrivals.clear();
    let (_, _, rgb) = decode(&stream(&no_stream, &ChartSpec::default()).expect("chart"));
    assert!(!has_colour(&rgb, palette.line.rgb()));

    let mut no_days = clusters(false);
    no_days.days.clear();
    let (_, _, rgb) =
        decode(&accounts(&no_days, "accounts", &ChartSpec::default()).expect("chart"));
    assert!(!has_colour(&rgb, palette.bars.rgb()));
}

#[test]
fn the_dark_theme_differs_from_the_light_one() {
    let light = ChartSpec::new(600, 300, Theme::Light).expect("valid");
    let dark = ChartSpec::new(600, 300, Theme::Dark).expect("valid");

    let (_, _, a) = decode(&channel(&day_of_points(), &light).expect("light"));
    let (_, _, b) = decode(&channel(&day_of_points(), &dark).expect("dark"));

    assert_ne!(a, b);
    assert_eq!(
        (a[0], a[1], a[2]),
        canvas::Palette::of(Theme::Light).background.rgb()
    );
    assert_eq!(
        (b[0], b[1], b[2]),
        canvas::Palette::of(Theme::Dark).background.rgb()
    );
}

#[test]
fn a_stream_chart_draws_arrivals_and_its_peak() {
    let palette = canvas::Palette::of(Theme::Dark);
    let spec = ChartSpec::new(1200, 600, Theme::Dark).expect("valid");

    let (_, _, rgb) = decode(&stream(&a_stream(), &spec).expect("chart"));

    assert!(has_colour(&rgb, palette.bars.rgb()), "arrival bars");
    assert!(has_colour(&rgb, palette.line.rgb()), "present line");
    assert!(has_colour(&rgb, palette.peak.rgb()), "peak mark");
}

#[test]
fn a_live_stream_ends_at_its_latest_data() {
    let mut live = a_stream();
    live.ended_at = None;

    let (w, h, _) = decode(&stream(&live, &ChartSpec::default()).expect("chart"));

    assert_eq!((w, h), (1200, 600));
}

#[test]
fn flagged_account_days_are_highlighted() {
    let palette = canvas::Palette::of(Theme::Light);

    let (_, _, with_flag) =
        decode(&accounts(&clusters(true), "a", &ChartSpec::default()).expect("chart"));
    let (_, _, without) =
        decode(&accounts(&clusters(false), "a", &ChartSpec::default()).expect("chart"));

    assert!(has_colour(&with_flag, palette.flagged.rgb()));
    assert!(has_colour(&with_flag, palette.bars.rgb()));
    assert!(has_colour(&without, palette.bars.rgb()));
}

#[test]
fn rendering_is_deterministic() {
    let spec = ChartSpec::default();

    assert_eq!(
        channel(&day_of_points(), &spec).expect("first"),
        channel(&day_of_points(), &spec).expect("second")
    );
}
