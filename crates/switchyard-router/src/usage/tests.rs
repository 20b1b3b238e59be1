//! The sync cycle with in-memory stores: two routers standing for two replicas, on tokio's
//! paused clock started just after a minute's edge, so no test meets the next minute by chance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use switchyard_providers::ProviderError;
use switchyard_providers::mock::{Mock, MockSettings};

use super::*;
use crate::router::Clock;
use crate::{
    CallOptions, Deployment, DeploymentLimits, ModelGroups, Router, RoutingPolicy, Strategy,
};

/// One second into a minute.
const START_MS: u64 = 29_000_000 * 60_000 + 1_000;

fn deployment(id: &str, limits: DeploymentLimits) -> Deployment {
    let mut d = Deployment::new(
        id,
        "m",
        Box::new(Mock::new(MockSettings::default())),
        Duration::from_secs(1),
    );
    d.limits = limits;
    d
}

/// A replica: group `m` with deployments `x` (order 1, `x_limits`) and `y` (order 2).
fn replica(strategy: Strategy, x_limits: DeploymentLimits) -> Router {
    let groups = ModelGroups::new([
        deployment(
            "x",
            DeploymentLimits {
                order: Some(1),
                ..x_limits
            },
        ),
        deployment(
            "y",
            DeploymentLimits {
                order: Some(2),
                ..Default::default()
            },
        ),
    ]);
    let policy = RoutingPolicy {
        strategy,
        ..Default::default()
    };
    Router::with_clock(groups, policy, Clock::starting_at(START_MS))
}

fn get<'a>(router: &'a Router, id: &str) -> &'a Deployment {
    router
        .groups()
        .iter()
        .flat_map(|g| g.deployments())
        .find(|d| d.id == id)
        .expect("deployment exists")
}

/// `(requests, tokens)` of `id` this minute as `router` sees them.
fn seen(router: &Router, id: &str) -> (u64, u64) {
    let stats = &get(router, id).stats;
    let now = router.now_ms();
    (
        stats.requests_this_minute(now),
        stats.tokens_this_minute(now),
    )
}

/// Counts one call of `tokens` on `id`, as the router does for a served call.
fn use_deployment(router: &Router, id: &str, tokens: u64) {
    let deployment = get(router, id);
    deployment.stats.start_call(router.now_ms());
    deployment.stats.end_call();
    router.record_usage(deployment, tokens);
}

async fn route(router: &Router) -> Result<String, crate::RouteError> {
    let routed = router
        .call("m", (), &CallOptions::default(), |d, ()| {
            Box::pin(async move { Ok::<_, ProviderError>(d.id.clone()) })
        })
        .await?;
    Ok(routed.value)
}

fn minute() -> u64 {
    crate::deployment::minute_of(START_MS)
}

#[tokio::test(start_paused = true)]
async fn another_replicas_counts_arrive_after_one_sync_on_each() {
    let store = Arc::new(MemoryUsageStore::new());
    let (a, b) = (
        replica(Strategy::SimpleShuffle, Default::default()),
        replica(Strategy::SimpleShuffle, Default::default()),
    );
    let (sync_a, sync_b) = (
        UsageSync::new(&a, store.clone()),
        UsageSync::new(&b, store.clone()),
    );
    use_deployment(&a, "x", 10);
    use_deployment(&a, "x", 20);
    assert_eq!(seen(&b, "x"), (0, 0), "nothing shared before a sync");
    sync_a.sync_now().await.expect("sync a");
    sync_b.sync_now().await.expect("sync b");
    assert_eq!(seen(&b, "x"), (2, 30));
    assert_eq!(seen(&b, "y"), (0, 0));
    sync_a.sync_now().await.expect("sync a again");
    assert_eq!(
        seen(&a, "x"),
        (2, 30),
        "a replica never counts itself twice"
    );
    assert_eq!(
        store.totals(minute())["x"],
        UsageCount {
            requests: 2,
            tokens: 30
        }
    );
}

