//! [`RateLimit`]: the service that asks the backend before each call and settles the call's
//! tokens after it.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{BoxError, Service};

use super::backend::RateLimitBackend;
use super::future::ResponseFuture;
use super::key::RateLimitKey;
use super::tokens::{EstimateTokens, UsedTokens};

/// Admits a request only if every limit [`RateLimitKey`] picks for it admits it; otherwise
/// fails with a [`RateLimitError`](super::RateLimitError) (boxed, like tower's own errors) and
/// the inner service never sees the request.
///
/// The request is counted with its [`EstimateTokens`] estimate; once the inner service answers,
/// the estimate is corrected with the response's [`UsedTokens`], or the correction is handed to
/// the response to settle later. A call that fails gives its estimated tokens back (it still
/// counts as a request). Built by [`RateLimitLayer`](super::RateLimitLayer).
pub struct RateLimit<S, K> {
    inner: S,
    keys: Arc<K>,
    backend: Arc<dyn RateLimitBackend>,
}

impl<S, K> RateLimit<S, K> {
    /// Wraps `inner`.
    pub fn new(inner: S, keys: Arc<K>, backend: Arc<dyn RateLimitBackend>) -> Self {
        Self {
            inner,
            keys,
            backend,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, K> Clone for RateLimit<S, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            keys: Arc::clone(&self.keys),
            backend: Arc::clone(&self.backend),
        }
    }
}

impl<S: fmt::Debug, K> fmt::Debug for RateLimit<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K, Req> Service<Req> for RateLimit<S, K>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    S::Response: UsedTokens,
    K: RateLimitKey<Req>,
    Req: EstimateTokens,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let checks = self.keys.checks(&req);
        if checks.is_empty() {
            return ResponseFuture::unlimited(self.inner.call(req));
        }
        let tokens = req.estimated_tokens();
        match self.backend.acquire(&checks, tokens).into_ready() {
            Ok(Ok(grant)) => {
                let backend = Arc::clone(&self.backend);
                ResponseFuture::admitted(self.inner.call(req), backend, checks, grant)
            }
            Ok(Err(refused)) => ResponseFuture::refused(refused),
            Err(acquire) => {
                // The answer comes later: take the service that is ready and leave a clone,
                // as tower's `AsyncFilter` does.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let backend = Arc::clone(&self.backend);
                ResponseFuture::acquiring(acquire, ready, req, backend, checks)
            }
        }
    }
}
