//! Chat completions: `POST /v1/chat/completions` request, response and stream chunk.

use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};
use crate::{Extra, RawExtra, RawJson};

/// A chat completion request as OpenAI defines it.
///
/// Fields the gateway reads are typed; every other field is kept in [`ChatRequest::extra`] and
/// sent on to OpenAI-compatible upstreams as it came.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ChatRequest {
    /// The model name the client asked for (a model group name in the gateway).
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Whether to answer as a server-sent event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options; `include_usage` asks for a final usage chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Legacy upper bound on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Upper bound on generated tokens, reasoning included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Number of choices to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// `none`, `auto`, `required` or a named function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Requested output format (`text`, `json_object`, `json_schema`), as the client wrote it;
    /// [`ChatRequest::read_response_format`] reads what adapters need of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<RawJson>,
    /// The end user, for abuse monitoring and per-user accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, passed through unchanged as the JSON text it came as.
    #[serde(flatten)]
    pub extra: RawExtra,
}

/// Read in one pass, each field the gateway does not know kept as its text ([`RawExtra`]).
impl<'de> Deserialize<'de> for ChatRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl RequestObject for ChatRequest {
    const EXPECTING: &'static str = "a chat completion request object";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut messages, mut stream, mut stream_options) = (None, None, None, None);
        let (mut max_tokens, mut max_completion_tokens, mut temperature, mut top_p) =
            (None, None, None, None);
        let (mut n, mut stop, mut tools, mut tool_choice) = (None, None, None, None);
        let (mut response_format, mut user) = (None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "messages" => read_once(&mut messages, "messages", map),
            "stream" => read_once(&mut stream, "stream", map),
            "stream_options" => read_once(&mut stream_options, "stream_options", map),
            "max_tokens" => read_once(&mut max_tokens, "max_tokens", map),
            "max_completion_tokens" => {
                read_once(&mut max_completion_tokens, "max_completion_tokens", map)
            }
            "temperature" => read_once(&mut temperature, "temperature", map),
            "top_p" => read_once(&mut top_p, "top_p", map),
            "n" => read_once(&mut n, "n", map),
            "stop" => read_once(&mut stop, "stop", map),
            "tools" => read_once(&mut tools, "tools", map),
            "tool_choice" => read_once(&mut tool_choice, "tool_choice", map),
            "response_format" => read_once(&mut response_format, "response_format", map),
            "user" => read_once(&mut user, "user", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            messages: required(messages, "messages")?,
            // Optional fields given as `null` read as absent, as with serde's derive.
            stream: stream.flatten(),
            stream_options: stream_options.flatten(),
            max_tokens: max_tokens.flatten(),
            max_completion_tokens: max_completion_tokens.flatten(),
            temperature: temperature.flatten(),
            top_p: top_p.flatten(),
            n: n.flatten(),
            stop: stop.flatten(),
            tools: tools.flatten(),
            tool_choice: tool_choice.flatten(),
            response_format: response_format.flatten(),
            user: user.flatten(),
            extra,
        })
    }
}

impl ChatRequest {
    /// A request to `model` of `messages`, every parameter left at the upstream's default.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        Self {
            model: model.into(),
            messages,
            stream: None,
            stream_options: None,
            max_tokens: None,
            max_completion_tokens: None,
            temperature: None,
            top_p: None,
            n: None,
            stop: None,
            tools: None,
            tool_choice: None,
            response_format: None,
            user: None,
            extra: RawExtra::new(),
        }
    }

    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The type of the requested output format, and the schema of a `json_schema` one: `None`
    /// without a `response_format`, an error when it is not an object with a string `type`.
    pub fn read_response_format(&self) -> Option<serde_json::Result<ResponseFormat>> {
        self.response_format.as_ref().map(RawJson::parse)
    }

    /// Whether the client asked for a final usage chunk on its stream.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// What adapters read of a `response_format`; the rest of it is ignored when read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResponseFormat {
    /// `text`, `json_object` or `json_schema`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The schema of a `json_schema` format.
    #[serde(default)]
    pub json_schema: Option<JsonSchemaFormat>,
}

/// The `json_schema` of a `response_format`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JsonSchemaFormat {
    /// The format's name (required by OpenAI; `[a-zA-Z0-9_-]`, at most 64 characters).
    #[serde(default)]
    pub name: Option<String>,
    /// What the format is for, for the model.
    #[serde(default)]
    pub description: Option<String>,
    /// The JSON Schema the answer must follow.
    #[serde(default)]
    pub schema: Option<RawJson>,
}

