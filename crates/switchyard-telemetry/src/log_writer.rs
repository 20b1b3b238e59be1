//! The log sink: lines appended to a buffer of the calling thread (one uncontended lock, no
//! system call, no wake-up of another thread) and written out in batches by a writer thread that
//! wakes on a timer ([`FLUSH_INTERVAL`]), not per line.
//!
//! A per-line hand-off to a writer thread (as `tracing_appender::non_blocking` does: a channel
//! send that wakes the thread, one `write` per line) costs a cross-thread wake-up and a system
//! call on every call's response path; here the calling thread only copies its line. Each
//! thread has its own buffer, so writers never contend with each other, only, once per
//! interval, with the writer thread swapping the buffer out. Lines of one thread keep their
//! order; lines of different threads are written in batches per thread (each line carries its
//! timestamp).
//!
//! Memory is bounded: a thread's buffer holds at most [`BatchWriter::with_limit`] bytes
//! between two flushes; lines beyond are counted and dropped (never waited for: a blocked
//! stderr must not stall requests), and the next flush writes one line saying how many were
//! lost. Dropping the [`BatchWriterGuard`] writes everything still buffered.
//!
//! ```
//! use std::io::Write;
//! use switchyard_telemetry::log_writer::BatchWriter;
//! use tracing_subscriber::fmt::MakeWriter;
//!
//! let (writer, guard) = BatchWriter::new(std::io::sink());
//! writer.make_writer().write_all(b"{\"msg\":\"hello\"}\n")?;
//! drop(guard); // written out here
//! # Ok::<(), std::io::Error>(())
//! ```

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line waits in its thread's buffer at most before it is written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// Bytes a thread may buffer between two flushes by default (at 50 ms intervals, 2 MiB is
/// 40 MB/s of log lines per thread, far beyond what a gateway writes).
pub const DEFAULT_THREAD_LIMIT: usize = 2 << 20;

/// Hands out [`LineWriter`]s for the `tracing_subscriber` fmt layer (a [`MakeWriter`]); cheap
/// to clone.
#[derive(Clone, Debug)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Stops the writer thread when dropped, after it wrote every buffered line.
#[derive(Debug)]
#[must_use = "dropping the guard stops the log writer"]
pub struct BatchWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// One thread's buffer.
type Buffer = Arc<Mutex<Vec<u8>>>;

#[derive(Debug)]
struct Shared {
    /// Tells the thread-local registrations of different writers apart.
    id: usize,
    /// Byte limit per thread buffer.
    limit: usize,
    /// Every thread's buffer (a thread registers its own on its first line; the buffer of a
    /// thread that exited is dropped once written).
    buffers: Mutex<Vec<Buffer>>,
    /// Lines dropped because their thread's buffer was full, since the last report.
    dropped: AtomicU64,
    /// Set to stop the writer thread; its condition variable wakes it early.
    stop: Mutex<bool>,
    wake: Condvar,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's buffer for each writer it wrote to (usually one), by writer id.
    static LOCAL: RefCell<Vec<(usize, Buffer)>> = const { RefCell::new(Vec::new()) };
}

impl BatchWriter {
    /// A writer to `sink` with the default per-thread limit, and the guard of its writer thread.
    pub fn new<W: Write + Send + 'static>(sink: W) -> (Self, BatchWriterGuard) {
        Self::with_limit(sink, DEFAULT_THREAD_LIMIT)
    }

    /// A writer to `sink` buffering at most `limit` bytes per thread between flushes.
    pub fn with_limit<W: Write + Send + 'static>(
        sink: W,
        limit: usize,
    ) -> (Self, BatchWriterGuard) {
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            limit,
            buffers: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("switchyard-logs".to_owned())
            .spawn(move || worker.run(sink))
            .ok();
        let writer = Self {
            shared: Arc::clone(&shared),
        };
        (writer, BatchWriterGuard { shared, thread })
    }

    /// Appends `line` to this thread's buffer, or counts it dropped when the buffer is full.
    fn append(&self, line: &[u8]) {
        let shared = &self.shared;
        let appended = LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            let buffer = match local.iter().find(|(id, _)| *id == shared.id) {
                Some((_, buffer)) => Arc::clone(buffer),
                None => {
                    let buffer = Buffer::default();
                    shared
                        .buffers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Arc::clone(&buffer));
                    local.push((shared.id, Arc::clone(&buffer)));
                    buffer
                }
            };
            let mut bytes = buffer.lock().unwrap_or_else(PoisonError::into_inner);
            if bytes.len() + line.len() > shared.limit {
                return false;
            }
            bytes.extend_from_slice(line);
            true
        });
        if !appended {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Shared {
    /// The writer thread: every [`FLUSH_INTERVAL`], and once more when stopped, writes what
    /// every thread buffered.
    fn run<W: Write>(&self, mut sink: W) {
        let mut spare = Vec::new();
        loop {
            let stopping = {
                let stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
                let (stop, _) = self
                    .wake
                    .wait_timeout_while(stop, FLUSH_INTERVAL, |stop| !*stop)
                    .unwrap_or_else(PoisonError::into_inner);
                *stop
            };
            self.flush(&mut sink, &mut spare);
            if stopping {
                return;
            }
        }
    }

    /// Writes every thread's buffered lines (swapping each buffer with `spare`, so its capacity
    /// is reused) and the count of lines dropped since the last flush.
    fn flush<W: Write>(&self, sink: &mut W, spare: &mut Vec<u8>) {
        let buffers: Vec<Buffer> = {
            let mut all = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
            // Only the list holds an exited thread's buffer: gone once it was written.
            all.retain(|buffer| {
                Arc::strong_count(buffer) > 1
                    || !buffer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .is_empty()
            });
            all.clone()
        };
        for buffer in buffers {
            {
                let mut bytes = buffer.lock().unwrap_or_else(PoisonError::into_inner);
                if bytes.is_empty() {
                    continue;
                }
                std::mem::swap(&mut *bytes, spare);
            }
            // A failing sink (closed stderr) loses these lines; there is nowhere to say so.
            let _ = sink.write_all(spare);
            spare.clear();
        }
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                sink,
                "{{\"level\":\"WARN\",\"target\":\"switchyard::logs\",\"message\":\"{dropped} log lines dropped: written faster than the log sink took them\"}}"
            );
        }
        let _ = sink.flush();
    }
}

