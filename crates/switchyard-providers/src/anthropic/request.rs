//! OpenAI chat request -> Anthropic Messages request, as
//! <https://docs.anthropic.com/en/api/messages> defines it: system and developer messages
//! become `system`, tool calls and tool results become `tool_use` and `tool_result` blocks,
//! images become `image` blocks, and consecutive turns of one role are merged, since the API
//! wants user and assistant turns to alternate. An assistant message's LiteLLM
//! `thinking_blocks` (<https://docs.litellm.ai/docs/reasoning_content>) go back as the
//! `thinking` / `redacted_thinking` blocks they were, first in the turn, as extended thinking
//! with tool use requires
//! (<https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking>). Extended
//! thinking is asked for with LiteLLM's `thinking` parameter, passed on as it came, or with
//! `reasoning_effort`, which becomes a thinking budget as LiteLLM maps it.

use serde_json::{Value, json};
use switchyard_wire::anthropic::{
    Content, ContentBlock, ImageSource, InputMessage, MessageRole, MessagesRequest, Metadata,
    SystemPrompt, ToolChoice, ToolDefinition,
};
use switchyard_wire::{
    ChatMessage, ChatRequest, ContentPart, Extra, FunctionDefinition, MessageContent, Role, Stop,
    ThinkingBlock,
};

use crate::translate::{
    RequestedFormat, portable_tool_call_id, requested_format, requested_thinking,
};
use crate::{ErrorClass, ProviderError};

/// `max_tokens` when the client names no limit; the Messages API requires one.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Translates a chat request for `model`. Fails with [`ErrorClass::BadRequest`] on what the
/// Messages API cannot express (several choices, audio or file parts, malformed tool calls).
pub fn to_messages_request(
    request: ChatRequest,
    model: &str,
) -> Result<MessagesRequest, ProviderError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(bad_request(
            "Anthropic answers with one choice; `n` greater than 1 is not supported",
        ));
    }
    let structured = structured_output(&request)?;
    let thinking_option = thinking(&request)?;
    if structured == StructuredOutput::JsonTool
        && (request.tools.as_ref().is_some_and(|t| !t.is_empty()) || request.tool_choice.is_some())
    {
        return Err(bad_request(
            "`response_format` `json_object` cannot be combined with `tools` on Anthropic deployments, where it is answered by a forced tool; send `json_schema` with a schema",
        ));
    }
    let mut system = Vec::new();
    let mut turns: Vec<InputMessage> = Vec::new();
    for message in request.messages {
        match message.role {
            Role::System | Role::Developer => {
                if let Some(content) = &message.content {
                    system.push(content.joined_text());
                }
            }
            Role::User => push_turn(&mut turns, MessageRole::User, user_blocks(message)?),
            Role::Assistant => push_turn(
                &mut turns,
                MessageRole::Assistant,
                assistant_blocks(message)?,
            ),
            Role::Tool => push_turn(&mut turns, MessageRole::User, vec![tool_result(message)?]),
            Role::Function => {
                return Err(bad_request(
                    "legacy `function` messages are not supported by Anthropic; send `tool` messages",
                ));
            }
        }
    }
    let parallel_tool_calls = request
        .extra
        .value("parallel_tool_calls")
        .and_then(|v| v.as_bool());
    let mut tool_choice = match &request.tool_choice {
        Some(choice) => Some(tool_choice(choice, parallel_tool_calls)?),
        None if parallel_tool_calls == Some(false) && request.tools.is_some() => {
            Some(ToolChoice::Auto {
                disable_parallel_tool_use: Some(true),
            })
        }
        None => None,
    };
    let top_k = request
        .extra
        .value("top_k")
        .and_then(|v| v.as_u64())
        .and_then(|k| u32::try_from(k).ok());
    let mut tools = request.tools.map(|tools| {
        tools
            .into_iter()
            .map(|tool| ToolDefinition {
                name: tool.function.name,
                description: tool.function.description,
                input_schema: Some(
                    tool.function
                        .parameters
                        .unwrap_or_else(FunctionDefinition::no_parameters),
                ),
                extra: Extra::new(),
            })
            .collect()
    });
    let mut extra = Extra::new();
    let thinking_budget = match thinking_option {
        Some(thinking) => {
            let budget = thinking.get("budget_tokens").and_then(Value::as_u64);
            extra.insert("thinking".to_owned(), thinking);
            budget
        }
        None => None,
    };
    match structured {
        StructuredOutput::None => {}
        StructuredOutput::OutputFormat(config) => {
            extra.insert("output_config".to_owned(), config);
        }
        StructuredOutput::JsonTool => {
            tools = Some(vec![json_object_tool()]);
            tool_choice = Some(ToolChoice::Tool {
                name: JSON_OBJECT_TOOL.to_owned(),
                disable_parallel_tool_use: Some(true),
            });
        }
    }
    Ok(MessagesRequest {
        model: model.to_owned(),
        messages: turns.into_iter().map(compact).collect(),
        // The limit counts the thinking too and must be above its budget: without one, the
        // default answer room comes on top of the budget.
        max_tokens: request
            .max_completion_tokens
            .or(request.max_tokens)
            .unwrap_or_else(|| {
                let budget = thinking_budget.and_then(|b| u32::try_from(b).ok());
                DEFAULT_MAX_TOKENS.saturating_add(budget.unwrap_or(0))
            }),
        system: match system.len() {
            0 => None,
            1 => system.pop().map(SystemPrompt::Text),
            _ => Some(SystemPrompt::Blocks(
                system.into_iter().map(ContentBlock::text).collect(),
            )),
        },
        stop_sequences: request.stop.map(|stop| match stop {
            Stop::One(one) => vec![one],
            Stop::Many(many) => many,
        }),
        temperature: request.temperature,
        top_p: request.top_p,
        top_k,
        stream: None,
        tools,
        tool_choice,
        metadata: request.user.map(|user_id| Metadata {
            user_id: Some(user_id),
            extra: Extra::new(),
        }),
        extra,
    })
}

