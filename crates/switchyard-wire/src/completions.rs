//! Legacy text completions, `POST /v1/completions`: request, answer and stream chunk as OpenAI
//! documents them (<https://platform.openai.com/docs/api-reference/completions>), and how a text
//! completion corresponds to a chat call.
//!
//! A text completion travels the gateway's call path as the chat call it stands for
//! ([`CompletionRequest::split`]: each text prompt one user message), its prompt options beside
//! it, and is put back together ([`CompletionRequest::join`]) for upstreams that serve
//! `/completions`. Answers travel in chat shape and are rendered back as `text_completion`
//! objects ([`Completion::from_chat`], [`Completion::from_chat_chunk`]).

use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::raw::{RequestObject, deserialize_request, read_object, read_once, required};
use crate::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, Extra,
    MessageContent, RawExtra, Role, Stop, StreamOptions, Usage,
};

/// The `object` of a text completion and of each of its stream chunks.
pub const TEXT_COMPLETION_OBJECT: &str = "text_completion";

/// A text completion request as OpenAI defines it.
///
/// Fields the gateway reads are typed; every other field (`frequency_penalty`, `logit_bias`,
/// `seed`, ...) is kept in [`CompletionRequest::extra`] and sent on as it came.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CompletionRequest {
    /// The model name the client asked for.
    pub model: String,
    /// The prompt: a text, texts, a token list or token lists.
    pub prompt: Prompt,
    /// Whether to answer as a server-sent event stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options; `include_usage` asks for a final usage chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Upper bound on generated tokens (OpenAI's default is 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Completions to generate for each prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// The end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Answer the prompt back before the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Text that comes after the completion (insertion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Log probabilities of this many most likely tokens, with each chosen token's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Completions generated server-side, of which the best `n` are answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_of: Option<u32>,
    /// Every other field, passed through unchanged as the JSON text it came as.
    #[serde(flatten)]
    pub extra: RawExtra,
}

/// Read in one pass, each field the gateway does not know kept as its text ([`RawExtra`]).
impl<'de> Deserialize<'de> for CompletionRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_request(deserializer)
    }
}

impl RequestObject for CompletionRequest {
    const EXPECTING: &'static str = "a text completion request object";

    fn read<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        let (mut model, mut prompt, mut stream, mut stream_options) = (None, None, None, None);
        let (mut max_tokens, mut temperature, mut top_p, mut n) = (None, None, None, None);
        let (mut stop, mut user, mut echo, mut suffix) = (None, None, None, None);
        let (mut logprobs, mut best_of) = (None, None);
        let extra = read_object(map, |name, map| match name {
            "model" => read_once(&mut model, "model", map),
            "prompt" => read_once(&mut prompt, "prompt", map),
            "stream" => read_once(&mut stream, "stream", map),
            "stream_options" => read_once(&mut stream_options, "stream_options", map),
            "max_tokens" => read_once(&mut max_tokens, "max_tokens", map),
            "temperature" => read_once(&mut temperature, "temperature", map),
            "top_p" => read_once(&mut top_p, "top_p", map),
            "n" => read_once(&mut n, "n", map),
            "stop" => read_once(&mut stop, "stop", map),
            "user" => read_once(&mut user, "user", map),
            "echo" => read_once(&mut echo, "echo", map),
            "suffix" => read_once(&mut suffix, "suffix", map),
            "logprobs" => read_once(&mut logprobs, "logprobs", map),
            "best_of" => read_once(&mut best_of, "best_of", map),
            _ => Ok(false),
        })?;
        Ok(Self {
            model: required(model, "model")?,
            prompt: required(prompt, "prompt")?,
            stream: stream.flatten(),
            stream_options: stream_options.flatten(),
            max_tokens: max_tokens.flatten(),
            temperature: temperature.flatten(),
            top_p: top_p.flatten(),
            n: n.flatten(),
            stop: stop.flatten(),
            user: user.flatten(),
            echo: echo.flatten(),
            suffix: suffix.flatten(),
            logprobs: logprobs.flatten(),
            best_of: best_of.flatten(),
            extra,
        })
    }
}

/// The prompt of a text completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Prompt {
    /// One text.
    Text(String),
    /// Several texts, each completed on its own.
    Texts(Vec<String>),
    /// One pre-tokenized text.
    Tokens(Vec<u32>),
    /// Several pre-tokenized texts.
    TokenBatches(Vec<Vec<u32>>),
}

impl Prompt {
    /// The prompt's texts, each completed on its own; `None` for pre-tokenized prompts, which
    /// only a model's own tokenizer can read.
    pub fn texts(&self) -> Option<Vec<&str>> {
        match self {
            Self::Text(text) => Some(vec![text.as_str()]),
            Self::Texts(texts) => Some(texts.iter().map(String::as_str).collect()),
            Self::Tokens(_) | Self::TokenBatches(_) => None,
        }
    }

