//! Model groups and deployment selection.
//!
//! Every `model_list` entry of the configuration is a [`Deployment`]; entries that share a
//! `model_name` form one [`ModelGroup`]. A request names a group; the group picks the deployment
//! that serves it. Selection today rotates through a group's deployments in turn.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchyard_providers::Provider;

/// One upstream model that can serve a model group.
#[derive(Debug)]
pub struct Deployment {
    /// Stable id (`model_info.id` in the configuration, or the group name and position).
    pub id: String,
    /// The group this deployment serves.
    pub model_name: String,
    /// The adapter that calls the upstream.
    pub provider: Box<dyn Provider>,
    /// Time allowed for a complete answer.
    pub timeout: Duration,
    /// Time allowed until a stream has started.
    pub stream_timeout: Duration,
}

/// The deployments that serve one model name.
#[derive(Debug)]
pub struct ModelGroup {
    name: String,
    deployments: Vec<Arc<Deployment>>,
    next: AtomicUsize,
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

    /// The deployment that serves the next call: each in turn.
    pub fn pick(&self) -> &Arc<Deployment> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        &self.deployments[turn % self.deployments.len()]
    }
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
                        next: AtomicUsize::new(0),
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
    use switchyard_providers::mock::{Mock, MockSettings};

    fn deployment(name: &str, id: &str) -> Deployment {
        Deployment {
            id: id.to_owned(),
            model_name: name.to_owned(),
            provider: Box::new(Mock::new(MockSettings::default())),
            timeout: Duration::from_secs(1),
            stream_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn entries_sharing_a_name_form_one_group_in_order() {
        let groups = ModelGroups::new([
            deployment("b", "b-1"),
            deployment("a", "a-1"),
            deployment("b", "b-2"),
        ]);
        let names: Vec<_> = groups.iter().map(ModelGroup::name).collect();
        assert_eq!(names, ["b", "a"]);
        let b = groups.get("b").expect("group b");
        assert_eq!(b.deployments().len(), 2);
        assert!(groups.get("c").is_none());
    }

    #[test]
    fn picks_rotate_through_the_group() {
        let groups = ModelGroups::new([deployment("m", "one"), deployment("m", "two")]);
        let group = groups.get("m").expect("group");
        let picked: Vec<_> = (0..4).map(|_| group.pick().id.clone()).collect();
        assert_eq!(picked, ["one", "two", "one", "two"]);
    }
}
