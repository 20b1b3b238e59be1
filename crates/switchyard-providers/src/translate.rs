//! Translation helpers every adapter for a non-OpenAI wire format shares.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_wire::{
    ChatChunk, ChatMessage, ChatRequest, ChunkChoice, Delta, Embedding, EmbeddingInput,
    EmbeddingUsage, EmbeddingVector, EmbeddingsRequest, EmbeddingsResponse, Extra,
    JsonSchemaFormat, MessageContent, RawJson,
};

use crate::{ErrorClass, ProviderError};

/// The output format a chat request asks for in `response_format`
/// (<https://platform.openai.com/docs/api-reference/chat/create>, `response_format`), read
/// once for adapters that translate it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RequestedFormat {
    /// Text: no `response_format`, or `{"type": "text"}`.
    Text,
    /// `{"type": "json_object"}`: any JSON object.
    JsonObject,
    /// `{"type": "json_schema", "json_schema": {"name", "description", "schema", "strict"}}`:
    /// JSON that follows `schema`, when given.
    JsonSchema {
        /// The format's name.
        name: Option<String>,
        /// What the format is for.
        description: Option<String>,
        /// The JSON Schema; OpenAI makes it optional.
        schema: Option<RawJson>,
    },
}

/// Reads the request's `response_format`: a `BadRequest` when it is not an object with a
/// `type` of `text`, `json_object` or `json_schema`.
pub(crate) fn requested_format(request: &ChatRequest) -> Result<RequestedFormat, ProviderError> {
    let Some(format) = request.read_response_format() else {
        return Ok(RequestedFormat::Text);
    };
    let format = format.map_err(|e| {
        ProviderError::new(ErrorClass::BadRequest, format!("`response_format`: {e}"))
    })?;
    match format.kind.as_str() {
        "text" => Ok(RequestedFormat::Text),
        "json_object" => Ok(RequestedFormat::JsonObject),
        "json_schema" => {
            let JsonSchemaFormat {
                name,
                description,
                schema,
            } = format.json_schema.ok_or_else(|| {
                ProviderError::new(
                    ErrorClass::BadRequest,
                    "`response_format` of type `json_schema` needs its `json_schema` object",
                )
            })?;
            Ok(RequestedFormat::JsonSchema {
                name,
                description,
                schema: schema.filter(|s| !s.is_null()),
            })
        }
        _ => Err(ProviderError::new(
            ErrorClass::BadRequest,
            "`response_format.type` must be `text`, `json_object` or `json_schema`",
        )),
    }
}

/// LiteLLM's `thinking` request parameter, in Anthropic's shape (`{"type": "enabled",
/// "budget_tokens"}`, <https://docs.litellm.ai/docs/reasoning_content>), for adapters whose
/// provider takes it (Anthropic, and Anthropic's models on Bedrock): `None` when absent, a
/// `BadRequest` when it is not an object.
pub(crate) fn requested_thinking(request: &ChatRequest) -> Result<Option<Value>, ProviderError> {
    match request.extra.value("thinking") {
        None | Some(Value::Null) => Ok(None),
        Some(thinking @ Value::Object(_)) => Ok(Some(thinking)),
        Some(_) => Err(ProviderError::new(
            ErrorClass::BadRequest,
            "`thinking` must be an object such as {\"type\": \"enabled\", \"budget_tokens\": 1024}",
        )),
    }
}

/// A tool call id as a provider with a stricter id format takes it: the id itself when it
/// matches `^[a-zA-Z0-9_-]+$` (Anthropic's `tool_use.id`, Bedrock's `toolUseId`) and fits
/// `max_len`, else `call_` and the base64url SHA-256 of the id (48 characters). The same id
/// always gives the same answer, so a call and the result that names it still match within a
/// request; ids of other providers (Gemini's, which carry a thought signature and run long)
/// survive a fallback mid-conversation.
pub(crate) fn portable_tool_call_id(id: &str, max_len: Option<usize>) -> Cow<'_, str> {
    let valid = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && max_len.is_none_or(|max| id.len() <= max);
    if valid {
        return Cow::Borrowed(id);
    }
    let mut short = String::from("call_");
    URL_SAFE_NO_PAD.encode_string(Sha256::digest(id.as_bytes()), &mut short);
    Cow::Owned(short)
}

