//! The AWS Bedrock adapter: `bedrock/<model id>` deployments on Bedrock Runtime's Converse API
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>), every
//! call signed with Signature Version 4.
//!
//! Chat goes to `POST {endpoint}/model/{modelId}/converse`, streams to `.../converse-stream`,
//! answered as `application/vnd.amazon.eventstream`. The endpoint is
//! `https://bedrock-runtime.{region}.amazonaws.com` unless the deployment names an `api_base`
//! (a VPC endpoint, a test double). The model id is percent-encoded into one path segment, so
//! the `:` of `...-v1:0` and the `/` of ARNs travel as AWS expects. The modules:
//!
//! - `request`: OpenAI chat requests into Converse requests;
//! - `response`: Converse answers into chat completions;
//! - `eventstream`: the binary event stream framing, message by message;
//! - `stream`: event stream messages into chat chunks, as they arrive;
//! - `error`: Bedrock's error answers and stream exceptions classified;
//! - `signing`: SigV4, with AWS's `aws-sigv4`;
//! - `credentials`: what authorizes the calls (a Bedrock API key, static keys, AWS's default
//!   credential chain, an assumed role), resolved and refreshed before expiry;
//! - `wire`: the Converse wire format;
//! - `native`: a client's Anthropic Messages body passed through to InvokeModel, for
//!   Anthropic's models (`Provider::messages`), events passed back as they arrive.
//!
//! Embeddings (Titan, Cohere) use Bedrock's InvokeModel API and are not supported yet.

mod error;
pub mod native;
mod request;
mod response;
mod stream;
mod wire;

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::Uri;
use switchyard_wire::{ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse};

use self::error::error_from_response;
use self::wire::{ConverseRequest, ConverseResponse};
use crate::aws::eventstream;
pub use crate::aws::{AssumeRole, AwsCredentials, REFRESH_BEFORE_EXPIRY};
use crate::aws::{AwsCaller, check_region, completion_id};
use crate::http::{HttpClient, MAX_RESPONSE_BYTES, UpstreamResponse, body_error, parse_uri};
use crate::native::{EventStream, NativeAnswer, NativeApi, NativeRequest};
use crate::{ChunkStream, ErrorClass, Provider, ProviderError};

/// Bedrock Runtime's signing name.
const SERVICE: &str = "bedrock";

/// How to reach one Bedrock deployment. `Debug` shows no credential.
#[derive(Debug, Clone)]
pub struct BedrockSettings {
    /// The model id, inference profile id or ARN, such as
    /// `anthropic.claude-3-5-sonnet-20240620-v1:0` or `us.amazon.nova-pro-v1:0`.
    pub model: String,
    /// The AWS region, such as `us-east-1`.
    pub region: String,
    /// What authorizes the calls.
    pub credentials: AwsCredentials,
    /// An STS `AssumeRole` on top of `credentials` (never with an API key).
    pub assume_role: Option<AssumeRole>,
    /// Replaces `https://bedrock-runtime.{region}.amazonaws.com`.
    pub api_base: Option<String>,
}

/// Bedrock Runtime's public endpoint in `region`.
pub fn endpoint(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// A deployment on Bedrock Runtime.
#[derive(Debug, Clone)]
pub struct Bedrock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    model: String,
    converse_uri: Uri,
    stream_uri: Uri,
    invoke_uri: Uri,
    invoke_stream_uri: Uri,
    caller: AwsCaller,
}

