//! The shared store and counter checks against SQLite (a private in-memory database per test),
//! plus what only a database file shows: it is created, persists, and uses WAL.

mod suite;

use std::sync::Arc;

use switchyard_store::{KeyRecord, SqliteStore, Store, hash_key};

use suite::Cleanup;

async fn open() -> Option<(Arc<SqliteStore>, Cleanup)> {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    Some((Arc::new(store), Cleanup::none()))
}

suite::store_tests!(open());
suite::counter_tests!(open());

#[tokio::test]
async fn whole_suites_run_on_one_store() {
    let store = Arc::new(
        SqliteStore::connect("sqlite::memory:")
            .await
            .expect("in-memory"),
    );
    suite::run_store_suite(store.clone()).await;
    suite::run_counters_suite(store).await;
}

#[tokio::test]
async fn in_memory_stores_are_private() {
    let a = SqliteStore::connect("sqlite::memory:").await.expect("a");
    let b = SqliteStore::connect("sqlite::memory:").await.expect("b");
    let key = KeyRecord::new(hash_key("sk-private"), 1).expect("OS RNG");
    a.create_key(&key).await.expect("create");
    assert!(b.key_by_id(&key.id).await.expect("lookup").is_none());
}

#[tokio::test]
async fn a_file_is_created_persists_and_uses_wal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested-name.db");
    let path = path.to_str().expect("UTF-8 path");

    let store = SqliteStore::connect(path).await.expect("create the file");
    let key = KeyRecord::new(hash_key("sk-persist"), 1).expect("OS RNG");
    store.create_key(&key).await.expect("create");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("journal mode");
    assert_eq!(mode, "wal");
    store.close().await;

    // Reopened (through a URL this time), and migrations run again without harm.
    let reopened = SqliteStore::connect(&format!("sqlite://{path}"))
        .await
        .expect("reopen");
    assert_eq!(
        reopened
            .key_by_hash(&hash_key("sk-persist"))
            .await
            .expect("lookup"),
        Some(key)
    );
    reopened.ping().await.expect("ping");
}

#[tokio::test]
async fn a_closed_store_fails_with_a_backend_error() {
    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("in-memory");
    store.close().await;
    let error = store.ping().await.expect_err("closed");
    assert!(
        matches!(error, switchyard_store::StoreError::Backend(_)),
        "{error:?}"
    );
}
