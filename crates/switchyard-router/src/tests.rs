//! Router behaviour with scripted upstream outcomes and tokio's paused clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use switchyard_providers::mock::{Mock, MockSettings};
use switchyard_providers::{ErrorClass, ProviderError};

use crate::*;

fn deployment(group: &str, id: &str) -> Deployment {
    Deployment::new(
        id,
        group,
        Box::new(Mock::new(MockSettings::default())),
        Duration::from_secs(1),
    )
}

/// Outcomes per deployment id, consumed in order; a deployment with no script left succeeds.
#[derive(Clone, Default)]
struct Script {
    outcomes: Arc<Mutex<HashMap<String, Vec<ProviderError>>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Script {
    fn fail(self, id: &str, errors: Vec<ProviderError>) -> Self {
        self.outcomes
            .lock()
            .expect("lock")
            .insert(id.to_owned(), errors);
        self
    }

    fn send(
        &self,
    ) -> impl Fn(Arc<Deployment>, Probe) -> BoxFuture<'static, Result<String, ProviderError>> {
        let script = self.clone();
        move |deployment, _request| {
            script
                .calls
                .lock()
                .expect("lock")
                .push(deployment.id.clone());
            let next = {
                let mut outcomes = script.outcomes.lock().expect("lock");
                outcomes
                    .get_mut(&deployment.id)
                    .filter(|errors| !errors.is_empty())
                    .map(|errors| errors.remove(0))
            };
            Box::pin(async move {
                match next {
                    Some(error) => Err(error),
                    None => Ok(deployment.id.clone()),
                }
            })
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }
}

/// A request that counts its clones.
#[derive(Debug, Default)]
struct Probe(Arc<AtomicUsize>);

impl Clone for Probe {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(&self.0))
    }
}

fn err(class: ErrorClass) -> ProviderError {
    ProviderError::new(class, class.as_str())
}

fn router(deployments: Vec<Deployment>, policy: RoutingPolicy) -> Router {
    Router::new(ModelGroups::new(deployments), policy)
}

fn ordered(group: &str, ids: &[&str]) -> Vec<Deployment> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let mut d = deployment(group, id);
            d.limits.order = Some(i as u32 + 1);
            d
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_503_from_the_primary_is_retried_on_the_secondary() {
    let r = router(
        ordered("m", &["primary", "secondary"]),
        RoutingPolicy::default(),
    );
    let script = Script::default().fail("primary", vec![err(ErrorClass::Overloaded)]);
    let routed = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(routed.value, "secondary");
    assert_eq!(routed.attempts, 2);
    assert_eq!(routed.fallback_from, None);
    assert_eq!(script.calls(), ["primary", "secondary"]);
}

#[tokio::test(start_paused = true)]
async fn a_429_cools_the_deployment_for_its_retry_after() {
    let r = router(
        ordered("m", &["primary", "secondary"]),
        RoutingPolicy::default(),
    );
    let mut limited = err(ErrorClass::RateLimited);
    limited.retry_after = Some(Duration::from_secs(7));
    let script = Script::default().fail("primary", vec![limited]);
    let routed = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(routed.value, "secondary");
    drop(routed);

    let primary = &r.groups().get("m").expect("group").deployments()[0];
    assert!(primary.stats.cooling_down(r.now_ms()));
    let again = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(again.value, "secondary", "the cooling primary is skipped");
    drop(again);

    tokio::time::advance(Duration::from_secs(7)).await;
    assert!(!primary.stats.cooling_down(r.now_ms()));
    let back = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(
        back.value, "primary",
        "the primary returns when its Retry-After has passed"
    );
}

#[tokio::test(start_paused = true)]
async fn a_single_deployment_passes_its_429_on_rather_than_a_503() {
    let r = router(vec![deployment("m", "only")], RoutingPolicy::default());
    let script = Script::default().fail("only", vec![err(ErrorClass::RateLimited)]);
    let error = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect_err("fails");
    let RouteError::Upstream {
        error, attempts, ..
    } = error
    else {
        panic!("upstream error expected, got {error:?}")
    };
    assert_eq!((error.class, attempts), (ErrorClass::RateLimited, 1));
}

