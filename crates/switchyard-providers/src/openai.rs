//! The OpenAI-compatible adapter: OpenAI itself and every server that speaks its chat
//! completions, legacy text completions and embeddings API at some base URL (vLLM, Ollama, Groq, Mistral, Together,
//! OpenRouter, ...).
//!
//! Requests go out as the client sent them, unknown fields included, with the model replaced by
//! the deployment's upstream model. OpenAI's and Azure's deployments also take OpenAI Responses
//! requests as they came (`{api_base}/responses`; Azure's `{api_base}/openai/v1/responses`). Streams are parsed event by event and handed on as they
//! arrive, never buffered whole.

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Uri};
use serde::de::DeserializeOwned;
use sse_stream::SseByteStream;
use switchyard_wire::{
    ChatChunk, ChatRequest, ChatResponse, Completion, CompletionRequest, EmbeddingsRequest,
    EmbeddingsResponse, ImageRequest, ImagesResponse, ModerationRequest, ModerationResponse,
    RerankRequest, RerankResponse, SpeechRequest, StreamOptions,
};

use crate::audio::{Audio, Transcript, TranscriptionRequest};
use crate::credentials::{BearerCredential, TokenCache, authorize};

use crate::http::{
    HttpClient, MAX_RESPONSE_BYTES, UpstreamResponse, body_error, error_from_response, parse_uri,
};
use crate::native::{self, NativeAnswer, NativeApi, NativeRequest};
use crate::{ChunkStream, ErrorClass, Provider, ProviderError};

/// The families whose deployments take OpenAI Responses requests as they came: OpenAI's
/// (`openai/`, whatever its `api_base`) and Azure OpenAI's.
pub const RESPONSES_FAMILIES: &[&str] = &["openai", "azure"];

/// OpenAI's own API, used when a deployment names no `api_base`.
pub const OPENAI_API_BASE: &str = "https://api.openai.com/v1";

/// The parameters of OpenAI's chat completions API
/// (<https://platform.openai.com/docs/api-reference/chat/create>), which this adapter sends on as
/// they came.
pub const OPENAI_CHAT_PARAMS: &[&str] = &[
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "presence_penalty",
    "response_format",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "reasoning_effort",
];

/// How to reach one OpenAI-compatible deployment.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// The provider family named in the config (`openai`, `hosted_vllm`, ...).
    pub family: &'static str,
    /// The model name the upstream knows.
    pub model: String,
    /// Base URL up to and including the API version, such as `https://api.openai.com/v1`.
    pub api_base: String,
    /// The upstream key, if it wants one.
    pub api_key: Option<String>,
    /// How URLs and the key header are laid out.
    pub dialect: Dialect,
    /// Headers every call carries besides the key (`extra_headers`, `OpenAI-Organization`,
    /// an Azure AD token's `authorization`).
    pub extra_headers: Vec<(String, String)>,
    /// Where bearer tokens that expire come from (Azure: Microsoft Entra ID), sent as
    /// `Authorization: Bearer` on every call and refreshed before they expire.
    pub bearer: Option<BearerCredential>,
}

/// The layout of an OpenAI-compatible API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialect {
    /// `{api_base}/chat/completions` with `Authorization: Bearer KEY`.
    OpenAi,
    /// Azure OpenAI: `{api_base}/openai/deployments/{model}/chat/completions?api-version=V` with
    /// an `api-key: KEY` header; the model is the Azure deployment name.
    Azure {
        /// The `api-version` query parameter, such as `2024-10-21`.
        api_version: String,
    },
    /// Azure AI Foundry's model inference API
    /// (<https://learn.microsoft.com/en-us/rest/api/aifoundry/model-inference/get-chat-completions/get-chat-completions>):
    /// `{api_base}/chat/completions?api-version=V` (`{api_base}` ends in `/models`) with an
    /// `api-key: KEY` header; the model (the deployment name) in the body.
    AzureAi {
        /// The `api-version` query parameter, such as `2024-05-01-preview`.
        api_version: String,
    },
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("family", &self.family)
            .field("model", &self.model)
            .field("api_base", &self.api_base)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("dialect", &self.dialect)
            .field("bearer", &self.bearer)
            .finish()
    }
}

