//! Polling a future inside a span ([`InSpan`]), as `tracing::Instrumented` does, without
//! entering the span once more to drop a future that has already finished.
//!
//! `Instrumented` enters its span to drop the inner future, whatever state that future is in,
//! so that what the drop does is still traced. For a future that ran to completion there is
//! nothing left to drop, yet the enter and exit still go through every layer of the subscriber
//! (a registry lookup per per-layer filter, the OpenTelemetry layer's end time): two of the
//! dozen or so enters and exits of a call. `InSpan` drops the finished future inside the span,
//! in the poll that finished it, and enters the span on drop only for a future dropped before
//! it finished (a call the client gave up on).
//!
//! ```
//! use switchyard_telemetry::InSpanExt;
//!
//! # async fn demo() {
//! let span = tracing::info_span!("work");
//! let answer = async { 42 }.in_span(span).await;
//! assert_eq!(answer, 42);
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tracing::Span;

pin_project_lite::pin_project! {
    /// `future` polled inside `span` ([`InSpanExt::in_span`]).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InSpan<F> {
        #[pin]
        future: Option<F>,
        span: Span,
    }

    impl<F> PinnedDrop for InSpan<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.future.is_some() {
                let _entered = this.span.enter();
                this.future.set(None);
            }
        }
    }
}

impl<F: Future> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        let future = this
            .future
            .as_mut()
            .as_pin_mut()
            .expect("InSpan polled after it finished");
        let output = ready!(future.poll(cx));
        // Dropped here, inside the span, so that dropping `InSpan` has nothing left to do.
        this.future.set(None);
        Poll::Ready(output)
    }
}

/// Runs futures inside a span with [`InSpan`].
pub trait InSpanExt: Future + Sized {
    /// This future, polled (and dropped) inside `span`.
    fn in_span(self, span: Span) -> InSpan<Self> {
        InSpan {
            future: Some(self),
            span,
        }
    }
}

impl<F: Future> InSpanExt for F {}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::Subscriber;
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;

    use super::*;

    /// Counts enters of the span named `work`.
    #[derive(Clone, Default)]
    struct Enters(Arc<Mutex<usize>>);

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Enters {
        fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {}

        fn on_enter(&self, id: &Id, cx: LayerContext<'_, S>) {
            if cx.span(id).is_some_and(|span| span.name() == "work") {
                *self.0.lock().expect("not poisoned") += 1;
            }
        }
    }

    /// Logs an event from its destructor, to see which span a drop happens in.
    struct Noisy;

    impl Drop for Noisy {
        fn drop(&mut self) {
            let current = Span::current();
            let name = current.metadata().map_or("none", |m| m.name());
            DROPPED_IN.with(|cell| *cell.lock().expect("not poisoned") = Some(name));
        }
    }

    thread_local! {
        static DROPPED_IN: Mutex<Option<&'static str>> = const { Mutex::new(None) };
    }

    fn dropped_in() -> Option<&'static str> {
        DROPPED_IN.with(|cell| cell.lock().expect("not poisoned").take())
    }

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    /// `work` in a `work` span: a future holding a [`Noisy`] until it finishes after `waits`
    /// pendings. `check` gets it and a count of the span's enters, under a subscriber that
    /// counts them.
    fn with_work(
        waits: usize,
        check: impl FnOnce(Pin<Box<InSpan<BoxedWork>>>, &dyn Fn() -> usize),
    ) {
        let enters = Enters::default();
        let subscriber = tracing_subscriber::registry().with(enters.clone());
        tracing::subscriber::with_default(subscriber, || {
            let noisy = Noisy;
            let work: BoxedWork = Box::pin(async move {
                let _noisy = noisy;
                for _ in 0..waits {
                    std::future::pending::<()>().await;
                }
                7
            });
            let count = || *enters.0.lock().expect("not poisoned");
            check(Box::pin(work.in_span(tracing::info_span!("work"))), &count);
        });
    }

    type BoxedWork = Pin<Box<dyn Future<Output = u32>>>;

    #[test]
    fn a_finished_future_was_dropped_inside_the_span_and_the_drop_enters_nothing() {
        with_work(0, |mut future, enters| {
            assert_eq!(poll_once(future.as_mut()), Poll::Ready(7));
            assert_eq!(dropped_in(), Some("work"));
            assert_eq!(enters(), 1);
            drop(future);
            assert_eq!(enters(), 1, "drop entered");
        });
    }

    #[test]
    fn an_unfinished_future_is_dropped_inside_the_span() {
        with_work(1, |mut future, enters| {
            assert_eq!(poll_once(future.as_mut()), Poll::Pending);
            assert_eq!(dropped_in(), None);
            drop(future);
            assert_eq!(dropped_in(), Some("work"));
            assert_eq!(enters(), 2);
        });
    }
}
