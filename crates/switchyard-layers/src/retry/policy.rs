//! [`RetryPolicy`]: the `tower::retry::Policy` that decides, for each result, whether and when to
//! try again.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fastrand::Rng;
use tokio::time::Sleep;
use tower::retry::Policy;
use tower::retry::budget::Budget;

use super::{Backoff, Replay, RetryClass, RetryConfig, RetryConfigError, RetryDecision};

/// Spreads the per-request jitter seeds of a seeded policy over the whole `u64` range (the
/// golden ratio increment of SplitMix64), so consecutive requests draw unrelated waits.
const SEED_STEP: u64 = 0x9E37_79B9_7F4A_7C15;

/// Retries transient failures with exponential backoff and full jitter, within a shared budget;
/// see the [module docs](super) for a complete stack.
///
/// tower clones the policy for every request, so the attempt count and the jitter source below
/// belong to one request, while the budget (and the seed sequence) are shared by all clones.
///
/// For each result the policy asks [`RetryClass::retry_decision`] and retries only when all of
/// these hold:
///
/// - the decision is [`RetryDecision::Retry`] (never [`Final`](RetryDecision::Final), never
///   [`Streaming`](RetryDecision::Streaming));
/// - the request could be copied by [`Replay::replay`] before it was sent;
/// - fewer than `max_attempts` attempts were made;
/// - the upstream's wait hint, if any, is at most `max_retry_after`;
/// - the budget has a token left.
///
/// The wait is the longer of the hint and a [`Backoff`] draw.
#[derive(Clone)]
pub struct RetryPolicy {
    backoff: Backoff,
    max_attempts: u32,
    max_retry_after: Duration,
    budget: Arc<dyn Budget + Send + Sync>,
    seeds: Option<Arc<AtomicU64>>,
    /// Retries already made for the current request.
    retries: u32,
    /// The current request's jitter source, drawn on its first retry.
    rng: Option<Rng>,
}

impl RetryPolicy {
    /// Checks `config` and builds a policy with a budget of its own.
    ///
    /// # Errors
    ///
    /// A [`RetryConfigError`] naming the first setting out of range.
    pub fn new(config: &RetryConfig) -> Result<Self, RetryConfigError> {
        if config.max_attempts == 0 {
            return Err(RetryConfigError::NoAttempts);
        }
        Ok(Self {
            backoff: Backoff::new(config.base_delay, config.max_delay)?,
            max_attempts: config.max_attempts,
            max_retry_after: config.max_retry_after,
            budget: Arc::new(config.budget.build()?),
            seeds: config.seed.map(|seed| Arc::new(AtomicU64::new(seed))),
            retries: 0,
            rng: None,
        })
    }

    /// Spends retries from `budget` instead, for example one budget shared by every route to
    /// the same upstream.
    pub fn with_budget<B>(mut self, budget: Arc<B>) -> Self
    where
        B: Budget + Send + Sync + 'static,
    {
        self.budget = budget;
        self
    }

    /// How long to wait before retrying after a result that decided `decision`, or `None` to
    /// hand the result back. Counts the retry when there is one.
    fn next_wait(&mut self, decision: RetryDecision) -> Option<Duration> {
        if self.retries == 0 {
            // Every request pays into the budget once, on its first answer, whatever it is.
            self.budget.deposit();
        }
        let after = match decision {
            RetryDecision::Final | RetryDecision::Streaming => return None,
            RetryDecision::Retry { after } => after.unwrap_or_default(),
        };
        if self.retries.saturating_add(1) >= self.max_attempts || after > self.max_retry_after {
            return None;
        }
        // Withdraw last: a retry refused for another reason must not spend a token.
        if !self.budget.withdraw() {
            return None;
        }
        let seeds = &self.seeds;
        let rng = self.rng.get_or_insert_with(|| match seeds {
            Some(seeds) => Rng::with_seed(seeds.fetch_add(SEED_STEP, Ordering::Relaxed)),
            None => Rng::new(),
        });
        let backoff = self.backoff.delay(self.retries, rng);
        self.retries += 1;
        Some(after.max(backoff))
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("backoff", &self.backoff)
            .field("max_attempts", &self.max_attempts)
            .field("max_retry_after", &self.max_retry_after)
            .field("seeded", &self.seeds.is_some())
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl<Req, Res, E> Policy<Req, Res, E> for RetryPolicy
where
    Req: Replay,
    Res: RetryClass,
    E: RetryClass,
{
    type Future = Sleep;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        let decision = match result {
            Ok(response) => response.retry_decision(),
            Err(error) => error.retry_decision(),
        };
        self.next_wait(decision).map(tokio::time::sleep)
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        req.replay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::RetryBudget;

    fn config() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(5),
            budget: RetryBudget::default(),
            seed: Some(42),
        }
    }

    const RETRY: RetryDecision = RetryDecision::Retry { after: None };

    #[test]
    fn invalid_settings_are_refused() {
        let zero = RetryConfig {
            max_attempts: 0,
            ..config()
        };
        assert_eq!(
            RetryPolicy::new(&zero).err(),
            Some(RetryConfigError::NoAttempts)
        );
        let inverted = RetryConfig {
            max_delay: Duration::from_millis(10),
            ..config()
        };
        assert!(matches!(
            RetryPolicy::new(&inverted),
            Err(RetryConfigError::BackoffCap { .. })
        ));
    }

    #[tokio::test]
    async fn waits_grow_within_the_ceilings_until_attempts_run_out() {
        let mut policy = RetryPolicy::new(&config()).expect("valid");
        let backoff = policy.backoff;
        for retry in 0..3 {
            let wait = policy.next_wait(RETRY).expect("a retry is left");
            assert!(wait <= backoff.ceiling(retry), "{retry}: {wait:?}");
        }
        assert_eq!(policy.next_wait(RETRY), None, "four attempts made");
    }

    #[tokio::test]
    async fn final_and_streaming_results_are_handed_back() {
        let mut policy = RetryPolicy::new(&config()).expect("valid");
        assert_eq!(policy.next_wait(RetryDecision::Final), None);
        assert_eq!(policy.next_wait(RetryDecision::Streaming), None);
    }

    #[tokio::test]
    async fn the_wait_hint_is_a_floor_and_a_long_hint_stops_retries() {
        let mut policy = RetryPolicy::new(&config()).expect("valid");
        let hint = Duration::from_secs(2);
        let wait = policy.next_wait(RetryDecision::Retry { after: Some(hint) });
        assert_eq!(wait, Some(hint), "the first backoff is at most 100 ms");
        let long = RetryDecision::Retry {
            after: Some(Duration::from_secs(6)),
        };
        assert_eq!(policy.next_wait(long), None);
    }

    #[tokio::test]
    async fn requests_of_one_seeded_policy_draw_different_waits() {
        let policy = RetryPolicy::new(&config()).expect("valid");
        let waits: Vec<_> = (0..8)
            .map(|_| policy.clone().next_wait(RETRY).expect("a retry"))
            .collect();
        let mut distinct = waits.clone();
        distinct.dedup();
        assert!(distinct.len() > 1, "{waits:?}");

        // The same seed replays the same waits.
        let again = RetryPolicy::new(&config()).expect("valid");
        let replayed: Vec<_> = (0..8)
            .map(|_| again.clone().next_wait(RETRY).expect("a retry"))
            .collect();
        assert_eq!(waits, replayed);
    }
}
