//! Rerank through Cohere's Rerank API v2 (<https://docs.cohere.com/reference/rerank>):
//! `{model, query, documents, top_n, max_tokens_per_doc}` out, `{id, results: [{index,
//! relevance_score}], meta: {billed_units: {search_units}}}` back, which is already the shape
//! LiteLLM's `/rerank` answers (<https://docs.litellm.ai/docs/rerank>).
//!
//! API v2 takes documents as texts only and returns none; a structured document (an object)
//! is sent as its `text` when it has one, else as its JSON text (which is YAML, the form
//! Cohere asks structured data in), and `return_documents: true` is answered here by putting
//! each ranked document (`{"text": ...}`) back into its result. v1's `rank_fields` and
//! `max_chunks_per_doc` have no v2 counterpart and are not sent.

use serde_json::{Value, json};
use switchyard_wire::{RawJson, RerankRequest, RerankResponse};

use super::wire;
use crate::{ErrorClass, ProviderError};

/// The v2 request for `request` sent to `model`, and the documents' texts when the client
/// asked for them back.
pub(super) fn to_cohere(
    mut request: RerankRequest,
    model: &str,
) -> Result<(wire::RerankRequest, Option<Vec<String>>), ProviderError> {
    let documents = request
        .documents
        .iter()
        .map(document_text)
        .collect::<Result<Vec<_>, _>>()?;
    let return_documents = request
        .extra
        .take_value("return_documents")
        .is_some_and(|v| v == Value::Bool(true));
    let max_tokens_per_doc = request.extra.take_value("max_tokens_per_doc");
    let body = wire::RerankRequest {
        model: model.to_owned(),
        query: request.query,
        documents: documents.clone(),
        top_n: request.top_n,
        max_tokens_per_doc,
    };
    Ok((body, return_documents.then_some(documents)))
}

/// The answer, each result given its document when `documents` holds them.
pub(super) fn from_cohere(
    mut answer: RerankResponse,
    documents: Option<&[String]>,
) -> RerankResponse {
    if let Some(documents) = documents {
        for result in &mut answer.results {
            if let Some(text) = documents.get(result.index as usize) {
                result.document = Some(json!({ "text": text }));
            }
        }
    }
    answer
}

/// A document as v2 takes it: a text as it is, an object as its `text` or its JSON.
fn document_text(document: &RawJson) -> Result<String, ProviderError> {
    let value: Value = document
        .parse()
        .map_err(|e| ProviderError::new(ErrorClass::BadRequest, format!("`documents`: {e}")))?;
    match value {
        Value::String(text) => Ok(text),
        Value::Object(fields) => match fields.get("text") {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Ok(Value::Object(fields).to_string()),
        },
        _ => Err(ProviderError::new(
            ErrorClass::BadRequest,
            "each of `documents` must be a text or an object",
        )),
    }
}
