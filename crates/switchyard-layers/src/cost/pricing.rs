//! Which price a deployment pays: the one its configuration states, else the catalog's, else none.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::catalog::PriceCatalog;
use super::error::{InvalidPrice, check_price};
use super::price::ModelPrice;

/// A deployment's own prices, under LiteLLM's keys (`model_info` or `litellm_params`), for
/// negotiated rates, self-hosted models, or models the catalog does not know yet.
///
/// Each key given replaces the catalog's value for that key alone. Unknown keys are left to the
/// surrounding configuration type, so this can be flattened into one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PriceOverride {
    /// US dollars per prompt token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// US dollars per generated token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// US dollars per prompt token read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_token_cost: Option<f64>,
    /// US dollars per prompt token written to the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_token_cost: Option<f64>,
}

impl PriceOverride {
    /// Whether the override states no price at all.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// `base` with every price this override states put over it.
    fn apply(&self, base: ModelPrice) -> Result<ModelPrice, InvalidPrice> {
        let price = |field, value: Option<f64>| value.map(|v| check_price(field, v)).transpose();
        Ok(ModelPrice {
            input_per_token: price("input_cost_per_token", self.input_cost_per_token)?
                .unwrap_or(base.input_per_token),
            output_per_token: price("output_cost_per_token", self.output_cost_per_token)?
                .unwrap_or(base.output_per_token),
            cache_read_per_token: price(
                "cache_read_input_token_cost",
                self.cache_read_input_token_cost,
            )?
            .or(base.cache_read_per_token),
            cache_write_per_token: price(
                "cache_creation_input_token_cost",
                self.cache_creation_input_token_cost,
            )?
            .or(base.cache_write_per_token),
        })
    }
}

/// How one deployment is priced, resolved once when the configuration is loaded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pricing {
    /// The deployment's configuration states its price (over the catalog's, where the catalog
    /// knows the model).
    Configured(ModelPrice),
    /// The catalog's list price.
    Catalog(ModelPrice),
    /// Neither the configuration nor the catalog prices the model: its calls have no known cost.
    Unknown,
}

impl Pricing {
    /// The price of `model` (as the deployment names it upstream, `provider/model`), with the
    /// deployment's `price_override` over the `catalog`'s entry.
    ///
    /// An override stands on its own, without a catalog entry, when it states an input or an
    /// output price (the other then being 0); cache prices alone only amend a catalog entry.
    ///
    /// # Errors
    ///
    /// A configured price that is negative, infinite or not a number.
    pub fn resolve(
        model: &str,
        price_override: Option<&PriceOverride>,
        catalog: &PriceCatalog,
    ) -> Result<Self, InvalidPrice> {
        let listed = catalog.get(model).map(|entry| entry.price);
        let Some(price_override) = price_override.filter(|o| !o.is_empty()) else {
            return Ok(listed.map_or(Self::Unknown, Self::Catalog));
        };
        let stands_alone = price_override.input_cost_per_token.is_some()
            || price_override.output_cost_per_token.is_some();
        let base = match listed {
            Some(listed) => listed,
            None if stands_alone => ModelPrice::default(),
            None => {
                // Still reject a bad value, even though it changes nothing here.
                price_override.apply(ModelPrice::default())?;
                return Ok(Self::Unknown);
            }
        };
        price_override.apply(base).map(Self::Configured)
    }

