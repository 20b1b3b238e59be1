//! Anthropic Messages response -> OpenAI chat completion: text blocks joined into the message,
//! `tool_use` blocks as tool calls, thinking as `reasoning_content` with the signed blocks
//! (thinking and redacted thinking) as LiteLLM's `thinking_blocks`
//! (<https://docs.litellm.ai/docs/reasoning_content>), the stop reason as a finish reason, and
//! usage with cached prompt tokens counted in.

use serde_json::Value;
use switchyard_wire::anthropic::{ContentBlock, MessagesResponse};
use switchyard_wire::{
    ChatMessage, ChatResponse, Choice, Extra, FunctionCall, MessageContent, PromptTokensDetails,
    Role, ThinkingBlock, ToolCall, Usage,
};

use super::request::JSON_OBJECT_TOOL;
use crate::unix_now;

/// Translates a complete answer. With `json_tool` (the request forced
/// [`JSON_OBJECT_TOOL`] for a `json_object` answer), that tool's input is the message's text,
/// and the answer stopped as a plain one.
pub fn to_chat_response(response: MessagesResponse, json_tool: bool) -> ChatResponse {
    let mut text = String::new();
    let mut thinking = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut answered_as_json = false;
    for block in response.content {
        match block {
            ContentBlock::Text { text: more, .. } => text.push_str(&more),
            ContentBlock::Thinking {
                thinking: more,
                signature,
                ..
            } => {
                thinking.push_str(&more);
                thinking_blocks.push(ThinkingBlock::Thinking {
                    thinking: more,
                    signature,
                });
            }
            ContentBlock::Other(block) => thinking_blocks.extend(redacted_thinking(block)),
            ContentBlock::ToolUse { name, input, .. } if json_tool && name == JSON_OBJECT_TOOL => {
                // The JSON object replaces any words the model put before it.
                text = input.to_string();
                answered_as_json = true;
            }
            ContentBlock::ToolUse {
                id, name, input, ..
            } => tool_calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            _ => {}
        }
    }
    let mut extra = Extra::new();
    if !thinking.is_empty() {
        extra.insert("reasoning_content".to_owned(), Value::String(thinking));
    }
    ThinkingBlock::write(&mut extra, &thinking_blocks);
    let content = if text.is_empty() && !tool_calls.is_empty() {
        None
    } else {
        Some(MessageContent::Text(text))
    };
    let usage = usage(
        response.usage.input_tokens,
        response.usage.cache_read_input_tokens,
        response.usage.cache_creation_input_tokens,
        response.usage.output_tokens,
    );
    ChatResponse {
        id: response.id,
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: response.model,
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
            finish_reason: response.stop_reason.as_deref().map(|reason| {
                match reason {
                    "tool_use" if answered_as_json => "stop",
                    other => finish_reason(other),
                }
                .to_owned()
            }),
            logprobs: None,
        }],
        usage: Some(usage),
        system_fingerprint: None,
        extra: Extra::new(),
    }
}

/// A `redacted_thinking` block (`{"type": "redacted_thinking", "data"}`) as a thinking block
/// to give back; `None` for blocks of other types.
pub fn redacted_thinking(block: Value) -> Option<ThinkingBlock> {
    match serde_json::from_value(block) {
        Ok(redacted @ ThinkingBlock::RedactedThinking { .. }) => Some(redacted),
        _ => None,
    }
}

/// OpenAI's finish reason for an Anthropic stop reason.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and reasons added later.
        _ => "stop",
    }
}

