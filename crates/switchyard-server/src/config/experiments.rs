//! `experiments` validated into the router's [`Experiment`]s: variants must name configured
//! model groups, weights must be usable, names unique.

use switchyard_router::{Experiment, StickyBy, Variant};

use super::ConfigError;
use super::file::ExperimentEntry;
use super::settings::DeploymentSettings;

/// Validates every experiment against the configured model groups.
pub fn experiments(
    entries: Vec<ExperimentEntry>,
    deployments: &[DeploymentSettings],
) -> Result<Vec<Experiment>, ConfigError> {
    let is_group = |name: &str| deployments.iter().any(|d| d.model_name == name);
    let mut out: Vec<Experiment> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("experiments[{i}]");
        if out.iter().any(|e| e.name == entry.name) {
            return Err(ConfigError::invalid(
                format!("{path}.name"),
                format!("another experiment is named `{}`", entry.name),
            ));
        }
        if is_group(&entry.model) || out.iter().any(|e| e.model == entry.model) {
            return Err(ConfigError::invalid(
                format!("{path}.model"),
                format!(
                    "`{}` is already a model group or another experiment's model; give the experiment a name of its own",
                    entry.model
                ),
            ));
        }
        let sticky_by = match entry.sticky_by.as_deref() {
            None | Some("user") => StickyBy::User,
            Some(other) => match other.strip_prefix("header:") {
                Some(header) if !header.trim().is_empty() => {
                    StickyBy::Header(header.trim().to_ascii_lowercase())
                }
                _ => {
                    return Err(ConfigError::invalid(
                        format!("{path}.sticky_by"),
                        format!("`{other}` is neither `user` nor `header:<name>`"),
                    ));
                }
            },
        };
        if entry.variants.is_empty() {
            return Err(ConfigError::invalid(
                format!("{path}.variants"),
                "needs at least one variant",
            ));
        }
        let mut variants = Vec::with_capacity(entry.variants.len());
        for (j, v) in entry.variants.into_iter().enumerate() {
            let at = format!("{path}.variants[{j}]");
            if !is_group(&v.model) {
                return Err(ConfigError::invalid(
                    format!("{at}.model"),
                    format!("no model group is named `{}`", v.model),
                ));
            }
            let weight = v.weight.unwrap_or(1.0);
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(ConfigError::invalid(
                    format!("{at}.weight"),
                    format!("must be a number >= 0, not {weight}"),
                ));
            }
            variants.push(Variant {
                name: v.name,
                model: v.model,
                weight,
            });
        }
        if variants.iter().map(|v| v.weight).sum::<f64>() <= 0.0 {
            return Err(ConfigError::invalid(
                format!("{path}.variants"),
                "the weights add up to zero",
            ));
        }
        out.push(Experiment {
            name: entry.name,
            model: entry.model,
            sticky_by,
            variants,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::parse_with_env;
    use super::*;

    const MODELS: &str = "model_list:\n  - {model_name: a, litellm_params: {model: mock/a}}\n  - {model_name: b, litellm_params: {model: mock/b}}\n";

    fn load(experiments: &str) -> Result<Vec<Experiment>, ConfigError> {
        let text = format!("{MODELS}experiments:\n{experiments}");
        parse_with_env(&text, &|_| None).map(|l| l.settings.experiments)
    }

    #[test]
    fn experiments_load_with_their_variants_and_sticky_key() {
        let e = load("  - name: t\n    model: summarizer\n    sticky_by: 'header:X-User-Id'\n    variants:\n      - {name: control, model: a, weight: 9}\n      - {name: candidate, model: b}\n")
            .expect("valid");
        assert_eq!(e[0].sticky_by, StickyBy::Header("x-user-id".to_owned()));
        assert_eq!(e[0].variants[1].weight, 1.0);
    }

    #[test]
    fn bad_experiments_fail_with_their_path() {
        let cases = [
            (
                "  - {name: t, model: s, variants: [{name: x, model: nope}]}\n",
                "experiments[0].variants[0].model",
            ),
            (
                "  - {name: t, model: a, variants: [{name: x, model: b}]}\n",
                "experiments[0].model",
            ),
            (
                "  - {name: t, model: s, sticky_by: cookie, variants: [{name: x, model: b}]}\n",
                "experiments[0].sticky_by",
            ),
            (
                "  - {name: t, model: s, variants: [{name: x, model: b, weight: 0}]}\n",
                "experiments[0].variants",
            ),
        ];
        for (text, expected) in cases {
            let err = load(text).expect_err(text);
            let ConfigError::Invalid { path, .. } = &err else {
                panic!("{err}")
            };
            assert_eq!(path, expected, "{text}");
        }
    }
}
