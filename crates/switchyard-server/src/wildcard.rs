//! Model names served by wildcard groups, as LiteLLM's `model_name: "openai/*"` deployments
//! serve them (<https://docs.litellm.ai/docs/wildcard_routing>): a request for a model no
//! group is named after goes to the most specific group whose pattern matches it, and the
//! part the `*` stood for becomes the upstream model (`openai/gpt-4o` on `openai/*` asks the
//! upstream for `gpt-4o`; `claude-3-5-haiku` on `claude-*` with `model: anthropic/claude-*`
//! asks Anthropic for `claude-3-5-haiku`).
//!
//! A `model: "*"` deployment (any model, the provider found from its name) is configured as
//! one `{provider}/*` group per provider with credentials in the environment; a request for a
//! bare name (`gpt-4o`, `claude-3-5-haiku`) is tried against them by the provider the price
//! catalog lists for it.

use switchyard_layers::cost::PriceCatalog;
use switchyard_router::WildcardRoute;

/// A wildcard group's pattern: the text before and after its `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    group: String,
    prefix: String,
    suffix: String,
}

/// The wildcard groups, most specific first.
#[derive(Debug, Clone, Default)]
pub struct Wildcards {
    patterns: Vec<Pattern>,
    infer_provider: bool,
}

impl Wildcards {
    /// The groups among `groups` whose names hold a `*`; `infer_provider` tries bare names
    /// as `{provider}/{name}` too (a `model: "*"` deployment was configured).
    pub fn new<'a>(groups: impl IntoIterator<Item = &'a str>, infer_provider: bool) -> Self {
        let mut patterns: Vec<Pattern> = groups
            .into_iter()
            .filter_map(|group| {
                let (prefix, suffix) = group.split_once('*')?;
                Some(Pattern {
                    group: group.to_owned(),
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                })
            })
            .collect();
        // The longest literal text wins: `openai/gpt-4*` before `openai/*` before `*`.
        patterns.sort_by_key(|p| std::cmp::Reverse(p.prefix.len() + p.suffix.len()));
        Self {
            patterns,
            infer_provider,
        }
    }

    /// Whether there is any wildcard group.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The group that serves `model`, when one's pattern matches it.
    pub fn resolve(&self, model: &str) -> Option<WildcardRoute> {
        if let Some(found) = self.matching(model) {
            return Some(found);
        }
        if !self.infer_provider || model.contains('/') {
            return None;
        }
        let provider = &PriceCatalog::embedded().get(model)?.provider;
        self.matching(&format!("{provider}/{model}"))
    }

    fn matching(&self, model: &str) -> Option<WildcardRoute> {
        self.patterns.iter().find_map(|p| {
            let rest = model.strip_prefix(p.prefix.as_str())?;
            let capture = rest.strip_suffix(p.suffix.as_str())?;
            (!capture.is_empty()).then(|| WildcardRoute {
                group: p.group.clone(),
                capture: capture.to_owned(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(w: &Wildcards, model: &str) -> Option<(String, String)> {
        w.resolve(model).map(|r| (r.group, r.capture))
    }

    #[test]
    fn the_most_specific_pattern_wins_and_captures_the_rest() {
        let w = Wildcards::new(["*", "openai/*", "openai/gpt-4*", "plain"], false);
        assert_eq!(
            resolve(&w, "openai/gpt-4o"),
            Some(("openai/gpt-4*".into(), "o".into()))
        );
        assert_eq!(
            resolve(&w, "openai/o3"),
            Some(("openai/*".into(), "o3".into()))
        );
        assert_eq!(
            resolve(&w, "anything"),
            Some(("*".into(), "anything".into()))
        );
    }

    #[test]
    fn no_pattern_no_match_and_an_empty_capture_is_no_match() {
        let w = Wildcards::new(["anthropic/*"], false);
        assert_eq!(resolve(&w, "openai/gpt-4o"), None);
        assert_eq!(resolve(&w, "anthropic/"), None);
        assert!(Wildcards::new(["a", "b"], false).is_empty());
    }

    #[test]
    fn bare_names_find_their_provider_in_the_catalog_when_asked_to() {
        let w = Wildcards::new(["openai/*", "anthropic/*"], true);
        assert_eq!(
            resolve(&w, "gpt-4o-mini"),
            Some(("openai/*".into(), "gpt-4o-mini".into()))
        );
        let strict = Wildcards::new(["openai/*"], false);
        assert_eq!(resolve(&strict, "gpt-4o-mini"), None);
        assert_eq!(resolve(&w, "no-such-model-anywhere"), None);
    }

    #[test]
    fn the_capture_takes_the_place_of_the_star() {
        let route = |capture: &str| WildcardRoute {
            group: "g".into(),
            capture: capture.into(),
        };
        assert_eq!(
            route("gpt-4o").upstream_model("*").as_deref(),
            Some("gpt-4o")
        );
        assert_eq!(
            route("3-5-haiku").upstream_model("claude-*").as_deref(),
            Some("claude-3-5-haiku")
        );
        assert_eq!(route("x").upstream_model("fixed"), None);
    }
}
