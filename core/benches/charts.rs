//! Chart benchmarks: uncached render + PNG encode of each chart at the default 1200×600.
//!
//! `cargo bench -p chatters-core --bench charts` prints, per chart, the median (p50) and p90 of
//! 101 timed renders after 5 warm-up ones, in wall time and in this thread's CPU time (which
//! leaves out waiting for a CPU on a busy machine), and the PNG size. The 30-day chart is the
//! worst case SPEC allows: one point a minute (an IRC-only channel) for 30 days = 43,200
//! points, reduced to about two points per pixel column before drawing, with 60 streams shaded
//! and 20 raids marked. BENCHMARKS.md records the numbers.

// One libc call reads the thread's CPU clock; std has no API for it.
#![allow(
    unsafe_code,
    reason = "a counting global allocator, benchmark only, forwarding to the system one"
)]

use std::time::{Duration, Instant};

use chatters_core::charts::{
    self, ChannelSeries, ChartSpec, LiveSpan, RaidMark, StreamSeries, Theme,
};
use chatters_core::domain::{Login, Timestamp};
use chatters_core::stats::{AccountClusters, AccountDay};
use chatters_core::store::SeriesPoint;

const T0: i64 = 1_704_067_200;
const DAY: i64 = 86_400;
const RUNS: usize = 101;
const WARM_UP: usize = 5;

/// A deterministic chatter count (no RNG dependency) shaped like a real channel: about 4,000
/// while live in the evening, 300 offline, a slow drift through the day and a per-minute jitter
/// of about 2%, as per-minute presence counts have.
fn chatters_at(minute: i64) -> i64 {
    let hour_of_day = (minute / 60) % 24;
    let live = (18..22).contains(&hour_of_day) || (hour_of_day == 23 && minute % 60 < 30);
    let base = if live { 4_000 } else { 300 };
    let jitter = (minute.wrapping_mul(2_654_435_761) >> 7).rem_euclid(base / 25 + 1);
    base + jitter + (minute % 1440) / 10
}

fn month_series() -> ChannelSeries {
    let points = (0..30 * 1440)
        .map(|m| SeriesPoint {
            at: Timestamp(T0 + m * 60),
            chatters: chatters_at(m),
            total: None,
        })
        .collect();
    let streams = (0..30)
        .flat_map(|d| {
            [
                LiveSpan {
                    start: Timestamp(T0 + d * DAY + 18 * 3600),
                    end: Some(Timestamp(T0 + d * DAY + 22 * 3600)),
                },
                LiveSpan {
                    start: Timestamp(T0 + d * DAY + 23 * 3600),
                    end: Some(Timestamp(T0 + d * DAY + 23 * 3600 + 1800)),
                },
            ]
        })
        .collect();
    let raider = Login::parse("raider").expect("valid");
    let raids = (0..20)
        .map(|i| RaidMark {
            at: Timestamp(T0 + i * 36 * 3600 + 19 * 3600),
            from_login: raider.clone(),
            viewers: 100 + i * 37,
        })
        .collect();
    ChannelSeries {
        title: "benchmark: chatters, last 30 days".into(),
        from: Timestamp(T0),
        to: Timestamp(T0 + 30 * DAY),
        points,
        streams,
        raids,
        viewers: Vec::new(),
    }
}

fn day_series() -> ChannelSeries {
    let mut month = month_series();
    month.from = Timestamp(T0 + 29 * DAY);
    month.title = "benchmark: chatters, last 24 hours".into();
    month
}

fn stream_series() -> StreamSeries {
    StreamSeries {
        title: "benchmark: stream of 2024-01-01 18:00 UTC".into(),
        started_at: Timestamp(T0 + 18 * 3600),
        ended_at: Some(Timestamp(T0 + 22 * 3600)),
        points: (0..48)
            .map(|i| SeriesPoint {
                at: Timestamp(T0 + 18 * 3600 + i * 300),
                chatters: chatters_at(18 * 60 + i * 5),
                total: None,
            })
            .collect(),
        arrivals: (0..2_000)
            .map(|i| Timestamp(T0 + 18 * 3600 + (i * 7_919) % (4 * 3600)))
            .collect(),
        viewers: Vec::new(),
        categories: Vec::new(),
        chat: Vec::new(),
    }
}

