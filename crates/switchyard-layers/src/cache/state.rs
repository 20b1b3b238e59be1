//! The state every service built from one [`CacheLayer`](super::CacheLayer) shares: the store,
//! the settings, the store's health (an outage is logged once, and the store is left alone for a
//! moment after each failure) and the counters behind [`CacheStats`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::control::CacheControl;
use super::key::CacheKey;
use super::request::KeyOptions;
use super::store::{CacheStore, StoreError};

/// Counts since the layer was built, over every service it built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls looked up and not found, or whose lookup failed.
    pub misses: u64,
    /// Calls that did not look: no key, `no-cache` or `no-store`.
    pub bypasses: u64,
    /// Answers stored.
    pub stored: u64,
    /// Answers not stored because they were larger than the layer's maximum entry size.
    pub too_large: u64,
    /// Streamed answers dropped by the caller before their end: nothing stored.
    pub streams_dropped: u64,
    /// Streamed answers that failed midway: nothing stored.
    pub streams_failed: u64,
    /// Stored values that could not be read back as an entry (treated as misses).
    pub unreadable: u64,
    /// Store lookups and writes that failed.
    pub store_failures: u64,
    /// Times the store stopped answering (each logged once).
    pub outages: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub ttl: Duration,
    pub max_ttl: Duration,
    pub max_entry_bytes: usize,
    pub key_options: KeyOptions,
    pub retry_after: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            max_entry_bytes: 4 << 20,
            key_options: KeyOptions::default(),
            retry_after: Duration::from_secs(1),
        }
    }
}

pub(crate) struct Shared {
    pub store: Arc<dyn CacheStore>,
    pub settings: Settings,
    pub tracker: Arc<Tracker>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("store", &self.store)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// How long the answer to a call with `control` is kept.
    pub fn ttl(&self, control: &CacheControl) -> Duration {
        control
            .ttl
            .unwrap_or(self.settings.ttl)
            .min(self.settings.max_ttl)
    }

    /// Looks `key` up, unless the store is resting after a failure.
    pub fn lookup(
        &self,
        key: &CacheKey,
    ) -> Option<BoxFuture<'static, Result<Option<Bytes>, StoreError>>> {
        self.tracker
            .admit(self.settings.retry_after)
            .then(|| self.store.get(key))
    }
}

/// Where one answer goes once it is complete: the shared state, its key and its TTL.
#[derive(Clone)]
pub(crate) struct Slot {
    pub shared: Arc<Shared>,
    pub key: CacheKey,
    pub ttl: Duration,
}

impl Slot {
    /// Starts storing `value`, unless it is too large or the store is resting.
    pub fn write(&self, value: Vec<u8>) -> Option<BoxFuture<'static, Result<(), StoreError>>> {
        let settings = &self.shared.settings;
        if value.len() > settings.max_entry_bytes {
            self.shared.tracker.count(&self.shared.tracker.too_large);
            return None;
        }
        if self.ttl.is_zero() || !self.shared.tracker.admit(settings.retry_after) {
            return None;
        }
        Some(
            self.shared
                .store
                .put(&self.key, Bytes::from(value), self.ttl),
        )
    }

    /// Books the end of a write.
    pub fn written(&self, result: Result<(), StoreError>) {
        let tracker = &self.shared.tracker;
        if tracker
            .observe(result, self.shared.settings.retry_after)
            .is_some()
        {
            tracker.count(&tracker.stored);
        }
    }
}

/// Counters and store health.
pub(crate) struct Tracker {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub bypasses: AtomicU64,
    pub stored: AtomicU64,
    pub too_large: AtomicU64,
    pub streams_dropped: AtomicU64,
    pub streams_failed: AtomicU64,
    pub unreadable: AtomicU64,
    store_failures: AtomicU64,
    outages: AtomicU64,
    down: AtomicBool,
    /// While down: when the next call may try the store, in milliseconds since `epoch`.
    probe_at_ms: AtomicU64,
    epoch: Instant,
}

impl Tracker {
    pub fn new() -> Self {
        Self {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            bypasses: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            too_large: AtomicU64::new(0),
            streams_dropped: AtomicU64::new(0),
            streams_failed: AtomicU64::new(0),
            unreadable: AtomicU64::new(0),
            store_failures: AtomicU64::new(0),
            outages: AtomicU64::new(0),
            down: AtomicBool::new(false),
            probe_at_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    pub fn count(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> CacheStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&self.hits),
            misses: get(&self.misses),
            bypasses: get(&self.bypasses),
            stored: get(&self.stored),
            too_large: get(&self.too_large),
            streams_dropped: get(&self.streams_dropped),
            streams_failed: get(&self.streams_failed),
            unreadable: get(&self.unreadable),
            store_failures: get(&self.store_failures),
            outages: get(&self.outages),
        }
    }

    /// Whether a call may use the store now: always while it answers; after a failure, one call
    /// per `retry_after`, so an unreachable store costs one call a wait, not every call.
    fn admit(&self, retry_after: Duration) -> bool {
        if !self.down.load(Ordering::Relaxed) {
            return true;
        }
        let now = self.now_ms();
        let probe_at = self.probe_at_ms.load(Ordering::Relaxed);
        now >= probe_at
            && self
                .probe_at_ms
                .compare_exchange(
                    probe_at,
                    now.saturating_add(millis(retry_after)),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// The value of a store operation, or `None` after booking its failure. The first failure of
    /// an outage is logged as a warning, the recovery as information; nothing else is logged.
    pub fn observe<T>(&self, result: Result<T, StoreError>, retry_after: Duration) -> Option<T> {
        match result {
            Ok(value) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        failures = self.store_failures.load(Ordering::Relaxed),
                        "the response cache store answers again"
                    );
                }
                Some(value)
            }
            Err(error) => {
                self.count(&self.store_failures);
                self.probe_at_ms.store(
                    self.now_ms().saturating_add(millis(retry_after)),
                    Ordering::Relaxed,
                );
                if !self.down.swap(true, Ordering::Relaxed) {
                    self.count(&self.outages);
                    tracing::warn!(
                        "calls are answered without the response cache until its store \
                         answers: {error}"
                    );
                }
                None
            }
        }
    }

    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