#[tokio::test(start_paused = true)]
async fn each_count_is_sent_once_and_both_replicas_see_the_sum() {
    let store = Arc::new(MemoryUsageStore::new());
    let (a, b) = (
        replica(Strategy::SimpleShuffle, Default::default()),
        replica(Strategy::SimpleShuffle, Default::default()),
    );
    let (sync_a, sync_b) = (
        UsageSync::new(&a, store.clone()),
        UsageSync::new(&b, store.clone()),
    );
    use_deployment(&a, "x", 5);
    sync_a.sync_now().await.expect("sync");
    use_deployment(&a, "x", 5);
    use_deployment(&b, "x", 7);
    sync_b.sync_now().await.expect("sync");
    assert_eq!(seen(&b, "x"), (2, 12), "b: its own call and a's first");
    assert_eq!(seen(&a, "x"), (2, 10), "a: its calls, not yet b's");
    sync_a.sync_now().await.expect("sync");
    sync_b.sync_now().await.expect("sync");
    assert_eq!(seen(&a, "x"), (3, 17));
    assert_eq!(seen(&b, "x"), (3, 17));
    assert_eq!(
        store.totals(minute())["x"],
        UsageCount {
            requests: 3,
            tokens: 17
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_limit_counts_the_calls_of_every_replica() {
    let store = Arc::new(MemoryUsageStore::new());
    let limits = DeploymentLimits {
        rpm: Some(2),
        ..Default::default()
    };
    let (a, b) = (
        replica(Strategy::SimpleShuffle, limits.clone()),
        replica(Strategy::SimpleShuffle, limits),
    );
    let (sync_a, sync_b) = (
        UsageSync::new(&a, store.clone()),
        UsageSync::new(&b, store.clone()),
    );
    assert_eq!(route(&a).await.expect("served"), "x");
    assert_eq!(route(&a).await.expect("served"), "x");
    assert_eq!(
        route(&a).await.expect("served"),
        "y",
        "x's rpm is spent on a"
    );
    sync_a.sync_now().await.expect("sync");
    sync_b.sync_now().await.expect("sync");
    assert_eq!(
        route(&b).await.expect("served"),
        "y",
        "x's rpm is spent on a"
    );
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(route(&b).await.expect("served"), "x", "a new minute");
}

#[tokio::test(start_paused = true)]
async fn usage_based_routing_prefers_what_other_replicas_left_idle() {
    // One tier, so that only usage decides.
    let flat = || {
        let groups = ModelGroups::new([
            deployment("x", Default::default()),
            deployment("y", Default::default()),
        ]);
        let policy = RoutingPolicy {
            strategy: Strategy::UsageBased,
            ..Default::default()
        };
        Router::with_clock(groups, policy, Clock::starting_at(START_MS))
    };
    let store = Arc::new(MemoryUsageStore::new());
    let (a, b) = (flat(), flat());
    let (sync_a, sync_b) = (
        UsageSync::new(&a, store.clone()),
        UsageSync::new(&b, store.clone()),
    );
    use_deployment(&a, "x", 100);
    sync_a.sync_now().await.expect("sync");
    sync_b.sync_now().await.expect("sync");
    for _ in 0..50 {
        assert_eq!(route(&b).await.expect("served"), "y");
        b.record_usage(get(&b, "y"), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn shared_counts_end_with_their_minute() {
    let store = Arc::new(MemoryUsageStore::new());
    let (a, b) = (
        replica(Strategy::SimpleShuffle, Default::default()),
        replica(Strategy::SimpleShuffle, Default::default()),
    );
    let (sync_a, sync_b) = (
        UsageSync::new(&a, store.clone()),
        UsageSync::new(&b, store.clone()),
    );
    use_deployment(&a, "x", 10);
    sync_a.sync_now().await.expect("sync");
    sync_b.sync_now().await.expect("sync");
    assert_eq!(seen(&b, "x"), (1, 10));
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(seen(&b, "x"), (0, 0), "before any sync in the new minute");
    sync_a.sync_now().await.expect("sync");
    sync_b.sync_now().await.expect("sync");
    assert_eq!(seen(&b, "x"), (0, 0), "and after one");
    assert!(
        store.totals(minute() + 1).is_empty(),
        "last minute's counts stay in their minute"
    );
}

/// A store that fails while `down` is set, else delegates.
#[derive(Default)]
struct Flaky {
    inner: MemoryUsageStore,
    down: AtomicBool,
}

impl UsageStore for Flaky {
    fn exchange(
        &self,
        increments: &[UsageIncrement],
        minute: u64,
    ) -> BoxFuture<'static, Result<MinuteTotals, UsageStoreError>> {
        if self.down.load(Ordering::Relaxed) {
            return Box::pin(async { Err(UsageStoreError::Unreachable("refused".to_owned())) });
        }
        self.inner.exchange(increments, minute)
    }
}

#[tokio::test(start_paused = true)]
async fn an_outage_keeps_local_counts_is_counted_and_loses_nothing() {
    let store = Arc::new(Flaky::default());
    let (a, b) = (
        replica(Strategy::SimpleShuffle, Default::default()),
        replica(Strategy::SimpleShuffle, Default::default()),
    );
    let (sync_a, sync_b) = (
        UsageSync::new(&a, store.clone()),
        UsageSync::new(&b, store.clone()),
    );
    use_deployment(&b, "y", 4);
    sync_b.sync_now().await.expect("sync");
    store.down.store(true, Ordering::Relaxed);
    use_deployment(&a, "x", 10);
    for _ in 0..3 {
        assert!(matches!(
            sync_a.sync_now().await,
            Err(UsageStoreError::Unreachable(_))
        ));
    }
    assert_eq!(
        (sync_a.failures(), sync_a.outages()),
        (3, 1),
        "one outage, three failures"
    );
    assert!(!sync_a.is_reachable());
    assert_eq!(seen(&a, "x"), (1, 10), "local counts still apply");
    assert!(sync_b.sync_now().await.is_err());
    assert_eq!(seen(&b, "y"), (1, 4), "and so do the last known ones");
    store.down.store(false, Ordering::Relaxed);
    sync_a.sync_now().await.expect("the store is back");
    assert!(sync_a.is_reachable());
    sync_b.sync_now().await.expect("sync");
    assert_eq!(
        seen(&b, "x"),
        (1, 10),
        "counts made during the outage arrive after it"
    );
    assert_eq!(seen(&a, "y"), (1, 4));
    store.down.store(true, Ordering::Relaxed);
    assert!(sync_a.sync_now().await.is_err());
    assert_eq!(
        (sync_a.failures(), sync_a.outages()),
        (4, 2),
        "a second outage"
    );
}

/// A store that never answers.
struct Silent;

impl UsageStore for Silent {
    fn exchange(
        &self,
        _: &[UsageIncrement],
        _: u64,
    ) -> BoxFuture<'static, Result<MinuteTotals, UsageStoreError>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_does_not_answer_times_out_and_calls_go_on() {
    let a = replica(Strategy::SimpleShuffle, Default::default());
    let sync =
        Arc::new(UsageSync::new(&a, Arc::new(Silent)).with_timeout(Duration::from_millis(50)));
    let task = sync.spawn(UsageSync::INTERVAL);
    assert_eq!(
        route(&a).await.expect("served"),
        "x",
        "calls never wait for the store"
    );
    let err = sync.sync_now().await.expect_err("times out");
    assert!(matches!(err, UsageStoreError::TimedOut(_)), "{err}");
    drop(task);
}

#[tokio::test(start_paused = true)]
async fn a_spawned_sync_runs_every_interval_until_dropped() {
    let store = Arc::new(MemoryUsageStore::new());
    let a = replica(Strategy::SimpleShuffle, Default::default());
    let sync = Arc::new(UsageSync::new(&a, store.clone()));
    let task = sync.spawn(UsageSync::INTERVAL);
    use_deployment(&a, "x", 1);
    // The paused clock moves only when every task waits, so the loop's ticks come first.
    tokio::time::sleep(UsageSync::INTERVAL * 2).await;
    assert_eq!(store.totals(minute())["x"].tokens, 1);
    drop(task);
    use_deployment(&a, "x", 1);
    tokio::time::sleep(UsageSync::INTERVAL * 4).await;
    assert_eq!(
        store.totals(minute())["x"].tokens,
        1,
        "no sync after the drop"
    );
}

#[test]
fn stores_are_object_safe() {
    fn _obj_safe(_: Arc<dyn UsageStore>) {}
    _obj_safe(Arc::new(MemoryUsageStore::new()));
}
