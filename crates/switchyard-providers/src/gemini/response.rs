//! Gemini `GenerateContentResponse`s translated into OpenAI chat completions: text, function
//! calls as tool calls, finish reasons, token usage, and blocked prompts as errors.
//!
//! The pieces here serve complete answers and stream events alike.

use serde_json::{Value, json};
use switchyard_wire::{
    ChatMessage, ChatResponse, Choice, Extra, FunctionCall as OpenAiFunctionCall, MessageContent,
    PromptTokensDetails, Role, ToolCall, Usage,
};

use super::tool_call_id;
use super::wire::{GenerateContentResponse, Part, PromptFeedback, UsageMetadata};
use crate::{ErrorClass, ProviderError, unix_now};

/// Translates a complete Gemini answer. An answer without candidates is an error: a
/// [`ErrorClass::ContentPolicy`] one when Gemini says it blocked the prompt.
pub fn chat_response(
    answer: GenerateContentResponse,
    upstream_model: &str,
) -> Result<ChatResponse, ProviderError> {
    if answer.candidates.is_empty() {
        return Err(no_candidates(answer.prompt_feedback.as_ref()));
    }
    let choices = answer
        .candidates
        .iter()
        .enumerate()
        .map(|(position, candidate)| {
            let parts = candidate.content.as_ref().map_or(&[][..], |c| &c.parts);
            let answer = CandidateAnswer::from_parts(parts);
            let finish_reason = candidate
                .finish_reason
                .as_deref()
                .map(|reason| finish_reason(reason, !answer.tool_calls.is_empty()).to_owned());
            Choice {
                index: candidate.index.unwrap_or(position as u32),
                message: ChatMessage {
                    role: Role::Assistant,
                    content: (!answer.text.is_empty()).then_some(MessageContent::Text(answer.text)),
                    name: None,
                    tool_calls: (!answer.tool_calls.is_empty()).then_some(answer.tool_calls),
                    tool_call_id: None,
                    extra: Extra::new(),
                },
                finish_reason,
                logprobs: None,
            }
        })
        .collect();
    Ok(ChatResponse {
        id: answer.response_id.unwrap_or_else(completion_id),
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: answer
            .model_version
            .unwrap_or_else(|| upstream_model.to_owned()),
        choices,
        usage: answer.usage_metadata.as_ref().map(usage),
        system_fingerprint: None,
        extra: Extra::new(),
    })
}

/// The error an answer without candidates stands for.
pub fn no_candidates(feedback: Option<&PromptFeedback>) -> ProviderError {
    match feedback.and_then(|f| f.block_reason.as_deref()) {
        Some(reason) => ProviderError::new(
            ErrorClass::ContentPolicy,
            format!("Gemini blocked the prompt (blockReason {reason})"),
        ),
        None => ProviderError::new(
            ErrorClass::InvalidResponse,
            "Gemini answered without any candidate",
        ),
    }
}

/// What one candidate (or one stream event of it) says.
#[derive(Debug, Default, PartialEq)]
pub struct CandidateAnswer {
    /// Its text parts joined; thoughts left out.
    pub text: String,
    /// Its function calls, as OpenAI tool calls.
    pub tool_calls: Vec<ToolCall>,
}

impl CandidateAnswer {
    /// Reads a candidate's parts; each call gets a new id ([`tool_call_id::make`]).
    pub fn from_parts(parts: &[Part]) -> Self {
        let mut answer = Self::default();
        for part in parts {
            if part.thought == Some(true) {
                continue;
            }
            if let Some(text) = &part.text {
                answer.text.push_str(text);
            }
            if let Some(call) = &part.function_call {
                let arguments = call
                    .args
                    .as_ref()
                    .filter(|args| !args.is_null())
                    .map_or_else(|| "{}".to_owned(), Value::to_string);
                answer.tool_calls.push(ToolCall {
                    id: tool_call_id::make(part.thought_signature.as_deref()),
                    kind: "function".to_owned(),
                    function: OpenAiFunctionCall {
                        name: call.name.clone(),
                        arguments,
                    },
                });
            }
        }
        answer
    }
}

