//! The Google Gemini adapter: `gemini/...` deployments on the Generative Language API
//! (<https://ai.google.dev/api>), reached with an API key.
//!
//! Chat goes to `POST {api_base}/v1beta/models/{model}:generateContent`, streams to
//! `:streamGenerateContent?alt=sse`, embeddings to `:embedContent` and `:batchEmbedContents`.
//! The key travels in the `x-goog-api-key` header, never in the URL, so it cannot leak through
//! logged or reported URLs. The same adapter serves Gemini models on Vertex AI
//! ([`crate::vertex`]): the same bodies at Vertex's URLs, with an OAuth2 bearer token, and
//! embeddings through `:predict`. The modules translate each direction:
//!
//! - `request`: OpenAI chat requests into `GenerateContentRequest`s;
//! - `response`: `GenerateContentResponse`s into chat completions;
//! - `stream`: SSE events into chat chunks, as they arrive;
//! - `embeddings`: embeddings both ways;
//! - `error`: Google's error answers into classified errors;
//! - `tool_call_id`: tool call ids that carry Gemini's thought signatures;
//! - `wire`: Gemini's wire format.

mod embeddings;
mod error;
mod request;
mod response;
mod stream;
mod tool_call_id;
mod wire;

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Uri};
use serde::de::DeserializeOwned;
use sse_stream::SseByteStream;
use switchyard_wire::{ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse};

use self::embeddings::EmbedCall;
use self::error::error_from_response;
use self::wire::PredictResponse;
use self::wire::{BatchEmbedContentsResponse, EmbedContentResponse, GenerateContentResponse};
use crate::credentials::{TokenCache, authorize};
use crate::http::{HttpClient, MAX_RESPONSE_BYTES, UpstreamResponse, parse_uri};
use crate::{ChunkStream, ErrorClass, Provider, ProviderError};

/// The Generative Language API, used when a deployment names no `api_base`.
pub const GEMINI_API_BASE: &str = "https://generativelanguage.googleapis.com";

/// The header that carries the API key.
const API_KEY_HEADER: &str = "x-goog-api-key";

/// How to reach one Gemini deployment.
#[derive(Clone)]
pub struct GeminiSettings {
    /// The model, such as `gemini-2.5-flash` (or a resource name such as `tunedModels/x`).
    pub model: String,
    /// The API's root, such as [`GEMINI_API_BASE`]; a trailing `/v1beta` is accepted.
    pub api_base: String,
    /// The API key, sent as `x-goog-api-key`.
    pub api_key: Option<String>,
}

impl std::fmt::Debug for GeminiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiSettings")
            .field("model", &self.model)
            .field("api_base", &self.api_base)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A deployment on the Gemini API.
#[derive(Debug, Clone)]
pub struct Gemini {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: HttpClient,
    /// `gemini`, or `vertex_ai` on Vertex AI.
    family: &'static str,
    model: String,
    /// `models/{model}`, as Gemini names the model in paths and embedding requests.
    resource: String,
    generate_url: Uri,
    stream_url: Uri,
    embed_urls: EmbedUrls,
    /// `x-goog-api-key`, when there is a key: never in the URL.
    headers: HeaderMap,
    /// Vertex AI's OAuth2 tokens, sent as `Authorization: Bearer`.
    tokens: Option<Arc<TokenCache>>,
}

/// Where embeddings go.
#[derive(Debug)]
enum EmbedUrls {
    /// The Gemini API: `:embedContent` for one text, `:batchEmbedContents` for several.
    Gemini { single: Uri, batch: Uri },
    /// Vertex AI: `:predict`.
    Vertex { predict: Uri },
}

/// Refuses model names that would bend a URL.
pub(crate) fn check_model(model: &str) -> Result<(), ProviderError> {
    if model.is_empty()
        || !model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '@'))
    {
        return Err(ProviderError::new(
            ErrorClass::BadRequest,
            format!("`{model}` is not a Gemini model name (letters, digits, `-_./@` only)"),
        ));
    }
    Ok(())
}

