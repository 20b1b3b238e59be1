//! The Redis backend: its failure policies against a Redis that is not there (always run), and
//! one combined limit for two replicas against a real Redis (`SWITCHYARD_TEST_REDIS_URL`).

use std::convert::Infallible;
use std::sync::atomic::AtomicUsize;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use switchyard_wire::{ChatRequest, Usage};
use tokio::task::JoinSet;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use super::*;
use crate::rate_limit::{Limits, RateLimitLayer, Scope};

/// Nothing listens on port 1.
const UNREACHABLE: &str = "redis://127.0.0.1:1";

fn redis_url() -> Option<String> {
    match std::env::var("SWITCHYARD_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped: SWITCHYARD_TEST_REDIS_URL not set");
            None
        }
    }
}

/// A key prefix no other test run uses.
fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("switchyard-test:{}:{nanos}:{n}:{test}", std::process::id())
}

fn chat(user: &str, max_tokens: u32) -> ChatRequest {
    serde_json::from_value(json!({
        "model": "m", "messages": [], "max_tokens": max_tokens, "user": user,
    }))
    .expect("a chat request")
}

fn per_user(limits: Limits) -> impl Fn(&ChatRequest) -> Vec<LimitCheck> + Clone {
    move |req: &ChatRequest| {
        let user = req.user.as_deref().unwrap_or_default();
        vec![LimitCheck::new(Scope::USER, user, limits)]
    }
}

fn service(
    backend: Arc<RedisBackend>,
    limits: Limits,
) -> impl Service<ChatRequest, Response = Usage, Error = BoxError, Future: Send> + Clone {
    ServiceBuilder::new()
        .layer(RateLimitLayer::new(per_user(limits), backend))
        .service_fn(|req: ChatRequest| async move {
            Ok::<_, Infallible>(Usage::new(0, u64::from(req.max_tokens.unwrap_or(0))))
        })
}

fn refusal(result: Result<Usage, BoxError>) -> RateLimitError {
    let err = result.expect_err("refused");
    match err.downcast::<RateLimitError>() {
        Ok(err) => *err,
        Err(other) => panic!("expected a rate limit error, got {other}"),
    }
}

#[tokio::test]
async fn failing_closed_refuses_calls_while_redis_is_unreachable() {
    let settings =
        RedisSettings::new(unique_prefix("closed")).on_unavailable(FailurePolicy::Closed);
    let backend = Arc::new(RedisBackend::open(UNREACHABLE, settings).expect("a valid URL"));
    let service = service(backend.clone(), Limits::none().rpm(100));
    for calls in 1..=3 {
        let refused = refusal(service.clone().oneshot(chat("alice", 1)).await);
        let RateLimitError::Unavailable(unavailable) = refused else {
            panic!("expected the store to be unavailable, got {refused}");
        };
        assert_eq!(unavailable.retry_after, Duration::from_secs(1));
        assert_eq!(backend.unavailable_calls(), calls);
    }
    assert_eq!(backend.outages(), 1, "one outage, however many calls");
    assert!(!backend.is_reachable());
}

#[tokio::test]
async fn failing_open_counts_the_same_limits_in_process() {
    let settings = RedisSettings::new(unique_prefix("open"));
    let backend = Arc::new(RedisBackend::open(UNREACHABLE, settings).expect("a valid URL"));
    let service = service(backend.clone(), Limits::none().rpm(2));
    service
        .clone()
        .oneshot(chat("alice", 1))
        .await
        .expect("first");
    service
        .clone()
        .oneshot(chat("alice", 1))
        .await
        .expect("second");
    let refused = refusal(service.clone().oneshot(chat("alice", 1)).await);
    let RateLimitError::Limited(limited) = refused else {
        panic!("expected the local limit, got {refused}");
    };
    assert_eq!((limited.kind, limited.limit), (LimitKind::Requests, 2));
    service
        .oneshot(chat("bob", 1))
        .await
        .expect("bob has his own count");
    assert_eq!(backend.unavailable_calls(), 4);
    assert_eq!(backend.outages(), 1);
}

#[tokio::test]
async fn keys_cannot_collide_and_malformed_replies_are_store_errors() {
    let backend = RedisBackend::open(UNREACHABLE, RedisSettings::new("p")).expect("a valid URL");
    let check = LimitCheck::new(Scope::new("a:b"), "c%d:e", Limits::none());
    assert_eq!(backend.shared.base_key(&check), "p:a%3Ab:c%25d%3Ae");

    let checks = [LimitCheck::new(Scope::USER, "u", Limits::none().tpm(9))];
    let refused = decide(vec![2, 1, 1500, 7], &checks, 10).expect("well formed");
    let limited = refused.expect_err("refused for tokens");
    assert_eq!((limited.kind, limited.limit), (LimitKind::Tokens, 9));
    assert_eq!(limited.retry_after, Duration::from_millis(1500));
    for reply in [
        vec![],
        vec![0, 0, 0],
        vec![3, 1, 1, 1],
        vec![1, 2, 1, 1],
        vec![0, 0, 0, -1],
    ] {
        assert!(decide(reply, &checks, 1).is_err());
    }
    let grant = decide(vec![0, 0, 0, 7], &checks, 10).expect("well formed");
    assert_eq!(grant.map(|grant| grant.window), Ok(7));
}

