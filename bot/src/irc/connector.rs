//! The socket factory twitch-irc uses for every pooled connection and every reconnect.
//!
//! twitch-irc's own connectors dial `irc.chat.twitch.tv` (a private constant), so ours reads the
//! address from a process-global set by [`set_target`] (the client's `run` does that), speaks
//! plain TCP for `irc://` and TLS (rustls, webpki roots, aws-lc-rs) for `ircs://`, and writes
//! `CAP REQ :twitch.tv/membership` itself: the crate only asks for tags and commands, and without
//! membership Twitch sends no JOIN/PART of other users.
//!
//! It also counts closed sockets ([`closures`]): the membership logic needs to know that a
//! connection was lost, which twitch-irc does not tell its user.
//!
//! Twitch unreachable: twitch-irc asks for a new socket every few seconds, forever, and logs
//! two errors each time (its logs are off by default, see `startup`). The connector instead
//! waits before each attempt after a failure (1 s doubling to 5 min, with jitter), logs one
//! warning per streak of failures and one line when a socket opens again, and reports the
//! reason in the target's [`IrcStatus`] (`/healthz`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chatters_core::settings::IrcUrl;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use twitch_irc::TwitchIRCClient;
use twitch_irc::transport::tcp::{MakeConnection, TCPTransport, TCPTransportConnectError};

use backon::BackoffBuilder as _;
use tokio_util::io::poll_read_buf;

use super::divert::{Divert, Splitter};
use super::error::IrcError;
use super::status::IrcStatus;

/// The line written first on every socket.
pub const MEMBERSHIP_CAP: &[u8] = b"CAP REQ :twitch.tv/membership\r\n";

/// twitch-irc's transport over our connector.
pub type IrcTransport = TCPTransport<Connector>;

/// The twitch-irc client type chatters uses.
pub type Client<L> = TwitchIRCClient<IrcTransport, L>;

/// Where new sockets go.
struct Target {
    /// Incremented by every [`set_target`], so that a stale client cannot clear a newer target.
    generation: u64,
    host: String,
    port: u16,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// Told when sockets cannot be opened.
    status: IrcStatus,
    /// Where chat lines go past twitch-irc (`super::divert`); `None`: all to twitch-irc.
    divert: Option<Divert>,
}

static TARGET: RwLock<Option<Arc<Target>>> = RwLock::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static CLOSURES: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds after [`origin`] of the latest socket closure (0: none yet).
static LAST_CLOSURE: AtomicU64 = AtomicU64::new(0);
/// Sockets that could not be opened since the last one that could.
static FAILURES: AtomicU32 = AtomicU32::new(0);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Points every future socket at `url`, trusting the webpki roots for `ircs://`; connection
/// failures are reported in `status`, chat lines go to `divert` (`super::divert`). Returns the
/// target's generation, for [`clear_target`].
pub fn set_target(
    url: &IrcUrl,
    status: IrcStatus,
    divert: Option<Divert>,
) -> Result<u64, IrcError> {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    set_target_with_roots(url, roots, status, divert)
}

/// [`set_target`] with other TLS roots (tests trust their own certificate).
pub fn set_target_with_roots(
    url: &IrcUrl,
    roots: RootCertStore,
    status: IrcStatus,
    divert: Option<Divert>,
) -> Result<u64, IrcError> {
    let invalid = |reason: String| IrcError::Address {
        url: url.to_string(),
        reason,
    };
    let tls = if url.tls {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(url.host.clone())
            .map_err(|_| invalid("not a valid TLS server name".into()))?;
        Some((TlsConnector::from(Arc::new(config)), name))
    } else {
        None
    };
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    let target = Target {
        generation,
        host: url.host.clone(),
        port: url.port,
        tls,
        status,
        divert,
    };
    FAILURES.store(0, Ordering::Release);
    *TARGET.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(target));
    Ok(generation)
}

/// Refuses new sockets from now on, if the target is still the one of `generation`: a stopped
/// client's pending reconnect then fails at once instead of reaching the server.
pub fn clear_target(generation: u64) {
    let mut target = TARGET.write().unwrap_or_else(|e| e.into_inner());
    if target.as_ref().is_some_and(|t| t.generation == generation) {
        *target = None;
    }
}

