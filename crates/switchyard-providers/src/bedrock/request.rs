//! OpenAI chat requests translated into Converse requests
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_RequestSyntax>):
//! system prompts, turns and their content blocks, tool calls and results, inference settings
//! and tools. LiteLLM's `thinking` parameter goes to Anthropic's models as
//! `additionalModelRequestFields.thinking`, and an assistant message's `thinking_blocks`
//! (<https://docs.litellm.ai/docs/reasoning_content>) go back first in its turn as
//! `reasoningContent` blocks (`reasoningText` with its `signature`, or `redactedContent`), as
//! extended thinking with tool use requires
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html>).
//!
//! Turns of the same role in a row are merged, since Bedrock wants `user` and `assistant` to
//! alternate (the results of parallel tool calls, for one, arrive as several `tool` messages).
//! Converse has no equivalent of `user`, `seed`, `presence_penalty`, `frequency_penalty`,
//! `logit_bias`, `logprobs`, `parallel_tool_calls`, `reasoning_effort` (which would ask every
//! model, not only Anthropic's, for thinking), `metadata`, `store`,
//! a function's `strict` flag or any other field kept in `extra`: those are dropped. What would
//! change the answer's shape if dropped (`n` above 1, a `json_object` `response_format`) is refused, as is
//! everything else a client can get wrong, as an [`ErrorClass::BadRequest`] before anything is
//! sent.

use serde_json::{Map, Value, json};
use switchyard_wire::{
    ChatMessage, ChatRequest, ContentPart, FunctionDefinition as OpenAiFunction, MessageContent,
    Role, Stop, ThinkingBlock, Tool as OpenAiTool,
};

use super::wire::{
    ContentBlock, ConverseRequest, Empty, ImageBlock, ImageSource, InferenceConfiguration,
    JsonSchemaDefinition, Message, OutputConfig, OutputFormat, OutputFormatStructure,
    ReasoningContentBlock, ReasoningText, SpecificToolChoice, SystemContentBlock, Tool, ToolChoice,
    ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock, ToolSpecification,
    ToolUseBlock,
};
use crate::translate::{
    RequestedFormat, portable_tool_call_id, requested_format, requested_thinking,
};
use crate::{ErrorClass, ProviderError};

const USER: &str = "user";
const ASSISTANT: &str = "assistant";

/// Translates an OpenAI chat request into a Converse request body.
pub fn converse_request(request: &ChatRequest) -> Result<ConverseRequest, ProviderError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(bad_request(
            "Bedrock's Converse API generates one choice per call; `n` must be 1",
        ));
    }
    let output_config = output_config(request)?;
    let additional_model_request_fields =
        requested_thinking(request)?.map(|thinking| json!({ "thinking": thinking }));
    let mut system = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for message in &request.messages {
        let (role, content) = match message.role {
            Role::System | Role::Developer => {
                system.extend(system_blocks(message)?);
                continue;
            }
            Role::User => (USER, user_blocks(message.content.as_ref())?),
            Role::Assistant => (ASSISTANT, assistant_blocks(message)?),
            Role::Tool => (USER, vec![tool_result(message)?]),
            Role::Function => {
                return Err(bad_request(
                    "legacy `function` messages are not supported by Bedrock deployments; use `tool` messages",
                ));
            }
        };
        push_turn(&mut messages, role, content);
    }
    let has_tool_blocks = messages
        .iter()
        .flat_map(|m| &m.content)
        .any(|b| b.tool_use.is_some() || b.tool_result.is_some());
    Ok(ConverseRequest {
        messages,
        system,
        inference_config: inference_config(request),
        tool_config: tool_config(request, has_tool_blocks)?,
        output_config,
        additional_model_request_fields,
    })
}

/// `response_format` as Converse's structured output
/// (<https://docs.aws.amazon.com/bedrock/latest/userguide/structured-output.html>): a
/// `json_schema` format becomes `outputConfig.textFormat` with the schema as a JSON string.
/// Converse has no JSON mode without a schema, so `json_object` (and a `json_schema` without
/// its schema) is refused rather than answered as free text.
fn output_config(request: &ChatRequest) -> Result<Option<OutputConfig>, ProviderError> {
    match requested_format(request)? {
        RequestedFormat::Text => Ok(None),
        RequestedFormat::JsonSchema {
            name,
            description,
            schema: Some(schema),
        } => Ok(Some(OutputConfig {
            text_format: OutputFormat {
                kind: "json_schema",
                structure: OutputFormatStructure {
                    json_schema: JsonSchemaDefinition {
                        schema: schema.get().to_owned(),
                        name,
                        description,
                    },
                },
            },
        })),
        RequestedFormat::JsonSchema { schema: None, .. } => Err(bad_request(
            "Bedrock deployments need `response_format.json_schema.schema`: Converse's structured output follows a schema",
        )),
        RequestedFormat::JsonObject => Err(bad_request(
            "`response_format` `json_object` is not supported by Bedrock deployments, which have no JSON mode without a schema; send `json_schema` with a schema",
        )),
    }
}

