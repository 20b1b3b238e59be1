//! Routing rules: which model group serves a request that names a rule's model, decided before
//! the router picks a deployment, with a short reason for every decision.
//!
//! Rules that share a model are tried in configuration order and the first that matches decides:
//! `task` rules match on the request's metadata, tags or headers; `tier`, `complexity` and
//! `hybrid` rules answer every request for their model. Evaluation is pure: it reads the
//! request's [`RequestFacts`] and the groups' prices and observed latencies, and calls nothing.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use crate::group::ModelGroups;

mod choice;
#[cfg(test)]
mod tests;

use choice::{choose_by_complexity, choose_hybrid, choose_tier};
pub use choice::{group_latency, group_price};

/// What rules may look at in a request.
pub struct RequestFacts<'a> {
    /// The text of every message, joined by newlines.
    pub text: &'a str,
    /// The request's `metadata` entries with scalar values, as text.
    pub metadata: &'a HashMap<String, String>,
    /// The request's tags (LiteLLM's `tags`).
    pub tags: &'a [String],
    /// Looks a request header up by its lower-case name.
    pub header: &'a dyn Fn(&str) -> Option<&'a str>,
}

/// A validated routing rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule's name, shown in the route reason.
    pub name: String,
    /// What it matches and how it chooses.
    pub kind: RuleKind,
}

/// The kinds of rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// A group for requests whose metadata, tags or headers match.
    Task(TaskRule),
    /// Model names standing for cost tiers, each served by the cheapest of its groups.
    Tier(TierRule),
    /// A simple or a complex group, by prompt length and keywords.
    Complexity(ComplexityRule),
    /// The cheapest (or fastest) candidate within cost and latency limits.
    Hybrid(HybridRule),
}

impl RuleKind {
    /// The kind's name in the configuration and in route reasons.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Task(_) => "task",
            Self::Tier(_) => "tier",
            Self::Complexity(_) => "complexity",
            Self::Hybrid(_) => "hybrid",
        }
    }
}

impl Rule {
    /// The model names clients send to invoke the rule: its `model`, or a tier rule's tier names.
    pub fn models(&self) -> Vec<&str> {
        match &self.kind {
            RuleKind::Task(rule) => vec![rule.model.as_str()],
            RuleKind::Tier(rule) => rule.tiers.iter().map(|t| t.name.as_str()).collect(),
            RuleKind::Complexity(rule) => vec![rule.model.as_str()],
            RuleKind::Hybrid(rule) => vec![rule.model.as_str()],
        }
    }

    /// Whether the rule decides every request for its models (all kinds but `task`), so rules
    /// after it for the same model never apply.
    pub fn matches_every_request(&self) -> bool {
        !matches!(self.kind, RuleKind::Task(_))
    }
}

/// A `task` rule: `group` serves requests for `model` whose facts meet `when`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRule {
    /// The model name clients send.
    pub model: String,
    /// What the request must carry.
    pub when: Conditions,
    /// The group that serves matching requests.
    pub group: String,
    /// The group that serves requests for `model` that no rule matched.
    pub default: Option<String>,
}

/// Conditions of a task rule; all must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// `metadata` entries the request must carry, compared as text.
    pub metadata: Vec<(String, String)>,
    /// Headers (lower-case names) the request must carry with exactly these values.
    pub headers: Vec<(String, String)>,
    /// Tags the request must carry.
    pub tags: Vec<String>,
}

impl Conditions {
    /// What matched, when every condition holds.
    fn check(&self, facts: &RequestFacts<'_>) -> Option<String> {
        let mut matched = Vec::new();
        for (key, value) in &self.metadata {
            if facts.metadata.get(key) != Some(value) {
                return None;
            }
            matched.push(format!("metadata {key}={value}"));
        }
        for (name, value) in &self.headers {
            if (facts.header)(name) != Some(value.as_str()) {
                return None;
            }
            matched.push(format!("header {name}={value}"));
        }
        for tag in &self.tags {
            if !facts.tags.contains(tag) {
                return None;
            }
            matched.push(format!("tag {tag}"));
        }
        Some(matched.join(", "))
    }
}

/// A `tier` rule: each tier name is a model name clients send.
#[derive(Debug, Clone, PartialEq)]
pub struct TierRule {
    /// The tiers, such as `cheap`, `balanced` and `premium`.
    pub tiers: Vec<Tier>,
}

/// One cost tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// The model name clients send.
    pub name: String,
    /// The groups that may serve it; the cheapest is chosen (the first when none is priced).
    pub groups: Vec<String>,
}

/// A `complexity` rule: `complex` serves prompts longer than `max_simple_chars` or with at least
/// `min_keyword_hits` of the keywords; `simple` serves the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplexityRule {
    /// The model name clients send.
    pub model: String,
    /// The group for simple prompts.
    pub simple: String,
    /// The group for complex prompts.
    pub complex: String,
    /// The longest prompt, in characters of message text, that still counts as simple.
    pub max_simple_chars: usize,
    /// Lower-case words or phrases that mark a complex prompt, matched as whole words.
    pub keywords: Vec<String>,
    /// How many distinct keywords make a prompt complex (at least 1).
    pub min_keyword_hits: usize,
}

