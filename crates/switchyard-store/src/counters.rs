//! [`BudgetCounters`]: the hot per-period spend counters that budgets are checked against,
//! keyed by scope (key, user, team, end user), id and budget window. Shared by every replica
//! that uses the same database or Redis.
//!
//! A counter holds what its window has spent plus what calls in flight have reserved. Calls
//! reserve an estimate before they go upstream ([`BudgetCounters::reserve`], atomic across every
//! budget of the call: all are below their maximum and all take the reservation, or none does),
//! and settle the difference to their exact cost when they end ([`BudgetCounters::charge`]).
//! A counter that does not exist is never read as "nothing spent": [`Reserve::Missing`] asks the
//! caller to rebuild it from the durable spend log ([`BudgetCounters::seed`]) first.

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
    /// An end user of the caller's application (the body's `user`; LiteLLM's "customer").
    EndUser,
    /// An organization (the key's, or its team's).
    Organization,
}

impl CounterScope {
    /// `"key"`, `"user"`, `"team"`, `"end_user"` or `"organization"`, as stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            CounterScope::Key => "key",
            CounterScope::User => "user",
            CounterScope::Team => "team",
            CounterScope::EndUser => "end_user",
            CounterScope::Organization => "organization",
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

/// A counter with the most it may hold: a budget to reserve against.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The counter.
    pub key: CounterKey,
    /// US dollars the window may spend.
    pub max_usd: f64,
}

/// What [`BudgetCounters::reserve`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Reserve {
    /// Every budget was below its maximum and now holds the reservation; what each counter
    /// holds now, in the order of the list given.
    Held(Vec<f64>),
    /// Budget `index` (of the list given) had already reached its maximum, holding `spent`;
    /// nothing was reserved.
    Exceeded {
        /// Which budget.
        index: usize,
        /// What its counter held.
        spent: f64,
    },
    /// These budgets (indexes into the list given) have no counter: it was never made, or the
    /// backend lost it. Nothing was reserved; rebuild them with [`BudgetCounters::seed`] and ask
    /// again.
    Missing(Vec<usize>),
}

/// Spend per budget window: reserved before a call, settled after it, rebuilt when missing.
///
/// ```
/// use switchyard_store::{Budget, BudgetCounters, Reserve, StoreError};
///
/// /// Holds `estimate` on `budget`, rebuilding its counter from `logged` when it is missing.
/// async fn hold(
///     counters: &dyn BudgetCounters,
///     budget: Budget,
///     estimate: f64,
///     logged: f64,
/// ) -> Result<bool, StoreError> {
///     let budgets = [budget];
///     loop {
///         match counters.reserve(&budgets, estimate).await? {
///             Reserve::Held(_) => return Ok(true),
///             Reserve::Exceeded { .. } => return Ok(false),
///             Reserve::Missing(_) => counters.seed(&budgets[0].key, logged).await?,
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait BudgetCounters: Send + Sync {
    /// Adds `usd` to every budget's counter if each exists and holds less than its maximum;
    /// otherwise adds nothing and says why. Atomic across the budgets: concurrent reservations
    /// never both pass a check that only one of them could. [`StoreError::Invalid`] if `usd` is
    /// not finite.
    async fn reserve(&self, budgets: &[Budget], usd: f64) -> Result<Reserve, StoreError>;

    /// Adds `usd` (negative to give back) to every distinct counter of `keys` that exists (a
    /// counter listed twice is charged once). A missing counter is left missing, so the next
    /// reservation rebuilds it from the spend log rather than from this one charge.
    /// [`StoreError::Invalid`] if `usd` is not finite.
    async fn charge(&self, keys: &[CounterKey], usd: f64) -> Result<(), StoreError>;

    /// Creates `key`'s counter holding `usd`, unless it exists (then it is left as it is).
    async fn seed(&self, key: &CounterKey, usd: f64) -> Result<(), StoreError>;

    /// What each counter of `keys` holds, in the same order; 0 for a missing counter.
    async fn spent(&self, keys: &[CounterKey]) -> Result<Vec<f64>, StoreError>;
}

/// Whether two keys name the same counter (the window's end follows from its start).
pub(crate) fn same_counter(a: &CounterKey, b: &CounterKey) -> bool {
    a.scope == b.scope && a.id == b.id && a.period_start == b.period_start
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
        if !distinct.iter().any(|seen| same_counter(seen, key)) {
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
