//! The request body deadline: a client has until a fixed instant, counted from the end of a
//! request's headers, to send all of its body. A timeout per read would not do: a body trickled
//! a byte at a time keeps every read short. Once the deadline has passed the body fails with
//! [`BodyTimeout`], which the body reader answers with 408, and the connection is asked to
//! close (the rest of the body will never be read, so it cannot carry another request).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::BoxError;

use super::activity::Activity;

/// A request body did not arrive within its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive within {:.3}s", .limit.as_secs_f64())]
pub struct BodyTimeout {
    limit: Duration,
}

impl BodyTimeout {
    /// The deadline that passed, counted from the end of the request's headers.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The `BodyTimeout` behind `err`, however deeply wrapped: a body's error reaches its
    /// reader inside the errors of every layer the body went through.
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Self> {
        let mut next = Some(err);
        while let Some(err) = next {
            if let Some(timeout) = err.downcast_ref::<Self>() {
                return Some(timeout);
            }
            next = err.source();
        }
        None
    }
}

pin_project! {
    /// A request body that fails with [`BodyTimeout`] once its deadline has passed.
    pub(super) struct DeadlineBody<B> {
        #[pin]
        inner: B,
        #[pin]
        deadline: Sleep,
        limit: Duration,
        connection: Arc<Activity>,
    }
}

impl<B> DeadlineBody<B> {
    /// `inner`, which must have arrived whole `limit` from now; `connection` is asked to close
    /// when it has not.
    pub(super) fn new(inner: B, limit: Duration, connection: Arc<Activity>) -> Self {
        Self {
            inner,
            deadline: tokio::time::sleep(limit),
            limit,
            connection,
        }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        // What has arrived is taken first, so a body complete in time is never cut.
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        ready!(this.deadline.poll(cx));
        this.connection.close();
        Poll::Ready(Some(Err(BodyTimeout { limit: *this.limit }.into())))
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
    use futures_util::StreamExt;
    use http_body_util::BodyExt;

    use super::*;

    /// A body that sends `first`, then nothing ever again.
    fn stalled(first: &'static [u8]) -> impl Body<Data = bytes::Bytes, Error = BoxError> {
        let frames =
            futures_util::stream::iter([Ok(Frame::data(bytes::Bytes::from_static(first)))])
                .chain(futures_util::stream::pending());
        http_body_util::StreamBody::new(frames)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_still_arriving_at_the_deadline_fails_and_closes_its_connection() {
        let connection = Activity::new();
        let limit = Duration::from_secs(30);
        let started = tokio::time::Instant::now();
        let body = DeadlineBody::new(stalled(b"{\"model\""), limit, Arc::clone(&connection));
        let err = body.collect().await.expect_err("the body never ends");
        assert_eq!(started.elapsed(), limit);
        assert_eq!(BodyTimeout::find(&*err), Some(&BodyTimeout { limit }));
        assert!(connection.close_requested());
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_is_found_behind_axum_s_body_rejection() {
        use axum::extract::FromRequest;
        let limit = Duration::from_secs(2);
        let body = DeadlineBody::new(stalled(b"{"), limit, Activity::new());
        // As the app reads it: inside axum's body, under its length limit.
        let request = axum::extract::Request::new(axum::body::Body::new(body));
        let rejection = bytes::Bytes::from_request(request, &())
            .await
            .expect_err("the body never ends");
        assert_eq!(BodyTimeout::find(&rejection), Some(&BodyTimeout { limit }));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_complete_in_time_is_read_whole() {
        let connection = Activity::new();
        let body = DeadlineBody::new(
            http_body_util::Full::new(bytes::Bytes::from_static(b"{}")),
            Duration::from_secs(1),
            Arc::clone(&connection),
        );
        let bytes = body.collect().await.expect("a whole body").to_bytes();
        assert_eq!(&bytes[..], b"{}");
        assert!(!connection.close_requested());
    }
}
