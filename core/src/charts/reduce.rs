//! Series reduction before drawing: a 30-day series of one point a minute has 43,200 points for
//! a plot about 1,100 pixels wide. Each pixel column gets about two buckets and each bucket keeps
//! its highest point, so peaks survive and drawing cost follows the image, not the data.

use crate::domain::Timestamp;
use crate::store::SeriesPoint;

/// The points of `points` (sorted by time) within `[from, to]`, at most one per bucket of
/// `buckets` equal buckets: the highest of each (the earliest among equals). Order is kept.
/// With `buckets == 0` or an empty span the points in range are returned unchanged.
pub fn reduce(
    points: &[SeriesPoint],
    from: Timestamp,
    to: Timestamp,
    buckets: usize,
) -> Vec<SeriesPoint> {
    let in_range = window(points, from, to);
    let (from, to) = (from.0, to.0);
    if buckets == 0 || to <= from {
        return in_range.to_vec();
    }
    // i64 arithmetic when offset × buckets cannot overflow (every real chart), i128 otherwise.
    let span = i128::from(to) - i128::from(from) + 1;
    let count = i128::try_from(buckets).unwrap_or(i128::MAX);
    let narrow = (span.checked_mul(count))
        .is_some_and(|m| m <= i128::from(i64::MAX))
        .then(|| {
            (
                i64::try_from(span).unwrap_or(i64::MAX),
                i64::try_from(count).unwrap_or(1),
            )
        });
    let bucket_of = |at: i64| match narrow {
        Some((span, count)) => i128::from((at - from) * count / span),
        None => (i128::from(at) - i128::from(from)) * count / span,
    };
    let mut out = Vec::with_capacity(buckets.min(in_range.len()));
    let mut current: Option<(i128, SeriesPoint)> = None;
    for p in in_range {
        let bucket = bucket_of(p.at.0);
        current = match current {
            Some((b, best)) if b == bucket => {
                Some((b, if p.chatters > best.chatters { *p } else { best }))
            }
            Some((_, best)) => {
                out.push(best);
                Some((bucket, *p))
            }
            None => Some((bucket, *p)),
        };
    }
    if let Some((_, best)) = current {
        out.push(best);
    }
    out
}

/// The points of a time-sorted series within `[from, to]`, without copying.
pub(super) fn window(points: &[SeriesPoint], from: Timestamp, to: Timestamp) -> &[SeriesPoint] {
    let start = points.partition_point(|p| p.at < from);
    let end = start + points[start..].partition_point(|p| p.at <= to);
    &points[start..end]
}

/// Splits reduced points into runs drawn as separate lines: a silence longer than `max_gap`
/// seconds (the bot was down, the channel untracked) is left blank rather than bridged.
pub(super) fn segments(points: &[SeriesPoint], max_gap: i64) -> Vec<&[SeriesPoint]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if points[i].at.0 - points[i - 1].at.0 > max_gap {
            out.push(&points[start..i]);
            start = i;
        }
    }
    if start < points.len() {
        out.push(&points[start..]);
    }
    out
}

/// The longest silence still drawn as a line: three times the usual spacing of the raw points
/// (the median of up to 1,024 spacings spread over the series), at least 40 minutes (offline
/// snapshots come every 15) and three buckets.
pub(super) fn max_gap(points: &[SeriesPoint], bucket_seconds: i64) -> i64 {
    let pairs = points.len().saturating_sub(1);
    let stride = pairs.div_ceil(1024).max(1);
    let mut spacing: Vec<i64> = (0..pairs)
        .step_by(stride)
        .map(|i| points[i + 1].at.0 - points[i].at.0)
        .collect();
    let median = if spacing.is_empty() {
        0
    } else {
        let mid = spacing.len() / 2;
        *spacing.select_nth_unstable(mid).1
    };
    (3 * median).max(40 * 60).max(3 * bucket_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(at: i64, chatters: i64) -> SeriesPoint {
        SeriesPoint {
            at: Timestamp(at),
            chatters,
            total: None,
        }
    }

    #[test]
    fn reduction_keeps_the_max_of_each_bucket() {
        // 4 buckets of 25 s over [0, 99].
        let points = [
            p(0, 5),
            p(10, 9),
            p(20, 1),
            p(30, 2),
            p(40, 2),
            p(55, 7),
            p(60, 3),
            p(80, 4),
            p(99, 4),
        ];

        let reduced = reduce(&points, Timestamp(0), Timestamp(99), 4);

        assert_eq!(reduced, vec![p(10, 9), p(30, 2), p(55, 7), p(80, 4)]);
    }

    #[test]
    fn reduction_keeps_a_lone_peak_among_many_points() {
        let mut points: Vec<_> = (0..43_200).map(|i| p(i * 60, 100 + i % 7)).collect();
        points[31_337].chatters = 10_000;

        let reduced = reduce(&points, Timestamp(0), Timestamp(43_199 * 60), 2_200);

        assert!(reduced.len() <= 2_200, "{}", reduced.len());
        assert!(reduced.len() >= 2_100, "{}", reduced.len());
        assert!(reduced.contains(&p(31_337 * 60, 10_000)));
        assert!(reduced.windows(2).all(|w| w[0].at < w[1].at));
    }

    #[test]
    fn points_outside_the_window_are_dropped() {
        let points = [p(-5, 50), p(0, 1), p(50, 2), p(101, 60)];

        assert_eq!(
            reduce(&points, Timestamp(0), Timestamp(100), 1_000),
            vec![p(0, 1), p(50, 2)]
        );
        assert_eq!(
            reduce(&points, Timestamp(0), Timestamp(100), 0),
            vec![p(0, 1), p(50, 2)]
        );
        assert!(reduce(&[], Timestamp(0), Timestamp(100), 10).is_empty());
    }

    #[test]
    fn long_silences_split_the_line() {
        let points = [p(0, 1), p(300, 2), p(600, 3), p(10_000, 4), p(10_300, 5)];

        let runs = segments(&points, max_gap(&points, 60));

        assert_eq!(runs, vec![&points[..3], &points[3..]]);
        assert_eq!(max_gap(&points, 60), 40 * 60);
        assert_eq!(max_gap(&points, 3_600), 3 * 3_600);
    }
}
