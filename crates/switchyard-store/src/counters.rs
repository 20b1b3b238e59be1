//! [`BudgetCounters`]: the hot per-period spend counters that budgets are checked against,
//! keyed by scope (key, user, team), id and budget window. Shared by every replica that uses
//! the same database or Redis.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::period::BudgetPeriod;

/// Whose budget a counter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterScope {
    /// A virtual key (by public id).
    Key,
    /// A user.
    User,
    /// A team.
    Team,
}

impl CounterScope {
    /// `"key"`, `"user"` or `"team"`, as stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            CounterScope::Key => "key",
            CounterScope::User => "user",
            CounterScope::Team => "team",
        }
    }
}

/// One counter: a scope, an id and the budget window it counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey {
    /// Key, user or team.
    pub scope: CounterScope,
    /// The key's public id, the user id or the team id.
    pub id: String,
    /// First second (unix) of the window; 0 for a budget that never resets.
    pub period_start: i64,
    /// First second after the window; `None` for a budget that never resets.
    pub period_end: Option<i64>,
}

impl CounterKey {
    /// The counter of the window of `period` that contains `now` (unix seconds), or the
    /// lifetime counter when there is no period.
    pub fn new(
        scope: CounterScope,
        id: impl Into<String>,
        period: Option<BudgetPeriod>,
        now: i64,
    ) -> Self {
        let (period_start, period_end) = match period {
            Some(period) => {
                let (start, end) = period.window(now);
                (start, Some(end))
            }
            None => (0, None),
        };
        Self {
            scope,
            id: id.into(),
            period_start,
            period_end,
        }
    }
}

/// Spend per budget window, added to after every call and read before the next.
///
/// ```
/// use switchyard_store::{BudgetCounters, CounterKey, CounterScope};
///
/// async fn over_budget(
///     counters: &dyn BudgetCounters,
///     key: &CounterKey,
///     max_usd: f64,
/// ) -> Result<bool, switchyard_store::StoreError> {
///     let spent = counters.spent(std::slice::from_ref(key)).await?;
///     Ok(spent[0] >= max_usd)
/// }
/// ```
#[async_trait]
pub trait BudgetCounters: Send + Sync {
    /// Adds `usd` to every distinct counter in `keys` (a counter listed twice is charged once),
    /// creating counters as needed. [`StoreError::Invalid`] if `usd` is not finite.
    async fn charge(&self, keys: &[CounterKey], usd: f64) -> Result<(), StoreError>;

    /// What each counter of `keys` holds, in the same order; 0 for a counter never charged.
    async fn spent(&self, keys: &[CounterKey]) -> Result<Vec<f64>, StoreError>;
}

/// The distinct counters of `keys`, after checking `usd`.
pub(crate) fn distinct(keys: &[CounterKey], usd: f64) -> Result<Vec<&CounterKey>, StoreError> {
    if !usd.is_finite() {
        return Err(StoreError::Invalid(
            "a charge must be a finite number of dollars",
        ));
    }
    let mut distinct: Vec<&CounterKey> = Vec::with_capacity(keys.len());
    for key in keys {
        let same = |seen: &&CounterKey| {
            seen.scope == key.scope && seen.id == key.id && seen.period_start == key.period_start
        };
        if !distinct.iter().any(same) {
            distinct.push(key);
        }
    }
    Ok(distinct)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _dyn_compatible(_: std::sync::Arc<dyn BudgetCounters>) {}

    #[test]
    fn keys_take_the_window_of_their_period() {
        let daily = "1d".parse().ok();
        let key = CounterKey::new(CounterScope::Team, "t", daily, 86_400 + 5);
        assert_eq!(
            (key.period_start, key.period_end),
            (86_400, Some(2 * 86_400))
        );
        let lifetime = CounterKey::new(CounterScope::Key, "k", None, 5);
        assert_eq!((lifetime.period_start, lifetime.period_end), (0, None));
    }

    #[test]
    fn duplicates_are_charged_once_and_nan_is_refused() {
        let a = CounterKey::new(CounterScope::Key, "a", None, 0);
        let b = CounterKey::new(CounterScope::User, "a", None, 0);
        assert_eq!(
            distinct(&[a.clone(), b.clone(), a.clone()], 1.0).expect("finite"),
            [&a, &b]
        );
        assert!(matches!(
            distinct(&[a], f64::NAN),
            Err(StoreError::Invalid(_))
        ));
    }
}
