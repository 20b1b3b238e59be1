//! What one connection is doing, as its task needs to know to close it in time: how many
//! requests are open on it (from the end of a request's headers until its answer's body has
//! been sent or dropped), since when none has been, whether it has had one yet, whether
//! something asked for it to close, and whether its client sent a head framed two ways.
//! [`Counted`] is the service a connection serves: the app, with each request counted, its body
//! put under the body deadline, and marked [`AmbiguousFraming`] on such a connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, Version, header};
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tokio::time::Instant;
use tower::{BoxError, Service};

use super::deadline::DeadlineBody;
use super::framing::AmbiguousFraming;

/// One connection's activity, shared by its task and its requests.
///
/// A request beginning or ending wakes no one: the connection's task learns of it when its
/// idle timer fires and it looks again ([`Activity::idle_since`]). Waking it at each turn
/// between idle and busy polled the whole connection, and the call in it, twice more per
/// request for nothing.
#[derive(Debug)]
pub(super) struct Activity {
    open: AtomicUsize,
    begun: AtomicBool,
    close: AtomicBool,
    ambiguous_framing: AtomicBool,
    /// When the connection was opened: the origin of `idle_since_micros`.
    opened: Instant,
    /// When the last open request ended, in microseconds after `opened` (0 before any).
    idle_since_micros: AtomicU64,
    /// Woken when the connection is asked to close. A single task waits, and `notify_one`
    /// keeps a wake-up for it when it is not waiting yet, so none is lost.
    changed: Notify,
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            begun: AtomicBool::new(false),
            close: AtomicBool::new(false),
            ambiguous_framing: AtomicBool::new(false),
            opened: Instant::now(),
            idle_since_micros: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    /// A request has begun; it stays open until the returned guard is dropped.
    fn begin(self: &Arc<Self>) -> InProgress {
        self.begun.store(true, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::AcqRel);
        InProgress(Arc::clone(self))
    }

    /// No request is open.
    pub(super) fn is_idle(&self) -> bool {
        self.open.load(Ordering::Acquire) == 0
    }

    /// Since when no request has been open: the end of the last one, or the connection's
    /// opening before any. `None` while one is open.
    pub(super) fn idle_since(&self) -> Option<Instant> {
        if !self.is_idle() {
            return None;
        }
        let micros = self.idle_since_micros.load(Ordering::Acquire);
        Some(self.opened + Duration::from_micros(micros))
    }

    /// A request has begun on this connection.
    pub(super) fn has_begun(&self) -> bool {
        self.begun.load(Ordering::Relaxed)
    }

    /// Asks for the connection to close once its open requests are answered.
    pub(super) fn close(&self) {
        if !self.close.swap(true, Ordering::AcqRel) {
            self.changed.notify_one();
        }
    }

    /// Whether [`Activity::close`] was called.
    pub(super) fn close_requested(&self) -> bool {
        self.close.load(Ordering::Acquire)
    }

    /// The client sent a head with both `Content-Length` and `Transfer-Encoding`.
    pub(super) fn framing_was_ambiguous(&self) {
        self.ambiguous_framing.store(true, Ordering::Release);
    }

    /// Resolves at the next change (or at once if one happened since the last call).
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Holds one request open on its connection.
#[derive(Debug)]
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let activity = &self.0;
        // Stamped before the count falls, so that whoever sees the connection idle sees when
        // it turned so (the last request to end stamps last).
        let micros = u64::try_from(activity.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        activity.idle_since_micros.store(micros, Ordering::Release);
        activity.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The app as one connection serves it: each request counted as open until its answer has
/// been sent, and its body given `body_timeout` to arrive.
#[derive(Debug, Clone)]
pub(super) struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
    body_timeout: Duration,
}

impl<S> Counted<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>, body_timeout: Duration) -> Self {
        Self {
            inner,
            activity,
            body_timeout,
        }
    }
}