/// Appends a turn, merged into the previous one when the role is the same.
fn push_turn(messages: &mut Vec<Message>, role: &str, content: Vec<ContentBlock>) {
    if content.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(content),
        _ => messages.push(Message {
            role: role.to_owned(),
            content,
        }),
    }
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::BadRequest, message)
}

fn text_block(text: impl Into<String>) -> ContentBlock {
    ContentBlock {
        text: Some(text.into()),
        ..ContentBlock::default()
    }
}

/// System and developer messages: Converse's `system` blocks hold text.
fn system_blocks(message: &ChatMessage) -> Result<Vec<SystemContentBlock>, ProviderError> {
    Ok(crate::translate::system_text(message, "Bedrock")?
        .map(|text| SystemContentBlock { text })
        .into_iter()
        .collect())
}

/// A user turn. Empty text is left out: Bedrock refuses blank text blocks.
fn user_blocks(content: Option<&MessageContent>) -> Result<Vec<ContentBlock>, ProviderError> {
    match content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(text)) if text.is_empty() => Ok(Vec::new()),
        Some(MessageContent::Text(text)) => Ok(vec![text_block(text.clone())]),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .filter(|p| !(p.kind == "text" && p.text.as_deref().unwrap_or_default().is_empty()))
            .map(content_part)
            .collect(),
    }
}

fn content_part(part: &ContentPart) -> Result<ContentBlock, ProviderError> {
    match part.kind.as_str() {
        "text" => Ok(text_block(part.text.clone().unwrap_or_default())),
        "image_url" => {
            // `image_url` is `{"url": ..., "detail": ...}`, or a bare string in older clients.
            let url = part
                .extra
                .get("image_url")
                .and_then(|v| v.get("url").or(Some(v)))
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request("an `image_url` part needs `image_url.url`"))?;
            Ok(ContentBlock {
                image: Some(image(url)?),
                ..ContentBlock::default()
            })
        }
        other => Err(bad_request(format!(
            "content parts of type `{other}` are not supported by Bedrock deployments"
        ))),
    }
}

/// An image from a `data:` URL. Bedrock takes image bytes only, never a URL to fetch.
fn image(url: &str) -> Result<ImageBlock, ProviderError> {
    let Some(rest) = url.strip_prefix("data:") else {
        let lowered = url.to_ascii_lowercase();
        return Err(bad_request(
            if lowered.starts_with("http://") || lowered.starts_with("https://") {
                "Bedrock takes images as bytes, not URLs: send the image as a data: URL \
                 (data:image/png;base64,...)"
            } else {
                "an image URL must be a data: URL (data:image/png;base64,...) for Bedrock"
            },
        ));
    };
    let (media_type, data) = rest
        .split_once(";base64,")
        .filter(|(_, data)| !data.is_empty())
        .ok_or_else(|| bad_request("a data: URL must be `data:<media type>;base64,<data>`"))?;
    let format = match media_type.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(bad_request(format!(
                "Bedrock takes png, jpeg, gif or webp images, not `{other}`"
            )));
        }
    };
    Ok(ImageBlock {
        format: format.to_owned(),
        source: ImageSource {
            bytes: data.to_owned(),
        },
    })
}

/// An assistant turn: its reasoning blocks, its text, then one `toolUse` block per tool call.
fn assistant_blocks(message: &ChatMessage) -> Result<Vec<ContentBlock>, ProviderError> {
    let mut blocks: Vec<ContentBlock> = ThinkingBlock::read(&message.extra)
        .map_err(|e| bad_request(format!("an assistant message's `thinking_blocks`: {e}")))?
        .into_iter()
        .flatten()
        .map(reasoning_block)
        .collect();
    if let Some(content) = &message.content {
        let text = content.joined_text();
        if !text.is_empty() {
            blocks.push(text_block(text));
        }
    }
    for call in message.tool_calls.iter().flatten() {
        let arguments = call.function.arguments.trim();
        let input = if arguments.is_empty() {
            Value::Object(Map::new())
        } else {
            match serde_json::from_str::<Value>(arguments) {
                Ok(value @ Value::Object(_)) => value,
                _ => {
                    return Err(bad_request(format!(
                        "the arguments of tool call `{}` are not a JSON object",
                        call.id
                    )));
                }
            }
        };
        blocks.push(ContentBlock {
            tool_use: Some(ToolUseBlock {
                tool_use_id: portable_tool_call_id(&call.id, Some(MAX_TOOL_USE_ID)).into_owned(),
                name: call.function.name.clone(),
                input,
            }),
            ..ContentBlock::default()
        });
    }
    Ok(blocks)
}