/// A deployment on an OpenAI-compatible upstream.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: HttpClient,
    family: &'static str,
    model: String,
    chat_uri: Uri,
    completions_uri: Uri,
    embeddings_uri: Uri,
    moderations_uri: Uri,
    images_uri: Uri,
    rerank_uri: Uri,
    speech_uri: Uri,
    transcriptions_uri: Uri,
    responses_uri: Uri,
    /// The header carrying the key (`authorization`, or Azure's `api-key`), when there is one.
    headers: HeaderMap,
    /// Bearer tokens that expire, added to `headers` per call.
    tokens: Option<Arc<TokenCache>>,
}

impl OpenAiCompatible {
    /// An adapter for one deployment, sending through the shared `client`.
    pub fn new(client: HttpClient, settings: OpenAiSettings) -> Result<Self, ProviderError> {
        let base = settings.api_base.trim_end_matches('/');
        let url = |path: &str| match &settings.dialect {
            Dialect::OpenAi => format!("{base}/{path}"),
            Dialect::Azure { api_version } => format!(
                "{base}/openai/deployments/{}/{path}?api-version={api_version}",
                settings.model
            ),
            Dialect::AzureAi { api_version } => format!("{base}/{path}?api-version={api_version}"),
        };
        let (chat_url, completions_url, embeddings_url) = (
            url("chat/completions"),
            url("completions"),
            url("embeddings"),
        );
        let moderations_uri = parse_uri(&url("moderations"))?;
        let images_uri = parse_uri(&url("images/generations"))?;
        let rerank_uri = parse_uri(&url("rerank"))?;
        let speech_uri = parse_uri(&url("audio/speech"))?;
        let transcriptions_uri = parse_uri(&url("audio/transcriptions"))?;
        // Azure serves the Responses API only on its v1 API, which takes the deployment in
        // the body's `model` and no `api-version`
        // (<https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/responses>).
        let responses_uri = parse_uri(&match &settings.dialect {
            Dialect::OpenAi | Dialect::AzureAi { .. } => format!("{base}/responses"),
            Dialect::Azure { .. } => format!("{base}/openai/v1/responses"),
        })?;
        let mut headers = HeaderMap::new();
        let key_header = settings
            .api_key
            .filter(|key| !key.is_empty())
            .map(|key| {
                let (name, text) = match settings.dialect {
                    Dialect::OpenAi => (http::header::AUTHORIZATION, format!("Bearer {key}")),
                    Dialect::Azure { .. } | Dialect::AzureAi { .. } => {
                        (http::HeaderName::from_static("api-key"), key)
                    }
                };
                let mut value = HeaderValue::try_from(text).map_err(|_| {
                    ProviderError::new(
                        ErrorClass::Authentication,
                        "the API key holds characters not allowed in an HTTP header",
                    )
                })?;
                value.set_sensitive(true);
                Ok::<_, ProviderError>((name, value))
            })
            .transpose()?;
        if let Some((name, value)) = key_header {
            headers.insert(name, value);
        }
        crate::http::add_extra_headers(&mut headers, &settings.extra_headers)?;
        Ok(Self {
            inner: Arc::new(Inner {
                family: settings.family,
                model: settings.model,
                chat_uri: parse_uri(&chat_url)?,
                completions_uri: parse_uri(&completions_url)?,
                moderations_uri,
                images_uri,
                rerank_uri,
                speech_uri,
                transcriptions_uri,
                responses_uri,
                embeddings_uri: parse_uri(&embeddings_url)?,
                headers,
                tokens: settings
                    .bearer
                    .map(|credential| credential.token_cache(&client))
                    .transpose()?,
                client,
            }),
        })
    }
}

