//! [`RateLimitLayer`]: the configuration that wraps a service in [`RateLimit`].

use std::fmt;
use std::sync::Arc;

use tower::Layer;

use super::backend::RateLimitBackend;
use super::service::RateLimit;

/// Applies rate limits to every request of the wrapped service: which limits with `K` (a
/// [`RateLimitKey`](super::RateLimitKey)), counted by a [`RateLimitBackend`]. Cheap to clone.
///
/// The [module docs](crate::rate_limit) open with a complete example.
pub struct RateLimitLayer<K> {
    keys: Arc<K>,
    backend: Arc<dyn RateLimitBackend>,
}

impl<K> RateLimitLayer<K> {
    /// Limits picked by `keys`, counted by `backend`.
    pub fn new(keys: K, backend: Arc<dyn RateLimitBackend>) -> Self {
        Self {
            keys: Arc::new(keys),
            backend,
        }
    }
}

impl<K> Clone for RateLimitLayer<K> {
    fn clone(&self) -> Self {
        Self {
            keys: Arc::clone(&self.keys),
            backend: Arc::clone(&self.backend),
        }
    }
}

impl<K> fmt::Debug for RateLimitLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer").finish_non_exhaustive()
    }
}

impl<S, K> Layer<S> for RateLimitLayer<K> {
    type Service = RateLimit<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::new(inner, Arc::clone(&self.keys), Arc::clone(&self.backend))
    }
}
