//! LiteLLM's tag routing (<https://docs.litellm.ai/docs/proxy/tag_routing>): with
//! `router_settings.enable_tag_filtering`, a request's tags (its `tags`, `metadata.tags` or
//! the `x-litellm-tags` header) choose among a group's deployments by their `tags`:
//!
//! 1. deployments with the request's tags (any of them, or all with
//!    `tag_filtering_match_any: false`);
//! 2. else deployments whose `tag_regex` matches the request's `User-Agent: <value>` line;
//! 3. else deployments tagged `default`;
//! 4. else any deployment of the group.
//!
//! Each step is a rank of [`DeploymentRank`]; the router serves the call, retries included,
//! from the best rank available.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use regex::Regex;
use switchyard_router::{Deployment, DeploymentRank};

/// The request header LiteLLM reads tags from, comma-separated.
pub const TAGS_HEADER: &str = "x-litellm-tags";

/// The tag that marks the deployments untagged requests go to.
const DEFAULT_TAG: &str = "default";

/// A deployment's tags and `tag_regex` patterns.
#[derive(Debug, Clone, Default)]
pub struct DeploymentTags {
    /// Its `tags`.
    pub tags: Vec<String>,
    /// Its `tag_regex` patterns.
    pub patterns: Vec<Regex>,
}

/// Tag routing as configured: the deployments' tags by deployment id.
#[derive(Debug, Clone)]
pub struct TagRouting {
    match_any: bool,
    deployments: Arc<HashMap<String, DeploymentTags>>,
}

impl TagRouting {
    /// Tag routing over `deployments` (by id); `match_any` takes deployments with any of the
    /// request's tags rather than all.
    pub fn new(match_any: bool, deployments: HashMap<String, DeploymentTags>) -> Self {
        Self {
            match_any,
            deployments: Arc::new(deployments),
        }
    }

    /// How a call with `tags` (from its body) and `headers` ranks each deployment.
    pub fn preference(&self, mut tags: Vec<String>, headers: &HeaderMap) -> DeploymentRank {
        if let Some(header) = headers.get(TAGS_HEADER).and_then(|v| v.to_str().ok()) {
            tags.extend(
                header
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            );
        }
        let user_agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| format!("User-Agent: {ua}"));
        let routing = self.clone();
        DeploymentRank::new(move |deployment: &Deployment| {
            routing.rank(deployment, &tags, user_agent.as_deref())
        })
    }

    fn rank(&self, deployment: &Deployment, tags: &[String], user_agent: Option<&str>) -> u8 {
        let Some(own) = self.deployments.get(&deployment.id) else {
            return 3;
        };
        let has = |tag: &String| own.tags.contains(tag);
        let tagged = !tags.is_empty()
            && if self.match_any {
                tags.iter().any(has)
            } else {
                tags.iter().all(has)
            };
        if tagged {
            0
        } else if user_agent.is_some_and(|ua| own.patterns.iter().any(|p| p.is_match(ua))) {
            1
        } else if own.tags.iter().any(|t| t == DEFAULT_TAG) {
            2
        } else {
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchyard_providers::mock::{Mock, MockSettings};

    use super::*;

    fn deployment(id: &str) -> Deployment {
        let mock = Mock::new(MockSettings {
            model: "m".to_owned(),
            response: None,
            latency: Duration::ZERO,
            failure_rate: 0.0,
        });
        Deployment::new(id, "g", Box::new(mock), Duration::from_secs(1))
    }

    fn routing(match_any: bool) -> TagRouting {
        let tags = |t: &[&str], p: &[&str]| DeploymentTags {
            tags: t.iter().map(|s| (*s).to_owned()).collect(),
            patterns: p.iter().map(|p| Regex::new(p).expect("regex")).collect(),
        };
        TagRouting::new(
            match_any,
            HashMap::from([
                ("free".to_owned(), tags(&["free"], &[])),
                ("both".to_owned(), tags(&["free", "paid"], &[])),
                ("default".to_owned(), tags(&["default"], &[])),
                (
                    "claude-code".to_owned(),
                    tags(&[], &["^User-Agent: claude-code/"]),
                ),
            ]),
        )
    }

    fn ranks(rank: &DeploymentRank) -> Vec<u8> {
        ["free", "both", "default", "claude-code", "untagged"]
            .iter()
            .map(|id| rank.rank(&deployment(id)))
            .collect()
    }

    #[test]
    fn tagged_requests_prefer_their_tags_then_default() {
        let r = routing(true);
        let rank = r.preference(vec!["free".to_owned()], &HeaderMap::new());
        assert_eq!(ranks(&rank), [0, 0, 2, 3, 3]);
        let rank = r.preference(Vec::new(), &HeaderMap::new());
        assert_eq!(
            ranks(&rank),
            [3, 3, 2, 3, 3],
            "untagged requests go to `default`"
        );
    }

    #[test]
    fn match_all_needs_every_tag_and_the_header_adds_tags() {
        let r = routing(false);
        let mut headers = HeaderMap::new();
        headers.insert(TAGS_HEADER, "free, paid".parse().expect("header"));
        let rank = r.preference(Vec::new(), &headers);
        assert_eq!(ranks(&rank), [3, 0, 2, 3, 3]);
    }

    #[test]
    fn a_user_agent_pattern_ranks_after_tags() {
        let r = routing(true);
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::USER_AGENT,
            "claude-code/1.2.3".parse().expect("ua"),
        );
        let rank = r.preference(Vec::new(), &headers);
        assert_eq!(ranks(&rank), [3, 3, 2, 1, 3]);
    }
}
