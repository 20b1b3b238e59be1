//! The retry budget: a token bucket shared by every request a policy serves, so a storm of
//! failures cannot multiply the load on an upstream that is already failing.

use std::time::Duration;

use tower::retry::budget::TpsBudget;

use super::RetryConfigError;

/// The numbers of a [`TpsBudget`], checked before it is built (its constructor panics on values
/// out of range).
///
/// Every request's first answer deposits one token, every retry withdraws `1 / retry_ratio`
/// tokens, and deposits and withdrawals are forgotten after `ttl`; a reserve of
/// `min_per_sec * ttl` retries lets a quiet service retry at all. Over any window of `ttl`:
///
/// ```text
/// retries <= min_per_sec * ttl + retry_ratio * requests
/// ```
///
/// With the [default](Self::default) (`ttl` 10 s, `min_per_sec` 10, `retry_ratio` 0.2), a
/// service taking 500 requests a second during a total outage sends at most
/// `500 + 0.2 * 500 + 10 = 610` calls a second upstream, where three attempts per request
/// without a budget would send 1,500. The reserve is spent as fast as failures come, so a burst
/// can use the window's 100 reserve retries at once.
///
/// ```
/// use std::time::Duration;
/// use switchyard_layers::retry::RetryBudget;
///
/// // One retry for every ten requests, on top of the reserve.
/// let _budget = RetryBudget { retry_ratio: 0.1, ..RetryBudget::default() }.build()?;
/// // A window longer than a minute is refused instead of panicking.
/// assert!(RetryBudget { ttl: Duration::from_secs(120), ..RetryBudget::default() }.build().is_err());
/// # Ok::<(), switchyard_layers::retry::RetryConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    /// How long a deposit or a withdrawal counts; between 1 and 60 seconds.
    pub ttl: Duration,
    /// Retries a second always allowed, averaged over `ttl`, for services with little traffic.
    pub min_per_sec: u32,
    /// Retries allowed per request on top of the reserve: `0.2` is one retry for every five
    /// requests. Between 0 and 1000.
    pub retry_ratio: f32,
}

impl Default for RetryBudget {
    /// Finagle's and tower's defaults: 10 s, 10 retries a second, 20 % of requests.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(10),
            min_per_sec: 10,
            retry_ratio: 0.2,
        }
    }
}

impl RetryBudget {
    /// Checks the numbers and builds the token bucket.
    ///
    /// # Errors
    ///
    /// [`RetryConfigError::BudgetTtl`], [`RetryConfigError::BudgetRatio`] or
    /// [`RetryConfigError::BudgetReserve`] for a number out of range.
    pub fn build(&self) -> Result<TpsBudget, RetryConfigError> {
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.ttl) {
            return Err(RetryConfigError::BudgetTtl(self.ttl));
        }
        if !(self.retry_ratio.is_finite() && (0.0..=1000.0).contains(&self.retry_ratio)) {
            return Err(RetryConfigError::BudgetRatio(self.retry_ratio));
        }
        if i32::try_from(self.min_per_sec).is_err() {
            return Err(RetryConfigError::BudgetReserve(self.min_per_sec));
        }
        Ok(TpsBudget::new(self.ttl, self.min_per_sec, self.retry_ratio))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::retry::budget::Budget;

    #[test]
    fn numbers_out_of_range_are_errors_not_panics() {
        let base = RetryBudget::default();
        let cases = [
            RetryBudget {
                ttl: Duration::from_millis(999),
                ..base
            },
            RetryBudget {
                ttl: Duration::from_secs(61),
                ..base
            },
            RetryBudget {
                retry_ratio: -0.1,
                ..base
            },
            RetryBudget {
                retry_ratio: f32::NAN,
                ..base
            },
            RetryBudget {
                retry_ratio: 1000.5,
                ..base
            },
            RetryBudget {
                min_per_sec: u32::MAX,
                ..base
            },
        ];
        for case in cases {
            assert!(case.build().is_err(), "{case:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn withdrawals_are_bounded_by_reserve_and_ratio() {
        // No reserve: only deposits pay for retries, one for every four requests.
        let budget = RetryBudget {
            ttl: Duration::from_secs(10),
            min_per_sec: 0,
            retry_ratio: 0.25,
        }
        .build()
        .expect("valid");
        assert!(!budget.withdraw(), "nothing deposited yet");
        for _ in 0..8 {
            budget.deposit();
        }
        assert!(budget.withdraw());
        assert!(budget.withdraw());
        assert!(!budget.withdraw(), "eight requests pay for two retries");
    }

    #[tokio::test(start_paused = true)]
    async fn the_reserve_covers_a_quiet_service() {
        let budget = RetryBudget {
            ttl: Duration::from_secs(1),
            min_per_sec: 2,
            retry_ratio: 0.0,
        }
        .build()
        .expect("valid");
        assert!(budget.withdraw());
        assert!(budget.withdraw());
        assert!(!budget.withdraw());
        // Withdrawals are forgotten after the window.
        tokio::time::advance(Duration::from_millis(1_100)).await;
        assert!(budget.withdraw());
    }
}
