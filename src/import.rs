//! `chatters import <path>... [--infer-streams <gap>]`: backfill from Twitch IRC logs.
//!
//! - Inputs ([`inputs`]): files, gzip files (by their magic bytes, any name) and directories
//!   (walked recursively in path order, digit runs as numbers: a justlog or rustlog archive is
//!   given as is; justlog's per-user files repeat its channel files and are left out, counted).
//! - Lines ([`read`], `chatters_bot::irc::scan`): `<raw IRC>`, `<RFC 3339> <raw IRC>` or
//!   `[<RFC 3339>] <raw IRC>`; blank lines are ignored, a trailing CR is stripped. A line that is not UTF-8,
//!   longer than [`MAX_LINE`] or not IRC is malformed: counted, the first ones named by number.
//! - Times: `tmi-sent-ts`, else the line's prefix, else the previous line's time in the same
//!   file; a line with something to record before any time in its file is counted and skipped.
//! - Identity: logins of JOIN/PART and old tag-less PRIVMSGs resolve from what the import has
//!   seen so far and from the store's known users only (no Helix calls); an unresolvable login
//!   is counted and dropped. Ingestion then works as for the live bot, in history-only mode
//!   ([`IngestConfig::history_only`]): it may run beside `chatters run` and never touches the
//!   live presence, series or streams of a tracked channel.
//! - Streams: logs carry none. Without `--infer-streams` imported observations belong to no
//!   stream. With it, see [`infer`]; inferred streams carry on across the files of one run.
//! - Re-imports: each file's decompressed content is hashed (SHA-256, on a thread of its own,
//!   ahead of the import) and recorded in `bot_state` in the same transaction as its last
//!   rows. Content imported before (or earlier in the same run) is skipped with a line saying
//!   so and changes nothing. Exit 1 only when no input held a usable (IRC) line and none was
//!   skipped as already imported.
//! - Failure: every path is checked before the store is opened, so a missing one stops the run
//!   before anything is written. A file that fails midway (e.g. truncated gzip) stops the run:
//!   the files before it stay imported and recorded, it is partly imported and not recorded.
//!
//! Speed: one thread decompresses and cuts lines, the async side scans and tracks; lines are
//! borrowed slices of reused buffers; the fast scanner (`chatters_bot::irc::scan`, shared with
//! the live client) covers the lines archives are made of
//! and twitch-irc parses the rest. See BENCHMARKS.md, "Import".

mod infer;
mod inputs;
mod progress;
pub mod read;
mod summary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context as _;
use chatters_core::domain::{Login, Timestamp};
use chatters_core::event::Event;
use chatters_core::ingest::{Ingest, IngestConfig, IngestHandle};
use chatters_core::settings::Settings;
use chatters_core::store::Store;
use rustc_hash::FxHashMap;
use tokio_util::sync::CancellationToken;
use twitch_irc::message::IRCMessage;

use crate::cli::ImportArgs;
use chatters_bot::identity::Identity;
use chatters_bot::irc::scan::{Detail, Fields};
use chatters_bot::irc::translate::translate_irc;
use chatters_bot::observed::Observed;

pub use infer::Inference;
pub use inputs::{Inputs, content_hash, path_order};
pub use read::split_prefix;
pub use summary::FileSummary;

use progress::Progress;
use read::{Piece, Reader};

/// Longest line accepted (Twitch's lines, tags included, stay far below).
pub const MAX_LINE: usize = 64 * 1024;
/// Observations resolved and handed to ingestion together.
const BATCH: usize = 4_096;
/// Hex digits of the SHA-256 kept in the `bot_state` name (its column holds 64 characters).
const DIGEST_HEX: usize = 32;
/// Own JOIN/PART echoes are not observations; without a bot login, Twitch's anonymous prefix.
const ANONYMOUS: &str = "justinfan";
/// Ingestion queue slots (each up to [`BATCH`] events): the reader may run this far ahead.
const QUEUE: usize = 8;
/// How often ingestion commits during an import.
const FLUSH: std::time::Duration = std::time::Duration::from_millis(350);
/// Content hashes computed ahead of the import.
const HASHES_AHEAD: usize = 4;

