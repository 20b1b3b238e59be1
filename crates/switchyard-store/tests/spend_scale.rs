//! The spend queries the admin UI runs, measured on a large spend log in SQLite and in
//! PostgreSQL: a page of the log (newest first, a page deep in by cursor, by key, by model, by
//! day) and the overview's series (a day, a week, a month). The log is filled with one
//! `INSERT ... SELECT` (a recursive CTE in SQLite, `generate_series` in PostgreSQL), spread over
//! 30 days, 1,000 keys, 8 models and 16 deployments. Ignored by default (it writes a million
//! rows): `cargo xtask spend-scale` runs it in release and prints the timings that README.md
//! reports; `SWITCHYARD_SCALE_ROWS` sets the row count. The PostgreSQL half needs
//! `SWITCHYARD_TEST_DATABASE_URL` and works in a schema of its own, dropped at its end.
//!
//! The index checks beside it run with the suite: the page query seeks the
//! `(time_ms, request_id)` index.

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use switchyard_store::{PostgresStore, SpendCursor, SpendFilter, SqliteStore, Store};

const DAY_MS: i64 = 86_400_000;
const SPAN_DAYS: i64 = 30;

fn rows() -> i64 {
    std::env::var("SWITCHYARD_SCALE_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(elapsed.as_millis()).expect("before 2262")
}

/// The columns of one generated row `i` of `n`, ending at `end_ms`; `text` renders `i` as the
/// zero-padded id in each dialect.
fn generated_columns(n: i64, end_ms: i64, id: &str) -> String {
    let step = (SPAN_DAYS * DAY_MS / n).max(1);
    let start = end_ms - SPAN_DAYS * DAY_MS;
    format!(
        "{id}, {start} + i * {step}, 'key-' || (i % 1000), NULL, 'user-' || (i % 100), \
         'team-' || (i % 20), 'model-' || (i % 8), 'model-' || (i % 8), 'dep-' || (i % 16), \
         'openai', 10 + i % 500, 50, 0, 0.0001 * (i % 7), FALSE, i % 3000, \
         CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END, FALSE, NULL, NULL, NULL, NULL, 'acompletion'"
    )
}

const COLUMNS: &str = "request_id, time_ms, key_id, key_alias, user_id, team_id, \
     model_requested, model_group, deployment, provider, input_tokens, output_tokens, \
     cached_tokens, cost_usd, cost_estimated, latency_ms, status, cache_hit, experiment, variant, \
     end_user, organization_id, call_type";

/// The median of five runs of `query` (after one to warm the cache), and what it answered.
async fn median<T, F, Fut>(mut query: F) -> (Duration, T)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut answer = query().await;
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        answer = query().await;
        times.push(start.elapsed());
    }
    times.sort();
    (times[2], answer)
}

