//! Cohere's API v2 wire format, as far as the adapter sends and reads it: the Chat API
//! (<https://docs.cohere.com/reference/chat>, streamed: <https://docs.cohere.com/reference/chat-stream>)
//! and the Rerank API (<https://docs.cohere.com/reference/rerank>).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchyard_wire::RawJson;

/// `POST /v2/chat`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<RawJson>>,
    /// `REQUIRED` or `NONE`; absent lets the model choose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass (OpenAI's `top_p`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<Value>,
    /// `{"type": "json_object"}`, with a `json_schema` when the answer must follow one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
}

/// One message of a chat: `system`, `user`, `assistant` (text, or tool calls with their plan)
/// or `tool` (a tool's result).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Message {
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A message's content: a text, or parts (`text`, `image_url`).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<Value>),
}

/// A call of a tool, in a request's assistant message or an answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ToolCall {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionCall>,
}

/// The function a tool call calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FunctionCall {
    #[serde(default)]
    pub name: Option<String>,
    /// The arguments, JSON-encoded.
    #[serde(default)]
    pub arguments: Option<String>,
}

/// A chat answer.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChatResponse {
    pub id: String,
    /// `COMPLETE`, `STOP_SEQUENCE`, `MAX_TOKENS`, `TOOL_CALL`, `ERROR`, `TIMEOUT`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    pub message: AnswerMessage,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// The assistant's message of an answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AnswerMessage {
    #[serde(default)]
    pub content: Vec<ContentPart>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
}

/// One part of an answer's content; only `text` parts have text.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ContentPart {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// What a call counted: the billed tokens and the tokens the model read and wrote.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub billed_units: Option<Tokens>,
    #[serde(default)]
    pub tokens: Option<Tokens>,
}

/// Input and output tokens.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct Tokens {
    #[serde(default)]
    pub input_tokens: Option<f64>,
    #[serde(default)]
    pub output_tokens: Option<f64>,
}

/// One event of a chat stream (its `type` names it; the SSE `event:` line repeats it).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StreamEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub delta: Option<EventDelta>,
}

/// What an event adds.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct EventDelta {
    #[serde(default)]
    pub message: Option<DeltaMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// The message piece of an event.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct DeltaMessage {
    /// `content-start` and `content-delta`: `{"type": "text", "text": ...}`; `message-start`:
    /// an empty list.
    #[serde(default)]
    pub content: Option<Value>,
    /// `tool-call-start` and `tool-call-delta`: one call; `message-start`: an empty list.
    #[serde(default)]
    pub tool_calls: Option<Value>,
}

/// `POST /v2/rerank`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RerankRequest {
    pub model: String,
    pub query: String,
    /// Texts; structured documents as YAML (JSON is YAML) strings, as Cohere asks.
    pub documents: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<Value>,
}
