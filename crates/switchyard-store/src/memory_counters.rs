//! [`MemoryCounters`]: budget counters held in this process, for a database that only this
//! process uses (SQLite). A reservation or a charge is a few nanoseconds under one shard's lock
//! instead of a database transaction per call; a counter this process has not seen (at start, or
//! in a new budget window) is rebuilt from the durable spend log like any missing counter
//! ([`Reserve::Missing`]), so a restart loses nothing the spend log holds.
//!
//! Counters are spread over shards by hash, each behind its own mutex held only while numbers
//! are read and added (never across an `.await`). A reservation locks the shards of its budgets
//! in index order, so it is atomic across them and two reservations never wait on each other in
//! a cycle. Counters of windows that ended more than [`ENDED_WINDOW_GRACE_SECS`] ago are dropped
//! when a counter is seeded into their shard.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::counters::{Budget, BudgetCounters, CounterKey, Reserve, distinct};
use crate::error::StoreError;

/// Shards of the counter map: enough that calls of different keys rarely share a lock on a
/// machine with a few dozen cores.
const SHARDS: usize = 64;

/// How long a window's counter outlives the window, a day as in Redis: calls that reserved in
/// it just before it ended still settle against it, and it can still be read.
pub const ENDED_WINDOW_GRACE_SECS: i64 = 86_400;

/// Budget counters in this process's memory; see the module documentation.
///
/// ```
/// use switchyard_store::{Budget, BudgetCounters, CounterKey, CounterScope, MemoryCounters, Reserve};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let counters = MemoryCounters::new();
/// let key = CounterKey::new(CounterScope::Key, "key-1", None, 0);
/// let budget = [Budget { key: key.clone(), max_usd: 1.0 }];
/// // Unknown until seeded from the spend log.
/// assert_eq!(counters.reserve(&budget, 0.5).await?, Reserve::Missing(vec![0]));
/// counters.seed(&key, 0.25).await?;
/// assert_eq!(counters.reserve(&budget, 0.5).await?, Reserve::Held(vec![0.75]));
/// # Ok::<(), switchyard_store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryCounters {
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<CounterKey, f64>>]>,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryCounters {
    /// No counters yet.
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard_of(&self, key: &CounterKey) -> usize {
        // The window's end follows from its start: the map's key is the whole counter key.
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, HashMap<CounterKey, f64>> {
        // Nothing panics while a shard is held; a poisoned one still holds whole numbers.
        self.shards[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl BudgetCounters for MemoryCounters {
    async fn reserve(&self, budgets: &[Budget], usd: f64) -> Result<Reserve, StoreError> {
        distinct(&[], usd)?;
        let shard_of: Vec<usize> = budgets.iter().map(|b| self.shard_of(&b.key)).collect();
        let mut order = shard_of.clone();
        order.sort_unstable();
        order.dedup();
        // Locked in index order: a reservation sees and changes all its counters at once.
        let mut guards: Vec<(usize, MutexGuard<'_, HashMap<CounterKey, f64>>)> =
            order.into_iter().map(|s| (s, self.lock(s))).collect();
        let mut held = Vec::with_capacity(budgets.len());
        let mut missing = Vec::new();
        let mut exceeded: Option<(usize, f64)> = None;
        for (index, budget) in budgets.iter().enumerate() {
            let map = &guards[position(&guards, shard_of[index])].1;
            match map.get(&budget.key) {
                None => missing.push(index),
                Some(&spent) if spent >= budget.max_usd => {
                    // The first in counter order, as the SQL counters report it.
                    if exceeded.is_none_or(|(other, _)| budget.key < budgets[other].key) {
                        exceeded = Some((index, spent));
                    }
                }
                Some(&spent) => held.push(spent),
            }
        }
        if let Some((index, spent)) = exceeded {
            return Ok(Reserve::Exceeded { index, spent });
        }
        if !missing.is_empty() {
            return Ok(Reserve::Missing(missing));
        }
        held.clear();
        for (index, budget) in budgets.iter().enumerate() {
            let at = position(&guards, shard_of[index]);
            let spent = guards[at]
                .1
                .get_mut(&budget.key)
                .expect("every counter was found above, under the same locks");
            *spent += usd;
            held.push(*spent);
        }
        Ok(Reserve::Held(held))
    }

    async fn charge(&self, keys: &[CounterKey], usd: f64) -> Result<(), StoreError> {
        for key in distinct(keys, usd)? {
            if let Some(spent) = self.lock(self.shard_of(key)).get_mut(key) {
                *spent += usd;
            }
        }
        Ok(())
    }

    async fn seed(&self, key: &CounterKey, usd: f64) -> Result<(), StoreError> {
        distinct(&[], usd)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut shard = self.lock(self.shard_of(key));
        shard.retain(|counter, _| {
            counter
                .period_end
                .is_none_or(|end| end.saturating_add(ENDED_WINDOW_GRACE_SECS) > now)
        });
        shard.entry(key.clone()).or_insert(usd);
        Ok(())
    }

    async fn spent(&self, keys: &[CounterKey]) -> Result<Vec<f64>, StoreError> {
        Ok(keys
            .iter()
            .map(|key| {
                self.lock(self.shard_of(key))
                    .get(key)
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect())
    }
}

/// Where shard `shard`'s guard sits among the held guards (sorted by shard).
fn position<T>(guards: &[(usize, T)], shard: usize) -> usize {
    guards
        .binary_search_by_key(&shard, |(s, _)| *s)
        .expect("every budget's shard is locked")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::CounterScope;

    #[tokio::test]
    async fn ended_windows_are_dropped_when_their_shard_is_seeded() {
        let counters = MemoryCounters::new();
        let ended = CounterKey {
            scope: CounterScope::Key,
            id: "k".into(),
            period_start: 0,
            period_end: Some(86_400),
        };
        let lifetime = CounterKey::new(CounterScope::Key, "k", None, 0);
        counters.seed(&ended, 1.0).await.expect("seed");
        counters.seed(&lifetime, 2.0).await.expect("seed");
        // Another counter is seeded into the ended window's shard (and one into the lifetime
        // counter's, which keeps it).
        for kept in [&ended, &lifetime] {
            let shard = counters.shard_of(kept);
            let neighbour = (0..)
                .map(|n| CounterKey::new(CounterScope::Team, format!("t{n}"), None, 0))
                .find(|key| counters.shard_of(key) == shard)
                .expect("some name hashes into every shard");
            counters.seed(&neighbour, 0.0).await.expect("seed");
        }
        assert_eq!(
            counters.spent(&[ended, lifetime]).await.expect("spent"),
            [0.0, 2.0]
        );
    }
}
