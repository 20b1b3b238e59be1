//! The response object (<https://platform.openai.com/docs/api-reference/responses/object>) and
//! the answer to deleting one
//! (<https://platform.openai.com/docs/api-reference/responses/delete>).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::item::Item;

/// A model response. Nullable fields are written as `null`, as the API does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Response {
    /// `resp_...`.
    pub id: String,
    /// Always `response`.
    pub object: String,
    /// Unix time of creation, in seconds.
    pub created_at: u64,
    /// `completed`, `failed`, `in_progress`, `cancelled`, `queued` or `incomplete`.
    pub status: String,
    /// The error, when the status is `failed`.
    pub error: Option<Value>,
    /// Why the response is `incomplete` (`{"reason": "max_output_tokens"}`).
    pub incomplete_details: Option<Value>,
    /// The request's instructions.
    pub instructions: Option<String>,
    /// The request's `max_output_tokens`.
    pub max_output_tokens: Option<u32>,
    /// The model that answered.
    pub model: String,
    /// What the model produced: messages, function calls, reasoning.
    pub output: Vec<Item>,
    /// Whether the model could call several tools at once.
    pub parallel_tool_calls: bool,
    /// The response this one continues.
    pub previous_response_id: Option<String>,
    /// The request's reasoning options.
    pub reasoning: Option<Value>,
    /// Whether the response is stored.
    pub store: bool,
    /// The request's temperature.
    pub temperature: Option<f64>,
    /// The request's text options (`{"format": {"type": "text"}}` by default).
    pub text: Value,
    /// The request's tool choice (`auto` by default).
    pub tool_choice: Value,
    /// The request's tools.
    pub tools: Vec<Value>,
    /// The request's nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Always `disabled` here: the gateway does not truncate conversations.
    pub truncation: String,
    /// Token counts.
    pub usage: Option<ResponseUsage>,
    /// The request's end user.
    pub user: Option<String>,
    /// The request's metadata (an empty object without).
    pub metadata: Value,
}

impl Response {
    /// The text of the output messages, joined: what the SDKs' `output_text` computes.
    pub fn output_text(&self) -> String {
        let mut text = String::new();
        for item in &self.output {
            if let Item::Message(message) = item {
                for part in &message.content {
                    if part.kind == "output_text"
                        && let Some(t) = &part.text
                    {
                        text.push_str(t);
                    }
                }
            }
        }
        text
    }
}

/// Token counts of a response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResponseUsage {
    /// Input tokens, cached ones included.
    pub input_tokens: u64,
    /// Breakdown of the input tokens.
    pub input_tokens_details: InputTokensDetails,
    /// Output tokens, reasoning included.
    pub output_tokens: u64,
    /// Breakdown of the output tokens.
    pub output_tokens_details: OutputTokensDetails,
    /// Their sum.
    pub total_tokens: u64,
}

/// Breakdown of input tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputTokensDetails {
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
}

/// Breakdown of output tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutputTokensDetails {
    /// Output tokens spent reasoning.
    pub reasoning_tokens: u64,
}

/// The answer to `DELETE /v1/responses/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedResponse {
    /// The deleted response's id.
    pub id: String,
    /// Always `response`.
    pub object: String,
    /// Always true.
    pub deleted: bool,
}
