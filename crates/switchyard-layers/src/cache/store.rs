//! Where entries live: the [`CacheStore`] trait the in-process ([`MemoryStore`](super::MemoryStore))
//! and shared ([`RedisStore`](super::RedisStore)) backends implement, and its [`StoreError`].

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::key::CacheKey;

/// A place to keep serialized entries for a while.
///
/// Values are opaque bytes (serde_json of an [`Entry`](super::Entry)), so one store serves any
/// response type. Futures are `'static`, so the layer can hold them in its own futures. A store
/// that fails is never fatal: the layer answers without it.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use futures_util::future::BoxFuture;
/// use switchyard_layers::cache::{CacheKey, CacheStore, StoreError};
///
/// /// A store that keeps nothing: every lookup misses.
/// #[derive(Debug)]
/// struct Nowhere;
///
/// impl CacheStore for Nowhere {
///     fn get(&self, _key: &CacheKey) -> BoxFuture<'static, Result<Option<Bytes>, StoreError>> {
///         Box::pin(async { Ok(None) })
///     }
///
///     fn put(
///         &self,
///         _key: &CacheKey,
///         _value: Bytes,
///         _ttl: Duration,
///     ) -> BoxFuture<'static, Result<(), StoreError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait CacheStore: fmt::Debug + Send + Sync + 'static {
    /// The value stored under `key`, unless it is absent or expired.
    fn get(&self, key: &CacheKey) -> BoxFuture<'static, Result<Option<Bytes>, StoreError>>;

    /// Stores `value` under `key` for `ttl` (never zero), replacing what was there.
    fn put(
        &self,
        key: &CacheKey,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>>;
}

/// Why a store did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached in time, or refused the command.
    #[error("cache store unreachable: {0}")]
    Unreachable(String),
    /// The store answered with something other than a value.
    #[error("cache store answered unexpectedly: {0}")]
    BadReply(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_store_is_object_safe() {
        fn _obj_safe(_: Box<dyn CacheStore>) {}
    }
}
