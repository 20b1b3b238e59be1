//! `routing_rules` validated into the router's [`RoutingRules`]: known kinds, the keys each kind
//! needs, groups that exist, and model names of their own that every rule for them can reach.

use std::collections::HashMap;

use switchyard_router::{
    ComplexityRule, Conditions, Experiment, HybridRule, Prefer, RoutingRules, Rule, RuleKind,
    TaskRule, Tier, TierRule,
};

use super::file::{RoutingRuleEntry, RuleConditions};
use super::settings::DeploymentSettings;
use super::{ConfigError, ConfigWarning};

#[cfg(test)]
mod tests;

/// `complexity`: the longest simple prompt when `max_simple_chars` is unset.
pub const DEFAULT_MAX_SIMPLE_CHARS: usize = 2000;
/// `complexity`: the keywords when `complex_keywords` is unset.
pub const DEFAULT_COMPLEX_KEYWORDS: &[&str] = &["prove", "step by step", "analyze", "refactor"];

const KINDS: &str = "task, tier, complexity, hybrid";

/// The optional keys of a rule entry, each with the kinds that read it.
const KEYS: &[(&str, &[&str])] = &[
    ("model", &["task", "complexity", "hybrid"]),
    ("when", &["task"]),
    ("group", &["task"]),
    ("default", &["task"]),
    ("tiers", &["tier"]),
    ("simple", &["complexity"]),
    ("complex", &["complexity"]),
    ("max_simple_chars", &["complexity"]),
    ("complex_keywords", &["complexity"]),
    ("min_keyword_hits", &["complexity"]),
    ("candidates", &["hybrid"]),
    ("max_cost_per_million", &["hybrid"]),
    ("max_latency_ms", &["hybrid"]),
    ("prefer", &["hybrid"]),
];

/// What the rules seen so far do with one model name.
#[derive(Default)]
struct ModelUse {
    /// The rule that answers every request for it, after which no rule applies.
    answered_by: Option<String>,
    /// The rule that names its default group.
    default_from: Option<String>,
}

/// Validates every rule against the model groups and experiments, in order.
pub fn rules(
    entries: &[RoutingRuleEntry],
    deployments: &[DeploymentSettings],
    experiments: &[Experiment],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<RoutingRules, ConfigError> {
    let groups = Groups(deployments);
    let mut uses: HashMap<String, ModelUse> = HashMap::new();
    let mut out: Vec<Rule> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("routing_rules[{i}]");
        if entry.name.trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("{path}.name"),
                "must not be empty",
            ));
        }
        if out.iter().any(|r| r.name == entry.name) {
            return Err(ConfigError::invalid(
                format!("{path}.name"),
                format!("another rule is named `{}`", entry.name),
            ));
        }
        let kind = match entry.kind.as_str() {
            "task" => RuleKind::Task(task(&path, entry, &groups)?),
            "tier" => RuleKind::Tier(tier(&path, entry, &groups)?),
            "complexity" => RuleKind::Complexity(complexity(&path, entry, &groups)?),
            "hybrid" => RuleKind::Hybrid(hybrid(&path, entry, &groups)?),
            other => {
                return Err(ConfigError::invalid(
                    format!("{path}.kind"),
                    format!("unknown kind `{other}` (known: {KINDS})"),
                ));
            }
        };
        warn_unread(&path, entry, warnings);
        let rule = Rule {
            name: entry.name.clone(),
            kind,
        };
        claim_models(&path, &rule, &groups, experiments, &mut uses)?;
        out.push(rule);
    }
    Ok(RoutingRules::new(out))
}

/// Checks the rule's model names: their own, not groups or experiments, and reachable after the
/// rules before it; records what the rule does with them.
fn claim_models(
    path: &str,
    rule: &Rule,
    groups: &Groups<'_>,
    experiments: &[Experiment],
    uses: &mut HashMap<String, ModelUse>,
) -> Result<(), ConfigError> {
    for model in rule.models() {
        let at = match &rule.kind {
            RuleKind::Tier(_) => format!("{path}.tiers.{model}"),
            _ => format!("{path}.model"),
        };
        if groups.has(model) || experiments.iter().any(|e| e.model == model) {
            return Err(ConfigError::invalid(
                at,
                format!(
                    "`{model}` is already a model group or an experiment's model; give the rule a model name of its own"
                ),
            ));
        }
        let usage = uses.entry(model.to_owned()).or_default();
        if let Some(earlier) = &usage.answered_by {
            return Err(ConfigError::invalid(
                at,
                format!(
                    "rule `{earlier}` before this one answers every request for `{model}`, so this rule would never apply"
                ),
            ));
        }
        if let RuleKind::Task(TaskRule {
            default: Some(_), ..
        }) = &rule.kind
        {
            if let Some(earlier) = &usage.default_from {
                return Err(ConfigError::invalid(
                    format!("{path}.default"),
                    format!("rule `{earlier}` already names the default for `{model}`"),
                ));
            }
            usage.default_from = Some(rule.name.clone());
        }
        if rule.matches_every_request() {
            if let Some(earlier) = &usage.default_from {
                return Err(ConfigError::invalid(
                    at,
                    format!(
                        "this rule answers every request for `{model}`, so the default of rule `{earlier}` would never apply"
                    ),
                ));
            }
            usage.answered_by = Some(rule.name.clone());
        }
    }
    Ok(())
}

