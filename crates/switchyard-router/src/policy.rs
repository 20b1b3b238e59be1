//! What the router does when a call fails: retries within the group, fallback chains by failure
//! kind, and when a deployment is taken out of rotation (cooldown).

use std::collections::HashMap;
use std::time::Duration;

use crate::strategy::Strategy;

/// LiteLLM's default cooldown of a failing deployment.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);
/// Longest wait a provider's `Retry-After` can impose on a deployment.
pub const MAX_RETRY_AFTER_COOLDOWN: Duration = Duration::from_secs(600);

/// The routing policy of a gateway (`router_settings`).
#[derive(Debug, Clone)]
pub struct RoutingPolicy {
    /// How a deployment is chosen within a group.
    pub strategy: Strategy,
    /// Further attempts within a group after the first fails (on other deployments when it has
    /// them).
    pub num_retries: u32,
    /// Failures a deployment may have in a minute before it cools down.
    pub allowed_fails: u32,
    /// How long a failing deployment is left out.
    pub cooldown: Duration,
    /// Whether failing or rate-limited deployments are left out at all (LiteLLM's
    /// `disable_cooldowns: true` turns this off: every deployment stays in rotation).
    pub cooldowns: bool,
    /// Groups to try, in order, when a group fails.
    pub fallbacks: HashMap<String, Vec<String>>,
    /// Groups to try when a group's prompt does not fit its context window.
    pub context_window_fallbacks: HashMap<String, Vec<String>>,
    /// Groups to try when a group refuses the content.
    pub content_policy_fallbacks: HashMap<String, Vec<String>>,
    /// Groups to try when a failing group has no fallbacks of its own.
    pub default_fallbacks: Vec<String>,
    /// Groups that hedge slow attempts with a second one on another deployment.
    pub hedging: HashMap<String, Hedge>,
}

/// When a slow attempt gets a second, parallel attempt on another deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hedge {
    /// After a fixed delay without an answer (time to first byte for streams).
    After(Duration),
    /// After the deployment's observed 95th-percentile latency (no hedge before it has any).
    P95,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        Self {
            strategy: Strategy::SimpleShuffle,
            num_retries: 2,
            allowed_fails: 3,
            cooldown: DEFAULT_COOLDOWN,
            cooldowns: true,
            fallbacks: HashMap::new(),
            context_window_fallbacks: HashMap::new(),
            content_policy_fallbacks: HashMap::new(),
            default_fallbacks: Vec::new(),
            hedging: HashMap::new(),
        }
    }
}

/// Why a group is left for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    /// Its deployments failed or were unavailable.
    Failure,
    /// The prompt is too long for it.
    ContextWindow,
    /// It refused the content.
    ContentPolicy,
}

impl RoutingPolicy {
    /// The groups to try after `group` failed for `reason`; `None` means the failure is final.
    pub fn fallbacks_for(&self, group: &str, reason: FallbackReason) -> Option<&[String]> {
        let chain = match reason {
            FallbackReason::ContextWindow => self.context_window_fallbacks.get(group),
            FallbackReason::ContentPolicy => self.content_policy_fallbacks.get(group),
            FallbackReason::Failure => self
                .fallbacks
                .get(group)
                .or((!self.default_fallbacks.is_empty()).then_some(&self.default_fallbacks)),
        };
        chain.map(Vec::as_slice)
    }

    /// Whether any fallback could follow a failure of `group`.
    pub fn has_fallbacks(&self, group: &str) -> bool {
        self.fallbacks.contains_key(group)
            || self.context_window_fallbacks.contains_key(group)
            || self.content_policy_fallbacks.contains_key(group)
            || !self.default_fallbacks.is_empty()
    }
}
