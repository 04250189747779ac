//! The one line `chatters import` prints per file.

use std::path::Path;

use chatters_core::domain::Timestamp;

/// Malformed lines named by number in a file's line (the count covers them all).
pub const MALFORMED_SHOWN: usize = 5;

/// What one file gave.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FileSummary {
    /// Non-blank lines read.
    pub lines: u64,
    /// Events handed to ingestion (inferred stream boundaries not included).
    pub events: u64,
    /// Lines skipped as not UTF-8, too long or not IRC.
    pub malformed: u64,
    /// The first malformed lines' numbers (1-based, blank lines counted).
    pub malformed_lines: Vec<u64>,
    /// Lines with something to record, skipped for coming before any timestamped line.
    pub untimed: u64,
    /// Observations dropped because their login could not be resolved to a user id.
    pub unresolved: u64,
    /// Lines with nothing to record (PING, ROOMSTATE, NOTICE, lines lacking a user id, ...).
    pub ignored: u64,
    /// Earliest and latest event time.
    pub range: Option<(Timestamp, Timestamp)>,
}

impl FileSummary {
    pub(super) fn line(&self, path: &Path) -> String {
        let range = match self.range {
            Some((from, to)) => format!("{from} to {to}"),
            None => "no events".to_owned(),
        };
        let numbers = if self.malformed_lines.is_empty() {
            String::new()
        } else {
            let shown: Vec<String> = self.malformed_lines.iter().map(u64::to_string).collect();
            let more = if self.malformed > self.malformed_lines.len() as u64 {
                ", ..."
            } else {
                ""
            };
            format!(" (line {}{more})", shown.join(", "))
        };
        format!(
            "{}: {} lines, {} events ingested ({range}); skipped: {} malformed{numbers}, {} before \
             any timestamp, {} unresolved logins; {} lines without anything to record",
            path.display(),
            self.lines,
            self.events,
            self.malformed,
            self.untimed,
            self.unresolved,
            self.ignored,
        )
    }

    pub(super) fn malformed(&mut self, number: u64) {
        self.malformed += 1;
        if self.malformed_lines.len() < MALFORMED_SHOWN {
            self.malformed_lines.push(number);
        }
    }

    pub(super) fn saw(&mut self, at: Timestamp) {
        self.range = Some(match self.range {
            Some((from, to)) => (from.min(at), to.max(at)),
            None => (at, at),
        });
    }

    /// Lines that were IRC (parsed), whatever they gave.
    pub(super) fn usable(&self) -> u64 {
        self.lines - self.malformed
    }
}