impl Inner {
    async fn post<T: serde::Serialize>(
        &self,
        uri: &Uri,
        body: &T,
    ) -> Result<UpstreamResponse, ProviderError> {
        let headers = authorize(&self.headers, self.tokens.as_deref()).await?;
        self.client.post_json_ok(uri, &headers, body).await
    }

    /// Names this deployment's model in a request: its own, or for a wildcard deployment the
    /// model the gateway resolved into the request already.
    fn name_model(&self, model: &mut String) {
        if !crate::is_wildcard(&self.model) {
            model.clone_from(&self.model);
        }
    }

    async fn post_json<T: serde::Serialize, R: DeserializeOwned>(
        &self,
        uri: &Uri,
        body: &T,
    ) -> Result<R, ProviderError> {
        self.post(uri, body).await?.json().await
    }
}

impl OpenAiCompatible {
    /// A passed-through request as this deployment sends it: its model the deployment's (a
    /// wildcard deployment keeps the one the gateway resolved). Refused unless the
    /// deployment speaks `api`.
    fn native_request(
        &self,
        api: NativeApi,
        mut request: NativeRequest,
    ) -> Result<NativeRequest, ProviderError> {
        crate::ensure_spoken(self, api)?;
        if !crate::is_wildcard(&self.inner.model) {
            request.set_model(&self.inner.model);
        }
        Ok(request)
    }

    /// POSTs `request` to the URI `uri` picks and reads the answer as `R`.
    fn send<T, R>(
        &self,
        uri: fn(&Inner) -> &Uri,
        request: T,
    ) -> BoxFuture<'static, Result<R, ProviderError>>
    where
        T: serde::Serialize + Send + Sync + 'static,
        R: DeserializeOwned + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.post_json(uri(&inner), &request).await })
    }
}

/// Messages as OpenAI's API defines them: what SDKs replay of earlier answers (the OpenAI SDK's
/// `parsed`, `annotations`, ...) is dropped, since OpenAI-compatible upstreams refuse or
/// misread it ([`ChatMessage::retain_openai_request_fields`]). The request's own unknown
/// fields still pass through.
///
/// [`ChatMessage::retain_openai_request_fields`]: switchyard_wire::ChatMessage::retain_openai_request_fields
fn retain_openai_message_fields(request: &mut ChatRequest) {
    for message in &mut request.messages {
        message.retain_openai_request_fields();
    }
}