/// LiteLLM's thinking budgets for `reasoning_effort` on Anthropic models: `minimal` and `low`
/// 1024 tokens (Anthropic's least), `medium` 2048, `high` 4096 (LiteLLM's
/// `DEFAULT_REASONING_EFFORT_*_THINKING_BUDGET`, <https://docs.litellm.ai/docs/reasoning_content>).
fn effort_budget(effort: &str) -> Option<u32> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        _ => None,
    }
}

/// The `thinking` option to send: the request's own `thinking` (LiteLLM's parameter, in
/// Anthropic's shape `{"type": "enabled", "budget_tokens"}`) as it came, else one made from
/// `reasoning_effort`; `none` asks for no thinking, an unknown effort is refused.
fn thinking(request: &ChatRequest) -> Result<Option<Value>, ProviderError> {
    if let Some(thinking) = requested_thinking(request)? {
        return Ok(Some(thinking));
    }
    match request.extra.value("reasoning_effort") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(effort)) if effort == "none" => Ok(None),
        Some(Value::String(effort)) => match effort_budget(&effort) {
            Some(budget) => Ok(Some(json!({"type": "enabled", "budget_tokens": budget}))),
            None => Err(bad_request(format!(
                "`reasoning_effort` `{effort}` is not one of none, minimal, low, medium, high"
            ))),
        },
        Some(other) => Err(bad_request(format!(
            "`reasoning_effort` must be a string, not {other}"
        ))),
    }
}

/// The name of the tool a `json_object` answer is forced through; its input is the answer.
pub const JSON_OBJECT_TOOL: &str = "json_object_answer";

/// Whether `request` forces [`JSON_OBJECT_TOOL`]: its answer's call of that tool is the JSON
/// object the client asked for, and is handed back as the message's text.
pub fn answers_through_json_tool(request: &MessagesRequest) -> bool {
    matches!(&request.tool_choice, Some(ToolChoice::Tool { name, .. }) if name == JSON_OBJECT_TOOL)
}

