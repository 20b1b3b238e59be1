//! Calls passed through to upstreams that speak the client's own API
//! ([`switchyard_providers::native`]): Anthropic Messages (`/v1/messages`, [`crate::messages`])
//! and OpenAI Responses (`/v1/responses`, [`crate::responses`]). The client's body goes
//! upstream as it came, only `model` replaced, and the answer (or its event stream) comes back
//! unchanged.
//!
//! A [`NativeCall`] is a [`UnaryCall`], so it takes the path every call takes (key, model
//! allow-list, rate limits, budget reservation, router with retries and fallbacks, spans,
//! spend); a stream is watched to its end like a chat stream (in-flight slot, stream timeouts,
//! usage priced when it ends).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream, StreamExt};
use http::{HeaderValue, header};
use serde_json::Value;
use switchyard_layers::cost::Tokens;
use switchyard_providers::native::{
    EventStream, NativeAnswer, NativeApi, NativeEvent, NativeRequest, NativeUsage, StreamUsage,
};
use switchyard_providers::{Provider, ProviderError};
use switchyard_wire::{RawExtra, RawJson};
use tokio::time::Instant;

use crate::caller::Caller;
use crate::dispatch::unary::{StreamEnd, StreamWatch, UnaryCall};
use crate::error::ApiError;
use crate::pipeline::{Guarded, ReportsUsage};
use crate::settled::SettledStream;
use crate::state::AppState;

/// Whether a call of `api` for `model` from `caller` is passed through: the name (after the
/// caller's aliases and the configuration's) is a model group, not an experiment, a routing
/// rule or a wildcard, and every deployment of the group speaks `api`. Any other call is
/// translated to a chat call; fallback groups of a passed-through call must speak it too (a
/// deployment that does not refuses the attempt as a bad request).
pub fn serves_natively(state: &AppState, caller: &Caller, model: &str, api: NativeApi) -> bool {
    let named = caller.alias_target(model).unwrap_or(model);
    let group_name = state.alias_target(named).unwrap_or(named);
    if state.experiment(group_name).is_some() || state.rules().routes(group_name) {
        return false;
    }
    state.groups().get(group_name).is_some_and(|group| {
        !group.deployments().is_empty()
            && group.deployments().iter().all(|d| {
                d.provider.speaks(api)
                    && !switchyard_providers::is_wildcard(d.provider.upstream_model())
            })
    })
}

/// A call passed through.
#[derive(Clone)]
pub struct NativeCall {
    api: NativeApi,
    model: String,
    user: Option<String>,
    request: NativeRequest,
    metadata: Option<RawJson>,
    pinned: Option<String>,
    input_tokens: u64,
    max_output_tokens: Option<u64>,
}

impl NativeCall {
    /// The call of `api` for `request`, whose reading found `model`, the end user and the most
    /// output tokens it asks for; `input_tokens` is the gateway's estimate of its prompt.
    pub fn new(
        api: NativeApi,
        model: String,
        user: Option<String>,
        request: NativeRequest,
        input_tokens: u64,
        max_output_tokens: Option<u64>,
    ) -> Self {
        Self {
            api,
            model,
            user,
            request,
            metadata: None,
            pinned: None,
            input_tokens,
            max_output_tokens,
        }
    }

    /// Sends the call to deployment `id` whenever it is available: the one that holds the
    /// state it continues (a stored response, for OpenAI's `previous_response_id`).
    pub fn pinned_to(mut self, id: Option<String>) -> Self {
        self.pinned = id;
        self
    }

    /// The `metadata` the upstream gets. The gateway takes `metadata` out of every body
    /// (LiteLLM's tags and trace fields ride in it) before it reaches [`UnaryCall::send`];
    /// an API that reads its own puts it back through this.
    pub fn with_metadata(mut self, metadata: Option<RawJson>) -> Self {
        self.metadata = metadata;
        self
    }
}

/// What a passed-through call answered.
pub enum NativeReply {
    /// The whole answer, as the upstream sent it.
    Whole(NativeAnswer),
    /// Its events, as they arrive.
    Stream(EventStream),
}

impl UnaryCall for NativeCall {
    type Answer = NativeReply;

    const OPERATION: &'static str = switchyard_telemetry::genai::operation::CHAT;

    fn model(&self) -> &str {
        &self.model
    }

    fn model_mut(&mut self) -> &mut String {
        &mut self.model
    }

    fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    fn extra_mut(&mut self) -> Option<&mut RawExtra> {
        Some(&mut self.request.body)
    }

    fn input_tokens(&self) -> u64 {
        self.input_tokens
    }

    fn asked_output(&self) -> Option<u64> {
        self.max_output_tokens
    }

