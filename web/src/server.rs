//! The HTTP/1.1 server: our own accept loop over hyper, because `axum::serve` has no
//! header-read timeout, no idle timeout, no connection cap, and waits for a half-sent request
//! forever when asked to stop.
//!
//! [`serve_with`] enforces [`ServerLimits`] (SPEC "Health and limits"):
//! - a new connection, and a request once its first byte arrived, must complete its headers
//!   within `header_timeout`, else the connection is closed (slowloris);
//! - a keep-alive connection with no request for `idle_timeout` is closed;
//! - at most `max_connections` are open: beyond, the listener is not accepted from until one
//!   closes (the kernel's backlog holds the rest);
//! - on stop, connections without a request being answered (idle, or a request still being
//!   sent) close at once, the others finish their answer, for at most `stop_grace`.
//!
//! Each request carries the peer's address as axum's `ConnectInfo<SocketAddr>` (the per-IP
//! render limit reads it).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// The server's limits; [`Default`] is SPEC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time for a request's headers to arrive: from the connection's start for its first
    /// request, from the first byte for later ones.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a stop waits for answers in progress.
    pub stop_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// Largest request head (request line and headers) read: 431 above.
const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Pause after an accept error that is not the peer's (e.g. out of file descriptors), so the
/// loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` with `limits` until `shutdown` fires, then stops as
/// [`ServerLimits::stop_grace`] says. Accept errors are logged and retried, never returned.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    limits: ServerLimits,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // Never closed.
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        // Finished connections leave the set here, so it holds only open ones.
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            connection(stream, peer, router, shutdown, limits).await;
            drop(slot);
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.stop_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "answers still in progress after {:?}, closing their connections",
            limits.stop_grace
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Logs an accept error; pauses when the error is the server's own (file descriptors, memory)
/// rather than one peer's.
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// One connection, until it ends, times out, or the server stops.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
    limits: ServerLimits,
) {
    let activity = Arc::new(Mutex::new(Activity::new(Instant::now())));
    let io = TokioIo::new(Tracked {
        stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let answering = Answering::start(&activity);
            request.extensions_mut().insert(ConnectInfo(peer));
            let call = router.clone().oneshot(request.map(Body::new));
            async move {
                let response = match call.await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                // The answer is done when hyper drops its body, having sent it (or failed).
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _held_until_the_body_is_dropped = &answering;
                        frame
                    }))
                }))
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder.max_buf_size(MAX_HEAD_BYTES);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let wake = lock(&activity)
            .deadline(&limits)
            // Answering: look again later (a request's own time is the router's timeout).
            .unwrap_or_else(|| Instant::now() + limits.header_timeout);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !stopping => {
                if !lock(&activity).answering() {
                    // Idle, or a request still arriving: nothing to finish.
                    return;
                }
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = tokio::time::sleep_until(wake) => {
                if lock(&activity).expired(&limits, Instant::now()) {
                    tracing::debug!(%peer, "closing a connection that sent no complete request in time");
                    return;
                }
            }
        }
    }
}

/// What a connection is doing, for its timeouts.
#[derive(Debug)]
struct Activity {
    /// Requests being answered (hyper answers one at a time; a body may end after the next
    /// request was read).
    answering: usize,
    /// When the connection last had nothing to do (accepted, or an answer done).
    idle_since: Instant,
    /// When the first byte of the next request arrived, if it did.
    head_since: Option<Instant>,
    /// Whether a request was answered (a new connection gets `header_timeout`, not
    /// `idle_timeout`, to send its first request).
    answered_one: bool,
}

impl Activity {
    fn new(now: Instant) -> Self {
        Self {
            answering: 0,
            idle_since: now,
            head_since: None,
            answered_one: false,
        }
    }

    fn answering(&self) -> bool {
        self.answering > 0
    }

    /// When the connection is to be closed unless a request arrives (`None` while
    /// answering).
    fn deadline(&self, limits: &ServerLimits) -> Option<Instant> {
        if self.answering() {
            return None;
        }
        Some(match self.head_since {
            Some(since) => since + limits.header_timeout,
            None if self.answered_one => self.idle_since + limits.idle_timeout,
            None => self.idle_since + limits.header_timeout,
        })
    }

    fn expired(&self, limits: &ServerLimits, now: Instant) -> bool {
        self.deadline(limits)
            .is_some_and(|deadline| now >= deadline)
    }

    /// Bytes arrived: the head's clock starts (a first request's runs from the accept).
    fn read(&mut self, now: Instant) {
        if !self.answering() && self.head_since.is_none() {
            self.head_since = Some(if self.answered_one {
                now
            } else {
                self.idle_since
            });
        }
    }
}

/// A request being answered, from the router's call until hyper drops the response body.
struct Answering(Arc<Mutex<Activity>>);

impl Answering {
    fn start(activity: &Arc<Mutex<Activity>>) -> Self {
        let mut a = lock(activity);
        a.answering += 1;
        a.head_since = None;
        drop(a);
        Self(activity.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        let mut a = lock(&self.0);
        a.answering = a.answering.saturating_sub(1);
        if a.answering == 0 {
            a.idle_since = Instant::now();
            a.answered_one = true;
        }
    }
}

/// The socket, noting when bytes arrive.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Mutex<Activity>>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            lock(&self.activity).read(Instant::now());
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Locks a connection's activity, recovering from a panic of another holder (every critical
/// section leaves it whole).
fn lock(activity: &Mutex<Activity>) -> std::sync::MutexGuard<'_, Activity> {
    activity
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_what_the_connection_is_doing() {
        let limits = ServerLimits::default();
        let start = Instant::now();
        let mut a = Activity::new(start);

        // New: the first request's headers within header_timeout of the accept.
        assert_eq!(a.deadline(&limits), Some(start + limits.header_timeout));
        a.read(start + Duration::from_secs(3));
        assert_eq!(a.deadline(&limits), Some(start + limits.header_timeout));

        a.answering = 1;
        a.head_since = None;
        assert_eq!(a.deadline(&limits), None);

        let done = start + Duration::from_secs(5);
        a.answering = 0;
        a.idle_since = done;
        a.answered_one = true;
        assert_eq!(a.deadline(&limits), Some(done + limits.idle_timeout));
        assert!(!a.expired(&limits, done + Duration::from_secs(59)));

        let next = done + Duration::from_secs(30);
        a.read(next);
        assert_eq!(a.deadline(&limits), Some(next + limits.header_timeout));
        assert!(a.expired(&limits, next + limits.header_timeout));
    }
}
