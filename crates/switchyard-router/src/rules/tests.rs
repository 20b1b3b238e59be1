//! Rule evaluation: matching order, defaults, thresholds, keyword hits, tier prices and hybrid
//! limits, over real model groups whose prices and latencies are set by hand.

use std::collections::HashMap;
use std::time::Duration;

use switchyard_providers::mock::{Mock, MockSettings};

use super::*;
use crate::deployment::Deployment;

/// Groups with one deployment each, priced in USD per million tokens (`None`: unpriced).
fn groups(priced: &[(&str, Option<f64>)]) -> ModelGroups {
    ModelGroups::new(priced.iter().map(|(name, per_million)| {
        let mut d = Deployment::new(
            format!("{name}-0"),
            *name,
            Box::new(Mock::new(MockSettings::default())),
            Duration::from_secs(1),
        );
        d.limits.cost_per_token = per_million.map(|p| p / 1e6);
        d
    }))
}

fn measure(groups: &ModelGroups, name: &str, millis: u64) {
    for d in groups.get(name).expect("group").deployments() {
        d.stats.record_latency(Duration::from_millis(millis));
    }
}

/// A request's facts: message text, metadata, tags and headers.
struct Request {
    text: String,
    metadata: HashMap<String, String>,
    tags: Vec<String>,
    headers: Vec<(String, String)>,
}

impl Request {
    fn text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            metadata: HashMap::new(),
            tags: Vec::new(),
            headers: Vec::new(),
        }
    }

    fn metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_owned(), value.to_owned());
        self
    }

    fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_owned());
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn decide(
        &self,
        rules: &RoutingRules,
        model: &str,
        groups: &ModelGroups,
    ) -> Option<Result<Decision, RuleError>> {
        let header = |name: &str| {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let facts = RequestFacts {
            text: &self.text,
            metadata: &self.metadata,
            tags: &self.tags,
            header: &header,
        };
        rules.decide(model, &facts, groups)
    }

    fn chosen(&self, rules: &RoutingRules, model: &str, groups: &ModelGroups) -> Decision {
        match self.decide(rules, model, groups) {
            Some(Ok(decision)) => decision,
            other => panic!("expected a decision, got {other:?}"),
        }
    }
}

