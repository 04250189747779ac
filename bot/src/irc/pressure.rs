//! Back-pressure from the `irc` task to the sockets.
//!
//! twitch-irc's connection tasks read every line as fast as the socket gives them; the lines
//! are queued without bound (chat lines in the `irc` task's chunk queue, `super::divert`, the
//! rest parsed in twitch-irc's); when ingestion cannot keep up, those queues are where memory
//! goes (6 GiB at 100k msgs/s on a loaded machine). The connector counts the lines it reads
//! ([`lines_read`]), the `irc` task the lines it takes ([`taken`]); the difference is the
//! backlog in those queues, wherever the `irc` task is blocked. At [`HIGH`] the sockets
//! stop being read ([`poll_gate`] in the connector's `poll_read`) until the backlog is down to
//! [`LOW`]. Unread bytes then wait in the kernel's socket buffers and, beyond them, at Twitch:
//! memory stays bounded and nothing read is dropped.
//!
//! Lines read on a connection that closes before twitch-irc hands them over are never taken;
//! once the `irc` task has found its queue empty for half a second it forgives them (lines
//! also wait in twitch-irc's own queues between the sockets and the `irc` task's, so a queue
//! found empty once does not mean the backlog is gone).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

/// Parsed messages waiting for the `irc` task at which reading pauses.
pub const HIGH: usize = 50_000;
/// ... and at which it resumes.
pub const LOW: usize = HIGH / 2;

static READ: AtomicU64 = AtomicU64::new(0);
static TAKEN: AtomicU64 = AtomicU64::new(0);
static PAUSED: AtomicBool = AtomicBool::new(false);
static PAUSES: AtomicU64 = AtomicU64::new(0);
static WAITING: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

/// Counts `lines` just read from a socket; pauses reading at [`HIGH`].
pub(crate) fn lines_read(lines: usize) {
    let lines = lines as u64;
    let read = READ.fetch_add(lines, Ordering::AcqRel) + lines;
    let backlog = read.saturating_sub(TAKEN.load(Ordering::Acquire));
    if backlog >= HIGH as u64 && !PAUSED.swap(true, Ordering::AcqRel) {
        PAUSES.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            backlog,
            "IRC reading paused until the backlog is down to {LOW}"
        );
    }
}

/// The `irc` task took `n` messages; with `forgive`, everything read so far counts as taken
/// (nothing is left to take: what is still counted was lost with a closed connection).
/// Resumes reading at [`LOW`].
pub fn taken(n: usize, forgive: bool) {
    let taken = if forgive {
        let read = READ.load(Ordering::Acquire);
        TAKEN.fetch_max(read, Ordering::AcqRel).max(read)
    } else {
        TAKEN.fetch_add(n as u64, Ordering::AcqRel) + n as u64
    };
    let backlog = READ.load(Ordering::Acquire).saturating_sub(taken);
    if backlog <= LOW as u64 && PAUSED.swap(false, Ordering::AcqRel) {
        let waiting = std::mem::take(&mut *WAITING.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in waiting {
            waker.wake();
        }
    }
}

/// Messages read from the sockets and not yet taken by the `irc` task.
pub fn backlog() -> u64 {
    READ.load(Ordering::Acquire)
        .saturating_sub(TAKEN.load(Ordering::Acquire))
}
/// How many times reading paused since the process started.
pub fn pauses() -> u64 {
    PAUSES.load(Ordering::Relaxed)
}

/// Whether reading is paused now.
pub fn paused() -> bool {
    PAUSED.load(Ordering::Acquire)
}

/// Ready when a socket may be read; otherwise registers `cx` to be woken when reading resumes.
pub fn poll_gate(cx: &mut Context<'_>) -> Poll<()> {
    if !PAUSED.load(Ordering::Acquire) {
        return Poll::Ready(());
    }
    let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
    // Checked again under the lock: `publish` clears the flag before taking the wakers.
    if !PAUSED.load(Ordering::Acquire) {
        return Poll::Ready(());
    }
    if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
        waiting.push(cx.waker().clone());
    }
    Poll::Pending
}
