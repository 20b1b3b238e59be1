//! The price of one model per token, the tokens one call used, and the arithmetic between them.

use switchyard_wire::Usage;

/// What one model charges, in US dollars per token.
///
/// A price the source does not give is 0 for input and output (LiteLLM lists a few embedding
/// models without an output price, and a few video models without an input price), and `None` for
/// the cache prices, which then fall back to the input price.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ModelPrice {
    /// Price of a prompt token that is neither read from nor written to a prompt cache.
    pub input_per_token: f64,
    /// Price of a generated token.
    pub output_per_token: f64,
    /// Price of a prompt token read from the provider's prompt cache, when the provider discounts
    /// them.
    pub cache_read_per_token: Option<f64>,
    /// Price of a prompt token written to the provider's prompt cache (Anthropic charges a premium).
    pub cache_write_per_token: Option<f64>,
}

/// The tokens of one call, as far as pricing cares.
///
/// `cache_read` and `cache_write` are parts of `prompt`, the way OpenAI counts cached tokens inside
/// `prompt_tokens` and the way the Anthropic adapter adds Anthropic's separate counts into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    /// All prompt tokens, cached ones included.
    pub prompt: u64,
    /// Generated tokens.
    pub completion: u64,
    /// Of `prompt`, the tokens read from the provider's prompt cache.
    pub cache_read: u64,
    /// Of `prompt`, the tokens written to the provider's prompt cache (Anthropic's
    /// `cache_creation_input_tokens`).
    pub cache_write: u64,
}

impl Tokens {
    /// The same counts, with `cache_write` of the prompt tokens written to the prompt cache.
    ///
    /// The OpenAI-shaped [`Usage`] carries them in LiteLLM's `cache_creation_input_tokens`
    /// (read by `From<&Usage>`); this is for counts gathered elsewhere.
    pub fn with_cache_write(self, cache_write: u64) -> Self {
        Self {
            cache_write,
            ..self
        }
    }
}

impl From<&Usage> for Tokens {
    fn from(usage: &Usage) -> Self {
        Self {
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
            cache_read: usage
                .prompt_tokens_details
                .as_ref()
                .and_then(|details| details.cached_tokens)
                .unwrap_or(0),
            cache_write: usage.cache_creation_input_tokens.unwrap_or(0),
        }
    }
}

/// Decimal places a cost is rounded to: the finest price in the catalog is given to 12 places
/// (`data/prices.json`; a few prices there carry binary noise beyond that, such as
/// `5.0000000000000004e-08`), and a whole number of tokens at such a price needs no more.
pub const USD_DECIMALS: i32 = 12;

/// What one call cost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    /// US dollars, rounded to [`USD_DECIMALS`] places: the sum of token prices in binary
    /// floating point drifts (10 x 1e-6 + 5 x 2e-6 sums to 5.999999999999999e-06 where the
    /// exact cost is 0.000006), and every place that shows a cost (headers, span, access log,
    /// spend record) shows this one number, which prints as the exact decimal.
    pub usd: f64,
    /// Whether the token counts behind it were estimated (the upstream reported no usage) rather
    /// than reported. [`cost_of`] leaves it `false`; the caller that estimated the usage sets it.
    pub estimated: bool,
}

impl Cost {
    /// The same cost, marked estimated or not.
    pub fn estimated(self, estimated: bool) -> Self {
        Self { estimated, ..self }
    }
}

/// What a call with `usage` costs at `price`.
///
/// Cached prompt tokens (`prompt_tokens_details.cached_tokens`) are charged at the cache-read price
/// when the model has one, and the rest of the prompt at the input price. To charge tokens written
/// to the cache at the cache-write price, build [`Tokens`] and call [`cost_of_tokens`].
pub fn cost_of(price: &ModelPrice, usage: &Usage) -> Cost {
    cost_of_tokens(price, Tokens::from(usage))
}

/// What a call that used `tokens` costs at `price`.
///
/// Counts that do not add up (more cached tokens than prompt tokens, from a confused upstream) are
/// charged as reported for the cache and never below zero for the rest.
pub fn cost_of_tokens(price: &ModelPrice, tokens: Tokens) -> Cost {
    let full_price = tokens
        .prompt
        .saturating_sub(tokens.cache_read)
        .saturating_sub(tokens.cache_write);
    let cache_read_price = price.cache_read_per_token.unwrap_or(price.input_per_token);
    let cache_write_price = price.cache_write_per_token.unwrap_or(price.input_per_token);
    // Token counts stay far below 2^53, so the conversions to f64 are exact.
    let usd = full_price as f64 * price.input_per_token
        + tokens.cache_read as f64 * cache_read_price
        + tokens.cache_write as f64 * cache_write_price
        + tokens.completion as f64 * price.output_per_token;
    Cost {
        usd: round_usd(usd),
        estimated: false,
    }
}

/// `usd` rounded to [`USD_DECIMALS`] places (the nearest `f64` to that decimal). Amounts too
/// large to scale exactly (over about $9,000, where `f64` has fewer places anyway) are kept.
pub fn round_usd(usd: f64) -> f64 {
    let scale = 10f64.powi(USD_DECIMALS);
    let scaled = usd * scale;
    if scaled.is_finite() && scaled.abs() < 2f64.powi(53) {
        scaled.round() / scale
    } else {
        usd
    }
}

