//! The audience figures (SPEC "Viewers and categories", "Watch time"): viewers and categories
//! from stream samples, chatters per viewer, watch time from presence intervals, regulars.
//!
//! The pure parts (peak and average viewers, category runs, rounding) are functions with unit
//! tests here; the reads are in `store::audience`. [`AudienceFigures`] is flattened into the
//! stream's JSON object ([`StreamFigures`](crate::stats::StreamFigures)), so a stream frozen
//! for `RETENTION` keeps these figures too (a copy frozen before they existed reads as `null`).

use serde::{Deserialize, Serialize};

use crate::domain::{Login, Timestamp, UserId};
use crate::store::{RegularRow, Sample, SeriesPoint};

mod figures;

/// Window of the "last 30 days" watch time (`!watchtime`).
pub const WATCH_WINDOW: i64 = 30 * 86_400;

/// A maximal run of consecutive samples in one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Twitch game id (`""`: no category).
    pub game_id: String,
    /// Game name.
    pub name: String,
    /// The run's first sample (the stream's start for the first run).
    pub from: Timestamp,
    /// The next run's first sample; the stream's end for the last run (`null` while live).
    pub until: Option<Timestamp>,
}

/// The audience part of a stream's JSON object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AudienceFigures {
    /// Largest `viewer_count` of the stream's samples (`null` without samples).
    pub peak_viewers: Option<i64>,
    /// Mean `viewer_count` of its samples, rounded (`null` without samples).
    pub avg_viewers: Option<i64>,
    /// `peak_chatters / peak_viewers` (`null` without samples or with a peak of 0 viewers).
    pub chatters_per_viewer: Option<f64>,
    /// Category runs, in order.
    pub categories: Vec<Category>,
    /// Mean watch time of the unique chatters, seconds, rounded (`null` without chatters).
    pub avg_watch_time: Option<i64>,
    /// Regulars as of the stream's start who are unique chatters of it.
    pub regulars_present: i64,
}

/// The regulars of a channel now (`GET …/regulars`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regulars {
    /// The deciding streams (the last 5 ended), newest first.
    pub streams: Vec<crate::domain::StreamId>,
    /// Regulars by attended, then watch time, descending.
    pub regulars: Vec<Regular>,
}

/// One regular.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regular {
    /// Id.
    pub user_id: UserId,
    /// Current login.
    pub login: Login,
    /// Deciding streams attended.
    pub attended: i64,
    /// Watch time over the deciding streams, seconds.
    pub watch_time: i64,
}

impl From<RegularRow> for Regular {
    fn from(r: RegularRow) -> Self {
        Self {
            user_id: r.user_id,
            login: r.login,
            attended: r.attended,
            watch_time: r.watch_time,
        }
    }
}

/// What `!viewers` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewersNow {
    /// The stream (live or the last one).
    pub live: bool,
    /// The latest sample of the stream.
    pub latest: Option<Sample>,
    /// The stream's audience figures.
    pub figures: AudienceFigures,
}

/// `numerator / denominator` rounded to the nearest integer (halves up), for non-negative
/// values; `None` when `denominator` is 0.
pub fn rounded_mean(sum: i64, count: i64) -> Option<i64> {
    (count > 0).then(|| (2 * sum + count).div_euclid(2 * count))
}

/// Peak and rounded average of the samples' viewer counts.
pub fn viewer_figures(samples: &[Sample]) -> (Option<i64>, Option<i64>) {
    let peak = samples.iter().map(|s| s.viewers).max();
    let sum: i64 = samples.iter().map(|s| s.viewers).sum();
    let count = i64::try_from(samples.len()).unwrap_or(i64::MAX);
    (peak, rounded_mean(sum, count))
}

/// Peak chatters per peak viewer.
pub fn chatters_per_viewer(peak_chatters: i64, peak_viewers: Option<i64>) -> Option<f64> {
    peak_viewers
        .filter(|v| *v > 0)
        .map(|v| peak_chatters as f64 / v as f64)
}

/// The category runs of a stream's samples (oldest first): maximal runs of one game id, the
/// first from `started_at`, each until the next run's first sample, the last until `ended_at`.
pub fn category_runs(
    samples: &[Sample],
    started_at: Timestamp,
    ended_at: Option<Timestamp>,
) -> Vec<Category> {
    let mut runs: Vec<Category> = Vec::new();
    for s in samples {
        if runs.last().is_some_and(|r| r.game_id == s.game_id) {
            continue;
        }
        if let Some(last) = runs.last_mut() {
            last.until = Some(s.at);
        }
        runs.push(Category {
            game_id: s.game_id.clone(),
            name: s.game_name.clone(),
            from: if runs.is_empty() { started_at } else { s.at },
            until: None,
        });
    }
    if let Some(last) = runs.last_mut() {
        last.until = ended_at;
    }
    runs
}