/// The tool that takes any JSON object, forced for a `json_object` answer.
fn json_object_tool() -> ToolDefinition {
    ToolDefinition {
        name: JSON_OBJECT_TOOL.to_owned(),
        description: Some(
            "Give your whole answer as this tool's input: one JSON object.".to_owned(),
        ),
        input_schema: Some(
            serde_json::from_str(r#"{"type":"object"}"#).expect("a literal object is valid JSON"),
        ),
        extra: Extra::new(),
    }
}

/// How a request's `response_format` reaches Anthropic.
#[derive(Debug, PartialEq)]
enum StructuredOutput {
    /// Text.
    None,
    /// `output_config`, Anthropic's structured outputs.
    OutputFormat(Value),
    /// A forced tool whose input is the answer.
    JsonTool,
}

/// `response_format` as Anthropic can honour it. A `json_schema` format becomes Anthropic's
/// structured outputs, `output_config.format` `{"type": "json_schema", "schema"}`
/// (<https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs>), so the
/// answer's text is JSON that follows the schema. Anthropic has no JSON mode without a schema,
/// so `json_object` is answered through a forced tool taking any object, as Anthropic's tool
/// use documents for JSON output
/// (<https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use>, "Forcing
/// tool use", "JSON mode"); a `json_schema` without its schema is refused rather than answered
/// as free text.
fn structured_output(request: &ChatRequest) -> Result<StructuredOutput, ProviderError> {
    match requested_format(request)? {
        RequestedFormat::Text => Ok(StructuredOutput::None),
        RequestedFormat::JsonSchema {
            schema: Some(schema),
            ..
        } => {
            let schema: Value = schema
                .parse()
                .map_err(|e| bad_request(format!("`response_format.json_schema.schema`: {e}")))?;
            Ok(StructuredOutput::OutputFormat(
                json!({"format": {"type": "json_schema", "schema": schema}}),
            ))
        }
        RequestedFormat::JsonSchema { schema: None, .. } => Err(bad_request(
            "Anthropic deployments need `response_format.json_schema.schema`: Anthropic's structured outputs follow a schema",
        )),
        RequestedFormat::JsonObject => Ok(StructuredOutput::JsonTool),
    }
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::BadRequest, message)
}

/// Appends blocks as a turn, merged into the previous turn when it has the same role.
fn push_turn(turns: &mut Vec<InputMessage>, role: MessageRole, blocks: Vec<ContentBlock>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut().filter(|last| last.role == role) {
        let previous = std::mem::replace(&mut last.content, Content::Blocks(Vec::new()));
        let mut merged = previous.into_blocks();
        merged.extend(blocks);
        last.content = Content::Blocks(merged);
        return;
    }
    turns.push(InputMessage {
        role,
        content: Content::Blocks(blocks),
    });
}

/// A turn holding one plain text block is sent as a string, the API's short form.
fn compact(mut turn: InputMessage) -> InputMessage {
    if let Content::Blocks(blocks) = &mut turn.content
        && let [ContentBlock::Text { text, extra }] = blocks.as_mut_slice()
        && extra.is_empty()
    {
        turn.content = Content::Text(std::mem::take(text));
    }
    turn
}

fn user_blocks(message: ChatMessage) -> Result<Vec<ContentBlock>, ProviderError> {
    match message.content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(text)) => Ok(vec![ContentBlock::text(text)]),
        Some(MessageContent::Parts(parts)) => parts.into_iter().map(part_block).collect(),
    }
}

fn part_block(part: ContentPart) -> Result<ContentBlock, ProviderError> {
    match part.kind.as_str() {
        "text" => Ok(ContentBlock::text(part.text.unwrap_or_default())),
        "image_url" => {
            let url = match part.extra.get("image_url") {
                Some(Value::String(url)) => url.as_str(),
                Some(object) => object.get("url").and_then(Value::as_str).unwrap_or(""),
                None => "",
            };
            Ok(ContentBlock::Image {
                source: image_source(url)?,
                extra: Extra::new(),
            })
        }
        other => Err(bad_request(format!(
            "content parts of type `{other}` are not supported by the Anthropic adapter"
        ))),
    }
}

