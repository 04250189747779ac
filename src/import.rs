//! `chatters import <file>... [--infer-streams <gap>]`: backfill from raw Twitch IRC logs, one
//! raw line per line exactly as Twitch sends it (no timestamp prefix).
//!
//! - Files are read line by line (never whole). Blank lines are ignored, a trailing CR is
//!   stripped. A line that is not UTF-8, longer than [`MAX_LINE`] or not IRC is counted as
//!   malformed and skipped; nothing in a line can stop the import.
//! - Times: `tmi-sent-ts`. A line without it (JOIN, PART, old PRIVMSGs) takes the time of the
//!   last timestamped line before it in the same file; one before any timestamped line of its
//!   file is counted and skipped.
//! - Identity: logins of JOIN/PART and old tag-less PRIVMSGs resolve from what the import has
//!   seen so far and from the store's known users only (no Helix calls); an unresolvable login
//!   is counted and dropped. Ingestion then works as for the live bot: channels are created as
//!   needed, opted-out users are dropped, the tracker's clock follows the events.
//! - Streams: logs carry none. Without `--infer-streams` imported observations belong to no
//!   stream (not even the stream live now: the import does not resume live streams). With it,
//!   see [`infer`]. Inferred streams carry on across the files of one run (in the order given).
//! - Idempotency: the store keeps aggregate counts, not message ids, so an imported line cannot
//!   be recognised later. Each file's SHA-256 is recorded in `bot_state` once the file is
//!   committed; a file already recorded is refused (exit 1) before anything is written.
//!   Different files holding the same lines are not detected.
//! - Failure: every file is read and hashed before the import starts, so a missing or
//!   unreadable file (or an already imported one) stops the run before anything is written.
//!   Files are then committed one after another; a failure midway leaves the files before it
//!   imported and recorded, and the failing file partly imported and not recorded.

mod infer;
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
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio_util::sync::CancellationToken;
use twitch_irc::message::IRCMessage;

use crate::cli::ImportArgs;
use chatters_bot::identity::Identity;
use chatters_bot::irc::translate::translate_irc;
use chatters_bot::observed::Observed;

pub use infer::Inference;
pub use summary::FileSummary;

/// Longest line accepted (Twitch's lines, tags included, stay far below).
pub const MAX_LINE: usize = 64 * 1024;
/// Observations resolved and handed to ingestion together.
const BATCH: usize = 4_096;
/// Hex digits of the SHA-256 kept in the `bot_state` name (its column holds 64 characters).
const DIGEST_HEX: usize = 32;
/// Own JOIN/PART echoes are not observations; without a bot login, Twitch's anonymous prefix.
const ANONYMOUS: &str = "justinfan";

/// Runs `chatters import` against the configured database.
pub async fn execute(args: ImportArgs, settings: &Settings) -> anyhow::Result<()> {
    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let digest = sha256_of(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        if let Some((earlier, _)) = files.iter().find(|(_, d)| *d == digest) {
            let earlier: &PathBuf = earlier;
            anyhow::bail!(
                "{} is the same file as {}: nothing imported",
                path.display(),
                earlier.display()
            );
        }
        files.push((path.clone(), digest));
    }
    let store = crate::open::open_store(settings).await?;
    let result = run(&files, args.infer_streams, settings, &store).await;
    store.close().await;
    result
}

/// The `bot_state` name recording an imported file.
fn state_name(digest: &str) -> String {
    format!("import:sha256:{}", &digest[..DIGEST_HEX.min(digest.len())])
}

async fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

async fn run(
    files: &[(PathBuf, String)],
    infer_streams: Option<std::time::Duration>,
    settings: &Settings,
    store: &Arc<Store>,
) -> anyhow::Result<()> {
    for (path, digest) in files {
        let name = state_name(digest);
        if let Some(earlier) = store.state(&name).await.context("reading imported files")? {
            anyhow::bail!(
                "{} was already imported: same SHA-256 as {earlier}; nothing imported",
                path.display()
            );
        }
    }
    let mut config = IngestConfig::from_settings(settings);
    config.resume = false;
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
        latest: None,
        channels: Vec::new(),
    };
    let mut result = Ok(());
    for (path, digest) in files {
        result = importer.file(path, digest, store.as_ref()).await;
        if result.is_err() {
            break;
        }
    }
    let presence_timeout = i64::try_from(settings.presence_timeout.as_secs()).unwrap_or(i64::MAX);
    let finished = importer.finish(presence_timeout).await;
    let streams = importer.inference.as_ref().map(Inference::started);
    cancel.cancel();
    let stopped = match task.await {
        Ok(r) => r.context("committing the last batch"),
        Err(e) => Err(anyhow::Error::new(e).context("the ingestion task failed")),
    };
    result?;
    finished?;
    stopped?;
    if let Some(n) = streams {
        crate::output::print_lines(&[format!("{n} streams inferred")])?;
    }
    Ok(())
}

/// One import run's state across its files.
struct Importer {
    ingest: IngestHandle,
    identity: Identity,
    own: Login,
    inference: Option<Inference>,
    /// Latest event time of the run.
    latest: Option<Timestamp>,
    /// Channels that received events.
    channels: Vec<Login>,
}

