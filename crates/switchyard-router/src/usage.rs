//! Usage per minute shared between replicas: the [`UsageStore`] trait a shared store (Redis, or
//! [`MemoryUsageStore`] in tests) implements, and [`UsageSync`], which trades this replica's
//! counts for everyone's off the hot path.
//!
//! Calls only ever touch the in-process counters of [`DeploymentStats`](crate::DeploymentStats).
//! A sync cycle sends each deployment's counts since the last cycle and reads back the totals
//! of the current minute; what the other replicas counted is then added to the local counts
//! wherever limits and the usage strategy read them.

mod sync;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use sync::{UsageSync, UsageSyncTask};

/// Counts one replica adds to a deployment's minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageIncrement {
    /// The deployment's id (`model_info.id`), the same on every replica.
    pub deployment_id: String,
    /// The minute counted in: whole minutes since the UNIX epoch, plus one.
    pub minute: u64,
    /// Requests started.
    pub requests: u64,
    /// Tokens used.
    pub tokens: u64,
}

/// Requests and tokens of one deployment in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageCount {
    /// Requests started.
    pub requests: u64,
    /// Tokens used.
    pub tokens: u64,
}

/// Every replica's counts of one minute, by deployment id.
pub type MinuteTotals = HashMap<String, UsageCount>;

/// Why a usage store did not answer.
#[derive(Debug, thiserror::Error)]
pub enum UsageStoreError {
    /// The store could not be reached, or refused the exchange.
    #[error("usage store unreachable: {0}")]
    Unreachable(String),
    /// The store answered with something other than usage counts.
    #[error("usage store answered unexpectedly: {0}")]
    BadReply(String),
    /// No answer in the time allowed.
    #[error("usage store did not answer within {} ms", .0.as_millis())]
    TimedOut(Duration),
}

/// A store of per-minute usage counts that several replicas share.
///
/// One method, so that a networked store can add and read in one round trip:
///
/// ```
/// use futures_util::future::BoxFuture;
/// use switchyard_router::{MinuteTotals, UsageIncrement, UsageStore, UsageStoreError};
///
/// /// A store for a single replica: it keeps nothing, so only local counts apply.
/// struct Nowhere;
///
/// impl UsageStore for Nowhere {
///     fn exchange(
///         &self,
///         _increments: &[UsageIncrement],
///         _minute: u64,
///     ) -> BoxFuture<'static, Result<MinuteTotals, UsageStoreError>> {
///         Box::pin(async { Ok(MinuteTotals::new()) })
///     }
/// }
/// ```
pub trait UsageStore: Send + Sync + 'static {
    /// Adds `increments` (each to its own minute), then answers the totals of `minute` across
    /// every replica, this exchange's increments included. Counts of a minute may be forgotten
    /// once the next minute is over.
    fn exchange(
        &self,
        increments: &[UsageIncrement],
        minute: u64,
    ) -> BoxFuture<'static, Result<MinuteTotals, UsageStoreError>>;
}

/// A [`UsageStore`] in this process: replicas that share one (tests, or several routers in one
/// process) see each other's counts. Keeps the current and the previous minute only.
#[derive(Debug, Default)]
pub struct MemoryUsageStore {
    minutes: Mutex<BTreeMap<u64, MinuteTotals>>,
}

impl MemoryUsageStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The totals of `minute` so far.
    pub fn totals(&self, minute: u64) -> MinuteTotals {
        self.minutes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&minute)
            .cloned()
            .unwrap_or_default()
    }
}

impl UsageStore for MemoryUsageStore {
    fn exchange(
        &self,
        increments: &[UsageIncrement],
        minute: u64,
    ) -> BoxFuture<'static, Result<MinuteTotals, UsageStoreError>> {
        let totals = {
            let mut minutes = self.minutes.lock().unwrap_or_else(PoisonError::into_inner);
            for increment in increments {
                let count = minutes
                    .entry(increment.minute)
                    .or_default()
                    .entry(increment.deployment_id.clone())
                    .or_default();
                count.requests = count.requests.saturating_add(increment.requests);
                count.tokens = count.tokens.saturating_add(increment.tokens);
            }
            minutes.retain(|kept, _| kept.saturating_add(1) >= minute);
            minutes.get(&minute).cloned().unwrap_or_default()
        };
        Box::pin(std::future::ready(Ok(totals)))
    }
}

#[cfg(test)]
mod tests;
