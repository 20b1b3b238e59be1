//! Anthropic's Messages API (`POST /v1/messages`): request, response, stream events and error
//! body, as documented at <https://docs.anthropic.com/en/api/messages>,
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming> and
//! <https://docs.anthropic.com/en/api/errors>.
//!
//! One set of types serves both directions: the adapter that sends OpenAI-shaped calls to
//! Anthropic, and the gateway's own `/v1/messages` ingress. Fields the gateway reads are typed;
//! request fields it does not know are kept in `extra`, and content blocks, image sources and
//! deltas of types it does not know are kept whole as JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Extra, RawJson};

/// A Messages API request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessagesRequest {
    /// The model to answer with.
    pub model: String,
    /// The conversation so far: alternating `user` and `assistant` turns.
    pub messages: Vec<InputMessage>,
    /// Upper bound on generated tokens; the API requires it.
    pub max_tokens: u32,
    /// The system prompt: a string or text blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    /// Custom sequences that stop generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Sampling temperature, 0.0 to 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Sample only from the K most likely tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Whether to answer as a server-sent event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDefinition>>,
    /// How the model may use the tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Request metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Every other field (`thinking`, `service_tier`, ...), kept as it came.
    #[serde(flatten)]
    pub extra: Extra,
}

impl MessagesRequest {
    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }
}

/// Who wrote a message of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    /// The end user (tool results come back in user turns too).
    User,
    /// The model.
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputMessage {
    /// Who wrote it.
    pub role: MessageRole,
    /// A string, or content blocks.
    pub content: Content,
}

/// The content of a turn: a string (one text block) or a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Typed blocks.
    Blocks(Vec<ContentBlock>),
}

impl Content {
    /// The content as blocks: a string becomes one text block.
    pub fn into_blocks(self) -> Vec<ContentBlock> {
        match self {
            Self::Text(text) => vec![ContentBlock::text(text)],
            Self::Blocks(blocks) => blocks,
        }
    }
}

/// The system prompt: a string or text blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SystemPrompt {
    /// Plain text.
    Text(String),
    /// Text blocks, which may carry `cache_control`.
    Blocks(Vec<ContentBlock>),
}

impl SystemPrompt {
    /// The prompt's text: the string, or the text blocks joined by newlines.
    pub fn joined_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Blocks(blocks) => blocks
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::Text { text, .. } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// A content block of a request or response, told apart by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Other fields (`cache_control`, `citations`), kept.
        #[serde(flatten)]
        extra: Extra,
    },
    /// An image.
    Image {
        /// Where the image's bytes are.
        source: ImageSource,
        /// Other fields (`cache_control`), kept.
        #[serde(flatten)]
        extra: Extra,
    },
    /// A call of a tool by the model.
    ToolUse {
        /// The call's id, echoed by the `tool_result` that answers it.
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments, a JSON object.
        input: Value,
        /// Other fields, kept.
        #[serde(flatten)]
        extra: Extra,
    },
    /// The result of a tool call, sent back in a user turn.
    ToolResult {
        /// The `tool_use` block this answers.
        tool_use_id: String,
        /// The result: a string or blocks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Content>,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
        /// Other fields (`cache_control`), kept.
        #[serde(flatten)]
        extra: Extra,
    },
    /// The model's extended thinking.
    Thinking {
        /// The thinking text.
        thinking: String,
        /// An opaque signature to pass back unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        /// Other fields, kept.
        #[serde(flatten)]
        extra: Extra,
    },
    /// A block of a type the gateway does not read (`document`, `redacted_thinking`, server
    /// tool blocks, ...), kept whole.
    #[serde(untagged)]
    Other(Value),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            extra: Extra::new(),
        }
    }

    /// The block's `type`, as the API names it.
    pub fn kind(&self) -> &str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::ToolUse { .. } => "tool_use",
            Self::ToolResult { .. } => "tool_result",
            Self::Thinking { .. } => "thinking",
            Self::Other(value) => value
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown"),
        }
    }
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline, base64-encoded.
    Base64 {
        /// `image/jpeg`, `image/png`, `image/gif` or `image/webp`.
        media_type: String,
        /// The base64-encoded bytes.
        data: String,
    },
    /// At a URL the provider fetches.
    Url {
        /// The image's URL.
        url: String,
    },
    /// A source of another type (`file`, ...), kept whole.
    #[serde(untagged)]
    Other(Value),
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolDefinition {
    /// The tool's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its input, as the client wrote it; absent on server tools, which name a
    /// `type` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<RawJson>,
    /// Other fields (`type`, `cache_control`, ...), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ToolDefinition {
    /// Whether this is a tool the client runs (`type` absent or `custom`), rather than one of
    /// Anthropic's server tools (`web_search_20250305`, ...).
    pub fn is_custom(&self) -> bool {
        matches!(
            self.extra.get("type").and_then(Value::as_str),
            None | Some("custom")
        )
    }
}

