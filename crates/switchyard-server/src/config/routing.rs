//! `router_settings` (and the retry keys LiteLLM also takes under `litellm_settings`) validated
//! into the router's [`RoutingPolicy`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use switchyard_router::{Hedge, RoutingPolicy, Strategy};

use super::file::{HedgeAfter, LitellmSettings, RetrySettings, RouterSettings};
use super::settings::DeploymentSettings;
use super::{ConfigError, ConfigWarning};

/// Builds the routing policy; `router_settings` wins over `litellm_settings` key by key.
pub fn policy(
    router: &RouterSettings,
    litellm_settings: &LitellmSettings,
    deployments: &[DeploymentSettings],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<RoutingPolicy, ConfigError> {
    let litellm: &RetrySettings = &litellm_settings.retries;
    let defaults = RoutingPolicy::default();
    let retries = &router.retries;

    let mut strategy = match &router.routing_strategy {
        None => defaults.strategy,
        Some(name) => Strategy::from_litellm_name(name).ok_or_else(|| {
            ConfigError::invalid(
                "router_settings.routing_strategy",
                format!(
                    "unknown strategy `{name}` (known: {})",
                    Strategy::NAMES.join(", ")
                ),
            )
        })?,
    };
    if let Some(buffer) = router
        .routing_strategy_args
        .as_ref()
        .and_then(|a| a.lowest_latency_buffer)
    {
        let path = "router_settings.routing_strategy_args.lowest_latency_buffer";
        if !(buffer.is_finite() && buffer >= 0.0) {
            return Err(ConfigError::invalid(
                path,
                format!("must be >= 0, not {buffer}"),
            ));
        }
        match &mut strategy {
            Strategy::LatencyBased { buffer: b } => *b = buffer,
            _ => warnings.push(ConfigWarning {
                path: path.to_owned(),
                message: "only latency-based-routing reads this key".to_owned(),
            }),
        }
    }

    let cooldown = match pick(
        &retries.cooldown_time,
        &litellm.cooldown_time,
        "cooldown_time",
    ) {
        (Some(secs), _) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        (Some(secs), path) => {
            return Err(ConfigError::invalid(
                path,
                format!("must be >= 0 seconds, not {secs}"),
            ));
        }
        (None, _) => defaults.cooldown,
    };
    let groups: Vec<&str> = deployments.iter().map(|d| d.model_name.as_str()).collect();
    let mut chains = |key: &str, ours: &Option<_>, theirs: &Option<_>| {
        let (value, path) = pick(ours, theirs, key);
        fallback_map(&path, value.unwrap_or_default(), &groups, warnings)
    };
    let fallbacks = chains("fallbacks", &retries.fallbacks, &litellm.fallbacks)?;
    let context_window_fallbacks = chains(
        "context_window_fallbacks",
        &retries.context_window_fallbacks,
        &litellm.context_window_fallbacks,
    )?;
    let content_policy_fallbacks = chains(
        "content_policy_fallbacks",
        &retries.content_policy_fallbacks,
        &litellm.content_policy_fallbacks,
    )?;
    let (default_fallbacks, path) = pick(
        &retries.default_fallbacks,
        &litellm.default_fallbacks,
        "default_fallbacks",
    );
    let default_fallbacks = default_fallbacks.unwrap_or_default();
    for (i, name) in default_fallbacks.iter().enumerate() {
        warn_unknown_group(&format!("{path}[{i}]"), name, &groups, warnings);
    }
    let mut hedging = HashMap::new();
    for (group, after) in router.hedging.iter().flatten() {
        let path = format!("router_settings.hedging.{group}");
        warn_unknown_group(&path, group, &groups, warnings);
        let hedge = match after {
            HedgeAfter::Millis(0) => {
                return Err(ConfigError::invalid(path, "must be at least 1 millisecond"));
            }
            HedgeAfter::Millis(ms) => Hedge::After(Duration::from_millis(*ms)),
            HedgeAfter::Observed(word) if word == "p95" => Hedge::P95,
            HedgeAfter::Observed(other) => {
                return Err(ConfigError::invalid(
                    path,
                    format!("`{other}` is neither a number of milliseconds nor `p95`"),
                ));
            }
        };
        hedging.insert(group.clone(), hedge);
    }
    Ok(RoutingPolicy {
        strategy,
        num_retries: pick(&retries.num_retries, &litellm.num_retries, "num_retries")
            .0
            .unwrap_or(defaults.num_retries),
        allowed_fails: pick(
            &retries.allowed_fails,
            &litellm.allowed_fails,
            "allowed_fails",
        )
        .0
        .unwrap_or(defaults.allowed_fails),
        cooldown,
        cooldowns: !pick(
            &retries.disable_cooldowns,
            &litellm.disable_cooldowns,
            "disable_cooldowns",
        )
        .0
        .unwrap_or(false),
        fallbacks,
        context_window_fallbacks,
        content_policy_fallbacks,
        default_fallbacks,
        hedging,
    })
}

/// The value of `key` from `router_settings` if set there, else from `litellm_settings`, with
/// the path it came from.
fn pick<T: Clone>(ours: &Option<T>, theirs: &Option<T>, key: &str) -> (Option<T>, String) {
    match ours {
        Some(_) => (ours.clone(), format!("router_settings.{key}")),
        None => (theirs.clone(), format!("litellm_settings.{key}")),
    }
}

/// `[{"a": ["b", "c"]}, {"d": ["e"]}]` -> `{a: [b, c], d: [e]}`.
fn fallback_map(
    path: &str,
    entries: Vec<BTreeMap<String, Vec<String>>>,
    groups: &[&str],
    warnings: &mut Vec<ConfigWarning>,
) -> Result<HashMap<String, Vec<String>>, ConfigError> {
    let mut map = HashMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        for (group, chain) in entry {
            let at = format!("{path}[{i}].{group}");
            warn_unknown_group(&at, &group, groups, warnings);
            for (j, name) in chain.iter().enumerate() {
                warn_unknown_group(&format!("{at}[{j}]"), name, groups, warnings);
            }
            if map.insert(group.clone(), chain).is_some() {
                return Err(ConfigError::invalid(
                    at,
                    format!("`{group}` has fallbacks listed twice"),
                ));
            }
        }
    }
    Ok(map)
}