/// Runs every UI query on `store`, printing a line per query.
async fn measure(database: &str, store: &dyn Store, end_ms: i64, filled: Duration) {
    let n = rows();
    println!(
        "| {database} | fill {n} rows | {:.1} s |",
        filled.as_secs_f64()
    );
    let page = |filter: SpendFilter| async move {
        let filter = SpendFilter {
            limit: 50,
            ..filter
        };
        store.spend_logs(&filter).await.expect("page")
    };
    let (first_time, first) = median(|| page(SpendFilter::default())).await;
    assert_eq!(first.len(), 50);
    println!(
        "| {database} | spend log, first page of 50 | {:.2} ms |",
        ms(first_time)
    );
    // A page half-way down, by the cursor of the record there.
    let middle = SpendCursor {
        time_ms: end_ms - SPAN_DAYS * DAY_MS / 2,
        request_id: "~".to_owned(),
    };
    let (deep_time, deep) = median(|| {
        page(SpendFilter {
            after: Some(middle.clone()),
            ..SpendFilter::default()
        })
    })
    .await;
    assert_eq!(deep.len(), 50);
    println!(
        "| {database} | spend log, a page half-way down (cursor) | {:.2} ms |",
        ms(deep_time)
    );
    for (what, filter) in [
        (
            "by key (1 of 1,000)",
            SpendFilter {
                key_id: Some("key-7".to_owned()),
                ..SpendFilter::default()
            },
        ),
        (
            "by model (1 of 8)",
            SpendFilter {
                model: Some("model-3".to_owned()),
                ..SpendFilter::default()
            },
        ),
        (
            "one day, 10 days ago",
            SpendFilter {
                start_ms: Some(end_ms - 10 * DAY_MS),
                end_ms: Some(end_ms - 9 * DAY_MS),
                ..SpendFilter::default()
            },
        ),
    ] {
        let (time, found) = median(|| page(filter.clone())).await;
        assert!(!found.is_empty(), "{what}");
        println!(
            "| {database} | spend log, first page {what} | {:.2} ms |",
            ms(time)
        );
    }
    for (what, days, bucket_ms) in [
        ("last 24 hours", 1, 24 * 60_000),
        ("last 7 days", 7, 168 * 60_000),
        ("last 30 days", 30, 720 * 60_000),
    ] {
        let (time, series) = median(|| async {
            store
                .spend_series(end_ms - days * DAY_MS, end_ms, bucket_ms)
                .await
                .expect("series")
        })
        .await;
        let calls: u64 = series.iter().map(|b| b.requests).sum();
        assert!(calls > 0, "{what}");
        println!(
            "| {database} | overview, {what} ({calls} calls) | {:.2} ms |",
            ms(time)
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[tokio::test]
#[ignore = "writes a million rows: run by `cargo xtask spend-scale`"]
async fn sqlite_spend_queries_at_scale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::connect(&dir.path().join("scale.db").display().to_string())
        .await
        .expect("open");
    let end_ms = now_ms();
    let n = rows();
    let fill = format!(
        "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {last}) \
         INSERT INTO spend_logs ({COLUMNS}) SELECT {columns} FROM seq",
        last = n - 1,
        columns = generated_columns(n, end_ms, "printf('scale-%010d', i)"),
    );
    let start = Instant::now();
    sqlx::query(AssertSqlSafe(fill))
        .execute(store.pool())
        .await
        .expect("fill");
    sqlx::query("ANALYZE")
        .execute(store.pool())
        .await
        .expect("analyze");
    let filled = start.elapsed();
    measure("SQLite", &store, end_ms, filled).await;
}

#[tokio::test]
#[ignore = "writes a million rows: run by `cargo xtask spend-scale`"]
async fn postgres_spend_queries_at_scale() {
    let Ok(url) = std::env::var("SWITCHYARD_TEST_DATABASE_URL") else {
        eprintln!("skipped: SWITCHYARD_TEST_DATABASE_URL is not set");
        return;
    };
    let schema = format!("switchyard_scale_{:016x}", fastrand::u64(..));
    let mut admin = PgConnection::connect(&url).await.expect("connect");
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    let options = PgConnectOptions::from_str(&url)
        .expect("URL")
        .options([("search_path", schema.as_str())]);
    let store = PostgresStore::connect_with(options).await.expect("open");
    let end_ms = now_ms();
    let n = rows();
    let fill = format!(
        "INSERT INTO spend_logs ({COLUMNS}) SELECT {columns} FROM generate_series(0::BIGINT, {last}) AS i",
        last = n - 1,
        columns = generated_columns(n, end_ms, "'scale-' || lpad(i::text, 10, '0')"),
    );
    let start = Instant::now();
    sqlx::query(AssertSqlSafe(fill))
        .execute(store.pool())
        .await
        .expect("fill");
    sqlx::query("ANALYZE spend_logs")
        .execute(store.pool())
        .await
        .expect("analyze");
    let filled = start.elapsed();
    measure("PostgreSQL", &store, end_ms, filled).await;
    store.close().await;
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop schema");
}

/// The spend log's page query seeks the `(time_ms, request_id)` index, with and without a
/// cursor, rather than sorting the table.
#[tokio::test]
async fn sqlite_spend_pages_seek_the_time_and_id_index() {
    let store = SqliteStore::connect("sqlite::memory:").await.expect("open");
    for cursor in ["", " AND (time_ms, request_id) < (5, 'x')"] {
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN SELECT request_id FROM spend_logs WHERE TRUE{cursor} \
             ORDER BY time_ms DESC, request_id DESC LIMIT 50"
        )))
        .fetch_all(store.pool())
        .await
        .expect("plan");
        let text: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            text.iter().any(|step| step.contains("spend_logs_time_id")),
            "{text:?}"
        );
        assert!(
            !text.iter().any(|step| step.contains("TEMP B-TREE")),
            "sorted instead of read in index order: {text:?}"
        );
    }
}
