//! The shared store and counter checks against Postgres, at `SWITCHYARD_TEST_DATABASE_URL`
//! (skipped when unset). Each test works in a schema of its own, dropped at the end, so tests
//! run in parallel without seeing each other.

mod suite;

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use switchyard_store::{PostgresStore, Store};

use suite::Cleanup;

const URL_VARIABLE: &str = "SWITCHYARD_TEST_DATABASE_URL";

async fn open() -> Option<(Arc<PostgresStore>, Cleanup)> {
    let Ok(url) = std::env::var(URL_VARIABLE) else {
        eprintln!("skipped: {URL_VARIABLE} is not set");
        return None;
    };
    let schema = format!("switchyard_test_{:016x}", fastrand::u64(..));
    let mut admin = PgConnection::connect(&url)
        .await
        .expect("connect to Postgres");
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    admin.close().await.expect("close");

    let options = PgConnectOptions::from_str(&url)
        .expect("valid URL")
        .options([("search_path", schema.as_str())]);
    let store = PostgresStore::connect_with(options)
        .await
        .expect("connect and migrate");
    let cleanup = {
        let store = store.clone();
        Cleanup::new(move || async move {
            store.close().await;
            if let Ok(mut admin) = PgConnection::connect(&url).await {
                let drop = format!("DROP SCHEMA {schema} CASCADE");
                if let Err(error) = sqlx::query(AssertSqlSafe(drop)).execute(&mut admin).await {
                    eprintln!("could not drop test schema {schema}: {error}");
                }
            }
        })
    };
    Some((Arc::new(store), cleanup))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suites_run_on_one_store() {
    let Some((store, cleanup)) = open().await else {
        return;
    };
    suite::run_store_suite(store.clone()).await;
    suite::run_counters_suite(store).await;
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tables_live_in_the_search_path_schema_and_migrations_rerun_harmlessly() {
    let Some((store, cleanup)) = open().await else {
        return;
    };
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(store.pool())
        .await
        .expect("current schema");
    assert!(schema.starts_with("switchyard_test_"), "{schema}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::TEXT FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name",
    )
    .fetch_all(store.pool())
    .await
    .expect("tables");
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "accounts",
            "deployments",
            "deployments_revision",
            "members",
            "responses",
            "spend_counters",
            "spend_logs",
            "virtual_keys"
        ]
    );
    // Connecting again to a migrated schema changes nothing.
    PostgresStore::from_pool(store.pool().clone())
        .await
        .expect("migrate again");
    store.ping().await.expect("ping");
    cleanup.run().await;
}