/// The text of a system or developer message for providers whose system prompt holds text only:
/// `None` when it is empty, a `BadRequest` naming `provider` when it holds other parts.
pub(crate) fn system_text(
    message: &ChatMessage,
    provider: &str,
) -> Result<Option<String>, ProviderError> {
    let Some(content) = &message.content else {
        return Ok(None);
    };
    if let MessageContent::Parts(parts) = content
        && let Some(part) = parts.iter().find(|p| p.kind != "text")
    {
        return Err(ProviderError::new(
            ErrorClass::BadRequest,
            format!(
                "a system message may hold text only for {provider}, not `{}` parts",
                part.kind
            ),
        ));
    }
    let text = content.joined_text();
    Ok((!text.is_empty()).then_some(text))
}

/// How the client wants its embedding vectors (OpenAI's `encoding_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VectorEncoding {
    /// A list of floats (OpenAI's default).
    Float,
    /// Base64 of the little-endian `f32`s.
    Base64,
}

/// The texts of an embeddings request, in input order, and the encoding asked for, for
/// `provider`s that embed text only: pre-tokenized inputs and unknown encodings are refused.
pub(crate) fn embedding_texts(
    request: &EmbeddingsRequest,
    provider: &str,
) -> Result<(Vec<String>, VectorEncoding), ProviderError> {
    let texts = match &request.input {
        EmbeddingInput::Text(text) => vec![text.clone()],
        EmbeddingInput::Texts(texts) => texts.clone(),
        EmbeddingInput::Tokens(_) | EmbeddingInput::TokenBatches(_) => {
            return Err(ProviderError::new(
                ErrorClass::BadRequest,
                format!("{provider} embeds text only; token-array inputs are not supported"),
            ));
        }
    };
    let encoding = match request.encoding_format.as_deref() {
        None | Some("float") => VectorEncoding::Float,
        Some("base64") => VectorEncoding::Base64,
        Some(other) => {
            return Err(ProviderError::new(
                ErrorClass::BadRequest,
                format!("`encoding_format` must be `float` or `base64`, not `{other}`"),
            ));
        }
    };
    Ok((texts, encoding))
}

/// OpenAI's embeddings answer of `vectors` (one per input, in order) from `model`, encoded as
/// asked, with `tokens` of input.
pub(crate) fn embeddings_answer(
    vectors: Vec<Vec<f32>>,
    encoding: VectorEncoding,
    tokens: u64,
    model: &str,
) -> EmbeddingsResponse {
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, values)| Embedding {
            object: "embedding".to_owned(),
            index: index as u32,
            embedding: match encoding {
                VectorEncoding::Float => EmbeddingVector::Float(values),
                VectorEncoding::Base64 => EmbeddingVector::Base64(base64_f32_le(&values)),
            },
        })
        .collect();
    EmbeddingsResponse {
        object: "list".to_owned(),
        data,
        model: model.to_owned(),
        usage: EmbeddingUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }
}