impl Provider for OpenAiCompatible {
    fn family(&self) -> &'static str {
        self.inner.family
    }

    fn upstream_model(&self) -> &str {
        &self.inner.model
    }

    fn endpoint(&self) -> Option<&Uri> {
        Some(&self.inner.chat_uri)
    }

    fn supported_openai_params(&self) -> Vec<&'static str> {
        OPENAI_CHAT_PARAMS.to_vec()
    }

    /// OpenAI's own API and Azure OpenAI take Responses requests as they came; the other
    /// OpenAI-compatible servers (vLLM, Groq, ...) are served by translation, as LiteLLM does
    /// (<https://docs.litellm.ai/docs/response_api_native_passthrough>).
    fn speaks(&self, api: NativeApi) -> bool {
        api == NativeApi::Responses && RESPONSES_FAMILIES.contains(&self.inner.family)
    }

    fn native(
        &self,
        api: NativeApi,
        request: NativeRequest,
    ) -> BoxFuture<'static, Result<NativeAnswer, ProviderError>> {
        let sent = self.native_request(api, request);
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let response = inner.post(&inner.responses_uri, &sent?.body).await?;
            api.answer(response.bytes(MAX_RESPONSE_BYTES).await?)
        })
    }

    /// `DELETE {responses}/{id}` (<https://platform.openai.com/docs/api-reference/responses/delete>);
    /// a 404 means the upstream no longer has it.
    fn native_delete(
        &self,
        api: NativeApi,
        id: &str,
    ) -> BoxFuture<'static, Result<(), ProviderError>> {
        let uri = crate::ensure_spoken(self, api).and_then(|()| {
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(ProviderError::new(
                    ErrorClass::BadRequest,
                    "a response id holds only letters, digits, `_` and `-`",
                ));
            }
            parse_uri(&format!("{}/{id}", self.inner.responses_uri))
        });
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let headers = authorize(&inner.headers, inner.tokens.as_deref()).await?;
            let response = inner.client.delete(&uri?, &headers).await?;
            match response.status() {
                status if status.is_success() || status == http::StatusCode::NOT_FOUND => Ok(()),
                _ => Err(error_from_response(response).await),
            }
        })
    }

    fn native_stream(
        &self,
        api: NativeApi,
        request: NativeRequest,
    ) -> BoxFuture<'static, Result<native::EventStream, ProviderError>> {
        let sent = self.native_request(api, request);
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let response = inner.post(&inner.responses_uri, &sent?.body).await?;
            Ok(native::event_stream(
                api,
                SseByteStream::new(response.into_sse_stream()),
            ))
        })
    }

    fn chat(
        &self,
        mut request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        inner.name_model(&mut request.model);
        retain_openai_message_fields(&mut request);
        request.stream = None;
        request.stream_options = None;
        Box::pin(async move { inner.post_json(&inner.chat_uri, &request).await })
    }

    fn chat_stream(
        &self,
        mut request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        inner.name_model(&mut request.model);
        retain_openai_message_fields(&mut request);
        request.stream = Some(true);
        ask_for_usage(&mut request.stream_options);
        Box::pin(async move {
            let response = inner.post(&inner.chat_uri, &request).await?;
            Ok(chunk_stream(SseByteStream::new(response.into_sse_stream())))
        })
    }

    fn embeddings(
        &self,
        mut request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>> {
        self.inner.name_model(&mut request.model);
        self.send(|inner| &inner.embeddings_uri, request)
    }

    fn moderation(
        &self,
        mut request: ModerationRequest,
    ) -> BoxFuture<'static, Result<ModerationResponse, ProviderError>> {
        self.inner.name_model(&mut request.model);
        self.send(|inner| &inner.moderations_uri, request)
    }

    fn image_generation(
        &self,
        mut request: ImageRequest,
    ) -> BoxFuture<'static, Result<ImagesResponse, ProviderError>> {
        self.inner.name_model(&mut request.model);
        self.send(|inner| &inner.images_uri, request)
    }

    fn rerank(
        &self,
        mut request: RerankRequest,
    ) -> BoxFuture<'static, Result<RerankResponse, ProviderError>> {
        self.inner.name_model(&mut request.model);
        self.send(|inner| &inner.rerank_uri, request)
    }

    fn speech(
        &self,
        mut request: SpeechRequest,
    ) -> BoxFuture<'static, Result<Audio, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        request.model.clone_from(&inner.model);
        Box::pin(async move {
            let response = inner.post(&inner.speech_uri, &request).await?;
            let content_type = content_type_of(&response, "audio/mpeg");
            let body = response
                .into_stream()
                .map(|chunk| chunk.map_err(|e| body_error(&e)));
            Ok(Audio {
                content_type,
                body: Box::pin(body),
            })
        })
    }

    fn transcription(
        &self,
        request: TranscriptionRequest,
    ) -> BoxFuture<'static, Result<Transcript, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let (content_type, body) = request.to_multipart(&inner.model);
            let content_type = HeaderValue::try_from(content_type).map_err(|_| {
                ProviderError::new(ErrorClass::BadRequest, "unusable multipart boundary")
            })?;
            let headers = authorize(&inner.headers, inner.tokens.as_deref()).await?;
            let response = inner
                .client
                .post_bytes(&inner.transcriptions_uri, &headers, content_type, body)
                .await?;
            if !response.status().is_success() {
                return Err(error_from_response(response).await);
            }
            let content_type = content_type_of(&response, "application/json");
            let body = response.bytes(MAX_RESPONSE_BYTES).await?;
            Ok(Transcript { content_type, body })
        })
    }

    fn completion(
        &self,
        mut request: CompletionRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        inner.name_model(&mut request.model);
        request.stream = None;
        request.stream_options = None;
        Box::pin(async move {
            let answer: Completion = inner.post_json(&inner.completions_uri, &request).await?;
            Ok(answer.into_chat())
        })
    }

    fn completion_stream(
        &self,
        mut request: CompletionRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        inner.name_model(&mut request.model);
        request.stream = Some(true);
        ask_for_usage(&mut request.stream_options);
        Box::pin(async move {
            let response = inner.post(&inner.completions_uri, &request).await?;
            let events = SseByteStream::new(response.into_sse_stream());
            Ok(event_stream(events, Completion::into_chat_chunk))
        })
    }
}

