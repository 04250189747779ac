//! A fake Twitch IRC server on 127.0.0.1:0 speaking Twitch's dialect, for the integration tests
//! and the `irc_load` example (feature `fake`, never in the shipped binary).
//!
//! It answers `CAP REQ` with `CAP * ACK`, `NICK` with the 001–004/375/372/376 welcome burst
//! (or with `NOTICE * :Login authentication failed` and a hang-up when logins are set to fail),
//! `JOIN` with the JOIN echo, 353/366, USERSTATE and ROOMSTATE, `PART` with its echo and `PING`
//! with `PONG`. It records every line a client sent, and lets the test push raw lines to a
//! channel's joined connections, send `RECONNECT` or `PING`, drop a socket, or silently forget a
//! membership. Any number of connections (twitch-irc pools, reconnects open new ones).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chatters_core::settings::IrcUrl;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

mod dialect;
mod harness;
mod state;
use dialect::respond;
pub use harness::{CORPUS, corpus_line, corpus_line_in, exclusive};
pub use state::{Conn, Sent, State};
use state::{Out, Shared};

/// A handle to push bytes to one fake connection (the load generator batches lines with it).
#[derive(Debug, Clone)]
pub struct ConnSender(mpsc::UnboundedSender<Out>);

impl ConnSender {
    /// Queues raw bytes (whole CRLF-terminated lines); false once the connection is gone.
    pub fn send(&self, bytes: Bytes) -> bool {
        self.0.send(Out::Data(bytes)).is_ok()
    }
}

/// The running fake server; stops when dropped.
#[derive(Debug)]
pub struct FakeIrc {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakeIrc {
    fn drop(&mut self) {
        self.accept.abort();
        for conn in self.shared.lock().conns.values() {
            let _ = conn.tx.send(Out::Close);
        }
    }
}

impl FakeIrc {
    /// Binds 127.0.0.1:0 and starts accepting.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self {
            addr,
            shared,
            accept,
        })
    }

    /// `irc://127.0.0.1:<port>`.
    pub fn url(&self) -> IrcUrl {
        IrcUrl {
            tls: false,
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
        }
    }

    /// The state, locked (keep the guard short).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Waits until `f(state)` holds, up to `timeout`; returns whether it did.
    pub async fn wait_for(&self, timeout: Duration, f: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if f(&self.shared.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return f(&self.shared.lock());
            }
        }
    }

    /// Bytes pushed to clients so far (test lines and load, not the protocol answers).
    pub fn bytes_written(&self) -> u64 {
        self.shared
            .written
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes every later login fail (or succeed again).
    pub fn set_fail_logins(&self, fail: bool) {
        self.shared.lock().fail_logins = fail;
    }

    /// Sends one raw line to every connection joined to `channel`; returns how many got it.
    pub fn send_to_channel(&self, channel: &str, line: &str) -> usize {
        let bytes = Bytes::from(format!("{line}\r\n"));
        let state = self.shared.lock();
        state
            .joined(channel)
            .iter()
            .filter(|id| state.conns[id].tx.send(Out::Data(bytes.clone())).is_ok())
            .count()
    }

    /// Sends one raw line on a connection.
    pub fn send_raw(&self, conn: u64, line: &str) -> bool {
        self.sender(conn)
            .is_some_and(|s| s.send(Bytes::from(format!("{line}\r\n"))))
    }

    /// A handle to push bytes to `conn`.
    pub fn sender(&self, conn: u64) -> Option<ConnSender> {
        let state = self.shared.lock();
        state.conns.get(&conn).map(|c| ConnSender(c.tx.clone()))
    }

    /// Asks `conn` to reconnect, as Twitch does before a restart (the socket stays open).
    pub fn reconnect(&self, conn: u64) -> bool {
        self.send_raw(conn, ":tmi.twitch.tv RECONNECT")
    }

    /// Sends `PING :tmi.twitch.tv`; the answer shows in [`Conn::pongs`].
    pub fn ping(&self, conn: u64) -> bool {
        self.send_raw(conn, "PING :tmi.twitch.tv")
    }

    /// Closes `conn` without a word.
    pub fn drop_connection(&self, conn: u64) {
        if let Some(c) = self.shared.lock().conns.get(&conn) {
            let _ = c.tx.send(Out::Close);
        }
    }

    /// Silently stops delivering `channel` to `conn`, as if Twitch had lost the membership.
    pub fn forget(&self, conn: u64, channel: &str) {
        if let Some(c) = self.shared.lock().conns.get_mut(&conn) {
            c.channels.remove(channel);
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let _ = socket.set_nodelay(true);
        let (tx, rx) = mpsc::unbounded_channel();
        let id = {
            let mut state = shared.lock();
            let id = state.conns.len() as u64;
            let conn = Conn {
                nick: None,
                pass: false,
                channels: BTreeSet::new(),
                pongs: 0,
                open: true,
                tx,
            };
            state.conns.insert(id, conn);
            id
        };
        shared.changed.notify_waiters();
        tokio::spawn(serve(socket, id, rx, shared.clone()));
    }
}

/// One connection: reads the client's lines and answers them; writes what the test pushes.
async fn serve(
    socket: TcpStream,
    id: u64,
    mut rx: mpsc::UnboundedReceiver<Out>,
    shared: Arc<Shared>,
) {
    let (read, write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut writer = BufWriter::with_capacity(64 * 1024, write);
    loop {
        let ok = tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    let (reply, close) = respond(&shared, id, line.trim_end());
                    shared.changed.notify_waiters();
                    let written = writer.write_all(reply.as_bytes()).await.is_ok()
                        && writer.flush().await.is_ok();
                    written && !close
                }
                _ => false,
            },
            out = rx.recv() => match out {
                Some(Out::Data(bytes)) => write_batch(&mut writer, bytes, &mut rx, &shared).await,
                Some(Out::Close) | None => false,
            },
        };
        if !ok {
            break;
        }
    }
    let _ = writer.shutdown().await;
    if let Some(conn) = shared.lock().conns.get_mut(&id) {
        conn.open = false;
        conn.channels.clear();
    }
    shared.changed.notify_waiters();
}

/// Writes `first` and whatever else is queued, then flushes once.
async fn write_batch(
    writer: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    first: Bytes,
    rx: &mut mpsc::UnboundedReceiver<Out>,
    shared: &Shared,
) -> bool {
    let mut total = first.len();
    if writer.write_all(&first).await.is_err() {
        return false;
    }
    for _ in 0..256 {
        match rx.try_recv() {
            Ok(Out::Data(bytes)) => {
                total += bytes.len();
                if writer.write_all(&bytes).await.is_err() {
                    return false;
                }
            }
            Ok(Out::Close) => return false,
            Err(_) => break,
        }
    }
    let flushed = writer.flush().await.is_ok();
    shared
        .written
        .fetch_add(total as u64, std::sync::atomic::Ordering::Relaxed);
    flushed
}