/// Starts a test's bursts early in a minute of Redis's clock, so that every call of it is counted
/// in the same window. This waits for a clock, not for another task: at most 10 s, 1 run in 6.
async fn early_in_a_minute(url: &str) {
    let client = Client::open(url).expect("a valid URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis at SWITCHYARD_TEST_REDIS_URL answers");
    let (seconds, _micros): (u64, u64) = ::redis::cmd("TIME")
        .query_async(&mut connection)
        .await
        .expect("TIME");
    let into = seconds % 60;
    if into >= 50 {
        tokio::time::sleep(Duration::from_secs(61 - into)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_enforce_one_combined_limit() {
    let Some(url) = redis_url() else { return };
    early_in_a_minute(&url).await;
    let prefix = unique_prefix("replicas");
    let limit = 10;
    let replicas = [
        RedisBackend::open(&url, RedisSettings::new(prefix.clone())).expect("a valid URL"),
        RedisBackend::open(&url, RedisSettings::new(prefix)).expect("a valid URL"),
    ]
    .map(|backend| service(Arc::new(backend), Limits::none().rpm(limit)));

    let mut calls = JoinSet::new();
    for _ in 0..15 {
        for replica in &replicas {
            calls.spawn(replica.clone().oneshot(chat("alice", 1)));
        }
    }
    let (mut accepted, mut refused) = (0, 0);
    while let Some(result) = calls.join_next().await {
        match result.expect("the call did not panic") {
            Ok(_) => accepted += 1,
            Err(err) => {
                let Some(RateLimitError::Limited(limited)) = err.downcast_ref() else {
                    panic!("expected a reached limit, got {err}");
                };
                assert_eq!((limited.kind, limited.limit), (LimitKind::Requests, 10));
                assert!(limited.retry_after <= Duration::from_secs(60));
                refused += 1;
            }
        }
    }
    assert_eq!((accepted, refused), (10, 20));
    // Another user is untouched by alice's burst.
    replicas[1]
        .clone()
        .oneshot(chat("bob", 1))
        .await
        .expect("bob's first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_tokens_and_their_corrections() {
    let Some(url) = redis_url() else { return };
    early_in_a_minute(&url).await;
    let prefix = unique_prefix("tokens");
    let a = RedisBackend::open(&url, RedisSettings::new(prefix.clone())).expect("a valid URL");
    let b = RedisBackend::open(&url, RedisSettings::new(prefix)).expect("a valid URL");
    let checks = [LimitCheck::new(
        Scope::TEAM,
        "red",
        Limits::none().tpm(1_000),
    )];

    let grant = a.acquire(&checks, 600).await.expect("600 of 1000");
    assert!(!grant.fallback);
    let refused = b
        .acquire(&checks, 500)
        .await
        .expect_err("600 + 500 do not fit");
    assert!(matches!(refused, RateLimitError::Limited(ref l) if l.kind == LimitKind::Tokens));
    // The call used 100: what `correct` sends in the background, awaited here.
    let keys = vec![a.shared.base_key(&checks[0])];
    a.shared
        .send_correction(keys.clone(), grant.window, -500)
        .await
        .expect("corrected");
    b.acquire(&checks, 900).await.expect("100 + 900");
    b.acquire(&checks, 1).await.expect_err("full");
    // A debit counts even over the ceiling, and a credit never goes below zero.
    a.shared
        .send_correction(keys.clone(), grant.window, 50)
        .await
        .expect("debited");
    a.shared
        .send_correction(keys, grant.window, -5_000)
        .await
        .expect("credited");
    b.acquire(&checks, 1_000).await.expect("back to zero");
    // Zero ceilings refuse everything, even a call estimated at nothing.
    for limits in [Limits::none().rpm(0), Limits::none().tpm(0)] {
        let zero = [LimitCheck::new(Scope::TEAM, "blue", limits)];
        let refused = a.acquire(&zero, 0).await.expect_err("refused");
        assert!(matches!(refused, RateLimitError::Limited(ref l) if l.limit == 0));
    }
    assert_eq!(a.unavailable_calls() + b.unavailable_calls(), 0);
}
