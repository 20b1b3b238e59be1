//! Moderations, `POST /v1/moderations`: request and answer as OpenAI documents them
//! (<https://platform.openai.com/docs/api-reference/moderations>).

use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};
use crate::{Extra, RawExtra, RawJson};

/// A moderation request. OpenAI lets `model` out (its default moderation model); a gateway
/// routes by it, so it is required here.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ModerationRequest {
    /// The model group asked for.
    pub model: String,
    /// A text, texts, or multi-modal parts, as the client wrote them.
    pub input: RawJson,
    /// Every other field, passed through as it came.
    #[serde(flatten)]
    pub extra: RawExtra,
}

impl<'de> Deserialize<'de> for ModerationRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl RequestObject for ModerationRequest {
    const EXPECTING: &'static str = "a moderation request object";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut input) = (None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "input" => read_once(&mut input, "input", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            input: required(input, "input")?,
            extra,
        })
    }
}

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