/// Options of a streamed answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StreamOptions {
    /// Send one more chunk, with empty `choices`, carrying the usage of the whole call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Other stream options, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One or several stop sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Stop {
    /// A single stop sequence.
    One(String),
    /// Several stop sequences.
    Many(Vec<String>),
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions from the application.
    System,
    /// Instructions from the application (the newer name for `system`).
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
    /// A legacy function result.
    Function,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Text or a list of typed parts; absent on assistant messages that only call tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls made by the assistant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Other message fields (`refusal`, `audio`, provider extensions), passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ChatMessage {
    /// A message holding plain text.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(MessageContent::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra: Extra::new(),
        }
    }
}

/// The message fields OpenAI's chat completions API defines in a request beyond `role`,
/// `content`, `name`, `tool_calls` and `tool_call_id`
/// (<https://platform.openai.com/docs/api-reference/chat/create>, `messages`): an assistant
/// message's `refusal`, `audio` (`{"id"}` of an earlier audio answer) and deprecated
/// `function_call`; no other role has more.
const OPENAI_ASSISTANT_MESSAGE_FIELDS: &[&str] = &["refusal", "audio", "function_call"];

impl ChatMessage {
    /// Drops what OpenAI's API does not define in a request message, as an OpenAI-compatible
    /// upstream must not see it: fields of answers that SDKs replay with the message (the
    /// OpenAI SDK's `parsed` from `.parse()`, `annotations`, `reasoning_content`, LiteLLM's
    /// `thinking_blocks`, ...), a `null` `audio` or `function_call`, and an empty `tool_calls`
    /// list, which OpenAI refuses.
    pub fn retain_openai_request_fields(&mut self) {
        let allowed: &[&str] = match self.role {
            Role::Assistant => OPENAI_ASSISTANT_MESSAGE_FIELDS,
            _ => &[],
        };
        self.extra.retain(|name, value| {
            allowed.contains(&name.as_str()) && !(value.is_null() && name != "refusal")
        });
        if self.tool_calls.as_ref().is_some_and(Vec::is_empty) {
            self.tool_calls = None;
        }
    }
}

/// The content of a message: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Typed parts (text, images, audio, files).
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text of the content: the string, or the text parts joined.
    pub fn joined_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Parts(parts) => {
                let mut out = String::new();
                for text in parts.iter().filter_map(|p| p.text.as_deref()) {
                    out.push_str(text);
                }
                out
            }
        }
    }
}

/// One part of a multi-part message (`text`, `image_url`, `input_audio`, `file`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContentPart {
    /// The part's type, such as `text` or `image_url`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The payload of other part types (`image_url`, `input_audio`, ...), passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function's signature.
    pub function: FunctionDefinition,
}

/// A callable function's name, description and JSON Schema parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionDefinition {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments, as the client wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<RawJson>,
    /// Whether the model must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl FunctionDefinition {
    /// The schema of no arguments, an empty object: what providers that require a schema
    /// take for a function without `parameters`.
    pub fn no_parameters() -> RawJson {
        serde_json::from_str(r#"{"type":"object","properties":{}}"#)
            .expect("a literal object is valid JSON")
    }
}

/// A call of a tool by the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolCall {
    /// The call's id, echoed by the tool message that answers it.
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    /// Which function, with which arguments.
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".to_owned()
}

/// A function name and its arguments as a JSON string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// The arguments, JSON-encoded.
    pub arguments: String,
}

/// A complete chat completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatResponse {
    /// Unique id of the completion.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix time of creation, in seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The generated choices.
    pub choices: Vec<Choice>,
    /// Token counts of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Other response fields, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One generated choice of a complete answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Choice {
    /// Position among the choices.
    pub index: u32,
    /// The generated message.
    pub message: ChatMessage,
    /// Why generation stopped: `stop`, `length`, `tool_calls`, `content_filter`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Log probabilities, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// Token counts of one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Breakdown of the prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Breakdown of the completion tokens (reasoning, audio, ...), passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<Value>,
    /// Of `prompt_tokens`, those written to the provider's prompt cache (Anthropic charges
    /// them at a premium): LiteLLM's Anthropic-only field of the usage object
    /// (<https://docs.litellm.ai/docs/completion/prompt_caching>).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
}

