//! A deployment (one upstream model that can serve a model group) and the live statistics the
//! strategies and cooldowns read: calls in flight, recent latencies, failures, usage this minute.
//! Everything here is lock-free atomics, so picking never contends on a lock.
//!
//! Usage per minute has two parts: what this replica counted, and what the other replicas
//! counted as of the last [`UsageSync`](crate::UsageSync) cycle; limits and the usage strategy
//! read their sum.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use switchyard_providers::Provider;

/// How many recent latencies the latency strategy averages.
pub const LATENCY_WINDOW: usize = 16;

/// Longest a stream may run unless configured otherwise: long enough for any answer a model
/// writes, short enough that an upstream trickling forever lets go of its slot.
pub const DEFAULT_MAX_STREAM_DURATION: Duration = Duration::from_secs(30 * 60);

/// One upstream model that can serve a model group.
#[derive(Debug)]
pub struct Deployment {
    /// Stable id (`model_info.id` in the configuration, or the group name and position).
    pub id: String,
    /// The group this deployment serves.
    pub model_name: String,
    /// The adapter that calls the upstream.
    pub provider: Box<dyn Provider>,
    /// Time allowed for a complete answer.
    pub timeout: Duration,
    /// Time allowed until a stream has started, and between two of its chunks.
    pub stream_timeout: Duration,
    /// Time a stream may run in all, once started, however steadily it sends.
    pub max_stream_duration: Duration,
    /// Selection hints and limits from the configuration.
    pub limits: DeploymentLimits,
    /// Live statistics.
    pub stats: DeploymentStats,
}

/// Selection hints and limits of a deployment (`litellm_params` `weight`, `order`, `rpm`, `tpm`,
/// `max_parallel_requests`), plus its price when known.
#[derive(Debug, Clone, Default)]
pub struct DeploymentLimits {
    /// Relative share for the weighted shuffle.
    pub weight: Option<f64>,
    /// Priority tier: lower orders are used first; the next tier only when none is available.
    pub order: Option<u32>,
    /// Requests per minute the deployment may take.
    pub rpm: Option<u64>,
    /// Tokens per minute the deployment may take.
    pub tpm: Option<u64>,
    /// Calls it may have in flight at once.
    pub max_parallel_requests: Option<u32>,
    /// Price of one input plus one output token in USD, for cost-based routing.
    pub cost_per_token: Option<f64>,
}

impl Deployment {
    /// A deployment with no limits and fresh statistics.
    pub fn new(
        id: impl Into<String>,
        model_name: impl Into<String>,
        provider: Box<dyn Provider>,
        timeout: Duration,
    ) -> Self {
        Self {
            id: id.into(),
            model_name: model_name.into(),
            provider,
            timeout,
            stream_timeout: timeout,
            max_stream_duration: DEFAULT_MAX_STREAM_DURATION,
            limits: DeploymentLimits::default(),
            stats: DeploymentStats::default(),
        }
    }

    /// Whether the deployment may take a call at `now_ms` (router clock): not cooling down, under
    /// its parallel-request limit and under its requests- and tokens-per-minute limits.
    pub fn is_available(&self, now_ms: u64) -> bool {
        !self.stats.cooling_down(now_ms)
            && !self.at_parallel_limit()
            && !self.at_minute_limit(now_ms)
    }

    /// When the deployment may take a call again, as far as `now_ms` can tell: `now_ms` if it
    /// may now, else the end of its cooldown or of this minute (its `rpm` or `tpm` spent),
    /// whichever is later. `None` while it is at its parallel-request limit: it is back
    /// whenever one of its calls ends.
    pub fn available_at(&self, now_ms: u64) -> Option<u64> {
        if self.at_parallel_limit() {
            return None;
        }
        let mut at = now_ms;
        if let Some(cooldown) = self.stats.cooldown(now_ms) {
            at = at.max(cooldown.until_ms);
        }
        if self.at_minute_limit(now_ms) {
            // `minute_of` counts from 1, so it is also the number of the next minute's start.
            at = at.max(minute_of(now_ms).saturating_mul(60_000));
        }
        Some(at)
    }

    fn at_parallel_limit(&self) -> bool {
        self.limits
            .max_parallel_requests
            .is_some_and(|max| self.stats.in_flight() >= max)
    }