#[cfg(test)]
mod tests {
    use switchyard_wire::PromptTokensDetails;

    use super::*;

    /// Claude Sonnet 4.5 as LiteLLM 1.106.12 lists it (`claude-sonnet-4-5`).
    const SONNET: ModelPrice = ModelPrice {
        input_per_token: 3e-6,
        output_per_token: 1.5e-5,
        cache_read_per_token: Some(3e-7),
        cache_write_per_token: Some(3.75e-6),
    };

    fn usage_with_cached(prompt: u64, completion: u64, cached: u64) -> Usage {
        Usage {
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(cached),
                ..PromptTokensDetails::default()
            }),
            ..Usage::new(prompt, completion)
        }
    }

    #[test]
    fn charges_prompt_and_completion_at_their_prices() {
        let cost = cost_of(&SONNET, &Usage::new(1_000, 250));
        // 1,000 x 3e-6 + 250 x 1.5e-5, exactly.
        assert_eq!(cost.usd, 0.00675);
        assert!(!cost.estimated);
    }

    #[test]
    fn cached_prompt_tokens_are_charged_at_the_cache_read_price() {
        let cost = cost_of(&SONNET, &usage_with_cached(10_000, 100, 8_000));
        // 2,000 x 3e-6 + 8,000 x 3e-7 + 100 x 1.5e-5.
        assert_eq!(cost.usd, 0.0099);
        assert!(cost.usd < cost_of(&SONNET, &Usage::new(10_000, 100)).usd);
    }

    #[test]
    fn cached_tokens_cost_the_input_price_without_a_cache_read_price() {
        let price = ModelPrice {
            cache_read_per_token: None,
            ..SONNET
        };
        let cost = cost_of(&price, &usage_with_cached(10_000, 100, 8_000));
        // 2,000 x 3e-6 + 8,000 x 3e-6 + 100 x 1.5e-5.
        assert_eq!(cost.usd, 0.0315);
    }

    // LiteLLM's usage object carries Anthropic's cache writes as `cache_creation_input_tokens`
    // (https://docs.litellm.ai/docs/completion/prompt_caching): read from the usage itself, so
    // a stream's usage chunk is priced like a complete answer.
    #[test]
    fn usage_with_cache_creation_prices_the_writes_at_their_rate() {
        let mut usage = usage_with_cached(6_500, 300, 4_000);
        usage.cache_creation_input_tokens = Some(2_000);
        let tokens = Tokens::from(&usage);
        assert_eq!(
            tokens,
            Tokens::from(&usage_with_cached(6_500, 300, 4_000)).with_cache_write(2_000)
        );
        // 500 x 3e-6 + 4,000 x 3e-7 + 2,000 x 3.75e-6 + 300 x 1.5e-5.
        assert_eq!(cost_of(&SONNET, &usage).usd, 0.0147);
    }

    #[test]
    fn cache_writes_are_charged_at_the_cache_write_price() {
        // Anthropic: 500 fresh input tokens, 4,000 read from the cache, 2,000 written to it.
        let usage = usage_with_cached(6_500, 300, 4_000);
        let tokens = Tokens::from(&usage).with_cache_write(2_000);
        let cost = cost_of_tokens(&SONNET, tokens);
        // 500 x 3e-6 + 4,000 x 3e-7 + 2,000 x 3.75e-6 + 300 x 1.5e-5.
        assert_eq!(cost.usd, 0.0147);

        let no_write_price = ModelPrice {
            cache_write_per_token: None,
            ..SONNET
        };
        // 500 x 3e-6 + 4,000 x 3e-7 + 2,000 x 3e-6 + 300 x 1.5e-5.
        assert_eq!(cost_of_tokens(&no_write_price, tokens).usd, 0.0132);
    }

    #[test]
    fn inconsistent_counts_never_go_negative() {
        let cost = cost_of(&SONNET, &usage_with_cached(100, 0, 150));
        assert_eq!(cost.usd, 0.000045, "150 x 3e-7");
    }

    #[test]
    fn no_tokens_cost_nothing() {
        assert_eq!(cost_of(&SONNET, &Usage::default()), Cost::default());
    }

    #[test]
    fn costs_are_the_exact_decimal_not_the_float_drift() {
        let price = ModelPrice {
            input_per_token: 1e-6,
            output_per_token: 2e-6,
            ..ModelPrice::default()
        };
        let drifted = 10.0 * 1e-6 + 5.0 * 2e-6;
        assert_ne!(drifted, 0.00002, "the sum this guards against");
        let cost = cost_of(&price, &Usage::new(10, 5));
        assert_eq!(cost.usd, 0.00002);
        assert_eq!(cost.usd.to_string(), "0.00002");
        let cost = cost_of(&price, &Usage::new(6, 0));
        assert_eq!(cost.usd.to_string(), "0.000006");
    }

    #[test]
    fn rounding_keeps_twelve_places_and_leaves_huge_amounts() {
        assert_eq!(round_usd(1.23456e-10), 1.23e-10);
        assert_eq!(round_usd(1.0000000000004), 1.0);
        assert_eq!(round_usd(1e20), 1e20);
        assert!(round_usd(f64::NAN).is_nan());
    }
}