impl Usage {
    /// Of `completion_tokens`, those the model spent reasoning, when the upstream reports them
    /// (OpenAI's `completion_tokens_details.reasoning_tokens`,
    /// <https://platform.openai.com/docs/api-reference/chat/object>).
    pub fn reasoning_tokens(&self) -> Option<u64> {
        self.completion_tokens_details
            .as_ref()?
            .get("reasoning_tokens")?
            .as_u64()
    }

    /// Usage from prompt and completion counts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: None,
            completion_tokens_details: None,
            cache_creation_input_tokens: None,
        }
    }
}

/// Breakdown of prompt tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PromptTokensDetails {
    /// Prompt tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Other details, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One event of a streamed chat completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatChunk {
    /// Id of the completion; the same on every chunk.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Unix time of creation, in seconds.
    pub created: u64,
    /// The model that answers.
    pub model: String,
    /// Deltas of the choices; empty on the final usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Usage of the whole call, on the final chunk when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Other chunk fields, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The delta of one choice in a stream chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChunkChoice {
    /// Position among the choices.
    pub index: u32,
    /// What this chunk adds.
    pub delta: Delta,
    /// Set on the last chunk of the choice.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Log probabilities, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// What a stream chunk adds to a choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Delta {
    /// Set on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// More text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Pieces of tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// Other delta fields (`refusal`, `reasoning_content`, ...), passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A piece of a tool call in a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolCallDelta {
    /// Which tool call of the message this piece belongs to.
    pub index: u32,
    /// The call's id, on its first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, on its first piece.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (first piece) and a slice of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// A slice of a streamed function call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionCallDelta {
    /// The function's name, on the first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More of the JSON-encoded arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_request_fields_survive_a_round_trip() {
        let body = json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi", "cache_control": {"type": "ephemeral"}}],
            "reasoning_effort": "low",
            "seed": 7
        });
        let req: ChatRequest = serde_json::from_value(body.clone()).expect("valid request");
        assert_eq!(req.extra.value("reasoning_effort"), Some(json!("low")));
        assert_eq!(serde_json::to_value(&req).expect("serializes"), body);
    }

    #[test]
    fn tool_schemas_and_response_formats_pass_through_as_written() {
        let schema = r#"{"b": 1,  "a": [2.50, {"z": null}]}"#;
        let text = format!(
            r#"{{"model":"m","messages":[],"tools":[{{"type":"function","function":{{"name":"f","parameters":{schema}}}}}],
                "response_format":{{"type":"json_schema","json_schema":{{"name":"n","schema":{{"type":"object"}}}}}}}}"#
        );
        let req: ChatRequest = serde_json::from_str(&text).expect("valid request");
        let tools = req.tools.as_deref().expect("tools");
        let parameters = tools[0].function.parameters.as_ref().expect("parameters");
        assert_eq!(
            parameters.get(),
            schema,
            "spacing, order and number forms kept"
        );
        let sent = serde_json::to_string(&req).expect("serializes");
        assert!(
            sent.contains(&format!(r#""parameters":{schema}"#)),
            "{sent}"
        );
        let format = req
            .read_response_format()
            .expect("a format")
            .expect("readable");
        assert_eq!(format.kind, "json_schema");
        let schema = format.json_schema.and_then(|s| s.schema).expect("a schema");
        assert_eq!(schema.get(), r#"{"type":"object"}"#);

        let odd: ChatRequest = serde_json::from_value(
            json!({"model": "m", "messages": [], "response_format": "json"}),
        )
        .expect("any JSON is forwarded");
        assert!(odd.read_response_format().expect("a format").is_err());
        assert_eq!(
            FunctionDefinition::no_parameters()
                .parse::<Value>()
                .expect("JSON"),
            json!({"type": "object", "properties": {}})
        );
    }

    #[test]
    fn content_parts_keep_their_payload() {
        let body = json!({"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}
        ]});
        let msg: ChatMessage = serde_json::from_value(body.clone()).expect("valid message");
        let Some(MessageContent::Parts(parts)) = &msg.content else {
            panic!("parts expected, got {:?}", msg.content)
        };
        assert_eq!(parts[1].kind, "image_url");
        assert_eq!(
            msg.content.as_ref().map(|c| c.joined_text()).as_deref(),
            Some("what is this?")
        );
        assert_eq!(serde_json::to_value(&msg).expect("serializes"), body);
    }

    #[test]
    fn unknown_fields_stay_as_written_and_known_ones_read_as_with_serde_derive() {
        let text = r#"{"model":"m","messages":[],"vendor":{"b": [1,  2], "a": null},
            "temperature":null,"seed":7,"user":"u"}"#;
        let req: ChatRequest = serde_json::from_str(text).expect("valid request");
        assert_eq!(
            req.extra.get("vendor").map(RawJson::get),
            Some(r#"{"b": [1,  2], "a": null}"#)
        );
        assert_eq!(req.extra.len(), 2, "{:?}", req.extra);
        assert_eq!(req.temperature, None, "null reads as absent");
        assert_eq!(req.user.as_deref(), Some("u"));
        let again: ChatRequest =
            serde_json::from_str(&serde_json::to_string(&req).expect("serializes"))
                .expect("reads back");
        assert_eq!(again, req);

        for (body, error) in [
            (
                r#"{"model":"m","model":"n","messages":[]}"#,
                "duplicate field `model`",
            ),
            (r#"{"messages":[]}"#, "missing field `model`"),
            (r#"{"model":"m","messages":[],"n":"two"}"#, "invalid type"),
            (r#"["m", []]"#, "expected a chat completion request object"),
        ] {
            let err = serde_json::from_str::<ChatRequest>(body).expect_err(body);
            assert!(
                err.is_data() && err.to_string().contains(error),
                "{body}: {err}"
            );
        }
    }

    // What the OpenAI Python SDK sends back when an application appends the message that
    // `client.chat.completions.parse()` returned: the SDK-only `parsed`, and the answer's
    // `annotations` and `audio: null` (message fields:
    // https://platform.openai.com/docs/api-reference/chat/create).
    #[test]
    fn a_replayed_answer_keeps_only_the_fields_openai_defines_in_requests() {
        let mut replayed: ChatMessage = serde_json::from_value(json!({
            "role": "assistant", "content": "{\"city\":\"Paris\"}", "refusal": null,
            "parsed": {"city": "Paris"}, "annotations": [], "audio": null, "function_call": null,
            "tool_calls": [], "reasoning_content": "hmm",
            "thinking_blocks": [{"type": "thinking", "thinking": "hmm", "signature": "c2ln"}]
        }))
        .expect("valid message");
        replayed.retain_openai_request_fields();
        assert_eq!(
            serde_json::to_value(&replayed).expect("serializes"),
            json!({"role": "assistant", "content": "{\"city\":\"Paris\"}", "refusal": null})
        );
        let mut audio: ChatMessage = serde_json::from_value(json!({
            "role": "assistant", "audio": {"id": "audio_1"}, "name": "bot"
        }))
        .expect("valid message");
        let before = audio.clone();
        audio.retain_openai_request_fields();
        assert_eq!(audio, before, "documented fields stay");
        let mut user: ChatMessage = serde_json::from_value(json!({
            "role": "user", "content": "hi", "refusal": null, "parsed": 1
        }))
        .expect("valid message");
        user.retain_openai_request_fields();
        assert!(user.extra.is_empty(), "{:?}", user.extra);
    }

    #[test]
    fn missing_messages_is_an_error_naming_the_field() {
        let err =
            serde_json::from_value::<ChatRequest>(json!({"model": "m"})).expect_err("invalid");
        assert!(
            err.to_string().contains("missing field `messages`"),
            "{err}"
        );
    }

    #[test]
    fn usage_chunk_parses_with_empty_choices() {
        let chunk: ChatChunk = serde_json::from_value(json!({
            "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
              "prompt_tokens_details": {"cached_tokens": 1, "audio_tokens": 0}}
        }))
        .expect("valid chunk");
        let usage = chunk.usage.expect("usage present");
        assert_eq!(usage.total_tokens, 7);
        assert_eq!(
            usage.prompt_tokens_details.and_then(|d| d.cached_tokens),
            Some(1)
        );
    }

    #[test]
    fn stream_flags_default_to_off() {
        let req: ChatRequest =
            serde_json::from_value(json!({"model": "m", "messages": []})).expect("valid");
        assert!(!req.is_stream());
        assert!(!req.wants_stream_usage());
    }
}
