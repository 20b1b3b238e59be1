//! Provider adapters: each one turns the gateway's OpenAI-shaped calls into one provider's wire
//! format and back, streams included, and classifies the provider's failures.
//!
//! A [`Provider`] is built per deployment (it knows its upstream model, base URL and key), so the
//! router only has to pick one and call it. Today's families:
//!
//! - [`openai`]: OpenAI and every server that speaks its API (vLLM, Ollama, Groq, Mistral, ...).
//! - [`anthropic`]: Anthropic's Messages API (`anthropic/claude-...`).
//! - [`bedrock`]: AWS Bedrock Runtime's Converse API (`bedrock/<model id>`), SigV4-signed.
//! - [`cohere`]: Cohere's API v2 (`cohere/...`): chat, rerank and embeddings.
//! - [`gemini`]: Google's Gemini API (`gemini/gemini-...`), with an API key.
//! - [`sagemaker`]: models on Amazon SageMaker endpoints (`sagemaker/<endpoint>`), SigV4-signed.
//! - [`vertex`]: Gemini and Claude models on Google's Vertex AI (`vertex_ai/...`), with OAuth2
//!   tokens from [`credentials`], through the Gemini and Anthropic adapters.
//! - [`text_completion`]: models only OpenAI's legacy Completions API serves
//!   (`text-completion-openai/...`), chat calls sent as text completions.
//! - [`mock`]: answers locally, for demos, the embedded default configuration and benchmarks.
//!
//! Besides the OpenAI-shaped calls, some providers take a client's own API as it came
//! ([`native`]): Anthropic's Messages API, OpenAI's Responses API.

pub mod anthropic;
pub mod audio;
pub mod aws;
pub mod bedrock;
pub mod cohere;
mod completions;
pub mod credentials;
pub mod error;
pub mod gemini;
pub mod http;
pub mod mock;
pub mod native;
pub mod openai;
pub mod sagemaker;
#[cfg(test)]
mod test_support;
pub mod text_completion;
mod translate;
pub mod vertex;

use std::pin::Pin;

use futures_util::Stream;
use futures_util::future::BoxFuture;
use switchyard_wire::{
    ChatChunk, ChatRequest, ChatResponse, CompletionRequest, EmbeddingsRequest, EmbeddingsResponse,
    ImageRequest, ImagesResponse, ModerationRequest, ModerationResponse, RerankRequest,
    RerankResponse, SpeechRequest,
};

use anthropic::native::TokenCount;
use audio::{Audio, Transcript, TranscriptionRequest};
use native::{EventStream, NativeAnswer, NativeApi, NativeRequest};

pub use error::{ErrorClass, ProviderError};

/// A stream of chat chunks from a provider; ends after the last chunk (usage included).
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, ProviderError>> + Send>>;