    fn at_minute_limit(&self, now_ms: u64) -> bool {
        self.limits
            .rpm
            .is_some_and(|rpm| self.stats.requests_this_minute(now_ms) >= rpm)
            || self
                .limits
                .tpm
                .is_some_and(|tpm| self.stats.tokens_this_minute(now_ms) >= tpm)
    }
}

/// Why a deployment was taken out of rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CooldownCause {
    /// The upstream answered 429: it asked for fewer calls, not that it is broken.
    RateLimited,
    /// It failed (errors, timeouts, an unknown model).
    Failing,
    /// The provider refused the gateway's credentials for it (HTTP 401): an operator must fix
    /// the deployment's key; the cooldown says so rather than hide it.
    CredentialsRefused,
}

impl CooldownCause {
    fn to_u8(self) -> u8 {
        match self {
            Self::Failing => 0,
            Self::RateLimited => 1,
            Self::CredentialsRefused => 2,
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::RateLimited,
            2 => Self::CredentialsRefused,
            _ => Self::Failing,
        }
    }
}

/// A deployment's cooldown: until when, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooldown {
    /// When it ends (router clock, milliseconds since the UNIX epoch).
    pub until_ms: u64,
    /// Why it started.
    pub cause: CooldownCause,
}

/// Live statistics of one deployment.
#[derive(Debug, Default)]
pub struct DeploymentStats {
    in_flight: AtomicU32,
    cooldown_until_ms: AtomicU64,
    /// The [`CooldownCause`] of the cooldown that ends at `cooldown_until_ms`.
    cooldown_cause: AtomicU8,
    failure_minute: AtomicU64,
    failures: AtomicU32,
    usage_minute: AtomicU64,
    requests: AtomicU64,
    tokens: AtomicU64,
    /// The minute `shared_requests` and `shared_tokens` belong to.
    shared_minute: AtomicU64,
    /// Requests the other replicas counted in `shared_minute`, as of the last sync.
    shared_requests: AtomicU64,
    /// Tokens the other replicas counted in `shared_minute`, as of the last sync.
    shared_tokens: AtomicU64,
    latencies_us: [AtomicU64; LATENCY_WINDOW],
    latency_next: AtomicUsize,
}

/// What this replica counted for a deployment in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalUsage {
    /// The minute ([`minute_of`]) the counts belong to.
    pub minute: u64,
    /// Requests started.
    pub requests: u64,
    /// Tokens used.
    pub tokens: u64,
}

/// The minute `now_ms` (router clock: milliseconds since the UNIX epoch) falls in. The `+ 1`
/// keeps minute 0 for "never", the value fresh counters start with.
pub(crate) fn minute_of(now_ms: u64) -> u64 {
    now_ms / 60_000 + 1
}

impl DeploymentStats {
    /// Calls in flight now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn start_call(&self, now_ms: u64) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.roll_usage_minute(now_ms);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn end_call(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether the deployment is cooling down at `now_ms`.
    pub fn cooling_down(&self, now_ms: u64) -> bool {
        self.cooldown_until_ms.load(Ordering::Relaxed) > now_ms
    }

    /// The cooldown under way at `now_ms`, if any.
    pub fn cooldown(&self, now_ms: u64) -> Option<Cooldown> {
        let until_ms = self.cooldown_until_ms.load(Ordering::Relaxed);
        (until_ms > now_ms).then(|| Cooldown {
            until_ms,
            cause: CooldownCause::from_u8(self.cooldown_cause.load(Ordering::Relaxed)),
        })
    }

    /// Takes the deployment out of every pick until `until_ms`, for `cause`. A shorter cooldown
    /// never cuts a longer one, and the cause is the one of the cooldown that ends last.
    pub fn cool_down_until(&self, until_ms: u64, cause: CooldownCause) {
        let previous = self
            .cooldown_until_ms
            .fetch_max(until_ms, Ordering::Relaxed);
        // Two cooldowns starting at once may leave the other's cause: either is a true one,
        // and the next cooldown sets it again.
        if until_ms >= previous {
            self.cooldown_cause.store(cause.to_u8(), Ordering::Relaxed);
        }
    }

