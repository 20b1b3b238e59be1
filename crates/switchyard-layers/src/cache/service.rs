//! [`Cache`]: the service that answers from the store when it can and records fresh answers.

use std::sync::Arc;
use std::task::{Context, Poll};

use tower::Service;

use super::future::ResponseFuture;
use super::request::Cacheable;
use super::response::{CacheStatus, CacheableResponse, Cached};
use super::state::{CacheStats, Shared, Slot};

/// Answers repeated requests from a [`CacheStore`](super::CacheStore) instead of the inner
/// service. Built by [`CacheLayer`](super::CacheLayer); see the [module docs](super) for an
/// example.
///
/// Each call takes the request's directives out of it, computes its key, and:
///
/// - looks the key up unless the caller said `no-cache` or `no-store`; on a hit, answers with
///   the stored entry ([`CacheStatus::Hit`]) without calling the inner service;
/// - otherwise calls the inner service; a complete answer is stored before it is handed over, a
///   streamed one is recorded as it passes and stored when it ends well (unless `no-store`).
///
/// The store never fails a call: a lookup that fails is a miss, a write that fails is skipped.
#[derive(Debug, Clone)]
pub struct Cache<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Cache<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Counts of the layer this service was built from.
    pub fn stats(&self) -> CacheStats {
        self.shared.tracker.stats()
    }
}

impl<S, Req> Service<Req> for Cache<S>
where
    S: Service<Req> + Clone,
    S::Response: CacheableResponse,
    Req: Cacheable,
{
    type Response = Cached<S::Response>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Req) -> Self::Future {
        let control = request.take_cache_control();
        let shared = &self.shared;
        let tracker = &shared.tracker;
        let key = (control.reads() || control.writes())
            .then(|| request.cache_key(&shared.settings.key_options))
            .flatten();
        let Some(key) = key else {
            tracker.count(&tracker.bypasses);
            return ResponseFuture::call(self.inner.call(request), None, CacheStatus::Bypass);
        };
        let lookup = if control.reads() {
            shared.lookup(&key)
        } else {
            None
        };
        let slot = control.writes().then(|| Slot {
            shared: Arc::clone(shared),
            key,
            ttl: shared.ttl(&control),
        });
        if let Some(lookup) = lookup {
            // The lookup comes before the inner call: keep the service that was made ready and
            // leave a clone in its place, as tower's middleware do.
            let clone = self.inner.clone();
            let ready = std::mem::replace(&mut self.inner, clone);
            return ResponseFuture::lookup(lookup, ready, request, Arc::clone(shared), slot);
        }
        let status = if control.reads() {
            // The store is resting after a failure: a miss without asking it.
            tracker.count(&tracker.misses);
            CacheStatus::Miss
        } else {
            tracker.count(&tracker.bypasses);
            CacheStatus::Bypass
        };
        ResponseFuture::call(self.inner.call(request), slot, status)
    }
}
