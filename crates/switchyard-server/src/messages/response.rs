//! OpenAI chat completion -> Anthropic Messages response: the first choice's reasoning
//! (`reasoning_content`, as the Bedrock, Anthropic and DeepSeek-style upstreams give it) becomes
//! a `thinking` block, its text and tool calls `text` and `tool_use` blocks, its finish reason a
//! stop reason, and usage Anthropic's counts (cached prompt tokens reported apart, as Anthropic
//! does).
//!
//! A translated thinking block has an empty `signature`: only Anthropic signs thinking, and a
//! made-up signature would be refused there anyway. Sent back to a non-Anthropic deployment it
//! is dropped (see [`super::request`]).

use serde_json::{Value, json};
use switchyard_providers::{ErrorClass, ProviderError};
use switchyard_wire::anthropic::{ContentBlock, MessageRole, MessagesResponse, Usage};
use switchyard_wire::{ChatResponse, Extra, ToolCall};

use crate::error::ApiError;

/// Translates a complete answer of `deployment`.
pub fn to_messages_response(
    answer: ChatResponse,
    deployment: &str,
) -> Result<MessagesResponse, ApiError> {
    let mut content = Vec::new();
    let mut finish_reason = None;
    if let Some(choice) = answer.choices.into_iter().next() {
        finish_reason = choice.finish_reason;
        if let Some(reasoning) = reasoning_of(&choice.message.extra) {
            content.push(thinking(reasoning));
        }
        if let Some(text) = choice.message.content.map(|c| c.joined_text())
            && !text.is_empty()
        {
            content.push(ContentBlock::text(text));
        }
        for call in choice.message.tool_calls.into_iter().flatten() {
            content.push(tool_use(call).map_err(|err| ApiError::from_provider(deployment, &err))?);
        }
    }
    Ok(MessagesResponse {
        id: answer.id,
        kind: "message".to_owned(),
        role: MessageRole::Assistant,
        content,
        model: answer.model,
        stop_reason: Some(stop_reason(finish_reason.as_deref()).to_owned()),
        stop_sequence: None,
        usage: answer.usage.as_ref().map(usage).unwrap_or_default(),
        extra: Extra::new(),
    })
}

/// The reasoning a chat message or delta carries (`reasoning_content`), when not empty.
pub fn reasoning_of(extra: &Extra) -> Option<String> {
    extra
        .get("reasoning_content")
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// A `thinking` block of `text`, unsigned.
pub fn thinking(text: String) -> ContentBlock {
    ContentBlock::Thinking {
        thinking: text,
        signature: Some(String::new()),
        extra: Extra::new(),
    }
}

/// A tool call as a `tool_use` block, its JSON-string arguments parsed into `input`.
pub fn tool_use(call: ToolCall) -> Result<ContentBlock, ProviderError> {
    let arguments = call.function.arguments.trim();
    let input = if arguments.is_empty() {
        json!({})
    } else {
        serde_json::from_str::<Value>(arguments).map_err(|e| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                format!(
                    "upstream sent arguments for tool call `{}` that are not JSON: {e}",
                    call.id
                ),
            )
        })?
    };
    Ok(ContentBlock::ToolUse {
        id: call.id,
        name: call.function.name,
        input,
        extra: Extra::new(),
    })
}

/// Anthropic's stop reason for an OpenAI finish reason.
pub fn stop_reason(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic's counts: `input_tokens` excludes prompt tokens read from the cache and written
/// to it, which are reported as `cache_read_input_tokens` and `cache_creation_input_tokens`.
pub fn usage(usage: &switchyard_wire::Usage) -> Usage {
    let cached = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|details| details.cached_tokens);
    let written = usage.cache_creation_input_tokens;
    Usage {
        input_tokens: usage
            .prompt_tokens
            .saturating_sub(cached.unwrap_or(0))
            .saturating_sub(written.unwrap_or(0)),
        output_tokens: usage.completion_tokens,
        cache_creation_input_tokens: written,
        cache_read_input_tokens: cached,
        extra: Extra::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(message: Value, finish: &str, usage: Value) -> ChatResponse {
        serde_json::from_value(json!({"id": "chatcmpl-1", "object": "chat.completion",
            "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage}))
        .expect("valid chat response")
    }

    // Target shape: the Message object of https://docs.anthropic.com/en/api/messages.
    #[test]
    fn text_and_tool_calls_become_blocks_with_anthropic_usage() {
        let translated = to_messages_response(
            answer(
                json!({"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}
                ]}),
                "tool_calls",
                json!({"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37,
                    "prompt_tokens_details": {"cached_tokens": 10}}),
            ),
            "d",
        )
        .expect("translates");
        assert_eq!(
            serde_json::to_value(translated).expect("serializes"),
            json!({
                "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt-4o-mini",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "now", "input": {}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 10}
            })
        );
    }

    // Thinking blocks: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking;
    // cache counts: https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching.
    #[test]
    fn reasoning_is_an_unsigned_thinking_block_and_cache_writes_are_reported() {
        let translated = to_messages_response(
            answer(
                json!({"role": "assistant", "content": "4", "reasoning_content": "2 + 2 is 4."}),
                "stop",
                json!({"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37,
                    "prompt_tokens_details": {"cached_tokens": 10},
                    "cache_creation_input_tokens": 15}),
            ),
            "d",
        )
        .expect("translates");
        let value = serde_json::to_value(translated).expect("serializes");
        assert_eq!(
            value["content"],
            json!([{"type": "thinking", "thinking": "2 + 2 is 4.", "signature": ""},
                   {"type": "text", "text": "4"}])
        );
        assert_eq!(
            value["usage"],
            json!({"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 10,
                   "cache_creation_input_tokens": 15})
        );
    }

    // Stop reasons and `tool_use.input` as an object: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn finish_reasons_map_and_bad_tool_arguments_are_an_upstream_error() {
        for (finish, stop) in [
            (Some("stop"), "end_turn"),
            (Some("length"), "max_tokens"),
            (Some("tool_calls"), "tool_use"),
            (Some("content_filter"), "refusal"),
            (None, "end_turn"),
        ] {
            assert_eq!(stop_reason(finish), stop);
        }
        let err = to_messages_response(
            answer(
                json!({"role": "assistant", "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}),
                "tool_calls",
                json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}),
            ),
            "d",
        )
        .expect_err("not JSON");
        assert_eq!(err.status, http::StatusCode::BAD_GATEWAY);
        assert_eq!(err.code, Some(ErrorClass::InvalidResponse.as_str()));
    }
}