    /// How many prompts it holds.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(_) | Self::Tokens(_) => 1,
            Self::Texts(texts) => texts.len(),
            Self::TokenBatches(batches) => batches.len(),
        }
    }

    /// Whether it holds no prompt at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each prompt as text for the gateway's own bookkeeping (estimates, routing rules): the
    /// texts, or the token ids written out, which counts about as many estimated tokens.
    fn bookkeeping_texts(&self) -> Vec<String> {
        let ids = |tokens: &[u32]| {
            tokens
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            Self::Text(text) => vec![text.clone()],
            Self::Texts(texts) => texts.clone(),
            Self::Tokens(tokens) => vec![ids(tokens)],
            Self::TokenBatches(batches) => batches.iter().map(|t| ids(t)).collect(),
        }
    }
}

/// What a text completion request holds that a chat request has no field for.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptOptions {
    /// The prompt.
    pub prompt: Prompt,
    /// `echo`.
    pub echo: Option<bool>,
    /// `suffix`.
    pub suffix: Option<String>,
    /// `logprobs`.
    pub logprobs: Option<u32>,
    /// `best_of`.
    pub best_of: Option<u32>,
}

impl CompletionRequest {
    /// Whether the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// The chat call this completion stands for (each prompt one user message, every shared
    /// parameter and unknown field kept), and what only a text completion has.
    pub fn split(self) -> (ChatRequest, PromptOptions) {
        let messages = self
            .prompt
            .bookkeeping_texts()
            .into_iter()
            .map(|text| ChatMessage::text(Role::User, text))
            .collect();
        let chat = ChatRequest {
            model: self.model,
            messages,
            stream: self.stream,
            stream_options: self.stream_options,
            max_tokens: self.max_tokens,
            max_completion_tokens: None,
            temperature: self.temperature,
            top_p: self.top_p,
            n: self.n,
            stop: self.stop,
            tools: None,
            tool_choice: None,
            response_format: None,
            user: self.user,
            extra: self.extra,
        };
        let options = PromptOptions {
            prompt: self.prompt,
            echo: self.echo,
            suffix: self.suffix,
            logprobs: self.logprobs,
            best_of: self.best_of,
        };
        (chat, options)
    }

    /// The text completion `chat` (as [`CompletionRequest::split`] made it, then routed) stands
    /// for: its model, shared parameters and unknown fields with `options`; its messages are
    /// not read.
    pub fn join(chat: &ChatRequest, options: &PromptOptions) -> Self {
        Self {
            model: chat.model.clone(),
            prompt: options.prompt.clone(),
            stream: chat.stream,
            stream_options: chat.stream_options.clone(),
            max_tokens: chat.max_completion_tokens.or(chat.max_tokens),
            temperature: chat.temperature,
            top_p: chat.top_p,
            n: chat.n,
            stop: chat.stop.clone(),
            user: chat.user.clone(),
            echo: options.echo,
            suffix: options.suffix.clone(),
            logprobs: options.logprobs,
            best_of: options.best_of,
            extra: chat.extra.clone(),
        }
    }
}

/// A complete text completion, and (with `usage` on the last only) each chunk of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Completion {
    /// Unique id of the completion; the same on every chunk.
    pub id: String,
    /// Always `text_completion`.
    pub object: String,
    /// Unix time of creation, in seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The generated choices (empty on a stream's final usage chunk).
    pub choices: Vec<CompletionChoice>,
    /// Token counts of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Other fields, passed through.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One generated choice of a text completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompletionChoice {
    /// The generated text (a piece of it, in a stream chunk).
    pub text: String,
    /// Position among the choices.
    pub index: u32,
    /// `tokens`, `token_logprobs`, `top_logprobs` and `text_offset` when asked for, else `null`.
    #[serde(default)]
    pub logprobs: Option<Value>,
    /// Why generation stopped: `stop`, `length` or `content_filter`; `null` mid-stream.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

impl Completion {
    /// A chat answer rendered as the text completion it answers.
    pub fn from_chat(answer: ChatResponse) -> Self {
        Self {
            id: answer.id,
            object: TEXT_COMPLETION_OBJECT.to_owned(),
            created: answer.created,
            model: answer.model,
            choices: answer
                .choices
                .into_iter()
                .map(|choice| CompletionChoice {
                    text: choice
                        .message
                        .content
                        .as_ref()
                        .map(MessageContent::joined_text)
                        .unwrap_or_default(),
                    index: choice.index,
                    logprobs: choice.logprobs,
                    finish_reason: choice.finish_reason,
                })
                .collect(),
            usage: answer.usage,
            system_fingerprint: answer.system_fingerprint,
            extra: answer.extra,
        }
    }