impl Drop for BatchWriterGuard {
    fn drop(&mut self) {
        *self
            .shared
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes into its thread's buffer; the fmt layer writes each formatted event in one call.
#[derive(Debug)]
pub struct LineWriter<'a> {
    writer: &'a BatchWriter,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { writer: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink recording what was written and how many `write` calls it took.
    #[derive(Clone, Default)]
    struct Recorder {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicUsize>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.fetch_add(1, Ordering::Relaxed);
            self.bytes.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Recorder {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.bytes.lock().expect("lock").clone())
                .expect("utf-8")
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    #[test]
    fn every_line_of_every_thread_is_written_in_its_thread_s_order_and_in_batches() {
        let sink = Recorder::default();
        let (writer, guard) = BatchWriter::new(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for n in 0..1000 {
                        writer
                            .make_writer()
                            .write_all(format!("{t} {n}\n").as_bytes())
                            .expect("never fails");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        drop(guard);
        let lines = sink.lines();
        assert_eq!(lines.len(), 4000);
        for t in 0..4 {
            let own: Vec<u32> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")))
                .map(|n| n.parse().expect("number"))
                .collect();
            assert_eq!(own, (0..1000).collect::<Vec<_>>(), "thread {t}");
        }
        // Batches: far fewer write calls than lines (per line would be 4000).
        assert!(
            sink.writes.load(Ordering::Relaxed) < 100,
            "{:?}",
            sink.writes
        );
    }

    #[test]
    fn lines_beyond_a_thread_s_limit_are_dropped_and_counted() {
        let sink = Recorder::default();
        let (writer, guard) = BatchWriter::with_limit(sink.clone(), 10);
        let mut line = writer.make_writer();
        line.write_all(b"12345\n").expect("kept");
        line.write_all(b"67890\n").expect("dropped, not an error");
        line.write_all(b"ab\n").expect("fits");
        drop(guard);
        let lines = sink.lines();
        assert_eq!(lines[..2], ["12345", "ab"]);
        assert!(
            lines[2].contains("1 log lines dropped"),
            "the loss is reported: {lines:?}"
        );
    }

    #[test]
    fn a_line_is_written_within_the_flush_interval_without_stopping() {
        let sink = Recorder::default();
        let (writer, _guard) = BatchWriter::new(sink.clone());
        writer
            .make_writer()
            .write_all(b"soon\n")
            .expect("never fails");
        // Waits for the writer thread's timer, not for a fixed time: polls until the line is
        // there, failing after 100 intervals.
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 100;
        while sink.lines().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::park_timeout(FLUSH_INTERVAL / 5);
        }
        assert_eq!(sink.lines(), ["soon"]);
    }

    #[test]
    fn a_thread_s_buffer_is_flushed_after_the_thread_exits() {
        let sink = Recorder::default();
        let (writer, guard) = BatchWriter::new(sink.clone());
        let clone = writer.clone();
        std::thread::spawn(move || clone.make_writer().write_all(b"last words\n"))
            .join()
            .expect("thread")
            .expect("written");
        drop(guard);
        assert_eq!(sink.lines(), ["last words"]);
        // The next flush lets the exited thread's buffer go.
        writer.shared.flush(&mut io::sink(), &mut Vec::new());
        assert!(writer.shared.buffers.lock().expect("lock").is_empty());
    }
}
