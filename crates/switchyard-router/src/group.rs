//! Model groups: the deployments that share a `model_name`, and the choice among the available
//! ones of the highest-priority tier.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::deployment::{CooldownCause, Deployment};
use crate::router::DeploymentRank;
use crate::strategy::Strategy;

/// The deployments that serve one model name.
#[derive(Debug)]
pub struct ModelGroup {
    name: String,
    deployments: Vec<Arc<Deployment>>,
}

impl ModelGroup {
    /// The model name clients use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group's deployments, in configuration order.
    pub fn deployments(&self) -> &[Arc<Deployment>] {
        &self.deployments
    }

    /// The deployment for the next attempt: available ones not yet `tried` first (any available
    /// one when all were tried), from the lowest `order` tier, chosen by `strategy`.
    pub fn pick(
        &self,
        strategy: &Strategy,
        now_ms: u64,
        tried: &[Arc<Deployment>],
    ) -> Option<&Arc<Deployment>> {
        self.pick_ranked(strategy, now_ms, tried, None)
    }

    /// [`pick`](Self::pick), among the available deployments of the best `rank` only.
    pub fn pick_ranked(
        &self,
        strategy: &Strategy,
        now_ms: u64,
        tried: &[Arc<Deployment>],
        rank: Option<&DeploymentRank>,
    ) -> Option<&Arc<Deployment>> {
        let was_tried = |d: &Arc<Deployment>| tried.iter().any(|t| Arc::ptr_eq(t, d));
        let mut available: Vec<&Arc<Deployment>> = self
            .deployments
            .iter()
            .filter(|d| d.is_available(now_ms))
            .collect();
        // A preference holds for retries too: they stay among the best-ranked deployments.
        if let Some(rank) = rank {
            let best = available.iter().map(|d| rank.rank(d)).min()?;
            available.retain(|d| rank.rank(d) == best);
        }
        if available.iter().any(|d| !was_tried(d)) {
            available.retain(|d| !was_tried(d));
        }
        let tier = available
            .iter()
            .map(|d| d.limits.order.unwrap_or(u32::MAX))
            .min()?;
        available.retain(|d| d.limits.order.unwrap_or(u32::MAX) == tier);
        strategy.choose(&available, now_ms)
    }

    /// Why no deployment could take a call at `now_ms`, and when the first is expected back.
    pub fn unavailable(&self, now_ms: u64) -> Unavailable {
        let back_at = self
            .deployments
            .iter()
            .map(|d| d.available_at(now_ms))
            .try_fold(u64::MAX, |first, at| Some(first.min(at?)));
        let rate_limited = self.deployments.iter().all(|d| {
            d.stats
                .cooldown(now_ms)
                .is_some_and(|c| c.cause == CooldownCause::RateLimited)
        });
        let credentials_refused = self.deployments.iter().any(|d| {
            d.stats
                .cooldown(now_ms)
                .is_some_and(|c| c.cause == CooldownCause::CredentialsRefused)
        });
        Unavailable {
            retry_after: back_at.map(|at| Duration::from_millis(at.saturating_sub(now_ms))),
            rate_limited,
            credentials_refused,
        }
    }
}

/// Why no deployment of a group could take a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unavailable {
    /// How long until the first deployment is expected back; `None` when that is unknown (a
    /// deployment at its parallel-request limit is back whenever one of its calls ends).
    pub retry_after: Option<Duration>,
    /// Every deployment is cooling down because its upstream answered 429: the group is rate
    /// limited, not failing.
    pub rate_limited: bool,
    /// At least one deployment cools down because its provider refused the gateway's
    /// credentials: the cause a client cannot fix and an operator must be told of.
    pub credentials_refused: bool,
}

/// Every model group, by name.
#[derive(Debug, Default)]
pub struct ModelGroups {
    groups: HashMap<String, ModelGroup>,
    order: Vec<String>,
}

impl ModelGroups {
    /// Groups deployments by model name, keeping the order in which names first appear.
    pub fn new(deployments: impl IntoIterator<Item = Deployment>) -> Self {
        let mut groups: HashMap<String, ModelGroup> = HashMap::new();
        let mut order = Vec::new();
        for deployment in deployments {
            let group = groups
                .entry(deployment.model_name.clone())
                .or_insert_with(|| {
                    order.push(deployment.model_name.clone());
                    ModelGroup {
                        name: deployment.model_name.clone(),
                        deployments: Vec::new(),
                    }
                });
            group.deployments.push(Arc::new(deployment));
        }
        Self { groups, order }
    }

    /// The group serving `model_name`, if one is configured.
    pub fn get(&self, model_name: &str) -> Option<&ModelGroup> {
        self.groups.get(model_name)
    }

    /// Every group, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &ModelGroup> {
        self.order.iter().filter_map(|name| self.groups.get(name))
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no group is configured.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::DeploymentLimits;
    use std::time::Duration;
    use switchyard_providers::mock::{Mock, MockSettings};

    fn deployment(name: &str, id: &str, order: Option<u32>) -> Deployment {
        let mut d = Deployment::new(
            id,
            name,
            Box::new(Mock::new(MockSettings::default())),
            Duration::from_secs(1),
        );
        d.limits = DeploymentLimits {
            order,
            ..Default::default()
        };
        d
    }

    #[test]
    fn entries_sharing_a_name_form_one_group_in_order() {
        let groups = ModelGroups::new([
            deployment("b", "b-1", None),
            deployment("a", "a-1", None),
            deployment("b", "b-2", None),
        ]);
        let names: Vec<_> = groups.iter().map(ModelGroup::name).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(groups.get("b").expect("group b").deployments().len(), 2);
        assert!(groups.get("c").is_none());
    }

    #[test]
    fn the_lowest_order_tier_is_used_until_it_is_unavailable() {
        let groups = ModelGroups::new([
            deployment("m", "backup", Some(2)),
            deployment("m", "primary", Some(1)),
        ]);
        let group = groups.get("m").expect("group");
        for _ in 0..20 {
            let picked = group.pick(&Strategy::SimpleShuffle, 0, &[]).expect("pick");
            assert_eq!(picked.id, "primary");
        }
        group.deployments()[1]
            .stats
            .cool_down_until(1_000, CooldownCause::Failing);
        let picked = group.pick(&Strategy::SimpleShuffle, 0, &[]).expect("pick");
        assert_eq!(picked.id, "backup");
        assert!(group.pick(&Strategy::SimpleShuffle, 1_000, &[]).is_some());
    }

    #[test]
    fn untried_deployments_come_first_then_tried_ones_again() {
        let groups = ModelGroups::new([deployment("m", "one", None), deployment("m", "two", None)]);
        let group = groups.get("m").expect("group");
        let first = Arc::clone(group.pick(&Strategy::SimpleShuffle, 0, &[]).expect("pick"));
        let second = group
            .pick(&Strategy::SimpleShuffle, 0, std::slice::from_ref(&first))
            .expect("pick");
        assert!(!Arc::ptr_eq(&first, second));
        let tried = [Arc::clone(&first), Arc::clone(second)];
        assert!(group.pick(&Strategy::SimpleShuffle, 0, &tried).is_some());
    }

    #[test]
    fn a_group_with_every_deployment_cooling_down_has_no_pick() {
        let groups = ModelGroups::new([deployment("m", "one", None)]);
        let group = groups.get("m").expect("group");
        group.deployments()[0]
            .stats
            .cool_down_until(10, CooldownCause::Failing);
        assert!(group.pick(&Strategy::LeastBusy, 5, &[]).is_none());
    }
}
