//! Responses request -> chat request: `instructions` become a system message, input messages
//! chat messages (text, image and file parts), `function_call` items the assistant's tool
//! calls and `function_call_output` items `tool` messages; function tools, tool choice,
//! `text.format` (as `response_format`), `reasoning.effort`, limits and sampling carry over.
//! A reasoning item whose `encrypted_content` the gateway wrote ([`super::reasoning`]) gives its
//! signed thinking blocks back as the next assistant message's `thinking_blocks`, which the
//! Anthropic adapter returns to Anthropic (and OpenAI-compatible adapters strip); other
//! reasoning items are left out: their state is opaque to every provider but OpenAI.
//! Shapes: <https://platform.openai.com/docs/api-reference/responses/create> and
//! <https://platform.openai.com/docs/api-reference/chat/create>.

use serde_json::{Value, json};
use switchyard_wire::responses::{
    FunctionTool, InputContent, Item, ItemRole, ResponsesRequest, TextFormat,
};
use switchyard_wire::{
    ChatMessage, ChatRequest, ContentPart, Extra, FunctionCall, FunctionDefinition, MessageContent,
    RawJson, Role, StreamOptions, ThinkingBlock, Tool, ToolCall,
};

use super::reasoning;
use crate::error::ApiError;

/// Request fields of the Responses API that chat completions do not take; everything else the
/// gateway does not read goes on, as on `/v1/chat/completions`.
const RESPONSES_ONLY_FIELDS: &[&str] = &[
    "include",
    "truncation",
    "background",
    "conversation",
    "prompt",
    "max_tool_calls",
    "stream_options",
];

/// Translates `request`, whose conversation (the stored one it continues, then its input) is
/// `conversation`. Fails with an invalid request on what chat completions cannot carry:
/// built-in tools, and content parts other than text, images and files.
pub fn to_chat_request(
    request: ResponsesRequest,
    conversation: &[Item],
) -> Result<ChatRequest, ApiError> {
    let mut messages = Vec::with_capacity(conversation.len() + 1);
    if let Some(instructions) = &request.instructions {
        messages.push(ChatMessage::text(Role::System, instructions.clone()));
    }
    for item in conversation {
        push_item(item, &mut messages)?;
    }
    let mut chat = ChatRequest::new(request.model, messages);
    chat.tools = request
        .tools
        .map(|tools| tools.into_iter().map(function_tool).collect())
        .transpose()?;
    chat.tool_choice = request.tool_choice.map(tool_choice).transpose()?;
    chat.response_format = request
        .text
        .and_then(|text| text.format)
        .map(response_format)
        .transpose()?
        .flatten();
    chat.max_completion_tokens = request.max_output_tokens;
    chat.temperature = request.temperature;
    chat.top_p = request.top_p;
    chat.user = request.user;
    if request.stream == Some(true) {
        chat.stream = Some(true);
        chat.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            extra: Extra::new(),
        });
    }
    chat.extra = request.extra;
    for field in RESPONSES_ONLY_FIELDS {
        chat.extra.remove(field);
    }
    if let Some(effort) = request.reasoning.and_then(|r| r.effort) {
        chat.extra.insert("reasoning_effort", raw(&effort));
    }
    if let Some(parallel) = request.parallel_tool_calls {
        chat.extra.insert("parallel_tool_calls", raw(&parallel));
    }
    if let Some(metadata) = request.metadata {
        // LiteLLM's `metadata` (tags, ...) is read by dispatch, which keeps it from upstreams.
        chat.extra.insert("metadata", raw(&metadata));
    }
    Ok(chat)
}

/// JSON text of a small value the gateway writes itself (a string, a boolean, a JSON value).
fn raw<T: serde::Serialize>(value: &T) -> RawJson {
    RawJson::from_value(value).expect("strings, booleans and JSON values serialize")
}

