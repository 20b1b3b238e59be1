//! What a call may cost before it is sent, and whether the usage an upstream reports is
//! believable. The estimate is what a call reserves on its budgets ([`crate::storage`]): the
//! prompt counted from the request, the answer at its `max_tokens` or the model's output limit,
//! at the dearest price among the requested group's deployments. Reported usage beyond what the
//! model can take or produce is not charged as reported.

use switchyard_layers::cost::{Cost, ModelPrice, PriceCatalog, Tokens, cost_of_tokens};
use switchyard_router::WildcardRoute;
use switchyard_wire::{ChatRequest, EmbeddingInput};

use crate::state::{AppState, TokenLimits};

/// Output tokens assumed for a call that names no `max_tokens` on a model whose output limit is
/// unknown.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 4_096;

/// The most tokens one call is believed to use on a model whose limits are unknown: usage
/// reported beyond it is not charged as reported.
pub const UNKNOWN_MODEL_TOKEN_CEILING: u64 = 10_000_000;

/// A call's cost before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    /// US dollars to reserve: the most any deployment of the group would charge.
    pub usd: f64,
    /// Whether some deployment of the group has no price.
    pub unpriced: bool,
}

/// The output tokens a chat request asks for at most, if it says.
pub fn asked_output(request: &ChatRequest) -> Option<u64> {
    request
        .max_completion_tokens
        .or(request.max_tokens)
        .map(u64::from)
}

/// The estimate of a chat call to `group` whose prompt counts `prompt` tokens (as
/// `estimated_prompt_tokens` counts them) and that asks for at most `asked` output tokens.
pub fn chat(
    state: &AppState,
    group: &str,
    wildcard: Option<&WildcardRoute>,
    prompt: u64,
    asked: Option<u64>,
) -> Estimate {
    over_group(state, group, wildcard, |price, limits| {
        let output = asked.or(limits.output).unwrap_or(DEFAULT_OUTPUT_TOKENS);
        prompt_price(price) * prompt as f64 + price.output_per_token * output as f64
    })
}

/// The estimate of a call to `group` that uses `prompt` input tokens and generates none
/// (embeddings, moderations, images, audio, rerank).
pub fn prompt_only(
    state: &AppState,
    group: &str,
    wildcard: Option<&WildcardRoute>,
    prompt: u64,
) -> Estimate {
    over_group(state, group, wildcard, |price, _| {
        prompt_price(price) * prompt as f64
    })
}

/// Tokens of an embeddings input: a quarter of the characters of texts, the count of tokens.
pub fn embedding_tokens(input: &EmbeddingInput) -> u64 {
    let chars = |text: &String| text.chars().count() as u64;
    match input {
        EmbeddingInput::Text(text) => chars(text).div_ceil(4),
        EmbeddingInput::Texts(texts) => texts.iter().map(chars).sum::<u64>().div_ceil(4),
        EmbeddingInput::Tokens(tokens) => tokens.len() as u64,
        EmbeddingInput::TokenBatches(lists) => lists.iter().map(|l| l.len() as u64).sum(),
    }
}

/// A prompt token at its dearest (a prompt-cache write costs more than a plain input token).
fn prompt_price(price: &ModelPrice) -> f64 {
    price
        .input_per_token
        .max(price.cache_write_per_token.unwrap_or(0.0))
}

fn over_group(
    state: &AppState,
    group: &str,
    wildcard: Option<&WildcardRoute>,
    cost: impl Fn(&ModelPrice, TokenLimits) -> f64,
) -> Estimate {
    let mut estimate = Estimate::default();
    let Some(group) = state.router().groups().get(group) else {
        return estimate;
    };
    for deployment in group.deployments() {
        match state.price_on(deployment, wildcard) {
            Some(price) => {
                let usd = cost(&price, state.token_limits(&deployment.id));
                if usd.is_finite() && usd > estimate.usd {
                    estimate.usd = usd;
                }
            }
            None => estimate.unpriced = true,
        }
    }
    estimate
}

/// Turns what an upstream reported into a call's tokens and cost: usage the model cannot have
/// used is replaced by the gateway's own estimate (marked estimated, with a warning), and a
/// deployment with no price is priced by the model its answer names when the catalog knows it.
#[derive(Debug, Clone, Copy)]
pub struct Pricer {
    /// The deployment's price, if it has one.
    pub price: Option<ModelPrice>,
    /// Its model's token limits.
    pub limits: TokenLimits,
    /// What the call is taken to have used when the report is not believable.
    pub fallback: Tokens,
    /// Answered by the response cache: free.
    pub cache_hit: bool,
}

impl Pricer {
    /// The tokens and cost of a call whose upstream reported `reported` (itself `estimated`
    /// when counted locally), answered as `answered_model`.
    pub fn account(
        &self,
        reported: Tokens,
        estimated: bool,
        answered_model: Option<&str>,
    ) -> (Tokens, Option<Cost>) {
        if self.cache_hit {
            return (reported, Some(Cost::default()));
        }
        let (tokens, estimated) = match believable(reported, self.limits) {
            Some(tokens) => (tokens, estimated),
            None => {
                tracing::warn!(
                    prompt = reported.prompt,
                    completion = reported.completion,
                    "the upstream reported more tokens than the model can use; the call is \
                     charged at the gateway's estimate instead"
                );
                (self.fallback, true)
            }
        };
        let price = self.price.or_else(|| {
            let model = answered_model?;
            PriceCatalog::embedded().get(model).map(|entry| entry.price)
        });
        let cost = price.map(|price| cost_of_tokens(&price, tokens).estimated(estimated));
        (tokens, cost)
    }
}

/// `reported` when the model could have used that many tokens; otherwise `None`: the usage is
/// not believable (an upstream reporting 1e15 tokens) and must not be charged as reported.
pub fn believable(reported: Tokens, limits: TokenLimits) -> Option<Tokens> {
    let input_ceiling = limits.input.unwrap_or(UNKNOWN_MODEL_TOKEN_CEILING);
    let output_ceiling = limits.output.unwrap_or(UNKNOWN_MODEL_TOKEN_CEILING);
    let fits = reported.prompt <= input_ceiling
        && reported.completion <= output_ceiling
        && reported.cache_read <= reported.prompt
        && reported.cache_write <= reported.prompt;
    fits.then_some(reported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_beyond_the_models_limits_is_not_believed() {
        let limits = TokenLimits {
            input: Some(128_000),
            output: Some(16_384),
        };
        let normal = Tokens {
            prompt: 1_000,
            completion: 500,
            ..Tokens::default()
        };
        assert_eq!(believable(normal, limits), Some(normal));
        let absurd = Tokens {
            prompt: 1_000_000_000_000_000,
            ..normal
        };
        assert_eq!(believable(absurd, limits), None);
        let too_long = Tokens {
            completion: 16_385,
            ..normal
        };
        assert_eq!(believable(too_long, limits), None);
        // Unknown limits: only the generic ceiling applies.
        assert_eq!(believable(normal, TokenLimits::default()), Some(normal));
        assert_eq!(believable(absurd, TokenLimits::default()), None);
    }
}
