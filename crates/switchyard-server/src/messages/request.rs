//! Anthropic Messages request -> OpenAI chat request, for deployments that do not speak the
//! Messages API (Anthropic deployments get the request as it came: [`super::native`]): `system`
//! becomes a system message, blocks become text and image parts, `tool_use` blocks tool calls
//! and `tool_result` blocks `tool` messages; tools, tool choice, stop sequences and limits carry
//! over; structured outputs, `output_config.format` `{"type": "json_schema", "schema"}`
//! (<https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs>, what the
//! `anthropic` SDK's `messages.parse` sends), become `response_format` `json_schema` with
//! `strict` (<https://platform.openai.com/docs/api-reference/chat/create>), which each adapter
//! honours or refuses (Gemini: `responseJsonSchema`). Streams always ask for usage, which the
//! Anthropic stream reports at its end. The gateway's own fields (LiteLLM's `fallbacks`,
//! `num_retries`, `tags`, `caching`, ...) go on to dispatch, as on `/v1/chat/completions`.
//!
//! What chat completions cannot carry, by one rule: what only Anthropic can read is dropped,
//! what the model would need to answer right is refused (400, `invalid_request_error`).
//!
//! - dropped: `thinking` and `redacted_thinking` blocks of assistant turns (their signatures
//!   mean nothing to another provider; the model's earlier reasoning is not needed to go on),
//!   `cache_control` marks and the request's own `cache_control` (caching hints), the
//!   `thinking` request option and `output_config.effort` (how much to think: no chat
//!   counterpart every target takes), `context_management` (Anthropic trimming old tool results
//!   from the prompt on its side, which Claude Code may ask for: the whole prompt goes instead,
//!   and one over the window is refused as too long), a tool result's `is_error` flag (its
//!   text, which says what failed, is kept);
//! - refused: `document` blocks and any other block type (a PDF the model was asked about
//!   cannot be silently left out), image sources other than base64 and URL, non-text blocks
//!   in tool results, Anthropic's server tools, an `output_config` other than a `json_schema`
//!   format and `effort`, and every other request field (`service_tier`, `container`,
//!   `mcp_servers`, fields added to the API later): what asks for a tool, a service or a
//!   behaviour the target cannot give is not left out silently.

use serde_json::{Value, json};
use switchyard_wire::anthropic::{
    Content, ContentBlock, ImageSource, InputMessage, MessageRole, MessagesRequest, ToolChoice,
};
use switchyard_wire::{
    ChatMessage, ChatRequest, ContentPart, Extra, FunctionCall, FunctionDefinition, MessageContent,
    RawExtra, RawJson, Role, Stop, StreamOptions, Tool, ToolCall,
};

use crate::dispatch::is_gateway_field;
use crate::error::ApiError;

/// Request fields that are dropped on the way to a chat call: see the module doc.
const DROPPED_FIELDS: &[&str] = &["thinking", "cache_control", "context_management"];

