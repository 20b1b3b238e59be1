//! Complete answers through the layer: hits, directives, TTLs, size cap, keyless requests and a
//! store that stops answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

use super::*;
use crate::cache::{
    CacheControl, CacheKey, CacheStatus, CacheStore, Cacheable, KeyOptions, MemoryStore, StoreError,
};

fn memory() -> CacheLayer {
    CacheLayer::new(MemoryStore::with_max_entries(100))
}

#[tokio::test]
async fn miss_then_hit_calls_the_inner_service_once() {
    let upstream = Upstream::new();
    let layer = memory();
    let chat = upstream.behind(layer.clone());
    let first = call(&chat, ask("2+2?", json!({}))).await;
    assert_eq!(
        (first.status, text(&first)),
        (CacheStatus::Miss, "answer 1".into())
    );
    // Key order and ignored fields do not matter to the lookup.
    let again = request(json!({
        "messages": [{"content": "2+2?", "role": "user"}], "model": "m", "user": "bob"
    }));
    let second = call(&chat, again).await;
    assert!(second.is_hit());
    assert_eq!(text(&second), "answer 1");
    assert_eq!(upstream.calls(), 1);
    let warmer = call(&chat, ask("2+2?", json!({"temperature": 0.9}))).await;
    assert_eq!(
        (warmer.status, text(&warmer)),
        (CacheStatus::Miss, "answer 2".into())
    );
    let stats = layer.stats();
    assert_eq!((stats.hits, stats.misses, stats.stored), (1, 2, 2));
}

#[tokio::test]
async fn no_cache_answers_fresh_and_stores_the_answer() {
    let upstream = Upstream::new();
    let chat = upstream.behind(memory());
    call(&chat, ask("q", json!({}))).await;
    let fresh = call(&chat, ask("q", json!({"cache": {"no-cache": true}}))).await;
    assert_eq!(
        (fresh.status, text(&fresh)),
        (CacheStatus::Bypass, "answer 2".into())
    );
    let later = call(&chat, ask("q", json!({}))).await;
    assert_eq!(
        (later.status, text(&later)),
        (CacheStatus::Hit, "answer 2".into())
    );
    assert_eq!(upstream.calls(), 2);
    assert!(!upstream.saw_cache_field.load(Ordering::SeqCst));
}

#[tokio::test]
async fn no_store_neither_reads_nor_writes() {
    let upstream = Upstream::new();
    let chat = upstream.behind(memory());
    let no_store = || ask("q", json!({"cache": {"no-store": true}}));
    assert_eq!(call(&chat, no_store()).await.status, CacheStatus::Bypass);
    let stored = call(&chat, ask("q", json!({}))).await;
    assert_eq!(
        (stored.status, text(&stored)),
        (CacheStatus::Miss, "answer 2".into())
    );
    let unread = call(&chat, no_store()).await;
    assert_eq!(
        (unread.status, text(&unread)),
        (CacheStatus::Bypass, "answer 3".into())
    );
    assert_eq!(text(&call(&chat, ask("q", json!({}))).await), "answer 2");
    assert!(!upstream.saw_cache_field.load(Ordering::SeqCst));
}

/// A request as the gateway holds it: the body and its `Cache-Control` header.
struct WithHeader {
    body: ChatRequest,
    cache_control: &'static str,
}

impl Cacheable for WithHeader {
    fn take_cache_control(&mut self) -> CacheControl {
        let body = self.body.take_cache_control();
        body.merge(CacheControl::from_header(self.cache_control))
    }

    fn cache_key(&self, options: &KeyOptions) -> Option<CacheKey> {
        self.body.cache_key(options)
    }
}