fn warn_unknown_group(path: &str, name: &str, groups: &[&str], warnings: &mut Vec<ConfigWarning>) {
    if !groups.contains(&name) {
        warnings.push(ConfigWarning {
            path: path.to_owned(),
            message: format!("no model group is named `{name}`; it will be skipped"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_with_env;
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const MODELS: &str = "model_list:\n  - {model_name: a, litellm_params: {model: mock/a}}\n  - {model_name: b, litellm_params: {model: mock/b, weight: 3, order: 2, rpm: 60}}\n";

    #[test]
    fn router_settings_become_the_policy() {
        let text = format!(
            "{MODELS}router_settings:\n  routing_strategy: latency-based-routing\n  routing_strategy_args: {{lowest_latency_buffer: 0.2}}\n  num_retries: 4\n  allowed_fails: 1\n  cooldown_time: 30\n  fallbacks: [{{a: [b]}}]\n  context_window_fallbacks: [{{a: [b]}}]\n  default_fallbacks: [b]\n"
        );
        let loaded = parse_with_env(&text, &no_env).expect("valid");
        let p = &loaded.settings.routing;
        assert_eq!(p.strategy, Strategy::LatencyBased { buffer: 0.2 });
        assert_eq!((p.num_retries, p.allowed_fails), (4, 1));
        assert_eq!(p.cooldown, Duration::from_secs(30));
        assert_eq!(p.fallbacks["a"], ["b"]);
        assert_eq!(p.context_window_fallbacks["a"], ["b"]);
        assert_eq!(p.default_fallbacks, ["b"]);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let b = &loaded.settings.deployments[1].limits;
        assert_eq!((b.weight, b.order, b.rpm), (Some(3.0), Some(2), Some(60)));
    }

    #[test]
    fn litellm_settings_retry_keys_apply_unless_router_settings_names_them() {
        let text = format!(
            "{MODELS}litellm_settings:\n  num_retries: 7\n  fallbacks: [{{a: [b]}}]\nrouter_settings:\n  num_retries: 1\n"
        );
        let loaded = parse_with_env(&text, &no_env).expect("valid");
        assert_eq!(loaded.settings.routing.num_retries, 1);
        assert_eq!(loaded.settings.routing.fallbacks["a"], ["b"]);
    }

    #[test]
    fn hedging_takes_milliseconds_or_p95() {
        let text = format!("{MODELS}router_settings:\n  hedging: {{a: 250, b: p95}}\n");
        let loaded = parse_with_env(&text, &no_env).expect("valid");
        let hedging = &loaded.settings.routing.hedging;
        assert_eq!(hedging["a"], Hedge::After(Duration::from_millis(250)));
        assert_eq!(hedging["b"], Hedge::P95);
        let bad = format!("{MODELS}router_settings:\n  hedging: {{a: soon}}\n");
        let err = parse_with_env(&bad, &no_env).expect_err("invalid");
        assert!(
            err.to_string().contains("router_settings.hedging.a"),
            "{err}"
        );
    }

    #[test]
    fn unknown_strategies_fail_and_unknown_groups_warn() {
        let bad = format!("{MODELS}router_settings:\n  routing_strategy: fastest\n");
        let err = parse_with_env(&bad, &no_env).expect_err("unknown strategy");
        assert!(
            err.to_string().contains("router_settings.routing_strategy"),
            "{err}"
        );
        let text = format!("{MODELS}router_settings:\n  fallbacks: [{{a: [zzz]}}]\n");
        let loaded = parse_with_env(&text, &no_env).expect("valid");
        assert_eq!(loaded.warnings[0].path, "router_settings.fallbacks[0].a[0]");
    }

    #[test]
    fn unknown_keys_inside_router_settings_are_warned_about() {
        let text = format!(
            "{MODELS}router_settings:\n  frobnicate: 1\nlitellm_settings:\n  drop_paramz: true\n"
        );
        let loaded = parse_with_env(&text, &no_env).expect("valid");
        let paths: Vec<_> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
        assert!(paths.contains(&"router_settings.frobnicate"), "{paths:?}");
        assert!(paths.contains(&"litellm_settings.drop_paramz"), "{paths:?}");
    }
}
