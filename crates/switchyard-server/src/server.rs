//! Serving the API on a listener, connection by connection, with hyper directly: HTTP/1.1 and
//! HTTP/2 on one port; a deadline for a client to finish sending its headers (so slow-header
//! clients cannot hold connections open) and one for its body ([`BodyTimeout`]); connections
//! with no request open closed after an idle timeout (hyper bounds neither bodies nor idle
//! HTTP/2 connections); requests framed two ways marked for refusal ([`AmbiguousFraming`]);
//! a count of open connections; and a graceful drain bounded by a grace period: on shutdown
//! the listener closes, every connection finishes the requests it has (streams included) and
//! closes, and whatever is still open when the grace period ends is dropped.

mod activity;
mod cores;
mod deadline;
mod framing;

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use activity::{Activity, Counted};
pub use cores::{Listeners, ServingRuntimes, ServingThreads};
pub use deadline::BodyTimeout;
pub use framing::AmbiguousFraming;
use framing::Scanned;

/// How connections are served.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long a client may take to send a request's headers; also how long a connection may
    /// wait for its first request, and how long one asked to close may take to do so.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body, from the end of its headers.
    pub body_timeout: Duration,
    /// How long a connection may stay open with no request on it.
    pub idle_timeout: Duration,
    /// The most bytes of a request's head (request line and headers) an HTTP/1 client may send.
    pub max_header_bytes: usize,
    /// How long open connections may take to finish after shutdown begins.
    pub grace_period: Duration,
}

impl Default for ServerOptions {
    /// 10 s for headers, 64 KiB of them, 30 s for a body, 120 s idle, 30 s to drain
    /// (Kubernetes' default grace period).
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
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
    // Each connection task holds a receiver; the drain waits for all of them to be dropped.
    let (stop, stopping) = watch::channel(());
    let limits = IdleLimits {
        first_request: options.header_read_timeout,
        idle: options.idle_timeout,
        linger: options.header_read_timeout,
    };
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
                let activity = Activity::new();
                let service = TowerToHyperService::new(Counted::new(
                    app.clone(),
                    Arc::clone(&activity),
                    options.body_timeout,
                ));
                let io = TokioIo::new(Scanned::new(stream, Arc::clone(&activity)));
                let connection = builder
                    .serve_connection_with_upgrades(io, service)
                    .into_owned();
                let stopping = stopping.clone();
                tokio::spawn(async move {
                    let _guard = guard;
                    watch_connection(connection, &activity, stopping, limits).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    stop.send_replace(());
    drop(stopping);
    tokio::select! {
        () = stop.closed() => 0,
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

/// How long a connection may go without an open request.
#[derive(Debug, Clone, Copy)]
struct IdleLimits {
    /// Before its first request: hyper's header deadline starts once the protocol is known,
    /// and until then (a client that connects and sends nothing, or only `P`) nothing else
    /// bounds the connection.
    first_request: Duration,
    /// Between requests. hyper closes an idle HTTP/1.1 connection at its header deadline, but
    /// nothing closes an HTTP/2 connection with no stream (its keep-alive pings find dead
    /// peers, not idle ones).
    idle: Duration,
    /// Once asked to close, for the client to finish closing: an HTTP/2 client that never
    /// acknowledges the GOAWAY's ping would otherwise keep the connection.
    linger: Duration,
}

/// Drives one connection to its end: closes it gracefully (HTTP/1.1: after the answer in
/// progress; HTTP/2: GOAWAY, open streams finish) when it has been idle too long, when a
/// request asked for it (a body past its deadline), or when the server shuts down; and drops
/// it when it sends no first request in time, or is still there, idle, `linger` after being
/// asked to close.
async fn watch_connection<C>(
    connection: C,
    activity: &Activity,
    mut stopping: watch::Receiver<()>,
    limits: IdleLimits,
) where
    C: GracefulConnection,
    C::Error: Display,
{
    tokio::pin!(connection);
    // When the connection began to close (graceful shutdown sent), if it has.
    let mut closing_since: Option<Instant> = None;
    // When the connection will have been idle past its limit, if it stays idle; `None` while
    // a request is open. Requests beginning and ending wake no one (`Activity`): the timer
    // set from this fires, and the deadline is worked out again then.
    let idle_deadline = |closing_since: Option<Instant>| {
        let since = activity.idle_since()?;
        let (since, limit) = match closing_since {
            // The linger counts from the close, or from the end of the last request after it.
            Some(closed) => (since.max(closed), limits.linger),
            None if activity.has_begun() => (since, limits.idle),
            None => (since, limits.first_request),
        };
        Some(since + limit)
    };
    loop {
        // A request that ends after now moves the deadline to its end plus this limit; waking
        // no later than now plus the limit, the task is never late for it (waking early, it
        // works the deadline out again and waits on).
        let step = if closing_since.is_some() {
            limits.linger
        } else {
            limits.idle
        };
        let next_look = Instant::now() + step;
        let wake_at = idle_deadline(closing_since).map_or(next_look, |at| at.min(next_look));
        let close = tokio::select! {
            ended = connection.as_mut() => {
                if let Err(err) = ended {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            () = activity.changed() => activity.close_requested(),
            () = tokio::time::sleep_until(wake_at) => {
                if idle_deadline(closing_since).is_none_or(|deadline| deadline > Instant::now()) {
                    continue;
                }
                if closing_since.is_some() || !activity.has_begun() {
                    tracing::debug!(
                        closing = closing_since.is_some(),
                        "connection idle past its limit; dropped"
                    );
                    return;
                }
                tracing::debug!("connection idle past the idle timeout; closing");
                true
            }
            _ = stopping.changed(), if closing_since.is_none() => true,
        };
        if close && closing_since.is_none() {
            connection.as_mut().graceful_shutdown();
            closing_since = Some(Instant::now());
        }
    }
}
