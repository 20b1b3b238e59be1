//! The layer as users build it: `ServiceBuilder`, a stub inner service, the local backend, and
//! tokio's paused clock.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use switchyard_wire::{ChatRequest, Usage};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use super::*;

fn chat(user: &str, model: &str, max_tokens: u32) -> ChatRequest {
    serde_json::from_value(json!({
        "model": model,
        "messages": [],
        "max_tokens": max_tokens,
        "user": user,
    }))
    .expect("a chat request")
}

/// Per user `user` limits, per model `model` limits.
fn keys(user: Limits, model: Limits) -> impl Fn(&ChatRequest) -> Vec<LimitCheck> + Clone {
    move |req: &ChatRequest| {
        let mut checks = Vec::new();
        if let Some(name) = &req.user {
            checks.push(LimitCheck::new(Scope::USER, name.as_str(), user));
        }
        checks.push(LimitCheck::new(Scope::MODEL, req.model.as_str(), model));
        checks
    }
}

/// A stub upstream that reports `used` tokens for every call and counts its calls.
fn upstream(
    used: u64,
    calls: Arc<AtomicUsize>,
) -> impl Service<ChatRequest, Response = Usage, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(move |_req: ChatRequest| {
        calls.fetch_add(1, Ordering::Relaxed);
        async move { Ok::<_, Infallible>(Usage::new(used, 0)) }
    })
}

fn limited(result: Result<Usage, BoxError>) -> RateLimited {
    let err = result.expect_err("refused");
    match err.downcast::<RateLimitError>() {
        Ok(err) => match *err {
            RateLimitError::Limited(limited) => limited,
            other => panic!("expected a reached limit, got {other}"),
        },
        Err(other) => panic!("expected a rate limit error, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn over_the_requests_limit_the_call_fails_with_when_to_retry() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            keys(Limits::none().rpm(3), Limits::none()),
            Arc::new(LocalBackend::new()),
        ))
        .service(upstream(10, calls.clone()));
    for _ in 0..3 {
        service
            .clone()
            .oneshot(chat("alice", "m", 10))
            .await
            .expect("admitted");
    }
    let refused = limited(service.clone().oneshot(chat("alice", "m", 10)).await);
    assert_eq!(refused.scope, Scope::USER);
    assert_eq!(refused.key.as_str(), "alice");
    assert_eq!((refused.kind, refused.limit), (LimitKind::Requests, 3));
    // 3 a minute: one more every 20 s.
    assert_eq!(refused.retry_after, Duration::from_secs(20));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        3,
        "the upstream never saw it"
    );

    tokio::time::advance(refused.retry_after).await;
    service
        .oneshot(chat("alice", "m", 10))
        .await
        .expect("admitted again");
}

#[tokio::test(start_paused = true)]
async fn tokens_are_estimated_then_corrected_from_the_usage() {
    let backend = Arc::new(LocalBackend::new());
    let layer = RateLimitLayer::new(keys(Limits::none().tpm(1_000), Limits::none()), backend);
    let calls = Arc::new(AtomicUsize::new(0));
    // Estimated at 600 each, but each uses only 100.
    let thrifty = ServiceBuilder::new()
        .layer(layer.clone())
        .service(upstream(100, calls.clone()));
    thrifty
        .clone()
        .oneshot(chat("alice", "m", 600))
        .await
        .expect("600 of 1000");
    // Without the correction 600 + 600 would not fit.
    thrifty
        .clone()
        .oneshot(chat("alice", "m", 600))
        .await
        .expect("100 + 600");
    thrifty
        .clone()
        .oneshot(chat("alice", "m", 600))
        .await
        .expect("200 + 600");

    // Now one that uses far more than its estimate: the excess is counted too.
    let greedy = ServiceBuilder::new()
        .layer(layer)
        .service(upstream(700, calls));
    greedy
        .clone()
        .oneshot(chat("bob", "m", 10))
        .await
        .expect("10 of 1000");
    let refused = limited(greedy.oneshot(chat("bob", "m", 301)).await);
    assert_eq!((refused.kind, refused.limit), (LimitKind::Tokens, 1_000));
    assert_eq!(refused.retry_after, Duration::from_secs(60));
    let again = limited(thrifty.oneshot(chat("bob", "m", 301)).await);
    assert_eq!(
        again.key.as_str(),
        "bob",
        "700 counted, 301 more do not fit"
    );
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_count() {
    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            keys(Limits::none().rpm(1).tpm(100), Limits::none()),
            Arc::new(LocalBackend::new()),
        ))
        .service(upstream(100, Arc::default()));
    service
        .clone()
        .oneshot(chat("alice", "m", 1))
        .await
        .expect("alice's first");
    limited(service.clone().oneshot(chat("alice", "m", 1)).await);
    service
        .clone()
        .oneshot(chat("bob", "m", 1))
        .await
        .expect("bob's first");
    // Same key, other scope: a team named `alice` is not the user `alice`.
    let team = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            |req: &ChatRequest| {
                let user = req.user.as_deref().unwrap_or_default();
                vec![LimitCheck::new(Scope::TEAM, user, Limits::none().rpm(1))]
            },
            Arc::new(LocalBackend::new()),
        ))
        .service(upstream(1, Arc::default()));
    team.oneshot(chat("alice", "m", 1))
        .await
        .expect("team alice's first");
}

