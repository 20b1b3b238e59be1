//! `routing_rules` from YAML: typed rules with their defaults, and every refusal with its path.

use super::super::{ConfigError, parse_with_env};
use super::*;

const MODELS: &str = "model_list:
  - {model_name: small, litellm_params: {model: mock/gpt-4o-mini}}
  - {model_name: big, litellm_params: {model: mock/gpt-4o}}
experiments:
  - {name: exp, model: assistant-ab, variants: [{name: a, model: small}]}
";

fn load(rules: &str) -> Result<(RoutingRules, Vec<ConfigWarning>), ConfigError> {
    let text = format!("{MODELS}routing_rules:\n{rules}");
    parse_with_env(&text, &|_| None).map(|l| (l.settings.rules, l.warnings))
}

fn refused_at(rules: &str) -> String {
    match load(rules) {
        Err(ConfigError::Invalid { path, .. }) => path,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn every_kind_loads_into_typed_rules() {
    let (rules, warnings) = load(
        "  - {name: code, kind: task, model: assistant, when: {metadata: {task: code}, header: {X-Task: code}, tags: [dev]}, group: big}
  - {name: rest, kind: task, model: assistant, when: {tags: [chat]}, group: small, default: small}
  - {name: tiers, kind: tier, tiers: {cheap: [big, small], premium: [big]}}
  - {name: auto, kind: complexity, model: switchyard/auto, simple: small, complex: big, complex_keywords: [' Prove ', prove, Analyze]}
  - {name: hybrid, kind: hybrid, model: switchyard/hybrid, candidates: [big, small], max_cost_per_million: 5, max_latency_ms: 2000, prefer: latency}
",
    )
    .expect("valid");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        rules.models().collect::<Vec<_>>(),
        [
            "assistant",
            "cheap",
            "premium",
            "switchyard/auto",
            "switchyard/hybrid"
        ]
    );
    let RuleKind::Task(code) = &rules.rules()[0].kind else {
        panic!("task")
    };
    assert_eq!(
        code.when.headers,
        [("x-task".to_owned(), "code".to_owned())],
        "header names are lower-cased"
    );
    let RuleKind::Complexity(auto) = &rules.rules()[3].kind else {
        panic!("complexity")
    };
    assert_eq!(auto.max_simple_chars, DEFAULT_MAX_SIMPLE_CHARS);
    assert_eq!(
        auto.keywords,
        ["prove", "analyze"],
        "trimmed, lower-cased, once"
    );
    assert_eq!(auto.min_keyword_hits, 1);
    let RuleKind::Hybrid(hybrid) = &rules.rules()[4].kind else {
        panic!("hybrid")
    };
    assert_eq!(hybrid.prefer, Prefer::Latency);
    assert_eq!(
        hybrid.max_latency,
        Some(std::time::Duration::from_millis(2000))
    );
}

#[test]
fn complexity_keywords_default_to_the_documented_list() {
    let (rules, _) =
        load("  - {name: auto, kind: complexity, model: auto, simple: small, complex: big}\n")
            .expect("valid");
    let RuleKind::Complexity(auto) = &rules.rules()[0].kind else {
        panic!("complexity")
    };
    assert_eq!(auto.keywords, DEFAULT_COMPLEX_KEYWORDS);
}

#[test]
fn keys_the_kind_does_not_read_are_warned_about() {
    let (_, warnings) = load(
        "  - {name: tiers, kind: tier, model: cheap-ish, prefer: cost, tiers: {cheap: [small]}}\n",
    )
    .expect("valid");
    let paths: Vec<_> = warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["routing_rules[0].model", "routing_rules[0].prefer"]);
}

