//! Serving on every core: one listening socket per serving thread, bound together with
//! `SO_REUSEPORT` so the kernel spreads new connections over them ([`Listeners`]), and one
//! single-threaded Tokio runtime per thread ([`ServingThreads`]).
//!
//! A connection, the calls on it and the upstream connections those calls use (each thread has
//! its own pool, [`switchyard_providers::http::use_pool`]) all live on one thread: an answer
//! never wakes another core, and no work moves between threads. With Tokio's work-stealing
//! runtime on two cores, a call cost 85-105 us of CPU against 59-63 us on one thread; most of
//! the difference was threads waking one another (futex calls, context switches).
//!
//! What it gives up: a connection stays on the thread that accepted it, so a single client
//! connection (one HTTP/2 connection carrying every call) is served by one core, and a
//! long CPU-bound piece of work on one connection delays the others on its thread. Clients and
//! load balancers open several connections, and a call's CPU work is short, so the balance
//! the kernel's hash gives is what nginx's worker processes get too.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};

use super::{ConnectionCount, ServerOptions, serve_connections};

/// Listening sockets on one address, one per serving thread.
#[derive(Debug)]
pub struct Listeners {
    sockets: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// `threads` (at least 1) sockets listening on `addr`. On Linux each is its own socket with
    /// `SO_REUSEPORT`, and the kernel hashes each new connection to one of them; elsewhere they
    /// are clones of one socket, which every thread accepts from. With port 0 they all get the
    /// port the first one was given.
    ///
    /// # Errors
    /// The address cannot be bound (in use, not local, no permission).
    pub fn bind(addr: SocketAddr, threads: usize) -> io::Result<Self> {
        let first = bind_one(addr)?;
        let addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..threads.max(1) {
            let next = if cfg!(target_os = "linux") {
                bind_one(addr)?
            } else {
                sockets[0].try_clone()?
            };
            sockets.push(next);
        }
        Ok(Self { sockets })
    }

    /// The address listened on.
    ///
    /// # Errors
    /// As [`std::net::TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sockets[0].local_addr()
    }

    /// How many serving threads these sockets are for.
    pub fn threads(&self) -> usize {
        self.sockets.len()
    }
}

fn bind_one(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As Tokio's `TcpListener::bind`: a restarted gateway binds while old connections linger.
    socket.set_reuse_address(true)?;
    #[cfg(target_os = "linux")]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// The runtimes serving connections, for the count of their tasks in `/metrics`.
#[derive(Debug, Default)]
pub struct ServingRuntimes(Mutex<Vec<Handle>>);

impl ServingRuntimes {
    fn add(&self, handle: Handle) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(handle);
    }

    /// Tasks alive on every serving runtime, plus `also` (the caller's own runtime, when it is
    /// not one of them).
    pub fn alive_tasks(&self, also: Option<&Handle>) -> usize {
        let handles = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut alive: usize = handles.iter().map(|h| h.metrics().num_alive_tasks()).sum();
        if let Some(also) = also
            && !handles.iter().any(|h| h.id() == also.id())
        {
            alive += also.metrics().num_alive_tasks();
        }
        alive
    }
}

/// Threads serving the API, each on one of the [`Listeners`] with a single-threaded runtime of
/// its own.
///
/// A thread's runtime outlives its connections: it is kept until the [`ServingThreads`] is
/// dropped, because what calls on it opened (database and upstream connections, registered
/// with its I/O driver) may still be used by the caller's runtime, for the spend records a
/// shutdown writes last.
#[derive(Debug)]
pub struct ServingThreads {
    finished: FuturesUnordered<oneshot::Receiver<()>>,
    stop: watch::Sender<bool>,
    release: watch::Sender<bool>,
}

