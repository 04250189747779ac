//! [`Proxy`]: a TCP proxy in front of a database server, to take it away and give it back
//! (an outage) without stopping the real server other tests use.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// Forwards every connection to `upstream` until [`Proxy::cut`]; while cut, open connections
/// are closed and new ones refused (accepted and closed at once), as a stopped server would.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

#[derive(Debug, Default)]
struct Shared {
    cut: AtomicBool,
    open: Mutex<Vec<AbortHandle>>,
}

impl Proxy {
    /// A proxy on 127.0.0.1 for `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn({
            let shared = shared.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if shared.cut.load(Ordering::Acquire) {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    let mut open = shared.open.lock().unwrap_or_else(|e| e.into_inner());
                    open.retain(|t| !t.is_finished());
                    open.push(task.abort_handle());
                }
            }
        })
        .abort_handle();
        Self {
            addr,
            shared,
            accept,
        }
    }

    /// `host:port` to connect to instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (a database URL) pointed at the proxy.
    pub fn url_for(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).expect("valid database URL");
        u.set_host(Some("127.0.0.1")).expect("a host");
        u.set_port(Some(self.addr.port())).expect("a port");
        u.to_string()
    }

    /// The server goes away: every open connection is closed, new ones are refused.
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::Release);
        for task in self
            .shared
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// The server is back.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
