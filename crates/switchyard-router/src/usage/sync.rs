//! The sync cycle: this replica's per-minute counts go to the [`UsageStore`], every replica's
//! totals come back into the deployments' stats. Runs in a background task (or on demand), never
//! on a call's path; an unreachable store leaves routing on local counts.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{UsageIncrement, UsageStore, UsageStoreError};
use crate::deployment::{Deployment, LocalUsage, minute_of};
use crate::router::{Clock, Router};

/// Shares a router's per-minute usage through a [`UsageStore`].
///
/// Each cycle ([`UsageSync::sync_now`], or every [`UsageSync::INTERVAL`] once
/// [`spawned`](UsageSync::spawn)) sends what each deployment counted since the last successful
/// cycle, in one exchange, and stores what the other replicas counted this minute in the
/// deployment's stats, where [`Deployment::is_available`] (`rpm`, `tpm`) and the usage-based
/// strategy read it. Deployments are matched across replicas by id.
///
/// When the store fails, the counts stay pending for the next cycle, the last known counts of the
/// other replicas keep counting until their minute ends, the failure is counted, and it is
/// logged once per outage.
pub struct UsageSync {
    deployments: Vec<Arc<Deployment>>,
    clock: Clock,
    store: Arc<dyn UsageStore>,
    timeout: Duration,
    /// Per deployment (same order), the local counts the store already has.
    sent: tokio::sync::Mutex<Vec<LocalUsage>>,
    failures: AtomicU64,
    outages: AtomicU64,
    down: AtomicBool,
}

impl fmt::Debug for UsageSync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageSync")
            .field("deployments", &self.deployments.len())
            .field("timeout", &self.timeout)
            .field("failures", &self.failures())
            .field("outages", &self.outages())
            .finish_non_exhaustive()
    }
}

impl UsageSync {
    /// How often a spawned sync runs.
    pub const INTERVAL: Duration = Duration::from_millis(250);
    /// How long one exchange may take before it counts as failed.
    pub const TIMEOUT: Duration = Duration::from_secs(1);

    /// Shares the usage of every deployment of `router` through `store`.
    pub fn new(router: &Router, store: Arc<dyn UsageStore>) -> Self {
        let deployments: Vec<Arc<Deployment>> = router
            .groups()
            .iter()
            .flat_map(|group| group.deployments().iter().cloned())
            .collect();
        let never = LocalUsage {
            minute: 0,
            requests: 0,
            tokens: 0,
        };
        Self {
            sent: tokio::sync::Mutex::new(vec![never; deployments.len()]),
            deployments,
            clock: router.clock(),
            store,
            timeout: Self::TIMEOUT,
            failures: AtomicU64::new(0),
            outages: AtomicU64::new(0),
            down: AtomicBool::new(false),
        }
    }

    /// Allows each exchange `timeout` instead of [`UsageSync::TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs one cycle now: sends what was counted here since the last successful cycle and takes
    /// in the totals of the current minute. Cycles never overlap; when this returns `Ok`, every
    /// call counted before it was called is in the store and every count the store had is here.
    pub async fn sync_now(&self) -> Result<(), UsageStoreError> {
        let mut sent = self.sent.lock().await;
        let local: Vec<LocalUsage> = self
            .deployments
            .iter()
            .map(|d| d.stats.local_usage())
            .collect();
        // Read after the counters, so no counter is in a later minute than this one.
        let minute = minute_of(self.clock.now_ms());
        let increments: Vec<UsageIncrement> = self
            .deployments
            .iter()
            .zip(local.iter().zip(sent.iter()))
            .filter_map(|(deployment, (now, before))| {
                increment(&deployment.id, now, before, minute)
            })
            .collect();
        let exchange = self.store.exchange(&increments, minute);
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(UsageStoreError::TimedOut(self.timeout)),
        };
        let totals = match result {
            Ok(totals) => totals,
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                if !self.down.swap(true, Ordering::Relaxed) {
                    self.outages.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "usage is not shared with other replicas until the store answers \
                         (routing on this replica's counts): {error}"
                    );
                }
                return Err(error);
            }
        };
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(
                failures = self.failures(),
                "usage store answers again: usage is shared with other replicas"
            );
        }
        *sent = local;
        for (deployment, ours) in self.deployments.iter().zip(sent.iter()) {
            let total = totals.get(&deployment.id).copied().unwrap_or_default();
            let (own_requests, own_tokens) = if ours.minute == minute {
                (ours.requests, ours.tokens)
            } else {
                (0, 0)
            };
            deployment.stats.set_shared_usage(
                minute,
                total.requests.saturating_sub(own_requests),
                total.tokens.saturating_sub(own_tokens),
            );
        }
        Ok(())
    }

    /// Runs a cycle every `every` in a tokio task until the returned handle is dropped.
    pub fn spawn(self: &Arc<Self>, every: Duration) -> UsageSyncTask {
        let sync = Arc::clone(self);
        UsageSyncTask(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // Failures are counted and logged by the cycle itself.
                let _ = sync.sync_now().await;
            }
        }))
    }

    /// Cycles that failed since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Times the store stopped answering since start (each logged once).
    pub fn outages(&self) -> u64 {
        self.outages.load(Ordering::Relaxed)
    }

    /// Whether the last cycle reached the store (`true` before the first cycle).
    pub fn is_reachable(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }
}

/// What the store lacks of a deployment's local counts, unless nothing or the counts belong to a
/// minute that is already over for everyone.
fn increment(
    id: &str,
    now: &LocalUsage,
    before: &LocalUsage,
    minute: u64,
) -> Option<UsageIncrement> {
    if now.minute == 0 || now.minute.saturating_add(1) < minute {
        return None;
    }
    let (requests, tokens) = if before.minute == now.minute {
        (
            now.requests.saturating_sub(before.requests),
            now.tokens.saturating_sub(before.tokens),
        )
    } else {
        (now.requests, now.tokens)
    };
    (requests > 0 || tokens > 0).then(|| UsageIncrement {
        deployment_id: id.to_owned(),
        minute: now.minute,
        requests,
        tokens,
    })
}

/// A spawned [`UsageSync`] loop; dropping it stops the loop.
#[derive(Debug)]
pub struct UsageSyncTask(JoinHandle<()>);

impl Drop for UsageSyncTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
