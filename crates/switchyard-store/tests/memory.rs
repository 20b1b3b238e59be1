//! The shared counter checks against [`MemoryCounters`], the counters a single process on
//! SQLite keeps in memory: the same sums, windows, all-or-nothing reservations and missing
//! counters as the database and Redis counters.

mod suite;

use std::sync::Arc;

use switchyard_store::MemoryCounters;

use suite::Cleanup;

async fn open() -> Option<(Arc<MemoryCounters>, Cleanup)> {
    Some((Arc::new(MemoryCounters::new()), Cleanup::none()))
}

suite::counter_tests!(open());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_runs_on_one_map() {
    suite::run_counters_suite(Arc::new(MemoryCounters::new())).await;
}