/// How the model may use the tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto {
        /// At most one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call some tool.
    Any {
        /// Exactly one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model must call the named tool.
    Tool {
        /// The tool to call.
        name: String,
        /// Exactly one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// The model may not call tools.
    None,
}

/// Request metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metadata {
    /// An opaque id of the end user, for abuse detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Other metadata, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A complete answer; also the `message` of a stream's `message_start` event, with empty
/// `content` and no `stop_reason` yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessagesResponse {
    /// Unique id of the message (`msg_...`).
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `assistant`.
    pub role: MessageRole,
    /// The generated blocks.
    pub content: Vec<ContentBlock>,
    /// The model that answered.
    pub model: String,
    /// Why generation stopped: `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`,
    /// `pause_turn`, `refusal`, ...; null at the start of a stream.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The custom stop sequence that was generated, if one was.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Token counts.
    pub usage: Usage,
    /// Other fields (`container`, `stop_details`, ...), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Token counts of a complete answer. The prompt's total is `input_tokens` plus both cache
/// counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// Prompt tokens neither read from nor written to the prompt cache.
    pub input_tokens: u64,
    /// Tokens generated.
    pub output_tokens: u64,
    /// Prompt tokens written to the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Prompt tokens read from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Other counts (`server_tool_use`, `service_tier`, ...), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One event of a streamed answer, told apart by its `type` (which the SSE `event:` name
/// repeats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The message, with empty content; the prompt's token counts.
    MessageStart {
        /// The message so far.
        message: MessagesResponse,
    },
    /// A content block begins at `index`.
    ContentBlockStart {
        /// Position of the block in the message's content.
        index: u32,
        /// The block, with empty text or input.
        content_block: ContentBlock,
    },
    /// More of the block at `index`.
    ContentBlockDelta {
        /// Position of the block in the message's content.
        index: u32,
        /// What is added.
        delta: BlockDelta,
    },
    /// The block at `index` is complete.
    ContentBlockStop {
        /// Position of the block in the message's content.
        index: u32,
    },
    /// Message-level changes: the stop reason and cumulative usage.
    MessageDelta {
        /// The stop reason and sequence.
        delta: MessageDelta,
        /// Cumulative token counts.
        usage: DeltaUsage,
    },
    /// The message is complete; the last event of a stream.
    MessageStop,
    /// Keep-alive, carries nothing.
    Ping,
    /// A failure mid-stream, such as `overloaded_error`.
    Error {
        /// What went wrong.
        error: ErrorDetail,
    },
}

impl StreamEvent {
    /// Every event `type` the gateway reads; events of other types may be skipped, as the
    /// API's versioning policy asks of clients.
    pub const KNOWN_TYPES: [&'static str; 8] = [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    ];

    /// The event's `type`, which is also its SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Ping => "ping",
            Self::Error { .. } => "error",
        }
    }
}

/// What a `content_block_delta` adds, told apart by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// More text of a text block.
    TextDelta {
        /// The added text.
        text: String,
    },
    /// More of a tool call's input, as a slice of its JSON text.
    InputJsonDelta {
        /// The added JSON text (not valid JSON on its own).
        partial_json: String,
    },
    /// More of a thinking block.
    ThinkingDelta {
        /// The added thinking text.
        thinking: String,
    },
    /// The signature of a thinking block, just before it stops.
    SignatureDelta {
        /// The opaque signature.
        signature: String,
    },
    /// A delta of another type (`citations_delta`, ...), kept whole.
    #[serde(untagged)]
    Other(Value),
}

