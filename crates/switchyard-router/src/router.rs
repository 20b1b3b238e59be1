//! The router: sends a call to a deployment of its model group, retries on other deployments,
//! follows fallback chains, and cools failing deployments down. It decides on error classes
//! only, never on provider-specific strings.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use switchyard_providers::{ErrorClass, ProviderError};
use tokio::time::Instant;

use crate::deployment::{CooldownCause, Deployment};
use crate::group::{ModelGroups, Unavailable};
use crate::policy::{FallbackReason, Hedge, MAX_RETRY_AFTER_COOLDOWN, RoutingPolicy};

/// Why a call could not be served.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// No group has the requested name.
    #[error("no model group is named `{0}`")]
    UnknownModel(String),
    /// Every deployment of the group was cooling down or at its limits; nothing was sent.
    #[error("every deployment of model group `{group}` is cooling down or at its limits")]
    NoneAvailable {
        /// The group that had nothing to offer.
        group: String,
        /// Why, and when a deployment is expected back.
        unavailable: Unavailable,
    },
    /// The last attempt failed upstream, after every retry and fallback.
    #[error("deployment `{deployment}` failed: {error}")]
    Upstream {
        /// The deployment of the last attempt.
        deployment: String,
        /// Its classified failure.
        error: ProviderError,
        /// Attempts made in all.
        attempts: u32,
    },
}

/// Per-call routing options: what the client sent, and what its caller may reach.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Further model groups to try, in order, after the requested one (OpenRouter's `models`).
    pub models: Vec<String>,
    /// Overrides the policy's `num_retries` for this call.
    pub num_retries: Option<u32>,
    /// The groups this call may fall back to; `None` allows every group. Checked each time a
    /// fallback group (configured or from [`models`](Self::models)) comes up: a group it refuses
    /// is skipped, never called. The requested group itself is the caller's to admit.
    pub allowed: Option<GroupFilter>,
    /// Whether the call stays in its group: no configured fallback is tried (LiteLLM's
    /// per-request `disable_fallbacks`). Groups the client listed itself still are.
    pub no_fallbacks: bool,
    /// When the requested model is served by a wildcard group (`openai/*`): the group, and
    /// what its `*` stood for.
    pub wildcard: Option<WildcardRoute>,
    /// Which deployments of a group the call prefers (LiteLLM's tag routing): among the
    /// available ones, only those of the best rank are picked from.
    pub preference: Option<DeploymentRank>,
}

/// Ranks a group's deployments for one call, lower first: a call is served by the available
/// deployments of the lowest rank any available one has. [`CallOptions::preference`] uses it
/// for LiteLLM's tag routing (deployments with the request's tags, then those tagged
/// `default`, then any).
///
/// ```
/// use switchyard_router::{CallOptions, DeploymentRank};
///
/// let options = CallOptions {
///     preference: Some(DeploymentRank::new(|d| u8::from(d.id != "tagged"))),
///     ..CallOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct DeploymentRank(Arc<dyn Fn(&Deployment) -> u8 + Send + Sync>);

impl DeploymentRank {
    /// A ranking by `rank`.
    pub fn new(rank: impl Fn(&Deployment) -> u8 + Send + Sync + 'static) -> Self {
        Self(Arc::new(rank))
    }

    /// The rank of `deployment`.
    pub fn rank(&self, deployment: &Deployment) -> u8 {
        (self.0)(deployment)
    }
}

impl std::fmt::Debug for DeploymentRank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeploymentRank")
    }
}

/// A call to a model no group is named after, served by a wildcard group (LiteLLM's
/// `model_name: "openai/*"`). The request keeps the model it asked for; each wildcard
/// deployment is asked for its own model with the `*` replaced by [`capture`](Self::capture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WildcardRoute {
    /// The wildcard group that serves the call.
    pub group: String,
    /// What the group's `*` stood for in the requested model.
    pub capture: String,
}