/// Gemini's `finishReason` as OpenAI's `finish_reason`.
///
/// <https://ai.google.dev/api/generate-content#FinishReason>: `STOP` is `stop`, or `tool_calls`
/// when the candidate called functions; `MAX_TOKENS` is `length`; the safety, recitation and
/// blocklist reasons are `content_filter`; anything else ended the answer early for a reason
/// OpenAI has no name for, and is `stop`.
pub fn finish_reason(reason: &str, called_tools: bool) -> &'static str {
    match reason {
        "STOP" if called_tools => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ => "stop",
    }
}

/// Gemini's token counts as OpenAI usage: thoughts count as completion tokens (and as
/// `reasoning_tokens`), tool-use prompts as prompt tokens, cached content as `cached_tokens`.
pub fn usage(metadata: &UsageMetadata) -> Usage {
    let thoughts = metadata.thoughts_token_count.unwrap_or(0);
    let prompt_tokens = metadata.prompt_token_count.unwrap_or(0)
        + metadata.tool_use_prompt_token_count.unwrap_or(0);
    let completion_tokens = metadata.candidates_token_count.unwrap_or(0) + thoughts;
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: metadata
            .total_token_count
            .unwrap_or(prompt_tokens + completion_tokens),
        prompt_tokens_details: metadata.cached_content_token_count.map(|cached| {
            PromptTokensDetails {
                cached_tokens: Some(cached),
                extra: Extra::new(),
            }
        }),
        completion_tokens_details: (thoughts > 0).then(|| json!({"reasoning_tokens": thoughts})),
        cache_creation_input_tokens: None,
    }
}