/// One configured upstream model that can answer chat and embeddings calls.
///
/// Requests arrive with the client's model name; the provider replaces it with its own upstream
/// model before sending. Futures are `'static` so callers can spawn or race them.
pub trait Provider: Send + Sync + std::fmt::Debug + 'static {
    /// The provider family, as the `provider/` prefix of LiteLLM's model names says it
    /// (`openai`, `mock`, ...).
    fn family(&self) -> &'static str;

    /// The model name the upstream knows.
    fn upstream_model(&self) -> &str;

    /// The address of the server it calls (its chat endpoint), for the `server.address` and
    /// `server.port` of its spans; `None` for a provider that answers in-process.
    fn endpoint(&self) -> Option<&::http::Uri> {
        None
    }

    /// A complete chat completion.
    fn chat(&self, request: ChatRequest)
    -> BoxFuture<'static, Result<ChatResponse, ProviderError>>;

    /// A streamed chat completion. The stream always ends with a chunk carrying usage when the
    /// upstream reports it, whatever the client asked for; the caller decides what to forward.
    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>>;

    /// Embeddings of the request's input.
    fn embeddings(
        &self,
        request: EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<EmbeddingsResponse, ProviderError>>;

    /// The OpenAI chat parameters this provider's calls take (LiteLLM's
    /// `supported_openai_params`, shown by `/model_group/info`): by default, the ones the
    /// gateway reads and every adapter translates.
    fn supported_openai_params(&self) -> Vec<&'static str> {
        TRANSLATED_OPENAI_PARAMS.to_vec()
    }

    /// A complete legacy text completion (`/completions`), answered in chat shape (each
    /// choice's text as its message) so that every call shares one call path; the gateway
    /// renders it back as a `text_completion`. Providers without a completions API answer it
    /// through [`Provider::chat`], one call per prompt.
    fn completion(
        &self,
        request: CompletionRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        completions::complete_through_chat(self, request)
    }

    /// A moderation of the request's input (`/moderations`); by default refused: the provider
    /// has no such API.
    fn moderation(
        &self,
        _request: ModerationRequest,
    ) -> BoxFuture<'static, Result<ModerationResponse, ProviderError>> {
        unsupported(self.family(), "moderations")
    }

    /// Images for the request's prompt (`/images/generations`); by default refused.
    fn image_generation(
        &self,
        _request: ImageRequest,
    ) -> BoxFuture<'static, Result<ImagesResponse, ProviderError>> {
        unsupported(self.family(), "image generation")
    }

    /// The request's text spoken (`/audio/speech`), its audio streamed as it arrives; by
    /// default refused.
    fn speech(&self, _request: SpeechRequest) -> BoxFuture<'static, Result<Audio, ProviderError>> {
        unsupported(self.family(), "speech")
    }

    /// The uploaded audio transcribed (`/audio/transcriptions`); by default refused.
    fn transcription(
        &self,
        _request: TranscriptionRequest,
    ) -> BoxFuture<'static, Result<Transcript, ProviderError>> {
        unsupported(self.family(), "transcription")
    }

    /// The request's documents ranked against its query (`/rerank`); by default refused.
    fn rerank(
        &self,
        _request: RerankRequest,
    ) -> BoxFuture<'static, Result<RerankResponse, ProviderError>> {
        unsupported(self.family(), "rerank")
    }

    /// Whether this provider takes requests of `api` as they came ([`Provider::native`],
    /// [`Provider::native_stream`]): Anthropic deployments and Bedrock deployments of
    /// Anthropic's models take Messages requests, OpenAI and Azure OpenAI deployments take
    /// Responses requests.
    fn speaks(&self, _api: NativeApi) -> bool {
        false
    }

    /// A request of `api` sent as the client wrote it (its model replaced by the upstream's),
    /// answered as the upstream answered; by default refused.
    fn native(
        &self,
        api: NativeApi,
        _request: NativeRequest,
    ) -> BoxFuture<'static, Result<NativeAnswer, ProviderError>> {
        unsupported(self.family(), api.name())
    }

    /// A streamed request of `api` sent as the client wrote it, its events passed back as
    /// they arrive; by default refused.
    fn native_stream(
        &self,
        api: NativeApi,
        _request: NativeRequest,
    ) -> BoxFuture<'static, Result<EventStream, ProviderError>> {
        unsupported(self.family(), api.name())
    }

    /// Deletes what the upstream keeps of object `id` of `api` (a response OpenAI stores, for
    /// `DELETE /v1/responses/{id}`); one the upstream no longer has counts as deleted. By
    /// default refused.
    fn native_delete(
        &self,
        api: NativeApi,
        _id: &str,
    ) -> BoxFuture<'static, Result<(), ProviderError>> {
        unsupported(self.family(), api.name())
    }

    /// The exact input tokens of a Messages request, from the provider's own counter; `None`
    /// when the provider has none (by default), and the gateway estimates instead.
    fn count_tokens(
        &self,
        _request: NativeRequest,
    ) -> Option<BoxFuture<'static, Result<TokenCount, ProviderError>>> {
        None
    }

    /// A streamed legacy text completion, as chat chunks (each piece of text as a delta); see
    /// [`Provider::completion`]. Ends with a usage chunk as [`Provider::chat_stream`] does.
    fn completion_stream(
        &self,
        request: CompletionRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        completions::stream_through_chat(self, request)
    }
}

/// Whether a deployment's configured upstream model is a wildcard (`*`, `claude-*`), as
/// LiteLLM's `openai/*` deployments are: such a deployment sends each call to the model the
/// gateway resolved from the request (in the request's `model`) instead of a fixed one.
pub fn is_wildcard(model: &str) -> bool {
    model.contains('*')
}

/// The refusal of a call kind a provider has no API for: a bad request naming both, so the
/// client is told which deployment cannot serve what rather than getting an upstream's 404.
fn unsupported<T: Send + 'static>(
    family: &str,
    kind: &str,
) -> BoxFuture<'static, Result<T, ProviderError>> {
    Box::pin(futures_util::future::ready(Err(no_such_api(family, kind))))
}

fn no_such_api(family: &str, kind: &str) -> ProviderError {
    ProviderError::new(
        ErrorClass::BadRequest,
        format!(
            "{family} deployments have no {kind} API; send it to a model group of a provider that has one"
        ),
    )
}

/// Refuses a passed-through call of an API the provider does not speak ([`Provider::speaks`]),
/// as [`Provider::native`] does by default.
pub(crate) fn ensure_spoken(provider: &dyn Provider, api: NativeApi) -> Result<(), ProviderError> {
    if provider.speaks(api) {
        Ok(())
    } else {
        Err(no_such_api(provider.family(), api.name()))
    }
}

/// The OpenAI chat parameters every adapter translates.
pub const TRANSLATED_OPENAI_PARAMS: &[&str] = &[
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "user",
];

/// Seconds since the Unix epoch, as the `created` field of OpenAI objects counts time.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_is_object_safe() {
        fn _obj_safe(_: Box<dyn Provider>) {}
    }
}