#[tokio::test]
async fn callers_map_headers_into_the_directives() {
    let upstream = Upstream::new();
    let answers = upstream.clone();
    let service = ServiceBuilder::new()
        .layer(memory())
        .service_fn(move |request: WithHeader| {
            let answer = answers.answer(&request.body);
            async move { Ok::<_, Infallible>(answer) }
        });
    let with = |cache_control| WithHeader {
        body: ask("q", json!({})),
        cache_control,
    };
    let status = |answer: Result<Cached<Answer>, Infallible>| answer.map(|a| a.status);
    assert_eq!(
        status(service.clone().oneshot(with("no-store")).await),
        Ok(CacheStatus::Bypass)
    );
    assert_eq!(
        status(service.clone().oneshot(with("")).await),
        Ok(CacheStatus::Miss)
    );
    assert_eq!(
        status(service.clone().oneshot(with("no-cache")).await),
        Ok(CacheStatus::Bypass)
    );
    assert_eq!(
        status(service.oneshot(with("private")).await),
        Ok(CacheStatus::Hit)
    );
    assert_eq!(upstream.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn entries_expire_after_the_ttl_on_tokio_time() {
    let upstream = Upstream::new();
    let layer = memory()
        .ttl(Duration::from_secs(60))
        .max_ttl(Duration::from_secs(100));
    let chat = upstream.behind(layer);
    call(&chat, ask("q", json!({}))).await;
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(call(&chat, ask("q", json!({}))).await.is_hit());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        call(&chat, ask("q", json!({}))).await.status,
        CacheStatus::Miss
    );

    // A request's own TTL, capped by the layer's maximum.
    call(&chat, ask("short", json!({"cache": {"ttl": 5}}))).await;
    call(&chat, ask("long", json!({"cache": {"ttl": 86_400}}))).await;
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(
        call(&chat, ask("short", json!({}))).await.status,
        CacheStatus::Miss
    );
    assert!(call(&chat, ask("long", json!({}))).await.is_hit());
    tokio::time::advance(Duration::from_secs(95)).await;
    assert_eq!(
        call(&chat, ask("long", json!({}))).await.status,
        CacheStatus::Miss
    );
    // A TTL of zero stores nothing.
    call(&chat, ask("never", json!({"cache": {"ttl": 0}}))).await;
    assert_eq!(
        call(&chat, ask("never", json!({}))).await.status,
        CacheStatus::Miss
    );
}

#[tokio::test]
async fn answers_over_the_size_cap_are_not_stored() {
    let upstream = Upstream::new();
    let layer = memory().max_entry_bytes(64);
    let chat = upstream.behind(layer.clone());
    call(&chat, ask("q", json!({}))).await;
    assert_eq!(
        call(&chat, ask("q", json!({}))).await.status,
        CacheStatus::Miss
    );
    assert_eq!((layer.stats().too_large, layer.stats().stored), (2, 0));
}

/// A request the cache cannot key.
struct Keyless;

impl Cacheable for Keyless {
    fn take_cache_control(&mut self) -> CacheControl {
        CacheControl::default()
    }

    fn cache_key(&self, _options: &KeyOptions) -> Option<CacheKey> {
        None
    }
}

#[tokio::test]
async fn requests_without_a_key_bypass() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let service = ServiceBuilder::new()
        .layer(memory())
        .service_fn(move |_: Keyless| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Reply::<u32, u32, Infallible>::Complete(7)) }
        });
    for _ in 0..2 {
        let answer = service.clone().oneshot(Keyless).await.map(|a| a.status);
        assert_eq!(answer, Ok(CacheStatus::Bypass));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A store that fails while `down`, and counts the calls that reach it.
#[derive(Debug, Default)]
struct Flaky {
    down: AtomicBool,
    reached: AtomicUsize,
    memory: Option<MemoryStore>,
}

impl Flaky {
    fn attempt(&self) -> Result<(), StoreError> {
        self.reached.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unreachable("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

impl CacheStore for Flaky {
    fn get(&self, key: &CacheKey) -> BoxFuture<'static, Result<Option<Bytes>, StoreError>> {
        match (self.attempt(), &self.memory) {
            (Ok(()), Some(memory)) => memory.get(key),
            (result, _) => Box::pin(async move { result.map(|()| None) }),
        }
    }

    fn put(
        &self,
        key: &CacheKey,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        match (self.attempt(), &self.memory) {
            (Ok(()), Some(memory)) => memory.put(key, value, ttl),
            (result, _) => Box::pin(async move { result }),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_is_a_miss_logged_once_and_rested() {
    let store = Arc::new(Flaky {
        down: AtomicBool::new(true),
        memory: Some(MemoryStore::with_max_entries(10)),
        ..Flaky::default()
    });
    let layer = CacheLayer::shared(store.clone()).retry_after(Duration::from_secs(1));
    let upstream = Upstream::new();
    let chat = upstream.behind(layer.clone());
    for _ in 0..3 {
        assert_eq!(
            call(&chat, ask("q", json!({}))).await.status,
            CacheStatus::Miss
        );
    }
    // Only the first call waited for the store; the others went straight on.
    assert_eq!(store.reached.load(Ordering::SeqCst), 1);
    assert_eq!(
        (layer.stats().outages, layer.stats().store_failures),
        (1, 1)
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    call(&chat, ask("q", json!({}))).await;
    assert_eq!(store.reached.load(Ordering::SeqCst), 2);
    assert_eq!(layer.stats().outages, 1);

    store.down.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        call(&chat, ask("q", json!({}))).await.status,
        CacheStatus::Miss
    );
    assert!(call(&chat, ask("q", json!({}))).await.is_hit());
    assert_eq!(upstream.calls(), 5);
    let stats = layer.stats();
    assert_eq!(
        (stats.outages, stats.store_failures, stats.stored),
        (1, 2, 1)
    );

    store.down.store(true, Ordering::SeqCst);
    call(&chat, ask("q", json!({}))).await;
    assert_eq!(layer.stats().outages, 2);
}
