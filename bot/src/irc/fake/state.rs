//! The fake server's state: connections, the lines clients sent, rooms, and the shared handle
//! its tasks and the test read it through.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

/// What the writer half of a fake connection does next.
#[derive(Debug)]
pub(super) enum Out {
    Data(Bytes),
    Close,
}

/// One line a client sent, with the connection it came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Connection number (in accept order, from 0).
    pub conn: u64,
    /// The line, without CR/LF.
    pub line: String,
    /// When the fake read it.
    pub at: std::time::Instant,
}

/// What the fake knows about one connection.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The `NICK` it logged in with, once it did.
    pub nick: Option<String>,
    /// Whether it sent `PASS`.
    pub pass: bool,
    /// Channels it is joined to, server side.
    pub channels: BTreeSet<String>,
    /// `PONG`s received.
    pub pongs: u64,
    /// Still open.
    pub open: bool,
    pub(super) tx: mpsc::UnboundedSender<Out>,
}

/// The fake's whole state, as seen by `FakeIrc::wait_for` and `FakeIrc::state`.
#[derive(Debug, Default)]
pub struct State {
    /// Every connection ever accepted, by number.
    pub conns: BTreeMap<u64, Conn>,
    /// Every line clients sent, in order.
    pub sent: Vec<Sent>,
    /// Answer every login with `Login authentication failed`.
    pub fail_logins: bool,
    /// Channels where the client's account is a moderator (its USERSTATE says so).
    pub moderator_in: BTreeSet<String>,
    pub(super) rooms: HashMap<String, u64>,
}

impl State {
    /// Open connections joined to `channel`.
    pub fn joined(&self, channel: &str) -> Vec<u64> {
        self.conns
            .iter()
            .filter(|(_, c)| c.open && c.channels.contains(channel))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Connections that sent `NICK` (logged in, or tried to).
    pub fn logins(&self) -> usize {
        self.conns.values().filter(|c| c.nick.is_some()).count()
    }

    /// The lines sent on one connection.
    pub fn sent_on(&self, conn: u64) -> Vec<&str> {
        self.sent
            .iter()
            .filter(|s| s.conn == conn)
            .map(|s| s.line.as_str())
            .collect()
    }

    /// How many lines, over all connections, satisfy `f`.
    pub fn count_sent(&self, f: impl Fn(&str) -> bool) -> usize {
        self.sent.iter().filter(|s| f(&s.line)).count()
    }

    pub(super) fn room_id(&mut self, channel: &str) -> u64 {
        let next = 1_000 + self.rooms.len() as u64;
        *self.rooms.entry(channel.to_owned()).or_insert(next)
    }
}

#[derive(Debug, Default)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Notify,
    /// Bytes written to clients by `FakeIrc::send_to_channel`, `ConnSender` and co.
    pub(super) written: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
