//! Embeddings through Cohere's Embed API v2 (<https://docs.cohere.com/reference/embed>):
//! `{model, texts, input_type, embedding_types: ["float"]}` out, `{embeddings: {float: [...]},
//! meta: {billed_units: {input_tokens}}}` back. `input_type` is the request's own when it names
//! one, else `search_document`, as LiteLLM sends it
//! (<https://docs.litellm.ai/docs/providers/cohere>, "Embedding"); `dimensions` is Cohere's
//! `output_dimension`.

use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_wire::EmbeddingsRequest;

use crate::{ErrorClass, ProviderError};

/// The v2 body embedding `texts` for `model`.
pub(super) fn request(request: &EmbeddingsRequest, texts: &[String], model: &str) -> Value {
    let input_type = request
        .extra
        .value("input_type")
        .unwrap_or_else(|| json!("search_document"));
    let mut body = json!({"model": model, "texts": texts, "input_type": input_type,
        "embedding_types": ["float"]});
    if let Some(dimensions) = request.dimensions {
        body["output_dimension"] = json!(dimensions);
    }
    body
}

#[derive(Deserialize)]
struct Answer {
    embeddings: Embeddings,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct Embeddings {
    float: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    billed_units: Option<Billed>,
}

#[derive(Deserialize)]
struct Billed {
    #[serde(default)]
    input_tokens: Option<f64>,
}

/// The float vectors of an answer, one per text of the `count` sent, and the input tokens
/// Cohere billed when it says.
pub(super) fn answer(
    body: &[u8],
    count: usize,
) -> Result<(Vec<Vec<f32>>, Option<u64>), ProviderError> {
    let invalid = |detail: String| {
        ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("Cohere answered with a body that is not an embed answer: {detail}"),
        )
    };
    let answer: Answer = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if answer.embeddings.float.len() != count {
        return Err(invalid(format!(
            "{} vectors for {count} texts",
            answer.embeddings.float.len()
        )));
    }
    let tokens = answer
        .meta
        .and_then(|m| m.billed_units?.input_tokens)
        .map(|t| t.max(0.0).round() as u64);
    Ok((answer.embeddings.float, tokens))
}