impl ServingThreads {
    /// Starts one thread per listener serving `app` as [`serve_connections`] does, connections
    /// counted in `open`, each runtime added to `runtimes`.
    ///
    /// # Errors
    /// A thread could not be started.
    pub fn spawn(
        listeners: Listeners,
        app: &Router,
        options: &ServerOptions,
        open: &Arc<ConnectionCount>,
        runtimes: &Arc<ServingRuntimes>,
    ) -> io::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let (release, released) = watch::channel(false);
        let finished = FuturesUnordered::new();
        for (number, socket) in listeners.sockets.into_iter().enumerate() {
            let (done, finished_one) = oneshot::channel();
            let app = app.clone();
            let mut stopped = stopped.clone();
            let mut released = released.clone();
            let options = options.clone();
            let open = Arc::clone(open);
            let runtimes = Arc::clone(runtimes);
            std::thread::Builder::new()
                .name(format!("switchyard-serve-{number}"))
                .spawn(move || {
                    switchyard_providers::http::use_pool(number);
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            tracing::error!(%error, thread = number, "starting a serving runtime failed");
                            return;
                        }
                    };
                    runtimes.add(runtime.handle().clone());
                    runtime.block_on(async move {
                        tokio::spawn(keep_next_timer_near());
                        match tokio::net::TcpListener::from_std(socket) {
                            Ok(listener) => {
                                let stop = async move {
                                    let _ = stopped.wait_for(|stop| *stop).await;
                                };
                                serve_connections(listener, app, stop, &options, open).await;
                            }
                            Err(error) => {
                                tracing::error!(%error, thread = number, "listening failed");
                            }
                        }
                        let _ = done.send(());
                        let _ = released.wait_for(|release| *release).await;
                    });
                })?;
            finished.push(finished_one);
        }
        Ok(Self {
            finished,
            stop,
            release,
        })
    }

    /// Resolves when a thread stops serving before [`stop`](Self::stop) was called (it
    /// panicked, or could not listen); pending forever otherwise.
    pub async fn ended(&mut self) {
        if self.finished.next().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    /// Closes the listeners and waits until every thread has drained its connections.
    pub async fn stop(&mut self) {
        self.stop.send_replace(true);
        while self.finished.next().await.is_some() {}
    }
}

impl Drop for ServingThreads {
    /// Lets the threads end, dropping their runtimes.
    fn drop(&mut self) {
        self.release.send_replace(true);
    }
}

/// How often [`keep_next_timer_near`] ticks.
const TIMER_TICK: Duration = Duration::from_secs(1);

/// Ticks every [`TIMER_TICK`] so that the runtime's timer wheel always holds a deadline at
/// most that far off.
///
/// Tokio's time driver wakes its own thread (a write to its event fd, then one more
/// `epoll_wait`) whenever a timer is set earlier than the next deadline it parked for, and
/// with no timer pending every new one is earlier. hyper sets its header-read deadline anew
/// for each request on a connection, so a connection with one call at a time paid two system
/// calls per call for it. With this tick pending, the per-request deadlines (seconds away) are
/// never the earliest, and the thread is not woken for them; the cost is one wake-up a second
/// on an idle thread.
async fn keep_next_timer_near() {
    let mut tick = tokio::time::interval(TIMER_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_socket_listens_on_the_port_the_first_was_given() {
        let listeners = Listeners::bind("127.0.0.1:0".parse().expect("addr"), 3).expect("bound");
        let addr = listeners.local_addr().expect("addr");
        assert_ne!(addr.port(), 0);
        assert_eq!(listeners.threads(), 3);
        for socket in &listeners.sockets {
            assert_eq!(socket.local_addr().expect("addr"), addr);
        }
        // Each accepts connections made to the shared port.
        let _client = std::net::TcpStream::connect(addr).expect("connects");
    }

    #[test]
    fn zero_threads_is_one() {
        let listeners = Listeners::bind("127.0.0.1:0".parse().expect("addr"), 0).expect("bound");
        assert_eq!(listeners.threads(), 1);
    }
}