impl Importer {
    /// Imports one file, commits it, records its digest and prints its summary.
    async fn file(&mut self, path: &Path, digest: &str, store: &Store) -> anyhow::Result<()> {
        let file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut summary = FileSummary::default();
        let mut last_stamp: Option<Timestamp> = None;
        let mut pending = Vec::with_capacity(BATCH);
        let mut buf = Vec::with_capacity(1024);
        loop {
            let read = read_line(&mut reader, &mut buf)
                .await
                .with_context(|| format!("reading {} (partly imported)", path.display()))?;
            let Some(fits) = read else { break };
            let Some(observed) = self.line(&buf, fits, &mut last_stamp, &mut summary) else {
                continue;
            };
            pending.extend(observed);
            if pending.len() >= BATCH {
                self.send(std::mem::take(&mut pending), &mut summary)
                    .await?;
            }
        }
        if !pending.is_empty() {
            self.send(pending, &mut summary).await?;
        }
        self.ingest
            .flush()
            .await
            .with_context(|| format!("committing {}", path.display()))?;
        let note = format!("{} imported on {}", path.display(), Timestamp::now());
        store
            .set_state(&state_name(digest), &note)
            .await
            .with_context(|| format!("recording {} as imported", path.display()))?;
        crate::output::print_lines(&[summary.line(path)])
    }

    /// One line's observations (`None`: nothing to record, counted in `summary`).
    fn line(
        &self,
        raw: &[u8],
        fits: bool,
        last_stamp: &mut Option<Timestamp>,
        summary: &mut FileSummary,
    ) -> Option<Vec<Observed>> {
        let text = std::str::from_utf8(raw)
            .ok()
            .map(|t| t.trim_end_matches(['\r', '\n']));
        if text.is_some_and(|t| t.trim().is_empty()) {
            return None;
        }
        summary.lines += 1;
        let Some(msg) = text
            .filter(|_| fits)
            .and_then(|t| IRCMessage::parse(t).ok())
        else {
            summary.malformed += 1;
            return None;
        };
        let stamp = msg
            .tags
            .0
            .get("tmi-sent-ts")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|ms| *ms > 0)
            .map(Timestamp::from_millis);
        if stamp.is_some() {
            *last_stamp = stamp;
        }
        let observed: Vec<Observed> =
            translate_irc(&msg, last_stamp.unwrap_or_default(), &self.own)
                .into_iter()
                .filter_map(Observed::for_identity)
                .collect();
        if observed.is_empty() {
            summary.ignored += 1;
            return None;
        }
        if last_stamp.is_none() {
            summary.untimed += 1;
            return None;
        }
        Some(observed)
    }

    /// Resolves a batch and hands its events (with inferred stream boundaries) to ingestion.
    async fn send(
        &mut self,
        batch: Vec<Observed>,
        summary: &mut FileSummary,
    ) -> anyhow::Result<()> {
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
                self.latest = Some(self.latest.map_or(at, |l| l.max(at)));
            }
            if let Some(channel) = channel_of(&event)
                && !self.channels.contains(channel)
            {
                self.channels.push(channel.clone());
            }
            match &mut self.inference {
                Some(inference) => inference.push(event, &mut out),
                None => out.push(event),
            }
        }
        self.ingest.send_all(out).await.context("ingestion stopped")
    }

    /// Ends the inferred streams still open, then moves the tracker's clock past the presence
    /// timeout after the last event (never past now), so the imported presence intervals close
    /// where the live bot would have closed them; commits.
    async fn finish(&mut self, presence_timeout: i64) -> anyhow::Result<()> {
        let mut out = Vec::new();
        if let Some(inference) = &mut self.inference {
            inference.finish(&mut out);
        }
        if let Some(latest) = self.latest {
            let at = latest
                .plus(presence_timeout)
                .min(Timestamp::now())
                .max(latest);
            // No stream is live by now, so this ends nothing: it only drives the clock.
            out.extend(self.channels.iter().map(|channel| Event::StreamOffline {
                channel: channel.clone(),
                at,
            }));
        }
        self.ingest
            .send_all(out)
            .await
            .context("ingestion stopped")?;
        self.ingest.flush().await.context("committing the import")
    }
}

/// Reads one line (newline included) into `buf`. `Some(false)`: the line was longer than
/// [`MAX_LINE`] (its rest is read and dropped); `None`: end of file.
async fn read_line(
    reader: &mut BufReader<tokio::fs::File>,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX);
    let n = (&mut *reader).take(limit).read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.ends_with(b"\n") || buf.len() < MAX_LINE {
        return Ok(Some(true));
    }
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let n = (&mut *reader)
            .take(limit)
            .read_until(b'\n', &mut rest)
            .await?;
        if n == 0 || rest.ends_with(b"\n") {
            return Ok(Some(false));
        }
    }
}

fn channel_of(event: &Event) -> Option<&Login> {
    match event {
        Event::Message(m) => Some(&m.channel),
        Event::Join { channel, .. } | Event::Part { channel, .. } | Event::Raid { channel, .. } => {
            Some(channel)
        }
        _ => None,
    }
}