/// A thinking block as Converse's `reasoningContent`.
fn reasoning_block(block: ThinkingBlock) -> ContentBlock {
    let reasoning = match block {
        ThinkingBlock::Thinking {
            thinking,
            signature,
        } => ReasoningContentBlock {
            reasoning_text: Some(ReasoningText {
                text: thinking,
                signature,
            }),
            redacted_content: None,
        },
        ThinkingBlock::RedactedThinking { data } => ReasoningContentBlock {
            reasoning_text: None,
            redacted_content: Some(data),
        },
    };
    ContentBlock {
        reasoning_content: Some(reasoning),
        ..ContentBlock::default()
    }
}

/// The longest `toolUseId` Bedrock takes, with the pattern `^[a-zA-Z0-9_-]+$`
/// (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html>).
const MAX_TOOL_USE_ID: usize = 64;

/// A `tool` message as a `toolResult` block: a JSON object result as `json`, anything else as
/// `text`.
fn tool_result(message: &ChatMessage) -> Result<ContentBlock, ProviderError> {
    let tool_use_id = message
        .tool_call_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .map(|id| portable_tool_call_id(id, Some(MAX_TOOL_USE_ID)).into_owned())
        .ok_or_else(|| bad_request("a `tool` message needs the `tool_call_id` it answers"))?;
    let text = message
        .content
        .as_ref()
        .map(MessageContent::joined_text)
        .unwrap_or_default();
    let content = match serde_json::from_str::<Value>(&text) {
        Ok(object @ Value::Object(_)) => ToolResultContentBlock {
            json: Some(object),
            ..ToolResultContentBlock::default()
        },
        _ => ToolResultContentBlock {
            text: Some(text),
            ..ToolResultContentBlock::default()
        },
    };
    Ok(ContentBlock {
        tool_result: Some(ToolResultBlock {
            tool_use_id,
            content: vec![content],
        }),
        ..ContentBlock::default()
    })
}

fn inference_config(request: &ChatRequest) -> Option<InferenceConfiguration> {
    let config = InferenceConfiguration {
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        temperature: request.temperature,
        top_p: request.top_p,
        stop_sequences: request.stop.as_ref().map(|stop| match stop {
            Stop::One(one) => vec![one.clone()],
            Stop::Many(many) => many.clone(),
        }),
    };
    (config != InferenceConfiguration::default()).then_some(config)
}

/// `tools` and `tool_choice` as a `toolConfig`. Converse has no `none`: the tools are then left
/// out, unless the conversation already holds tool calls or results, which Bedrock refuses
/// without a `toolConfig`.
fn tool_config(
    request: &ChatRequest,
    has_tool_blocks: bool,
) -> Result<Option<ToolConfiguration>, ProviderError> {
    let Some(tools) = request.tools.as_deref().filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let tool_choice = match &request.tool_choice {
        None => None,
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Some(ToolChoice::Auto(Empty {})),
            "required" => Some(ToolChoice::Any(Empty {})),
            "none" if has_tool_blocks => None,
            "none" => return Ok(None),
            other => {
                return Err(bad_request(format!(
                    "`tool_choice` `{other}` is not one of `auto`, `required`, `none`"
                )));
            }
        },
        Some(Value::Object(named)) => {
            let name = named
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad_request("a named `tool_choice` needs `function.name`"))?;
            Some(ToolChoice::Tool(SpecificToolChoice {
                name: name.to_owned(),
            }))
        }
        Some(_) => return Err(bad_request("`tool_choice` must be a string or an object")),
    };
    Ok(Some(ToolConfiguration {
        tools: tools.iter().map(tool).collect::<Result<_, _>>()?,
        tool_choice,
    }))
}

