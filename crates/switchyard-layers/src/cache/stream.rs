//! Streamed answers: [`Recording`] serializes each chunk as it passes and stores the whole entry
//! only when the stream ends well (an error midway or an early drop stores nothing, and a drop is
//! counted as its own event); [`replay`] turns stored chunks back into a stream.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::Stream;
use futures_util::future::BoxFuture;
use serde::Serialize;

use super::response::BoxChunkStream;
use super::state::Slot;
use super::store::StoreError;

/// A stream yielding `chunks` in order, as a stored streamed answer is replayed.
pub(crate) fn replay<C, E>(chunks: Vec<C>) -> BoxChunkStream<C, E>
where
    C: Send + 'static,
    E: Send + 'static,
{
    Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)))
}

enum Phase {
    /// Passing chunks on.
    Streaming,
    /// The inner stream ended; the entry is being stored before the end is passed on.
    Writing,
    /// The end was passed on.
    Done,
}

/// Passes a stream's chunks through unchanged, serializing each one into the entry under
/// construction as it goes by (the chunks themselves are never cloned).
///
/// When the inner stream ends, the entry is stored before the end is passed on, so a caller that
/// has seen the end can count on the next lookup. The entry is given up for good on the first
/// error, once it outgrows the layer's maximum entry size, or when the stream is dropped.
pub(crate) struct Recording<C, E> {
    inner: BoxChunkStream<C, E>,
    slot: Slot,
    /// `{"chunks":[` and the chunks serialized so far; `None` once given up.
    entry: Option<Vec<u8>>,
    write: Option<BoxFuture<'static, Result<(), StoreError>>>,
    phase: Phase,
}

impl<C, E> Recording<C, E> {
    pub fn new(inner: BoxChunkStream<C, E>, slot: Slot) -> Self {
        Self {
            inner,
            slot,
            entry: Some(Vec::new()),
            write: None,
            phase: Phase::Streaming,
        }
    }
}

impl<C: Serialize, E> Recording<C, E> {
    fn record(&mut self, chunk: &C) {
        let Some(entry) = &mut self.entry else {
            return;
        };
        entry.extend_from_slice(if entry.is_empty() {
            b"{\"chunks\":["
        } else {
            b","
        });
        let tracker = &self.slot.shared.tracker;
        if serde_json::to_writer(&mut *entry, chunk).is_err() {
            // Not JSON: such a stream cannot be stored.
            self.entry = None;
            tracker.count(&tracker.streams_failed);
        } else if entry.len() > self.slot.shared.settings.max_entry_bytes {
            self.entry = None;
            tracker.count(&tracker.too_large);
        }
    }
}

impl<C: Serialize, E> Stream for Recording<C, E> {
    type Item = Result<C, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.phase {
                Phase::Streaming => match ready!(this.inner.as_mut().poll_next(cx)) {
                    Some(Ok(chunk)) => {
                        this.record(&chunk);
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    Some(Err(error)) => {
                        if this.entry.take().is_some() {
                            let tracker = &this.slot.shared.tracker;
                            tracker.count(&tracker.streams_failed);
                        }
                        return Poll::Ready(Some(Err(error)));
                    }
                    None => {
                        this.write = this
                            .entry
                            .take()
                            .filter(|entry| !entry.is_empty())
                            .and_then(|mut entry| {
                                entry.extend_from_slice(b"]}");
                                this.slot.write(entry)
                            });
                        this.phase = Phase::Writing;
                    }
                },
                Phase::Writing => {
                    if let Some(write) = &mut this.write {
                        let result = ready!(write.as_mut().poll(cx));
                        this.write = None;
                        this.slot.written(result);
                    }
                    this.phase = Phase::Done;
                }
                Phase::Done => return Poll::Ready(None),
            }
        }
    }
}

impl<C, E> Drop for Recording<C, E> {
    fn drop(&mut self) {
        match self.phase {
            Phase::Streaming if self.entry.is_some() => {
                let tracker = &self.slot.shared.tracker;
                tracker.count(&tracker.streams_dropped);
                tracing::debug!(key = %self.slot.key, "stream dropped before its end: not cached");
            }
            Phase::Writing => {
                // The answer is whole; only its storing was interrupted: finish it if a runtime
                // is there to do it.
                if let (Some(write), Ok(runtime)) =
                    (self.write.take(), tokio::runtime::Handle::try_current())
                {
                    let slot = self.slot.clone();
                    runtime.spawn(async move { slot.written(write.await) });
                }
            }
            Phase::Streaming | Phase::Done => {}
        }
    }
}
