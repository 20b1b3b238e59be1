//! `SpendWriter` against an in-memory SQLite store wrapped to fail, block or signal on demand:
//! everything recorded before shutdown is stored, failures are retried, a full queue sheds and
//! counts. Synchronisation is by `Notify`, never by sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use switchyard_store::{
    AccountFilter, AccountKind, AccountRecord, KeyFilter, KeyHash, KeyRecord, KeyUpdate,
    MemberRecord, SpendFilter, SpendGroup, SpendRecord, SpendTotal, SpendWriter, SpendWriterConfig,
    SqliteStore, Store, StoreError,
};
use tokio::sync::Notify;

/// A store that passes everything to SQLite, except that `insert_spend` can fail its first
/// calls, fail always, or stop at its first call until released; it signals every success.
struct Wrapped {
    inner: SqliteStore,
    failures_left: AtomicU32,
    always_fail: bool,
    gate: Option<Gate>,
    inserted: Notify,
    attempts: AtomicU32,
}

/// Stops the first insert: `entered` is notified when it arrives, and it waits for `release`.
struct Gate {
    first: AtomicBool,
    entered: Notify,
    release: Notify,
}

impl Wrapped {
    async fn new() -> Self {
        Self {
            inner: SqliteStore::connect("sqlite::memory:")
                .await
                .expect("in-memory SQLite"),
            failures_left: AtomicU32::new(0),
            always_fail: false,
            gate: None,
            inserted: Notify::new(),
            attempts: AtomicU32::new(0),
        }
    }

    async fn stored(&self) -> Vec<String> {
        let filter = SpendFilter {
            limit: 100_000,
            ..SpendFilter::default()
        };
        let mut ids: Vec<_> = self
            .inner
            .spend_logs(&filter)
            .await
            .expect("logs")
            .into_iter()
            .map(|record| record.request_id)
            .collect();
        ids.sort();
        ids
    }
}