#[tokio::test(start_paused = true)]
async fn every_scope_of_a_call_is_checked_and_a_refusal_counts_tokens_nowhere() {
    let backend = Arc::new(LocalBackend::new());
    let layer = RateLimitLayer::new(
        keys(Limits::none().rpm(10).tpm(600), Limits::none().tpm(500)),
        backend,
    );
    // Reports usage 0, which would give the tokens back...
    let service = ServiceBuilder::new()
        .layer(layer.clone())
        .service(upstream(0, Arc::default()));
    // ...so fill the windows through one that reports none: its estimates stay counted.
    let unsettled = ServiceBuilder::new()
        .layer(layer)
        .service(tower::service_fn(|_req: ChatRequest| async {
            Ok::<_, Infallible>(http::Response::new(()))
        }));
    unsettled
        .clone()
        .oneshot(chat("alice", "gpt", 300))
        .await
        .expect("alice 300, gpt 300");
    unsettled
        .clone()
        .oneshot(chat("bob", "gpt", 200))
        .await
        .expect("bob 200, gpt 500");
    let refused = limited(service.clone().oneshot(chat("alice", "gpt", 1)).await);
    assert_eq!((refused.scope, refused.key.as_str()), (Scope::MODEL, "gpt"));
    // The refusal by the model took nothing from alice: exactly 300 more fit in her 600.
    unsettled
        .oneshot(chat("alice", "other", 300))
        .await
        .expect("alice 600, other 300");
    let refused = limited(service.oneshot(chat("alice", "other", 1)).await);
    assert_eq!(
        (refused.scope, refused.key.as_str()),
        (Scope::USER, "alice")
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_settles_its_tokens_later_through_the_correction_it_carries() {
    let backend = Arc::new(LocalBackend::new());
    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            keys(Limits::none().tpm(1_000), Limits::none()),
            backend,
        ))
        .service(tower::service_fn(|_req: ChatRequest| async {
            Ok::<_, Infallible>(http::Response::new("data: ..."))
        }));
    let response = service
        .clone()
        .oneshot(chat("alice", "m", 900))
        .await
        .expect("900");
    let correction = response
        .extensions()
        .get::<Correction>()
        .expect("a correction for the end of the stream")
        .clone();
    assert_eq!(correction.estimated_tokens(), 900);
    let err = service.clone().oneshot(chat("alice", "m", 200)).await;
    assert!(err.is_err(), "900 + 200 do not fit");
    // The stream's final chunk said 50 tokens.
    correction.settle(50);
    service
        .oneshot(chat("alice", "m", 900))
        .await
        .expect("50 + 900");
}

#[tokio::test(start_paused = true)]
async fn a_failed_call_gives_its_tokens_back_and_unlimited_calls_pass() {
    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            |req: &ChatRequest| match req.user.as_deref() {
                Some("admin") => Vec::new(),
                _ => vec![LimitCheck::new(Scope::MODEL, "m", Limits::none().tpm(100))],
            },
            Arc::new(LocalBackend::new()),
        ))
        .service(tower::service_fn(|req: ChatRequest| async move {
            match req.max_tokens {
                Some(100) => Err::<Usage, _>(BoxError::from("upstream failed")),
                _ => Ok(Usage::new(5, 5)),
            }
        }));
    let err = service
        .clone()
        .oneshot(chat("u", "m", 100))
        .await
        .expect_err("failed");
    assert!(
        err.downcast_ref::<RateLimitError>().is_none(),
        "the upstream's own error"
    );
    service
        .clone()
        .oneshot(chat("u", "m", 90))
        .await
        .expect("the 100 came back");
    service
        .oneshot(chat("admin", "m", 10_000))
        .await
        .expect("no limit applies");
}

/// Answers like a backend behind a network: later, from the local backend.
struct Remote(LocalBackend);

impl RateLimitBackend for Remote {
    fn acquire(&self, checks: &[LimitCheck], tokens: u64) -> Acquire {
        let answer = self.0.admit(checks, tokens).map_err(RateLimitError::from);
        Acquire::pending(async move {
            tokio::task::yield_now().await;
            answer
        })
    }

    fn correct(&self, checks: &[LimitCheck], grant: Grant, used_tokens: u64) {
        self.0.correct(checks, grant, used_tokens);
    }
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_answers_later_holds_the_call_until_it_does() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(
            keys(Limits::none().rpm(2).tpm(100), Limits::none()),
            Arc::new(Remote(LocalBackend::new())),
        ))
        .service(upstream(10, calls.clone()));
    let first = service
        .ready()
        .await
        .expect("ready")
        .call(chat("alice", "m", 50));
    assert_eq!(
        calls.load(Ordering::Relaxed),
        0,
        "not called before the answer"
    );
    first.await.expect("admitted");
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    // Corrected to 10: 90 more fit.
    service
        .clone()
        .oneshot(chat("alice", "m", 90))
        .await
        .expect("10 + 90");
    let refused = limited(service.oneshot(chat("alice", "m", 1)).await);
    assert_eq!(refused.kind, LimitKind::Requests);
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}