/// The media type an upstream answered with, or `default` when it named none.
fn content_type_of(response: &UpstreamResponse, default: &str) -> String {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(default)
        .to_owned()
}

/// Asks a stream for its usage chunk, whatever the client asked: cost is counted from it, and
/// the server strips it for clients that did not ask.
fn ask_for_usage(options: &mut Option<StreamOptions>) {
    options
        .get_or_insert_with(StreamOptions::default)
        .include_usage = Some(true);
}

/// Turns the upstream's SSE events into chunks. Ends at `data: [DONE]`; an upstream that closes
/// before it, or sends something that is not a chunk, ends the stream with an error.
pub fn chunk_stream<S>(events: SseByteStream<S>) -> ChunkStream
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: bytes::Buf + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    event_stream(events, |chunk: ChatChunk| chunk)
}

/// Turns the upstream's SSE events, each a `T`, into chat chunks with `into_chunk`; ends as
/// [`chunk_stream`] does.
fn event_stream<S, T>(events: SseByteStream<S>, into_chunk: fn(T) -> ChatChunk) -> ChunkStream
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: bytes::Buf + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
    T: DeserializeOwned + 'static,
{
    let events = Box::pin(events);
    Box::pin(futures_util::stream::unfold(
        Some(events),
        move |events| async move {
            let mut events = events?;
            loop {
                let event = match events.next().await {
                    None => {
                        let err = ProviderError::new(
                            ErrorClass::InvalidResponse,
                            "upstream closed the stream before sending [DONE]",
                        );
                        return Some((Err(err), None));
                    }
                    Some(Err(err)) => return Some((Err(stream_error(err)), None)),
                    Some(Ok(event)) => event,
                };
                let Some(data) = event.data else { continue };
                if data.trim() == "[DONE]" {
                    return None;
                }
                return match serde_json::from_str::<T>(&data) {
                    Ok(chunk) => Some((Ok(into_chunk(chunk)), Some(events))),
                    Err(err) => Some((Err(event_error(&data, err)), None)),
                };
            }
        },
    ))
}

/// Classifies a failure of the upstream's event stream: a broken body or an unreadable event.
pub(crate) fn stream_error(err: sse_stream::Error) -> ProviderError {
    match err {
        sse_stream::Error::Body(inner) => match inner.downcast::<ProviderError>() {
            // Already classified by `SseBytes`.
            Ok(err) => *err,
            Err(inner) => match inner.downcast::<hyper::Error>() {
                Ok(err) => body_error(&err),
                Err(other) => ProviderError::new(
                    ErrorClass::Unreachable,
                    format!("upstream stream broke: {other}"),
                ),
            },
        },
        other => ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("upstream sent an unreadable event: {other}"),
        ),
    }
}