impl Bedrock {
    /// An adapter for one deployment, sending through the shared `client`.
    pub fn new(client: HttpClient, settings: BedrockSettings) -> Result<Self, ProviderError> {
        let model = settings.model.trim();
        // LiteLLM's `bedrock/converse/<model>` names the route this adapter always takes.
        let model = model.strip_prefix("converse/").unwrap_or(model).to_owned();
        if model.is_empty() {
            return Err(ProviderError::new(
                ErrorClass::BadRequest,
                "a Bedrock deployment needs a model id",
            ));
        }
        let region = check_region(&settings.region)?;
        let base = settings
            .api_base
            .clone()
            .filter(|base| !base.trim().is_empty())
            .unwrap_or_else(|| endpoint(region));
        let root = format!(
            "{}/model/{}",
            base.trim_end_matches('/'),
            encode_segment(&model)
        );
        Ok(Self {
            inner: Arc::new(Inner {
                converse_uri: parse_uri(&format!("{root}/converse"))?,
                stream_uri: parse_uri(&format!("{root}/converse-stream"))?,
                invoke_uri: parse_uri(&format!("{root}/invoke"))?,
                invoke_stream_uri: parse_uri(&format!("{root}/invoke-with-response-stream"))?,
                caller: AwsCaller::new(
                    client,
                    SERVICE,
                    region,
                    &settings.credentials,
                    settings.assume_role.as_ref(),
                )?,
                model,
            }),
        })
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as AWS encodes path labels.
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Inner {
    /// Signs and sends a Converse body; error answers become classified errors.
    async fn post(
        &self,
        uri: &Uri,
        body: &ConverseRequest,
    ) -> Result<UpstreamResponse, ProviderError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            ProviderError::new(
                ErrorClass::BadRequest,
                format!("request not serializable: {e}"),
            )
        })?;
        self.post_bytes(uri, body).await
    }

    /// Signs and sends a JSON body; error answers become classified errors.
    async fn post_bytes(
        &self,
        uri: &Uri,
        body: Vec<u8>,
    ) -> Result<UpstreamResponse, ProviderError> {
        let response = self.caller.post(uri, body, None).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_from_response(response).await)
        }
    }
}

