//! Serving the API on a listener, connection by connection, with hyper directly: HTTP/1.1 and
//! HTTP/2 on one port, a deadline for a client to finish sending its headers (so slow-header
//! clients cannot hold connections open), a count of open connections, and a graceful drain
//! bounded by a grace period: on shutdown the listener closes, every connection finishes the
//! requests it has (streams included) and closes, and whatever is still open when the grace
//! period ends is dropped.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How connections are served.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// The most bytes of a request's head (request line and headers) an HTTP/1 client may send.
    pub max_header_bytes: usize,
    /// How long open connections may take to finish after shutdown begins.
    pub grace_period: Duration,
}

impl Default for ServerOptions {
    /// 10 s for headers, 64 KiB of them, 30 s to drain (Kubernetes' default grace period).
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            grace_period: Duration::from_secs(30),
        }
    }
}

/// Open connections, for metrics and tests.
#[derive(Debug, Default)]
pub struct ConnectionCount(AtomicUsize);

impl ConnectionCount {
    /// Connections open now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Decrements the count when its connection's task ends, however it ends.
struct Open(Arc<ConnectionCount>);

impl Drop for Open {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then drains as [`ServerOptions`] say.
/// Answers how many connections were still open when the grace period ended (0 when every one
/// finished).
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    options: &ServerOptions,
    open: Arc<ConnectionCount>,
) -> usize {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(options.max_header_bytes.max(8 * 1024));
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Out of file descriptors, or a connection reset while queued: the
                        // listener itself is fine; back off a little so a descriptor shortage
                        // does not spin.
                        tracing::warn!(error = %err, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Small SSE events must leave at once rather than wait for Nagle.
                let _ = stream.set_nodelay(true);
                open.0.fetch_add(1, Ordering::Relaxed);
                let guard = Open(Arc::clone(&open));
                // hyper's header deadline starts once the protocol is known; until then (a
                // client that connects and sends nothing, or only `P`) nothing bounds the
                // connection, so the first request must arrive within the same deadline.
                let requested = Arc::new(AtomicBool::new(false));
                let service = TowerToHyperService::new(app.clone().map_request({
                    let requested = Arc::clone(&requested);
                    move |request| {
                        requested.store(true, Ordering::Relaxed);
                        request
                    }
                }));
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                let first_request_within = options.header_read_timeout;
                tokio::spawn(async move {
                    let _guard = guard;
                    tokio::pin!(connection);
                    let ended = tokio::select! {
                        ended = &mut connection => Some(ended),
                        () = tokio::time::sleep(first_request_within) => None,
                    };
                    let ended = match ended {
                        Some(ended) => ended,
                        None if !requested.load(Ordering::Relaxed) => {
                            tracing::debug!("no request within the header deadline; closed");
                            return;
                        }
                        None => connection.await,
                    };
                    if let Err(err) = ended {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => 0,
        () = tokio::time::sleep(options.grace_period) => {
            let left = open.get();
            tracing::warn!(
                connections = left,
                "the grace period ended with connections still open; they are closed"
            );
            left
        }
    }
}