#[test]
fn bad_rules_fail_with_their_path() {
    let cases = [
        (
            "  - {name: r, kind: magic, model: m}\n",
            "routing_rules[0].kind",
        ),
        (
            "  - {name: r, kind: task, model: m, when: {tags: [x]}, group: nope}\n",
            "routing_rules[0].group",
        ),
        (
            "  - {name: r, kind: task, model: m, when: {tags: [x]}, group: big, default: nope}\n",
            "routing_rules[0].default",
        ),
        (
            "  - {name: r, kind: task, model: m, group: big}\n",
            "routing_rules[0].when",
        ),
        (
            "  - {name: r, kind: task, model: m, when: {}, group: big}\n",
            "routing_rules[0].when",
        ),
        (
            "  - {name: r, kind: task, model: m, when: {header: {'bad header': x}}, group: big}\n",
            "routing_rules[0].when.header.bad header",
        ),
        (
            "  - {name: r, kind: task, when: {tags: [x]}, group: big}\n",
            "routing_rules[0].model",
        ),
        (
            "  - {name: r, kind: tier, tiers: {cheap: [small, nope]}}\n",
            "routing_rules[0].tiers.cheap[1]",
        ),
        (
            "  - {name: r, kind: tier, tiers: {cheap: []}}\n",
            "routing_rules[0].tiers.cheap",
        ),
        (
            "  - {name: r, kind: complexity, model: m, simple: small}\n",
            "routing_rules[0].complex",
        ),
        (
            "  - {name: r, kind: complexity, model: m, simple: small, complex: big, max_simple_chars: 0}\n",
            "routing_rules[0].max_simple_chars",
        ),
        (
            "  - {name: r, kind: complexity, model: m, simple: small, complex: big, complex_keywords: [ok, ' ']}\n",
            "routing_rules[0].complex_keywords[1]",
        ),
        (
            "  - {name: r, kind: hybrid, model: m, candidates: [big, nope]}\n",
            "routing_rules[0].candidates[1]",
        ),
        (
            "  - {name: r, kind: hybrid, model: m, candidates: [big], max_cost_per_million: -1}\n",
            "routing_rules[0].max_cost_per_million",
        ),
        (
            "  - {name: r, kind: hybrid, model: m, candidates: [big], prefer: vibes}\n",
            "routing_rules[0].prefer",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(refused_at(text), expected, "{text}");
    }
}

#[test]
fn rule_models_must_not_collide_with_groups_experiments_or_earlier_rules() {
    let cases = [
        (
            "  - {name: r, kind: hybrid, model: big, candidates: [small]}\n",
            "routing_rules[0].model",
        ),
        (
            "  - {name: r, kind: tier, tiers: {assistant-ab: [small]}}\n",
            "routing_rules[0].tiers.assistant-ab",
        ),
        (
            "  - {name: a, kind: hybrid, model: m, candidates: [small]}\n  - {name: b, kind: complexity, model: m, simple: small, complex: big}\n",
            "routing_rules[1].model",
        ),
        (
            "  - {name: a, kind: tier, tiers: {cheap: [small]}}\n  - {name: b, kind: task, model: cheap, when: {tags: [x]}, group: big}\n",
            "routing_rules[1].model",
        ),
        (
            "  - {name: a, kind: hybrid, model: m, candidates: [small]}\n  - {name: a, kind: hybrid, model: n, candidates: [small]}\n",
            "routing_rules[1].name",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(refused_at(text), expected, "{text}");
    }
}

#[test]
fn a_model_has_one_default_and_no_default_after_a_rule_answering_everything() {
    let two_defaults =
        "  - {name: a, kind: task, model: m, when: {tags: [x]}, group: big, default: small}
  - {name: b, kind: task, model: m, when: {tags: [y]}, group: big, default: big}
";
    assert_eq!(refused_at(two_defaults), "routing_rules[1].default");
    let shadowed =
        "  - {name: a, kind: task, model: m, when: {tags: [x]}, group: big, default: small}
  - {name: b, kind: complexity, model: m, simple: small, complex: big}
";
    assert_eq!(refused_at(shadowed), "routing_rules[1].model");
    let composed = "  - {name: a, kind: task, model: m, when: {tags: [x]}, group: big}
  - {name: b, kind: complexity, model: m, simple: small, complex: big}
";
    assert!(
        load(composed).is_ok(),
        "a task rule may precede a catch-all"
    );
}
