//! Reading: a thread of its own decompresses each file and cuts it into chunks of whole lines
//! (about [`CHUNK`] bytes each) handed to the scanning side through a small bounded queue, so
//! decompression and scanning run on both cores and memory stays a few chunks deep. Chunk
//! buffers go back to the reader to be filled again (no allocation per chunk once warm).
//!
//! Also the line prefixes: `<RFC 3339> <raw IRC>` and `[<RFC 3339>] <raw IRC>`.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::thread::JoinHandle;

use chatters_core::domain::Timestamp;
use memchr::{memchr, memrchr};

/// Target size of a chunk (a line longer than this is cut down to a malformed line).
pub const CHUNK: usize = 1024 * 1024;
/// Chunks in flight between the reader and the scanner.
const DEPTH: usize = 4;
/// What stands for a line longer than [`CHUNK`]: not UTF-8, so it counts as malformed.
const OVERLONG: &[u8] = b"\xff\n";

/// What the reader hands over.
#[derive(Debug)]
pub enum Piece {
    /// Whole lines of the current file (each ending in `\n`, except maybe the file's last).
    Lines {
        /// The lines.
        data: Vec<u8>,
        /// Bytes of the file on disk read so far (for the progress bar).
        disk_bytes: u64,
    },
    /// The file ended.
    End,
    /// The file could not be read (or decompressed) from here on.
    Failed(io::Error),
}

/// The reader thread: files to read go in, [`Piece`]s come out.
#[derive(Debug)]
pub struct Reader {
    files: Option<Sender<PathBuf>>,
    pieces: tokio::sync::mpsc::Receiver<Piece>,
    spare: Sender<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    /// Starts the thread.
    pub fn start() -> io::Result<Self> {
        let (files_tx, files_rx) = std::sync::mpsc::channel::<PathBuf>();
        let (pieces_tx, pieces_rx) = tokio::sync::mpsc::channel::<Piece>(DEPTH);
        let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let thread = std::thread::Builder::new()
            .name("import-read".to_owned())
            .spawn(move || {
                for path in files_rx {
                    let piece = match read_file(&path, &pieces_tx, &spare_rx) {
                        Ok(()) => Piece::End,
                        Err(e) => Piece::Failed(e),
                    };
                    if pieces_tx.blocking_send(piece).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Self {
            files: Some(files_tx),
            pieces: pieces_rx,
            spare: spare_tx,
            thread: Some(thread),
        })
    }

    /// Asks for a file to be read next.
    pub fn read(&self, path: PathBuf) {
        if let Some(files) = &self.files {
            // The thread outlives every send (it ends when `files` is dropped).
            let _ = files.send(path);
        }
    }

    /// The next piece.
    pub async fn next(&mut self) -> Piece {
        self.pieces
            .recv()
            .await
            .unwrap_or_else(|| Piece::Failed(io::Error::other("the reader thread stopped")))
    }

    /// Gives a chunk's buffer back for reuse.
    pub fn recycle(&self, mut data: Vec<u8>) {
        data.clear();
        let _ = self.spare.send(data);
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.files = None;
        if let Some(thread) = self.thread.take() {
            // Closing the queue unblocks a thread waiting to hand over a piece.
            self.pieces.close();
            while self.pieces.try_recv().is_ok() {}
            let _ = thread.join();
        }
    }
}

/// A [`Read`] that counts the bytes read from disk under the decompressor.
struct Counted<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

fn read_file(
    path: &std::path::Path,
    out: &tokio::sync::mpsc::Sender<Piece>,
    spare: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let file = Counted {
        inner: std::fs::File::open(path)?,
        count: count.clone(),
    };
    let mut reader = super::inputs::open_reader(file)?;
    let fresh = || {
        spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 4096))
    };
    let mut buf = fresh();
    // Bytes of an overlong line still to skip (up to its newline).
    let mut skipping = false;
    loop {
        let start = buf.len();
        buf.resize(start.max(CHUNK), 0);
        let n = loop {
            match reader.read(&mut buf[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        buf.truncate(start + n);
        if skipping {
            match memchr(b'\n', &buf) {
                Some(nl) => {
                    buf.drain(..=nl);
                    skipping = false;
                }
                None => {
                    buf.clear();
                    if n == 0 {
                        return Ok(());
                    }
                    continue;
                }
            }
        }
        let disk_bytes = count.load(std::sync::atomic::Ordering::Relaxed);
        if n == 0 {
            if !buf.is_empty()
                && out
                    .blocking_send(Piece::Lines {
                        data: buf,
                        disk_bytes,
                    })
                    .is_err()
            {
                return Ok(());
            }
            return Ok(());
        }
        if buf.len() < CHUNK {
            continue;
        }
        let mut next = fresh();
        match memrchr(b'\n', &buf) {
            Some(nl) => next.extend_from_slice(&buf[nl + 1..]),
            None => {
                // One line fills the chunk: it is cut down to a malformed line.
                buf.clear();
                buf.extend_from_slice(OVERLONG);
                skipping = true;
            }
        }
        let keep = memrchr(b'\n', &buf).map_or(0, |nl| nl + 1);
        buf.truncate(keep);
        if out
            .blocking_send(Piece::Lines {
                data: buf,
                disk_bytes,
            })
            .is_err()
        {
            return Ok(());
        }
        buf = next;
    }
}

/// Splits a line's timestamp prefix off: `(time, raw IRC)`. A line without a prefix (or with
/// something that only looks like one) is all raw IRC.
pub fn split_prefix(line: &str) -> (Option<Timestamp>, &str) {
    let first = line.as_bytes().first().copied();
    let (stamp, rest) = match first {
        Some(b'[') => match line[1..].split_once("] ") {
            Some((stamp, rest)) => (stamp, rest),
            None => return (None, line),
        },
        Some(b'0'..=b'9') => match memchr(b' ', line.as_bytes()) {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => return (None, line),
        },
        _ => return (None, line),
    };
    match Timestamp::parse_rfc3339(stamp) {
        Ok(at) => (Some(at), rest),
        Err(_) => (None, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_prefix_forms_are_split_off() {
        let raw = ":a!a@a.tmi.twitch.tv JOIN #c";
        let at = Timestamp::parse_rfc3339("2023-11-14T22:20:00Z").ok();
        assert_eq!(
            split_prefix(&format!("2023-11-14T22:20:00Z {raw}")),
            (at, raw)
        );
        assert_eq!(
            split_prefix(&format!("[2023-11-14T22:20:00Z] {raw}")),
            (at, raw)
        );
        assert_eq!(
            split_prefix(&format!("[2023-11-14T23:20:00.5+01:00] {raw}")),
            (at, raw)
        );
        assert_eq!(split_prefix(raw), (None, raw));
        assert_eq!(
            split_prefix("001 justinfan :Welcome"),
            (None, "001 justinfan :Welcome")
        );
        assert_eq!(split_prefix("[not a time] x"), (None, "[not a time] x"));
    }
}