    /// Counts a failure in the current minute; returns the count so far this minute.
    pub fn record_failure(&self, now_ms: u64) -> u32 {
        let minute = minute_of(now_ms);
        if self.failure_minute.swap(minute, Ordering::Relaxed) != minute {
            self.failures.store(0, Ordering::Relaxed);
        }
        self.failures.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records how long a call took (time to first token for streams).
    pub fn record_latency(&self, latency: Duration) {
        let slot = self.latency_next.fetch_add(1, Ordering::Relaxed) % LATENCY_WINDOW;
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latencies_us[slot].store(micros, Ordering::Relaxed);
    }

    /// Mean of the recent latencies, or `None` before the first call.
    pub fn mean_latency(&self) -> Option<Duration> {
        let (sum, count) = self
            .latencies_us
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .filter(|micros| *micros > 0)
            .fold((0u64, 0u64), |(sum, n), micros| {
                (sum.saturating_add(micros), n + 1)
            });
        (count > 0).then(|| Duration::from_micros(sum / count))
    }

    /// The `quantile` (0.0 to 1.0) of the recent latencies, or `None` before the first call.
    pub fn latency_percentile(&self, quantile: f64) -> Option<Duration> {
        let mut recent: Vec<u64> = self
            .latencies_us
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .filter(|micros| *micros > 0)
            .collect();
        if recent.is_empty() {
            return None;
        }
        recent.sort_unstable();
        let rank = ((recent.len() as f64 * quantile.clamp(0.0, 1.0)).ceil() as usize)
            .clamp(1, recent.len());
        Some(Duration::from_micros(recent[rank - 1]))
    }

    /// Counts tokens used in the current minute.
    pub fn record_tokens(&self, now_ms: u64, tokens: u64) {
        self.roll_usage_minute(now_ms);
        self.tokens.fetch_add(tokens, Ordering::Relaxed);
    }

    /// Requests started in the current minute: here, plus on the other replicas as of the last
    /// usage sync when usage is shared.
    pub fn requests_this_minute(&self, now_ms: u64) -> u64 {
        let minute = minute_of(now_ms);
        let local = if self.usage_minute.load(Ordering::Relaxed) == minute {
            self.requests.load(Ordering::Relaxed)
        } else {
            0
        };
        local.saturating_add(self.shared(minute, &self.shared_requests))
    }

    /// Tokens used in the current minute: here, plus on the other replicas as of the last usage
    /// sync when usage is shared.
    pub fn tokens_this_minute(&self, now_ms: u64) -> u64 {
        let minute = minute_of(now_ms);
        let local = if self.usage_minute.load(Ordering::Relaxed) == minute {
            self.tokens.load(Ordering::Relaxed)
        } else {
            0
        };
        local.saturating_add(self.shared(minute, &self.shared_tokens))
    }

    /// What this replica alone counted, with the minute it counted in.
    pub(crate) fn local_usage(&self) -> LocalUsage {
        LocalUsage {
            minute: self.usage_minute.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            tokens: self.tokens.load(Ordering::Relaxed),
        }
    }

    /// Replaces what the other replicas counted in `minute` (the last sync's answer).
    pub(crate) fn set_shared_usage(&self, minute: u64, requests: u64, tokens: u64) {
        // Readers that see the old minute with the new counts (or the reverse) are off by one
        // sync at a minute's edge, as approximate as the local counters there.
        self.shared_minute.store(minute, Ordering::Relaxed);
        self.shared_requests.store(requests, Ordering::Relaxed);
        self.shared_tokens.store(tokens, Ordering::Relaxed);
    }

    fn shared(&self, minute: u64, counter: &AtomicU64) -> u64 {
        if self.shared_minute.load(Ordering::Relaxed) == minute {
            counter.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    fn roll_usage_minute(&self, now_ms: u64) {
        let minute = minute_of(now_ms);
        if self.usage_minute.swap(minute, Ordering::Relaxed) != minute {
            self.requests.store(0, Ordering::Relaxed);
            self.tokens.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_per_minute() {
        let stats = DeploymentStats::default();
        assert_eq!(stats.record_failure(1_000), 1);
        assert_eq!(stats.record_failure(59_000), 2);
        assert_eq!(
            stats.record_failure(61_000),
            1,
            "a new minute starts afresh"
        );
    }

    #[test]
    fn cooldown_ends_at_its_deadline() {
        let stats = DeploymentStats::default();
        assert_eq!(stats.cooldown(0), None);
        stats.cool_down_until(5_000, CooldownCause::RateLimited);
        assert!(stats.cooling_down(4_999));
        assert!(!stats.cooling_down(5_000));
        stats.cool_down_until(1_000, CooldownCause::Failing);
        assert!(
            stats.cooling_down(4_999),
            "a shorter cooldown never cuts a longer one"
        );
        assert_eq!(
            stats.cooldown(4_999),
            Some(Cooldown {
                until_ms: 5_000,
                cause: CooldownCause::RateLimited
            }),
            "nor changes its cause"
        );
        stats.cool_down_until(6_000, CooldownCause::Failing);
        assert_eq!(
            stats.cooldown(1).map(|c| c.cause),
            Some(CooldownCause::Failing)
        );
        assert_eq!(stats.cooldown(6_000), None);
    }

    #[test]
    fn mean_latency_covers_the_recent_window_only() {
        let stats = DeploymentStats::default();
        assert_eq!(stats.mean_latency(), None);
        for _ in 0..LATENCY_WINDOW {
            stats.record_latency(Duration::from_millis(100));
        }
        for _ in 0..LATENCY_WINDOW {
            stats.record_latency(Duration::from_millis(10));
        }
        assert_eq!(stats.mean_latency(), Some(Duration::from_millis(10)));
    }

    #[test]
    fn the_p95_of_the_window_is_its_slow_tail() {
        let stats = DeploymentStats::default();
        assert_eq!(stats.latency_percentile(0.95), None);
        for ms in 1..=16 {
            stats.record_latency(Duration::from_millis(ms * 10));
        }
        assert_eq!(
            stats.latency_percentile(0.95),
            Some(Duration::from_millis(160))
        );
        assert_eq!(
            stats.latency_percentile(0.5),
            Some(Duration::from_millis(80))
        );
    }

    fn mock_deployment() -> Deployment {
        Deployment::new(
            "d",
            "g",
            Box::new(switchyard_providers::mock::Mock::new(Default::default())),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn a_deployment_at_its_minute_limits_is_unavailable_until_the_next_minute() {
        let mut d = mock_deployment();
        d.limits.rpm = Some(2);
        d.limits.tpm = Some(100);
        d.stats.start_call(0);
        assert!(d.is_available(0));
        d.stats.record_tokens(0, 100);
        assert!(!d.is_available(0), "tpm spent");
        assert!(d.is_available(60_000), "a new minute");
        d.stats.start_call(60_000);
        d.stats.start_call(60_000);
        assert!(!d.is_available(60_001), "rpm spent");
        d.limits.max_parallel_requests = Some(3);
        assert_eq!(d.stats.in_flight(), 3);
        d.limits.rpm = None;
        assert!(!d.is_available(60_001), "three calls in flight");
    }

    #[test]
    fn a_deployment_is_back_when_its_cooldown_and_its_minute_have_ended() {
        let mut d = mock_deployment();
        assert_eq!(d.available_at(1_000), Some(1_000));
        d.stats.cool_down_until(3_000, CooldownCause::Failing);
        assert_eq!(d.available_at(1_000), Some(3_000));
        d.limits.rpm = Some(1);
        d.stats.start_call(1_000);
        assert_eq!(d.available_at(1_000), Some(60_000), "the next minute");
        d.stats.cool_down_until(90_000, CooldownCause::Failing);
        assert_eq!(d.available_at(1_000), Some(90_000));
        d.limits.max_parallel_requests = Some(1);
        assert_eq!(d.available_at(1_000), None, "whenever its call ends");
    }

    #[test]
    fn usage_resets_each_minute() {
        let stats = DeploymentStats::default();
        stats.start_call(1_000);
        stats.record_tokens(2_000, 50);
        assert_eq!(stats.requests_this_minute(3_000), 1);
        assert_eq!(stats.tokens_this_minute(3_000), 50);
        assert_eq!(stats.requests_this_minute(61_000), 0);
        stats.end_call();
        assert_eq!(stats.in_flight(), 0);
    }
}
