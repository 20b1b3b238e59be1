//! The body of `POST /v1/responses`
//! (<https://platform.openai.com/docs/api-reference/responses/create>).

use schemars::JsonSchema;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::item::Item;
use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};
use crate::{Extra, RawExtra, RawJson};

/// A request to create a model response.
///
/// Fields the gateway reads are typed; every other field is kept in [`ResponsesRequest::extra`]
/// as the JSON text it came as.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ResponsesRequest {
    /// The model name the client asked for (a model group name in the gateway).
    pub model: String,
    /// Text, or a list of items (messages, function calls and their outputs, reasoning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<ResponseInput>,
    /// A system (developer) message put first in the model's context; not carried over by
    /// `previous_response_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<FunctionTool>>,
    /// `none`, `auto`, `required`, or `{"type": "function", "name": ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Whether the model may call several tools at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Upper bound on generated tokens, reasoning included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Text output options: the format (`text`, `json_object`, `json_schema`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Reasoning options of reasoning models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    /// Whether to keep the response for later retrieval (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// A stored response whose conversation this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Whether to answer as a server-sent event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Up to 16 string pairs attached to the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The end user, for abuse monitoring and per-user accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, kept as the JSON text it came as.
    #[serde(flatten)]
    pub extra: RawExtra,
}

/// Read in one pass, each field the gateway does not know kept as its text.
impl<'de> Deserialize<'de> for ResponsesRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl RequestObject for ResponsesRequest {
    const EXPECTING: &'static str = "a response request object";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut input, mut instructions, mut tools) = (None, None, None, None);
        let (mut tool_choice, mut parallel_tool_calls, mut max_output_tokens) = (None, None, None);
        let (mut temperature, mut top_p, mut text, mut reasoning) = (None, None, None, None);
        let (mut store, mut previous_response_id, mut stream) = (None, None, None);
        let (mut metadata, mut user) = (None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "input" => read_once(&mut input, "input", map),
            "instructions" => read_once(&mut instructions, "instructions", map),
            "tools" => read_once(&mut tools, "tools", map),
            "tool_choice" => read_once(&mut tool_choice, "tool_choice", map),
            "parallel_tool_calls" => {
                read_once(&mut parallel_tool_calls, "parallel_tool_calls", map)
            }
            "max_output_tokens" => read_once(&mut max_output_tokens, "max_output_tokens", map),
            "temperature" => read_once(&mut temperature, "temperature", map),
            "top_p" => read_once(&mut top_p, "top_p", map),
            "text" => read_once(&mut text, "text", map),
            "reasoning" => read_once(&mut reasoning, "reasoning", map),
            "store" => read_once(&mut store, "store", map),
            "previous_response_id" => {
                read_once(&mut previous_response_id, "previous_response_id", map)
            }
            "stream" => read_once(&mut stream, "stream", map),
            "metadata" => read_once(&mut metadata, "metadata", map),
            "user" => read_once(&mut user, "user", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            // Optional fields given as `null` read as absent, as with serde's derive.
            input: input.flatten(),
            instructions: instructions.flatten(),
            tools: tools.flatten(),
            tool_choice: tool_choice.flatten(),
            parallel_tool_calls: parallel_tool_calls.flatten(),
            max_output_tokens: max_output_tokens.flatten(),
            temperature: temperature.flatten(),
            top_p: top_p.flatten(),
            text: text.flatten(),
            reasoning: reasoning.flatten(),
            store: store.flatten(),
            previous_response_id: previous_response_id.flatten(),
            stream: stream.flatten(),
            metadata: metadata.flatten(),
            user: user.flatten(),
            extra,
        })
    }
}

impl ResponsesRequest {
    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Whether the response is to be stored: unless `store` is `false`, as the API defaults.
    pub fn is_stored(&self) -> bool {
        self.store.unwrap_or(true)
    }

    /// The input as items: a string is one user message.
    pub fn input_items(&self) -> Vec<Item> {
        match &self.input {
            None => Vec::new(),
            Some(ResponseInput::Text(text)) => vec![Item::user_text(text.clone())],
            Some(ResponseInput::Items(items)) => items.clone(),
        }
    }
}

/// The `input` of a request: text (one user message) or items.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ResponseInput {
    /// A user message's text.
    Text(String),
    /// The conversation as items.
    Items(Vec<Item>),
}

/// Read by what the value is, so that a bad item's own error (an unknown type, a missing
/// field) reaches the client, not "did not match any variant".
impl<'de> Deserialize<'de> for ResponseInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InputVisitor;

        impl<'de> Visitor<'de> for InputVisitor {
            type Value = ResponseInput;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of input items")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<ResponseInput, E> {
                Ok(ResponseInput::Text(text.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ResponseInput, A::Error> {
                Vec::<Item>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(ResponseInput::Items)
            }
        }

        deserializer.deserialize_any(InputVisitor)
    }
}

/// A tool of the request. Only function tools (`type: "function"`, flat: `name`, `parameters`
/// beside `type`) can be served by every provider; the other types (web search, file search,
/// computer use, ...) are kept as they came in `extra` so that the gateway can name them when
/// it refuses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionTool {
    /// `function`, or a built-in tool's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments, as the client wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<RawJson>,
    /// Whether the model must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Other fields (those of built-in tools).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `text`: options of the text output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TextConfig {
    /// The format the text must take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// Other options (`verbosity`), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `text.format`: `{"type": "text"}`, `{"type": "json_object"}`, or
/// `{"type": "json_schema", "name", "schema", "strict", "description"}` (flat, unlike chat's
/// `response_format.json_schema`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TextFormat {
    /// `text`, `json_object` or `json_schema`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The schema's name (`json_schema`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The JSON Schema (`json_schema`), as the client wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<RawJson>,
    /// Whether the output must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// What the format is for, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `reasoning`: the effort (`minimal`, `low`, `medium`, `high`) and summary options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReasoningConfig {
    /// How hard the model should reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// Whether and how to summarize the reasoning (`auto`, `concise`, `detailed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Other options, kept.
    #[serde(flatten)]
    pub extra: Extra,
}