    /// The price, unless the model has none.
    pub fn price(&self) -> Option<&ModelPrice> {
        match self {
            Self::Configured(price) | Self::Catalog(price) => Some(price),
            Self::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use switchyard_wire::{PromptTokensDetails, Usage};

    use super::*;
    use crate::cost::{Mode, cost_of, round_usd};

    fn embedded(model: &str) -> Pricing {
        Pricing::resolve(model, None, PriceCatalog::embedded()).expect("no override")
    }

    /// Known models, their prices copied from LiteLLM 1.106.12's
    /// `model_prices_and_context_window_backup.json` (input, output, cache read per token).
    #[test]
    fn known_models_cost_tokens_times_their_list_price() {
        /// Model, provider, mode, input, output and cache-read prices per token.
        type Listed = (&'static str, &'static str, Mode, f64, f64, Option<f64>);
        #[rustfmt::skip]
        let table: &[Listed] = &[
            ("gpt-4o-mini", "openai", Mode::Chat, 1.5e-07, 6e-07, Some(7.5e-08)),
            ("openai/gpt-4o", "openai", Mode::Chat, 2.5e-06, 1e-05, Some(1.25e-06)),
            ("azure/gpt-4o-mini", "azure", Mode::Chat, 1.5e-07, 6e-07, Some(7.5e-08)),
            ("anthropic/claude-sonnet-4-5", "anthropic", Mode::Chat, 3e-06, 1.5e-05, Some(3e-07)),
            ("claude-opus-4-5", "anthropic", Mode::Chat, 5e-06, 2.5e-05, Some(5e-07)),
            ("gemini/gemini-2.5-flash", "gemini", Mode::Chat, 3e-07, 2.5e-06, Some(3e-08)),
            ("gemini/gemini-2.5-pro", "gemini", Mode::Chat, 1.25e-06, 1e-05, Some(1.25e-07)),
            ("groq/openai/gpt-oss-120b", "groq", Mode::Chat, 1.5e-07, 6e-07, Some(7.5e-08)),
            ("mistral/mistral-large-latest", "mistral", Mode::Chat, 5e-07, 1.5e-06, Some(5e-08)),
            ("deepseek/deepseek-chat", "deepseek", Mode::Chat, 2.8e-07, 4.2e-07, Some(2.8e-08)),
            ("o3-mini", "openai", Mode::Chat, 1.1e-06, 4.4e-06, Some(5.5e-07)),
            ("text-embedding-3-small", "openai", Mode::Embedding, 2e-08, 0.0, None),
        ];
        let catalog = PriceCatalog::embedded();
        for &(model, provider, mode, input, output, cache_read) in table {
            let entry = catalog
                .get(model)
                .unwrap_or_else(|| panic!("{model} is listed"));
            assert_eq!(
                (entry.provider.as_str(), entry.mode),
                (provider, mode),
                "{model}"
            );
            assert_eq!(entry.price.cache_read_per_token, cache_read, "{model}");
            let price = *embedded(model).price().expect("priced");
            for (prompt, completion) in [(0, 0), (1, 1), (1_234, 567), (120_000, 16_000)] {
                let cost = cost_of(&price, &Usage::new(prompt, completion));
                let expected = round_usd(prompt as f64 * input + completion as f64 * output);
                assert_eq!(cost.usd, expected, "{model} {prompt}+{completion}");
            }
            if let Some(cache_read) = cache_read {
                let usage = Usage {
                    prompt_tokens_details: Some(PromptTokensDetails {
                        cached_tokens: Some(1_000),
                        ..PromptTokensDetails::default()
                    }),
                    ..Usage::new(1_500, 100)
                };
                let expected = round_usd(500.0 * input + 1_000.0 * cache_read + 100.0 * output);
                assert_eq!(cost_of(&price, &usage).usd, expected, "{model} cached");
            }
        }
    }

    #[test]
    fn catalog_prices_apply_without_an_override() {
        let empty = PriceOverride::default();
        let with_empty = Pricing::resolve("gpt-4o", Some(&empty), PriceCatalog::embedded());
        assert_eq!(with_empty, Ok(embedded("gpt-4o")));
        assert!(matches!(embedded("gpt-4o"), Pricing::Catalog(_)));
    }

    #[test]
    fn an_override_takes_precedence_key_by_key() {
        let negotiated = PriceOverride {
            input_cost_per_token: Some(1e-6),
            ..PriceOverride::default()
        };
        let pricing = Pricing::resolve("gpt-4o", Some(&negotiated), PriceCatalog::embedded());
        let expected = ModelPrice {
            input_per_token: 1e-6,
            output_per_token: 1e-05,
            cache_read_per_token: Some(1.25e-06),
            cache_write_per_token: None,
        };
        assert_eq!(pricing, Ok(Pricing::Configured(expected)));
    }

    #[test]
    fn an_override_prices_a_model_the_catalog_does_not_know() {
        let self_hosted = PriceOverride {
            input_cost_per_token: Some(0.0),
            output_cost_per_token: Some(2e-7),
            ..PriceOverride::default()
        };
        let catalog = PriceCatalog::embedded();
        let pricing = Pricing::resolve("hosted_vllm/my-llama", Some(&self_hosted), catalog);
        let price = ModelPrice {
            output_per_token: 2e-7,
            ..ModelPrice::default()
        };
        assert_eq!(pricing, Ok(Pricing::Configured(price)));
        let cost = cost_of(&price, &Usage::new(1_000, 10));
        assert_eq!(cost.usd, 10.0 * 2e-7);

        let cache_only = PriceOverride {
            cache_read_input_token_cost: Some(1e-8),
            ..PriceOverride::default()
        };
        let pricing = Pricing::resolve("hosted_vllm/my-llama", Some(&cache_only), catalog);
        assert_eq!(pricing, Ok(Pricing::Unknown));
    }

    #[test]
    fn unknown_models_have_no_price() {
        let pricing = embedded("my-company/secret-model");
        assert_eq!(pricing, Pricing::Unknown);
        assert_eq!(pricing.price(), None);
    }

    #[test]
    fn rejects_invalid_configured_prices() {
        let catalog = PriceCatalog::embedded();
        for model in ["gpt-4o", "no-such-model"] {
            let negative = PriceOverride {
                cache_read_input_token_cost: Some(-1e-6),
                ..PriceOverride::default()
            };
            let err = Pricing::resolve(model, Some(&negative), catalog).expect_err("negative");
            assert_eq!(err.field, "cache_read_input_token_cost");
        }
    }

    #[test]
    fn reads_litellm_keys() {
        let yaml_like = serde_json::json!({
            "input_cost_per_token": 1e-6,
            "output_cost_per_token": 2e-6,
            "cache_read_input_token_cost": 1e-7,
            "cache_creation_input_token_cost": 1.25e-6,
        });
        let parsed: PriceOverride = serde_json::from_value(yaml_like).expect("parses");
        assert_eq!(parsed.cache_creation_input_token_cost, Some(1.25e-6));
        let none: PriceOverride = serde_json::from_value(serde_json::json!({})).expect("parses");
        assert!(none.is_empty());
    }
}