impl WildcardRoute {
    /// The model deployment `configured` (`*`, `claude-*`) is asked for: itself when it has no
    /// `*`, else with its `*` replaced by the capture.
    pub fn upstream_model(&self, configured: &str) -> Option<String> {
        configured
            .contains('*')
            .then(|| configured.replacen('*', &self.capture, 1))
    }
}

impl CallOptions {
    fn allows(&self, group: &str) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|filter| filter.allows(group))
    }
}

/// Which model groups a call may reach, such as a key's allow-list.
///
/// ```
/// use switchyard_router::{CallOptions, GroupFilter};
///
/// let allowed = ["basic".to_owned()];
/// let options = CallOptions {
///     models: vec!["gold".to_owned()],
///     allowed: Some(GroupFilter::new(move |group| allowed.iter().any(|a| a == group))),
///     ..CallOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct GroupFilter(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl GroupFilter {
    /// A filter that allows the groups `allows` answers `true` for.
    pub fn new(allows: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(allows))
    }

    /// Whether the filter allows `group`.
    pub fn allows(&self, group: &str) -> bool {
        (self.0)(group)
    }
}

impl std::fmt::Debug for GroupFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GroupFilter")
    }
}

/// A served call: the value, the deployment that produced it and how it got there.
#[derive(Debug)]
pub struct Routed<T> {
    /// What the deployment answered.
    pub value: T,
    /// Holds the deployment's in-flight slot until dropped (keep it alive with a stream).
    pub guard: CallGuard,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// Fallback groups attempted (the one that answered included): LiteLLM's
    /// `x-litellm-attempted-fallbacks`. 0 when the requested group answered.
    pub fallbacks: u32,
    /// The requested group, when a fallback group answered instead.
    pub fallback_from: Option<String>,
    /// Time spent waiting on upstreams, over every attempt (a hedge and the attempt it races
    /// count once, as the wall time until one answered): until the answer, or until a stream
    /// started. The rest of a call's time is the gateway's own.
    pub upstream_wait: Duration,
}

impl<T> Routed<T> {
    /// The deployment that answered.
    pub fn deployment(&self) -> &Arc<Deployment> {
        &self.guard.deployment
    }
}

/// Counts a call in flight on a deployment until dropped.
#[derive(Debug)]
pub struct CallGuard {
    deployment: Arc<Deployment>,
}

impl CallGuard {
    fn new(deployment: Arc<Deployment>, now_ms: u64) -> Self {
        deployment.stats.start_call(now_ms);
        Self { deployment }
    }

    /// The deployment this call runs on.
    pub fn deployment(&self) -> &Arc<Deployment> {
        &self.deployment
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.deployment.stats.end_call();
    }
}

/// The router's clock: tokio's (so tests can pause and advance it), counted from the wall-clock
/// time at start, so that replicas agree on where a minute begins.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch: Instant,
    epoch_unix_ms: u64,
}

impl Clock {
    /// Starts at the system's wall-clock time.
    pub(crate) fn system() -> Self {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Self::starting_at(unix_ms)
    }

    /// Starts at `unix_ms` milliseconds since the UNIX epoch.
    pub(crate) fn starting_at(unix_ms: u64) -> Self {
        Self {
            epoch: Instant::now(),
            epoch_unix_ms: unix_ms,
        }
    }

    /// Milliseconds since the UNIX epoch.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.epoch_unix_ms.saturating_add(elapsed)
    }
}

/// Called each time a deployment is put in cooldown (metrics count them).
#[derive(Clone)]
pub struct CooldownHook(Arc<dyn Fn(&Deployment) + Send + Sync>);

impl CooldownHook {
    /// Wraps `hook`. It runs on the call path: keep it cheap.
    pub fn new(hook: impl Fn(&Deployment) + Send + Sync + 'static) -> Self {
        Self(Arc::new(hook))
    }
}

impl std::fmt::Debug for CooldownHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CooldownHook")
    }
}

/// Model groups plus the policy that routes calls across them.
#[derive(Debug)]
pub struct Router {
    groups: ModelGroups,
    policy: RoutingPolicy,
    clock: Clock,
    on_cooldown: Option<CooldownHook>,
}