/// `data:<media type>;base64,<data>` becomes a base64 source; an http(s) URL a URL source.
fn image_source(url: &str) -> Result<ImageSource, ProviderError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let Some((media_type, data)) = rest.split_once(";base64,") else {
            return Err(bad_request(
                "image data URLs must be base64-encoded (`data:image/png;base64,...`)",
            ));
        };
        return Ok(ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(ImageSource::Url {
            url: url.to_owned(),
        });
    }
    Err(bad_request(
        "an `image_url` part needs an http(s) URL or a base64 data URL",
    ))
}

fn assistant_blocks(message: ChatMessage) -> Result<Vec<ContentBlock>, ProviderError> {
    let mut blocks: Vec<ContentBlock> = ThinkingBlock::read(&message.extra)
        .map_err(|e| bad_request(format!("an assistant message's `thinking_blocks`: {e}")))?
        .into_iter()
        .flatten()
        .map(thinking_block)
        .collect();
    if let Some(content) = message.content {
        let text = content.joined_text();
        if !text.is_empty() {
            blocks.push(ContentBlock::text(text));
        }
    }
    for call in message.tool_calls.into_iter().flatten() {
        let arguments = call.function.arguments.trim();
        let input = if arguments.is_empty() {
            json!({})
        } else {
            serde_json::from_str::<Value>(arguments).map_err(|e| {
                bad_request(format!(
                    "the arguments of tool call `{}` are not JSON: {e}",
                    call.id
                ))
            })?
        };
        blocks.push(ContentBlock::ToolUse {
            id: portable_tool_call_id(&call.id, None).into_owned(),
            name: call.function.name,
            input,
            extra: Extra::new(),
        });
    }
    Ok(blocks)
}

/// A thinking block as the Messages API takes it back.
fn thinking_block(block: ThinkingBlock) -> ContentBlock {
    match block {
        ThinkingBlock::Thinking {
            thinking,
            signature,
        } => ContentBlock::Thinking {
            thinking,
            signature,
            extra: Extra::new(),
        },
        ThinkingBlock::RedactedThinking { data } => {
            ContentBlock::Other(json!({"type": "redacted_thinking", "data": data}))
        }
    }
}

fn tool_result(message: ChatMessage) -> Result<ContentBlock, ProviderError> {
    let tool_use_id = message
        .tool_call_id
        .as_deref()
        .map(|id| portable_tool_call_id(id, None).into_owned())
        .ok_or_else(|| bad_request("a `tool` message needs a `tool_call_id`"))?;
    Ok(ContentBlock::ToolResult {
        tool_use_id,
        content: message
            .content
            .map(|content| Content::Text(content.joined_text())),
        is_error: None,
        extra: Extra::new(),
    })
}