fn push_item(item: &Item, out: &mut Vec<ChatMessage>) -> Result<(), ApiError> {
    match item {
        Item::Message(message) => {
            let role = match message.role {
                ItemRole::User => Role::User,
                ItemRole::Assistant => Role::Assistant,
                ItemRole::System | ItemRole::Developer => Role::System,
            };
            let content = if role == Role::User {
                user_content(&message.content)?
            } else {
                MessageContent::Text(text_of(&message.content)?)
            };
            // The model's words after its reasoning are the message that reasoning began.
            if let Some(last) = out.last_mut().filter(|last| {
                role == Role::Assistant && last.role == Role::Assistant && is_reasoning_only(last)
            }) {
                last.content = Some(content);
                return Ok(());
            }
            out.push(ChatMessage {
                content: Some(content),
                ..ChatMessage::text(role, "")
            });
        }
        Item::FunctionCall(call) => {
            let tool_call = ToolCall {
                id: call.call_id.clone(),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                },
            };
            // Calls that follow the model's message (or each other) are one assistant turn.
            match out.last_mut() {
                Some(last) if last.role == Role::Assistant => {
                    last.tool_calls.get_or_insert_with(Vec::new).push(tool_call);
                }
                _ => out.push(ChatMessage {
                    content: None,
                    tool_calls: Some(vec![tool_call]),
                    ..ChatMessage::text(Role::Assistant, "")
                }),
            }
        }
        Item::FunctionCallOutput(output) => {
            let text = match &output.output {
                Value::String(text) => text.clone(),
                Value::Array(parts) => {
                    let parts: Vec<InputContent> = serde_json::from_value(Value::Array(
                        parts.clone(),
                    ))
                    .map_err(|e| {
                        ApiError::invalid_request(format!(
                            "input: the output of function call `{}` is not a list of content parts: {e}",
                            output.call_id
                        ))
                    })?;
                    text_of(&parts)?
                }
                other => other.to_string(),
            };
            out.push(ChatMessage {
                tool_call_id: Some(output.call_id.clone()),
                ..ChatMessage::text(Role::Tool, text)
            });
        }
        Item::Reasoning(item) => {
            let blocks = match item.extra.get("encrypted_content").and_then(Value::as_str) {
                Some(encrypted) => reasoning::decode(encrypted)?,
                None => None,
            };
            if let Some(blocks) = blocks.filter(|blocks| !blocks.is_empty()) {
                // The reasoning begins the assistant turn that the items after it go on.
                let mut message = ChatMessage {
                    content: None,
                    ..ChatMessage::text(Role::Assistant, "")
                };
                ThinkingBlock::write(&mut message.extra, &blocks);
                out.push(message);
            }
        }
    }
    Ok(())
}

/// Whether `message` is an assistant turn holding only the reasoning it began with.
fn is_reasoning_only(message: &ChatMessage) -> bool {
    message.content.is_none() && message.tool_calls.is_none()
}

