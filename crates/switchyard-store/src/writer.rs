//! [`SpendWriter`]: spend records written off the call path, in batches, by one background task.
//! Recording never blocks or fails; a full queue sheds the record and counts it, a failing store
//! is retried with backoff, and shutdown writes everything still queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Mutex, Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};

use crate::model::SpendRecord;
use crate::store::Store;

/// How a [`SpendWriter`] queues, batches and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendWriterConfig {
    /// Records that may wait to be written; beyond it, new records are shed. At least 1.
    pub capacity: usize,
    /// Records per write. At least 1.
    pub batch_size: usize,
    /// Longest a record waits for its batch to fill before the batch is written anyway.
    pub flush_interval: Duration,
    /// Wait before the first retry of a failed write; doubled after each failure.
    pub retry_backoff: Duration,
    /// Longest wait between retries.
    pub max_retry_backoff: Duration,
    /// Once shutting down, how many more times a failing batch is tried before its records are
    /// given up (and counted in [`SpendWriter::dropped_count`]). At least 1.
    pub shutdown_attempts: u32,
}

impl Default for SpendWriterConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch_size: 500,
            flush_interval: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(100),
            max_retry_backoff: Duration::from_secs(30),
            shutdown_attempts: 3,
        }
    }
}

/// What a [`SpendWriter`] did over its life, returned by [`SpendWriter::shutdown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Records the store accepted (duplicates of stored `request_id`s included).
    pub written: u64,
    /// Records given up after the store kept failing during shutdown.
    pub dropped: u64,
    /// Records refused because the queue was full or the writer had stopped.
    pub shed: u64,
}

/// Writes spend records to a [`Store`] in batches, in the background.
///
/// [`record`](Self::record) is synchronous and never waits, so it can be called from anywhere,
/// a stream's `Drop` included. A batch is written when it is full or `flush_interval` after its
/// first record. A failed write is retried, with exponential backoff up to
/// `max_retry_backoff`, until it succeeds (inserts are idempotent on `request_id`, so a retry
/// never doubles a record); meanwhile new records wait in the bounded queue, and once that is
/// full they are shed: counted in [`shed_count`](Self::shed_count) and logged at error level
/// (the 1st, 2nd, 4th, ... 512th, then every 1024th).
///
/// Budget counters are not charged here: a charge is not idempotent, so it must not ride a
/// retried batch, and budgets need it at once.
///
/// ```
/// # async fn demo() -> Result<(), switchyard_store::StoreError> {
/// use std::sync::Arc;
/// use switchyard_store::{SpendWriter, SpendWriterConfig, SqliteStore};
///
/// let store = Arc::new(SqliteStore::connect("sqlite::memory:").await?);
/// let writer = SpendWriter::spawn(store, SpendWriterConfig::default());
/// // ... writer.record(record) after every call ...
/// let report = writer.shutdown().await;
/// assert_eq!(report.shed, 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SpendWriter {
    shared: Arc<Shared>,
}

struct Shared {
    queue: mpsc::Sender<SpendRecord>,
    /// Records per batch: once this many are queued, `batch_full` wakes the worker.
    batch_size: usize,
    /// Wakes the worker when a batch is ready before its deadline. The worker is not woken for
    /// each record (one cross-thread wake-up per call, on the call's path, for nothing).
    batch_full: Arc<Notify>,
    stop: watch::Sender<bool>,
    worker: Mutex<Option<JoinHandle<()>>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Records the worker holds in a partial batch while it waits for the rest: a batch is full
    /// when these and the queued ones make `batch_size`.
    held: AtomicU64,
    pending: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    shed: AtomicU64,
}

impl SpendWriter {
    /// Starts the background task that writes to `store`. Must be called within a tokio
    /// runtime.
    pub fn spawn(store: Arc<dyn Store>, config: SpendWriterConfig) -> Self {
        let config = SpendWriterConfig {
            capacity: config.capacity.max(1),
            batch_size: config.batch_size.max(1),
            shutdown_attempts: config.shutdown_attempts.max(1),
            ..config
        };
        let (queue, receiver) = mpsc::channel(config.capacity);
        let (stop, stop_receiver) = watch::channel(false);
        let counts = Arc::new(Counts::default());
        let batch_full = Arc::new(Notify::new());
        let batch_size = config.batch_size;
        let worker = Worker {
            store,
            config,
            queue: receiver,
            stop: stop_receiver,
            batch_full: Arc::clone(&batch_full),
            counts: Arc::clone(&counts),
        };
        let worker = tokio::spawn(worker.run());
        Self {
            shared: Arc::new(Shared {
                queue,
                batch_size,
                batch_full,
                stop,
                worker: Mutex::new(Some(worker)),
                counts,
            }),
        }
    }

    /// Queues `record` to be written. Never waits: if the queue is full, or the writer has shut
    /// down, the record is shed.
    pub fn record(&self, record: SpendRecord) {
        let counts = &self.shared.counts;
        // Counted before sending, so the worker never takes away what was not yet added.
        counts.pending.fetch_add(1, Ordering::Relaxed);
        let shared = &self.shared;
        let (record, reason) = match shared.queue.try_send(record) {
            Ok(()) => {
                // Pairs with the worker's fence after it publishes `held`: one of the two sees
                // the other's write, so a full batch is never left waiting for its deadline.
                std::sync::atomic::fence(Ordering::SeqCst);
                let queued = shared.queue.max_capacity() - shared.queue.capacity();
                let held = usize::try_from(counts.held.load(Ordering::SeqCst)).unwrap_or(0);
                if queued + held >= shared.batch_size {
                    shared.batch_full.notify_one();
                }
                return;
            }
            Err(TrySendError::Full(record)) => (record, "the spend queue is full"),
            Err(TrySendError::Closed(record)) => (record, "the spend writer has shut down"),
        };
        counts.pending.fetch_sub(1, Ordering::Relaxed);
        let shed = counts.shed.fetch_add(1, Ordering::Relaxed) + 1;
        if shed.is_power_of_two() && shed <= 512 || shed.is_multiple_of(1024) {
            tracing::error!(
                request_id = %record.request_id,
                shed_total = shed,
                "spend record shed: {reason}; its spend is not stored"
            );
        }
    }