fn tool(tool: &OpenAiTool) -> Result<Tool, ProviderError> {
    if tool.kind != "function" {
        return Err(bad_request(format!(
            "tools of type `{}` are not supported by Bedrock deployments",
            tool.kind
        )));
    }
    // Bedrock requires a schema; a function without parameters takes an empty object.
    let schema = tool
        .function
        .parameters
        .clone()
        .unwrap_or_else(OpenAiFunction::no_parameters);
    Ok(Tool {
        tool_spec: ToolSpecification {
            name: tool.function.name.clone(),
            description: tool.function.description.clone(),
            input_schema: ToolInputSchema { json: schema },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn translate(body: Value) -> Result<Value, ProviderError> {
        let request: ChatRequest = serde_json::from_value(body).expect("valid OpenAI request");
        let translated = converse_request(&request)?;
        Ok(serde_json::to_value(translated).expect("serializes"))
    }

    fn refused(body: Value) -> String {
        let err = translate(body).expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
        err.message
    }

    // Extended thinking with tool use on Bedrock
    // (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html):
    // `thinking` as `additionalModelRequestFields`, and the assistant turn's reasoning given back
    // first as `reasoningContent` blocks
    // (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlock.html).
    #[test]
    fn thinking_blocks_go_back_first_as_reasoning_content() {
        let sent = translate(json!({
            "model": "m",
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null,
                 "thinking_blocks": [
                    {"type": "thinking", "thinking": "Need the tool.", "signature": "c2ln"},
                    {"type": "redacted_thinking", "data": "RW13"}],
                 "tool_calls": [{"id": "tooluse_1", "type": "function",
                                 "function": {"name": "w", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "tooluse_1", "content": "15C"}
            ]
        }))
        .expect("translates");
        assert_eq!(
            sent["additionalModelRequestFields"],
            json!({"thinking": {"type": "enabled", "budget_tokens": 2000}})
        );
        assert_eq!(
            sent["messages"][1]["content"],
            json!([
                {"reasoningContent": {"reasoningText": {"text": "Need the tool.", "signature": "c2ln"}}},
                {"reasoningContent": {"redactedContent": "RW13"}},
                {"toolUse": {"toolUseId": "tooluse_1", "name": "w", "input": {}}}
            ])
        );
        let plain = translate(json!({"model": "m", "reasoning_effort": "high",
            "messages": [{"role": "user", "content": "hi"}]}))
        .expect("translates");
        assert!(
            plain.get("additionalModelRequestFields").is_none(),
            "{plain}"
        );
    }

    // Request syntax: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
    // (system, messages, inferenceConfig) and ContentBlock / ImageBlock:
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlock.html
    #[test]
    fn system_turns_images_and_settings_translate() {
        let body = translate(json!({
            "model": "m", "max_tokens": 50, "max_completion_tokens": 100, "temperature": 0.5,
            "top_p": 0.9, "stop": "END", "user": "u-1", "seed": 7, "n": 1,
            "response_format": {"type": "text"},
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "text", "text": ""},
                    {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/4AAQ"}}
                ]},
                {"role": "user", "content": "Quickly."},
                {"role": "assistant", "content": "Un chat."}
            ]
        }))
        .expect("translates");
        assert_eq!(
            body,
            json!({
                "system": [{"text": "Be brief."}, {"text": "Answer in French."}],
                "messages": [
                    {"role": "user", "content": [
                        {"text": "What is this?"},
                        {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}},
                        {"text": "Quickly."}
                    ]},
                    {"role": "assistant", "content": [{"text": "Un chat."}]}
                ],
                "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9,
                                    "stopSequences": ["END"]}
            })
        );
    }

    // Tool use: https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html
    // (ToolUseBlock, ToolResultBlock with json or text content, ToolSpecification, ToolChoice).
    #[test]
    fn tool_calls_and_results_translate_and_results_in_a_row_share_one_turn() {
        let body = translate(json!({
            "model": "m",
            "tools": [{"type": "function", "function": {"name": "top_song", "description": "Most popular song",
                       "parameters": {"type": "object", "properties": {"sign": {"type": "string"}}, "required": ["sign"]}}},
                      {"type": "function", "function": {"name": "now"}}],
            "tool_choice": "required",
            "messages": [
                {"role": "user", "content": "Top song on WZPZ, and the time?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "tooluse_1", "type": "function", "function": {"name": "top_song", "arguments": "{\"sign\":\"WZPZ\"}"}},
                    {"id": "tooluse_2", "type": "function", "function": {"name": "now", "arguments": ""}}]},
                {"role": "tool", "tool_call_id": "tooluse_1", "content": "{\"song\": \"Elemental Hotel\"}"},
                {"role": "tool", "tool_call_id": "tooluse_2", "content": "10:42"}
            ]
        }))
        .expect("translates");
        assert_eq!(
            body["messages"],
            json!([
                {"role": "user", "content": [{"text": "Top song on WZPZ, and the time?"}]},
                {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "top_song", "input": {"sign": "WZPZ"}}},
                    {"toolUse": {"toolUseId": "tooluse_2", "name": "now", "input": {}}}]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"song": "Elemental Hotel"}}]}},
                    {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "10:42"}]}}]}
            ])
        );
        assert_eq!(
            body["toolConfig"],
            json!({"tools": [
                {"toolSpec": {"name": "top_song", "description": "Most popular song",
                  "inputSchema": {"json": {"type": "object", "properties": {"sign": {"type": "string"}}, "required": ["sign"]}}}},
                {"toolSpec": {"name": "now", "inputSchema": {"json": {"type": "object", "properties": {}}}}}
            ], "toolChoice": {"any": {}}})
        );
        assert!(body.get("inferenceConfig").is_none());
        assert!(body.get("system").is_none());
    }

    // ToolChoice: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html
    #[test]
    fn tool_choice_maps_to_auto_any_tool_or_leaves_the_tools_out() {
        let with_choice = |choice: Value, messages: Value| {
            translate(
                json!({"model": "m", "messages": messages, "tool_choice": choice,
                             "tools": [{"type": "function", "function": {"name": "f"}}]}),
            )
            .expect("translates")
        };
        let question = json!([{"role": "user", "content": "hi"}]);
        assert_eq!(
            with_choice(json!("auto"), question.clone())["toolConfig"]["toolChoice"],
            json!({"auto": {}})
        );
        assert_eq!(
            with_choice(
                json!({"type": "function", "function": {"name": "f"}}),
                question.clone()
            )["toolConfig"]["toolChoice"],
            json!({"tool": {"name": "f"}})
        );
        assert!(
            with_choice(json!("none"), question)
                .get("toolConfig")
                .is_none()
        );
        let after_a_call = json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "ok"}
        ]);
        let body = with_choice(json!("none"), after_a_call);
        assert_eq!(body["toolConfig"]["tools"][0]["toolSpec"]["name"], "f");
        assert!(body["toolConfig"].get("toolChoice").is_none());
    }

    #[test]
    fn a_json_schema_response_format_becomes_converse_s_output_config() {
        // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_OutputConfig.html:
        // `outputConfig.textFormat`, `type` `json_schema`, `structure.jsonSchema.schema` a string.
        let schema = r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"],"additionalProperties":false}"#;
        let body = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "Paris?"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "City",
                "description": "a city", "strict": true,
                "schema": serde_json::from_str::<Value>(schema).expect("JSON")}}}),
        )
        .expect("translates");
        let mut config = body["outputConfig"].clone();
        let sent_schema = config["textFormat"]["structure"]["jsonSchema"]["schema"].take();
        assert_eq!(
            serde_json::from_str::<Value>(sent_schema.as_str().expect("a JSON string"))
                .expect("JSON"),
            serde_json::from_str::<Value>(schema).expect("JSON")
        );
        assert_eq!(
            config,
            json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
                "schema": null, "name": "City", "description": "a city"}}}})
        );
        let text = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "text"}}),
        )
        .expect("translates");
        assert!(text.get("outputConfig").is_none(), "{text}");
    }

    #[test]
    fn what_bedrock_cannot_take_is_refused_before_sending() {
        let user = |content: Value| json!({"model": "m", "messages": [{"role": "user", "content": content}]});
        let message = refused(user(
            json!([{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]),
        ));
        assert!(message.contains("data: URL"), "{message}");
        let message = refused(user(
            json!([{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]),
        ));
        assert!(message.contains("image/tiff"), "{message}");
        refused(user(
            json!([{"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]),
        ));
        let mut many = user(json!("hi"));
        many["n"] = json!(2);
        assert!(refused(many).contains("`n`"));
        let mut json_mode = user(json!("hi"));
        json_mode["response_format"] = json!({"type": "json_object"});
        assert!(refused(json_mode).contains("json_object"));
        let mut no_schema = user(json!("hi"));
        no_schema["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "x"}});
        assert!(refused(no_schema).contains("schema"));
        refused(json!({"model": "m", "messages": [
            {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}));
        refused(json!({"model": "m", "messages": [{"role": "tool", "content": "orphan"}]}));
        refused(
            json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]}),
        );
        refused(
            json!({"model": "m", "messages": [{"role": "system", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]}),
        );
        let mut bad_choice = user(json!("hi"));
        bad_choice["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
        bad_choice["tool_choice"] = json!("sometimes");
        refused(bad_choice);
    }
}
