//! The Amazon SageMaker adapter: `sagemaker/<endpoint>` deployments, as LiteLLM names them
//! (<https://docs.litellm.ai/docs/providers/aws_sagemaker>), on SageMaker Runtime's
//! `InvokeEndpoint` (<https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html>)
//! and `InvokeEndpointWithResponseStream`, every call signed with Signature Version 4 for
//! service `sagemaker` with the credentials Bedrock deployments take ([`crate::aws`]).
//!
//! Chat goes to `POST {endpoint}/endpoints/{name}/invocations`, streams to
//! `.../invocations-response-stream` (AWS's binary event stream), with the Hugging Face TGI
//! payload LiteLLM's `sagemaker/` sends (`tgi`); the runtime is
//! `https://runtime.sagemaker.{region}.amazonaws.com` unless the deployment names an
//! `api_base`. Error answers are `{"Message": ...}` (or a model's `OriginalMessage`) with their
//! status. Embeddings go to `invocations` too, as `{"inputs": [...]}` (`embeddings`).

mod embeddings;
mod stream;
mod tgi;

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use http::Uri;
use switchyard_wire::{
    ChatMessage, ChatRequest, ChatResponse, Choice, EmbeddingsRequest, EmbeddingsResponse, Role,
    Usage,
};

use crate::aws::eventstream;
use crate::aws::{AssumeRole, AwsCaller, AwsCredentials, check_region, completion_id};
use crate::http::{HttpClient, MAX_RESPONSE_BYTES, body_error, error_from_response, parse_uri};
use crate::mock::estimate_tokens;
use crate::translate::{embedding_texts, embeddings_answer};
use crate::{ChunkStream, ErrorClass, Provider, ProviderError, unix_now};

/// The family name, LiteLLM's prefix.
pub const FAMILY: &str = "sagemaker";
/// SageMaker Runtime's signing name.
const SERVICE: &str = "sagemaker";

/// How to reach one SageMaker endpoint. `Debug` shows no credential.
#[derive(Debug, Clone)]
pub struct SagemakerSettings {
    /// The endpoint's name.
    pub endpoint: String,
    /// The AWS region, such as `us-west-2`.
    pub region: String,
    /// The credentials that sign the calls.
    pub credentials: AwsCredentials,
    /// A role to assume on top of them.
    pub assume_role: Option<AssumeRole>,
    /// Another runtime URL (a VPC endpoint, a test double) instead of
    /// [`runtime`]`(region)`.
    pub api_base: Option<String>,
}

/// SageMaker Runtime's URL in `region`.
pub fn runtime(region: &str) -> String {
    format!("https://runtime.sagemaker.{region}.amazonaws.com")
}

/// A deployment on a SageMaker endpoint.
#[derive(Debug, Clone)]
pub struct Sagemaker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: String,
    invoke_uri: Uri,
    stream_uri: Uri,
    caller: AwsCaller,
}

impl Sagemaker {
    /// An adapter for one endpoint, sending through the shared `client`.
    pub fn new(client: HttpClient, settings: SagemakerSettings) -> Result<Self, ProviderError> {
        let endpoint = settings.endpoint.trim().to_owned();
        // https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html:
        // `^[a-zA-Z0-9](-*[a-zA-Z0-9])*`, at most 63 characters.
        if endpoint.is_empty()
            || endpoint.len() > 63
            || !endpoint
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ProviderError::new(
                ErrorClass::BadRequest,
                format!("`{endpoint}` is not a SageMaker endpoint name (letters, digits and `-`)"),
            ));
        }
        let region = check_region(&settings.region)?;
        let base = settings
            .api_base
            .clone()
            .filter(|base| !base.trim().is_empty())
            .unwrap_or_else(|| runtime(region));
        let root = format!("{}/endpoints/{endpoint}", base.trim_end_matches('/'));
        Ok(Self {
            inner: Arc::new(Inner {
                invoke_uri: parse_uri(&format!("{root}/invocations"))?,
                stream_uri: parse_uri(&format!("{root}/invocations-response-stream"))?,
                caller: AwsCaller::new(
                    client,
                    SERVICE,
                    region,
                    &settings.credentials,
                    settings.assume_role.as_ref(),
                )?,
                endpoint,
            }),
        })
    }
}

fn serialized(body: &serde_json::Value) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body).map_err(|e| {
        ProviderError::new(
            ErrorClass::BadRequest,
            format!("request not serializable: {e}"),
        )
    })
}

impl Provider for Sagemaker {
    fn family(&self) -> &'static str {
        FAMILY
    }

    fn upstream_model(&self) -> &str {
        &self.inner.endpoint
    }

    fn endpoint(&self) -> Option<&Uri> {
        Some(&self.inner.invoke_uri)
    }

    fn supported_openai_params(&self) -> Vec<&'static str> {
        vec![
            "stream",
            "stream_options",
            "max_tokens",
            "max_completion_tokens",
            "temperature",
            "top_p",
            "stop",
        ]
    }

    fn chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let (body, prompt) = tgi::payload(&request, &inner.endpoint, false)?;
            let response = inner
                .caller
                .post(
                    &inner.invoke_uri,
                    serialized(&body)?,
                    Some("application/json"),
                )
                .await?;
            if !response.status().is_success() {
                return Err(error_from_response(response).await);
            }
            let id = completion_id(&response, SERVICE);
            let text = tgi::answer_text(&response.bytes(MAX_RESPONSE_BYTES).await?, &prompt)?;
            // TGI counts no tokens for the answer; LiteLLM estimates both sides as well.
            let usage = Usage::new(estimate_tokens(&prompt), estimate_tokens(&text));
            Ok(ChatResponse {
                id,
                object: "chat.completion".to_owned(),
                created: unix_now(),
                model: inner.endpoint.clone(),
                choices: vec![Choice {
                    index: 0,
                    message: ChatMessage::text(Role::Assistant, text),
                    finish_reason: Some("stop".to_owned()),
                    logprobs: None,
                }],
                usage: Some(usage),
                system_fingerprint: None,
                extra: Default::default(),
            })
        })
    }

    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let (body, prompt) = tgi::payload(&request, &inner.endpoint, true)?;
            let response = inner
                .caller
                .post(
                    &inner.stream_uri,
                    serialized(&body)?,
                    Some("application/vnd.amazon.eventstream"),
                )
                .await?;
            if !response.status().is_success() {
                return Err(error_from_response(response).await);
            }
            let id = completion_id(&response, SERVICE);
            let bytes = response
                .into_stream()
                .map(|read| read.map_err(|e| body_error(&e)));
            Ok(stream::chunk_stream(
                eventstream::messages(bytes),
                id,
                inner.endpoint.clone(),
                &prompt,
            ))
        })
    }

    fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let (texts, encoding) = embedding_texts(&request, "SageMaker")?;
            let body = serialized(&embeddings::request(&texts))?;
            let response = inner
                .caller
                .post(&inner.invoke_uri, body, Some("application/json"))
                .await?;
            if !response.status().is_success() {
                return Err(error_from_response(response).await);
            }
            let bytes = response.bytes(MAX_RESPONSE_BYTES).await?;
            let vectors = embeddings::vectors(&bytes, texts.len())?;
            // The endpoint counts no tokens; LiteLLM estimates them too (by words).
            let tokens = texts.iter().map(|t| estimate_tokens(t)).sum();
            Ok(embeddings_answer(
                vectors,
                encoding,
                tokens,
                &inner.endpoint,
            ))
        })
    }
}

#[cfg(test)]
mod fixture_tests;
