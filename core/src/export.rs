//! Exports of a channel's chatters, one row per user: CSV (RFC 4180: a header row, CRLF line
//! ends, fields quoted only when they need it, text cells that a spreadsheet would take for a
//! formula prefixed with `'`) and JSON `{"chatters": [...]}`, with RFC 3339
//! UTC timestamps.
//!
//! [`export`] turns the store's row stream into a stream of byte chunks of about
//! [`CHUNK_BYTES`]: rows are read from the database as the chunks are consumed, so an export of
//! a million users holds one chunk in memory, not the users. The HTTP API and `chatters export`
//! both write exactly these chunks, hence the same bytes.
//!
//! [`parse_time`] reads the `since`/`until` bounds both take: RFC 3339, or a duration back from
//! now (`7d`).

use futures::stream::{self, BoxStream, StreamExt as _};
use serde::Serialize;

use crate::domain::{Timestamp, UserId};
use crate::store::{ChannelKey, ChannelUser, Store, StoreError};

/// Bytes gathered before a chunk is handed on.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// The CSV header row (and the JSON field order).
pub const COLUMNS: [&str; 8] = [
    "user_id",
    "login",
    "display_name",
    "first_seen",
    "last_seen",
    "messages",
    "streams_attended",
    "watch_time",
];

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with a header row.
    Csv,
    /// JSON `{"chatters": [...]}`.
    Json,
}

impl ExportFormat {
    /// `csv` or `json` (lower case, as in `format=` and `--format`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// The HTTP `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8; header=present",
            Self::Json => "application/json",
        }
    }

    /// The usual file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the rows failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encoding a CSV row failed (only on I/O into memory, i.e. never in practice).
    #[error("encoding CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Encoding a JSON row failed (never in practice: every field is a string or an integer).
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The chunks of one channel's export: users seen in `[since, until]`, outside `excluded`, by
/// user id. The same function serves HTTP and the command line.
pub fn export<'a>(
    store: &'a Store,
    channel: ChannelKey,
    since: Timestamp,
    until: Timestamp,
    excluded: &'a [UserId],
    format: ExportFormat,
) -> BoxStream<'a, Result<Vec<u8>, ExportError>> {
    encode(
        store.channel_users_stream(channel, since, until, excluded),
        format,
    )
}

/// Encodes a row stream into chunks of about [`CHUNK_BYTES`] (the last one closes the
/// document). An error ends the stream after it is yielded.
pub fn encode<'a>(
    rows: BoxStream<'a, Result<ChannelUser, StoreError>>,
    format: ExportFormat,
) -> BoxStream<'a, Result<Vec<u8>, ExportError>> {
    struct State<'a> {
        rows: BoxStream<'a, Result<ChannelUser, StoreError>>,
        encoder: Encoder,
    }
    let start = State {
        rows,
        encoder: Encoder::new(format),
    };
    stream::try_unfold(Some(start), |state| async move {
        let Some(mut state) = state else {
            return Ok(None);
        };
        while state.encoder.pending() < CHUNK_BYTES {
            match state.rows.next().await {
                Some(row) => state.encoder.row(&row?)?,
                None => {
                    let last = state.encoder.finish()?;
                    return Ok(Some((last, None)));
                }
            }
        }
        let chunk = state.encoder.take()?;
        Ok(Some((chunk, Some(state))))
    })
    .fuse()
    .boxed()
}

/// Incremental encoder of one export document.
#[derive(Debug)]
pub struct Encoder {
    format: ExportFormat,
    /// CSV rows (the writer quotes fields per RFC 4180).
    csv: csv::Writer<Vec<u8>>,
    /// JSON text.
    json: Vec<u8>,
    rows: u64,
}