    fn generates(&self) -> bool {
        true
    }

    fn pinned_deployment(&self) -> Option<&str> {
        self.pinned.as_deref()
    }

    fn send(
        mut self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        self.request.set_model(&self.model);
        if let Some(metadata) = self.metadata {
            self.request.body.insert("metadata", metadata);
        }
        if self.request.is_stream() {
            provider
                .native_stream(self.api, self.request)
                .map(|r| r.map(NativeReply::Stream))
                .boxed()
        } else {
            provider
                .native(self.api, self.request)
                .map(|r| r.map(NativeReply::Whole))
                .boxed()
        }
    }

    fn reported(answer: &Self::Answer) -> Option<Tokens> {
        match answer {
            NativeReply::Whole(answer) => answer.usage.map(tokens_of),
            NativeReply::Stream(_) => None,
        }
    }

    fn answer_model(answer: &Self::Answer) -> Option<&str> {
        match answer {
            NativeReply::Whole(answer) => Some(&answer.model),
            NativeReply::Stream(_) => None,
        }
    }

    fn streaming(answer: &Self::Answer) -> bool {
        matches!(answer, NativeReply::Stream(_))
    }

    fn watch(answer: Self::Answer, watch: StreamWatch) -> Self::Answer {
        let NativeReply::Stream(events) = answer else {
            return answer;
        };
        let guarded = Guarded::new(events, watch.guard, watch.state);
        let metered = MeteredEvents {
            events: Box::pin(guarded),
            usage: StreamUsage::default(),
            first_event: None,
            end: Some(watch.end),
        };
        NativeReply::Stream(Box::pin(SettledStream::new(metered, watch.slot)))
    }
}

/// The gateway's tokens for a provider's counts.
fn tokens_of(usage: NativeUsage) -> Tokens {
    Tokens {
        prompt: usage.prompt,
        completion: usage.completion,
        cache_read: usage.cache_read,
        cache_write: usage.cache_write,
    }
}

impl ReportsUsage for NativeEvent {
    fn total_tokens(&self) -> Option<u64> {
        self.usage.map(|usage| usage.total())
    }
}

/// A passed-through stream that gathers the usage its events report and when its first event
/// came, and ends the call with them, once: at the stream's end, at its first error, or when it
/// is dropped (then with no upstream end).
struct MeteredEvents {
    events: EventStream,
    usage: StreamUsage,
    first_event: Option<Instant>,
    end: Option<Box<dyn FnOnce(StreamEnd) + Send>>,
}

impl MeteredEvents {
    fn finish(&mut self, upstream_end: Option<Instant>) {
        if let Some(end) = self.end.take() {
            let usage = self.usage;
            end(StreamEnd {
                reported: usage.reported.then(|| tokens_of(usage.usage)),
                first_event: self.first_event,
                upstream_end,
            });
        }
    }
}

impl Stream for MeteredEvents {
    type Item = Result<NativeEvent, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.events.poll_next_unpin(cx));
        match &item {
            Some(Ok(event)) => {
                self.first_event.get_or_insert_with(Instant::now);
                self.usage.add(event);
            }
            Some(Err(_)) | None => self.finish(Some(Instant::now())),
        }
        Poll::Ready(item)
    }
}

impl Drop for MeteredEvents {
    fn drop(&mut self) {
        self.finish(None);
    }
}

/// The answer to a passed-through call: the upstream's body as it came, or its events as
/// `text/event-stream`. A failure mid-stream becomes the event `failure` writes in the API's
/// own shape, given the error and how many events went before it.
pub fn respond<F>(reply: NativeReply, deployment: Arc<str>, mut failure: F) -> Response
where
    F: FnMut(&ApiError, u64) -> Bytes + Send + 'static,
{
    match reply {
        NativeReply::Whole(answer) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            answer.body,
        )
            .into_response(),
        NativeReply::Stream(events) => {
            let mut sent = 0u64;
            let body = events.map(move |event| {
                Ok::<_, Infallible>(match event {
                    Ok(event) => {
                        sent += 1;
                        event.to_sse()
                    }
                    Err(err) => {
                        tracing::warn!(
                            deployment = &*deployment,
                            class = err.class.as_str(),
                            "upstream stream failed: {err}"
                        );
                        failure(&ApiError::from_provider(&deployment, &err), sent)
                    }
                })
            });
            crate::stream::event_stream(body)
        }
    }
}

/// Tokens counted for one image or document given inline or by reference: about what
/// Anthropic charges for an image of 1.15 megapixels (<https://docs.anthropic.com/en/docs/build-with-claude/vision>:
/// tokens = width * height / 750, 1,600 for 1092x1092).
pub const ATTACHMENT_TOKENS: u64 = 1_600;

