//! Exponential backoff with full jitter: how long to wait before the n-th retry.
//!
//! Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") draws every wait
//! uniformly from zero to the exponential ceiling, so clients that failed together do not retry
//! together.

use std::time::Duration;

use fastrand::Rng;

use super::RetryConfigError;

/// Exponential backoff with full jitter: the wait before retry `n` (counted from zero) is drawn
/// uniformly from `[0, min(max, base * 2^n)]`.
///
/// ```
/// use std::time::Duration;
/// use switchyard_layers::retry::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1))?;
/// let mut rng = fastrand::Rng::with_seed(7);
/// assert!(backoff.delay(0, &mut rng) <= Duration::from_millis(100));
/// assert!(backoff.delay(3, &mut rng) <= Duration::from_millis(800));
/// // Past the cap, the ceiling stops growing.
/// assert!(backoff.delay(30, &mut rng) <= Duration::from_secs(1));
/// # Ok::<(), switchyard_layers::retry::RetryConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// Backoff starting at `base` and never waiting longer than `max`.
    ///
    /// # Errors
    ///
    /// [`RetryConfigError::BackoffCap`] when `max` is shorter than `base`.
    pub fn new(base: Duration, max: Duration) -> Result<Self, RetryConfigError> {
        if max < base {
            return Err(RetryConfigError::BackoffCap { base, max });
        }
        Ok(Self { base, max })
    }

    /// The upper bound of the wait before retry `retry` (counted from zero): `base * 2^retry`,
    /// capped.
    pub fn ceiling(&self, retry: u32) -> Duration {
        // The factor stops at 2^31 (a u32); long before that the product passes any cap, and a
        // product that overflows a `Duration` is the cap too.
        let factor = 1u32 << retry.min(31);
        self.base
            .checked_mul(factor)
            .map_or(self.max, |ceiling| ceiling.min(self.max))
    }

    /// A wait before retry `retry` (counted from zero), drawn uniformly from zero to
    /// [`ceiling`](Self::ceiling).
    pub fn delay(&self, retry: u32, rng: &mut Rng) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(2)).expect("valid")
    }

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let b = backoff();
        let ceilings: Vec<_> = (0..7).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(2));
    }

    #[test]
    fn delays_stay_under_the_ceiling_and_spread_out() {
        let b = backoff();
        let mut rng = Rng::with_seed(1);
        for retry in 0..10 {
            let delays: Vec<_> = (0..200).map(|_| b.delay(retry, &mut rng)).collect();
            assert!(delays.iter().all(|d| *d <= b.ceiling(retry)), "{retry}");
            // Full jitter: both halves of the range are used.
            let half = b.ceiling(retry) / 2;
            assert!(delays.iter().any(|d| *d < half), "{retry}");
            assert!(delays.iter().any(|d| *d > half), "{retry}");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_delays() {
        let b = backoff();
        let draw = |seed| {
            let mut rng = Rng::with_seed(seed);
            (0..5).map(|n| b.delay(n, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
    }

    #[test]
    fn a_cap_below_the_base_is_refused() {
        let err = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(
            err,
            Err(RetryConfigError::BackoffCap {
                base: Duration::from_secs(2),
                max: Duration::from_secs(1),
            })
        );
    }

    #[test]
    fn a_zero_base_never_waits() {
        let b = Backoff::new(Duration::ZERO, Duration::ZERO).expect("valid");
        assert_eq!(b.delay(5, &mut Rng::with_seed(3)), Duration::ZERO);
    }
}