/// An event that is not a chunk: an error the upstream reports mid-stream, or garbage.
fn event_error(data: &str, err: serde_json::Error) -> ProviderError {
    let message = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            error
                .get("message")
                .and_then(|m| m.as_str())
                .or_else(|| error.as_str())
                .map(str::to_owned)
        });
    match message {
        Some(message) => ProviderError::new(
            ErrorClass::UpstreamServer,
            format!("upstream reported an error mid-stream: {message}"),
        ),
        None => ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("upstream sent an event that is not a chat chunk: {err}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn events(raw: &'static str) -> ChunkStream {
        let bytes = stream::iter(
            raw.as_bytes()
                .chunks(7)
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from_static(c))),
        );
        chunk_stream(SseByteStream::new(bytes))
    }

    const CHUNK: &str = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;

    #[tokio::test]
    async fn chunks_split_across_reads_arrive_whole_and_done_ends_the_stream() {
        let raw: &'static str = Box::leak(
            format!(": keep-alive\n\ndata: {CHUNK}\n\ndata: {CHUNK}\n\ndata: [DONE]\n\n")
                .into_boxed_str(),
        );
        let items: Vec<_> = events(raw).collect().await;
        assert_eq!(items.len(), 2);
        for item in items {
            let chunk = item.expect("a chunk");
            assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("hi"));
        }
    }

    #[tokio::test]
    async fn a_stream_cut_before_done_ends_in_an_error() {
        let raw: &'static str = Box::leak(format!("data: {CHUNK}\n\n").into_boxed_str());
        let items: Vec<_> = events(raw).collect().await;
        assert_eq!(items.len(), 2);
        let err = items[1].as_ref().expect_err("truncation is an error");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
    }

    #[tokio::test]
    async fn an_error_event_mid_stream_is_reported_with_its_message() {
        let items: Vec<_> = events("data: {\"error\":{\"message\":\"model crashed\"}}\n\n")
            .collect()
            .await;
        let err = items[0].as_ref().expect_err("error event");
        assert_eq!(err.class, ErrorClass::UpstreamServer);
        assert!(err.message.contains("model crashed"), "{}", err.message);
    }

    fn test_client() -> HttpClient {
        HttpClient::new(&crate::http::ClientSettings::default()).expect("client")
    }

    fn adapter(dialect: Dialect) -> OpenAiCompatible {
        let settings = OpenAiSettings {
            family: "test",
            model: "dep-1".to_owned(),
            api_base: "https://host.example/base/".to_owned(),
            api_key: Some("k-123".to_owned()),
            dialect,
            extra_headers: vec![("OpenAI-Organization".to_owned(), "org-1".to_owned())],
            bearer: None,
        };
        OpenAiCompatible::new(test_client(), settings).expect("valid settings")
    }

    #[test]
    fn openai_dialect_uses_bearer_keys_under_the_base() {
        let a = adapter(Dialect::OpenAi);
        assert_eq!(
            a.inner.chat_uri.to_string(),
            "https://host.example/base/chat/completions"
        );
        assert_eq!(
            a.inner.completions_uri.to_string(),
            "https://host.example/base/completions"
        );
        let value = a.inner.headers.get("authorization").expect("key header");
        assert_eq!(value.to_str().ok(), Some("Bearer k-123"));
        assert!(value.is_sensitive());
        // OpenAI's organization header: https://platform.openai.com/docs/api-reference/authentication
        assert_eq!(a.inner.headers["openai-organization"], "org-1");
    }

    #[test]
    fn extra_headers_that_are_credentials_are_sensitive_and_bad_ones_refused() {
        let mut headers = HeaderMap::new();
        let extra = [("Authorization".to_owned(), "Bearer ad-token".to_owned())];
        crate::http::add_extra_headers(&mut headers, &extra).expect("valid");
        assert!(headers["authorization"].is_sensitive());
        let bad = [("bad header".to_owned(), "x".to_owned())];
        assert!(crate::http::add_extra_headers(&mut headers, &bad).is_err());
    }

    #[test]
    fn azure_dialect_puts_the_deployment_in_the_path_and_the_key_in_api_key() {
        let a = adapter(Dialect::Azure {
            api_version: "2024-10-21".to_owned(),
        });
        assert_eq!(
            a.inner.chat_uri.to_string(),
            "https://host.example/base/openai/deployments/dep-1/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            a.inner.embeddings_uri.to_string(),
            "https://host.example/base/openai/deployments/dep-1/embeddings?api-version=2024-10-21"
        );
        assert_eq!(
            a.inner.completions_uri.to_string(),
            "https://host.example/base/openai/deployments/dep-1/completions?api-version=2024-10-21"
        );
        assert!(a.inner.headers.contains_key("api-key"));
        assert!(!a.inner.headers.contains_key("authorization"));
        assert!(
            !format!("{a:?}").contains("k-123"),
            "keys stay out of Debug output"
        );
    }

    // https://learn.microsoft.com/en-us/rest/api/aifoundry/model-inference/get-chat-completions/get-chat-completions:
    // `POST {endpoint}/chat/completions?api-version=2024-05-01-preview`, key in `api-key`.
    #[test]
    fn azure_ai_dialect_keeps_the_model_in_the_body_and_the_key_in_api_key() {
        let a = adapter(Dialect::AzureAi {
            api_version: "2024-05-01-preview".to_owned(),
        });
        assert_eq!(
            a.inner.chat_uri.to_string(),
            "https://host.example/base/chat/completions?api-version=2024-05-01-preview"
        );
        assert_eq!(
            a.inner.embeddings_uri.to_string(),
            "https://host.example/base/embeddings?api-version=2024-05-01-preview"
        );
        assert!(a.inner.headers.contains_key("api-key"));
        assert!(!a.inner.headers.contains_key("authorization"));
    }

    // OpenAI: `POST /v1/responses` (https://platform.openai.com/docs/api-reference/responses/create);
    // Azure: `POST {endpoint}/openai/v1/responses`, the deployment in `model`
    // (https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/responses).
    #[test]
    fn responses_go_under_the_base_and_under_azure_s_v1_api() {
        let openai = adapter(Dialect::OpenAi);
        assert_eq!(
            openai.inner.responses_uri.to_string(),
            "https://host.example/base/responses"
        );
        let azure = adapter(Dialect::Azure {
            api_version: "2024-10-21".to_owned(),
        });
        assert_eq!(
            azure.inner.responses_uri.to_string(),
            "https://host.example/base/openai/v1/responses"
        );
    }

    #[tokio::test]
    async fn only_openai_and_azure_deployments_take_responses_as_they_came() {
        let with_family = |family: &'static str| {
            let settings = OpenAiSettings {
                family,
                model: "m".to_owned(),
                api_base: "http://127.0.0.1:9/v1".to_owned(),
                api_key: None,
                dialect: Dialect::OpenAi,
                extra_headers: Vec::new(),
                bearer: None,
            };
            OpenAiCompatible::new(test_client(), settings).expect("valid settings")
        };
        assert!(with_family("openai").speaks(NativeApi::Responses));
        assert!(with_family("azure").speaks(NativeApi::Responses));
        assert!(!with_family("openai").speaks(NativeApi::Messages));
        let vllm = with_family("hosted_vllm");
        assert!(!vllm.speaks(NativeApi::Responses));
        let request = NativeRequest {
            body: serde_json::from_str(r#"{"model":"m","input":"hi"}"#).expect("json"),
            headers: Vec::new(),
        };
        let err = vllm
            .native(NativeApi::Responses, request)
            .await
            .expect_err("refused before any request");
        assert_eq!(err.class, ErrorClass::BadRequest);
        assert!(err.message.contains("OpenAI Responses"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_response_id_that_is_no_plain_word_is_never_sent() {
        let settings = OpenAiSettings {
            family: "openai",
            model: "m".to_owned(),
            api_base: "http://127.0.0.1:9/v1".to_owned(),
            api_key: None,
            dialect: Dialect::OpenAi,
            extra_headers: Vec::new(),
            bearer: None,
        };
        let openai = OpenAiCompatible::new(test_client(), settings).expect("valid settings");
        for id in ["", "../models", "resp_1/cancel", "resp 1"] {
            let err = openai
                .native_delete(NativeApi::Responses, id)
                .await
                .expect_err("refused before any request");
            assert_eq!(err.class, ErrorClass::BadRequest, "{id:?}");
        }
    }

    #[tokio::test]
    async fn garbage_is_an_invalid_response() {
        let items: Vec<_> = events("data: <html>\n\n").collect().await;
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0].as_ref().expect_err("garbage").class,
            ErrorClass::InvalidResponse
        );
    }
}
