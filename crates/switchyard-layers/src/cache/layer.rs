//! [`CacheLayer`]: the cache's configuration (store, TTLs, size cap, key options), which wraps
//! services in [`Cache`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower::Layer;

use super::request::KeyOptions;
use super::service::Cache;
use super::state::{CacheStats, Settings, Shared, Tracker};
use super::store::CacheStore;

/// Wraps services in a response [`Cache`] on one store.
///
/// ```
/// use std::time::Duration;
/// use switchyard_layers::cache::{CacheLayer, KeyOptions, MemoryStore};
///
/// let layer = CacheLayer::new(MemoryStore::with_max_bytes(256 << 20))
///     .ttl(Duration::from_secs(300))
///     .max_ttl(Duration::from_secs(3600))
///     .max_entry_bytes(1 << 20)
///     .key_options(KeyOptions { include_user: true });
/// assert_eq!(layer.stats().hits, 0);
/// ```
///
/// The [module docs](super) show a whole stack. Cheap to clone; clones and every service they
/// build share the store and the counters ([`CacheLayer::stats`]).
#[derive(Clone)]
pub struct CacheLayer {
    store: Arc<dyn CacheStore>,
    settings: Settings,
    tracker: Arc<Tracker>,
}

impl fmt::Debug for CacheLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheLayer")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CacheLayer {
    /// A cache on `store`, keeping answers 10 minutes (at most a day when a request asks for
    /// longer), entries up to 4 MiB, keys without the end user.
    pub fn new(store: impl CacheStore) -> Self {
        Self::shared(Arc::new(store))
    }

    /// A cache on a store shared with other code.
    pub fn shared(store: Arc<dyn CacheStore>) -> Self {
        Self {
            store,
            settings: Settings::default(),
            tracker: Arc::new(Tracker::new()),
        }
    }

    /// Keeps answers `ttl` unless a request says otherwise.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = ttl;
        self
    }

    /// Keeps no answer longer than `max_ttl`, whatever a request asks.
    pub fn max_ttl(mut self, max_ttl: Duration) -> Self {
        self.settings.max_ttl = max_ttl;
        self
    }

    /// Stores no entry larger than `bytes` once serialized; a stream is given up as soon as it
    /// outgrows it, so it is never held whole beyond that.
    pub fn max_entry_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_entry_bytes = bytes;
        self
    }

    /// Keys requests with `options`.
    pub fn key_options(mut self, options: KeyOptions) -> Self {
        self.settings.key_options = options;
        self
    }

    /// After the store fails, lets one call try it again only every `pause` (1 second by
    /// default); the calls in between answer without the cache at once.
    pub fn retry_after(mut self, pause: Duration) -> Self {
        self.settings.retry_after = pause;
        self
    }

    /// Counts since the layer was built, over every service built from it or its clones.
    pub fn stats(&self) -> CacheStats {
        self.tracker.stats()
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = Cache<S>;

    fn layer(&self, inner: S) -> Cache<S> {
        Cache::new(
            inner,
            Arc::new(Shared {
                store: Arc::clone(&self.store),
                settings: self.settings.clone(),
                tracker: Arc::clone(&self.tracker),
            }),
        )
    }
}
