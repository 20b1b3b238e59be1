//! Rerank, `POST /v1/rerank` (LiteLLM's Cohere- and Jina-compatible API,
//! <https://docs.litellm.ai/docs/rerank>; Cohere's <https://docs.cohere.com/reference/rerank>):
//! `{model, query, documents, top_n}` in, `{results: [{index, relevance_score}], ...}` out.

use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};
use crate::{Extra, RawExtra, RawJson};

/// A rerank request.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RerankRequest {
    /// The model group asked for.
    pub model: String,
    /// What the documents are ranked against.
    pub query: String,
    /// The documents: texts, or objects as the client wrote them.
    pub documents: Vec<RawJson>,
    /// How many of the best to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Every other field (`return_documents`, `max_chunks_per_doc`, ...), passed through.
    #[serde(flatten)]
    pub extra: RawExtra,
}

impl<'de> Deserialize<'de> for RerankRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl RequestObject for RerankRequest {
    const EXPECTING: &'static str = "a rerank request object";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut query, mut documents, mut top_n) = (None, None, None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "query" => read_once(&mut query, "query", map),
            "documents" => read_once(&mut documents, "documents", map),
            "top_n" => read_once(&mut top_n, "top_n", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            query: required(query, "query")?,
            documents: required(documents, "documents")?,
            top_n: top_n.flatten(),
            extra,
        })
    }
}

/// A rerank answer: the documents' positions by relevance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RerankResponse {
    /// The answer's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The most relevant documents first.
    pub results: Vec<RerankResult>,
    /// Cohere's `meta` (`billed_units`, ...), passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// Other fields (Jina's `usage`, `model`, ...), passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One ranked document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RerankResult {
    /// Its position in the request's `documents`.
    pub index: u32,
    /// How relevant it is to the query, from 0 to 1.
    pub relevance_score: f64,
    /// The document, when asked for (`return_documents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}