impl Router {
    /// A router over `groups` following `policy`.
    pub fn new(groups: ModelGroups, policy: RoutingPolicy) -> Self {
        Self::with_clock(groups, policy, Clock::system())
    }

    /// A router whose clock starts at a chosen time (tests that must not meet a minute's edge).
    pub(crate) fn with_clock(groups: ModelGroups, policy: RoutingPolicy, clock: Clock) -> Self {
        Self {
            groups,
            policy,
            clock,
            on_cooldown: None,
        }
    }

    /// Calls `hook` whenever a deployment is put in cooldown.
    #[must_use]
    pub fn on_cooldown(mut self, hook: CooldownHook) -> Self {
        self.on_cooldown = Some(hook);
        self
    }

    /// The model groups.
    pub fn groups(&self) -> &ModelGroups {
        &self.groups
    }

    /// The routing policy.
    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    /// Milliseconds since the UNIX epoch on the router's clock: the wall-clock time at start,
    /// advanced by tokio's clock (so tests can pause and advance it).
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The router's clock.
    pub(crate) fn clock(&self) -> Clock {
        self.clock
    }

    /// Counts `tokens` against `deployment`'s minute budget (usage-based routing, `tpm`).
    pub fn record_usage(&self, deployment: &Deployment, tokens: u64) {
        deployment.stats.record_tokens(self.now_ms(), tokens);
    }

    /// Serves `request` from `model`'s group, calling `send` for each attempt.
    ///
    /// A retryable failure moves to another deployment of the group (up to `num_retries` more
    /// attempts), then to the group's fallbacks; a context-window or content-policy refusal goes
    /// straight to its own fallback chain; a bad request is final at once. The request is cloned
    /// only when another attempt could follow.
    pub async fn call<R, T, F>(
        &self,
        model: &str,
        request: R,
        options: &CallOptions,
        send: F,
    ) -> Result<Routed<T>, RouteError>
    where
        R: Clone,
        F: Fn(Arc<Deployment>, R) -> BoxFuture<'static, Result<T, ProviderError>>,
    {
        if self.groups.get(model).is_none() {
            return Err(RouteError::UnknownModel(model.to_owned()));
        }
        let retries = options.num_retries.unwrap_or(self.policy.num_retries);
        let mut queue: VecDeque<String> = VecDeque::from([model.to_owned()]);
        queue.extend(options.models.iter().cloned());
        let mut visited: Vec<String> = Vec::new();
        let mut request = Some(request);
        let mut attempts = 0u32;
        let mut groups_attempted = 0u32;
        let mut upstream_wait = Duration::ZERO;
        let mut last: Option<RouteError> = None;

        while let Some(name) = queue.pop_front() {
            if visited.contains(&name) {
                continue;
            }
            visited.push(name.clone());
            if name != model && !options.allows(&name) {
                tracing::info!(group = %name, "fallback skipped: the caller may not use it");
                continue;
            }
            let Some(group) = self.groups.get(&name) else {
                tracing::warn!(group = %name, "fallback names no configured model group");
                continue;
            };
            let mut tried: Vec<Arc<Deployment>> = Vec::new();
            let mut reason = FallbackReason::Failure;
            for attempt in 0..=retries {
                let now = self.now_ms();
                let picked = group.pick_ranked(
                    &self.policy.strategy,
                    now,
                    &tried,
                    options.preference.as_ref(),
                );
                let Some(deployment) = picked else {
                    last.get_or_insert_with(|| RouteError::NoneAvailable {
                        group: name.clone(),
                        unavailable: group.unavailable(now),
                    });
                    break;
                };
                let deployment = Arc::clone(deployment);
                if tried.is_empty() {
                    groups_attempted += 1;
                }
                tried.push(Arc::clone(&deployment));
                attempts += 1;
                let more_possible = attempt < retries
                    || !queue.is_empty()
                    || (!options.no_fallbacks && self.policy.has_fallbacks(&name))
                    || self.policy.hedging.contains_key(&name);
                let Some(this_request) = (if more_possible {
                    request.clone()
                } else {
                    request.take()
                }) else {
                    break;
                };
                let hedge_after = self.hedge_delay(&name, &deployment);
                let waiting = Instant::now();
                let first = Attempt::start(&deployment, now, &send, this_request);
                let (winner, result) = match hedge_after {
                    None => first.finish().await,
                    Some(delay) => {
                        let hedge = HedgeStart {
                            group,
                            tried: &mut tried,
                            request: &request,
                            delay,
                            preference: options.preference.as_ref(),
                        };
                        self.hedged(first, hedge, &send, &mut attempts).await
                    }
                };
                upstream_wait += waiting.elapsed();
                let (deployment, guard, started) =
                    (winner.deployment, winner.guard, winner.started);
                match result {
                    Ok(value) => {
                        deployment.stats.record_latency(started.elapsed());
                        return Ok(Routed {
                            value,
                            guard,
                            attempts,
                            fallbacks: groups_attempted.saturating_sub(1),
                            fallback_from: (name != model).then(|| model.to_owned()),
                            upstream_wait,
                        });
                    }
                    Err(error) => {
                        drop(guard);
                        self.note_failure(&deployment, &error);
                        let class = error.class;
                        tracing::warn!(
                            deployment = %deployment.id,
                            class = class.as_str(),
                            attempt = attempts,
                            "attempt failed: {error}"
                        );
                        last = Some(RouteError::Upstream {
                            deployment: deployment.id.clone(),
                            error,
                            attempts,
                        });
                        match class {
                            ErrorClass::BadRequest => return Err(finish(last, attempts, model)),
                            ErrorClass::ContextWindowExceeded => {
                                reason = FallbackReason::ContextWindow;
                                break;
                            }
                            ErrorClass::ContentPolicy => {
                                reason = FallbackReason::ContentPolicy;
                                break;
                            }
                            _ => {}
                        }
                    }
                }
            }
            let chain = if options.no_fallbacks {
                None
            } else {
                self.policy.fallbacks_for(&name, reason)
            };
            match chain {
                Some(chain) => {
                    for fallback in chain.iter().rev() {
                        queue.push_front(fallback.clone());
                    }
                }
                None if reason != FallbackReason::Failure => break,
                None => {}
            }
        }
        Err(finish(last, attempts, model))
    }