    /// A chat stream chunk rendered as a text completion chunk.
    pub fn from_chat_chunk(chunk: ChatChunk) -> Self {
        Self {
            id: chunk.id,
            object: TEXT_COMPLETION_OBJECT.to_owned(),
            created: chunk.created,
            model: chunk.model,
            choices: chunk
                .choices
                .into_iter()
                .map(|choice| CompletionChoice {
                    text: choice.delta.content.unwrap_or_default(),
                    index: choice.index,
                    logprobs: choice.logprobs,
                    finish_reason: choice.finish_reason,
                })
                .collect(),
            usage: chunk.usage,
            system_fingerprint: chunk.system_fingerprint,
            extra: chunk.extra,
        }
    }

    /// The chat answer this text completion stands for on the gateway's call path.
    pub fn into_chat(self) -> ChatResponse {
        ChatResponse {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model,
            choices: self
                .choices
                .into_iter()
                .map(|choice| Choice {
                    index: choice.index,
                    message: ChatMessage::text(Role::Assistant, choice.text),
                    finish_reason: choice.finish_reason,
                    logprobs: choice.logprobs,
                })
                .collect(),
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            extra: self.extra,
        }
    }

    /// The chat chunk this text completion chunk stands for on the gateway's call path.
    pub fn into_chat_chunk(self) -> ChatChunk {
        ChatChunk {
            id: self.id,
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model,
            choices: self
                .choices
                .into_iter()
                .map(|choice| ChunkChoice {
                    index: choice.index,
                    delta: Delta {
                        content: Some(choice.text),
                        ..Delta::default()
                    },
                    finish_reason: choice.finish_reason,
                    logprobs: choice.logprobs,
                })
                .collect(),
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            extra: self.extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_prompt_form_reads() {
        for (prompt, count) in [
            (json!("Say this is a test"), 1),
            (json!(["a", "b"]), 2),
            (json!([1212, 318]), 1),
            (json!([[1212], [318, 257]]), 2),
        ] {
            let request: CompletionRequest =
                serde_json::from_value(json!({"model": "m", "prompt": prompt, "seed": 3}))
                    .expect("valid");
            assert_eq!(request.prompt.len(), count, "{prompt}");
            assert_eq!(request.extra.value("seed"), Some(json!(3)));
        }
        let missing =
            serde_json::from_value::<CompletionRequest>(json!({"model": "m"})).expect_err("no");
        assert!(missing.to_string().contains("missing field `prompt`"));
    }

    #[test]
    fn split_and_join_give_the_request_back() {
        let body = json!({"model": "m", "prompt": ["one", "two"], "max_tokens": 7,
            "temperature": 0.5, "n": 2, "stop": "\n", "echo": true, "suffix": "!",
            "logprobs": 2, "best_of": 3, "user": "u", "stream": true,
            "stream_options": {"include_usage": true}, "logit_bias": {"50256": -100}});
        let request: CompletionRequest = serde_json::from_value(body.clone()).expect("valid");
        let (chat, options) = request.clone().split();
        assert_eq!(chat.messages.len(), 2);
        assert_eq!(
            chat.messages[1].content,
            Some(MessageContent::Text("two".into()))
        );
        assert_eq!(chat.max_tokens, Some(7));
        let joined = CompletionRequest::join(&chat, &options);
        assert_eq!(joined, request);
        assert_eq!(serde_json::to_value(&joined).expect("serializes"), body);
    }

    #[test]
    fn token_prompts_count_about_one_estimated_token_per_token() {
        let request: CompletionRequest =
            serde_json::from_value(json!({"model": "m", "prompt": [1, 22, 333]})).expect("valid");
        assert_eq!(request.prompt.texts(), None);
        let (chat, _) = request.split();
        assert_eq!(
            chat.messages[0].content,
            Some(MessageContent::Text("1 22 333".into()))
        );
    }

    // Shapes from https://platform.openai.com/docs/api-reference/completions/object.
    #[test]
    fn answers_round_trip_through_their_chat_shape() {
        let documented = json!({
            "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7", "object": "text_completion",
            "created": 1589478378, "model": "gpt-3.5-turbo-instruct",
            "system_fingerprint": "fp_44709d6fcb",
            "choices": [{"text": "\n\nThis is indeed a test", "index": 0,
                         "logprobs": null, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
        });
        let completion: Completion = serde_json::from_value(documented.clone()).expect("valid");
        let back = Completion::from_chat(completion.into_chat());
        assert_eq!(serde_json::to_value(&back).expect("serializes"), documented);

        let chunk = json!({"id": "cmpl-1", "object": "text_completion", "created": 1,
            "model": "m", "choices": [{"text": "Hel", "index": 0, "logprobs": null,
            "finish_reason": null}]});
        let parsed: Completion = serde_json::from_value(chunk.clone()).expect("valid");
        let back = Completion::from_chat_chunk(parsed.into_chat_chunk());
        assert_eq!(serde_json::to_value(&back).expect("serializes"), chunk);
    }
}