/// mimalloc's `mi_option_arena_eager_commit` and `mi_option_purge_delay` (the same indices in
/// its v2 and v3 headers).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// An import frees as fast as it allocates, on other threads than it allocated on: mimalloc's
/// defaults (10 ms purge delay, arenas committed eagerly) then keep some 90 MB of freed pages
/// around (peak RSS 244 MiB against 162 MiB, at no measurable cost in speed; BENCHMARKS.md).
#[allow(unsafe_code)] // Two FFI calls setting allocator options: no memory is touched.
fn return_freed_memory_at_once() {
    // SAFETY: mi_option_set only stores an integer option; both indices are options of the
    // linked mimalloc, and 0 a valid value for each.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// Runs `chatters import` against the configured database.
pub async fn execute(args: ImportArgs, settings: &Settings) -> anyhow::Result<()> {
    return_freed_memory_at_once();
    let inputs = Inputs::expand(&args.files)?;
    // One writer, the checkpointer and the lookups; a small page cache (memory stays bounded
    // whatever the archive's size).
    let options = chatters_core::store::ConnectOptions {
        max_connections: 3,
        sqlite_cache_kib: 4 * 1024,
        ..chatters_core::store::ConnectOptions::default()
    };
    let store = crate::open::open_store_with(settings, &options).await?;
    let result = run(inputs, args.infer_streams, settings, &store).await;
    store.close().await;
    result
}

/// The `bot_state` name recording imported content.
fn state_name(digest: &str) -> String {
    format!("import:sha256:{}", &digest[..DIGEST_HEX.min(digest.len())])
}

/// What the whole run saw.
#[derive(Debug, Default)]
struct Totals {
    usable: u64,
    skipped: u64,
}

async fn run(
    inputs: Inputs,
    infer_streams: Option<std::time::Duration>,
    settings: &Settings,
    store: &Arc<Store>,
) -> anyhow::Result<()> {
    let mut config = IngestConfig::from_settings(settings);
    config.resume = false;
    config.history_only = true;
    config.queue_capacity = QUEUE;
    // Longer batches than live: a replay packs hours of chat into a second, so a user's many
    // lines merge into one row per batch.
    config.flush_interval = FLUSH;
    let cancel = CancellationToken::new();
    let (ingest, task) = Ingest::start(store.clone(), config, cancel.clone())
        .await
        .context("starting ingestion")?;
    let own = match &settings.twitch_bot_login {
        Some(login) => login.clone(),
        None => Login::parse(ANONYMOUS).expect("a valid login"),
    };
    let mut importer = Importer {
        ingest,
        identity: Identity::new(None, store.clone()),
        own,
        inference: infer_streams.map(Inference::new),
        pending: Vec::with_capacity(BATCH),
        progress: Progress::new(inputs.total_bytes()),
    };
    let mut totals = Totals::default();
    let result = importer.all(&inputs, store, &mut totals).await;
    let finished = importer.finish().await;
    importer.progress.finish();
    let streams = importer.inference.as_ref().map(Inference::started);
    cancel.cancel();
    let stopped = match task.await {
        Ok(r) => r.context("committing the last batch"),
        Err(e) => Err(anyhow::Error::new(e).context("the ingestion task failed")),
    };
    result?;
    finished?;
    stopped?;
    let mut lines = Vec::new();
    if inputs.justlog_user_files > 0 {
        lines.push(format!(
            "{} justlog per-user files skipped (their lines are in the channel files)",
            inputs.justlog_user_files
        ));
    }
    if let Some(n) = streams {
        lines.push(format!("{n} streams inferred"));
    }
    crate::output::print_lines(&lines)?;
    if totals.usable == 0 && totals.skipped == 0 {
        anyhow::bail!("no input held a usable line: nothing imported");
    }
    Ok(())
}

/// Hashes every file's content on a thread of its own, in order, a few files ahead.
fn hash_ahead(files: Vec<PathBuf>) -> tokio::sync::mpsc::Receiver<std::io::Result<String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(HASHES_AHEAD);
    let spawned = std::thread::Builder::new()
        .name("import-hash".to_owned())
        .spawn(move || {
            for path in files {
                if tx.blocking_send(content_hash(&path)).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // The receiver then reports the failure for the first file.
        tracing::error!(error = %e, "cannot start the hashing thread");
    }
    rx
}

/// One import run's state across its files.
struct Importer {
    ingest: IngestHandle,
    identity: Identity,
    own: Login,
    inference: Option<Inference>,
    /// Observations waiting to be resolved and sent.
    pending: Vec<Observed>,
    progress: Progress,
}

impl Importer {
    /// Imports or skips every input in order.
    async fn all(
        &mut self,
        inputs: &Inputs,
        store: &Store,
        totals: &mut Totals,
    ) -> anyhow::Result<()> {
        let mut hashes = hash_ahead(inputs.files.iter().map(|(p, _)| p.clone()).collect());
        let mut reader = Reader::start().context("starting the reader thread")?;
        let mut this_run: FxHashMap<String, &Path> = FxHashMap::default();
        for (path, size) in &inputs.files {
            let digest = hashes
                .recv()
                .await
                .ok_or_else(|| anyhow::anyhow!("the hashing thread stopped"))?
                .with_context(|| format!("cannot read {}", path.display()))?;
            if let Some(earlier) = this_run.get(&digest) {
                totals.skipped += 1;
                self.progress.file_done(*size);
                self.progress.print(&[format!(
                    "{}: skipped, same content as {} (imported in this run)",
                    path.display(),
                    earlier.display()
                )])?;
                continue;
            }
            let name = state_name(&digest);
            if let Some(earlier) = store.state(&name).await.context("reading imported files")? {
                totals.skipped += 1;
                self.progress.file_done(*size);
                self.progress.print(&[format!(
                    "{}: skipped, already imported (same SHA-256 as {earlier})",
                    path.display()
                )])?;
                continue;
            }
            this_run.insert(digest, path);
            reader.read(path.clone());
            let summary = self.file(&mut reader, path).await?;
            totals.usable += summary.usable();
            let note = format!("{} imported on {}", path.display(), Timestamp::now());
            self.ingest
                .record_state(name, note)
                .await
                .context("ingestion stopped")?;
            self.progress.file_done(*size);
            self.progress.print(&[summary.line(path)])?;
        }
        Ok(())
    }

    /// Reads one file's lines and hands its events to ingestion (not waiting for the commit).
    async fn file(&mut self, reader: &mut Reader, path: &Path) -> anyhow::Result<FileSummary> {
        let mut summary = FileSummary::default();
        let mut last_stamp: Option<Timestamp> = None;
        let mut number = 0u64;
        loop {
            let (data, disk_bytes) = match reader.next().await {
                Piece::Lines { data, disk_bytes } => (data, disk_bytes),
                Piece::End => break,
                Piece::Failed(e) => {
                    return Err(anyhow::Error::new(e)).with_context(|| {
                        format!("reading {} (partly imported, not recorded)", path.display())
                    });
                }
            };
            let before = summary.lines;
            let mut start = 0;
            while start < data.len() {
                let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
                number += 1;
                self.line(&data[start..end], number, &mut last_stamp, &mut summary);
                start = end + 1;
                if self.pending.len() >= BATCH {
                    self.send(&mut summary).await?;
                }
            }
            reader.recycle(data);
            self.progress.advance(disk_bytes, summary.lines - before);
        }
        self.send(&mut summary).await?;
        Ok(summary)
    }

    /// One line's observations into `pending` (or counted in `summary`).
    fn line(
        &mut self,
        raw: &[u8],
        number: u64,
        last_stamp: &mut Option<Timestamp>,
        summary: &mut FileSummary,
    ) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            summary.lines += 1;
            summary.malformed(number);
            return;
        };
        if text.trim().is_empty() {
            return;
        }
        summary.lines += 1;
        if text.len() > MAX_LINE {
            summary.malformed(number);
            return;
        }
        let (prefix, irc) = split_prefix(text);
        let start = self.pending.len();
        if let Some(fields) = Fields::parse(irc) {
            let sent = fields
                .sent_ms()
                .filter(|ms| *ms > 0)
                .map(Timestamp::from_millis);
            if let Some(at) = sent.or(prefix) {
                *last_stamp = Some(at);
            }
            fields.observe(
                last_stamp.unwrap_or_default(),
                &self.own,
                Detail::Counted,
                &mut self.pending,
            );
        } else {
            let Ok(msg) = IRCMessage::parse(irc) else {
                summary.malformed(number);
                return;
            };
            let sent = msg
                .tags
                .0
                .get("tmi-sent-ts")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|ms| *ms > 0)
                .map(Timestamp::from_millis);
            if let Some(at) = sent.or(prefix) {
                *last_stamp = Some(at);
            }
            let observed = translate_irc(&msg, last_stamp.unwrap_or_default(), &self.own);
            self.pending
                .extend(observed.into_iter().filter_map(Observed::for_identity));
        }
        if self.pending.len() == start {
            summary.ignored += 1;
        } else if last_stamp.is_none() {
            self.pending.truncate(start);
            summary.untimed += 1;
        }
    }

    /// Resolves the pending observations and hands their events (with inferred stream
    /// boundaries) to ingestion.
    async fn send(&mut self, summary: &mut FileSummary) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
        let metrics = self.identity.metrics();
        let before = metrics.unresolved.load(Ordering::Relaxed);
        let events = self.identity.process(batch).await;
        summary.unresolved += metrics
            .unresolved
            .load(Ordering::Relaxed)
            .saturating_sub(before);
        let mut out = Vec::with_capacity(events.len() + 8);
        for event in events {
            summary.events += 1;
            if let Some(at) = event.time() {
                summary.saw(at);
            }
            match &mut self.inference {
                Some(inference) => inference.push(event, &mut out),
                None => out.push(event),
            }
        }
        self.ingest.send_all(out).await.context("ingestion stopped")
    }

    /// Ends the inferred streams still open and waits for everything to be committed
    /// (ingestion closes every presence interval when it stops).
    async fn finish(&mut self) -> anyhow::Result<()> {
        let mut out: Vec<Event> = Vec::new();
        if let Some(inference) = &mut self.inference {
            inference.finish(&mut out);
        }
        self.ingest
            .send_all(out)
            .await
            .context("ingestion stopped")?;
        self.ingest.flush().await.context("committing the import")
    }
}