    /// How long to wait for `deployment` before hedging, when `group` hedges.
    fn hedge_delay(&self, group: &str, deployment: &Deployment) -> Option<Duration> {
        match self.policy.hedging.get(group)? {
            Hedge::After(delay) => Some(*delay),
            Hedge::P95 => deployment.stats.latency_percentile(0.95),
        }
    }

    /// Runs `first`; if it has not answered within the delay, starts a second attempt on another
    /// deployment of the group and takes whichever succeeds first. The other is dropped, which
    /// cancels its upstream request; a failed one is noted for cooldowns.
    async fn hedged<R, T, F>(
        &self,
        mut first: Attempt<T>,
        hedge: HedgeStart<'_, R>,
        send: &F,
        attempts: &mut u32,
    ) -> (Attempt<T>, Result<T, ProviderError>)
    where
        R: Clone,
        F: Fn(Arc<Deployment>, R) -> BoxFuture<'static, Result<T, ProviderError>>,
    {
        if let Ok(result) = tokio::time::timeout(hedge.delay, &mut first.call).await {
            return (first, result);
        }
        let now = self.now_ms();
        let second = hedge
            .group
            .pick_ranked(&self.policy.strategy, now, hedge.tried, hedge.preference)
            .filter(|d| !hedge.tried.iter().any(|t| Arc::ptr_eq(t, d)))
            .cloned();
        let (Some(second), Some(request)) = (second, hedge.request.clone()) else {
            return first.finish().await;
        };
        tracing::info!(
            first = %first.deployment.id,
            second = %second.id,
            after_ms = hedge.delay.as_millis() as u64,
            "hedging a slow attempt"
        );
        hedge.tried.push(Arc::clone(&second));
        *attempts += 1;
        let mut second = Attempt::start(&second, now, send, request);
        tokio::select! {
            result = &mut first.call => match result {
                Ok(value) => (first, Ok(value)),
                Err(error) => {
                    self.note_failure(&first.deployment, &error);
                    second.finish().await
                }
            },
            result = &mut second.call => match result {
                Ok(value) => (second, Ok(value)),
                Err(error) => {
                    self.note_failure(&second.deployment, &error);
                    first.finish().await
                }
            },
        }
    }

