//! OpenAI chat requests into Cohere's Chat API v2 (<https://docs.cohere.com/reference/chat>)
//! and its answers back into chat completions.
//!
//! Cohere's v2 messages are close to OpenAI's: `system`, `user` (text and `image_url` parts),
//! `assistant` with `tool_calls` (`{id, type: "function", function: {name, arguments}}`) and
//! `tool` results by `tool_call_id`; its tools are OpenAI's function tools. What differs is
//! renamed: `top_p` is `p`, `stop` `stop_sequences`, `tool_choice` `REQUIRED`/`NONE` (a named
//! tool: `REQUIRED` with that tool alone), `response_format` `json_object` with an optional
//! `json_schema`. An answer's content is a list of parts, its `finish_reason` upper case, its
//! usage billed units and tokens.

use serde_json::{Value, json};
use switchyard_wire::{
    ChatMessage, ChatRequest, ChatResponse, Choice, FunctionCall, MessageContent, RawJson, Role,
    Stop, ToolCall, Usage,
};

use super::{FAMILY, wire};
use crate::translate::{RequestedFormat, requested_format, system_text};
use crate::{ErrorClass, ProviderError, unix_now};

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorClass::BadRequest, message)
}

/// Translates an OpenAI chat request into a v2 chat request for `model`.
pub(super) fn to_cohere(
    request: &ChatRequest,
    model: &str,
) -> Result<wire::ChatRequest, ProviderError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(bad_request(
            "Cohere's Chat API generates one choice per call; `n` must be 1",
        ));
    }
    let messages = request
        .messages
        .iter()
        .map(message)
        .collect::<Result<Vec<_>, _>>()?;
    let (tools, tool_choice) = tools(request)?;
    let response_format = match requested_format(request)? {
        RequestedFormat::Text => None,
        RequestedFormat::JsonObject => Some(json!({"type": "json_object"})),
        RequestedFormat::JsonSchema { schema, .. } => Some(match schema {
            Some(schema) => json!({"type": "json_object", "json_schema": schema}),
            None => json!({"type": "json_object"}),
        }),
    };
    Ok(wire::ChatRequest {
        model: model.to_owned(),
        messages,
        stream: None,
        tools,
        tool_choice,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        stop_sequences: request.stop.clone().map(|stop| match stop {
            Stop::One(one) => vec![one],
            Stop::Many(many) => many,
        }),
        temperature: request.temperature,
        p: request.top_p,
        seed: request.extra.value("seed"),
        frequency_penalty: request.extra.value("frequency_penalty"),
        presence_penalty: request.extra.value("presence_penalty"),
        response_format,
    })
}

fn message(message: &ChatMessage) -> Result<wire::Message, ProviderError> {
    let text_of = |message: &ChatMessage| {
        message
            .content
            .as_ref()
            .map(MessageContent::joined_text)
            .filter(|text| !text.is_empty())
            .map(wire::Content::Text)
    };
    Ok(match message.role {
        Role::System | Role::Developer => wire::Message {
            role: "system",
            content: system_text(message, FAMILY)?.map(wire::Content::Text),
            tool_calls: None,
            tool_call_id: None,
        },
        Role::User => wire::Message {
            role: "user",
            content: Some(user_content(message.content.as_ref())?),
            tool_calls: None,
            tool_call_id: None,
        },
        Role::Assistant => wire::Message {
            role: "assistant",
            content: text_of(message),
            tool_calls: message
                .tool_calls
                .as_ref()
                .filter(|calls| !calls.is_empty())
                .map(|calls| {
                    calls
                        .iter()
                        .map(|call| wire::ToolCall {
                            id: Some(call.id.clone()),
                            kind: Some("function".to_owned()),
                            function: Some(wire::FunctionCall {
                                name: Some(call.function.name.clone()),
                                arguments: Some(call.function.arguments.clone()),
                            }),
                        })
                        .collect()
                }),
            tool_call_id: None,
        },
        Role::Tool => wire::Message {
            role: "tool",
            content: Some(text_of(message).unwrap_or(wire::Content::Text(String::new()))),
            tool_calls: None,
            tool_call_id: Some(message.tool_call_id.clone().ok_or_else(|| {
                bad_request("a `tool` message needs the `tool_call_id` it answers")
            })?),
        },
        Role::Function => {
            return Err(bad_request(
                "Cohere takes tool results as `tool` messages, not legacy `function` ones",
            ));
        }
    })
}