/// Warns about keys the rule's kind does not read.
fn warn_unread(path: &str, entry: &RoutingRuleEntry, warnings: &mut Vec<ConfigWarning>) {
    let set = [
        entry.model.is_some(),
        entry.when.is_some(),
        entry.group.is_some(),
        entry.default.is_some(),
        entry.tiers.is_some(),
        entry.simple.is_some(),
        entry.complex.is_some(),
        entry.max_simple_chars.is_some(),
        entry.complex_keywords.is_some(),
        entry.min_keyword_hits.is_some(),
        entry.candidates.is_some(),
        entry.max_cost_per_million.is_some(),
        entry.max_latency_ms.is_some(),
        entry.prefer.is_some(),
    ];
    for ((key, kinds), set) in KEYS.iter().zip(set) {
        if set && !kinds.contains(&entry.kind.as_str()) {
            warnings.push(ConfigWarning {
                path: format!("{path}.{key}"),
                message: format!("`{}` rules do not read this key, ignored", entry.kind),
            });
        }
    }
}

/// The configured model group names.
struct Groups<'a>(&'a [DeploymentSettings]);

impl Groups<'_> {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|d| d.model_name == name)
    }

    /// `name`, when it is a model group.
    fn check(&self, path: String, name: &str) -> Result<String, ConfigError> {
        if self.has(name) {
            Ok(name.to_owned())
        } else {
            Err(ConfigError::invalid(
                path,
                format!("no model group is named `{name}`"),
            ))
        }
    }

    /// The group a required key names.
    fn required(
        &self,
        path: &str,
        key: &str,
        value: Option<&String>,
        kind: &str,
    ) -> Result<String, ConfigError> {
        let name = required(path, key, value, kind)?;
        self.check(format!("{path}.{key}"), name)
    }
}

fn required<'a, T>(
    path: &str,
    key: &str,
    value: Option<&'a T>,
    kind: &str,
) -> Result<&'a T, ConfigError> {
    value.ok_or_else(|| {
        ConfigError::invalid(
            format!("{path}.{key}"),
            format!("required for `{kind}` rules"),
        )
    })
}

fn model(path: &str, entry: &RoutingRuleEntry) -> Result<String, ConfigError> {
    let model = required(path, "model", entry.model.as_ref(), &entry.kind)?;
    if model.trim().is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.model"),
            "must not be empty",
        ));
    }
    Ok(model.clone())
}

fn task(
    path: &str,
    entry: &RoutingRuleEntry,
    groups: &Groups<'_>,
) -> Result<TaskRule, ConfigError> {
    let model = model(path, entry)?;
    let when = conditions(
        &format!("{path}.when"),
        required(path, "when", entry.when.as_ref(), "task")?,
    )?;
    let group = groups.required(path, "group", entry.group.as_ref(), "task")?;
    let default = match &entry.default {
        Some(name) => Some(groups.check(format!("{path}.default"), name)?),
        None => None,
    };
    Ok(TaskRule {
        model,
        when,
        group,
        default,
    })
}

fn conditions(path: &str, when: &RuleConditions) -> Result<Conditions, ConfigError> {
    if when.metadata.is_empty() && when.header.is_empty() && when.tags.is_empty() {
        return Err(ConfigError::invalid(
            path,
            "needs at least one condition: `metadata`, `header` or `tags`",
        ));
    }
    let mut headers = Vec::with_capacity(when.header.len());
    for (name, value) in &when.header {
        let parsed = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ConfigError::invalid(
                format!("{path}.header.{name}"),
                "is not a valid header name",
            )
        })?;
        headers.push((parsed.as_str().to_owned(), value.clone()));
    }
    if let Some(j) = when.tags.iter().position(|t| t.trim().is_empty()) {
        return Err(ConfigError::invalid(
            format!("{path}.tags[{j}]"),
            "must not be empty",
        ));
    }
    Ok(Conditions {
        metadata: when
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        headers,
        tags: when.tags.clone(),
    })
}

