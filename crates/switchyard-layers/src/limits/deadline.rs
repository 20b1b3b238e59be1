//! The deadline layer: every request gets a timeout, its own wish capped by a maximum, or a
//! default when it has none; a request past it fails with [`Elapsed`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};

use super::Elapsed;

/// A request that may ask for its own timeout.
pub trait RequestedTimeout {
    /// The timeout the request asks for, if any. `None` and zero both take the layer's default.
    fn requested_timeout(&self) -> Option<Duration>;
}

/// Gives every request of the wrapped service a deadline.
///
/// ```
/// use std::time::Duration;
///
/// use switchyard_layers::limits::{DeadlineLayer, Elapsed, RequestedTimeout};
/// use tower::{BoxError, ServiceBuilder, ServiceExt};
///
/// /// A call that takes `work` and may ask for its own timeout.
/// struct Call {
///     timeout: Option<Duration>,
///     work: Duration,
/// }
///
/// impl RequestedTimeout for Call {
///     fn requested_timeout(&self) -> Option<Duration> {
///         self.timeout
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() {
///     let secs = Duration::from_secs;
///     // 30 s unless the request asks otherwise, never more than 60 s.
///     let service = ServiceBuilder::new()
///         .layer(DeadlineLayer::new(secs(30), secs(60)))
///         .service_fn(|call: Call| async move {
///             tokio::time::sleep(call.work).await;
///             Ok::<_, BoxError>("done")
///         });
///
///     let quick = Call { timeout: None, work: secs(1) };
///     assert_eq!(service.clone().oneshot(quick).await.ok(), Some("done"));
///
///     // Asking for two minutes still gets 60 s.
///     let slow = Call { timeout: Some(secs(120)), work: secs(90) };
///     let err = service.oneshot(slow).await.expect_err("past the cap");
///     assert_eq!(err.downcast_ref::<Elapsed>(), Some(&Elapsed::new(secs(60))));
/// }
/// ```
///
/// The inner service's error type must take an [`Elapsed`] (`From<Elapsed>`): tower's
/// `BoxError` does, and so does `ProviderError` with the `providers` feature (as a `Timeout`,
/// which is retryable). The deadline covers the inner future only, so for a streamed answer it
/// runs until the stream starts, not until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineLayer {
    default: Duration,
    max: Duration,
}

impl DeadlineLayer {
    /// Requests get `default` unless they ask for another timeout, and never more than `max`
    /// (a `default` above `max` is capped too).
    pub fn new(default: Duration, max: Duration) -> Self {
        Self { default, max }
    }

    /// The deadline for a request asking for `requested`.
    pub fn limit_for(&self, requested: Option<Duration>) -> Duration {
        requested
            .filter(|timeout| !timeout.is_zero())
            .unwrap_or(self.default)
            .min(self.max)
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            limits: *self,
        }
    }
}

/// The service [`DeadlineLayer`] builds.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    limits: DeadlineLayer,
}

impl<S> Deadline<S> {
    /// Wraps `inner` with the limits of `layer`.
    pub fn new(inner: S, layer: DeadlineLayer) -> Self {
        layer.layer(inner)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for Deadline<S>
where
    S: Service<Req>,
    S::Error: From<Elapsed>,
    Req: RequestedTimeout,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let limit = self.limits.limit_for(request.requested_timeout());
        ResponseFuture {
            inner: self.inner.call(request),
            sleep: tokio::time::sleep(limit),
            limit,
        }
    }
}

pin_project! {
    /// The future of [`Deadline`]: the inner answer, or [`Elapsed`] when the deadline passes
    /// first.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        limit: Duration,
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: From<Elapsed>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The answer first: one that is ready when the deadline passes still counts.
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result);
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new(*this.limit).into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;
    use tower::{ServiceBuilder, ServiceExt};

    struct Call {
        timeout: Option<Duration>,
        work: Duration,
    }

    impl RequestedTimeout for Call {
        fn requested_timeout(&self) -> Option<Duration> {
            self.timeout
        }
    }

    #[derive(Debug, PartialEq, thiserror::Error)]
    enum Fail {
        #[error(transparent)]
        Elapsed(#[from] Elapsed),
        #[error("upstream failed")]
        Upstream,
    }

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Runs `call` through a 10 s default, 20 s maximum deadline over a stub that works for
    /// `call.work` and then fails when asked to work exactly 3 s. Returns the result and how
    /// long it took.
    async fn run(call: Call) -> (Result<&'static str, Fail>, Duration) {
        let service = ServiceBuilder::new()
            .layer(DeadlineLayer::new(secs(10), secs(20)))
            .service_fn(|call: Call| async move {
                tokio::time::sleep(call.work).await;
                if call.work == secs(3) {
                    Err(Fail::Upstream)
                } else {
                    Ok("answer")
                }
            });
        let started = Instant::now();
        let result = service.oneshot(call).await;
        (result, started.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn answers_within_the_deadline_pass_through() {
        let call = Call {
            timeout: None,
            work: secs(1),
        };
        assert_eq!(run(call).await, (Ok("answer"), secs(1)));
        let failing = Call {
            timeout: None,
            work: secs(3),
        };
        assert_eq!(run(failing).await, (Err(Fail::Upstream), secs(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_without_a_wish_get_the_default() {
        let call = Call {
            timeout: None,
            work: secs(15),
        };
        let expected = Err(Fail::Elapsed(Elapsed::new(secs(10))));
        assert_eq!(run(call).await, (expected, secs(10)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_wish_is_granted_and_a_longer_one_capped() {
        let short = Call {
            timeout: Some(secs(2)),
            work: secs(5),
        };
        assert_eq!(
            run(short).await,
            (Err(Fail::Elapsed(Elapsed::new(secs(2)))), secs(2))
        );
        let longer = Call {
            timeout: Some(secs(15)),
            work: secs(12),
        };
        assert_eq!(run(longer).await, (Ok("answer"), secs(12)));
        let too_long = Call {
            timeout: Some(secs(600)),
            work: secs(30),
        };
        assert_eq!(
            run(too_long).await,
            (Err(Fail::Elapsed(Elapsed::new(secs(20)))), secs(20))
        );
    }

    #[test]
    fn limits_are_capped_and_zero_means_default() {
        let layer = DeadlineLayer::new(secs(90), secs(60));
        assert_eq!(layer.limit_for(None), secs(60), "the default is capped too");
        assert_eq!(layer.limit_for(Some(Duration::ZERO)), secs(60));
        assert_eq!(layer.limit_for(Some(secs(5))), secs(5));
    }

    #[test]
    fn elapsed_says_its_limit() {
        let err = Elapsed::new(Duration::from_millis(1_500));
        assert_eq!(err.limit(), Duration::from_millis(1_500));
        assert_eq!(err.to_string(), "no answer within 1.5s");
    }

    #[test]
    fn requested_timeout_is_object_safe() {
        fn _obj_safe(_: &dyn RequestedTimeout, _: Box<dyn RequestedTimeout + Send>) {}
    }
}
