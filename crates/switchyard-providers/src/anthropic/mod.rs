//! The Anthropic adapter: `anthropic/claude-...` deployments, reached through the Messages API
//! (`POST {api_base}/v1/messages`, <https://docs.anthropic.com/en/api/messages>).
//!
//! OpenAI-shaped calls are translated on the way out ([`request`]) and answers on the way back
//! ([`response`], and [`stream`] event by event as they arrive); Anthropic's error bodies are
//! classified in [`error`]. Anthropic has no embeddings API, so embeddings calls fail with a
//! bad request. The same adapter serves Anthropic's models on Vertex AI ([`crate::vertex`]),
//! with the body and methods `vertex` describes and an OAuth2 bearer token.

pub mod native;
pub mod request;
pub mod response;
pub mod stream;

mod error;
pub(crate) mod vertex;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};
use native::TokenCount;
use sse_stream::SseByteStream;
use switchyard_wire::anthropic::MessagesResponse;
use switchyard_wire::{ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse};

use self::vertex::VertexMethods;
use crate::credentials::{TokenCache, authorize};
use crate::http::{HttpClient, MAX_RESPONSE_BYTES, UpstreamResponse, parse_uri};
use crate::native::{EventStream, NativeAnswer, NativeApi, NativeRequest};
use crate::{ChunkStream, ErrorClass, Provider, ProviderError};

/// Anthropic's API, used when a deployment names no `api_base`.
pub const ANTHROPIC_API_BASE: &str = "https://api.anthropic.com";
/// The `anthropic-version` header every call carries.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// How to reach one Anthropic deployment.
#[derive(Clone)]
pub struct AnthropicSettings {
    /// The model name Anthropic knows, such as `claude-sonnet-4-5`.
    pub model: String,
    /// Base URL without the `/v1` path, such as `https://api.anthropic.com`.
    pub api_base: String,
    /// The key sent as `x-api-key`.
    pub api_key: Option<String>,
    /// Headers every call carries besides the key and version (`extra_headers`).
    pub extra_headers: Vec<(String, String)>,
}

impl std::fmt::Debug for AnthropicSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicSettings")
            .field("model", &self.model)
            .field("api_base", &self.api_base)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A deployment of a Claude model on Anthropic's API.
#[derive(Debug, Clone)]
pub struct Anthropic {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: HttpClient,
    model: String,
    messages_uri: Uri,
    count_tokens_uri: Uri,
    /// `anthropic-version`, and `x-api-key` when the deployment has a key.
    headers: HeaderMap,
    /// On Vertex AI: the model's methods, which replace the Messages API's URLs.
    vertex: Option<VertexMethods>,
    /// Vertex AI's OAuth2 tokens, sent as `Authorization: Bearer`.
    tokens: Option<Arc<TokenCache>>,
}

impl Anthropic {
    /// An adapter for one deployment, sending through the shared `client`.
    pub fn new(client: HttpClient, settings: AnthropicSettings) -> Result<Self, ProviderError> {
        let messages_uri = parse_uri(&format!(
            "{}/v1/messages",
            settings.api_base.trim_end_matches('/')
        ))?;
        let count_tokens_uri = parse_uri(&format!(
            "{}/v1/messages/count_tokens",
            settings.api_base.trim_end_matches('/')
        ))?;
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(key) = settings.api_key.filter(|key| !key.is_empty()) {
            let mut value = HeaderValue::try_from(key).map_err(|_| {
                ProviderError::new(
                    ErrorClass::Authentication,
                    "the API key holds characters not allowed in an HTTP header",
                )
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("x-api-key"), value);
        }
        crate::http::add_extra_headers(&mut headers, &settings.extra_headers)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                model: settings.model,
                messages_uri,
                count_tokens_uri,
                headers,
                vertex: None,
                tokens: None,
            }),
        })
    }

    /// A Claude model on Vertex AI: `model_url` is the model's resource URL
    /// (`{base}/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}`), calls carry
    /// a bearer token from `tokens`.
    pub(crate) fn on_vertex(
        client: HttpClient,
        model: &str,
        model_url: &str,
        tokens: Arc<TokenCache>,
    ) -> Result<Self, ProviderError> {
        let vertex = VertexMethods::new(model_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                model: model.to_owned(),
                // Unused: `vertex` chooses the method of every call, and Vertex AI deployments
                // count no tokens.
                messages_uri: parse_uri(&format!("{model_url}:rawPredict"))?,
                count_tokens_uri: parse_uri(&format!("{model_url}:rawPredict"))?,
                headers: HeaderMap::new(),
                vertex: Some(vertex),
                tokens: Some(tokens),
            }),
        })
    }
}

