//! The Cohere adapter: `cohere/...` deployments (<https://docs.litellm.ai/docs/providers/cohere>)
//! on Cohere's API v2, with the key as a bearer token.
//!
//! Chat goes to `POST {api_base}/v2/chat` (<https://docs.cohere.com/reference/chat>), streamed
//! with `stream: true` as server-sent events (<https://docs.cohere.com/reference/chat-stream>);
//! rerank to `POST {api_base}/v2/rerank` (<https://docs.cohere.com/reference/rerank>), embeddings
//! to `POST {api_base}/v2/embed` (<https://docs.cohere.com/reference/embed>). Cohere's
//! error answers (`{"message": ...}`, <https://docs.cohere.com/reference/errors>) are classified
//! by status as OpenAI-compatible ones are. The modules translate each direction:
//!
//! - `chat`: chat requests and answers;
//! - `stream`: stream events into chat chunks, as they arrive;
//! - `rerank`: rerank requests and answers;
//! - `embed`: embeddings requests and answers;
//! - `wire`: Cohere's wire format.

mod chat;
mod embed;
mod rerank;
mod stream;
mod wire;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Uri};
use sse_stream::SseByteStream;
use switchyard_wire::{
    ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse, RerankRequest, RerankResponse,
};

use crate::http::{HttpClient, MAX_RESPONSE_BYTES, parse_uri};
use crate::mock::estimate_tokens;
use crate::translate::{embedding_texts, embeddings_answer};
use crate::{ChunkStream, ErrorClass, Provider, ProviderError};

/// The family name, LiteLLM's prefix.
pub const FAMILY: &str = "cohere";

/// Cohere's API, used when a deployment names no `api_base`.
pub const COHERE_API_BASE: &str = "https://api.cohere.com";

/// How to reach one Cohere deployment.
#[derive(Clone)]
pub struct CohereSettings {
    /// The model, such as `command-a-03-2025` or `rerank-english-v3.0`.
    pub model: String,
    /// The API's root, such as [`COHERE_API_BASE`]; a trailing `/v1` or `/v2` is accepted.
    pub api_base: String,
    /// The key, sent as `Authorization: Bearer`.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for CohereSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CohereSettings")
            .field("model", &self.model)
            .field("api_base", &self.api_base)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A deployment of a model on Cohere's API.
#[derive(Debug, Clone)]
pub struct Cohere {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: HttpClient,
    model: String,
    chat_uri: Uri,
    rerank_uri: Uri,
    embed_uri: Uri,
    /// `authorization`, when the deployment has a key.
    headers: HeaderMap,
}

impl Cohere {
    /// An adapter for one deployment, sending through the shared `client`.
    pub fn new(client: HttpClient, settings: CohereSettings) -> Result<Self, ProviderError> {
        let root = settings.api_base.trim_end_matches('/');
        let root = root
            .strip_suffix("/v2")
            .or_else(|| root.strip_suffix("/v1"))
            .unwrap_or(root);
        let mut headers = HeaderMap::new();
        if let Some(key) = settings.api_key.filter(|key| !key.is_empty()) {
            let mut value = HeaderValue::try_from(format!("Bearer {key}")).map_err(|_| {
                ProviderError::new(
                    ErrorClass::Authentication,
                    "the API key holds characters not allowed in an HTTP header",
                )
            })?;
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                model: settings.model,
                chat_uri: parse_uri(&format!("{root}/v2/chat"))?,
                rerank_uri: parse_uri(&format!("{root}/v2/rerank"))?,
                embed_uri: parse_uri(&format!("{root}/v2/embed"))?,
                headers,
            }),
        })
    }
}

impl Provider for Cohere {
    fn family(&self) -> &'static str {
        FAMILY
    }

    fn upstream_model(&self) -> &str {
        &self.inner.model
    }

    fn endpoint(&self) -> Option<&Uri> {
        Some(&self.inner.chat_uri)
    }

    fn supported_openai_params(&self) -> Vec<&'static str> {
        let mut params = crate::TRANSLATED_OPENAI_PARAMS.to_vec();
        params.extend([
            "seed",
            "frequency_penalty",
            "presence_penalty",
            "response_format",
        ]);
        params
    }

    fn chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        let translated = chat::to_cohere(&request, &inner.model);
        Box::pin(async move {
            let body = translated?;
            let answer: wire::ChatResponse = inner
                .client
                .post_json_ok(&inner.chat_uri, &inner.headers, &body)
                .await?
                .json()
                .await?;
            Ok(chat::from_cohere(answer, &inner.model))
        })
    }

    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        let translated = chat::to_cohere(&request, &inner.model);
        Box::pin(async move {
            let mut body = translated?;
            body.stream = Some(true);
            let response = inner
                .client
                .post_json_ok(&inner.chat_uri, &inner.headers, &body)
                .await?;
            Ok(stream::chunk_stream(
                SseByteStream::new(response.into_sse_stream()),
                inner.model.clone(),
            ))
        })
    }

    fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let (texts, encoding) = embedding_texts(&request, "Cohere")?;
            let body = embed::request(&request, &texts, &inner.model);
            let response = inner
                .client
                .post_json_ok(&inner.embed_uri, &inner.headers, &body)
                .await?;
            let bytes = response.bytes(MAX_RESPONSE_BYTES).await?;
            let (vectors, billed) = embed::answer(&bytes, texts.len())?;
            let tokens = billed.unwrap_or_else(|| texts.iter().map(|t| estimate_tokens(t)).sum());
            Ok(embeddings_answer(vectors, encoding, tokens, &inner.model))
        })
    }

    fn rerank(
        &self,
        request: RerankRequest,
    ) -> BoxFuture<'static, Result<RerankResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        let translated = rerank::to_cohere(request, &inner.model);
        Box::pin(async move {
            let (body, documents) = translated?;
            let answer: RerankResponse = inner
                .client
                .post_json_ok(&inner.rerank_uri, &inner.headers, &body)
                .await?
                .json()
                .await?;
            Ok(rerank::from_cohere(answer, documents.as_deref()))
        })
    }
}

#[cfg(test)]
mod fixture_tests;