/// `auto`/`required`/`none` or `{"type": "function", "function": {"name"}}`, with
/// `parallel_tool_calls: false` carried as `disable_parallel_tool_use`.
fn tool_choice(choice: &Value, parallel: Option<bool>) -> Result<ToolChoice, ProviderError> {
    let disable_parallel_tool_use = (parallel == Some(false)).then_some(true);
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto {
                disable_parallel_tool_use,
            }),
            "required" => Ok(ToolChoice::Any {
                disable_parallel_tool_use,
            }),
            "none" => Ok(ToolChoice::None),
            other => Err(bad_request(format!("unknown `tool_choice` `{other}`"))),
        },
        named => match named.pointer("/function/name").and_then(Value::as_str) {
            Some(name) => Ok(ToolChoice::Tool {
                name: name.to_owned(),
                disable_parallel_tool_use,
            }),
            None => Err(bad_request(
                "`tool_choice` must be `auto`, `required`, `none` or name a function",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(body: Value) -> Result<Value, ProviderError> {
        let request: ChatRequest = serde_json::from_value(body).expect("valid chat request");
        let translated = to_messages_request(request, "claude-sonnet-4-5")?;
        Ok(serde_json::to_value(translated).expect("serializes"))
    }

    // Target shapes from https://docs.anthropic.com/en/api/messages and
    // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview.
    #[test]
    fn a_tool_conversation_becomes_alternating_turns_with_blocks() {
        let sent = translate(json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "use metric"}]},
                {"role": "user", "content": "weather in Paris and Rome?"},
                {"role": "user", "content": [
                    {"type": "text", "text": "see"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "15C"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "20C"}]},
                {"role": "assistant", "content": "Paris 15C, Rome 20C."},
                {"role": "user", "content": "thanks"}
            ],
            "max_completion_tokens": 300, "max_tokens": 100,
            "stop": "END", "temperature": 0.2, "top_p": 0.9, "top_k": 5, "user": "u-42",
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                {"type": "function", "function": {"name": "no_args"}}],
            "tool_choice": "required", "parallel_tool_calls": false,
            "seed": 7
        }))
        .expect("translates");
        assert_eq!(
            sent,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 300,
                "system": [{"type": "text", "text": "be brief"}, {"type": "text", "text": "use metric"}],
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "weather in Paris and Rome?"},
                        {"type": "text", "text": "see"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "15C"},
                        {"type": "tool_result", "tool_use_id": "call_2", "content": "20C"}
                    ]},
                    {"role": "assistant", "content": "Paris 15C, Rome 20C."},
                    {"role": "user", "content": "thanks"}
                ],
                "stop_sequences": ["END"],
                "temperature": 0.2, "top_p": 0.9, "top_k": 5,
                "tools": [
                    {"name": "get_weather", "description": "Weather",
                     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                    {"name": "no_args", "input_schema": {"type": "object", "properties": {}}}
                ],
                "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
                "metadata": {"user_id": "u-42"}
            })
        );
    }

    // "Preserving thinking blocks" with tool use
    // (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking): the assistant
    // turn that called the tool starts with its thinking blocks, unchanged; the chat message
    // carries them as LiteLLM's `thinking_blocks` (https://docs.litellm.ai/docs/reasoning_content).
    #[test]
    fn an_assistant_message_s_thinking_blocks_lead_its_turn_unchanged() {
        let sent = translate(json!({
            "model": "m",
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null,
                 "reasoning_content": "Need the weather tool.",
                 "thinking_blocks": [
                    {"type": "thinking", "thinking": "Need the weather tool.", "signature": "c2lnLTE="},
                    {"type": "redacted_thinking", "data": "EmwKAhgB"}
                 ],
                 "tool_calls": [{"id": "toolu_1", "type": "function",
                                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "15C"}
            ]
        }))
        .expect("translates");
        assert_eq!(
            sent["messages"][1],
            json!({"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Need the weather tool.", "signature": "c2lnLTE="},
                {"type": "redacted_thinking", "data": "EmwKAhgB"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ]})
        );
        assert_eq!(
            sent["thinking"],
            json!({"type": "enabled", "budget_tokens": 2000})
        );
        assert_eq!(sent["max_tokens"], DEFAULT_MAX_TOKENS + 2000);
        let malformed = translate(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "x", "thinking_blocks": [{"type": "thinking", "signature": 1}]}
        ]}))
        .expect_err("refused");
        assert_eq!(malformed.class, ErrorClass::BadRequest);
    }

    // `reasoning_effort` as LiteLLM maps it for Anthropic
    // (https://docs.litellm.ai/docs/reasoning_content): a thinking budget.
    #[test]
    fn reasoning_effort_becomes_a_thinking_budget() {
        let user = json!([{"role": "user", "content": "hi"}]);
        for (effort, budget) in [("low", 1024), ("medium", 2048), ("high", 4096)] {
            let sent = translate(
                json!({"model": "m", "messages": user, "reasoning_effort": effort,
                "max_tokens": 9000}),
            )
            .expect("translates");
            assert_eq!(
                sent["thinking"],
                json!({"type": "enabled", "budget_tokens": budget}),
                "{effort}"
            );
            assert_eq!(sent["max_tokens"], 9000);
        }
        let none = translate(json!({"model": "m", "messages": user, "reasoning_effort": "none"}))
            .expect("translates");
        assert!(none.get("thinking").is_none());
        assert!(none.get("reasoning_effort").is_none());
        let err = translate(json!({"model": "m", "messages": user, "reasoning_effort": "extreme"}))
            .expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
    }

    // `max_tokens` is required: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn max_tokens_falls_back_to_the_legacy_field_then_the_default() {
        let user = json!([{"role": "user", "content": "hi"}]);
        let sent =
            translate(json!({"model": "m", "messages": user, "max_tokens": 50})).expect("ok");
        assert_eq!(sent["max_tokens"], 50);
        let sent = translate(json!({"model": "m", "messages": user})).expect("ok");
        assert_eq!(sent["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(sent.get("system").is_none() && sent.get("tools").is_none());
        assert_eq!(sent["messages"], json!([{"role": "user", "content": "hi"}]));
    }

    // `tool_choice` types auto/any/tool/none: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn tool_choice_modes_and_named_functions_map() {
        let cases = [
            (json!("auto"), json!({"type": "auto"})),
            (json!("none"), json!({"type": "none"})),
            (json!("required"), json!({"type": "any"})),
            (
                json!({"type": "function", "function": {"name": "get_weather"}}),
                json!({"type": "tool", "name": "get_weather"}),
            ),
        ];
        for (choice, expected) in cases {
            let sent = translate(
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                "tool_choice": choice}),
            )
            .expect("ok");
            assert_eq!(sent["tool_choice"], expected);
        }
    }

    // What the OpenAI SDK's `client.chat.completions.parse(response_format=City)` sends
    // (https://platform.openai.com/docs/guides/structured-outputs), as Anthropic's structured
    // outputs take it: `output_config.format`
    // (https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs).
    #[test]
    fn a_json_schema_response_format_becomes_anthropic_s_output_format() {
        let schema = json!({"type": "object", "properties": {"name": {"type": "string"},
            "population": {"type": "integer"}}, "required": ["name", "population"],
            "additionalProperties": false, "title": "City"});
        let sent = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "Paris?"}],
            "response_format": {"type": "json_schema",
                "json_schema": {"name": "City", "strict": true, "schema": schema}}}),
        )
        .expect("translates");
        assert_eq!(
            sent["output_config"],
            json!({"format": {"type": "json_schema", "schema": schema}})
        );
        let text = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "text"}}),
        )
        .expect("translates");
        assert!(text.get("output_config").is_none(), "{text}");
        for format in [
            json!({"type": "json_schema", "json_schema": {"name": "x"}}),
            json!({"type": "yaml"}),
        ] {
            let err = translate(
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                "response_format": format}),
            )
            .expect_err("refused, never answered unformatted");
            assert_eq!(err.class, ErrorClass::BadRequest, "{format}");
        }
    }

    // JSON mode through a forced tool:
    // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use.
    #[test]
    fn a_json_object_response_format_forces_the_json_tool() {
        let request: ChatRequest = serde_json::from_value(json!({"model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"}}))
        .expect("valid");
        let translated = to_messages_request(request, "claude").expect("translates");
        assert!(answers_through_json_tool(&translated));
        let sent = serde_json::to_value(&translated).expect("serializes");
        assert_eq!(
            sent["tools"],
            json!([{"name": JSON_OBJECT_TOOL, "description": "Give your whole answer as this tool's input: one JSON object.",
                    "input_schema": {"type": "object"}}])
        );
        assert_eq!(
            sent["tool_choice"],
            json!({"type": "tool", "name": JSON_OBJECT_TOOL, "disable_parallel_tool_use": true})
        );
        let with_tools = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"},
            "tools": [{"type": "function", "function": {"name": "f"}}]}),
        )
        .expect_err("refused");
        assert_eq!(with_tools.class, ErrorClass::BadRequest);
        let plain = to_messages_request(
            serde_json::from_value(
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .expect("valid"),
            "claude",
        )
        .expect("translates");
        assert!(!answers_through_json_tool(&plain));
    }

    // Content block and image source types: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn what_anthropic_cannot_express_is_a_bad_request() {
        let user = json!({"role": "user", "content": "hi"});
        let cases = [
            json!({"model": "m", "messages": [user], "n": 2}),
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]}]}),
            json!({"model": "m", "messages": [user, {"role": "assistant", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]}),
            json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
            json!({"model": "m", "messages": [user], "tool_choice": "sometimes"}),
        ];
        for body in cases {
            let err = translate(body.clone()).expect_err("refused");
            assert_eq!(err.class, ErrorClass::BadRequest, "{body}");
            assert!(!err.message.is_empty());
        }
    }
}
