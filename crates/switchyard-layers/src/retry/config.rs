//! The retry settings a user writes, and the ways they can be wrong.

use std::time::Duration;

use super::RetryBudget;

/// The numbers of a [`RetryPolicy`](super::RetryPolicy): plain data, checked once by
/// [`RetryPolicy::new`](super::RetryPolicy::new).
///
/// The defaults follow the official OpenAI and Anthropic SDKs (three attempts, waits from half a
/// second up to eight), with a [`RetryBudget`] on top.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Attempts per request, the first included: 3 is one call and up to two retries. 1 turns
    /// retries off.
    pub max_attempts: u32,
    /// The ceiling of the first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` the policy waits for. A failure asking for a longer wait is
    /// handed back at once, its hint intact, so the caller can try another upstream instead of
    /// holding the request (retrying sooner than asked would only earn another refusal).
    pub max_retry_after: Duration,
    /// How many retries all requests together may spend.
    pub budget: RetryBudget,
    /// Seeds the backoff jitter, for reproducible tests; `None` seeds from the process's
    /// random source.
    pub seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            budget: RetryBudget::default(),
            seed: None,
        }
    }
}

/// A [`RetryConfig`] or [`RetryBudget`] that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RetryConfigError {
    /// `max_attempts` is zero: not even the first call could be made.
    #[error("max_attempts must be at least 1, the first attempt")]
    NoAttempts,
    /// The backoff's cap is shorter than its base.
    #[error("the backoff cap {max:?} is shorter than its base {base:?}")]
    BackoffCap {
        /// The configured base delay.
        base: Duration,
        /// The configured cap.
        max: Duration,
    },
    /// The budget's window is outside 1 to 60 seconds.
    #[error("the retry budget's ttl must be between 1 and 60 seconds, not {0:?}")]
    BudgetTtl(Duration),
    /// The budget's ratio is not a number between 0 and 1000.
    #[error("the retry budget's retry_ratio must be between 0 and 1000, not {0}")]
    BudgetRatio(f32),
    /// The budget's reserve does not fit the token bucket.
    #[error("the retry budget's min_per_sec must be below 2^31, not {0}")]
    BudgetReserve(u32),
}
