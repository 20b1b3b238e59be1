//! [`ResponseFuture`]: one call through the cache: look up, call the inner service on a miss,
//! store a complete answer before handing it over, or wrap a streamed one to record it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use pin_project_lite::pin_project;
use tower::Service;

use super::response::{CacheStatus, CacheableResponse, Cached, Entry};
use super::state::{Shared, Slot};
use super::store::StoreError;
use super::stream::Recording;

pin_project! {
    /// Response future of [`Cache`](super::Cache).
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S, Req, S::Future, S::Response>,
        slot: Option<Slot>,
        status: CacheStatus,
    }
}

pin_project! {
    #[project = StateProj]
    #[project_replace = StateOwned]
    enum State<S, Req, F, R> {
        /// Waiting for the store, holding a ready inner service and the request for a miss.
        Lookup {
            lookup: BoxFuture<'static, Result<Option<Bytes>, StoreError>>,
            service: S,
            request: Req,
            shared: Arc<Shared>,
        },
        /// Waiting for the inner service.
        Call { #[pin] future: F },
        /// Storing a complete answer before handing it over.
        Write {
            write: BoxFuture<'static, Result<(), StoreError>>,
            response: R,
        },
        Done,
    }
}

impl<S, Req> ResponseFuture<S, Req>
where
    S: Service<Req>,
{
    /// Looks up first; `service` must be ready.
    pub(crate) fn lookup(
        lookup: BoxFuture<'static, Result<Option<Bytes>, StoreError>>,
        service: S,
        request: Req,
        shared: Arc<Shared>,
        slot: Option<Slot>,
    ) -> Self {
        Self {
            state: State::Lookup {
                lookup,
                service,
                request,
                shared,
            },
            slot,
            status: CacheStatus::Miss,
        }
    }

    /// Goes straight to the inner service.
    pub(crate) fn call(future: S::Future, slot: Option<Slot>, status: CacheStatus) -> Self {
        Self {
            state: State::Call { future },
            slot,
            status,
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Response: CacheableResponse,
{
    type Output = Result<Cached<S::Response>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Lookup { lookup, shared, .. } => {
                    let found = ready!(lookup.as_mut().poll(cx));
                    if let Some(response) = hit::<S::Response>(shared, found) {
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(Cached {
                            response,
                            status: CacheStatus::Hit,
                        }));
                    }
                    let StateOwned::Lookup {
                        mut service,
                        request,
                        ..
                    } = this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Lookup")
                    };
                    let future = service.call(request);
                    this.state.set(State::Call { future });
                }
                StateProj::Call { future } => {
                    let result = ready!(future.poll(cx));
                    this.state.set(State::Done);
                    let response = result?;
                    let status = *this.status;
                    let Some(slot) = this.slot.take() else {
                        return Poll::Ready(Ok(Cached { response, status }));
                    };
                    let Some(complete) = response.as_complete() else {
                        let response =
                            response.map_stream(|stream| Box::pin(Recording::new(stream, slot)));
                        return Poll::Ready(Ok(Cached { response, status }));
                    };
                    let entry = serde_json::to_vec(&Entry::<_, ()>::Complete(complete));
                    match entry.map(|entry| slot.write(entry)) {
                        Ok(Some(write)) => {
                            *this.slot = Some(slot);
                            this.state.set(State::Write { write, response });
                        }
                        Ok(None) => return Poll::Ready(Ok(Cached { response, status })),
                        Err(error) => {
                            tracing::debug!(%error, "answer not stored: it is not JSON");
                            return Poll::Ready(Ok(Cached { response, status }));
                        }
                    }
                }
                StateProj::Write { write, .. } => {
                    let result = ready!(write.as_mut().poll(cx));
                    if let Some(slot) = this.slot.take() {
                        slot.written(result);
                    }
                    let StateOwned::Write { response, .. } =
                        this.state.as_mut().project_replace(State::Done)
                    else {
                        unreachable!("the state was Write")
                    };
                    return Poll::Ready(Ok(Cached {
                        response,
                        status: *this.status,
                    }));
                }
                StateProj::Done => panic!("cache ResponseFuture polled after completion"),
            }
        }
    }
}

/// The response rebuilt from what the lookup found, or `None` for a miss (nothing found, the
/// store failed, or the value does not read back as an entry of this response type).
fn hit<R: CacheableResponse>(
    shared: &Shared,
    found: Result<Option<Bytes>, StoreError>,
) -> Option<R> {
    let tracker = &shared.tracker;
    let bytes = tracker
        .observe(found, shared.settings.retry_after)
        .flatten();
    let entry = bytes.and_then(|bytes| {
        serde_json::from_slice::<Entry<R::Complete, R::Chunk>>(&bytes)
            .inspect_err(|error| {
                tracker.count(&tracker.unreadable);
                tracing::debug!(%error, "a stored answer does not read back: treated as a miss");
            })
            .ok()
    });
    match entry {
        Some(entry) => {
            tracker.count(&tracker.hits);
            Some(R::from_entry(entry))
        }
        None => {
            tracker.count(&tracker.misses);
            None
        }
    }
}