#[async_trait]
impl Store for Wrapped {
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        self.inner.create_key(key).await
    }
    async fn key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.key_by_hash(hash).await
    }
    async fn key_by_id(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.key_by_id(id).await
    }
    async fn update_key(&self, id: &str, update: &KeyUpdate) -> Result<KeyRecord, StoreError> {
        self.inner.update_key(id, update).await
    }
    async fn delete_key(&self, id: &str) -> Result<(), StoreError> {
        self.inner.delete_key(id).await
    }
    async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list_keys(filter).await
    }
    async fn count_keys(&self, filter: &KeyFilter) -> Result<u64, StoreError> {
        self.inner.count_keys(filter).await
    }
    async fn upsert_account(&self, account: &AccountRecord) -> Result<(), StoreError> {
        self.inner.upsert_account(account).await
    }
    async fn account(
        &self,
        kind: AccountKind,
        id: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.inner.account(kind, id).await
    }
    async fn delete_account(&self, kind: AccountKind, id: &str) -> Result<(), StoreError> {
        self.inner.delete_account(kind, id).await
    }
    async fn list_accounts(
        &self,
        filter: &AccountFilter,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        self.inner.list_accounts(filter).await
    }
    async fn count_accounts(&self, filter: &AccountFilter) -> Result<u64, StoreError> {
        self.inner.count_accounts(filter).await
    }
    async fn set_member(&self, member: &MemberRecord) -> Result<(), StoreError> {
        self.inner.set_member(member).await
    }
    async fn remove_member(
        &self,
        kind: AccountKind,
        account_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError> {
        self.inner.remove_member(kind, account_id, user_id).await
    }
    async fn members(
        &self,
        kind: AccountKind,
        account_id: &str,
    ) -> Result<Vec<MemberRecord>, StoreError> {
        self.inner.members(kind, account_id).await
    }
    async fn memberships(&self, user_id: &str) -> Result<Vec<MemberRecord>, StoreError> {
        self.inner.memberships(user_id).await
    }
    async fn insert_spend(&self, records: &[SpendRecord]) -> Result<u64, StoreError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate
            && gate.first.swap(false, Ordering::SeqCst)
        {
            gate.entered.notify_one();
            gate.release.notified().await;
        }
        if self.always_fail
            || self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
        {
            return Err(StoreError::Invalid("injected failure"));
        }
        let inserted = self.inner.insert_spend(records).await;
        self.inserted.notify_one();
        inserted
    }
    async fn spend_logs(&self, filter: &SpendFilter) -> Result<Vec<SpendRecord>, StoreError> {
        self.inner.spend_logs(filter).await
    }
    async fn spend_totals(
        &self,
        group_by: SpendGroup,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SpendTotal>, StoreError> {
        self.inner.spend_totals(group_by, start_ms, end_ms).await
    }
    async fn spend_series(
        &self,
        start_ms: i64,
        end_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<switchyard_store::SpendBucket>, StoreError> {
        self.inner.spend_series(start_ms, end_ms, bucket_ms).await
    }
    async fn spend_in_window(
        &self,
        scope: switchyard_store::CounterScope,
        id: &str,
        start_ms: i64,
        end_ms: Option<i64>,
    ) -> Result<f64, StoreError> {
        self.inner
            .spend_in_window(scope, id, start_ms, end_ms)
            .await
    }
}

fn record(n: usize) -> SpendRecord {
    SpendRecord {
        request_id: format!("req-{n:04}"),
        time_ms: 1_700_000_000_000 + n as i64,
        key_id: Some("key-writer".to_owned()),
        key_alias: None,
        user_id: None,
        team_id: None,
        model_requested: "gpt-4o".to_owned(),
        model_group: Some("gpt-4o".to_owned()),
        deployment: None,
        provider: None,
        input_tokens: 10,
        output_tokens: 5,
        cached_tokens: 0,
        cost_usd: 0.0001,
        cost_estimated: false,
        latency_ms: 10,
        status: 200,
        cache_hit: false,
        experiment: None,
        variant: None,
        end_user: None,
        organization_id: None,
        call_type: None,
    }
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| record(n).request_id).collect()
}

fn config(batch_size: usize) -> SpendWriterConfig {
    SpendWriterConfig {
        capacity: 1_000,
        batch_size,
        // Long enough never to fire in these tests: shutdown must write partial batches.
        flush_interval: Duration::from_secs(3_600),
        retry_backoff: Duration::from_millis(1),
        max_retry_backoff: Duration::from_millis(4),
        shutdown_attempts: 3,
    }
}

/// Records spend when dropped, as a metered stream does.
struct RecordOnDrop(SpendWriter, usize);