fn task(name: &str, when: Conditions, group: &str, default: Option<&str>) -> Rule {
    Rule {
        name: name.to_owned(),
        kind: RuleKind::Task(TaskRule {
            model: "assistant".to_owned(),
            when,
            group: group.to_owned(),
            default: default.map(str::to_owned),
        }),
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn task_rules() -> RoutingRules {
    RoutingRules::new(vec![
        task(
            "code",
            Conditions {
                metadata: pairs(&[("task", "code")]),
                ..Default::default()
            },
            "coder",
            None,
        ),
        task(
            "urgent-code",
            Conditions {
                metadata: pairs(&[("task", "code")]),
                tags: vec!["urgent".to_owned()],
                ..Default::default()
            },
            "big",
            None,
        ),
        task(
            "summaries",
            Conditions {
                headers: pairs(&[("x-task", "summarize")]),
                ..Default::default()
            },
            "small",
            Some("general"),
        ),
    ])
}

#[test]
fn task_rules_match_metadata_and_headers_in_order() {
    let groups = groups(&[]);
    let rules = task_rules();
    let code = Request::text("hi")
        .metadata("task", "code")
        .tag("urgent")
        .chosen(&rules, "assistant", &groups);
    assert_eq!(code.group, "coder", "the first matching rule wins");
    assert_eq!(
        code.to_string(),
        "rule=code kind=task chose=coder: metadata task=code"
    );
    let summary =
        Request::text("hi")
            .header("x-task", "summarize")
            .chosen(&rules, "assistant", &groups);
    assert_eq!(summary.group, "small");
    assert_eq!(summary.reason, "header x-task=summarize");
}

#[test]
fn every_condition_of_a_task_rule_must_hold() {
    let groups = groups(&[]);
    let rules = RoutingRules::new(vec![task(
        "urgent-code",
        Conditions {
            metadata: pairs(&[("task", "code")]),
            tags: vec!["urgent".to_owned()],
            ..Default::default()
        },
        "big",
        Some("general"),
    )]);
    let only_metadata = Request::text("hi").metadata("task", "code");
    assert_eq!(
        only_metadata.chosen(&rules, "assistant", &groups).group,
        "general"
    );
    let both = only_metadata.tag("urgent");
    let decision = both.chosen(&rules, "assistant", &groups);
    assert_eq!(decision.group, "big");
    assert_eq!(decision.reason, "metadata task=code, tag urgent");
}

#[test]
fn unmatched_requests_go_to_the_default_or_fail_without_one() {
    let groups = groups(&[]);
    let fallback =
        Request::text("hi")
            .metadata("task", "chat")
            .chosen(&task_rules(), "assistant", &groups);
    assert_eq!(fallback.group, "general");
    assert_eq!(
        fallback.rule, "summaries",
        "the rule that names the default"
    );
    assert_eq!(fallback.reason, "no rule matched, default");

    let no_default = RoutingRules::new(task_rules().rules()[..2].to_vec());
    assert_eq!(
        Request::text("hi").decide(&no_default, "assistant", &groups),
        Some(Err(RuleError::NoMatch {
            model: "assistant".to_owned()
        }))
    );
}

#[test]
fn models_without_rules_are_left_alone() {
    let rules = task_rules();
    assert!(
        Request::text("hi")
            .decide(&rules, "coder", &groups(&[]))
            .is_none()
    );
    assert!(rules.routes("assistant"));
    assert!(!rules.routes("coder"));
}

fn complexity(max_simple_chars: usize, min_keyword_hits: usize) -> RoutingRules {
    RoutingRules::new(vec![Rule {
        name: "auto".to_owned(),
        kind: RuleKind::Complexity(ComplexityRule {
            model: "switchyard/auto".to_owned(),
            simple: "small".to_owned(),
            complex: "big".to_owned(),
            max_simple_chars,
            keywords: ["prove", "step by step", "refactor"]
                .map(str::to_owned)
                .to_vec(),
            min_keyword_hits,
        }),
    }])
}

#[test]
fn prompts_longer_than_the_threshold_are_complex() {
    let (groups, rules) = (groups(&[]), complexity(2000, 1));
    let at_limit = Request::text(&"a".repeat(2000)).chosen(&rules, "switchyard/auto", &groups);
    assert_eq!(at_limit.group, "small");
    assert_eq!(at_limit.reason, "2000 chars <= 2000, 0 keyword hits");
    let over = Request::text(&"é".repeat(2600)).chosen(&rules, "switchyard/auto", &groups);
    assert_eq!(over.group, "big", "characters, not bytes, are counted");
    assert_eq!(
        over.to_string(),
        "rule=auto kind=complexity chose=big: 2600 chars > 2000, 0 keyword hits"
    );
}

#[test]
fn keywords_hit_as_whole_words_in_any_case() {
    let (groups, rules) = (groups(&[]), complexity(2000, 1));
    let hit =
        Request::text("Please PROVE it, Step By Step.").chosen(&rules, "switchyard/auto", &groups);
    assert_eq!(hit.group, "big");
    assert_eq!(
        hit.reason,
        "30 chars <= 2000, 2 keyword hits: prove, step by step"
    );
    let inside_a_word =
        Request::text("improve the refactoring").chosen(&rules, "switchyard/auto", &groups);
    assert_eq!(inside_a_word.group, "small", "{}", inside_a_word.reason);
}

#[test]
fn a_keyword_threshold_above_one_needs_that_many_distinct_hits() {
    let (groups, rules) = (groups(&[]), complexity(2000, 2));
    let one = Request::text("prove it, prove it again").chosen(&rules, "switchyard/auto", &groups);
    assert_eq!(one.group, "small");
    assert_eq!(
        one.reason,
        "24 chars <= 2000, 1 keyword hit of 2 needed: prove"
    );
    let two = Request::text("refactor, then prove").chosen(&rules, "switchyard/auto", &groups);
    assert_eq!(two.group, "big");
}

fn tiers() -> RoutingRules {
    let tier = |name: &str, groups: &[&str]| Tier {
        name: name.to_owned(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    };
    RoutingRules::new(vec![Rule {
        name: "tiers".to_owned(),
        kind: RuleKind::Tier(TierRule {
            tiers: vec![
                tier("cheap", &["mini", "nano", "local"]),
                tier("balanced", &["local", "self-hosted"]),
                tier("premium", &["big"]),
            ],
        }),
    }])
}

#[test]
fn a_tier_picks_its_cheapest_priced_group() {
    let groups = groups(&[
        ("mini", Some(0.75)),
        ("nano", Some(0.5)),
        ("local", None),
        ("self-hosted", None),
        ("big", Some(12.5)),
    ]);
    let rules = tiers();
    let cheap = Request::text("hi").chosen(&rules, "cheap", &groups);
    assert_eq!(cheap.group, "nano", "unpriced `local` comes last");
    assert_eq!(
        cheap.to_string(),
        "rule=tiers kind=tier chose=nano: tier cheap, cheapest of 3 at $0.5/M"
    );
    let balanced = Request::text("hi").chosen(&rules, "balanced", &groups);
    assert_eq!(balanced.group, "local", "none priced: the first");
    assert_eq!(balanced.reason, "tier balanced, none of 2 priced, first");
    let premium = Request::text("hi").chosen(&rules, "premium", &groups);
    assert_eq!(
        (premium.group.as_str(), premium.reason.as_str()),
        ("big", "tier premium")
    );
    assert_eq!(
        rules.models().collect::<Vec<_>>(),
        ["cheap", "balanced", "premium"]
    );
}

fn hybrid(prefer: Prefer) -> RoutingRules {
    RoutingRules::new(vec![Rule {
        name: "hybrid".to_owned(),
        kind: RuleKind::Hybrid(HybridRule {
            model: "switchyard/hybrid".to_owned(),
            candidates: ["pricey", "slow", "mid", "fast"]
                .map(str::to_owned)
                .to_vec(),
            max_cost_per_million: Some(20.0),
            max_latency: Some(Duration::from_millis(2000)),
            prefer,
        }),
    }])
}

fn hybrid_groups() -> ModelGroups {
    groups(&[
        ("pricey", Some(75.0)),
        ("slow", Some(0.75)),
        ("mid", Some(12.5)),
        ("fast", Some(15.0)),
    ])
}

#[test]
fn hybrid_drops_candidates_over_the_cost_limit_and_takes_the_cheapest() {
    let groups = hybrid_groups();
    let decision = Request::text("hi").chosen(&hybrid(Prefer::Cost), "switchyard/hybrid", &groups);
    assert_eq!(decision.group, "slow", "not measured yet, so within limits");
    assert_eq!(
        decision.reason,
        "cheapest of 3 within limits at $0.75/M; dropped pricey (cost $75/M > $20/M)"
    );
}

#[test]
fn hybrid_drops_candidates_over_the_latency_limit() {
    let groups = hybrid_groups();
    measure(&groups, "slow", 2300);
    measure(&groups, "mid", 900);
    let decision = Request::text("hi").chosen(&hybrid(Prefer::Cost), "switchyard/hybrid", &groups);
    assert_eq!(decision.group, "mid");
    assert_eq!(
        decision.reason,
        "cheapest of 2 within limits at $12.5/M; dropped pricey (cost $75/M > $20/M), slow (latency 2300ms > 2000ms)"
    );
}

#[test]
fn hybrid_preferring_latency_measures_new_groups_then_takes_the_fastest() {
    let groups = hybrid_groups();
    measure(&groups, "mid", 900);
    let rules = hybrid(Prefer::Latency);
    let first = Request::text("hi").chosen(&rules, "switchyard/hybrid", &groups);
    assert_eq!(first.group, "slow", "not measured yet, so tried first");
    measure(&groups, "slow", 1500);
    measure(&groups, "fast", 300);
    let decision = Request::text("hi").chosen(&rules, "switchyard/hybrid", &groups);
    assert_eq!(decision.group, "fast");
    assert!(
        decision
            .reason
            .starts_with("fastest of 3 within limits at 300ms"),
        "{}",
        decision.reason
    );
}

#[test]
fn hybrid_with_every_candidate_over_its_limits_fails() {
    let groups = hybrid_groups();
    for name in ["slow", "mid", "fast"] {
        measure(&groups, name, 2500);
    }
    let err = Request::text("hi").decide(&hybrid(Prefer::Cost), "switchyard/hybrid", &groups);
    let Some(Err(RuleError::NoCandidate { rule, detail })) = err else {
        panic!("expected NoCandidate, got {err:?}")
    };
    assert_eq!(rule, "hybrid");
    assert!(detail.contains("pricey (cost $75/M > $20/M)"), "{detail}");
    assert!(
        detail.contains("fast (latency 2500ms > 2000ms)"),
        "{detail}"
    );
}

#[test]
fn a_group_s_price_is_its_dearest_deployment_and_its_latency_the_mean() {
    let mut deployments = Vec::new();
    for (id, price) in [("a", Some(1e-6)), ("b", Some(3e-6)), ("c", None)] {
        let mut d = Deployment::new(
            id,
            "g",
            Box::new(Mock::new(MockSettings::default())),
            Duration::from_secs(1),
        );
        d.limits.cost_per_token = price;
        deployments.push(d);
    }
    let groups = ModelGroups::new(deployments);
    assert_eq!(group_price(&groups, "g"), Some(3e-6));
    assert_eq!(group_latency(&groups, "g"), None);
    let g = groups.get("g").expect("group");
    g.deployments()[0]
        .stats
        .record_latency(Duration::from_millis(100));
    g.deployments()[1]
        .stats
        .record_latency(Duration::from_millis(300));
    assert_eq!(
        group_latency(&groups, "g"),
        Some(Duration::from_millis(200))
    );
}

#[test]
fn a_task_rule_can_precede_a_rule_that_answers_everything_else() {
    let groups = groups(&[]);
    let mut rules = vec![task(
        "code",
        Conditions {
            metadata: pairs(&[("task", "code")]),
            ..Default::default()
        },
        "coder",
        None,
    )];
    if let RuleKind::Task(t) = &mut rules[0].kind {
        t.model = "switchyard/auto".to_owned();
    }
    rules.extend(complexity(10, 1).rules().iter().cloned());
    let rules = RoutingRules::new(rules);
    let code = Request::text("hi").metadata("task", "code");
    assert_eq!(
        code.chosen(&rules, "switchyard/auto", &groups).group,
        "coder"
    );
    let other = Request::text("a long enough question");
    let decision = other.chosen(&rules, "switchyard/auto", &groups);
    assert_eq!(
        (decision.rule.as_str(), decision.group.as_str()),
        ("auto", "big")
    );
    assert_eq!(rules.models().collect::<Vec<_>>(), ["switchyard/auto"]);
}