fn current_target() -> Option<Arc<Target>> {
    TARGET.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// How many sockets made by [`Connector`] have been closed in this process.
pub fn closures() -> u64 {
    CLOSURES.load(Ordering::Acquire)
}

/// When the latest socket was closed, if any was.
pub fn last_closure() -> Option<Instant> {
    match LAST_CLOSURE.load(Ordering::Acquire) {
        0 => None,
        nanos => Some(origin() + Duration::from_nanos(nanos)),
    }
}

/// twitch-irc's `MakeConnection` over the process-global target.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connector;

#[async_trait::async_trait]
impl MakeConnection for Connector {
    type Socket = IrcSocket;

    async fn new_socket() -> Result<IrcSocket, TCPTransportConnectError> {
        let failures = FAILURES.load(Ordering::Acquire);
        if failures > 0 {
            tokio::time::sleep(reconnect_delay(failures)).await;
        }
        let target = current_target().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotConnected, "the IRC client has stopped")
        })?;
        match open(&target).await {
            Ok(socket) => {
                let failed = FAILURES.swap(0, Ordering::AcqRel);
                if failed > 0 {
                    tracing::info!(host = %target.host, port = target.port, failed, "Twitch IRC reachable again");
                    target.status.set_problem("connecting");
                }
                Ok(socket)
            }
            Err(error) => {
                let failed = FAILURES.fetch_add(1, Ordering::AcqRel) + 1;
                let reason = format!("cannot reach Twitch IRC: {error}");
                if failed == 1 {
                    tracing::warn!(host = %target.host, port = target.port, %error, "cannot reach Twitch IRC; retrying with backoff (1 s doubling to 5 min)");
                } else {
                    tracing::debug!(host = %target.host, port = target.port, %error, failed, "Twitch IRC still unreachable");
                }
                target.status.set_problem(reason);
                Err(error)
            }
        }
    }
}

/// Delays between attempts to reach Twitch IRC, or to log in again after a rejected login:
/// 1 s doubling to 5 min, with jitter (so that many processes do not retry in step).
pub fn backoff() -> impl Iterator<Item = Duration> {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(300))
        .with_jitter()
        .without_max_times()
        .build()
}

/// The wait before attempt `failures + 1`.
fn reconnect_delay(failures: u32) -> Duration {
    let n = usize::try_from(failures.saturating_sub(1)).unwrap_or(usize::MAX);
    backoff().nth(n).unwrap_or(Duration::from_secs(300))
}

async fn open(target: &Target) -> Result<IrcSocket, TCPTransportConnectError> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
    tcp.set_nodelay(true)?;
    let mut stream = match &target.tls {
        None => Stream::Plain(tcp),
        Some((connector, name)) => {
            Stream::Tls(Box::new(connector.connect(name.clone(), tcp).await?))
        }
    };
    stream.write_all(MEMBERSHIP_CAP).await?;
    stream.flush().await?;
    tracing::debug!(host = %target.host, port = target.port, "IRC socket opened");
    Ok(IrcSocket {
        stream,
        lines: Splitter::new(target.divert.clone()),
        ended: false,
        _closed: ClosureGuard,
    })
}

/// Counts the closure when the socket is dropped (twitch-irc drops both halves on close).
#[derive(Debug)]
struct ClosureGuard;

impl Drop for ClosureGuard {
    fn drop(&mut self) {
        let nanos = u64::try_from(origin().elapsed().as_nanos()).unwrap_or(u64::MAX);
        LAST_CLOSURE.store(nanos.max(1), Ordering::Release);
        CLOSURES.fetch_add(1, Ordering::AcqRel);
    }
}

#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A socket made by [`Connector`]: plain TCP or TLS.
#[derive(Debug)]
pub struct IrcSocket {
    stream: Stream,
    /// Cuts what is read into lines: chat lines to the `irc` task, the rest to twitch-irc.
    lines: Splitter,
    /// The stream ended (what was left is cut and handed out, then twitch-irc reads the end).
    ended: bool,
    _closed: ClosureGuard,
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, b),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, b),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for IrcSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let socket = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if socket.lines.hand_out(buf).is_ready() || socket.ended {
                return Poll::Ready(Ok(()));
            }
            // Not while too many lines read wait for the `irc` task.
            std::task::ready!(super::pressure::poll_gate(cx));
            socket.lines.reserve();
            let read = Pin::new(&mut socket.stream);
            let lines = match std::task::ready!(poll_read_buf(read, cx, &mut socket.lines.read)) {
                Err(error) => return Poll::Ready(Err(error)),
                Ok(0) => {
                    socket.ended = true;
                    socket.lines.finish()
                }
                Ok(_) => socket.lines.cut(),
            };
            super::pressure::lines_read(lines);
        }
    }
}

impl AsyncWrite for IrcSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, b)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(tls: bool, host: &str) -> IrcUrl {
        IrcUrl {
            tls,
            host: host.into(),
            port: 6697,
        }
    }

    #[test]
    fn targets_are_validated_and_cleared_only_by_their_owner() {
        let first = set_target(&url(true, "irc.chat.twitch.tv"), IrcStatus::default(), None)
            .expect("a TLS target");
        assert!(current_target().is_some_and(|t| t.tls.is_some()));
        let second = set_target(&url(false, "127.0.0.1"), IrcStatus::default(), None)
            .expect("a plain target");
        clear_target(first);
        assert!(current_target().is_some(), "a stale owner cannot clear it");
        clear_target(second);
        assert!(current_target().is_none());
        let bad = set_target(&url(true, "not a host name"), IrcStatus::default(), None);
        assert!(matches!(bad, Err(IrcError::Address { .. })), "{bad:?}");
    }
}