impl Drop for RecordOnDrop {
    fn drop(&mut self) {
        self.0.record(record(self.1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_recorded_before_shutdown_is_stored() {
    let store = Arc::new(Wrapped::new().await);
    let writer = SpendWriter::spawn(store.clone(), config(7));
    for n in 0..99 {
        writer.record(record(n));
    }
    drop(RecordOnDrop(writer.clone(), 99));

    let report = writer.shutdown().await;
    assert_eq!((report.written, report.dropped, report.shed), (100, 0, 0));
    assert_eq!(writer.pending(), 0);
    assert_eq!(store.stored().await, ids(0..100));

    // After shutdown, a record is shed, and said so.
    writer.record(record(100));
    assert_eq!(writer.shed_count(), 1);
    assert_eq!(writer.pending(), 0);
    assert_eq!(
        writer.shutdown().await.shed,
        1,
        "a second shutdown reports the same writer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_twice_still_ends_with_every_record() {
    let mut store = Wrapped::new().await;
    store.failures_left = AtomicU32::new(2);
    let store = Arc::new(store);
    let writer = SpendWriter::spawn(store.clone(), config(10));
    for n in 0..25 {
        writer.record(record(n));
    }
    let report = writer.shutdown().await;
    assert_eq!((report.written, report.dropped, report.shed), (25, 0, 0));
    assert_eq!(store.stored().await, ids(0..25));
    assert!(
        store.attempts.load(Ordering::SeqCst) >= 2 + 3,
        "two failures, then three batches"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_sheds_and_counts() {
    let mut store = Wrapped::new().await;
    store.gate = Some(Gate {
        first: AtomicBool::new(true),
        entered: Notify::new(),
        release: Notify::new(),
    });
    let store = Arc::new(store);
    let gate = store.gate.as_ref().expect("gated");
    let writer = SpendWriter::spawn(
        store.clone(),
        SpendWriterConfig {
            capacity: 2,
            batch_size: 1,
            ..config(1)
        },
    );

    // The writer takes the first record and is held inside the store.
    writer.record(record(0));
    gate.entered.notified().await;
    // Two more fill the queue; the fourth finds it full.
    writer.record(record(1));
    writer.record(record(2));
    assert_eq!(writer.shed_count(), 0);
    writer.record(record(3));
    assert_eq!(writer.shed_count(), 1);
    assert_eq!(writer.pending(), 3);

    gate.release.notify_one();
    let report = writer.shutdown().await;
    assert_eq!((report.written, report.dropped, report.shed), (3, 0, 1));
    assert_eq!(store.stored().await, ids(0..3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_is_written_after_the_flush_interval() {
    let store = Arc::new(Wrapped::new().await);
    let writer = SpendWriter::spawn(
        store.clone(),
        SpendWriterConfig {
            flush_interval: Duration::from_millis(20),
            ..config(100)
        },
    );
    let inserted = store.inserted.notified();
    writer.record(record(0));
    writer.record(record(1));
    // Woken by the store's insert, long before shutdown; the timeout only bounds a failure.
    tokio::time::timeout(Duration::from_secs(30), inserted)
        .await
        .expect("the partial batch is flushed without shutdown");
    assert_eq!(store.stored().await, ids(0..2));
    // The writer counts the batch once the store's insert has returned: wait for that too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while writer.written_count() < 2 || writer.pending() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batch is counted as written"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(writer.written_count(), 2);
    assert_eq!(writer.pending(), 0);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_is_written_at_once_not_at_the_flush_interval() {
    let store = Arc::new(Wrapped::new().await);
    let writer = SpendWriter::spawn(
        store.clone(),
        SpendWriterConfig {
            // Far beyond the test's timeout: only a full batch can be written in time.
            flush_interval: Duration::from_secs(3600),
            ..config(3)
        },
    );
    let inserted = store.inserted.notified();
    for n in 0..3 {
        writer.record(record(n));
    }
    tokio::time::timeout(Duration::from_secs(30), inserted)
        .await
        .expect("a full batch is written without waiting for its flush interval");
    assert_eq!(store.stored().await, ids(0..3));
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_a_store_that_never_recovers() {
    let mut store = Wrapped::new().await;
    store.always_fail = true;
    let store = Arc::new(store);
    let writer = SpendWriter::spawn(
        store.clone(),
        SpendWriterConfig {
            shutdown_attempts: 2,
            ..config(10)
        },
    );
    for n in 0..3 {
        writer.record(record(n));
    }
    let report = writer.shutdown().await;
    assert_eq!((report.written, report.dropped, report.shed), (0, 3, 0));
    assert_eq!(writer.pending(), 0);
    assert!(store.stored().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_still_writes_what_was_queued() {
    let store = Arc::new(Wrapped::new().await);
    let writer = SpendWriter::spawn(store.clone(), config(100));
    let inserted = store.inserted.notified();
    for n in 0..5 {
        writer.record(record(n));
    }
    drop(writer);
    tokio::time::timeout(Duration::from_secs(30), inserted)
        .await
        .expect("the queue is drained when the last handle goes");
    assert_eq!(store.stored().await, ids(0..5));
}