impl Provider for Bedrock {
    fn family(&self) -> &'static str {
        "bedrock"
    }

    fn upstream_model(&self) -> &str {
        &self.inner.model
    }

    fn endpoint(&self) -> Option<&Uri> {
        Some(&self.inner.converse_uri)
    }

    fn chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let body = request::converse_request(&request)?;
            let response = inner.post(&inner.converse_uri, &body).await?;
            let id = completion_id(&response, SERVICE);
            let bytes = response.bytes(MAX_RESPONSE_BYTES).await?;
            let answer: ConverseResponse = serde_json::from_slice(&bytes).map_err(|e| {
                ProviderError::new(
                    ErrorClass::InvalidResponse,
                    format!("Bedrock answered with a body that is not a Converse response: {e}"),
                )
            })?;
            response::chat_response(answer, id, &inner.model)
        })
    }

    /// Returns once the first chunk is translated, so that an exception Bedrock reports first
    /// thing (throttling, most often) is an error answer rather than a stream that fails at once.
    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let body = request::converse_request(&request)?;
            let response = inner.post(&inner.stream_uri, &body).await?;
            let id = completion_id(&response, SERVICE);
            let bytes = response
                .into_stream()
                .map(|read| read.map_err(|e| body_error(&e)));
            let mut chunks =
                stream::chunk_stream(eventstream::messages(bytes), id, inner.model.clone());
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

    fn speaks(&self, api: NativeApi) -> bool {
        api == NativeApi::Messages && native::is_anthropic(&self.inner.model)
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
            let body = native::invoke_body(request)?;
            let response = inner.post_bytes(&inner.invoke_uri, body).await?;
            api.answer(response.bytes(MAX_RESPONSE_BYTES).await?)
        })
    }

    /// Returns once the first event is read, as [`Provider::chat_stream`] does, so that an
    /// exception Bedrock reports first thing is an error answer.
    fn native_stream(
        &self,
        api: NativeApi,
        request: NativeRequest,
    ) -> BoxFuture<'static, Result<EventStream, ProviderError>> {
        let spoken = crate::ensure_spoken(self, api);
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            spoken?;
            let body = native::invoke_body(request)?;
            let response = inner.post_bytes(&inner.invoke_stream_uri, body).await?;
            let bytes = response
                .into_stream()
                .map(|read| read.map_err(|e| body_error(&e)));
            let mut events = crate::native::ended(
                api,
                Box::pin(
                    eventstream::messages(bytes).filter_map(|message| async move {
                        match message {
                            Ok(message) => native::event_of(&message).transpose(),
                            Err(err) => Some(Err(err)),
                        }
                    }),
                ),
            );
            match events.next().await {
                Some(Err(err)) => Err(err),
                Some(Ok(first)) => {
                    let stream: EventStream = Box::pin(
                        futures_util::stream::once(async move { Ok(first) }).chain(events),
                    );
                    Ok(stream)
                }
                None => Ok(events),
            }
        })
    }

    fn embeddings(
        &self,
        _request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>> {
        Box::pin(async {
            Err(ProviderError::new(
                ErrorClass::BadRequest,
                "embeddings via Bedrock are not supported yet",
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(model: &str, region: &str, api_base: Option<&str>) -> BedrockSettings {
        BedrockSettings {
            model: model.to_owned(),
            region: region.to_owned(),
            credentials: AwsCredentials::Keys {
                access_key_id: "AKIDSECRETID".to_owned(),
                secret_access_key: "very-secret-key".to_owned(),
                session_token: Some("session-secret".to_owned()),
            },
            assume_role: None,
            api_base: api_base.map(str::to_owned),
        }
    }

    fn adapter(settings: BedrockSettings) -> Result<Bedrock, ProviderError> {
        let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
        Bedrock::new(client, settings)
    }

    // Endpoints: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
    // (POST /model/{modelId}/converse) and API_runtime_ConverseStream.html (/converse-stream),
    // on https://docs.aws.amazon.com/general/latest/gr/bedrock.html's bedrock-runtime endpoints.
    #[test]
    fn urls_follow_the_documented_endpoints_with_the_model_id_encoded() {
        let bedrock = adapter(settings(
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "us-east-1",
            None,
        ))
        .expect("valid");
        assert_eq!(
            bedrock.inner.converse_uri.to_string(),
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
        );
        assert_eq!(
            bedrock.inner.stream_uri.to_string(),
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
        );
        assert_eq!(
            bedrock.upstream_model(),
            "anthropic.claude-3-5-sonnet-20240620-v1:0"
        );
        assert_eq!(bedrock.family(), "bedrock");
        let arn = adapter(settings(
            "converse/arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.meta.llama3-1-70b-instruct-v1:0",
            "us-west-2",
            Some("http://127.0.0.1:9/"),
        ))
        .expect("valid");
        assert_eq!(
            arn.inner.converse_uri.to_string(),
            "http://127.0.0.1:9/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.meta.llama3-1-70b-instruct-v1%3A0/converse"
        );
    }

    #[test]
    fn bad_regions_and_empty_models_are_refused_and_no_credential_shows() {
        for region in ["", "us-east-1.evil.com/x", "US EAST"] {
            assert!(adapter(settings("m", region, None)).is_err(), "{region:?}");
        }
        assert!(adapter(settings("  ", "us-east-1", None)).is_err());
        let settings = settings("m", "eu-central-1", None);
        assert_eq!(
            endpoint("eu-central-1"),
            "https://bedrock-runtime.eu-central-1.amazonaws.com"
        );
        let bedrock = adapter(settings.clone()).expect("valid");
        for debug in [format!("{settings:?}"), format!("{bedrock:?}")] {
            for secret in ["AKIDSECRETID", "very-secret-key", "session-secret"] {
                assert!(!debug.contains(secret), "{debug}");
            }
        }
    }

    #[tokio::test]
    async fn embeddings_are_refused_as_a_bad_request() {
        let bedrock =
            adapter(settings("amazon.titan-embed-text-v2:0", "us-east-1", None)).expect("valid");
        let request: EmbeddingsRequest =
            serde_json::from_value(serde_json::json!({"model": "m", "input": "hi"}))
                .expect("request");
        let err = bedrock.embeddings(request).await.expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest);
        assert_eq!(err.message, "embeddings via Bedrock are not supported yet");
    }
}
