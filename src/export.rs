//! `chatters export --channel <login> [--since ..] [--until ..] --format csv|json [-o file]`:
//! the bytes `GET /api/v1/channels/{login}/chatters` answers, written to stdout or a file.
//!
//! Rows are streamed from the database in chunks ([`chatters_core::export::export`], the
//! function the API uses), so memory stays flat. A file is written beside its target and
//! renamed into place only when complete: a failed export never leaves half a file.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chatters_core::bots::KnownBots;
use chatters_core::domain::Timestamp;
use chatters_core::export::{self, ExportFormat, parse_time};
use chatters_core::settings::Settings;
use chatters_core::stats::Figures;
use chatters_core::store::Store;
use futures::StreamExt as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::cli::{self, ExportArgs};

/// Runs `chatters export` against the configured database.
pub async fn execute(args: ExportArgs, settings: &Settings) -> anyhow::Result<()> {
    let store = crate::open::open_store(settings).await?;
    let result = run(args, &store).await;
    store.close().await;
    result
}

async fn run(args: ExportArgs, store: &std::sync::Arc<Store>) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let bound = |name: &str, value: Option<&str>, default: Timestamp| match value {
        None => Ok(default),
        Some(v) => parse_time(v, now).map_err(|e| anyhow::anyhow!("--{name} {v:?}: {e}")),
    };
    // The API's defaults: everything.
    let since = bound("since", args.since.as_deref(), Timestamp(0))?;
    let until = bound("until", args.until.as_deref(), Timestamp(i64::MAX))?;
    anyhow::ensure!(since <= until, "--since must be before --until");
    let format = match args.format {
        cli::ExportFormat::Csv => ExportFormat::Csv,
        cli::ExportFormat::Json => ExportFormat::Json,
    };
    let channel = store
        .channel(&args.channel)
        .await
        .with_context(|| format!("reading channel {}", args.channel))?
        .with_context(|| format!("channel {} is not tracked", args.channel))?;
    let figures = Figures::new(store.clone(), KnownBots::shipped(), None);
    let excluded = figures
        .excluded(&channel)
        .await
        .context("reading the users excluded from figures")?;
    let chunks = export::export(store.as_ref(), channel.key, since, until, &excluded, format);
    match &args.output {
        Some(path) => write_file(chunks, path).await,
        None => {
            let written = write_all(chunks, tokio::io::stdout()).await;
            match written {
                // `chatters export … | head` is not a failure.
                Err(Failure::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map(|_| ()).map_err(|e| e.into_anyhow("stdout")),
            }
        }
    }
}

/// Why writing an export stopped.
enum Failure {
    Export(export::ExportError),
    Write(std::io::Error),
}

impl Failure {
    fn into_anyhow(self, target: &str) -> anyhow::Error {
        match self {
            Self::Export(e) => anyhow::Error::new(e).context("reading the chatters"),
            Self::Write(e) => anyhow::Error::new(e).context(format!("writing to {target}")),
        }
    }
}

async fn write_all(
    mut chunks: futures::stream::BoxStream<'_, Result<Vec<u8>, export::ExportError>>,
    mut out: impl AsyncWrite + Unpin,
) -> Result<u64, Failure> {
    let mut bytes = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(Failure::Export)?;
        out.write_all(&chunk).await.map_err(Failure::Write)?;
        bytes += chunk.len() as u64;
    }
    out.flush().await.map_err(Failure::Write)?;
    Ok(bytes)
}

async fn write_file(
    chunks: futures::stream::BoxStream<'_, Result<Vec<u8>, export::ExportError>>,
    path: &Path,
) -> anyhow::Result<()> {
    let partial = partial_path(path);
    let file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let written = write_all(chunks, &mut file).await;
    let synced = match written {
        Ok(_) => file.get_mut().sync_all().await.map_err(Failure::Write),
        Err(e) => Err(e),
    };
    if let Err(e) = synced {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e.into_anyhow(&path.display().to_string()));
    }
    tokio::fs::rename(&partial, path)
        .await
        .with_context(|| format!("moving the export into {}", path.display()))
}

/// `dir/.name.partial-<pid>` beside `path`.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "export".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