impl Inner {
    /// Sends a Messages request; answers with a status >= 400 become classified errors.
    async fn post<T: serde::Serialize>(&self, body: &T) -> Result<UpstreamResponse, ProviderError> {
        match &self.vertex {
            Some(vertex) => {
                let (uri, body) = vertex.request(vertex::fields(body)?)?;
                self.send(uri, &self.headers, &body).await
            }
            None => self.send(&self.messages_uri, &self.headers, body).await,
        }
    }

    /// POSTs `body` with `headers` and the deployment's token, if it has one.
    async fn send<T: serde::Serialize>(
        &self,
        uri: &Uri,
        headers: &HeaderMap,
        body: &T,
    ) -> Result<UpstreamResponse, ProviderError> {
        let headers = authorize(headers, self.tokens.as_deref()).await?;
        let response = self.client.post_json(uri, &headers, body).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error::error_from_response(response).await)
        }
    }

    /// Sends a client's Messages body to `uri` as it came, its model replaced by the
    /// deployment's (a wildcard deployment keeps the one the gateway resolved), with the
    /// client's `anthropic-version` and `anthropic-beta` over the deployment's own.
    async fn post_native(
        &self,
        uri: &Uri,
        mut request: NativeRequest,
    ) -> Result<UpstreamResponse, ProviderError> {
        if !crate::is_wildcard(&self.model) {
            request.set_model(&self.model);
        }
        let mut headers = self.headers.clone();
        for (name, _) in &request.headers {
            headers.remove(name);
        }
        for (name, value) in request.headers {
            headers.append(name, value);
        }
        match &self.vertex {
            Some(vertex) => {
                let (uri, body) = vertex.request(request.body)?;
                self.send(uri, &headers, &body).await
            }
            None => self.send(uri, &headers, &request.body).await,
        }
    }
}

