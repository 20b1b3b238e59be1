//! The response cache's byte bound counts what its entries really take on the heap: the keys'
//! and answers' bytes plus each entry's own bookkeeping, measured here by a counting allocator
//! (this test binary's global allocator) while the store fills.

use std::alloc::System;
use std::time::Duration;

use bytes::Bytes;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use switchyard_layers::cache::{CacheStore, KeyHasher, MemoryStore};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[tokio::test(flavor = "current_thread")]
async fn the_byte_bound_counts_each_entrys_bookkeeping() {
    const ENTRIES: usize = 20_000;
    // An answer of the size a short chat completion has.
    let answer = vec![b'x'; 300];
    let store = MemoryStore::with_max_bytes(1 << 40);
    let keys: Vec<_> = (0..ENTRIES)
        .map(|i| {
            let mut key = KeyHasher::new("chat");
            key.field("prompt", &i.to_string());
            key.finish().expect("a key")
        })
        .collect();
    let key_bytes: usize = keys.iter().map(|k| k.as_str().len()).sum();
    store.run_pending_tasks().await;
    let region = Region::new(ALLOCATOR);
    for key in &keys {
        store
            .put(key, Bytes::from(answer.clone()), Duration::from_secs(600))
            .await
            .expect("put");
    }
    store.run_pending_tasks().await;
    // The keys were allocated before; the store holds clones of them (a shared `Arc`), so their
    // bytes count once, as the weigher counts them.
    let change = region.change();
    let grown = change.bytes_allocated.cast_signed() + change.bytes_reallocated
        - change.bytes_deallocated.cast_signed();
    let held = usize::try_from(grown).expect("the store grew") + key_bytes;
    let weighed = usize::try_from(store.weighted_size()).expect("fits");
    let plain = key_bytes + ENTRIES * answer.len();
    eprintln!(
        "{ENTRIES} entries: heap {held} bytes ({} per entry), weighed {weighed}, keys and answers {plain}",
        held / ENTRIES
    );
    // Weighed within a fifth of what the entries take: a bound of N bytes holds about N bytes.
    assert!(
        weighed * 5 >= held * 4 && weighed * 5 <= held * 6,
        "weighed {weighed} bytes for {held} held"
    );
}
