//! Image generation, `POST /v1/images/generations`: request and answer as OpenAI documents them
//! (<https://platform.openai.com/docs/api-reference/images/create>).

use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};
use crate::{Extra, RawExtra};

/// An image generation request; `size`, `quality`, `style`, `response_format`, ... stay in
/// `extra` and go upstream as they came.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ImageRequest {
    /// The model group asked for.
    pub model: String,
    /// What to draw.
    pub prompt: String,
    /// How many images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// The end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, passed through as it came.
    #[serde(flatten)]
    pub extra: RawExtra,
}

impl<'de> Deserialize<'de> for ImageRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl RequestObject for ImageRequest {
    const EXPECTING: &'static str = "an image generation request object";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut prompt, mut n, mut user) = (None, None, None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "prompt" => read_once(&mut prompt, "prompt", map),
            "n" => read_once(&mut n, "n", map),
            "user" => read_once(&mut user, "user", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            prompt: required(prompt, "prompt")?,
            n: n.flatten(),
            user: user.flatten(),
            extra,
        })
    }
}

/// Generated images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImagesResponse {
    /// Unix time of creation, in seconds.
    pub created: u64,
    /// One per image: `url` or `b64_json`, and `revised_prompt`.
    pub data: Vec<Value>,
    /// Token counts, for models that report them (`gpt-image-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ImageUsage>,
    /// Other fields, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The usage an image generation reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageUsage {
    /// Prompt tokens (text and image).
    pub input_tokens: u64,
    /// Image tokens generated.
    pub output_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Breakdowns, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}
