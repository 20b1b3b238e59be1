//! Moderations, `POST /v1/moderations`: request and answer as OpenAI documents them
//! (<https://platform.openai.com/docs/api-reference/moderations>).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::input::ModelInput;
use crate::{Extra, RawJson};

/// A moderation request: a text, texts, or multi-modal parts as `input`, as the client wrote
/// them. OpenAI lets `model` out (its default moderation model); a gateway routes by it, so it
/// is required here.
pub type ModerationRequest = ModelInput<RawJson>;

/// A moderation answer: one result per input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModerationResponse {
    /// The answer's id.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// Per input: `flagged`, `categories`, `category_scores`, ...
    pub results: Vec<Value>,
    /// Other fields, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}
