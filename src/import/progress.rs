//! Progress of an import: on a terminal, a bar on stderr (bytes read of the inputs on disk,
//! lines a second, time left); elsewhere nothing but the one line per file on stdout.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar is redrawn at most this often.
const REDRAW: Duration = Duration::from_millis(200);

/// The progress display of one run.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Bytes on disk of the files finished.
    done: u64,
    /// Lines read in this run.
    lines: u64,
    started: Instant,
    drawn: Instant,
}

impl Progress {
    /// A bar over `total` bytes when stderr is a terminal, else a silent one.
    pub fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} {eta} left")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            done: 0,
            lines: 0,
            started: Instant::now(),
            drawn: Instant::now(),
        }
    }

    /// The current file has `bytes` of its size read and `lines` more lines.
    pub fn advance(&mut self, bytes: u64, lines: u64) {
        self.lines += lines;
        let Some(bar) = &self.bar else {
            return;
        };
        if self.drawn.elapsed() < REDRAW {
            return;
        }
        self.drawn = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        bar.set_position(self.done + bytes);
        bar.set_message(format!("{:.0} lines/s", self.lines as f64 / secs));
    }

    /// A file of `size` bytes is done (imported or skipped).
    pub fn file_done(&mut self, size: u64) {
        self.done += size;
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        }
    }

    /// Prints lines on stdout without tearing the bar.
    pub fn print(&self, lines: &[String]) -> anyhow::Result<()> {
        match &self.bar {
            Some(bar) => bar.suspend(|| crate::output::print_lines(lines)),
            None => crate::output::print_lines(lines),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