/// Translates a Messages request. Fails with an invalid request on what chat completions cannot
/// carry: Anthropic's server tools and block types other than text, image, tool use, tool
/// result and thinking (which is dropped: its signature means nothing to other providers).
pub fn to_chat_request(request: MessagesRequest) -> Result<ChatRequest, ApiError> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(ChatMessage::text(Role::System, system.joined_text()));
    }
    for message in request.messages {
        match message.role {
            MessageRole::User => user_messages(message, &mut messages)?,
            MessageRole::Assistant => messages.push(assistant_message(message)?),
        }
    }
    let tools = request
        .tools
        .map(|tools| {
            tools
                .into_iter()
                .map(|tool| {
                    if !tool.is_custom() {
                        return Err(ApiError::invalid_request(format!(
                            "tools: `{}` is an Anthropic server tool, which this gateway cannot run",
                            tool.name
                        )));
                    }
                    Ok(Tool {
                        kind: "function".to_owned(),
                        function: FunctionDefinition {
                            name: tool.name,
                            description: tool.description,
                            parameters: tool.input_schema,
                            strict: None,
                        },
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let mut extra = RawExtra::new();
    let mut response_format = None;
    for (name, value) in request.extra {
        match name.as_str() {
            "output_config" => response_format = output_config(value)?,
            name if DROPPED_FIELDS.contains(&name) => {}
            name if is_gateway_field(name) => {
                let value = RawJson::from_value(&value)
                    .map_err(|e| ApiError::invalid_request(format!("`{name}` is not JSON: {e}")))?;
                extra.insert(name, value);
            }
            name => {
                return Err(ApiError::invalid_request(format!(
                    "`{name}` is not supported for this model: it is served by translation to chat completions, which cannot carry it"
                )));
            }
        }
    }
    let tool_choice = request.tool_choice.map(|choice| {
        let (value, disable_parallel) = match choice {
            ToolChoice::Auto {
                disable_parallel_tool_use,
            } => (json!("auto"), disable_parallel_tool_use),
            ToolChoice::Any {
                disable_parallel_tool_use,
            } => (json!("required"), disable_parallel_tool_use),
            ToolChoice::Tool {
                name,
                disable_parallel_tool_use,
            } => (
                json!({"type": "function", "function": {"name": name}}),
                disable_parallel_tool_use,
            ),
            ToolChoice::None => (json!("none"), None),
        };
        if disable_parallel == Some(true) {
            let no = RawJson::from_value(&false).expect("a boolean is JSON");
            extra.insert("parallel_tool_calls", no);
        }
        value
    });
    if let Some(top_k) = request.top_k {
        extra.insert(
            "top_k",
            RawJson::from_value(&top_k).expect("a number is JSON"),
        );
    }
    let stream = request.stream.unwrap_or(false);
    Ok(ChatRequest {
        model: request.model,
        messages,
        stream: stream.then_some(true),
        stream_options: stream.then(|| StreamOptions {
            include_usage: Some(true),
            extra: Extra::new(),
        }),
        max_tokens: Some(request.max_tokens),
        max_completion_tokens: None,
        temperature: request.temperature,
        top_p: request.top_p,
        n: None,
        stop: request.stop_sequences.map(Stop::Many),
        tools,
        tool_choice,
        response_format,
        user: request.metadata.and_then(|m| m.user_id),
        extra,
    })
}

/// `output_config` as chat's `response_format`: a `json_schema` format becomes a strict
/// `json_schema` response format named after the schema's `title` (when it is a valid name,
/// else `response`); `effort` is dropped; anything else is refused.
fn output_config(config: Value) -> Result<Option<RawJson>, ApiError> {
    let Value::Object(config) = config else {
        return Err(ApiError::invalid_request(
            "`output_config` must be an object",
        ));
    };
    let mut response_format = None;
    for (name, value) in config {
        match name.as_str() {
            "effort" => {}
            "format" if value.is_null() => {}
            "format" => {
                if value.get("type").and_then(Value::as_str) != Some("json_schema") {
                    return Err(ApiError::invalid_request(
                        "`output_config.format` must be {\"type\": \"json_schema\", \"schema\": ...}",
                    ));
                }
                let Some(schema) = value.get("schema").filter(|s| s.is_object()) else {
                    return Err(ApiError::invalid_request(
                        "`output_config.format` needs a `schema` object",
                    ));
                };
                let name = schema
                    .get("title")
                    .and_then(Value::as_str)
                    .filter(|title| is_format_name(title))
                    .unwrap_or("response");
                let format = json!({"type": "json_schema", "json_schema": {
                    "name": name, "schema": schema, "strict": true}});
                response_format =
                    Some(RawJson::from_value(&format).expect("a JSON value serializes"));
            }
            other => {
                return Err(ApiError::invalid_request(format!(
                    "`output_config.{other}` is not supported for this model: it is served by translation to chat completions"
                )));
            }
        }
    }
    Ok(response_format)
}

/// Whether `name` is a valid OpenAI response format name: `[a-zA-Z0-9_-]`, at most 64.
fn is_format_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A user turn: its tool results become `tool` messages (first, as the API puts them), the rest
/// one user message.
fn user_messages(message: InputMessage, out: &mut Vec<ChatMessage>) -> Result<(), ApiError> {
    let mut parts = Vec::new();
    for block in message.content.into_blocks() {
        match block {
            ContentBlock::Text { text, .. } => parts.push(text_part(text)),
            ContentBlock::Image { source, .. } => parts.push(image_part(source)?),
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                ..
            } => {
                let mut result = ChatMessage::text(Role::Tool, tool_result_text(content)?);
                result.tool_call_id = Some(tool_use_id);
                out.push(result);
            }
            other => return Err(unsupported(&other, "user")),
        }
    }
    let content = match parts.as_slice() {
        [] => return Ok(()),
        [
            ContentPart {
                kind,
                text: Some(text),
                ..
            },
        ] if kind == "text" => MessageContent::Text(text.clone()),
        _ => MessageContent::Parts(parts),
    };
    out.push(ChatMessage {
        content: Some(content),
        ..ChatMessage::text(Role::User, "")
    });
    Ok(())
}

fn assistant_message(message: InputMessage) -> Result<ChatMessage, ApiError> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content.into_blocks() {
        match block {
            ContentBlock::Text { text: more, .. } => text.push_str(&more),
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
            ContentBlock::Thinking { .. } => {}
            ContentBlock::Other(ref value)
                if value.get("type").and_then(Value::as_str) == Some("redacted_thinking") => {}
            other => return Err(unsupported(&other, "assistant")),
        }
    }
    Ok(ChatMessage {
        content: (!text.is_empty() || tool_calls.is_empty()).then_some(MessageContent::Text(text)),
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        ..ChatMessage::text(Role::Assistant, "")
    })
}

fn tool_result_text(content: Option<Content>) -> Result<String, ApiError> {
    match content {
        None => Ok(String::new()),
        Some(Content::Text(text)) => Ok(text),
        Some(Content::Blocks(blocks)) => {
            let mut text = String::new();
            for block in blocks {
                match block {
                    ContentBlock::Text { text: more, .. } => text.push_str(&more),
                    other => return Err(unsupported(&other, "tool_result")),
                }
            }
            Ok(text)
        }
    }
}

fn text_part(text: String) -> ContentPart {
    ContentPart {
        kind: "text".to_owned(),
        text: Some(text),
        extra: Extra::new(),
    }
}

/// A base64 source becomes a data URL, a URL source stays a URL.
fn image_part(source: ImageSource) -> Result<ContentPart, ApiError> {
    let url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url,
        ImageSource::Other(value) => {
            let kind = value
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(ApiError::invalid_request(format!(
                "image sources of type `{kind}` are not supported by this gateway"
            )));
        }
    };
    let mut extra = Extra::new();
    extra.insert("image_url".to_owned(), json!({ "url": url }));
    Ok(ContentPart {
        kind: "image_url".to_owned(),
        text: None,
        extra,
    })
}

fn unsupported(block: &ContentBlock, place: &str) -> ApiError {
    ApiError::invalid_request(format!(
        "content blocks of type `{}` are not supported in {place} content by this gateway",
        block.kind()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(body: Value) -> Result<Value, ApiError> {
        let request: MessagesRequest = serde_json::from_value(body).expect("valid request");
        let chat = to_chat_request(request)?;
        Ok(serde_json::to_value(chat).expect("serializes"))
    }

    // Request shapes from https://docs.anthropic.com/en/api/messages and
    // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview.
    #[test]
    fn a_tool_conversation_becomes_openai_messages() {
        let chat = translate(json!({
            "model": "claude-via-gateway", "max_tokens": 256, "stream": true,
            "system": [{"type": "text", "text": "be brief"}, {"type": "text", "text": "use metric"}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "weather here?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "15C"}]},
                    {"type": "text", "text": "and tomorrow?"}
                ]}
            ],
            "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
            "stop_sequences": ["END"], "temperature": 0.3, "top_p": 0.8, "top_k": 7,
            "metadata": {"user_id": "u-1"}, "thinking": {"type": "enabled", "budget_tokens": 1024}
        }))
        .expect("translates");
        assert_eq!(
            chat,
            json!({
                "model": "claude-via-gateway",
                "messages": [
                    {"role": "system", "content": "be brief\nuse metric"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "weather here?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                    ]},
                    {"role": "assistant", "content": "Checking.", "tool_calls": [
                        {"id": "toolu_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                    ]},
                    {"role": "tool", "content": "15C", "tool_call_id": "toolu_1"},
                    {"role": "user", "content": "and tomorrow?"}
                ],
                "stream": true, "stream_options": {"include_usage": true},
                "max_tokens": 256, "temperature": 0.3, "top_p": 0.8, "stop": ["END"],
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                    "parameters": {"type": "object"}}}],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "user": "u-1", "parallel_tool_calls": false, "top_k": 7
            })
        );
    }

    // `tool_choice` types: https://docs.anthropic.com/en/api/messages; `tool_use` blocks:
    // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview.
    #[test]
    fn tool_choice_modes_map_and_only_tool_calls_leave_content_null() {
        for (choice, expected) in [
            (json!({"type": "auto"}), json!("auto")),
            (json!({"type": "any"}), json!("required")),
            (json!({"type": "none"}), json!("none")),
        ] {
            let chat = translate(json!({"model": "m", "max_tokens": 1, "tool_choice": choice,
                "messages": [{"role": "user", "content": "hi"}]}))
            .expect("ok");
            assert_eq!(chat["tool_choice"], expected);
            assert!(chat.get("stream").is_none() && chat.get("parallel_tool_calls").is_none());
        }
        let chat = translate(json!({"model": "m", "max_tokens": 1, "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
        ]}))
        .expect("ok");
        assert!(chat["messages"][1].get("content").is_none(), "{chat}");
    }

    // `output_config.format` of https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs
    // (the `anthropic` SDK's `messages.parse` sends it) as chat's strict `json_schema`
    // `response_format` (https://platform.openai.com/docs/api-reference/chat/create).
    #[test]
    fn an_output_format_becomes_a_strict_json_schema_response_format() {
        let schema = json!({"type": "object", "title": "ContactInfo",
            "properties": {"name": {"type": "string"}}, "required": ["name"],
            "additionalProperties": false});
        let chat = translate(json!({"model": "m", "max_tokens": 64,
            "messages": [{"role": "user", "content": "John"}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}, "effort": "low"}}))
        .expect("translates");
        assert_eq!(
            chat["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "ContactInfo", "schema": schema, "strict": true}})
        );
        assert!(chat.get("output_config").is_none(), "{chat}");
        let untitled = translate(json!({"model": "m", "max_tokens": 64,
            "messages": [{"role": "user", "content": "John"}],
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object", "title": "a title"}}}}))
        .expect("translates");
        assert_eq!(
            untitled["response_format"]["json_schema"]["name"],
            "response"
        );
        for bad in [
            json!({"format": {"type": "json_schema"}}),
            json!({"format": {"type": "yaml", "schema": {}}}),
            json!({"verbosity": "low"}),
            json!("json"),
        ] {
            let err = translate(json!({"model": "m", "max_tokens": 1,
                "messages": [{"role": "user", "content": "hi"}], "output_config": bad}))
            .expect_err("refused");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    // Request fields of https://docs.anthropic.com/en/api/messages that chat completions cannot
    // carry are refused, never dropped silently; the gateway's own fields go on to dispatch.
    #[test]
    fn fields_the_translation_cannot_honour_are_refused_and_gateway_fields_kept() {
        let user = json!([{"role": "user", "content": "hi"}]);
        for field in ["service_tier", "container", "mcp_servers", "future_field"] {
            let err =
                translate(json!({"model": "m", "max_tokens": 1, "messages": user, field: "x"}))
                    .expect_err("refused");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{field}");
            assert!(err.message.contains(field), "{}", err.message);
        }
        let chat = translate(json!({"model": "m", "max_tokens": 1, "messages": user,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "cache_control": {"type": "ephemeral"},
            "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
            "fallbacks": ["other"], "num_retries": 1, "tags": ["t"]}))
        .expect("translates");
        for dropped in ["thinking", "cache_control", "context_management"] {
            assert!(chat.get(dropped).is_none(), "{dropped}: {chat}");
        }
        assert_eq!(chat["fallbacks"], json!(["other"]));
        assert_eq!(chat["num_retries"], 1);
        assert_eq!(chat["tags"], json!(["t"]));
    }

    // Server tools and block types: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn server_tools_and_unknown_blocks_are_invalid_requests() {
        let user = json!({"role": "user", "content": "hi"});
        for body in [
            json!({"model": "m", "max_tokens": 1, "messages": [user],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}]}),
            json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "file", "file_id": "f"}}]}]}),
        ] {
            let err = translate(body.clone()).expect_err("refused");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{body}");
        }
    }
}