impl Gemini {
    /// A Gemini model on Vertex AI: `model_url` is the model's resource URL
    /// (`{base}/v1/projects/{p}/locations/{l}/publishers/google/models/{model}`), calls carry a
    /// bearer token from `tokens`.
    pub(crate) fn on_vertex(
        client: HttpClient,
        model: &str,
        model_url: &str,
        tokens: Arc<TokenCache>,
    ) -> Result<Self, ProviderError> {
        check_model(model)?;
        let method = |name: &str| parse_uri(&format!("{model_url}:{name}"));
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                family: "vertex_ai",
                generate_url: method("generateContent")?,
                stream_url: method("streamGenerateContent?alt=sse")?,
                embed_urls: EmbedUrls::Vertex {
                    predict: method("predict")?,
                },
                resource: format!("models/{model}"),
                model: model.to_owned(),
                headers: HeaderMap::new(),
                tokens: Some(tokens),
            }),
        })
    }

    /// An adapter for one deployment, sending through the shared `client`.
    pub fn new(client: HttpClient, settings: GeminiSettings) -> Result<Self, ProviderError> {
        let model = settings.model.trim().to_owned();
        check_model(&model)?;
        let resource = if model.contains('/') {
            model.clone()
        } else {
            format!("models/{model}")
        };
        let root = settings.api_base.trim_end_matches('/');
        let root = root.strip_suffix("/v1beta").unwrap_or(root);
        let method = |name: &str| parse_uri(&format!("{root}/v1beta/{resource}:{name}"));
        let api_key = settings
            .api_key
            .filter(|key| !key.is_empty())
            .map(|key| {
                let mut value = HeaderValue::try_from(key).map_err(|_| {
                    ProviderError::new(
                        ErrorClass::Authentication,
                        "the API key holds characters not allowed in an HTTP header",
                    )
                })?;
                value.set_sensitive(true);
                Ok::<_, ProviderError>(value)
            })
            .transpose()?;
        let mut headers = HeaderMap::new();
        if let Some(key) = api_key {
            headers.insert(API_KEY_HEADER, key);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                family: "gemini",
                generate_url: method("generateContent")?,
                stream_url: method("streamGenerateContent?alt=sse")?,
                embed_urls: EmbedUrls::Gemini {
                    single: method("embedContent")?,
                    batch: method("batchEmbedContents")?,
                },
                model,
                resource,
                headers,
                tokens: None,
            }),
        })
    }
}

impl Inner {
    async fn post<T: serde::Serialize>(
        &self,
        url: &Uri,
        body: &T,
    ) -> Result<UpstreamResponse, ProviderError> {
        let headers = authorize(&self.headers, self.tokens.as_deref()).await?;
        let response = self.client.post_json(url, &headers, body).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_from_response(response).await)
        }
    }

    async fn post_json<T: serde::Serialize, R: DeserializeOwned>(
        &self,
        url: &Uri,
        body: &T,
    ) -> Result<R, ProviderError> {
        let response = self.post(url, body).await?;
        let bytes = response.bytes(MAX_RESPONSE_BYTES).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                format!("Gemini answered with a body that is not a valid response: {e}"),
            )
        })
    }
}

