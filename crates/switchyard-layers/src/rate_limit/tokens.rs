//! Tokens a call is counted for: an estimate from the request before the call
//! ([`EstimateTokens`]), corrected from the usage the response reports after it ([`UsedTokens`]).

use switchyard_wire::{ChatMessage, ChatRequest, ChatResponse, MessageContent, Usage};

use super::backend::Correction;

/// How many tokens a request will use, told before the call. The estimate is counted against
/// tokens-per-minute limits when the call is admitted, then corrected by [`UsedTokens`].
pub trait EstimateTokens {
    /// The tokens the call is expected to use, prompt and completion together.
    fn estimated_tokens(&self) -> u64;
}

/// How many tokens a call used, read from its response.
///
/// When [`used_tokens`](Self::used_tokens) says, the difference to the estimate is credited or
/// debited at once. When it cannot say yet (a stream reports usage in its last chunk), the
/// response is handed a [`Correction`] through [`defer_correction`](Self::defer_correction) to
/// settle when the usage is known; the default drops it, and the estimate stands.
pub trait UsedTokens {
    /// The tokens the call used, if the response says.
    fn used_tokens(&self) -> Option<u64>;

    /// Keeps `correction` to [`settle`](Correction::settle) later, when the usage is known.
    fn defer_correction(&mut self, correction: Correction) {
        drop(correction);
    }
}

/// The completion budget assumed for a chat request that sets neither `max_completion_tokens`
/// nor `max_tokens`.
pub const DEFAULT_COMPLETION_TOKENS: u64 = 256;

/// About four characters of English text make a token, for the tokenizers of the major model
/// families; good enough for an estimate that is corrected after the call.
const CHARS_PER_TOKEN: u64 = 4;

impl EstimateTokens for ChatRequest {
    /// A quarter of the characters of the messages' text (tool call arguments included), plus the
    /// completion budget (`max_completion_tokens`, else `max_tokens`, else
    /// [`DEFAULT_COMPLETION_TOKENS`]) for each of the `n` choices.
    fn estimated_tokens(&self) -> u64 {
        let completion = self
            .max_completion_tokens
            .or(self.max_tokens)
            .map_or(DEFAULT_COMPLETION_TOKENS, u64::from);
        let choices = u64::from(self.n.unwrap_or(1).max(1));
        estimated_prompt_tokens(self).saturating_add(completion.saturating_mul(choices))
    }
}

/// The prompt tokens of a chat request, estimated: a quarter of the characters of the messages'
/// text, tool call arguments included.
pub fn estimated_prompt_tokens(request: &ChatRequest) -> u64 {
    let chars: u64 = request.messages.iter().map(message_chars).sum();
    chars.div_ceil(CHARS_PER_TOKEN)
}

fn message_chars(message: &ChatMessage) -> u64 {
    let content = match &message.content {
        None => 0,
        Some(MessageContent::Text(text)) => text.chars().count(),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter_map(|part| part.text.as_deref())
            .map(|text| text.chars().count())
            .sum(),
    };
    let calls: usize = message
        .tool_calls
        .iter()
        .flatten()
        .map(|call| call.function.arguments.chars().count())
        .sum();
    u64::try_from(content.saturating_add(calls)).unwrap_or(u64::MAX)
}

impl UsedTokens for Usage {
    fn used_tokens(&self) -> Option<u64> {
        Some(self.total_tokens)
    }
}

impl UsedTokens for ChatResponse {
    fn used_tokens(&self) -> Option<u64> {
        self.usage.as_ref().map(|usage| usage.total_tokens)
    }
}

/// An HTTP answer tells its usage through a [`Usage`] extension, set by whoever parsed the body.
/// Without one (a stream), the [`Correction`] goes into the response's extensions, where the code
/// that sees the stream's final usage chunk takes it and settles it.
impl<B> UsedTokens for http::Response<B> {
    fn used_tokens(&self) -> Option<u64> {
        self.extensions()
            .get::<Usage>()
            .map(|usage| usage.total_tokens)
    }

    fn defer_correction(&mut self, correction: Correction) {
        self.extensions_mut().insert(correction);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: serde_json::Value) -> ChatRequest {
        serde_json::from_value(body).expect("a chat request")
    }

    #[test]
    fn estimates_a_quarter_of_the_characters_plus_the_completion_budget() {
        let req = request(json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "abcd"},
                {"role": "user", "content": [
                    {"type": "text", "text": "éééé"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                ]},
                {"role": "assistant", "tool_calls": [
                    {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ]}
            ],
            "max_tokens": 100
        }));
        // 4 + 4 + 2 characters -> 3 tokens (rounded up), plus 100.
        assert_eq!(req.estimated_tokens(), 103);
    }

    #[test]
    fn max_completion_tokens_wins_and_choices_multiply_the_budget() {
        let req = request(json!({
            "model": "m", "messages": [], "max_tokens": 100, "max_completion_tokens": 40, "n": 3
        }));
        assert_eq!(req.estimated_tokens(), 120);
        let req = request(json!({"model": "m", "messages": []}));
        assert_eq!(req.estimated_tokens(), DEFAULT_COMPLETION_TOKENS);
    }

    #[test]
    fn responses_report_their_usage() {
        assert_eq!(Usage::new(10, 5).used_tokens(), Some(15));
        let mut response = http::Response::new(());
        assert_eq!(response.used_tokens(), None);
        response.extensions_mut().insert(Usage::new(1, 2));
        assert_eq!(response.used_tokens(), Some(3));
    }
}