    /// Cooldown bookkeeping: a rate limit cools the deployment for its Retry-After (else the
    /// policy's cooldown); a broken deployment (bad credentials, unknown model) cools at once;
    /// other retryable failures cool it after `allowed_fails` in a minute.
    fn note_failure(&self, deployment: &Deployment, error: &ProviderError) {
        if !self.policy.cooldowns {
            return;
        }
        let now = self.now_ms();
        let cool = |for_how_long: Duration, cause: CooldownCause| {
            let ms = u64::try_from(for_how_long.as_millis()).unwrap_or(u64::MAX);
            deployment
                .stats
                .cool_down_until(now.saturating_add(ms), cause);
            if let Some(hook) = &self.on_cooldown {
                (hook.0)(deployment);
            }
            tracing::info!(
                deployment = %deployment.id,
                seconds = for_how_long.as_secs_f64(),
                "deployment cooling down"
            );
        };
        match error.class {
            ErrorClass::RateLimited => cool(
                error
                    .retry_after
                    .unwrap_or(self.policy.cooldown)
                    .min(MAX_RETRY_AFTER_COOLDOWN),
                CooldownCause::RateLimited,
            ),
            ErrorClass::Authentication => {
                cool(self.policy.cooldown, CooldownCause::CredentialsRefused)
            }
            ErrorClass::PermissionDenied | ErrorClass::NotFound => {
                cool(self.policy.cooldown, CooldownCause::Failing)
            }
            class
                if class.is_retryable()
                    && deployment.stats.record_failure(now) > self.policy.allowed_fails =>
            {
                cool(self.policy.cooldown, CooldownCause::Failing)
            }
            _ => {}
        }
    }
}

/// One upstream call under way: its deployment, in-flight slot, start time and future.
struct Attempt<T> {
    deployment: Arc<Deployment>,
    guard: CallGuard,
    started: Instant,
    call: BoxFuture<'static, Result<T, ProviderError>>,
}

impl<T> Attempt<T> {
    fn start<R, F>(deployment: &Arc<Deployment>, now_ms: u64, send: &F, request: R) -> Self
    where
        F: Fn(Arc<Deployment>, R) -> BoxFuture<'static, Result<T, ProviderError>>,
    {
        Self {
            deployment: Arc::clone(deployment),
            guard: CallGuard::new(Arc::clone(deployment), now_ms),
            started: Instant::now(),
            call: send(Arc::clone(deployment), request),
        }
    }

    async fn finish(mut self) -> (Self, Result<T, ProviderError>) {
        let result = (&mut self.call).await;
        (self, result)
    }
}

/// What a hedge needs from the retry loop.
struct HedgeStart<'a, R> {
    group: &'a crate::group::ModelGroup,
    tried: &'a mut Vec<Arc<Deployment>>,
    request: &'a Option<R>,
    delay: Duration,
    preference: Option<&'a DeploymentRank>,
}

/// The error a failed call ends in: the last upstream failure with the total attempts, or
/// "none available" when nothing could be sent at all.
fn finish(last: Option<RouteError>, total: u32, model: &str) -> RouteError {
    match last {
        Some(RouteError::Upstream {
            deployment, error, ..
        }) => RouteError::Upstream {
            deployment,
            error,
            attempts: total,
        },
        Some(other) => other,
        None => RouteError::NoneAvailable {
            group: model.to_owned(),
            unavailable: Unavailable::default(),
        },
    }
}
