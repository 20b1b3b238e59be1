//! `GatewayMetrics`: the gateway's Prometheus metrics in a registry it owns (no global recorder,
//! so two gateways, or two tests, in one process never share counts), rendered as OpenMetrics
//! text for `GET /metrics`.
//!
//! When OTLP export is on ([`otlp_metrics`](crate::otlp_metrics)), every count and histogram is
//! recorded into its OpenTelemetry twin too, under the same name.
//!
//! Labels are low-cardinality by contract: configured model group and deployment names, status
//! codes, fixed scopes and component names. Never pass keys, users, or a model name a client
//! made up (use [`UNKNOWN`] for a model that is not configured).
//!
//! ```
//! use switchyard_telemetry::metrics::{Direction, GatewayMetrics};
//!
//! let metrics = GatewayMetrics::new();
//! let _in_flight = metrics.in_flight();
//! metrics.record_request("gpt-4o", "gpt-4o-eastus", 200, std::time::Duration::from_millis(850));
//! metrics.record_tokens("gpt-4o", Direction::Input, 12);
//! assert!(metrics.render().contains("switchyard_requests_total"));
//! ```

use std::fmt;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::otlp_metrics::{OtlpInstruments, label};

/// `Content-Type` of [`GatewayMetrics::render`]'s output (OpenMetrics text, which Prometheus
/// scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label value for a model name that is not configured.
pub const UNKNOWN: &str = "unknown";

/// Buckets of whole-request durations, in seconds: LLM calls run from a fraction of a second to
/// minutes.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];
/// Buckets of time to first token, in seconds.
pub const TTFT_BUCKETS: [f64; 12] = [
    0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0,
];