fn tier(
    path: &str,
    entry: &RoutingRuleEntry,
    groups: &Groups<'_>,
) -> Result<TierRule, ConfigError> {
    let tiers = required(path, "tiers", entry.tiers.as_ref(), "tier")?;
    if tiers.is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.tiers"),
            "needs at least one tier, such as `cheap: [small-group]`",
        ));
    }
    let mut out = Vec::with_capacity(tiers.len());
    for (name, members) in tiers {
        let at = format!("{path}.tiers.{name}");
        if name.trim().is_empty() || members.is_empty() {
            return Err(ConfigError::invalid(
                at,
                "a tier needs a name and at least one model group",
            ));
        }
        let members = members
            .iter()
            .enumerate()
            .map(|(j, group)| groups.check(format!("{at}[{j}]"), group))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Tier {
            name: name.clone(),
            groups: members,
        });
    }
    Ok(TierRule { tiers: out })
}

fn complexity(
    path: &str,
    entry: &RoutingRuleEntry,
    groups: &Groups<'_>,
) -> Result<ComplexityRule, ConfigError> {
    let model = model(path, entry)?;
    let simple = groups.required(path, "simple", entry.simple.as_ref(), "complexity")?;
    let complex = groups.required(path, "complex", entry.complex.as_ref(), "complexity")?;
    let max_simple_chars = match entry.max_simple_chars {
        None => DEFAULT_MAX_SIMPLE_CHARS,
        Some(chars) => usize::try_from(chars)
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| {
                ConfigError::invalid(
                    format!("{path}.max_simple_chars"),
                    format!("must be a positive number of characters, not {chars}"),
                )
            })?,
    };
    let keywords = match &entry.complex_keywords {
        None => DEFAULT_COMPLEX_KEYWORDS
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        Some(keywords) => {
            let mut out: Vec<String> = Vec::with_capacity(keywords.len());
            for (j, keyword) in keywords.iter().enumerate() {
                let keyword = keyword.trim().to_lowercase();
                if keyword.is_empty() {
                    return Err(ConfigError::invalid(
                        format!("{path}.complex_keywords[{j}]"),
                        "must not be empty",
                    ));
                }
                if !out.contains(&keyword) {
                    out.push(keyword);
                }
            }
            out
        }
    };
    let min_keyword_hits = match entry.min_keyword_hits {
        None => 1,
        Some(0) => {
            return Err(ConfigError::invalid(
                format!("{path}.min_keyword_hits"),
                "must be at least 1 (an empty `complex_keywords` turns keywords off)",
            ));
        }
        Some(hits) => usize::try_from(hits).unwrap_or(usize::MAX),
    };
    Ok(ComplexityRule {
        model,
        simple,
        complex,
        max_simple_chars,
        keywords,
        min_keyword_hits,
    })
}

fn hybrid(
    path: &str,
    entry: &RoutingRuleEntry,
    groups: &Groups<'_>,
) -> Result<HybridRule, ConfigError> {
    let model = model(path, entry)?;
    let candidates = required(path, "candidates", entry.candidates.as_ref(), "hybrid")?;
    if candidates.is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.candidates"),
            "needs at least one model group",
        ));
    }
    let candidates = candidates
        .iter()
        .enumerate()
        .map(|(j, group)| groups.check(format!("{path}.candidates[{j}]"), group))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(max) = entry.max_cost_per_million
        && !(max.is_finite() && max > 0.0)
    {
        return Err(ConfigError::invalid(
            format!("{path}.max_cost_per_million"),
            format!("must be a positive number of USD, not {max}"),
        ));
    }
    if entry.max_latency_ms == Some(0) {
        return Err(ConfigError::invalid(
            format!("{path}.max_latency_ms"),
            "must be at least 1 (remove it for no limit)",
        ));
    }
    let prefer = match entry.prefer.as_deref() {
        None | Some("cost") => Prefer::Cost,
        Some("latency") => Prefer::Latency,
        Some(other) => {
            return Err(ConfigError::invalid(
                format!("{path}.prefer"),
                format!("`{other}` is neither `cost` nor `latency`"),
            ));
        }
    };
    Ok(HybridRule {
        model,
        candidates,
        max_cost_per_million: entry.max_cost_per_million,
        max_latency: entry.max_latency_ms.map(std::time::Duration::from_millis),
        prefer,
    })
}
