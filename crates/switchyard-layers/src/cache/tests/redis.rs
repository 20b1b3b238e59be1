//! The Redis store through the layer: replicas sharing one Redis share entries (with
//! `SWITCHYARD_TEST_REDIS_URL`), and an unreachable Redis never fails a call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::cache::{CacheStatus, Cacheable, KeyOptions, RedisStore};

/// The Redis to test against, or `None` (and a note) when the run has none.
fn redis_url() -> Option<String> {
    match std::env::var("SWITCHYARD_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: SWITCHYARD_TEST_REDIS_URL not set");
            None
        }
    }
}

/// A key prefix no other run, and no other test of this run, shares.
fn unique_prefix(test: &str) -> String {
    static TESTS: AtomicUsize = AtomicUsize::new(0);
    let n = TESTS.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "switchyard-test:cache:{}:{nanos}:{n}:{test}",
        std::process::id()
    )
}

/// One replica: its own Redis connection, layer and upstream.
fn replica(url: &str, prefix: &str) -> (RedisStore, CacheLayer, Upstream, Chat) {
    let store = RedisStore::open(url, prefix)
        .expect("valid URL")
        .with_timeout(Duration::from_secs(2));
    let layer = CacheLayer::new(store.clone()).ttl(Duration::from_secs(60));
    let upstream = Upstream::new();
    let chat = upstream.behind(layer.clone());
    (store, layer, upstream, chat)
}

#[tokio::test]
async fn an_entry_stored_by_one_replica_is_a_hit_on_another() {
    let Some(url) = redis_url() else { return };
    let prefix = unique_prefix("replicas");
    let (store, layer_a, upstream_a, replica_a) = replica(&url, &prefix);
    let (_, layer_b, upstream_b, replica_b) = replica(&url, &prefix);
    let stats = || format!("A: {:?}, B: {:?}", layer_a.stats(), layer_b.stats());

    let first = call(&replica_a, ask("q", json!({}))).await;
    assert_eq!(first.status, CacheStatus::Miss, "{}", stats());
    assert_eq!(text(&first), "answer 1");
    let shared = call(&replica_b, ask("q", json!({}))).await;
    assert_eq!(shared.status, CacheStatus::Hit, "{}", stats());
    assert_eq!(text(&shared), "answer 1");

    let streamed = || ask("q", json!({"stream": true}));
    assert_eq!(drain(call(&replica_a, streamed()).await).await.len(), 3);
    let replayed = call(&replica_b, streamed()).await;
    assert!(replayed.is_hit(), "{}", stats());
    let replay = drain(replayed).await;
    assert_eq!(
        replay,
        vec![Ok(chunk("answer ")), Ok(chunk("2")), Ok(end())]
    );

    assert_eq!((upstream_a.calls(), upstream_b.calls()), (2, 0));
    assert_eq!(
        (layer_a.stats().stored, layer_b.stats().hits),
        (2, 2),
        "{}",
        stats()
    );
    assert_eq!(
        layer_a.stats().store_failures + layer_b.stats().store_failures,
        0,
        "{}",
        stats()
    );

    // The entry expires as the layer said, and no sooner than asked.
    let client = ::redis::Client::open(url.as_str()).expect("valid URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let keys: Vec<String> = [ask("q", json!({})), streamed()]
        .iter()
        .map(|request| {
            let key = request
                .cache_key(&KeyOptions::default())
                .expect("cacheable");
            store.redis_key(&key)
        })
        .collect();
    for key in &keys {
        let ttl: i64 = ::redis::cmd("TTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .expect("TTL");
        assert!((1..=60).contains(&ttl), "{key}: {ttl}");
    }
    let deleted: i64 = ::redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut connection)
        .await
        .expect("DEL");
    assert_eq!(deleted, 2);
}

#[tokio::test]
async fn a_request_ttl_reaches_redis() {
    let Some(url) = redis_url() else { return };
    let (store, _, _, chat) = replica(&url, &unique_prefix("ttl"));
    call(&chat, ask("brief", json!({"cache": {"ttl": 5}}))).await;
    let key = ask("brief", json!({}))
        .cache_key(&KeyOptions::default())
        .expect("cacheable");
    let client = ::redis::Client::open(url.as_str()).expect("valid URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let (ttl, _): (i64, i64) = ::redis::pipe()
        .cmd("TTL")
        .arg(store.redis_key(&key))
        .cmd("DEL")
        .arg(store.redis_key(&key))
        .query_async(&mut connection)
        .await
        .expect("TTL and DEL");
    assert!((1..=5).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn an_unreachable_redis_is_a_miss_and_never_fails_a_call() {
    let store = RedisStore::open("redis://127.0.0.1:1", "switchyard-test").expect("valid URL");
    let layer = CacheLayer::new(store);
    let upstream = Upstream::new();
    let chat = upstream.behind(layer.clone());
    for n in 1..=3 {
        let answer = call(&chat, ask("q", json!({}))).await;
        assert_eq!(
            (answer.status, text(&answer)),
            (CacheStatus::Miss, format!("answer {n}"))
        );
    }
    assert_eq!(layer.stats().outages, 1);
}
