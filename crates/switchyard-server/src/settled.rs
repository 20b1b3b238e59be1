//! [`SettledStream`]: a chunk stream that ends only once its call's budget reservation is
//! settled, so a client that starts its next call as soon as a stream ends is checked against
//! this call's exact cost, not its estimate. The settlement is handed over by the call's end
//! (which runs inside the inner stream's last poll) through a slot both sides share.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::future::BoxFuture;

use crate::storage::Settlement;

/// Where the end of a call leaves its settlement for the stream to wait on.
#[derive(Debug, Clone, Default)]
pub(crate) struct SettlementSlot(Arc<Mutex<Option<Settlement>>>);

impl SettlementSlot {
    /// Leaves `settlement` for the stream (called once, when the call ends).
    pub(crate) fn put(&self, settlement: Option<Settlement>) {
        if let Some(settlement) = settlement
            && let Ok(mut slot) = self.0.lock()
        {
            *slot = Some(settlement);
        }
    }

    fn take(&self) -> Option<Settlement> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// `inner`, whose end waits for the settlement left in its slot.
pub(crate) struct SettledStream<S> {
    inner: S,
    slot: SettlementSlot,
    waiting: Option<BoxFuture<'static, ()>>,
}

impl<S> SettledStream<S> {
    pub(crate) fn new(inner: S, slot: SettlementSlot) -> Self {
        Self {
            inner,
            slot,
            waiting: None,
        }
    }
}

impl<S: Stream + Unpin> Stream for SettledStream<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(waiting) = this.waiting.as_mut() {
            return waiting.as_mut().poll(cx).map(|()| None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(None) => match this.slot.take() {
                Some(settlement) => {
                    let mut waiting: BoxFuture<'static, ()> = Box::pin(settlement.wait());
                    let poll = waiting.as_mut().poll(cx).map(|()| None);
                    this.waiting = Some(waiting);
                    poll
                }
                None => Poll::Ready(None),
            },
            other => other,
        }
    }
}
