//! The shared store and counter checks against SQLite (a private in-memory database per test),
//! plus what only a database file shows: it is created, persists, and uses WAL.

mod suite;

use std::sync::Arc;

use switchyard_store::{KeyRecord, SqliteStore, Store, StoreError, hash_key};

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
async fn responses_are_scoped_to_their_key() {
    let Some((store, cleanup)) = open().await else {
        return;
    };
    suite::responses_are_scoped_to_their_key(store).await;
    cleanup.run().await;
}

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

/// A database made before users and teams shared the `accounts` table keeps them: the
/// migration moves every row, with its budget, limits, models and metadata.
#[tokio::test]
async fn users_and_teams_of_an_older_schema_move_into_accounts() {
    use switchyard_store::AccountKind;

    let (dir, pool) = older_schema(&["0001_init.sql", "0002_end_user.sql"]).await;
    sqlx::query(
        "INSERT INTO users (id, alias, max_budget, budget_duration, rpm_limit, tpm_limit, \
         metadata, blocked, created_at) VALUES ('old-user', 'Ana', 5.5, '1d', 10, 100, \
         '{\"k\":1}', 1, 1700000000)",
    )
    .execute(&pool)
    .await
    .expect("old user");
    sqlx::query(
        "INSERT INTO teams (id, alias, max_budget, budget_duration, rpm_limit, tpm_limit, \
         models, metadata, blocked, created_at) VALUES ('old-team', 'Red', 50.0, NULL, NULL, \
         1000, '[\"gpt-4o\"]', '{}', 0, 1700000001)",
    )
    .execute(&pool)
    .await
    .expect("old team");
    pool.close().await;

    let store = upgrade(&dir).await;
    let user = store
        .account(AccountKind::User, "old-user")
        .await
        .expect("read")
        .expect("user moved");
    assert_eq!(user.alias.as_deref(), Some("Ana"));
    assert_eq!(user.max_budget, Some(5.5));
    assert_eq!(user.budget_duration, Some("1d".parse().expect("period")));
    assert_eq!((user.rpm_limit, user.tpm_limit), (Some(10), Some(100)));
    assert_eq!(user.metadata, serde_json::json!({"k": 1}));
    assert!(user.blocked);
    assert_eq!(
        (user.created_at, user.updated_at),
        (1_700_000_000, 1_700_000_000)
    );
    let team = store
        .account(AccountKind::Team, "old-team")
        .await
        .expect("read")
        .expect("team moved");
    assert_eq!(team.models, ["gpt-4o"]);
    assert_eq!(team.tpm_limit, Some(1000));
    assert!(!team.blocked);
    assert!(
        store
            .account(AccountKind::Team, "old-user")
            .await
            .expect("read")
            .is_none()
    );
}

/// A database file of a test's own, migrated only as far as `names` (of `migrations/sqlite`)
/// take it, as an older gateway left it; the directory holding it, and a pool open on it.
async fn older_schema(names: &[&str]) -> (tempfile::TempDir, sqlx::SqlitePool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).expect("dir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for name in names {
        std::fs::copy(source.join(name), migrations.join(name)).expect("copy migration");
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("old.db"))
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
    sqlx::migrate::Migrator::new(migrations.as_path())
        .await
        .expect("old migrations")
        .run(&pool)
        .await
        .expect("old schema");
    (dir, pool)
}

/// The database of [`older_schema`], opened by the store, which migrates it to the current
/// schema.
async fn upgrade(dir: &tempfile::TempDir) -> SqliteStore {
    let path = dir.path().join("old.db");
    SqliteStore::connect(path.to_str().expect("UTF-8 path"))
        .await
        .expect("upgrade")
}

/// Keys and teams made before aliases were kept come through the migration with none, and
/// everything else as it was.
#[tokio::test]
async fn keys_and_teams_of_an_older_schema_gain_empty_aliases() {
    use switchyard_store::AccountKind;

    let (dir, pool) =
        older_schema(&["0001_init.sql", "0002_end_user.sql", "0003_accounts.sql"]).await;
    let hash = hash_key("sk-older");
    sqlx::query(
        "INSERT INTO virtual_keys (id, key_hash, alias, models, metadata, team_id, blocked, \
         created_at, updated_at) VALUES ('key-old', $1, 'ci', '[\"gpt-4o\"]', '{}', \
         'old-team', 0, 1700000000, 1700000000)",
    )
    .bind(hash.to_hex())
    .execute(&pool)
    .await
    .expect("old key");
    sqlx::query(
        "INSERT INTO accounts (kind, id, models, metadata, blocked, created_at, updated_at) \
         VALUES ('team', 'old-team', '[\"gpt-4o\"]', '{}', 0, 1700000001, 1700000001)",
    )
    .execute(&pool)
    .await
    .expect("old team");
    pool.close().await;

    let store = upgrade(&dir).await;
    let key = store
        .key_by_hash(&hash)
        .await
        .expect("read")
        .expect("key kept");
    assert!(key.aliases.is_empty());
    assert_eq!(key.models, ["gpt-4o"]);
    assert_eq!(key.alias.as_deref(), Some("ci"));
    let team = store
        .account(AccountKind::Team, "old-team")
        .await
        .expect("read")
        .expect("team kept");
    assert!(team.model_aliases.is_empty());
    assert_eq!(team.models, ["gpt-4o"]);
}

#[tokio::test]
async fn a_database_file_is_claimed_by_one_user_at_a_time() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("claimed.db");
    let path = path.to_str().expect("UTF-8 path");
    let first = SqliteStore::connect(path).await.expect("first");
    let second = SqliteStore::connect(&format!("sqlite://{path}"))
        .await
        .expect("second");
    let claim = first.claim_exclusive_use().expect("free").expect("a file");
    match second.claim_exclusive_use() {
        Err(StoreError::InUse(what)) => assert_eq!(what, path),
        other => panic!("claimed twice: {other:?}"),
    }
    drop(claim);
    assert!(second.claim_exclusive_use().expect("free again").is_some());

    let memory = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("memory");
    assert!(
        memory
            .claim_exclusive_use()
            .expect("nothing to claim")
            .is_none()
    );
}