impl Provider for Gemini {
    fn family(&self) -> &'static str {
        self.inner.family
    }

    fn upstream_model(&self) -> &str {
        &self.inner.model
    }

    fn endpoint(&self) -> Option<&Uri> {
        Some(&self.inner.generate_url)
    }

    fn chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let body = request::generate_content_request(&request)?;
            let answer: GenerateContentResponse =
                inner.post_json(&inner.generate_url, &body).await?;
            response::chat_response(answer, &inner.model)
        })
    }

    /// Returns once the first event has arrived, so that a prompt Gemini blocks, or an error it
    /// reports first thing, is an error answer rather than a stream that fails at once.
    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let body = request::generate_content_request(&request)?;
            let response = inner.post(&inner.stream_url, &body).await?;
            let mut chunks = stream::chunk_stream(
                SseByteStream::new(response.into_sse_stream()),
                inner.model.clone(),
            );
            match chunks.next().await {
                Some(Err(err)) => Err(err),
                Some(Ok(first)) => {
                    let stream: ChunkStream = Box::pin(
                        futures_util::stream::once(async move { Ok(first) }).chain(chunks),
                    );
                    Ok(stream)
                }
                None => Ok(chunks),
            }
        })
    }

    fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let vertex = matches!(inner.embed_urls, EmbedUrls::Vertex { .. });
            let plan = embeddings::plan(&request, &inner.resource, vertex)?;
            let (vectors, usage) = match (&plan.call, &inner.embed_urls) {
                (EmbedCall::Predict(body), EmbedUrls::Vertex { predict }) => {
                    let answer: PredictResponse = inner.post_json(predict, body).await?;
                    embeddings::predicted(answer)
                }
                (EmbedCall::Single(body), EmbedUrls::Gemini { single, .. }) => {
                    let answer: EmbedContentResponse = inner.post_json(single, body).await?;
                    (vec![answer.embedding], answer.usage_metadata)
                }
                (EmbedCall::Batch(body), EmbedUrls::Gemini { batch, .. }) => {
                    let answer: BatchEmbedContentsResponse = inner.post_json(batch, body).await?;
                    (answer.embeddings, answer.usage_metadata)
                }
                // `plan` chose the call by the endpoints this deployment has.
                _ => {
                    return Err(ProviderError::new(
                        ErrorClass::BadRequest,
                        "an embeddings call planned for the other Gemini API",
                    ));
                }
            };
            embeddings::embeddings_response(&plan, vectors, usage.as_ref(), &inner.model)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(model: &str, api_base: &str) -> Result<Gemini, ProviderError> {
        Gemini::new(
            HttpClient::new(&crate::http::ClientSettings::default()).expect("client"),
            GeminiSettings {
                model: model.to_owned(),
                api_base: api_base.to_owned(),
                api_key: Some("AIza-test-key".to_owned()),
            },
        )
    }

    // Endpoints: https://ai.google.dev/api/generate-content (generateContent,
    // streamGenerateContent with alt=sse) and https://ai.google.dev/api/embeddings.
    #[test]
    fn urls_follow_the_documented_endpoints_and_hold_no_key() {
        let gemini = adapter("gemini-2.5-flash", GEMINI_API_BASE).expect("valid");
        let inner = &gemini.inner;
        assert_eq!(
            inner.generate_url.to_string(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            inner.stream_url.to_string(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        let EmbedUrls::Gemini { single, batch } = &inner.embed_urls else {
            panic!("Gemini API urls expected")
        };
        assert_eq!(
            single.to_string(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:embedContent"
        );
        assert_eq!(
            batch.to_string(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:batchEmbedContents"
        );
        for url in [&inner.generate_url, &inner.stream_url, single] {
            let url = url.to_string();
            assert!(!url.contains("AIza") && !url.contains("key="), "{url}");
        }
        let key = inner.headers.get(API_KEY_HEADER).expect("key");
        assert!(key.is_sensitive());
        assert!(!format!("{gemini:?}").contains("AIza-test-key"));
        assert_eq!(gemini.upstream_model(), "gemini-2.5-flash");
        assert_eq!(gemini.family(), "gemini");
    }

    #[test]
    fn a_versioned_base_and_resource_names_are_accepted() {
        let gemini = adapter("tunedModels/my-model", "http://127.0.0.1:9/v1beta/").expect("valid");
        assert_eq!(
            gemini.inner.generate_url.to_string(),
            "http://127.0.0.1:9/v1beta/tunedModels/my-model:generateContent"
        );
        assert_eq!(gemini.inner.resource, "tunedModels/my-model");
    }

    #[test]
    fn model_names_that_would_bend_the_url_are_refused() {
        for model in ["", "gemini?alt=json", "gemini 2", "a#b"] {
            assert!(adapter(model, GEMINI_API_BASE).is_err(), "{model:?}");
        }
        let settings = GeminiSettings {
            model: "m".to_owned(),
            api_base: GEMINI_API_BASE.to_owned(),
            api_key: Some("AIza-secret".to_owned()),
        };
        assert!(!format!("{settings:?}").contains("AIza-secret"));
    }
}