/// OpenAI's base64 vector encoding: the little-endian bytes of each `f32`, base64-encoded.
fn base64_f32_le(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The chunks of one streamed answer, as adapters that translate a stream make them: each
/// with the answer's id, creation time and model.
#[derive(Debug, Clone)]
pub(crate) struct Chunks {
    /// The answer's id.
    pub id: String,
    /// The model that answers.
    pub model: String,
    /// When the answer began, in seconds since the epoch.
    pub created: u64,
}

impl Chunks {
    /// A chunk with `choices` (none, for the usage chunk that ends a stream).
    pub(crate) fn chunk(&self, choices: Vec<ChunkChoice>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage: None,
            system_fingerprint: None,
            extra: Extra::default(),
        }
    }

    /// A chunk of choice 0 adding `delta`, with the `finish_reason` of its last chunk.
    pub(crate) fn delta(&self, delta: Delta, finish_reason: Option<String>) -> ChatChunk {
        self.chunk(vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason,
            logprobs: None,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(value: serde_json::Value) -> ChatMessage {
        serde_json::from_value(value).expect("valid message")
    }

    fn format_of(value: serde_json::Value) -> Result<RequestedFormat, ProviderError> {
        let mut body = json!({"model": "m", "messages": []});
        body["response_format"] = value;
        requested_format(&serde_json::from_value(body).expect("valid request"))
    }

    // `response_format` shapes: https://platform.openai.com/docs/api-reference/chat/create and
    // the schema the OpenAI SDK's `.parse()` sends for a pydantic model
    // (https://platform.openai.com/docs/guides/structured-outputs).
    #[test]
    fn response_formats_read_as_openai_defines_them() {
        let plain: ChatRequest =
            serde_json::from_value(json!({"model": "m", "messages": []})).expect("valid");
        assert_eq!(requested_format(&plain).expect("ok"), RequestedFormat::Text);
        assert_eq!(
            format_of(json!({"type": "text"})).expect("ok"),
            RequestedFormat::Text
        );
        assert_eq!(
            format_of(json!({"type": "json_object"})).expect("ok"),
            RequestedFormat::JsonObject
        );
        let parsed = format_of(json!({"type": "json_schema", "json_schema": {
            "name": "City", "strict": true,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}},
                       "required": ["name"], "additionalProperties": false}}}))
        .expect("ok");
        let RequestedFormat::JsonSchema { name, schema, .. } = parsed else {
            panic!("json_schema expected, got {parsed:?}")
        };
        assert_eq!(name.as_deref(), Some("City"));
        assert!(schema.is_some_and(|s| s.get().contains("additionalProperties")));
        for bad in [
            json!("json"),
            json!({"type": "yaml"}),
            json!({"type": "json_schema"}),
        ] {
            let err = format_of(bad.clone()).expect_err("refused");
            assert_eq!(err.class, ErrorClass::BadRequest, "{bad}");
        }
    }

    #[test]
    fn tool_call_ids_are_kept_when_valid_and_shortened_stably_otherwise() {
        assert_eq!(
            portable_tool_call_id("toolu_01A-b", Some(64)),
            "toolu_01A-b"
        );
        let long = format!("call_{}_ts1_{}", "a".repeat(24), "Zm9v-_".repeat(50));
        assert_eq!(portable_tool_call_id(&long, None), long.as_str());
        let short = portable_tool_call_id(&long, Some(64));
        assert_eq!(short.len(), 48);
        assert_eq!(short, portable_tool_call_id(&long, Some(64)), "stable");
        for odd in ["call_0__thought__CiQ+/==", "fc.7", ""] {
            let fixed = portable_tool_call_id(odd, None);
            assert!(
                fixed.starts_with("call_")
                    && fixed
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{odd}: {fixed}"
            );
        }
        assert_ne!(
            portable_tool_call_id("a.b", None),
            portable_tool_call_id("a:b", None)
        );
    }

    #[test]
    fn system_text_joins_text_parts_and_refuses_others() {
        let parts = message(json!({"role": "system", "content": [
            {"type": "text", "text": "be "}, {"type": "text", "text": "brief"}]}));
        assert_eq!(
            system_text(&parts, "X").expect("text").as_deref(),
            Some("be brief")
        );
        let empty = message(json!({"role": "system", "content": ""}));
        assert_eq!(system_text(&empty, "X").expect("empty"), None);
        let image = message(json!({"role": "system", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}));
        let err = system_text(&image, "Gemini").expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
        assert!(err.message.contains("Gemini") && err.message.contains("image_url"));
    }
}