/// Buckets of the gateway's own overhead, in seconds: from a tenth of a millisecond (the
/// gateway's aim) to a second (something is wrong).
pub const OVERHEAD_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Token direction, the `direction` label of `switchyard_tokens_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Prompt tokens (`input`).
    Input,
    /// Completion tokens (`output`).
    Output,
}

impl Direction {
    /// The label value: `input` or `output`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
        }
    }
}

impl EncodeLabelValue for Direction {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    model: String,
    deployment: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    model: String,
    deployment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    direction: Direction,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FallbackLabels {
    from: String,
    to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeploymentLabels {
    deployment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ScopeLabels {
    scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ComponentLabels {
    component: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PolicyLabels {
    policy: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The gateway's metrics and the registry that renders them. Cheap to record into from many
/// tasks (atomics behind a read lock per label set); share it in an `Arc`.
#[derive(Debug)]
pub struct GatewayMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<ModelLabels>,
    ttft: HistogramFamily<ModelLabels>,
    overhead: HistogramFamily<RouteLabels>,
    tokens: Family<TokenLabels, Counter>,
    cost_usd: Family<ModelLabels, Counter<f64>>,
    cache_hits: Family<ModelLabels, Counter>,
    fallbacks: Family<FallbackLabels, Counter>,
    cooldowns: Family<DeploymentLabels, Counter>,
    rate_limited: Family<ScopeLabels, Counter>,
    redis_failures: Family<ComponentLabels, Counter>,
    spend_records_shed: Counter,
    budget_counter_failures: Counter,
    budget_failure_policy: Family<PolicyLabels, Gauge>,
    in_flight: Gauge,
    open_connections: Gauge,
    alive_tasks: Gauge,
    /// The OpenTelemetry twins, when OTLP export is on.
    otlp: Option<OtlpInstruments>,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayMetrics {
    /// Creates the metrics in a fresh registry (recording into OpenTelemetry instruments too
    /// once [`otlp_metrics::install`](crate::otlp_metrics::install) has run).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS));
        let ttft: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(|| Histogram::new(TTFT_BUCKETS));
        let overhead: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(|| Histogram::new(OVERHEAD_BUCKETS));
        let tokens = Family::<TokenLabels, Counter>::default();
        let cost_usd = Family::<ModelLabels, Counter<f64>>::default();
        let cache_hits = Family::<ModelLabels, Counter>::default();
        let fallbacks = Family::<FallbackLabels, Counter>::default();
        let cooldowns = Family::<DeploymentLabels, Counter>::default();
        let rate_limited = Family::<ScopeLabels, Counter>::default();
        let redis_failures = Family::<ComponentLabels, Counter>::default();
        let spend_records_shed = Counter::default();
        let budget_counter_failures = Counter::default();
        let budget_failure_policy = Family::<PolicyLabels, Gauge>::default();
        let in_flight = Gauge::default();
        let open_connections = Gauge::default();
        let alive_tasks = Gauge::default();

        // Counters are registered without `_total`: the encoder appends it.
        registry.register(
            "switchyard_requests",
            "Gateway calls answered, by model group, deployment and HTTP status",
            requests.clone(),
        );
        registry.register(
            "switchyard_request_duration_seconds",
            "Duration of gateway calls, to the end of the response or stream",
            request_duration.clone(),
        );
        registry.register(
            "switchyard_time_to_first_token_seconds",
            "Time from the call to the first streamed token",
            ttft.clone(),
        );
        registry.register(
            "switchyard_gateway_overhead_seconds",
            "Time of a call not spent waiting on its upstream (the call's duration minus the \
             time until each attempt answered and a stream's upstream ended), by model group \
             and deployment",
            overhead.clone(),
        );
        registry.register(
            "switchyard_tokens",
            "Tokens processed, by direction",
            tokens.clone(),
        );
        registry.register(
            "switchyard_cost_usd",
            "Cost of calls in US dollars",
            cost_usd.clone(),
        );
        registry.register(
            "switchyard_cache_hits",
            "Calls answered from the response cache",
            cache_hits.clone(),
        );
        registry.register(
            "switchyard_fallbacks",
            "Fallbacks from one model group to another",
            fallbacks.clone(),
        );
        registry.register(
            "switchyard_cooldowns",
            "Deployments put in cooldown",
            cooldowns.clone(),
        );
        registry.register(
            "switchyard_rate_limited",
            "Calls refused by a rate limit, by scope",
            rate_limited.clone(),
        );
        registry.register(
            "switchyard_redis_failures",
            "Redis operations that failed, by component (the gateway fell back to local state)",
            redis_failures.clone(),
        );
        registry.register(
            "switchyard_spend_records_shed",
            "Spend records dropped because the spend writer's queue was full",
            spend_records_shed.clone(),
        );
        registry.register(
            "switchyard_budget_counter_failures",
            "Budget counter operations that failed (Redis or the database unreachable)",
            budget_counter_failures.clone(),
        );
        registry.register(
            "switchyard_budget_failure_policy",
            "1 for the policy budgets follow while their counters cannot be reached (closed: \
             budgeted calls refused; local_slice: served from each replica's slice of what was \
             left)",
            budget_failure_policy.clone(),
        );
        registry.register(
            "switchyard_in_flight_requests",
            "Gateway calls in progress",
            in_flight.clone(),
        );
        registry.register(
            "switchyard_open_connections",
            "Client connections open",
            open_connections.clone(),
        );
        registry.register(
            "switchyard_runtime_alive_tasks",
            "Tasks alive on the async runtime",
            alive_tasks.clone(),
        );

        let otlp = OtlpInstruments::installed(&in_flight);
        Self {
            registry,
            requests,
            request_duration,
            ttft,
            overhead,
            tokens,
            cost_usd,
            cache_hits,
            fallbacks,
            cooldowns,
            rate_limited,
            redis_failures,
            spend_records_shed,
            budget_counter_failures,
            budget_failure_policy,
            in_flight,
            open_connections,
            alive_tasks,
            otlp,
        }
    }

    /// Records one answered call: `switchyard_requests_total{model,deployment,status}` and
    /// `switchyard_request_duration_seconds{model}`. `deployment` is empty when none was reached.
    pub fn record_request(&self, model: &str, deployment: &str, status: u16, duration: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                model: model.to_owned(),
                deployment: deployment.to_owned(),
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&ModelLabels {
                model: model.to_owned(),
            })
            .observe(duration.as_secs_f64());
        if let Some(otlp) = &self.otlp {
            otlp.record_request(model, deployment, status, duration);
        }
    }

    /// Records a stream's time to first token.
    pub fn record_ttft(&self, model: &str, ttft: Duration) {
        self.ttft
            .get_or_create(&ModelLabels {
                model: model.to_owned(),
            })
            .observe(ttft.as_secs_f64());
        if let Some(otlp) = &self.otlp {
            otlp.ttft
                .record(ttft.as_secs_f64(), &[label("model", model)]);
        }
    }

    /// Records the gateway's own part of a call that an upstream answered:
    /// `switchyard_gateway_overhead_seconds{model,deployment}`.
    pub fn record_overhead(&self, model: &str, deployment: &str, overhead: Duration) {
        self.overhead
            .get_or_create(&RouteLabels {
                model: model.to_owned(),
                deployment: deployment.to_owned(),
            })
            .observe(overhead.as_secs_f64());
        if let Some(otlp) = &self.otlp {
            otlp.overhead.record(
                overhead.as_secs_f64(),
                &[label("model", model), label("deployment", deployment)],
            );
        }
    }

    /// Adds tokens to `switchyard_tokens_total{model,direction}`.
    pub fn record_tokens(&self, model: &str, direction: Direction, tokens: u64) {
        self.tokens
            .get_or_create(&TokenLabels {
                model: model.to_owned(),
                direction,
            })
            .inc_by(tokens);
        if let Some(otlp) = &self.otlp {
            otlp.record_tokens(model, direction, tokens);
        }
    }

    /// Adds input and output tokens of one call.
    pub fn record_usage(&self, model: &str, input_tokens: u64, output_tokens: u64) {
        self.record_tokens(model, Direction::Input, input_tokens);
        self.record_tokens(model, Direction::Output, output_tokens);
    }

    /// Adds to `switchyard_cost_usd_total{model}`. Negative or non-finite amounts are ignored.
    pub fn record_cost(&self, model: &str, usd: f64) {
        if usd.is_finite() && usd > 0.0 {
            self.cost_usd
                .get_or_create(&ModelLabels {
                    model: model.to_owned(),
                })
                .inc_by(usd);
            if let Some(otlp) = &self.otlp {
                otlp.cost_usd.add(usd, &[label("model", model)]);
            }
        }
    }

    /// Counts a call answered from the cache.
    pub fn record_cache_hit(&self, model: &str) {
        self.cache_hits
            .get_or_create(&ModelLabels {
                model: model.to_owned(),
            })
            .inc();
        if let Some(otlp) = &self.otlp {
            otlp.cache_hits.add(1, &[label("model", model)]);
        }
    }

    /// Counts a fallback from one model group to another.
    pub fn record_fallback(&self, from: &str, to: &str) {
        self.fallbacks
            .get_or_create(&FallbackLabels {
                from: from.to_owned(),
                to: to.to_owned(),
            })
            .inc();
        if let Some(otlp) = &self.otlp {
            otlp.fallbacks
                .add(1, &[label("from", from), label("to", to)]);
        }
    }

    /// Counts a deployment entering cooldown.
    pub fn record_cooldown(&self, deployment: &str) {
        self.cooldowns
            .get_or_create(&DeploymentLabels {
                deployment: deployment.to_owned(),
            })
            .inc();
        if let Some(otlp) = &self.otlp {
            otlp.cooldowns.add(1, &[label("deployment", deployment)]);
        }
    }

    /// Counts a call refused by a rate limit of `scope` (`key`, `user`, `team`, `model`,
    /// `global`, ...: the kind of limit, never its subject).
    pub fn record_rate_limited(&self, scope: &str) {
        self.rate_limited
            .get_or_create(&ScopeLabels {
                scope: scope.to_owned(),
            })
            .inc();
        if let Some(otlp) = &self.otlp {
            otlp.rate_limited.add(1, &[label("scope", scope)]);
        }
    }

    /// Counts a failed Redis operation of `component` (`rate_limit`, `cache`, `usage`, ...).
    pub fn record_redis_failure(&self, component: &str) {
        self.record_redis_failures(component, 1);
    }

    /// Counts `count` failed calls to Redis by `component` at once (for components that keep
    /// their own tally, read when metrics are rendered).
    pub fn record_redis_failures(&self, component: &str, count: u64) {
        if count > 0 {
            self.redis_failures
                .get_or_create(&ComponentLabels {
                    component: component.to_owned(),
                })
                .inc_by(count);
            if let Some(otlp) = &self.otlp {
                otlp.redis_failures
                    .add(count, &[label("component", component)]);
            }
        }
    }

    /// Counts spend records dropped under back-pressure.
    pub fn record_spend_records_shed(&self, count: u64) {
        self.spend_records_shed.inc_by(count);
        if let Some(otlp) = &self.otlp {
            otlp.spend_records_shed.add(count, &[]);
        }
    }

    /// Counts budget counter operations that failed.
    pub fn record_budget_counter_failures(&self, count: u64) {
        self.budget_counter_failures.inc_by(count);
        if let Some(otlp) = &self.otlp {
            otlp.budget_counter_failures.add(count, &[]);
        }
    }

    /// Shows which policy budgets follow while their counters cannot be reached: `policy` is
    /// set to 1, every other to 0.
    pub fn set_budget_failure_policy(&self, policy: &str) {
        for known in ["closed", "local_slice"] {
            self.budget_failure_policy
                .get_or_create(&PolicyLabels {
                    policy: known.to_owned(),
                })
                .set(i64::from(known == policy));
        }
    }

    /// Sets the gauges read from elsewhere when metrics are rendered: client connections open
    /// and tasks alive on the runtime (leak checks watch both return to their baseline).
    pub fn set_process_gauges(&self, open_connections: usize, alive_tasks: usize) {
        self.open_connections
            .set(i64::try_from(open_connections).unwrap_or(i64::MAX));
        self.alive_tasks
            .set(i64::try_from(alive_tasks).unwrap_or(i64::MAX));
    }

    /// Counts a call in flight until the returned guard is dropped (`switchyard_in_flight_requests`).
    /// Hold it for the whole call, stream included.
    pub fn in_flight(&self) -> InFlightGuard {
        self.in_flight.inc();
        InFlightGuard {
            gauge: self.in_flight.clone(),
        }
    }

    /// Renders every metric as OpenMetrics text (serve it with [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail; an encoder error would be a bug in a metric's
        // encoding, and a partial page is still more useful to a scraper than none.
        if let Err(fmt::Error) = prometheus_client::encoding::text::encode(&mut out, &self.registry)
        {
            tracing::warn!("encoding metrics failed; the page is incomplete");
        }
        out
    }

    /// The registry, to register more metrics next to the gateway's.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }
}

/// Decrements `switchyard_in_flight_requests` when dropped.
#[derive(Debug)]
#[must_use = "the call counts as in flight only while the guard is held"]
pub struct InFlightGuard {
    gauge: Gauge,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_guard_counts_down_on_drop() {
        let metrics = GatewayMetrics::new();
        let a = metrics.in_flight();
        let b = metrics.in_flight();
        assert_eq!(metrics.in_flight.get(), 2);
        drop(a);
        assert_eq!(metrics.in_flight.get(), 1);
        drop(b);
        assert_eq!(metrics.in_flight.get(), 0);
    }

    #[test]
    fn registries_are_isolated() {
        let one = GatewayMetrics::new();
        let two = GatewayMetrics::new();
        one.record_cache_hit("m");
        assert!(
            one.render()
                .contains("switchyard_cache_hits_total{model=\"m\"} 1")
        );
        assert!(!two.render().contains("model=\"m\""));
    }
}