impl<S, B> Service<Request<B>> for Counted<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let in_progress = self.activity.begin();
        let http1 = request.version() <= Version::HTTP_11;
        // The scan saw the head before hyper handed the request over, so the flag is set by
        // now if this request (or one before it on the connection) was framed two ways.
        if http1 && self.activity.ambiguous_framing.load(Ordering::Acquire) {
            request.extensions_mut().insert(AmbiguousFraming);
            self.activity.close();
        }
        let request = request.map(|body| {
            if body.is_end_stream() {
                Body::new(body)
            } else {
                Body::new(DeadlineBody::new(
                    body,
                    self.body_timeout,
                    Arc::clone(&self.activity),
                ))
            }
        });
        ResponseFuture {
            inner: self.inner.call(request),
            in_progress: Some(in_progress),
            http1,
        }
    }
}

pin_project! {
    /// [`Counted`]'s future: the answer, with the request's place among the open ones moved
    /// into its body.
    pub(super) struct ResponseFuture<F> {
        #[pin]
        inner: F,
        in_progress: Option<InProgress>,
        http1: bool,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let Some(in_progress) = this.in_progress.take() else {
            return Poll::Ready(Ok(response));
        };
        if *this.http1 && in_progress.0.close_requested() {
            // Says so to the client rather than leave it to find the connection gone; hyper
            // would add it only if the close reached it before the head was written.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response.map(|inner| {
            Body::new(CountedBody {
                inner,
                _in_progress: in_progress,
            })
        })))
    }
}

pin_project! {
    /// An answer's body, keeping its request open until it has been sent or dropped.
    struct CountedBody {
        #[pin]
        inner: Body,
        _in_progress: InProgress,
    }
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_request_is_open_until_its_answer_body_is_done() {
        let activity = Activity::new();
        let app = tower::service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::from("answer")))
        });
        let service = Counted::new(app, Arc::clone(&activity), Duration::from_secs(1));
        assert!(activity.is_idle() && !activity.has_begun());
        // Idle since the connection opened, before its first request.
        assert_eq!(activity.idle_since(), Some(activity.opened));
        let response = service
            .oneshot(Request::new(http_body_util::Empty::<Bytes>::new()))
            .await
            .expect("an answer");
        assert!(!activity.is_idle() && activity.has_begun());
        assert_eq!(activity.idle_since(), None);
        assert!(!response.headers().contains_key(header::CONNECTION));
        let before_end = Instant::now();
        let body = response.into_body().collect().await.expect("a body");
        assert_eq!(&body.to_bytes()[..], b"answer");
        assert!(activity.is_idle());
        // Idle since the answer's body was done, to the microsecond.
        let since = activity.idle_since().expect("idle");
        assert!(
            since + Duration::from_micros(1) >= before_end && since <= Instant::now(),
            "{since:?} against {before_end:?}"
        );
    }

    #[tokio::test]
    async fn requests_on_a_connection_with_an_ambiguous_head_are_marked_and_close_it() {
        let activity = Activity::new();
        let app = tower::service_fn(|request: Request<Body>| async move {
            let marked = request.extensions().get::<AmbiguousFraming>().is_some();
            Ok::<_, std::convert::Infallible>(Response::new(Body::from(marked.to_string())))
        });
        let service = Counted::new(app, Arc::clone(&activity), Duration::from_secs(1));
        let ask = || Request::new(http_body_util::Empty::<Bytes>::new());
        let marked = async |response: Response<Body>| {
            let body = response.into_body().collect().await.expect("a body");
            body.to_bytes() == "true"
        };
        let response = service.clone().oneshot(ask()).await.expect("an answer");
        assert!(!marked(response).await);
        activity.framing_was_ambiguous();
        let response = service.clone().oneshot(ask()).await.expect("an answer");
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert!(marked(response).await);
        assert!(activity.close_requested());
    }

    #[tokio::test]
    async fn an_http1_answer_on_a_closing_connection_says_close() {
        let activity = Activity::new();
        activity.close();
        let app = tower::service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        });
        let service = Counted::new(app, Arc::clone(&activity), Duration::from_secs(1));
        let response = service
            .clone()
            .oneshot(Request::new(http_body_util::Empty::<Bytes>::new()))
            .await
            .expect("an answer");
        assert_eq!(response.headers()[header::CONNECTION], "close");
        // HTTP/2 has no `Connection` header (its GOAWAY says it).
        let mut h2 = Request::new(http_body_util::Empty::<Bytes>::new());
        *h2.version_mut() = Version::HTTP_2;
        let response = service.oneshot(h2).await.expect("an answer");
        assert!(!response.headers().contains_key(header::CONNECTION));
    }
}