impl Encoder {
    /// An encoder with the document's opening (CSV header row, or `{"chatters":[`) written.
    pub fn new(format: ExportFormat) -> Self {
        let mut csv = csv_writer();
        let mut json = Vec::new();
        match format {
            // Writing into a Vec cannot fail.
            ExportFormat::Csv => {
                let _ = csv.write_record(COLUMNS);
            }
            ExportFormat::Json => {
                json.reserve(CHUNK_BYTES + 1024);
                json.extend_from_slice(br#"{"chatters":["#);
            }
        }
        Self {
            format,
            csv,
            json,
            rows: 0,
        }
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends one user.
    pub fn row(&mut self, user: &ChannelUser) -> Result<(), ExportError> {
        let first_seen = Rfc3339::of(user.first_seen);
        let last_seen = Rfc3339::of(user.last_seen);
        match self.format {
            ExportFormat::Csv => {
                let mut id = Int::default();
                let mut messages = Int::default();
                let mut streams = Int::default();
                let mut watched = Int::default();
                self.csv.write_record([
                    id.format(user.user_id.0),
                    formula_safe(user.login.as_str()).as_bytes(),
                    formula_safe(&user.display_name).as_bytes(),
                    first_seen.as_str().as_bytes(),
                    last_seen.as_str().as_bytes(),
                    messages.format(user.messages),
                    streams.format(user.streams_attended),
                    watched.format(user.watch_time),
                ])?;
            }
            ExportFormat::Json => {
                if self.rows > 0 {
                    self.json.push(b',');
                }
                let row = JsonRow {
                    user_id: user.user_id.0,
                    login: user.login.as_str(),
                    display_name: &user.display_name,
                    first_seen: first_seen.as_str(),
                    last_seen: last_seen.as_str(),
                    messages: user.messages,
                    streams_attended: user.streams_attended,
                    watch_time: user.watch_time,
                };
                serde_json::to_writer(&mut self.json, &row)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Bytes encoded and not yet taken (CSV: roughly, the writer buffers a few KiB).
    pub fn pending(&self) -> usize {
        match self.format {
            ExportFormat::Csv => self.csv.get_ref().len(),
            ExportFormat::Json => self.json.len(),
        }
    }

    /// Takes the bytes encoded so far.
    pub fn take(&mut self) -> Result<Vec<u8>, ExportError> {
        match self.format {
            ExportFormat::Csv => {
                let full = std::mem::replace(&mut self.csv, csv_writer());
                full.into_inner()
                    .map_err(|e| ExportError::Csv(csv::Error::from(e.into_error())))
            }
            ExportFormat::Json => {
                let fresh = Vec::with_capacity(CHUNK_BYTES + 1024);
                Ok(std::mem::replace(&mut self.json, fresh))
            }
        }
    }

    /// Closes the document and takes the remaining bytes.
    pub fn finish(&mut self) -> Result<Vec<u8>, ExportError> {
        if self.format == ExportFormat::Json {
            self.json.extend_from_slice(b"]}\n");
        }
        let last = self.take()?;
        Ok(last)
    }
}

/// A CSV text cell that a spreadsheet will not run as a formula (OWASP's "CSV injection"
/// advice): a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`.
fn formula_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A CSV writer into memory: CRLF line ends, fields quoted only when needed (RFC 4180).
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(CHUNK_BYTES + 16 * 1024))
}

/// The JSON object of one user (field order as [`COLUMNS`]).
#[derive(Serialize)]
struct JsonRow<'a> {
    user_id: i64,
    login: &'a str,
    display_name: &'a str,
    first_seen: &'a str,
    last_seen: &'a str,
    messages: i64,
    streams_attended: i64,
    watch_time: i64,
}

/// A decimal integer formatted on the stack.
#[derive(Default)]
struct Int([u8; 20]);

impl Int {
    fn format(&mut self, n: i64) -> &[u8] {
        let mut value = n.unsigned_abs();
        let mut at = self.0.len();
        loop {
            at -= 1;
            // A digit, so the cast cannot truncate.
            self.0[at] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        if n < 0 {
            at -= 1;
            self.0[at] = b'-';
        }
        &self.0[at..]
    }
}

/// A timestamp in RFC 3339 UTC (`2026-11-25T18:00:00Z`), formatted without allocating for
/// years 0-9999 and by [`Timestamp::to_rfc3339`] otherwise (same text).
enum Rfc3339 {
    Fast([u8; 20]),
    Slow(String),
}

impl Rfc3339 {
    fn of(t: Timestamp) -> Self {
        let days = t.0.div_euclid(86_400);
        let secs = t.0.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return Self::Slow(t.to_rfc3339());
        }
        let mut b = *b"0000-00-00T00:00:00Z";
        let two = |b: &mut [u8; 20], at: usize, v: i64| {
            // 0..=99, so the casts cannot truncate.
            b[at] = b'0' + (v / 10) as u8;
            b[at + 1] = b'0' + (v % 10) as u8;
        };
        two(&mut b, 0, year / 100);
        two(&mut b, 2, year % 100);
        two(&mut b, 5, month);
        two(&mut b, 8, day);
        two(&mut b, 11, secs / 3600);
        two(&mut b, 14, secs / 60 % 60);
        two(&mut b, 17, secs % 60);
        Self::Fast(b)
    }

    fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and punctuation were written.
            Self::Fast(b) => std::str::from_utf8(b).unwrap_or("1970-01-01T00:00:00Z"),
            Self::Slow(s) => s,
        }
    }
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Why a `since`/`until` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an RFC 3339 time (2026-11-25T18:00:00Z) or a duration back from now (7d, 12h)")]
pub struct TimeArgError;

/// Reads a time bound: RFC 3339 (any offset), or a duration back from `now` in humantime
/// syntax (`7d`, `36h`, `1w 2d`).
pub fn parse_time(value: &str, now: Timestamp) -> Result<Timestamp, TimeArgError> {
    let value = value.trim();
    if let Ok(t) = Timestamp::parse_rfc3339(value) {
        return Ok(t);
    }
    let back = humantime::parse_duration(value).map_err(|_| TimeArgError)?;
    let secs = i64::try_from(back.as_secs()).map_err(|_| TimeArgError)?;
    now.0.checked_sub(secs).map(Timestamp).ok_or(TimeArgError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Login;

    fn user(id: i64, login: &str, display: &str) -> ChannelUser {
        ChannelUser {
            user_id: UserId(id),
            login: Login::parse(login).expect("login"),
            display_name: display.to_owned(),
            first_seen: Timestamp::parse_rfc3339("2026-11-25T18:00:00Z").expect("time"),
            last_seen: Timestamp::parse_rfc3339("2026-11-25T19:30:05Z").expect("time"),
            messages: 12,
            streams_attended: 3,
            watch_time: 3729,
        }
    }

    fn whole(format: ExportFormat, users: &[ChannelUser]) -> String {
        let mut encoder = Encoder::new(format);
        let mut out = Vec::new();
        for u in users {
            encoder.row(u).expect("row");
            out.extend(encoder.take().expect("take"));
        }
        out.extend(encoder.finish().expect("finish"));
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn csv_has_a_header_row_crlf_line_ends_and_quotes_only_when_needed() {
        let users = [
            user(1, "alice", "Alice"),
            user(2, "bob", "Bob, \"the\" builder"),
        ];

        let csv = whole(ExportFormat::Csv, &users);

        assert_eq!(
            csv,
            "user_id,login,display_name,first_seen,last_seen,messages,streams_attended,watch_time\r\n\
             1,alice,Alice,2026-11-25T18:00:00Z,2026-11-25T19:30:05Z,12,3,3729\r\n\
             2,bob,\"Bob, \"\"the\"\" builder\",2026-11-25T18:00:00Z,2026-11-25T19:30:05Z,12,3,3729\r\n"
        );
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_start_with_a_quote() {
        let users = [
            user(1, "a", "=HYPERLINK(\"http://x\")"),
            user(2, "b", "+1"),
            user(3, "c", "-2+3"),
            user(4, "d", "@SUM(A1)"),
            user(5, "e", "\tx"),
            user(6, "f", "\rx"),
            user(7, "g", "a=b"),
        ];

        let csv = whole(ExportFormat::Csv, &users);

        let t = "2026-11-25T18:00:00Z,2026-11-25T19:30:05Z,12,3,3729\r\n";
        assert_eq!(
            csv,
            format!(
                "user_id,login,display_name,first_seen,last_seen,messages,streams_attended,watch_time\r\n\
                 1,a,\"'=HYPERLINK(\"\"http://x\"\")\",{t}\
                 2,b,'+1,{t}\
                 3,c,'-2+3,{t}\
                 4,d,'@SUM(A1),{t}\
                 5,e,'\tx,{t}\
                 6,f,\"'\rx\",{t}\
                 7,g,a=b,{t}"
            )
        );
    }

    #[test]
    fn an_empty_csv_export_is_the_header_row() {
        assert_eq!(
            whole(ExportFormat::Csv, &[]),
            "user_id,login,display_name,first_seen,last_seen,messages,streams_attended,watch_time\r\n"
        );
    }

    #[test]
    fn json_is_one_object_with_the_chatters_array() {
        let users = [user(1, "alice", "Alice"), user(2, "bob", "B\"o\\b")];

        let json = whole(ExportFormat::Json, &users);

        assert!(json.ends_with("]}\n"));
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(
            value,
            serde_json::json!({"chatters": [
                {"user_id": 1, "login": "alice", "display_name": "Alice",
                 "first_seen": "2026-11-25T18:00:00Z", "last_seen": "2026-11-25T19:30:05Z",
                 "messages": 12, "streams_attended": 3, "watch_time": 3729},
                {"user_id": 2, "login": "bob", "display_name": "B\"o\\b",
                 "first_seen": "2026-11-25T18:00:00Z", "last_seen": "2026-11-25T19:30:05Z",
                 "messages": 12, "streams_attended": 3, "watch_time": 3729},
            ]})
        );
        assert_eq!(whole(ExportFormat::Json, &[]), "{\"chatters\":[]}\n");
    }

    #[tokio::test]
    async fn chunks_concatenate_to_the_whole_document() {
        let users: Vec<ChannelUser> = (1..=5000)
            .map(|i| user(i, &format!("user{i}"), &format!("User {i}")))
            .collect();
        for format in [ExportFormat::Csv, ExportFormat::Json] {
            let rows = stream::iter(users.clone().into_iter().map(Ok)).boxed();

            let chunks: Vec<Vec<u8>> = encode(rows, format)
                .map(|c| c.expect("chunk"))
                .collect()
                .await;

            assert!(chunks.len() > 2, "{format:?}: several chunks");
            assert!(
                chunks.iter().all(|c| c.len() < CHUNK_BYTES + 16 * 1024),
                "{format:?}: bounded chunks"
            );
            assert_eq!(
                String::from_utf8(chunks.concat()).expect("utf-8"),
                whole(format, &users),
                "{format:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_failing_row_ends_the_stream_with_the_error() {
        let rows = stream::iter(vec![
            Ok(user(1, "alice", "Alice")),
            Err(StoreError::Corrupt {
                column: "login",
                value: "x y".into(),
            }),
            Ok(user(2, "bob", "Bob")),
        ])
        .boxed();

        let items: Vec<_> = encode(rows, ExportFormat::Csv).collect().await;

        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(ExportError::Store(_))));
    }

    #[test]
    fn fast_timestamps_match_chrono() {
        let mut t = -62_135_596_800_i64; // 0001-01-01
        while t < 253_402_300_799 {
            // 9999-12-31T23:59:59Z
            let ts = Timestamp(t);
            assert_eq!(Rfc3339::of(ts).as_str(), ts.to_rfc3339(), "{t}");
            t += 86_399 * 37 + 12_345;
        }
        for t in [0, 1, -1, 951_782_400, 1_709_164_800, 253_402_300_799] {
            let ts = Timestamp(t);
            assert_eq!(Rfc3339::of(ts).as_str(), ts.to_rfc3339(), "{t}");
        }
        assert_eq!(
            Rfc3339::of(Timestamp(253_402_300_800)).as_str(),
            Timestamp(253_402_300_800).to_rfc3339()
        );
    }

    #[test]
    fn integers_format_like_display() {
        for n in [0, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut int = Int::default();
            assert_eq!(int.format(n), n.to_string().as_bytes());
        }
    }

    #[test]
    fn time_bounds_are_rfc3339_or_durations_back_from_now() {
        let now = Timestamp::parse_rfc3339("2026-11-25T18:00:00Z").expect("time");

        assert_eq!(
            parse_time("2026-11-20T10:00:00+01:00", now),
            Timestamp::parse_rfc3339("2026-11-20T09:00:00Z").map_err(|_| TimeArgError)
        );
        assert_eq!(parse_time("7d", now), Ok(Timestamp(now.0 - 7 * 86_400)));
        assert_eq!(parse_time("36h", now), Ok(Timestamp(now.0 - 36 * 3600)));
        assert_eq!(parse_time("1w 2d", now), Ok(Timestamp(now.0 - 9 * 86_400)));
        for bad in [
            "",
            "yesterday",
            "7",
            "-7d",
            "2026-11-25",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_time(bad, now), Err(TimeArgError), "{bad:?}");
        }
    }
}