impl Provider for Anthropic {
    fn family(&self) -> &'static str {
        if self.inner.vertex.is_some() {
            "vertex_ai"
        } else {
            "anthropic"
        }
    }

    fn upstream_model(&self) -> &str {
        &self.inner.model
    }

    fn endpoint(&self) -> Option<&Uri> {
        Some(&self.inner.messages_uri)
    }

    fn chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        let model = if crate::is_wildcard(&inner.model) {
            request.model.clone()
        } else {
            inner.model.clone()
        };
        let translated = request::to_messages_request(request, &model);
        Box::pin(async move {
            let body = translated?;
            let json_tool = request::answers_through_json_tool(&body);
            let response = inner.post(&body).await?;
            let bytes = response.bytes(MAX_RESPONSE_BYTES).await?;
            let answer: MessagesResponse = serde_json::from_slice(&bytes).map_err(|e| {
                ProviderError::new(
                    ErrorClass::InvalidResponse,
                    format!("upstream answered with a body that is not a Messages response: {e}"),
                )
            })?;
            Ok(response::to_chat_response(answer, json_tool))
        })
    }

    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        let model = if crate::is_wildcard(&inner.model) {
            request.model.clone()
        } else {
            inner.model.clone()
        };
        let translated = request::to_messages_request(request, &model);
        Box::pin(async move {
            let mut body = translated?;
            body.stream = Some(true);
            let json_tool = request::answers_through_json_tool(&body);
            let response = inner.post(&body).await?;
            Ok(stream::chunk_stream(
                SseByteStream::new(response.into_sse_stream()),
                json_tool,
            ))
        })
    }

    fn speaks(&self, api: NativeApi) -> bool {
        api == NativeApi::Messages
    }

    fn native(
        &self,
        api: NativeApi,
        request: NativeRequest,
    ) -> BoxFuture<'static, Result<NativeAnswer, ProviderError>> {
        let spoken = crate::ensure_spoken(self, api);
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            spoken?;
            let response = inner.post_native(&inner.messages_uri, request).await?;
            api.answer(response.bytes(MAX_RESPONSE_BYTES).await?)
        })
    }

    fn native_stream(
        &self,
        api: NativeApi,
        request: NativeRequest,
    ) -> BoxFuture<'static, Result<EventStream, ProviderError>> {
        let spoken = crate::ensure_spoken(self, api);
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            spoken?;
            let response = inner.post_native(&inner.messages_uri, request).await?;
            Ok(crate::native::event_stream(
                api,
                SseByteStream::new(response.into_sse_stream()),
            ))
        })
    }

    fn count_tokens(
        &self,
        request: NativeRequest,
    ) -> Option<BoxFuture<'static, Result<TokenCount, ProviderError>>> {
        // Vertex AI counts tokens at another model's URL; the gateway estimates instead.
        if self.inner.vertex.is_some() {
            return None;
        }
        let inner = Arc::clone(&self.inner);
        Some(Box::pin(async move {
            let response = inner.post_native(&inner.count_tokens_uri, request).await?;
            let bytes = response.bytes(MAX_RESPONSE_BYTES).await?;
            serde_json::from_slice(&bytes).map_err(|e| {
                ProviderError::new(
                    ErrorClass::InvalidResponse,
                    format!("upstream answered count_tokens with an unexpected body: {e}"),
                )
            })
        }))
    }

    fn embeddings(
        &self,
        _request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>> {
        Box::pin(async {
            Err(ProviderError::new(
                ErrorClass::BadRequest,
                "Anthropic has no embeddings API; route embeddings to a deployment of an embeddings model",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> HttpClient {
        HttpClient::new(&crate::http::ClientSettings::default()).expect("client")
    }

    fn adapter(api_base: &str) -> Anthropic {
        let settings = AnthropicSettings {
            model: "claude-sonnet-4-5".to_owned(),
            api_base: api_base.to_owned(),
            api_key: Some("sk-ant-secret".to_owned()),
            extra_headers: Vec::new(),
        };
        Anthropic::new(client(), settings).expect("valid settings")
    }

    // Endpoint and `x-api-key` header: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn messages_live_under_v1_of_the_base_and_the_key_is_sensitive() {
        let a = adapter("https://api.anthropic.com/");
        assert_eq!(
            a.inner.messages_uri.to_string(),
            "https://api.anthropic.com/v1/messages"
        );
        assert!(a.inner.headers["x-api-key"].is_sensitive());
        assert_eq!(a.inner.headers["anthropic-version"], ANTHROPIC_VERSION);
        assert_eq!(a.family(), "anthropic");
        assert_eq!(a.upstream_model(), "claude-sonnet-4-5");
        assert!(!format!("{a:?}").contains("sk-ant-secret"));
        let settings = AnthropicSettings {
            model: "m".to_owned(),
            api_base: "x".to_owned(),
            api_key: Some("sk-ant-secret".to_owned()),
            extra_headers: Vec::new(),
        };
        assert!(!format!("{settings:?}").contains("sk-ant-secret"));
    }

    // The key travels as the `x-api-key` header: https://docs.anthropic.com/en/api/messages.
    #[test]
    fn a_key_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let settings = AnthropicSettings {
            model: "m".to_owned(),
            api_base: ANTHROPIC_API_BASE.to_owned(),
            api_key: Some("bad\nkey".to_owned()),
            extra_headers: Vec::new(),
        };
        let err = Anthropic::new(client(), settings).expect_err("refused");
        assert_eq!(err.class, ErrorClass::Authentication);
        assert!(!err.message.contains("bad\nkey"));
    }

    // The API has no embeddings endpoint: https://docs.anthropic.com/en/api/messages is the only
    // generation call.
    #[tokio::test]
    async fn embeddings_are_a_bad_request_naming_the_reason() {
        let request: EmbeddingsRequest =
            serde_json::from_value(serde_json::json!({"model": "m", "input": "hi"}))
                .expect("valid");
        let err = adapter(ANTHROPIC_API_BASE)
            .embeddings(request)
            .await
            .expect_err("no embeddings");
        assert_eq!(err.class, ErrorClass::BadRequest);
        assert!(err.message.contains("no embeddings API"), "{}", err.message);
    }

    // Request body parameters: https://docs.anthropic.com/en/api/messages.
    #[tokio::test]
    async fn an_untranslatable_request_fails_before_anything_is_sent() {
        let request: ChatRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "n": 3, "messages": [{"role": "user", "content": "hi"}]
        }))
        .expect("valid");
        // The base points at a closed port: a send would fail as unreachable, not bad request.
        let err = adapter("http://127.0.0.1:9")
            .chat(request)
            .await
            .expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
    }
}
