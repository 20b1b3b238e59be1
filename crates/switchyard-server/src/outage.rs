//! What a replica may spend while its budget counters cannot be reached, under
//! `budget_failure_policy: local_slice`: each budget's slice is what it had left when the
//! counters last answered, divided by the replicas alive then (learned from a heartbeat in
//! Redis). Spend admitted during the outage is kept here and handed to the counters once they
//! answer again. Across the replicas, a budget is passed by at most one call's estimate per
//! replica (each admits calls while its own slice is not used up).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use switchyard_store::{Budget, CounterKey};
use tokio::task::JoinHandle;

/// How often a replica says it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A replica not heard from for this long is no longer counted.
const HEARTBEAT_WINDOW_MS: u64 = 5_000;

/// Why a call cannot be admitted during an outage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// Budget `index` had no known value when the counters went away.
    Unknown,
    /// Budget `index` has used this replica's slice; `spent` is what it is known to hold.
    Exceeded { index: usize, spent: f64 },
}

/// Last known counter values, this replica's spend since the counters stopped answering, and
/// the number of replicas alive.
#[derive(Debug)]
pub(crate) struct OutageBudgets {
    last_known: moka::future::Cache<CounterKey, f64>,
    spent: Mutex<HashMap<CounterKey, f64>>,
    /// Whether `spent` holds anything, read on every budgeted call without taking the lock.
    pending: AtomicBool,
    replicas: Arc<AtomicU64>,
}

impl Default for OutageBudgets {
    fn default() -> Self {
        Self {
            last_known: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(24 * 60 * 60))
                .build(),
            spent: Mutex::new(HashMap::new()),
            pending: AtomicBool::new(false),
            replicas: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl OutageBudgets {
    /// Remembers what the counters said they hold.
    pub(crate) async fn remember(&self, budgets: &[Budget], values: &[f64]) {
        for (budget, value) in budgets.iter().zip(values) {
            self.last_known.insert(budget.key.clone(), *value).await;
        }
    }

    /// Admits a call of `usd` on `budgets` from this replica's slices, and counts it.
    pub(crate) async fn admit(&self, budgets: &[Budget], usd: f64) -> Result<(), Refusal> {
        let replicas = self.replicas.load(Ordering::Relaxed).max(1) as f64;
        let mut known = Vec::with_capacity(budgets.len());
        for budget in budgets {
            known.push(
                self.last_known
                    .get(&budget.key)
                    .await
                    .ok_or(Refusal::Unknown)?,
            );
        }
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        for (index, (budget, known)) in budgets.iter().zip(known).enumerate() {
            let slice = (budget.max_usd - known) / replicas;
            let used = spent.get(&budget.key).copied().unwrap_or(0.0);
            if used >= slice {
                return Err(Refusal::Exceeded {
                    index,
                    spent: known + used,
                });
            }
        }
        for budget in budgets {
            *spent.entry(budget.key.clone()).or_insert(0.0) += usd;
        }
        self.pending.store(true, Ordering::Release);
        Ok(())
    }

    /// Adds `difference` to what the outage spent on `keys` (a settlement that could not reach
    /// the counters).
    pub(crate) fn settle(&self, keys: &[CounterKey], difference: f64) {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            *spent.entry(key.clone()).or_insert(0.0) += difference;
        }
        self.pending.store(true, Ordering::Release);
    }

    /// What the outage spent, per counter, taken out to be charged to the counters.
    pub(crate) fn drain(&self) -> Vec<(CounterKey, f64)> {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        self.pending.store(false, Ordering::Release);
        spent.drain().filter(|(_, usd)| *usd != 0.0).collect()
    }

    /// Whether the outage left spend to hand over (no lock: read on every budgeted call).
    pub(crate) fn has_spend(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Replicas alive when last heard (at least 1).
    pub(crate) fn replicas(&self) -> u64 {
        self.replicas.load(Ordering::Relaxed).max(1)
    }

    /// Says every [`HEARTBEAT_EVERY`] that this replica is alive, in the sorted set `key`, and
    /// counts the replicas heard from within the window.
    pub(crate) fn heartbeat(&self, connection: ConnectionManager, key: String) -> JoinHandle<()> {
        let replicas = Arc::clone(&self.replicas);
        let me = switchyard_store::new_key_id().unwrap_or_else(|_| format!("{:p}", &replicas));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            loop {
                tick.tick().await;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                let mut connection = connection.clone();
                let counted: Result<(u64,), _> = redis::pipe()
                    .zadd(&key, &me, now)
                    .ignore()
                    .zrembyscore(&key, 0, now.saturating_sub(HEARTBEAT_WINDOW_MS))
                    .ignore()
                    .pexpire(&key, 60_000)
                    .ignore()
                    .zcard(&key)
                    .query_async(&mut connection)
                    .await;
                // While Redis is away the last count stands: it is what the slices divide by.
                if let Ok((alive,)) = counted {
                    replicas.store(alive.max(1), Ordering::Relaxed);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use switchyard_store::CounterScope;

    use super::*;

    fn budget(id: &str, max_usd: f64) -> Budget {
        Budget {
            key: CounterKey::new(CounterScope::Key, id, None, 0),
            max_usd,
        }
    }

    #[tokio::test]
    async fn each_replica_spends_its_slice_of_what_was_left() {
        let outage = OutageBudgets::default();
        outage.replicas.store(2, Ordering::Relaxed);
        let budgets = [budget("k", 1.0)];
        assert_eq!(outage.admit(&budgets, 0.1).await, Err(Refusal::Unknown));
        outage.remember(&budgets, &[0.6]).await;
        // $0.40 left, two replicas: this one may spend $0.20.
        assert_eq!(outage.admit(&budgets, 0.15).await, Ok(()));
        assert_eq!(outage.admit(&budgets, 0.15).await, Ok(()));
        assert_eq!(
            outage.admit(&budgets, 0.15).await,
            Err(Refusal::Exceeded {
                index: 0,
                spent: 0.6 + 0.3
            })
        );
        // Settled lower than estimated: room again.
        outage.settle(&[budgets[0].key.clone()], -0.2);
        assert_eq!(outage.admit(&budgets, 0.15).await, Ok(()));
        let drained = outage.drain();
        assert_eq!(drained.len(), 1);
        assert!((drained[0].1 - 0.25).abs() < 1e-9, "{drained:?}");
        assert!(!outage.has_spend());
    }
}
