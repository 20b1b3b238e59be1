//! How a [`RedisBackend`](super::RedisBackend) names its keys and what it does with calls while
//! Redis does not answer.

use std::time::Duration;

/// What to do with calls while Redis does not answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Keep serving: count the same limits in this process (each replica then admits up to
    /// the whole limit on its own).
    #[default]
    Open,
    /// Refuse every limited call with [`StoreUnavailable`](crate::rate_limit::StoreUnavailable).
    Closed,
}

/// How a [`RedisBackend`](super::RedisBackend) names its keys and behaves when Redis does not answer.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// Prefix of every key, such as `switchyard:rate`. Keys are
    /// `{prefix}:{scope}:{key}:{rpm|tpm}:{minute}`, with `%` and `:` escaped in scope and key,
    /// and expire two minutes after their last count. Put a hash tag in the prefix
    /// (`{switchyard}:rate`) on Redis Cluster, so one call's keys share a slot.
    pub prefix: String,
    /// What happens to calls while Redis does not answer.
    pub on_unavailable: FailurePolicy,
    /// How long one check may take before Redis counts as not answering.
    pub timeout: Duration,
    /// While Redis does not answer, how often one call tries it again; the others go straight
    /// to the policy instead of waiting for a timeout each.
    pub retry_interval: Duration,
}

impl RedisSettings {
    /// Keys under `prefix`, failing open, 250 ms per check, retried every second when down.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            on_unavailable: FailurePolicy::Open,
            timeout: Duration::from_millis(250),
            retry_interval: Duration::from_secs(1),
        }
    }

    /// These settings with `policy` for calls while Redis does not answer.
    pub fn on_unavailable(mut self, policy: FailurePolicy) -> Self {
        self.on_unavailable = policy;
        self
    }
}