#[tokio::test(start_paused = true)]
async fn context_window_errors_use_their_own_fallbacks() {
    let mut policy = RoutingPolicy::default();
    policy
        .context_window_fallbacks
        .insert("small".to_owned(), vec!["large".to_owned()]);
    policy
        .fallbacks
        .insert("small".to_owned(), vec!["other".to_owned()]);
    let r = router(
        vec![
            deployment("small", "s1"),
            deployment("small", "s2"),
            deployment("large", "l1"),
            deployment("other", "o1"),
        ],
        policy,
    );
    let script = Script::default()
        .fail("s1", vec![err(ErrorClass::ContextWindowExceeded)])
        .fail("s2", vec![err(ErrorClass::ContextWindowExceeded)]);
    let routed = r
        .call(
            "small",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(routed.value, "l1");
    assert_eq!(routed.fallback_from.as_deref(), Some("small"));
    assert_eq!(
        script.calls().len(),
        2,
        "no retry inside the group for a context-window error"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_request_is_final_at_once() {
    let mut policy = RoutingPolicy::default();
    policy
        .fallbacks
        .insert("m".to_owned(), vec!["n".to_owned()]);
    let r = router(
        vec![
            deployment("m", "a"),
            deployment("m", "b"),
            deployment("n", "c"),
        ],
        policy,
    );
    let script = Script::default()
        .fail("a", vec![err(ErrorClass::BadRequest)])
        .fail("b", vec![err(ErrorClass::BadRequest)]);
    let error = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect_err("fails");
    assert!(
        matches!(error, RouteError::Upstream { attempts: 1, .. }),
        "{error:?}"
    );
    assert_eq!(script.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_then_fallbacks_then_per_request_models() {
    let mut policy = RoutingPolicy {
        num_retries: 1,
        ..RoutingPolicy::default()
    };
    policy
        .fallbacks
        .insert("m".to_owned(), vec!["f".to_owned()]);
    let r = router(
        vec![
            deployment("m", "m1"),
            deployment("m", "m2"),
            deployment("f", "f1"),
            deployment("x", "x1"),
        ],
        policy,
    );
    let script = Script::default()
        .fail("m1", vec![err(ErrorClass::UpstreamServer)])
        .fail("m2", vec![err(ErrorClass::Timeout)])
        .fail(
            "f1",
            vec![err(ErrorClass::Unreachable), err(ErrorClass::Unreachable)],
        );
    let options = CallOptions {
        models: vec!["x".to_owned()],
        ..CallOptions::default()
    };
    let routed = r
        .call("m", Probe::default(), &options, script.send())
        .await
        .expect("served");
    assert_eq!(routed.value, "x1");
    assert_eq!(routed.attempts, 5);
    let calls = script.calls();
    assert_eq!(
        &calls[2..],
        ["f1", "f1", "x1"],
        "a lone deployment is retried in place"
    );
}

#[tokio::test(start_paused = true)]
async fn a_preference_keeps_calls_and_their_retries_on_the_best_ranked_deployments() {
    let policy = RoutingPolicy {
        num_retries: 2,
        ..RoutingPolicy::default()
    };
    let r = router(
        vec![
            deployment("m", "free"),
            deployment("m", "paid"),
            deployment("m", "other"),
        ],
        policy,
    );
    let rank = |d: &Deployment| match d.id.as_str() {
        "paid" => 0,
        "other" => 2,
        _ => 1,
    };
    let options = CallOptions {
        preference: Some(DeploymentRank::new(rank)),
        ..CallOptions::default()
    };
    for _ in 0..5 {
        let script = Script::default();
        let routed = r
            .call("m", Probe::default(), &options, script.send())
            .await
            .expect("served");
        assert_eq!(routed.value, "paid");
    }
    let script = Script::default().fail("paid", vec![err(ErrorClass::UpstreamServer); 3]);
    let result = r.call("m", Probe::default(), &options, script.send()).await;
    assert!(result.is_err());
    assert_eq!(
        script.calls(),
        ["paid", "paid", "paid"],
        "retries stay on the preferred one"
    );
}

#[tokio::test(start_paused = true)]
async fn without_cooldowns_a_failing_deployment_stays_in_rotation() {
    let policy = RoutingPolicy {
        num_retries: 0,
        allowed_fails: 0,
        cooldowns: false,
        ..RoutingPolicy::default()
    };
    let r = router(vec![deployment("m", "m1")], policy);
    for _ in 0..3 {
        let script = Script::default().fail("m1", vec![err(ErrorClass::RateLimited)]);
        let result = r
            .call(
                "m",
                Probe::default(),
                &CallOptions::default(),
                script.send(),
            )
            .await;
        assert!(result.is_err());
        assert_eq!(script.calls(), ["m1"], "called again, never cooling down");
    }
}

#[tokio::test(start_paused = true)]
async fn no_fallbacks_keeps_the_call_in_its_group() {
    let mut policy = RoutingPolicy {
        num_retries: 0,
        ..RoutingPolicy::default()
    };
    policy
        .fallbacks
        .insert("m".to_owned(), vec!["f".to_owned()]);
    let r = router(vec![deployment("m", "m1"), deployment("f", "f1")], policy);
    let script = Script::default().fail("m1", vec![err(ErrorClass::UpstreamServer)]);
    let options = CallOptions {
        no_fallbacks: true,
        ..CallOptions::default()
    };
    let result = r.call("m", Probe::default(), &options, script.send()).await;
    assert!(result.is_err(), "the group's failure is the answer");
    assert_eq!(
        script.calls(),
        ["m1"],
        "the configured fallback is not called"
    );
}

#[tokio::test(start_paused = true)]
async fn fallbacks_the_filter_refuses_are_skipped_never_called() {
    let mut policy = RoutingPolicy::default();
    policy
        .fallbacks
        .insert("m".to_owned(), vec!["gold".to_owned(), "ok".to_owned()]);
    let r = router(
        vec![
            deployment("m", "m1"),
            deployment("gold", "g1"),
            deployment("x", "x1"),
            deployment("ok", "ok1"),
        ],
        policy,
    );
    let script = Script::default().fail("m1", vec![err(ErrorClass::UpstreamServer)]);
    let options = CallOptions {
        models: vec!["x".to_owned()],
        num_retries: Some(0),
        allowed: Some(GroupFilter::new(|group| group == "m" || group == "ok")),
        ..CallOptions::default()
    };
    let routed = r
        .call("m", Probe::default(), &options, script.send())
        .await
        .expect("served by the allowed fallback");
    assert_eq!(routed.value, "ok1");
    assert_eq!(script.calls(), ["m1", "ok1"], "gold and x never called");

    // With nothing allowed to fall back to, the requested group's failure is the answer.
    let script = Script::default().fail("m1", vec![err(ErrorClass::UpstreamServer)]);
    let options = CallOptions {
        models: vec!["gold".to_owned()],
        num_retries: Some(0),
        allowed: Some(GroupFilter::new(|group| group == "m")),
        ..CallOptions::default()
    };
    let error = r
        .call("m", Probe::default(), &options, script.send())
        .await
        .expect_err("no allowed fallback");
    assert!(
        matches!(&error, RouteError::Upstream { deployment, .. } if deployment == "m1"),
        "{error:?}"
    );
    assert_eq!(script.calls(), ["m1"]);
}

#[tokio::test(start_paused = true)]
async fn every_deployment_cooling_down_is_none_available_naming_the_group() {
    let r = router(vec![deployment("m", "a")], RoutingPolicy::default());
    let a = &r.groups().get("m").expect("group").deployments()[0];
    a.stats
        .cool_down_until(r.now_ms() + 10_000, CooldownCause::Failing);
    let script = Script::default();
    let error = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect_err("nothing available");
    assert!(
        matches!(&error, RouteError::NoneAvailable { group, unavailable } if group == "m"
        && *unavailable == Unavailable {
            retry_after: Some(Duration::from_secs(10)),
            rate_limited: false,
            credentials_refused: false,
        }),
        "{error:?}"
    );
    assert!(script.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_group_cooling_down_after_429s_is_rate_limited_until_the_first_is_back() {
    let r = router(
        vec![deployment("m", "a"), deployment("m", "b")],
        RoutingPolicy {
            num_retries: 1,
            ..RoutingPolicy::default()
        },
    );
    let limited = |secs| {
        let mut error = err(ErrorClass::RateLimited);
        error.retry_after = Some(Duration::from_secs(secs));
        error
    };
    let script = Script::default()
        .fail("a", vec![limited(2)])
        .fail("b", vec![limited(5)]);
    let options = CallOptions::default();
    let call = || r.call("m", Probe::default(), &options, script.send());
    // The first call meets the upstream's 429s themselves.
    let first = call().await.expect_err("both limited");
    assert!(
        matches!(&first, RouteError::Upstream { error, .. } if error.class == ErrorClass::RateLimited),
        "{first:?}"
    );
    tokio::time::advance(Duration::from_millis(500)).await;
    let none = |error: RouteError| match error {
        RouteError::NoneAvailable { unavailable, .. } => unavailable,
        other => panic!("none available expected, got {other:?}"),
    };
    assert_eq!(
        none(call().await.expect_err("cooling down")),
        Unavailable {
            retry_after: Some(Duration::from_millis(1_500)),
            rate_limited: true,
            credentials_refused: false,
        },
        "the first deployment is back 2 s after its 429"
    );
    // A deployment failing for another reason makes the group unavailable, not rate limited.
    let b = &r.groups().get("m").expect("group").deployments()[1];
    b.stats
        .cool_down_until(r.now_ms() + 60_000, CooldownCause::Failing);
    assert_eq!(
        none(call().await.expect_err("cooling down")),
        Unavailable {
            retry_after: Some(Duration::from_millis(1_500)),
            rate_limited: false,
            credentials_refused: false,
        }
    );
    tokio::time::advance(Duration::from_millis(1_500)).await;
    assert_eq!(call().await.expect("a is back").value, "a");
    assert_eq!(script.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn allowed_fails_per_minute_then_cooldown_then_back_on_time() {
    let policy = RoutingPolicy {
        allowed_fails: 2,
        num_retries: 0,
        cooldown: Duration::from_secs(30),
        ..RoutingPolicy::default()
    };
    let r = router(vec![deployment("m", "a")], policy);
    let script = Script::default().fail(
        "a",
        (0..3).map(|_| err(ErrorClass::UpstreamServer)).collect(),
    );
    let a = Arc::clone(&r.groups().get("m").expect("group").deployments()[0]);
    for n in 1..=3 {
        let _ = r
            .call(
                "m",
                Probe::default(),
                &CallOptions::default(),
                script.send(),
            )
            .await;
        assert_eq!(
            a.stats.cooling_down(r.now_ms()),
            n == 3,
            "after failure {n}"
        );
    }
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(a.stats.cooling_down(r.now_ms()));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(!a.stats.cooling_down(r.now_ms()));
}

#[tokio::test(start_paused = true)]
async fn unknown_models_are_reported_and_requests_cloned_only_when_needed() {
    let r = router(
        vec![deployment("m", "a")],
        RoutingPolicy {
            num_retries: 0,
            ..RoutingPolicy::default()
        },
    );
    let script = Script::default();
    let error = r
        .call(
            "nope",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect_err("unknown");
    assert!(matches!(error, RouteError::UnknownModel(ref m) if m == "nope"));

    let clones = Arc::new(AtomicUsize::new(0));
    r.call(
        "m",
        Probe(Arc::clone(&clones)),
        &CallOptions::default(),
        script.send(),
    )
    .await
    .expect("served");
    assert_eq!(
        clones.load(Ordering::Relaxed),
        0,
        "a single possible attempt moves the request"
    );
}

#[tokio::test(start_paused = true)]
async fn the_in_flight_slot_is_held_until_the_guard_drops() {
    let r = router(vec![deployment("m", "a")], RoutingPolicy::default());
    let script = Script::default();
    let routed = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(routed.deployment().stats.in_flight(), 1);
    let deployment = Arc::clone(routed.deployment());
    drop(routed);
    assert_eq!(deployment.stats.in_flight(), 0);
}

/// A `send` where `slow` never answers (and flags when its call is dropped) and others answer
/// at once with their id.
fn hang_on(
    slow: &'static str,
    dropped: Arc<AtomicUsize>,
) -> impl Fn(Arc<Deployment>, Probe) -> BoxFuture<'static, Result<String, ProviderError>> {
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    move |deployment, _request| {
        let dropped = Arc::clone(&dropped);
        Box::pin(async move {
            if deployment.id == slow {
                let _flag = OnDrop(dropped);
                std::future::pending::<()>().await;
            }
            Ok(deployment.id.clone())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_hedged_request_returns_the_faster_deployment_and_cancels_the_slow_one() {
    let mut policy = RoutingPolicy::default();
    policy
        .hedging
        .insert("m".to_owned(), Hedge::After(Duration::from_millis(200)));
    let r = router(ordered("m", &["slow", "fast"]), policy);
    let dropped = Arc::new(AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    let routed = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            hang_on("slow", Arc::clone(&dropped)),
        )
        .await
        .expect("served");
    assert_eq!(routed.value, "fast");
    assert_eq!(routed.attempts, 2);
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(200),
        "the hedge starts after the delay"
    );
    assert_eq!(
        dropped.load(Ordering::Relaxed),
        1,
        "the slow call was cancelled"
    );
    let slow = &r.groups().get("m").expect("group").deployments()[0];
    assert_eq!(slow.stats.in_flight(), 0, "the loser's slot is released");
}

#[tokio::test(start_paused = true)]
async fn a_fast_first_answer_never_hedges_and_p95_waits_for_data() {
    let mut policy = RoutingPolicy::default();
    policy
        .hedging
        .insert("m".to_owned(), Hedge::After(Duration::from_millis(200)));
    let r = router(ordered("m", &["quick", "other"]), policy);
    let script = Script::default();
    let routed = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!((routed.value.as_str(), routed.attempts), ("quick", 1));

    let mut policy = RoutingPolicy::default();
    policy.hedging.insert("m".to_owned(), Hedge::P95);
    let r = router(ordered("m", &["quick", "other"]), policy);
    let routed = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(routed.attempts, 1, "no latency data yet, so no hedge");
}

#[tokio::test(start_paused = true)]
async fn the_cooldown_hook_hears_each_deployment_put_in_cooldown() {
    let cooled = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&cooled);
    let r = router(
        ordered("m", &["primary", "secondary"]),
        RoutingPolicy::default(),
    )
    .on_cooldown(CooldownHook::new(move |d| {
        seen.lock().expect("lock").push(d.id.clone());
    }));
    let script = Script::default().fail("primary", vec![err(ErrorClass::RateLimited)]);
    let routed = r
        .call(
            "m",
            Probe::default(),
            &CallOptions::default(),
            script.send(),
        )
        .await
        .expect("served");
    assert_eq!(routed.value, "secondary");
    assert_eq!(*cooled.lock().expect("lock"), ["primary"]);
}

#[tokio::test(start_paused = true)]
async fn refused_credentials_cool_the_deployment_and_the_group_says_why() {
    let r = router(vec![deployment("m", "a")], RoutingPolicy::default());
    let script = Script::default().fail("a", vec![err(ErrorClass::Authentication)]);
    let options = CallOptions::default();
    let first = r
        .call("m", Probe::default(), &options, script.send())
        .await
        .expect_err("credentials refused");
    assert!(
        matches!(&first, RouteError::Upstream { error, .. } if error.class == ErrorClass::Authentication),
        "{first:?}"
    );
    let again = r
        .call("m", Probe::default(), &options, script.send())
        .await
        .expect_err("cooling down");
    assert!(
        matches!(&again, RouteError::NoneAvailable { unavailable, .. }
            if unavailable.credentials_refused && !unavailable.rate_limited),
        "{again:?}"
    );
    assert_eq!(script.calls(), ["a"], "not called while cooling down");
}

#[tokio::test(start_paused = true)]
async fn upstream_wait_sums_every_attempt_and_nothing_else() {
    let r = router(
        ordered("m", &["primary", "secondary"]),
        RoutingPolicy::default(),
    );
    // The primary fails after 300 ms, the secondary answers after 200 ms.
    let send = |deployment: Arc<Deployment>, _request: Probe| -> BoxFuture<'static, _> {
        Box::pin(async move {
            if deployment.id == "primary" {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Err(err(ErrorClass::Overloaded))
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(deployment.id.clone())
            }
        })
    };
    let routed = r
        .call("m", Probe::default(), &CallOptions::default(), send)
        .await
        .expect("served");
    assert_eq!(routed.value, "secondary");
    assert_eq!(routed.upstream_wait, Duration::from_millis(500));
}
