//! `text-completion-openai/<model>` deployments: models that only OpenAI's legacy Completions
//! API serves (`gpt-3.5-turbo-instruct`, `davinci-002`;
//! <https://platform.openai.com/docs/api-reference/completions>), as LiteLLM names them
//! (<https://docs.litellm.ai/docs/providers/text_completion_openai>: "the
//! `text-completion-openai/` prefix will call openai.completions.create").
//!
//! Text completions are passed through to `{api_base}/completions` by the OpenAI-compatible
//! adapter; a chat call becomes one text completion: the messages' texts as one prompt, the
//! answer's `choices[].text` as each choice's message, streamed chunks likewise. A completions
//! API has no tools, so a chat call with tools (or a tool conversation) is refused rather than
//! answered as if none were offered.

use std::sync::Arc;

use futures_util::future::{self, BoxFuture};
use http::Uri;
use switchyard_wire::{
    ChatRequest, ChatResponse, CompletionRequest, MessageContent, Prompt, PromptOptions,
};

use crate::http::HttpClient;
use crate::openai::{OpenAiCompatible, OpenAiSettings};
use crate::{ChunkStream, ErrorClass, Provider, ProviderError};

/// The family name, LiteLLM's prefix.
pub const FAMILY: &str = "text-completion-openai";

/// Chat request fields that only the chat API has; a completions API refuses them.
const CHAT_ONLY_FIELDS: &[&str] = &[
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "reasoning_effort",
    "modalities",
    "audio",
    "prediction",
    "store",
    "metadata",
    "web_search_options",
    "functions",
    "function_call",
];

/// A deployment whose model answers only OpenAI's legacy Completions API.
#[derive(Debug, Clone)]
pub struct TextCompletionOpenAi {
    completions: Arc<OpenAiCompatible>,
}

impl TextCompletionOpenAi {
    /// A deployment reached as an OpenAI-compatible one described by `settings` (its `family`
    /// is replaced by [`FAMILY`]).
    pub fn new(client: HttpClient, mut settings: OpenAiSettings) -> Result<Self, ProviderError> {
        settings.family = FAMILY;
        Ok(Self {
            completions: Arc::new(OpenAiCompatible::new(client, settings)?),
        })
    }
}

/// The text completion a chat call stands for: every message's text, in order, one paragraph
/// each, as one prompt; shared parameters and unknown fields kept, chat-only ones dropped.
///
/// LiteLLM (its `_transform_prompt`) sends a one-message conversation's text as the prompt, as
/// here, but several messages as several prompts, each answered on its own; here a
/// conversation is one prompt, so the answer has the choices the client asked for.
pub fn completion_for_chat(mut chat: ChatRequest) -> Result<CompletionRequest, ProviderError> {
    let refuse = |what: &str| {
        ProviderError::new(
            ErrorClass::BadRequest,
            format!(
                "{FAMILY} deployments answer OpenAI's legacy completions API, which has no {what}; \
                 send the call to a chat model"
            ),
        )
    };
    if chat.tools.as_ref().is_some_and(|tools| !tools.is_empty()) || chat.tool_choice.is_some() {
        return Err(refuse("tools"));
    }
    if chat
        .messages
        .iter()
        .any(|m| m.tool_calls.as_ref().is_some_and(|c| !c.is_empty()) || m.tool_call_id.is_some())
    {
        return Err(refuse("tool calls"));
    }
    if chat.response_format.is_some() {
        return Err(refuse("`response_format`"));
    }
    let prompt = chat
        .messages
        .iter()
        .filter_map(|m| m.content.as_ref().map(MessageContent::joined_text))
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    for field in CHAT_ONLY_FIELDS {
        chat.extra.remove(field);
    }
    let options = PromptOptions {
        prompt: Prompt::Text(prompt),
        echo: None,
        suffix: None,
        logprobs: None,
        best_of: None,
    };
    Ok(CompletionRequest::join(&chat, &options))
}

impl Provider for TextCompletionOpenAi {
    fn family(&self) -> &'static str {
        FAMILY
    }

    fn upstream_model(&self) -> &str {
        self.completions.upstream_model()
    }

    fn endpoint(&self) -> Option<&Uri> {
        self.completions.endpoint()
    }

    /// The parameters every adapter translates but tools, and the sampling parameters OpenAI's
    /// completions API shares with its chat API.
    fn supported_openai_params(&self) -> Vec<&'static str> {
        crate::TRANSLATED_OPENAI_PARAMS
            .iter()
            .copied()
            .filter(|param| !matches!(*param, "tools" | "tool_choice"))
            .chain([
                "n",
                "seed",
                "frequency_penalty",
                "presence_penalty",
                "logit_bias",
            ])
            .collect()
    }

    fn chat(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        match completion_for_chat(request) {
            Ok(completion) => self.completions.completion(completion),
            Err(err) => Box::pin(future::ready(Err(err))),
        }
    }

    fn chat_stream(
        &self,
        request: ChatRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        match completion_for_chat(request) {
            Ok(completion) => self.completions.completion_stream(completion),
            Err(err) => Box::pin(future::ready(Err(err))),
        }
    }

    fn embeddings(
        &self,
        _request: switchyard_wire::EmbeddingsRequest,
    ) -> BoxFuture<'static, Result<switchyard_wire::EmbeddingsResponse, ProviderError>> {
        crate::unsupported(FAMILY, "embeddings")
    }

    fn completion(
        &self,
        request: CompletionRequest,
    ) -> BoxFuture<'static, Result<ChatResponse, ProviderError>> {
        self.completions.completion(request)
    }

    fn completion_stream(
        &self,
        request: CompletionRequest,
    ) -> BoxFuture<'static, Result<ChunkStream, ProviderError>> {
        self.completions.completion_stream(request)
    }
}

#[cfg(test)]
mod fixture_tests;