/// For each series point, the viewer count of the latest sample at or before it within a
/// stream (`None` outside streams or before a stream's first sample). `streams` are
/// `(start, end)` spans; samples and points oldest first.
pub fn viewers_at(
    points: &[SeriesPoint],
    samples: &[Sample],
    streams: &[(Timestamp, Option<Timestamp>)],
) -> Vec<Option<i64>> {
    let within = |at: Timestamp| {
        streams
            .iter()
            .find(|(start, end)| *start <= at && end.is_none_or(|e| at <= e))
            .copied()
    };
    let mut next = 0;
    let mut latest: Option<&Sample> = None;
    points
        .iter()
        .map(|p| {
            while next < samples.len() && samples[next].at <= p.at {
                latest = Some(&samples[next]);
                next += 1;
            }
            let (start, _) = within(p.at)?;
            latest.filter(|s| s.at >= start).map(|s| s.viewers)
        })
        .collect()
}

/// `1h 02m 09s`, `2m 09s`, `9s`.
pub fn watch_text(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, viewers: i64, game: &str) -> Sample {
        Sample {
            at: Timestamp(at),
            viewers,
            game_id: game.to_owned(),
            game_name: format!("game {game}"),
        }
    }

    #[test]
    fn averages_round_to_the_nearest_integer() {
        assert_eq!(rounded_mean(10, 4), Some(3)); // 2.5 → 3
        assert_eq!(rounded_mean(9, 4), Some(2)); // 2.25 → 2
        assert_eq!(rounded_mean(11, 4), Some(3)); // 2.75 → 3
        assert_eq!(rounded_mean(0, 3), Some(0));
        assert_eq!(rounded_mean(5, 0), None);
    }

    #[test]
    fn viewers_peak_and_average_of_the_samples() {
        let s = [sample(1, 10, "a"), sample(2, 30, "a"), sample(3, 21, "b")];
        assert_eq!(viewer_figures(&s), (Some(30), Some(20)));
        assert_eq!(viewer_figures(&[]), (None, None));
        assert_eq!(chatters_per_viewer(15, Some(30)), Some(0.5));
        assert_eq!(chatters_per_viewer(45, Some(30)), Some(1.5));
        assert_eq!(chatters_per_viewer(15, Some(0)), None);
        assert_eq!(chatters_per_viewer(15, None), None);
    }

    #[test]
    fn category_runs_start_at_the_stream_and_end_at_the_next_run() {
        let s = [
            sample(100, 1, "a"),
            sample(160, 1, "a"),
            sample(220, 1, "b"),
            sample(280, 1, "a"),
            sample(340, 1, "a"),
        ];
        let runs = category_runs(&s, Timestamp(50), Some(Timestamp(400)));
        let got: Vec<_> = runs
            .iter()
            .map(|r| (r.game_id.as_str(), r.from.0, r.until.map(|t| t.0)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", 50, Some(220)),
                ("b", 220, Some(280)),
                ("a", 280, Some(400))
            ]
        );
        assert_eq!(runs[1].name, "game b");
        let live = category_runs(&s[..1], Timestamp(50), None);
        assert_eq!(live[0].until, None);
        assert!(category_runs(&[], Timestamp(0), None).is_empty());
    }

    #[test]
    fn series_points_take_the_latest_sample_within_a_stream() {
        let point = |at| SeriesPoint {
            at: Timestamp(at),
            chatters: 1,
            total: None,
        };
        let points = [point(5), point(15), point(25), point(45), point(65)];
        let samples = [
            sample(10, 100, "a"),
            sample(20, 200, "a"),
            sample(60, 7, "a"),
        ];
        let streams = [(Timestamp(8), Some(Timestamp(40))), (Timestamp(50), None)];
        assert_eq!(
            viewers_at(&points, &samples, &streams),
            vec![None, Some(100), Some(200), None, Some(7)]
        );
    }

    #[test]
    fn watch_time_reads_to_the_second() {
        assert_eq!(watch_text(3729), "1h 02m 09s");
        assert_eq!(watch_text(129), "2m 09s");
        assert_eq!(watch_text(9), "9s");
        assert_eq!(watch_text(36_000), "10h 00m 00s");
    }
}