fn clusters() -> AccountClusters {
    let days = (0..400)
        .map(|i| AccountDay {
            date: format!("20{:02}-{:02}-{:02}", 12 + i % 13, 1 + i % 12, 1 + i % 28),
            count: 400 - i,
            flagged: 400 - i >= 80,
            logins: Vec::new(),
        })
        .collect();
    AccountClusters {
        since: Timestamp(T0),
        until: Timestamp(T0 + 7 * DAY),
        total: 4_000,
        threshold: 80,
        days,
    }
}

/// This thread's CPU time so far: unlike wall time it leaves out waiting for a CPU, so numbers
/// taken on a busy shared machine stay comparable.
fn cpu_time() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (rc == 0).then(|| {
        Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    })
}

/// Timings of one chart: sorted wall and CPU times of the timed runs, and the PNG size.
struct Timings {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
    size: usize,
}

/// Renders `WARM_UP + RUNS` times and times the last `RUNS`.
fn time(mut render: impl FnMut() -> Vec<u8>) -> Timings {
    let mut size = 0;
    for _ in 0..WARM_UP {
        size = render().len();
    }
    let (mut wall, mut cpu) = (Vec::with_capacity(RUNS), Vec::with_capacity(RUNS));
    for _ in 0..RUNS {
        let (start, start_cpu) = (Instant::now(), cpu_time());
        let png = render();
        wall.push(start.elapsed());
        if let (Some(a), Some(b)) = (start_cpu, cpu_time()) {
            cpu.push(b.saturating_sub(a));
        }
        size = png.len();
    }
    wall.sort();
    cpu.sort();
    Timings { wall, cpu, size }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn p50(t: &[Duration]) -> f64 {
    t.get(t.len() / 2).map_or(f64::NAN, |d| ms(*d))
}

fn p90(t: &[Duration]) -> f64 {
    t.get(t.len() * 9 / 10).map_or(f64::NAN, |d| ms(*d))
}

/// One chart's render, boxed so the cases fit in one list.
type Render<'a> = Box<dyn Fn() -> Vec<u8> + 'a>;

fn main() {
    let spec = ChartSpec::default();
    let dark = ChartSpec::new(1200, 600, Theme::Dark).expect("valid");
    let month = month_series();
    let day = day_series();
    let stream = stream_series();
    let accounts = clusters();
    let cases: Vec<(&str, Render<'_>)> = vec![
        (
            "30-day chatters chart, 43,200 points, 60 streams, 20 raids",
            Box::new(|| charts::channel(&month, &spec).expect("render")),
        ),
        (
            "the same, dark theme",
            Box::new(|| charts::channel(&month, &dark).expect("render")),
        ),
        (
            "24-hour chatters chart, 1,440 points",
            Box::new(|| charts::channel(&day, &spec).expect("render")),
        ),
        (
            "stream chart, 4 h, 48 points, 2,000 arrivals",
            Box::new(|| charts::stream(&stream, &spec).expect("render")),
        ),
        (
            "account-age chart, 400 days",
            Box::new(|| {
                charts::accounts(&accounts, "benchmark: account ages", &spec).expect("render")
            }),
        ),
    ];
    println!("chart render + PNG encode at 1200x600, {RUNS} runs after {WARM_UP} warm-up");
    println!(
        "{:<60} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "chart", "p50 ms", "p90 ms", "CPU p50", "CPU p90", "PNG KB"
    );
    // `cargo bench ... -- 30-day` runs only the charts whose name contains an argument.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for (name, render) in cases {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let t = time(render);
        println!(
            "{:<60} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7.1}",
            name,
            p50(&t.wall),
            p90(&t.wall),
            p50(&t.cpu),
            p90(&t.cpu),
            t.size as f64 / 1024.0
        );
    }
    let reduced = charts::reduce(&month.points, month.from, month.to, 2 * 1_100);
    let start = Instant::now();
    for _ in 0..RUNS {
        std::hint::black_box(charts::reduce(
            &month.points,
            month.from,
            month.to,
            2 * 1_100,
        ));
    }
    println!(
        "reduction alone: 43,200 -> {} points in {:.3} ms",
        reduced.len(),
        ms(start.elapsed()) / RUNS as f64
    );
}