/// The message-level part of a `message_delta` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MessageDelta {
    /// Why generation stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The custom stop sequence that was generated, if one was.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Other fields, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Cumulative token counts of a `message_delta` event; counts it omits keep the value
/// `message_start` gave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeltaUsage {
    /// Tokens generated so far.
    pub output_tokens: u64,
    /// Prompt tokens outside the cache, when restated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Prompt tokens written to the cache, when restated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Prompt tokens read from the cache, when restated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Other counts, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of an error answer: `{"type": "error", "error": {"type", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong.
    pub error: ErrorDetail,
    /// The provider's id of the failed request, when it gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// An error body of a type (`invalid_request_error`, `overloaded_error`, ...).
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: "error".to_owned(),
            error: ErrorDetail {
                kind: kind.into(),
                message: message.into(),
            },
            request_id: None,
        }
    }
}

/// What went wrong, in Anthropic's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// The error type: `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `request_too_large`, `rate_limit_error`, `api_error`,
    /// `overloaded_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// A sentence for a person.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Request shapes from https://docs.anthropic.com/en/api/messages (body parameters) and
    // https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview (tool_result).
    #[test]
    fn a_request_with_every_kind_of_block_round_trips() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "What's the weather?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "15 degrees", "is_error": false},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}
                ]}
            ],
            "stop_sequences": ["\n\nHuman:"],
            "temperature": 0.5, "top_p": 0.9, "top_k": 40, "stream": true,
            "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}},
                      {"type": "web_search_20250305", "name": "web_search"}],
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
            "metadata": {"user_id": "u-1"},
            "thinking": {"type": "enabled", "budget_tokens": 2000}
        });
        let request: MessagesRequest = serde_json::from_value(body.clone()).expect("valid");
        assert_eq!(serde_json::to_value(&request).expect("serializes"), body);
        assert!(request.is_stream());
        assert_eq!(request.extra["thinking"]["budget_tokens"], 2000);
        let Content::Blocks(blocks) = &request.messages[1].content else {
            panic!("blocks expected")
        };
        assert_eq!(blocks[1].kind(), "redacted_thinking");
        assert!(matches!(&blocks[2], ContentBlock::ToolUse { name, .. } if name == "get_weather"));
        let tools = request.tools.as_ref().expect("tools");
        assert!(tools[0].is_custom() && !tools[1].is_custom());
        assert_eq!(
            request.system.as_ref().map(SystemPrompt::joined_text),
            Some("be brief".to_owned())
        );
    }

    // `max_tokens` is required: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn a_request_without_max_tokens_is_refused_naming_the_field() {
        let err = serde_json::from_value::<MessagesRequest>(
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .expect_err("max_tokens is required");
        assert!(err.to_string().contains("max_tokens"), "{err}");
    }

    // Event shapes from https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[test]
    fn stream_events_parse_by_type_and_report_their_name() {
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                "content": [], "model": "claude", "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 1, "content_block":
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {}}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 89}}),
            json!({"type": "message_stop"}),
            json!({"type": "ping"}),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ];
        for value in events {
            let event: StreamEvent = serde_json::from_value(value.clone()).expect("valid event");
            assert_eq!(event.name(), value["type"]);
            assert!(StreamEvent::KNOWN_TYPES.contains(&event.name()));
            assert_eq!(serde_json::to_value(&event).expect("serializes"), value);
        }
    }

    // Error shape: https://docs.anthropic.com/en/api/errors.
    #[test]
    fn error_bodies_have_the_documented_shape() {
        let body = ErrorBody::new("not_found_error", "no such model");
        assert_eq!(
            serde_json::to_value(&body).expect("serializes"),
            json!({"type": "error", "error": {"type": "not_found_error", "message": "no such model"}})
        );
    }
}