/// Content types that are attachments, counted as [`ATTACHMENT_TOKENS`] each: Anthropic's
/// `image` and `document` blocks, OpenAI Responses' `input_image` and `input_file`.
const ATTACHMENT_TYPES: [&str; 4] = ["image", "document", "input_image", "input_file"];

/// Keys whose values are no text the model reads as tokens: base64 data, thinking
/// signatures, encrypted reasoning, ids, types and cache markers.
const UNCOUNTED_KEYS: [&str; 8] = [
    "signature",
    "data",
    "encrypted_content",
    "type",
    "id",
    "call_id",
    "cache_control",
    "status",
];

/// The gateway's estimate of a passed-through request's input tokens, for budgets, rate
/// limits and Anthropic's `count_tokens` on providers without a token counter: four
/// characters a token of every string in the body's `fields` (keys and JSON punctuation not
/// counted; tool schemas and arguments counted as their JSON text), except what
/// [`UNCOUNTED_KEYS`] holds, plus [`ATTACHMENT_TOKENS`] per image or document.
pub fn estimated_input_tokens(body: &RawExtra, fields: &[&str]) -> u64 {
    let mut chars = 0u64;
    let mut attachments = 0u64;
    for field in fields {
        if let Some(value) = body.value(field) {
            count(&value, &mut chars, &mut attachments);
        }
    }
    chars.div_ceil(4) + attachments * ATTACHMENT_TOKENS
}

fn count(value: &Value, chars: &mut u64, attachments: &mut u64) {
    match value {
        Value::String(text) => *chars += text.chars().count() as u64,
        Value::Array(items) => items.iter().for_each(|v| count(v, chars, attachments)),
        Value::Object(map) => {
            if map
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|kind| ATTACHMENT_TYPES.contains(&kind))
            {
                *attachments += 1;
                return;
            }
            for (key, value) in map {
                match key.as_str() {
                    key if UNCOUNTED_KEYS.contains(&key) => {}
                    "input_schema" | "input" | "parameters" => {
                        *chars += value.to_string().len() as u64;
                    }
                    _ => count(value, chars, attachments),
                }
            }
        }
        _ => {}
    }
}

/// The body as the typed request it must also be, for validation: the same errors a typed
/// reading of the body gives.
pub fn typed<T: serde::de::DeserializeOwned>(body: &RawExtra) -> Result<T, ApiError> {
    let text = serde_json::to_vec(body)
        .map_err(|err| ApiError::internal(format!("could not re-read the body: {err}")))?;
    crate::body::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> RawExtra {
        serde_json::from_str(json).expect("json")
    }

    // Request shapes: https://docs.anthropic.com/en/api/messages (image and document blocks,
    // thinking blocks with their signature).
    #[test]
    fn the_estimate_counts_text_and_attachments_not_data_or_signatures() {
        let tokens = estimated_input_tokens(
            &body(
                r#"{"model":"m","system":[{"type":"text","text":"abcd","cache_control":{"type":"ephemeral"}}],
                "messages":[{"role":"user","content":[
                    {"type":"text","text":"efgh"},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"QUFBQUFBQUFBQUFB"}},
                    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]},
                  {"role":"assistant","content":[{"type":"thinking","thinking":"ijkl","signature":"c2lnbmF0dXJlc2lnbmF0dXJl"}]}]}"#,
            ),
            &["system", "messages", "tools"],
        );
        // "abcd", "user", "efgh", "assistant" (9), "ijkl": 4+4+4+9+4 = 25 chars -> 7 tokens.
        assert_eq!(tokens, 7 + 2 * ATTACHMENT_TOKENS);
    }

    // Input items: https://platform.openai.com/docs/api-reference/responses/create (`input`),
    // reasoning items with `encrypted_content`.
    #[test]
    fn the_estimate_skips_encrypted_reasoning_and_ids() {
        let tokens = estimated_input_tokens(
            &body(
                r#"{"model":"m","instructions":"abcd","input":[
                    {"type":"reasoning","id":"rs_123","summary":[],"encrypted_content":"Z0FBQUFBQm9fZW5jcnlwdGVk"},
                    {"role":"user","content":[{"type":"input_text","text":"efgh"},{"type":"input_image","image_url":"data:image/png;base64,QUFB"}]}]}"#,
            ),
            &["instructions", "input", "tools"],
        );
        // "abcd", "user", "efgh": 12 chars -> 3 tokens, and one image.
        assert_eq!(tokens, 3 + ATTACHMENT_TOKENS);
    }
}