/// A user message's content: its text, or its `text` and `image_url` parts.
fn user_content(content: Option<&MessageContent>) -> Result<wire::Content, ProviderError> {
    match content {
        None => Ok(wire::Content::Text(String::new())),
        Some(MessageContent::Text(text)) => Ok(wire::Content::Text(text.clone())),
        Some(MessageContent::Parts(parts)) => parts
            .iter()
            .map(|part| match part.kind.as_str() {
                "text" => {
                    Ok(json!({"type": "text", "text": part.text.clone().unwrap_or_default()}))
                }
                "image_url" => {
                    Ok(json!({"type": "image_url", "image_url": part.extra.get("image_url")}))
                }
                other => Err(bad_request(format!(
                    "Cohere's Chat API takes `text` and `image_url` parts, not `{other}`"
                ))),
            })
            .collect::<Result<Vec<Value>, _>>()
            .map(wire::Content::Parts),
    }
}

/// The tools (OpenAI's function tools, as Cohere takes them) and the `tool_choice`.
fn tools(
    request: &ChatRequest,
) -> Result<(Option<Vec<RawJson>>, Option<&'static str>), ProviderError> {
    let Some(tools) = request.tools.as_deref().filter(|t| !t.is_empty()) else {
        return Ok((None, None));
    };
    if let Some(tool) = tools.iter().find(|t| t.kind != "function") {
        return Err(bad_request(format!(
            "Cohere takes function tools only, not `{}`",
            tool.kind
        )));
    }
    let mut only: Option<&str> = None;
    let choice = match &request.tool_choice {
        None => None,
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => None,
            "required" => Some("REQUIRED"),
            "none" => Some("NONE"),
            other => {
                return Err(bad_request(format!(
                    "`tool_choice` `{other}` is not one of `auto`, `required`, `none`"
                )));
            }
        },
        Some(Value::Object(named)) => {
            only = Some(
                named
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad_request("a named `tool_choice` needs `function.name`"))?,
            );
            Some("REQUIRED")
        }
        Some(_) => return Err(bad_request("`tool_choice` must be a string or an object")),
    };
    let sent = tools
        .iter()
        .filter(|tool| only.is_none_or(|name| tool.function.name == name))
        .map(|tool| {
            RawJson::from_value(tool)
                .map_err(|e| bad_request(format!("a tool could not be written: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if sent.is_empty() {
        return Err(bad_request(
            "the function named by `tool_choice` is not among `tools`",
        ));
    }
    Ok((Some(sent), choice))
}

/// OpenAI's `finish_reason` for Cohere's.
pub(super) fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "TOOL_CALL" => "tool_calls",
        "ERROR_TOXIC" => "content_filter",
        _ => "stop",
    }
}

/// Usage from what Cohere bills (its `billed_units`), else the tokens it counted.
pub(super) fn usage(usage: &wire::Usage) -> Option<Usage> {
    let pick = |read: fn(&wire::Tokens) -> Option<f64>| {
        usage
            .billed_units
            .as_ref()
            .and_then(read)
            .or_else(|| usage.tokens.as_ref().and_then(read))
    };
    let input = pick(|t| t.input_tokens);
    let output = pick(|t| t.output_tokens);
    (input.is_some() || output.is_some()).then(|| {
        Usage::new(
            input.unwrap_or_default().max(0.0).round() as u64,
            output.unwrap_or_default().max(0.0).round() as u64,
        )
    })
}

/// A v2 chat answer as a chat completion from `model`.
pub(super) fn from_cohere(answer: wire::ChatResponse, model: &str) -> ChatResponse {
    let text: String = answer
        .message
        .content
        .iter()
        .filter(|part| part.kind == "text")
        .filter_map(|part| part.text.as_deref())
        .collect();
    let tool_calls: Vec<ToolCall> = answer
        .message
        .tool_calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| {
            let function = call.function.unwrap_or(wire::FunctionCall {
                name: None,
                arguments: None,
            });
            ToolCall {
                id: call.id.unwrap_or_else(|| format!("call_{i}")),
                kind: "function".to_owned(),
                function: FunctionCall {
                    name: function.name.unwrap_or_default(),
                    arguments: function.arguments.unwrap_or_else(|| "{}".to_owned()),
                },
            }
        })
        .collect();
    let mut message = ChatMessage::text(Role::Assistant, text);
    if !tool_calls.is_empty() {
        if message
            .content
            .as_ref()
            .is_some_and(|c| c.joined_text().is_empty())
        {
            message.content = None;
        }
        message.tool_calls = Some(tool_calls);
    }
    ChatResponse {
        id: answer.id,
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message,
            finish_reason: answer
                .finish_reason
                .as_deref()
                .map(|r| finish_reason(r).to_owned()),
            logprobs: None,
        }],
        usage: answer.usage.as_ref().and_then(usage),
        system_fingerprint: None,
        extra: Default::default(),
    }
}