/// A `hybrid` rule: the best candidate group within the limits.
#[derive(Debug, Clone, PartialEq)]
pub struct HybridRule {
    /// The model name clients send.
    pub model: String,
    /// The groups to choose from, in order of preference on ties.
    pub candidates: Vec<String>,
    /// Highest price, in USD per million input plus output tokens; unpriced groups pass.
    pub max_cost_per_million: Option<f64>,
    /// Highest mean observed latency; groups not yet measured pass.
    pub max_latency: Option<Duration>,
    /// What "best" means among the candidates within the limits.
    pub prefer: Prefer,
}

/// What a hybrid rule optimises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prefer {
    /// The cheapest group; unpriced groups come last.
    #[default]
    Cost,
    /// The fastest group; groups not yet measured come first, so they get measured.
    Latency,
}

/// The group a rule chose, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The model group that serves the request.
    pub group: String,
    /// The rule that decided.
    pub rule: String,
    /// The rule's kind ([`RuleKind::label`]).
    pub kind: &'static str,
    /// Why, in a few words, such as `2600 chars > 2000, 0 keyword hits`.
    pub reason: String,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule={} kind={} chose={}: {}",
            self.rule, self.kind, self.group, self.reason
        )
    }
}

/// Why the rules for a model could not choose a group.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// No rule matched the request, and none names a `default`.
    #[error(
        "model `{model}` is routed by rules, none of which matched this request, and none names a default group"
    )]
    NoMatch {
        /// The model the client sent.
        model: String,
    },
    /// Every candidate of a hybrid rule is over its limits.
    #[error("routing rule `{rule}`: no candidate group is within its limits: {detail}")]
    NoCandidate {
        /// The rule's name.
        rule: String,
        /// The candidates and the limit each one broke.
        detail: String,
    },
}

/// Every routing rule, indexed by the model names that invoke them.
#[derive(Debug, Clone, Default)]
pub struct RoutingRules {
    rules: Vec<Rule>,
    by_model: HashMap<String, Vec<usize>>,
    models: Vec<String>,
}

impl RoutingRules {
    /// Indexes validated `rules`, keeping their order.
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut by_model: HashMap<String, Vec<usize>> = HashMap::new();
        let mut models = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            for model in rule.models() {
                let entry = by_model.entry(model.to_owned()).or_insert_with(|| {
                    models.push(model.to_owned());
                    Vec::new()
                });
                entry.push(index);
            }
        }
        Self {
            rules,
            by_model,
            models,
        }
    }

    /// The rules, in configuration order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether any rule answers to `model`.
    pub fn routes(&self, model: &str) -> bool {
        self.by_model.contains_key(model)
    }

    /// Every model name that invokes a rule, in configuration order.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(String::as_str)
    }

    /// The group for a request naming `model`, or `None` when no rule answers to `model`.
    ///
    /// The rules for `model` are tried in order and the first that matches decides; when none
    /// does, the first `default` among them serves.
    pub fn decide(
        &self,
        model: &str,
        facts: &RequestFacts<'_>,
        groups: &ModelGroups,
    ) -> Option<Result<Decision, RuleError>> {
        let indexes = self.by_model.get(model)?;
        let mut default: Option<(&Rule, &str)> = None;
        for rule in indexes.iter().filter_map(|i| self.rules.get(*i)) {
            let chosen = match &rule.kind {
                RuleKind::Task(task) => {
                    if default.is_none()
                        && let Some(group) = &task.default
                    {
                        default = Some((rule, group));
                    }
                    task.when
                        .check(facts)
                        .map(|matched| (task.group.clone(), matched))
                }
                RuleKind::Tier(tier) => tier
                    .tiers
                    .iter()
                    .find(|t| t.name == model)
                    .and_then(|t| choose_tier(t, groups)),
                RuleKind::Complexity(complexity) => Some(choose_by_complexity(complexity, facts)),
                RuleKind::Hybrid(hybrid) => match choose_hybrid(hybrid, groups) {
                    Ok(chosen) => Some(chosen),
                    Err(detail) => {
                        return Some(Err(RuleError::NoCandidate {
                            rule: rule.name.clone(),
                            detail,
                        }));
                    }
                },
            };
            if let Some((group, reason)) = chosen {
                return Some(Ok(decision(rule, group, reason)));
            }
        }
        Some(match default {
            Some((rule, group)) => Ok(decision(
                rule,
                group.to_owned(),
                "no rule matched, default".to_owned(),
            )),
            None => Err(RuleError::NoMatch {
                model: model.to_owned(),
            }),
        })
    }
}

fn decision(rule: &Rule, group: String, reason: String) -> Decision {
    Decision {
        group,
        rule: rule.name.clone(),
        kind: rule.kind.label(),
        reason,
    }
}