/// The text of parts that may only hold text (instructions, the model's messages, tool
/// results).
fn text_of(parts: &[InputContent]) -> Result<String, ApiError> {
    let mut text = String::new();
    for part in parts {
        match part.kind.as_str() {
            "input_text" | "output_text" | "text" => {
                text.push_str(part.text.as_deref().unwrap_or_default());
            }
            "refusal" => {
                text.push_str(
                    part.extra
                        .get("refusal")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
            }
            other => {
                return Err(ApiError::invalid_request(format!(
                    "input: a `{other}` part can only be in a user message"
                )));
            }
        }
    }
    Ok(text)
}

/// A user message's content: text alone stays a string; images and files make it parts.
fn user_content(parts: &[InputContent]) -> Result<MessageContent, ApiError> {
    if parts
        .iter()
        .all(|p| matches!(p.kind.as_str(), "input_text" | "output_text" | "text"))
    {
        return text_of(parts).map(MessageContent::Text);
    }
    parts
        .iter()
        .map(|part| {
            let payload = |name: &str, value: Value| {
                let mut extra = Extra::new();
                extra.insert(name.to_owned(), value);
                ContentPart {
                    kind: name.to_owned(),
                    text: None,
                    extra,
                }
            };
            match part.kind.as_str() {
                "input_text" | "output_text" | "text" => Ok(ContentPart {
                    kind: "text".to_owned(),
                    text: part.text.clone(),
                    extra: Extra::new(),
                }),
                "input_image" => {
                    let Some(url) = part.extra.get("image_url").filter(|u| u.is_string()) else {
                        return Err(ApiError::invalid_request(
                            "input: an `input_image` needs an `image_url` here (uploaded file ids are not served)",
                        ));
                    };
                    let mut image = json!({"url": url});
                    if let Some(detail) = part.extra.get("detail") {
                        image["detail"] = detail.clone();
                    }
                    Ok(payload("image_url", image))
                }
                "input_file" => {
                    let file: serde_json::Map<String, Value> = part
                        .extra
                        .iter()
                        .filter(|(name, _)| {
                            matches!(name.as_str(), "file_data" | "file_id" | "filename")
                        })
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect();
                    Ok(payload("file", Value::Object(file)))
                }
                other => Err(ApiError::invalid_request(format!(
                    "input: content parts of type `{other}` are not supported"
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(MessageContent::Parts)
}

/// A function tool as chat's nested `{"type": "function", "function": {...}}`.
fn function_tool(tool: FunctionTool) -> Result<Tool, ApiError> {
    match (tool.kind.as_str(), tool.name) {
        ("function", Some(name)) => Ok(Tool {
            kind: "function".to_owned(),
            function: FunctionDefinition {
                name,
                description: tool.description,
                parameters: tool.parameters,
                strict: tool.strict,
            },
        }),
        ("function", None) => Err(ApiError::invalid_request(
            "tools: a function tool needs a `name`",
        )),
        (kind, _) => Err(ApiError::invalid_request(format!(
            "tools: `{kind}` is a built-in tool of OpenAI's Responses API, which this gateway cannot run; only `function` tools are served"
        ))),
    }
}

/// `auto`, `none` and `required` as they are; a named function in chat's nested form.
fn tool_choice(choice: Value) -> Result<Value, ApiError> {
    match &choice {
        Value::String(_) => Ok(choice),
        Value::Object(fields) if fields.get("type") == Some(&json!("function")) => {
            match fields.get("name").and_then(Value::as_str) {
                Some(name) => Ok(json!({"type": "function", "function": {"name": name}})),
                None => Err(ApiError::invalid_request(
                    "tool_choice: a function choice needs a `name`",
                )),
            }
        }
        _ => Err(ApiError::invalid_request(
            "tool_choice: must be `none`, `auto`, `required` or {\"type\": \"function\", \"name\": ...}",
        )),
    }
}

/// `text.format` as chat's `response_format`; plain text asks for none.
fn response_format(format: TextFormat) -> Result<Option<RawJson>, ApiError> {
    let value = match format.kind.as_str() {
        "text" => return Ok(None),
        "json_object" => json!({"type": "json_object"}),
        "json_schema" => {
            let Some(schema) = format.schema else {
                return Err(ApiError::invalid_request(
                    "text.format: a `json_schema` format needs a `schema`",
                ));
            };
            let mut json_schema = json!({
                "name": format.name.unwrap_or_else(|| "response".to_owned()),
                "schema": schema,
            });
            if let Some(strict) = format.strict {
                json_schema["strict"] = json!(strict);
            }
            if let Some(description) = format.description {
                json_schema["description"] = json!(description);
            }
            json!({"type": "json_schema", "json_schema": json_schema})
        }
        other => {
            return Err(ApiError::invalid_request(format!(
                "text.format: `{other}` is not a format (`text`, `json_object`, `json_schema`)"
            )));
        }
    };
    RawJson::from_value(&value)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("response_format: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Value) -> ResponsesRequest {
        serde_json::from_value(body).expect("valid request")
    }

    fn translate(body: Value) -> Result<Value, ApiError> {
        let request = request(body);
        let conversation = request.input_items();
        let chat = to_chat_request(request, &conversation)?;
        Ok(serde_json::to_value(chat).expect("serializes"))
    }

    // A tool round trip as "Function calling" in
    // https://platform.openai.com/docs/api-reference/responses/create shows it, in chat's
    // shapes (https://platform.openai.com/docs/api-reference/chat/create).
    // A stateless client (`store: false`) gives back the reasoning item with its
    // `encrypted_content` (https://platform.openai.com/docs/api-reference/responses/object):
    // the gateway's own becomes the next assistant message's LiteLLM `thinking_blocks`
    // (https://docs.litellm.ai/docs/reasoning_content), with the calls and words after it.
    #[test]
    fn the_gateway_s_encrypted_reasoning_becomes_the_assistant_s_thinking_blocks() {
        let blocks = vec![ThinkingBlock::Thinking {
            thinking: "Need weather.".to_owned(),
            signature: Some("c2ln".to_owned()),
        }];
        let encrypted = reasoning::encode(&blocks);
        let chat = translate(json!({
            "model": "m", "store": false,
            "input": [
                {"role": "user", "content": "Weather in Paris?"},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": encrypted},
                {"type": "function_call", "call_id": "toolu_1", "name": "w", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "toolu_1", "output": "21"},
                {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": encrypted},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Warm."}]},
                {"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "gAAAAB-openai"}
            ]
        }))
        .expect("translates");
        let thinking_blocks =
            json!([{"type": "thinking", "thinking": "Need weather.", "signature": "c2ln"}]);
        assert_eq!(
            chat["messages"],
            json!([
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "thinking_blocks": thinking_blocks, "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
                {"role": "tool", "content": "21", "tool_call_id": "toolu_1"},
                {"role": "assistant", "content": "Warm.", "thinking_blocks": thinking_blocks}
            ])
        );
        let altered = translate(json!({"model": "m", "input": [
            {"role": "user", "content": "hi"},
            {"type": "reasoning", "summary": [], "encrypted_content": format!("{}x", reasoning::PREFIX)}
        ]}))
        .expect_err("refused");
        assert_eq!(altered.status, http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn items_become_chat_messages_with_tool_calls_and_tool_results() {
        let chat = translate(json!({
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call", "call_id": "call_a", "name": "w", "arguments": "{\"c\":\"Paris\"}"},
                {"type": "function_call", "call_id": "call_b", "name": "w", "arguments": "{\"c\":\"Rome\"}"},
                {"type": "function_call_output", "call_id": "call_a", "output": "21"},
                {"type": "function_call_output", "call_id": "call_b",
                 "output": [{"type": "input_text", "text": "25"}]},
                {"type": "message", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": "Warm.", "annotations": []}]},
                {"role": "user", "content": [
                    {"type": "input_text", "text": "And this?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}
                ]}
            ],
            "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "w"},
            "parallel_tool_calls": false,
            "max_output_tokens": 50,
            "reasoning": {"effort": "high"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
            "user": "u1",
            "include": ["reasoning.encrypted_content"],
            "seed": 3
        }))
        .expect("translates");
        assert_eq!(
            chat["messages"],
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Paris\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "w", "arguments": "{\"c\":\"Rome\"}"}}
                ]},
                {"role": "tool", "content": "21", "tool_call_id": "call_a"},
                {"role": "tool", "content": "25", "tool_call_id": "call_b"},
                {"role": "assistant", "content": "Warm."},
                {"role": "user", "content": [
                    {"type": "text", "text": "And this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}
                ]}
            ])
        );
        assert_eq!(
            chat["tools"],
            json!([{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}, "strict": true}}])
        );
        assert_eq!(
            chat["tool_choice"],
            json!({"type": "function", "function": {"name": "w"}})
        );
        assert_eq!(chat["parallel_tool_calls"], false);
        assert_eq!(chat["max_completion_tokens"], 50);
        assert_eq!(chat["reasoning_effort"], "high");
        assert_eq!(
            chat["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(chat["user"], "u1");
        assert_eq!(chat["seed"], 3, "fields chat takes too go on");
        assert!(
            chat.get("include").is_none(),
            "Responses-only fields stay behind"
        );
        assert!(chat.get("stream").is_none());
    }

    #[test]
    fn streams_ask_for_usage_and_plain_text_asks_for_no_format() {
        let chat = translate(json!({"model": "m", "input": "hi", "stream": true,
            "text": {"format": {"type": "text"}}}))
        .expect("translates");
        assert_eq!(chat["stream"], true);
        assert_eq!(chat["stream_options"], json!({"include_usage": true}));
        assert!(chat.get("response_format").is_none());
        assert_eq!(chat["messages"], json!([{"role": "user", "content": "hi"}]));
    }

    #[test]
    fn what_chat_cannot_carry_is_refused_as_a_bad_request() {
        for (body, words) in [
            (
                json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}),
                "`web_search` is a built-in tool",
            ),
            (
                json!({"model": "m", "input": "x", "tool_choice": {"type": "file_search"}}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}}),
                "needs a `schema`",
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}),
                "image_url",
            ),
            (
                json!({"model": "m", "input": [{"role": "system", "content": [{"type": "input_image", "image_url": "u"}]}]}),
                "only be in a user message",
            ),
        ] {
            let err = translate(body.clone()).expect_err("refused");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{body}");
            assert!(err.message.contains(words), "{body}: {}", err.message);
        }
    }
}