    /// Records shed so far (queue full, or recorded after shutdown).
    pub fn shed_count(&self) -> u64 {
        self.shared.counts.shed.load(Ordering::Relaxed)
    }

    /// Records the store has accepted so far.
    pub fn written_count(&self) -> u64 {
        self.shared.counts.written.load(Ordering::Relaxed)
    }

    /// Records given up because the store kept failing during shutdown.
    pub fn dropped_count(&self) -> u64 {
        self.shared.counts.dropped.load(Ordering::Relaxed)
    }

    /// Records queued or being written, not yet accepted by the store.
    pub fn pending(&self) -> u64 {
        self.shared.counts.pending.load(Ordering::Relaxed)
    }

    /// Stops taking records, writes everything queued (a failing batch is tried
    /// `shutdown_attempts` more times), and reports. Every clone shares the one writer; a second
    /// call waits for the first and reports the same.
    pub async fn shutdown(&self) -> ShutdownReport {
        self.shared.stop.send_replace(true);
        let mut worker = self.shared.worker.lock().await;
        if let Some(worker) = worker.take()
            && let Err(error) = worker.await
        {
            tracing::error!(%error, "the spend writer task failed; queued records are lost");
        }
        ShutdownReport {
            written: self.written_count(),
            dropped: self.dropped_count(),
            shed: self.shed_count(),
        }
    }
}

impl std::fmt::Debug for SpendWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpendWriter")
            .field("pending", &self.pending())
            .field("written", &self.written_count())
            .field("dropped", &self.dropped_count())
            .field("shed", &self.shed_count())
            .finish_non_exhaustive()
    }
}

/// The background task.
struct Worker {
    store: Arc<dyn Store>,
    config: SpendWriterConfig,
    queue: mpsc::Receiver<SpendRecord>,
    stop: watch::Receiver<bool>,
    batch_full: Arc<Notify>,
    counts: Arc<Counts>,
}

impl Worker {
    async fn run(mut self) {
        let batch_size = self.config.batch_size;
        let mut batch = Vec::with_capacity(batch_size);
        // Until told to stop (or every handle is gone): one batch per turn.
        loop {
            tokio::select! {
                biased;
                _ = self.stop.wait_for(|stop| *stop) => break,
                received = self.queue.recv_many(&mut batch, batch_size) => {
                    if received == 0 {
                        break;
                    }
                }
            }
            // The first record starts the batch's clock; the rest are taken when the batch is
            // full or its time is up, not one wake-up per record.
            if batch.len() < batch_size {
                let deadline = Instant::now() + self.config.flush_interval;
                let full = self.batch_full.notified();
                tokio::pin!(full);
                full.as_mut().enable();
                // Senders count what this batch already holds; one that looked before this is
                // published is caught by looking at the queue again after it.
                self.counts.held.store(batch.len() as u64, Ordering::SeqCst);
                std::sync::atomic::fence(Ordering::SeqCst);
                if self.queue.len() + batch.len() < batch_size {
                    tokio::select! {
                        biased;
                        _ = self.stop.wait_for(|stop| *stop) => {}
                        () = full => {}
                        () = sleep_until(deadline) => {}
                    }
                }
                self.counts.held.store(0, Ordering::SeqCst);
                while batch.len() < batch_size {
                    match self.queue.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            self.write(&mut batch).await;
        }
        // Refuse new records, then write every one already queued.
        self.queue.close();
        loop {
            self.write(&mut batch).await;
            if self.queue.recv_many(&mut batch, batch_size).await == 0 {
                break;
            }
        }
    }

    /// Writes `batch` and empties it: retried until it succeeds, or, once stopping, until
    /// `shutdown_attempts` more failures.
    async fn write(&mut self, batch: &mut Vec<SpendRecord>) {
        if batch.is_empty() {
            return;
        }
        let records = batch.len() as u64;
        let mut backoff = self.config.retry_backoff;
        let mut failures_while_stopping = 0;
        loop {
            let error = match self.store.insert_spend(batch).await {
                Ok(_) => {
                    self.counts.written.fetch_add(records, Ordering::Relaxed);
                    break;
                }
                Err(error) => error,
            };
            // Every handle gone (the sender dropped) counts as a stop: no one is left to ask.
            let stopping = *self.stop.borrow() || self.stop.has_changed().is_err();
            if stopping {
                failures_while_stopping += 1;
                if failures_while_stopping >= self.config.shutdown_attempts {
                    tracing::error!(
                        %error,
                        records,
                        "could not write spend records before shutdown; they are lost"
                    );
                    self.counts.dropped.fetch_add(records, Ordering::Relaxed);
                    break;
                }
            }
            tracing::warn!(%error, records, retry_in = ?backoff, "could not write spend records; retrying");
            tokio::select! {
                () = sleep(backoff) => {}
                // A stop cuts the wait short, so shutdown is not held up by a long backoff.
                _ = self.stop.wait_for(|stop| *stop), if !stopping => {}
            }
            backoff = backoff.saturating_mul(2).min(self.config.max_retry_backoff);
        }
        self.counts.pending.fetch_sub(records, Ordering::Relaxed);
        batch.clear();
    }
}
