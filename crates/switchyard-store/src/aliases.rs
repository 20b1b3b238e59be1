//! [`ModelAliases`]: the model names a key (LiteLLM's `aliases`) or a team (its
//! `model_aliases`) answers under another model's name. Plain data, checked when read: every
//! alias and every target is a non-empty string.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Model names a caller may ask for, each with the model (a group, or a config alias) that
/// serves it: `{"gpt-4": "gpt-3.5-turbo"}` has a call for `gpt-4` served by `gpt-3.5-turbo`.
///
/// Read from JSON, every value must be a model name (a non-empty string); anything else is
/// refused with a message that says which alias is wrong. Kept in name order, so that stored
/// text and answers are stable.
///
/// ```
/// let aliases: switchyard_store::ModelAliases =
///     serde_json::from_str(r#"{"gpt-4": "gpt-3.5-turbo"}"#).expect("a map of names");
/// assert_eq!(aliases.target("gpt-4"), Some("gpt-3.5-turbo"));
/// assert!(serde_json::from_str::<switchyard_store::ModelAliases>(r#"{"gpt-4": 4}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ModelAliases(BTreeMap<String, String>);

impl ModelAliases {
    /// No aliases.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model `model` is an alias of, when it is one.
    pub fn target(&self, model: &str) -> Option<&str> {
        self.0.get(model).map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Each alias with its target, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(alias, target)| (alias.as_str(), target.as_str()))
    }

    /// These aliases with `over`'s laid on top: where both name the same alias, `over`'s
    /// target wins.
    pub fn overlaid_with(&self, over: &Self) -> Self {
        let mut merged = self.0.clone();
        merged.extend(over.0.iter().map(|(a, t)| (a.clone(), t.clone())));
        Self(merged)
    }
}

impl<A: Into<String>, T: Into<String>> FromIterator<(A, T)> for ModelAliases {
    fn from_iter<I: IntoIterator<Item = (A, T)>>(pairs: I) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(alias, target)| (alias.into(), target.into()))
                .collect(),
        )
    }
}

impl<'de> Deserialize<'de> for ModelAliases {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(AliasesVisitor)
    }
}

struct AliasesVisitor;

impl<'de> Visitor<'de> for AliasesVisitor {
    type Value = ModelAliases;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object mapping model names to model names")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<ModelAliases, M::Error> {
        let mut aliases = BTreeMap::new();
        while let Some(alias) = map.next_key::<String>()? {
            let target = map.next_value::<serde_json::Value>()?;
            let serde_json::Value::String(target) = target else {
                return Err(serde::de::Error::custom(format!(
                    "the alias `{alias}` must map to a model name (a string), not {target}"
                )));
            };
            if alias.trim().is_empty() || target.trim().is_empty() {
                return Err(serde::de::Error::custom(
                    "an alias and the model it maps to must both be non-empty names",
                ));
            }
            aliases.insert(alias, target);
        }
        Ok(ModelAliases(aliases))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_maps_of_names_are_read() {
        let aliases: ModelAliases =
            serde_json::from_str(r#"{"b": "target-b", "a": "target-a"}"#).expect("names");
        assert_eq!(aliases.len(), 2);
        assert_eq!(aliases.target("a"), Some("target-a"));
        assert_eq!(aliases.target("target-a"), None, "one way only");
        assert_eq!(
            serde_json::to_string(&aliases).expect("serializes"),
            r#"{"a":"target-a","b":"target-b"}"#,
            "in name order"
        );
        for bad in [
            r#"{"gpt-4": 4}"#,
            r#"{"gpt-4": null}"#,
            r#"{"gpt-4": ["x"]}"#,
            r#"{"gpt-4": {"model": "x"}}"#,
            r#"{"gpt-4": ""}"#,
            r#"{"": "x"}"#,
            r#"["gpt-4"]"#,
            r#""gpt-4""#,
        ] {
            let err = serde_json::from_str::<ModelAliases>(bad).expect_err(bad);
            assert!(!err.to_string().is_empty());
        }
        let err = serde_json::from_str::<ModelAliases>(r#"{"gpt-4": 4}"#).expect_err("a number");
        assert!(err.to_string().contains("`gpt-4`"), "{err}");
    }

    #[test]
    fn the_overlay_wins_where_both_name_an_alias() {
        let team: ModelAliases = [("a", "team-a"), ("b", "team-b")].into_iter().collect();
        let key: ModelAliases = [("b", "key-b"), ("c", "key-c")].into_iter().collect();
        let merged = team.overlaid_with(&key);
        assert_eq!(merged.target("a"), Some("team-a"));
        assert_eq!(merged.target("b"), Some("key-b"));
        assert_eq!(merged.target("c"), Some("key-c"));
        assert!(
            ModelAliases::new()
                .overlaid_with(&ModelAliases::new())
                .is_empty()
        );
    }
}
