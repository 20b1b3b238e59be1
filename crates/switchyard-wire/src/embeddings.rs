//! Embeddings: `POST /v1/embeddings` request and response.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Extra;

/// An embeddings request as OpenAI defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingsRequest {
    /// The model name the client asked for.
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    /// Number of dimensions of the output, for models that support it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// The end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, passed through unchanged.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The input of an embeddings request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// One pre-tokenized text.
    Tokens(Vec<u32>),
    /// Several pre-tokenized texts.
    TokenBatches(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many embeddings the input asks for.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(_) | Self::Tokens(_) => 1,
            Self::Texts(texts) => texts.len(),
            Self::TokenBatches(batches) => batches.len(),
        }
    }

    /// Whether the input asks for no embedding at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An embeddings response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingsResponse {
    /// Always `list`.
    pub object: String,
    /// One embedding per input, in input order.
    pub data: Vec<Embedding>,
    /// The model that answered.
    pub model: String,
    /// Token counts.
    pub usage: EmbeddingUsage,
}

/// One embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Embedding {
    /// Always `embedding`.
    pub object: String,
    /// Position of the input it embeds.
    pub index: u32,
    /// The vector.
    pub embedding: EmbeddingVector,
}

/// A vector as floats, or base64 of little-endian f32 when asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// The vector as floats.
    Float(Vec<f32>),
    /// The vector as base64.
    Base64(String),
}

/// Token counts of an embeddings call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmbeddingUsage {
    /// Tokens in the input.
    pub prompt_tokens: u64,
    /// The same count, as OpenAI reports it.
    pub total_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_input_shape_parses() {
        for (input, len) in [
            (json!("one"), 1),
            (json!(["a", "b"]), 2),
            (json!([1, 2, 3]), 1),
            (json!([[1], [2], [3]]), 3),
        ] {
            let req: EmbeddingsRequest =
                serde_json::from_value(json!({"model": "m", "input": input})).expect("valid");
            assert_eq!(req.input.len(), len, "{input}");
        }
    }
}