/// OpenAI usage from Anthropic's counts: the prompt is the uncached input plus both cache
/// counts, cache reads are reported as `cached_tokens` and cache writes as LiteLLM's
/// `cache_creation_input_tokens`, so that each is priced at its own rate.
pub fn usage(
    input_tokens: u64,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    output_tokens: u64,
) -> Usage {
    let prompt = input_tokens + cache_read.unwrap_or(0) + cache_creation.unwrap_or(0);
    let mut usage = Usage::new(prompt, output_tokens);
    usage.prompt_tokens_details = cache_read.map(|cached| PromptTokensDetails {
        cached_tokens: Some(cached),
        extra: Extra::new(),
    });
    usage.cache_creation_input_tokens = cache_creation;
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(text: &str) -> ChatResponse {
        to_chat_response(
            serde_json::from_str(text).expect("fixture is a Messages response"),
            false,
        )
    }

    // Fixture: the reference example of https://docs.anthropic.com/en/api/messages.
    #[test]
    fn a_text_answer_translates_field_by_field() {
        let answer = fixture(include_str!(
            "../../tests/fixtures/anthropic/text_response.json"
        ));
        assert_eq!(answer.id, "msg_013Zva2CMHLNnXjNJJKqJ2EF");
        assert_eq!(answer.object, "chat.completion");
        assert_eq!(answer.model, "claude-sonnet-4-5-20250929");
        assert!(answer.created > 0);
        assert_eq!(answer.choices.len(), 1);
        let choice = &answer.choices[0];
        assert_eq!(choice.index, 0);
        assert_eq!(choice.message.role, Role::Assistant);
        assert_eq!(
            choice.message.content,
            Some(MessageContent::Text("Hi! My name is Claude.".to_owned()))
        );
        assert_eq!(choice.message.tool_calls, None);
        assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
        let usage = answer.usage.expect("usage");
        assert_eq!(usage.prompt_tokens, 2095 + 1000 + 100);
        assert_eq!(usage.completion_tokens, 503);
        assert_eq!(usage.total_tokens, 2095 + 1000 + 100 + 503);
        assert_eq!(
            usage.prompt_tokens_details.and_then(|d| d.cached_tokens),
            Some(1000)
        );
    }

    // Fixture: the tool use example of
    // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview.
    #[test]
    fn a_tool_use_answer_becomes_tool_calls_with_json_string_arguments() {
        let answer = fixture(include_str!(
            "../../tests/fixtures/anthropic/tool_use_response.json"
        ));
        let choice = &answer.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            choice
                .message
                .content
                .as_ref()
                .map(MessageContent::joined_text),
            Some("I'll check the current weather in San Francisco for you.".to_owned())
        );
        let calls = choice.message.tool_calls.as_ref().expect("tool calls");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].id, "toolu_01A09q90qw90lq917835lq9");
        assert_eq!(calls[0].kind, "function");
        assert_eq!(calls[0].function.name, "get_weather");
        let arguments: Value =
            serde_json::from_str(&calls[0].function.arguments).expect("arguments are JSON");
        assert_eq!(
            arguments,
            json!({"location": "San Francisco, CA", "unit": "celsius"})
        );
        let usage = answer.usage.expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (384, 92));
        assert_eq!(usage.prompt_tokens_details, None);
    }

    // `thinking` and `tool_use` content blocks: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn only_tool_calls_leave_content_null_and_thinking_is_kept_as_reasoning() {
        let answer = to_chat_response(
            serde_json::from_value(
                json!({"id": "msg_1", "type": "message", "role": "assistant",
                "model": "claude", "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 1, "output_tokens": 2},
                "content": [
                    {"type": "thinking", "thinking": "Need weather.", "signature": "sig"},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
                ]}),
            )
            .expect("valid"),
            false,
        );
        let message = &answer.choices[0].message;
        assert_eq!(message.content, None);
        assert_eq!(message.extra["reasoning_content"], "Need weather.");
        assert_eq!(
            message.tool_calls.as_ref().expect("calls")[0]
                .function
                .arguments,
            "{}"
        );
    }

    // Fixture thinking_response.json: a thinking block with its signature and a redacted one
    // (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking), kept as
    // LiteLLM's `thinking_blocks` (https://docs.litellm.ai/docs/reasoning_content).
    #[test]
    fn thinking_and_redacted_thinking_are_kept_signed_as_thinking_blocks() {
        let answer = fixture(include_str!(
            "../../tests/fixtures/anthropic/thinking_response.json"
        ));
        let message = serde_json::to_value(&answer.choices[0].message).expect("serializes");
        assert_eq!(message["content"], "Based on my analysis...");
        assert_eq!(
            message["reasoning_content"],
            "Let me analyze this step by step..."
        );
        assert_eq!(
            message["thinking_blocks"],
            json!([
                {"type": "thinking", "thinking": "Let me analyze this step by step...",
                 "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL...."},
                {"type": "redacted_thinking",
                 "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB8URj2pabXQZ8qfSW2DJCZO"}
            ])
        );
        let plain = fixture(include_str!(
            "../../tests/fixtures/anthropic/text_response.json"
        ));
        assert!(
            !plain.choices[0]
                .message
                .extra
                .contains_key("thinking_blocks")
        );
    }

    // Stop reasons: https://docs.anthropic.com/en/api/messages (`stop_reason`).
    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("pause_turn", "stop"),
        ] {
            assert_eq!(finish_reason(stop), finish, "{stop}");
        }
    }

    // A forced tool's call (tool_use response shape:
    // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview) answers a
    // `json_object` request: its input is the text, the answer a plain stop.
    #[test]
    fn the_forced_json_tool_s_input_is_the_answer_s_text() {
        let answer: MessagesResponse = serde_json::from_value(json!({
            "id": "msg_01Json", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "stop_reason": "tool_use", "stop_sequence": null,
            "content": [{"type": "tool_use", "id": "toolu_01J", "name": JSON_OBJECT_TOOL,
                         "input": {"city": "Paris", "population": 2102650}}],
            "usage": {"input_tokens": 40, "output_tokens": 12}
        }))
        .expect("a Messages response");
        let translated = to_chat_response(answer.clone(), true);
        let choice = &translated.choices[0];
        let text = choice
            .message
            .content
            .as_ref()
            .map(MessageContent::joined_text);
        assert_eq!(
            serde_json::from_str::<Value>(text.as_deref().unwrap_or_default()).expect("JSON"),
            json!({"city": "Paris", "population": 2102650})
        );
        assert_eq!(choice.message.tool_calls, None);
        assert_eq!(choice.finish_reason.as_deref(), Some("stop"));
        // Without the forced tool, the same block is an ordinary tool call.
        let plain = to_chat_response(answer, false);
        assert_eq!(
            plain.choices[0].finish_reason.as_deref(),
            Some("tool_calls")
        );
        assert!(plain.choices[0].message.tool_calls.is_some());
    }
}
