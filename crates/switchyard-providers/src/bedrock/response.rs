//! Converse answers translated into OpenAI chat completions
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax>):
//! text blocks as content, `toolUse` blocks as tool calls, reasoning as `reasoning_content` with
//! the signed blocks (`reasoningText` and its `signature`, `redactedContent`) as LiteLLM's
//! `thinking_blocks` (<https://docs.litellm.ai/docs/reasoning_content>), the
//! stop reason as a finish reason and the token counts as usage. Shared with the stream
//! translation.

use serde_json::Value;
use switchyard_wire::{
    ChatMessage, ChatResponse, Choice, Extra, FunctionCall, MessageContent, Role, ThinkingBlock,
    ToolCall, Usage,
};

use super::wire::{ConverseResponse, TokenUsage};
use crate::{ErrorClass, ProviderError, unix_now};

/// Translates a complete Converse answer; `id` names the completion.
pub fn chat_response(
    answer: ConverseResponse,
    id: String,
    upstream_model: &str,
) -> Result<ChatResponse, ProviderError> {
    let message = answer
        .output
        .and_then(|output| output.message)
        .ok_or_else(|| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                "Bedrock answered without `output.message`",
            )
        })?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        if let Some(piece) = block.text {
            text.push_str(&piece);
        }
        if let Some(thought) = block.reasoning_content {
            if let Some(clear) = thought.reasoning_text {
                reasoning.push_str(&clear.text);
                thinking_blocks.push(ThinkingBlock::Thinking {
                    thinking: clear.text,
                    signature: clear.signature,
                });
            }
            if let Some(data) = thought.redacted_content {
                thinking_blocks.push(ThinkingBlock::RedactedThinking { data });
            }
        }
        if let Some(call) = block.tool_use {
            tool_calls.push(ToolCall {
                id: call.tool_use_id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: call.name,
                    arguments: match call.input {
                        Value::Null => "{}".to_owned(),
                        input => input.to_string(),
                    },
                },
            });
        }
    }
    let mut extra = Extra::new();
    if !reasoning.is_empty() {
        extra.insert("reasoning_content".to_owned(), Value::String(reasoning));
    }
    ThinkingBlock::write(&mut extra, &thinking_blocks);
    let content = if text.is_empty() && !tool_calls.is_empty() {
        None
    } else {
        Some(MessageContent::Text(text))
    };
    Ok(ChatResponse {
        id,
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: upstream_model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: ChatMessage {
                role: Role::Assistant,
                content,
                name: None,
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                tool_call_id: None,
                extra,
            },
            finish_reason: answer
                .stop_reason
                .as_deref()
                .map(finish_reason)
                .map(str::to_owned),
            logprobs: None,
        }],
        usage: answer.usage.as_ref().map(usage),
        system_fingerprint: None,
        extra: Extra::new(),
    })
}

/// Bedrock's `stopReason` as OpenAI's `finish_reason`
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax>):
/// `end_turn` and `stop_sequence` are `stop`, `max_tokens` (and a full context window) is
/// `length`, `tool_use` is `tool_calls`, guardrail and content-filter stops are
/// `content_filter`; anything newer is `stop`.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        _ => "stop",
    }
}

/// Bedrock's token counts as OpenAI usage: tokens read from and written to the prompt cache
/// count as prompt tokens, as they do for Anthropic, the ones read are `cached_tokens` and the
/// ones written `cache_creation_input_tokens`.
pub fn usage(usage: &TokenUsage) -> Usage {
    crate::anthropic::response::usage(
        usage.input_tokens,
        usage.cache_read_input_tokens,
        usage.cache_write_input_tokens,
        usage.output_tokens,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn translate(json: &str) -> Result<ChatResponse, ProviderError> {
        let answer: ConverseResponse = serde_json::from_str(json).expect("a Converse answer");
        chat_response(answer, "chatcmpl-req-1".to_owned(), "deployment-model")
    }

    // Fixture: the Converse response syntax,
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax
    // (TokenUsage with the cache counts: API_runtime_TokenUsage.html).
    #[test]
    fn a_text_answer_translates_field_by_field() {
        let answer = translate(include_str!(
            "../../tests/fixtures/bedrock/converse_text.json"
        ))
        .expect("translates");
        assert_eq!(answer.id, "chatcmpl-req-1");
        assert_eq!(answer.object, "chat.completion");
        assert_eq!(answer.model, "deployment-model");
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
            (12 + 4 + 2, 9, 27)
        );
        assert_eq!(
            usage.prompt_tokens_details.and_then(|d| d.cached_tokens),
            Some(4)
        );
    }

    // Fixture: the tool use example of
    // https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html
    #[test]
    fn tool_use_blocks_become_tool_calls() {
        let answer = translate(include_str!(
            "../../tests/fixtures/bedrock/converse_tool_use.json"
        ))
        .expect("translates");
        let choice = &answer.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            choice.message.content,
            Some(MessageContent::Text(
                "I'll look up the most popular song on WZPZ.".into()
            ))
        );
        let calls = choice.message.tool_calls.as_ref().expect("tool calls");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
        assert_eq!(calls[0].kind, "function");
        assert_eq!(calls[0].function.name, "top_song");
        let arguments: Value =
            serde_json::from_str(&calls[0].function.arguments).expect("arguments are JSON");
        assert_eq!(arguments, json!({"sign": "WZPZ"}));
        let usage = answer.usage.expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (375, 87));
        assert_eq!(usage.prompt_tokens_details, None);
    }

    // ReasoningContentBlock's `redactedContent`
    // (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlock.html)
    // kept as a redacted thinking block (https://docs.litellm.ai/docs/reasoning_content).
    #[test]
    fn redacted_reasoning_is_kept_as_a_redacted_thinking_block() {
        let answer = translate(
            r#"{"output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"redactedContent": "RW13S0FoZ0I="}},
                {"reasoningContent": {"reasoningText": {"text": "Sum.", "signature": "c2ln"}}},
                {"text": "4"}]}}, "stopReason": "end_turn",
                "usage": {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}}"#,
        )
        .expect("translates");
        assert_eq!(
            answer.choices[0].message.extra["thinking_blocks"],
            serde_json::json!([
                {"type": "redacted_thinking", "data": "RW13S0FoZ0I="},
                {"type": "thinking", "thinking": "Sum.", "signature": "c2ln"}
            ])
        );
    }

    #[test]
    fn stop_reasons_map_to_openai_names() {
        let cases = [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("guardrail_intervened", "content_filter"),
            ("content_filtered", "content_filter"),
            ("something_new", "stop"),
        ];
        for (reason, expected) in cases {
            assert_eq!(finish_reason(reason), expected, "{reason}");
        }
    }

    #[test]
    fn reasoning_is_kept_apart_and_a_missing_message_is_an_invalid_answer() {
        let answer = translate(
            r#"{"output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "2 + 2 is 4.", "signature": "abc"}}},
                {"text": "4"}]}}, "stopReason": "end_turn",
                "usage": {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}}"#,
        )
        .expect("translates");
        let message = &answer.choices[0].message;
        assert_eq!(message.content, Some(MessageContent::Text("4".into())));
        assert_eq!(message.extra["reasoning_content"], "2 + 2 is 4.");
        assert_eq!(
            message.extra["thinking_blocks"],
            serde_json::json!([{"type": "thinking", "thinking": "2 + 2 is 4.", "signature": "abc"}])
        );
        let err = translate(r#"{"stopReason": "end_turn"}"#).expect_err("no output");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
    }
}
