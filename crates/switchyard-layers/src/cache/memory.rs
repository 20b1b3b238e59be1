//! [`MemoryStore`]: entries kept in this process, in a moka cache bounded by a number of entries
//! or by bytes, each entry with its own TTL.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use moka::Expiry;
use moka::future::Cache;
use tokio::time::Instant;

use super::key::CacheKey;
use super::store::{CacheStore, StoreError};

/// Heap bytes an entry takes besides its key and answer: moka's entry, its places in the
/// access and write orders and the expiry timer wheel, the hash table's slot, the answer's
/// shared buffer header. Measured by `tests/cache_memory.rs` (about 350 bytes an entry with
/// moka 0.12 on x86-64); without it a bound of 64 MB held twice that in short answers.
pub const ENTRY_OVERHEAD_BYTES: usize = 350;

/// No entry lives longer than this, whatever it asks (moka refuses very long expirations).
const LONGEST: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Entries in this process's memory, lost on restart and not shared between replicas.
///
/// Bounded by entries ([`MemoryStore::with_max_entries`]) or by the heap bytes entries take
/// ([`MemoryStore::with_max_bytes`]: keys, values and [`ENTRY_OVERHEAD_BYTES`] each); moka evicts the least useful entries past the bound and
/// expired ones by its own clock. Reads also check each entry's deadline on tokio's clock, so
/// tests that pause and advance time see entries expire exactly.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use switchyard_layers::cache::{CacheStore, KeyHasher, MemoryStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemoryStore::with_max_bytes(64 << 20);
/// let mut key = KeyHasher::new("demo");
/// key.field("q", "2+2");
/// let key = key.finish().ok_or("no key")?;
/// store.put(&key, Bytes::from_static(b"4"), Duration::from_secs(60)).await?;
/// assert_eq!(store.get(&key).await?, Some(Bytes::from_static(b"4")));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    entries: Cache<CacheKey, Stored>,
}

#[derive(Clone)]
struct Stored {
    value: Bytes,
    ttl: Duration,
    /// `None` when beyond what the clock can count.
    expires_at: Option<Instant>,
}

/// Each entry expires after its own TTL, counted again when it is replaced.
struct PerEntryTtl;

impl Expiry<CacheKey, Stored> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        stored: &Stored,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(stored.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &CacheKey,
        stored: &Stored,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(stored.ttl)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.entries.entry_count())
            .field("weighted_size", &self.entries.weighted_size())
            .field("max_capacity", &self.entries.policy().max_capacity())
            .finish()
    }
}

impl MemoryStore {
    /// A store holding up to `entries` entries.
    pub fn with_max_entries(entries: u64) -> Self {
        Self {
            entries: Cache::builder()
                .name("switchyard-response-cache")
                .max_capacity(entries)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }

    /// A store holding up to `bytes` bytes of heap: each entry weighs its key's and value's
    /// bytes plus [`ENTRY_OVERHEAD_BYTES`].
    pub fn with_max_bytes(bytes: u64) -> Self {
        Self {
            entries: Cache::builder()
                .name("switchyard-response-cache")
                .max_capacity(bytes)
                .weigher(|key: &CacheKey, stored: &Stored| {
                    let bytes = key.as_str().len() + stored.value.len();
                    u32::try_from(bytes.saturating_add(ENTRY_OVERHEAD_BYTES)).unwrap_or(u32::MAX)
                })
                .expire_after(PerEntryTtl)
                .build(),
        }
    }

    /// Entries held, approximately (moka counts asynchronously).
    pub fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }

    /// Bytes held (with [`MemoryStore::with_max_bytes`]) or entries held, approximately.
    pub fn weighted_size(&self) -> u64 {
        self.entries.weighted_size()
    }

    /// Applies pending evictions and expirations now, so counts are exact.
    pub async fn run_pending_tasks(&self) {
        self.entries.run_pending_tasks().await;
    }
}

impl CacheStore for MemoryStore {
    fn get(&self, key: &CacheKey) -> BoxFuture<'static, Result<Option<Bytes>, StoreError>> {
        let entries = self.entries.clone();
        let key = key.clone();
        Box::pin(async move {
            let stored = entries.get(&key).await;
            let now = Instant::now();
            Ok(stored
                .filter(|stored| stored.expires_at.is_none_or(|at| at > now))
                .map(|stored| stored.value))
        })
    }

    fn put(
        &self,
        key: &CacheKey,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let entries = self.entries.clone();
        let key = key.clone();
        let ttl = ttl.min(LONGEST);
        Box::pin(async move {
            let stored = Stored {
                value,
                ttl,
                expires_at: Instant::now().checked_add(ttl),
            };
            entries.insert(key, stored).await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyHasher;

    fn key(name: &str) -> CacheKey {
        let mut key = KeyHasher::new("t");
        key.field("name", name);
        key.finish().expect("key")
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_their_own_ttl_on_tokio_time() {
        let store = MemoryStore::with_max_entries(10);
        let (short, long) = (key("short"), key("long"));
        let value = Bytes::from_static(b"v");
        store
            .put(&short, value.clone(), Duration::from_secs(10))
            .await
            .expect("put");
        store
            .put(&long, value.clone(), Duration::from_secs(60))
            .await
            .expect("put");
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(store.get(&short).await, Ok(Some(value.clone())));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(store.get(&short).await, Ok(None));
        assert_eq!(store.get(&long).await, Ok(Some(value.clone())));
        // Replacing an entry starts its TTL again.
        store
            .put(&short, value.clone(), Duration::from_secs(5))
            .await
            .expect("put");
        assert_eq!(store.get(&short).await, Ok(Some(value)));
    }

    #[tokio::test]
    async fn the_byte_bound_holds() {
        let store = MemoryStore::with_max_bytes(1_000);
        let ttl = Duration::from_secs(60);
        store
            .put(&key("big"), Bytes::from(vec![b'x'; 2_000]), ttl)
            .await
            .expect("put");
        for i in 0..20 {
            let value = Bytes::from(vec![b'y'; 100]);
            store
                .put(&key(&i.to_string()), value, ttl)
                .await
                .expect("put");
        }
        store.run_pending_tasks().await;
        assert!(store.weighted_size() <= 1_000, "{store:?}");
        assert_eq!(store.get(&key("big")).await, Ok(None));
    }

    #[tokio::test]
    async fn huge_ttls_are_capped_not_fatal() {
        let store = MemoryStore::with_max_entries(1);
        let value = Bytes::from_static(b"v");
        store
            .put(&key("k"), value.clone(), Duration::MAX)
            .await
            .expect("put");
        assert_eq!(store.get(&key("k")).await, Ok(Some(value)));
    }
}
