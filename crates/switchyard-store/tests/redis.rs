//! The shared counter checks against Redis, at `SWITCHYARD_TEST_REDIS_URL` (skipped when
//! unset). Each test uses a key prefix of its own, deleted at the end.

mod suite;

use std::sync::Arc;
use std::time::Duration;

use switchyard_store::{BudgetCounters, CounterKey, CounterScope, RedisCounters};

use suite::Cleanup;

const URL_VARIABLE: &str = "SWITCHYARD_TEST_REDIS_URL";

async fn open() -> Option<(Arc<RedisCounters>, Cleanup)> {
    let Ok(url) = std::env::var(URL_VARIABLE) else {
        eprintln!("skipped: {URL_VARIABLE} is not set");
        return None;
    };
    let prefix = format!("switchyard-test:{:016x}:", fastrand::u64(..));
    let counters = RedisCounters::connect(&url, prefix.clone(), Duration::from_secs(5))
        .await
        .expect("connect to Redis");
    let cleanup = Cleanup::new(move || async move {
        let Ok(client) = redis::Client::open(url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut connection)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut connection)
                .await;
        }
    });
    Some((Arc::new(counters), cleanup))
}

suite::counter_tests!(open());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_runs_on_one_prefix() {
    let Some((counters, cleanup)) = open().await else {
        return;
    };
    suite::run_counters_suite(counters).await;
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_expire_a_day_after_their_window_and_lifetime_ones_never() {
    let Some((counters, cleanup)) = open().await else {
        return;
    };
    let url = std::env::var(URL_VARIABLE).expect("set, or open() skipped");
    let client = redis::Client::open(url.as_str()).expect("valid URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let (now, _micros): (i64, i64) = redis::cmd("TIME")
        .query_async(&mut connection)
        .await
        .expect("server time");

    let hourly = CounterKey::new(
        CounterScope::Key,
        "ttl",
        Some("1h".parse().expect("1h")),
        now,
    );
    let lifetime = CounterKey::new(CounterScope::Key, "ttl", None, now);
    // The expiry is set when a counter is made (seeded); charges keep it.
    counters.seed(&hourly, 0.0).await.expect("seed");
    counters.seed(&lifetime, 0.0).await.expect("seed");
    counters
        .charge(&[hourly.clone(), lifetime.clone()], 0.5)
        .await
        .expect("charge");

    let ttl = |key: &CounterKey| redis::cmd("TTL").arg(counters.redis_key(key)).clone();
    let hourly_ttl: i64 = ttl(&hourly)
        .query_async(&mut connection)
        .await
        .expect("ttl");
    let end = hourly.period_end.expect("hourly has an end");
    let expected = end + 86_400 - now;
    assert!(
        (expected - 2..=expected).contains(&hourly_ttl),
        "{hourly_ttl} vs {expected}"
    );
    let lifetime_ttl: i64 = ttl(&lifetime)
        .query_async(&mut connection)
        .await
        .expect("ttl");
    assert_eq!(lifetime_ttl, -1, "no expiry");

    // The value is a plain float, readable by anything that reads Redis.
    let raw: String = redis::cmd("GET")
        .arg(counters.redis_key(&hourly))
        .query_async(&mut connection)
        .await
        .expect("get");
    assert_eq!(raw.parse::<f64>().expect("a float"), 0.5);
    cleanup.run().await;
}