/// An id for an answer that came without a `responseId`.
pub fn completion_id() -> String {
    format!("chatcmpl-gemini{:016x}", fastrand::u64(..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(json: &str) -> GenerateContentResponse {
        serde_json::from_str(json).expect("fixture is a GenerateContentResponse")
    }

    // Fixture shape: https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
    // (text candidate; UsageMetadata with cachedContentTokenCount and thoughtsTokenCount).
    #[test]
    fn a_text_answer_translates_field_by_field() {
        let answer = chat_response(
            fixture(include_str!(
                "../../tests/fixtures/gemini/generate_text.json"
            )),
            "deployment-model",
        )
        .expect("translates");
        assert_eq!(answer.id, "mAitaLmkHPPlz7IPvtfUqQ4");
        assert_eq!(answer.object, "chat.completion");
        assert_eq!(answer.model, "gemini-2.5-flash");
        assert!(answer.created > 0);
        assert_eq!(answer.choices.len(), 1);
        let choice = &answer.choices[0];
        assert_eq!(choice.index, 0);
        assert_eq!(choice.message.role, Role::Assistant);
        assert_eq!(
            choice.message.content,
            Some(MessageContent::Text(
                "The capital of France is Paris.".into()
            ))
        );
        assert_eq!(choice.message.tool_calls, None);
        assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
        let usage = answer.usage.expect("usage");
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (12, 33, 45)
        );
        assert_eq!(
            usage.prompt_tokens_details.and_then(|d| d.cached_tokens),
            Some(4)
        );
        assert_eq!(
            usage.completion_tokens_details,
            Some(json!({"reasoning_tokens": 26}))
        );
    }

    // Fixture shape: https://ai.google.dev/gemini-api/docs/function-calling (parallel function
    // calls) and https://ai.google.dev/gemini-api/docs/thought-signatures (signature on the
    // first call only).
    #[test]
    fn function_calls_become_tool_calls_with_stable_ids() {
        let answer = chat_response(
            fixture(include_str!(
                "../../tests/fixtures/gemini/generate_function_call.json"
            )),
            "m",
        )
        .expect("translates");
        let choice = &answer.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(choice.message.content, None);
        let calls = choice.message.tool_calls.as_ref().expect("tool calls");
        assert_eq!(calls.len(), 2);
        assert_eq!(
            tool_call_id::signature(&calls[0].id).as_deref(),
            Some("CiQB0e2Kb7Jw0mQhS1gAdyYK0yXvTQ=="),
            "the thought signature rides in the id"
        );
        assert_eq!(calls[0].kind, "function");
        assert_eq!(calls[0].function.name, "get_current_weather");
        let arguments: Value =
            serde_json::from_str(&calls[0].function.arguments).expect("arguments are JSON");
        assert_eq!(
            arguments,
            json!({"location": "Boston, MA", "unit": "celsius"})
        );
        assert_eq!(tool_call_id::signature(&calls[1].id), None);
        assert_ne!(calls[0].id, calls[1].id);
        for call in calls {
            assert!(
                call.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "Anthropic's id pattern: {}",
                call.id
            );
        }
        assert_eq!(calls[1].function.name, "get_current_time");
        assert_eq!(
            calls[1].function.arguments,
            r#"{"timezone":"America/New_York"}"#
        );
        let usage = answer.usage.expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (57, 22));
        assert_eq!(usage.completion_tokens_details, None);
    }

    // Fixture shape: https://ai.google.dev/api/generate-content#FinishReason (SAFETY, with the
    // candidate's content withheld).
    #[test]
    fn a_safety_stop_is_a_content_filter_finish_without_content() {
        let answer = chat_response(
            fixture(include_str!(
                "../../tests/fixtures/gemini/generate_safety_blocked.json"
            )),
            "m",
        )
        .expect("a blocked candidate is still an answer");
        let choice = &answer.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("content_filter"));
        assert_eq!(choice.message.content, None);
        assert_eq!(choice.message.tool_calls, None);
        assert_eq!(answer.usage.expect("usage").prompt_tokens, 9);
    }

    // Fixture shape: https://ai.google.dev/api/generate-content#PromptFeedback (no candidates,
    // blockReason set).
    #[test]
    fn a_blocked_prompt_is_a_content_policy_error() {
        let err = chat_response(
            fixture(include_str!(
                "../../tests/fixtures/gemini/generate_prompt_blocked.json"
            )),
            "m",
        )
        .expect_err("blocked");
        assert_eq!(err.class, ErrorClass::ContentPolicy);
        assert!(err.message.contains("SAFETY"), "{}", err.message);
        let err = chat_response(GenerateContentResponse::default(), "m").expect_err("empty");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
    }

    #[test]
    fn finish_reasons_map_to_openai_names() {
        let cases = [
            ("STOP", false, "stop"),
            ("STOP", true, "tool_calls"),
            ("MAX_TOKENS", false, "length"),
            ("SAFETY", false, "content_filter"),
            ("RECITATION", false, "content_filter"),
            ("BLOCKLIST", false, "content_filter"),
            ("PROHIBITED_CONTENT", false, "content_filter"),
            ("SPII", false, "content_filter"),
            ("MALFORMED_FUNCTION_CALL", false, "stop"),
            ("OTHER", false, "stop"),
        ];
        for (reason, called, expected) in cases {
            assert_eq!(finish_reason(reason, called), expected, "{reason}");
        }
    }

    #[test]
    fn answers_without_ids_or_versions_get_ours_and_thoughts_stay_out_of_the_text() {
        let answer = chat_response(
            fixture(
                r#"{"candidates": [{"content": {"role": "model", "parts": [
                    {"text": "Thinking about it...", "thought": true}, {"text": "42"}]},
                    "finishReason": "MAX_TOKENS"}]}"#,
            ),
            "deployment-model",
        )
        .expect("translates");
        assert!(answer.id.starts_with("chatcmpl-gemini"), "{}", answer.id);
        assert_eq!(answer.model, "deployment-model");
        assert_eq!(answer.usage, None);
        assert_eq!(
            answer.choices[0].message.content,
            Some(MessageContent::Text("42".into()))
        );
        assert_eq!(answer.choices[0].finish_reason.as_deref(), Some("length"));
    }
}
