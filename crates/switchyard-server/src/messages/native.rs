//! `/v1/messages` and `/v1/messages/count_tokens` passed through to providers that speak
//! Anthropic's Messages API (Anthropic deployments): the client's body goes upstream as it came,
//! only `model` replaced, with its `anthropic-version` and `anthropic-beta` headers, and the
//! answer (or its event stream) comes back unchanged, so extended thinking and its signatures,
//! `redacted_thinking`, `cache_control`, documents and `is_error` tool results survive.
//!
//! Both are [`UnaryCall`]s, so they take the call path every call takes (key, model
//! allow-list, rate limits, budget reservation, router with retries and fallbacks, spans,
//! spend); a stream is watched to its end like a chat stream (in-flight slot, stream timeouts,
//! usage priced when it ends). A count is never charged: it generates nothing and its record
//! costs 0.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::{self, BoxFuture};
use futures_util::{FutureExt, Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde_json::Value;
use switchyard_layers::cost::Tokens;
use switchyard_providers::anthropic::native::{
    EventStream, FORWARDED_HEADERS, NativeAnswer, NativeEvent, NativeRequest, StreamUsage,
    TokenCount,
};
use switchyard_providers::{Provider, ProviderError};
use switchyard_wire::anthropic::{StreamEvent, Usage};
use switchyard_wire::{RawExtra, RawJson};

use super::anthropic_error;
use crate::caller::Caller;
use crate::dispatch::unary::{StreamWatch, UnaryCall};
use crate::error::ApiError;
use crate::pipeline::{Guarded, ReportsUsage};
use crate::settled::SettledStream;
use crate::state::AppState;

/// Response header of `count_tokens` saying where the count comes from: `exact` (the
/// provider's own token counter) or `estimate` (the gateway's, see [`estimated_input_tokens`]).
pub const TOKEN_COUNT_HEADER: &str = "x-switchyard-token-count";

/// Tokens counted for one image or document given inline or by reference: about what
/// Anthropic charges for an image of 1.15 megapixels (<https://docs.anthropic.com/en/docs/build-with-claude/vision>:
/// tokens = width * height / 750, 1,600 for 1092x1092).
pub const ATTACHMENT_TOKENS: u64 = 1_600;

/// Whether a Messages call for `model` from `caller` is passed through: the name (after the
/// caller's aliases and the configuration's) is a model group, not an experiment, a routing
/// rule or a wildcard, and every deployment of the group speaks the Messages API. Any other
/// call is translated to a chat call ([`super::request`]); fallback groups of a passed-through
/// call must speak it too (a deployment that does not refuses the attempt as a bad request).
pub fn serves_natively(state: &AppState, caller: &Caller, model: &str) -> bool {
    let named = caller.alias_target(model).unwrap_or(model);
    let group_name = state.alias_target(named).unwrap_or(named);
    if state.experiment(group_name).is_some() || state.rules().routes(group_name) {
        return false;
    }
    state.groups().get(group_name).is_some_and(|group| {
        !group.deployments().is_empty()
            && group.deployments().iter().all(|d| {
                d.provider.speaks_messages()
                    && !switchyard_providers::is_wildcard(d.provider.upstream_model())
            })
    })
}

/// The client's headers a passed-through call forwards ([`FORWARDED_HEADERS`]).
pub fn forwarded_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    FORWARDED_HEADERS
        .iter()
        .flat_map(|name| {
            headers
                .get_all(*name)
                .iter()
                .map(|value| (HeaderName::from_static(name), value.clone()))
        })
        .collect()
}

/// A Messages call passed through.
#[derive(Clone)]
pub struct NativeMessages {
    model: String,
    user: Option<String>,
    request: NativeRequest,
    input_tokens: u64,
    max_tokens: u64,
}

impl NativeMessages {
    /// The call for `body`, whose typed reading found `model`, `max_tokens` and the end user.
    pub fn new(
        model: String,
        max_tokens: u32,
        user: Option<String>,
        body: RawExtra,
        headers: &HeaderMap,
    ) -> Self {
        let input_tokens = estimated_input_tokens(&body);
        Self {
            model,
            user,
            request: NativeRequest {
                body,
                headers: forwarded_headers(headers),
            },
            input_tokens,
            max_tokens: u64::from(max_tokens),
        }
    }
}

/// What a passed-through Messages call answered.
pub enum NativeReply {
    /// The whole answer, as the upstream sent it.
    Whole(NativeAnswer),
    /// Its events, as they arrive.
    Stream(EventStream),
}

impl UnaryCall for NativeMessages {
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
        Some(self.max_tokens)
    }

    fn send(
        mut self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        self.request.set_model(&self.model);
        // The gateway takes `metadata` out of bodies (LiteLLM's tags and trace fields ride in
        // it); Anthropic's own field, `metadata.user_id`, goes back in.
        if let Some(user) = &self.user
            && let Ok(metadata) = RawJson::from_value(&serde_json::json!({ "user_id": user }))
        {
            self.request.body.insert("metadata", metadata);
        }
        if self.request.is_stream() {
            provider
                .messages_stream(self.request)
                .map(|r| r.map(NativeReply::Stream))
                .boxed()
        } else {
            provider
                .messages(self.request)
                .map(|r| r.map(NativeReply::Whole))
                .boxed()
        }
    }

    fn reported(answer: &Self::Answer) -> Option<Tokens> {
        match answer {
            NativeReply::Whole(answer) => Some(tokens_of(&answer.usage)),
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
            end: Some(watch.end),
        };
        NativeReply::Stream(Box::pin(SettledStream::new(metered, watch.slot)))
    }
}

/// The gateway's tokens for Anthropic's counts: the prompt is the uncached input plus both
/// cache counts, each cache count priced at its own rate
/// (<https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing>).
fn tokens_of(usage: &Usage) -> Tokens {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let cache_write = usage.cache_creation_input_tokens.unwrap_or(0);
    Tokens {
        prompt: usage.input_tokens + cache_read + cache_write,
        completion: usage.output_tokens,
        cache_read,
        cache_write,
    }
}

/// Each token counted once over the stream: the prompt (cache counts included) at
/// `message_start`, the output at `message_delta` (which, on newer API versions, repeats the
/// input counts).
impl ReportsUsage for NativeEvent {
    fn total_tokens(&self) -> Option<u64> {
        let usage = self.usage()?;
        match self.event.as_deref() {
            Some("message_delta") => Some(usage.output_tokens),
            _ => Some(tokens_of(&usage).prompt),
        }
    }
}

/// A passed-through stream that gathers the usage its events report and ends the call with
/// it, once: at the stream's end, at its first error, or when it is dropped.
struct MeteredEvents {
    events: EventStream,
    usage: StreamUsage,
    end: Option<Box<dyn FnOnce(Option<Tokens>) + Send>>,
}

impl MeteredEvents {
    fn finish(&mut self) {
        if let Some(end) = self.end.take() {
            let usage = self.usage;
            end(usage.reported.then(|| Tokens {
                prompt: usage.input + usage.cache_read + usage.cache_creation,
                completion: usage.output,
                cache_read: usage.cache_read,
                cache_write: usage.cache_creation,
            }));
        }
    }
}

impl Stream for MeteredEvents {
    type Item = Result<NativeEvent, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.events.poll_next_unpin(cx));
        match &item {
            Some(Ok(event)) => self.usage.add(event),
            Some(Err(_)) | None => self.finish(),
        }
        Poll::Ready(item)
    }
}

impl Drop for MeteredEvents {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The answer to a passed-through call: the upstream's body as it came, or its events as
/// `text/event-stream`; a failure mid-stream becomes one Anthropic `error` event.
pub fn respond(reply: NativeReply, deployment: Arc<str>) -> Response {
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
            let body = events.map(move |event| {
                Ok::<_, Infallible>(match event {
                    Ok(event) => event.to_sse(),
                    Err(err) => {
                        tracing::warn!(
                            deployment = &*deployment,
                            class = err.class.as_str(),
                            "upstream stream failed: {err}"
                        );
                        let body = anthropic_error(&ApiError::from_provider(&deployment, &err));
                        let event = StreamEvent::Error { error: body.error };
                        let data = serde_json::to_string(&event).unwrap_or_default();
                        Bytes::from(format!("event: error\ndata: {data}\n\n"))
                    }
                })
            });
            crate::stream::event_stream(body)
        }
    }
}

/// `POST /v1/messages/count_tokens` as a call: exact from a provider with a token counter,
/// estimated ([`estimated_input_tokens`]) for any other.
#[derive(Clone)]
pub struct CountTokens {
    model: String,
    request: NativeRequest,
    estimate: u64,
}

impl CountTokens {
    /// The count of `body`, which must name a `model` and hold `messages`.
    pub fn new(body: RawExtra, headers: &HeaderMap) -> Result<Self, ApiError> {
        let model = body
            .get("model")
            .and_then(|m| m.parse::<String>().ok())
            .ok_or_else(|| ApiError::invalid_request("model: a string is required"))?;
        match body.value("messages") {
            Some(Value::Array(_)) => {}
            _ => return Err(ApiError::invalid_request("messages: an array is required")),
        }
        let estimate = estimated_input_tokens(&body);
        Ok(Self {
            model,
            request: NativeRequest {
                body,
                headers: forwarded_headers(headers),
            },
            estimate,
        })
    }
}

/// A count, and whether it is the provider's own.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    /// The input tokens.
    pub input_tokens: u64,
    /// Whether the provider counted them (else the gateway estimated them).
    pub exact: bool,
}

impl UnaryCall for CountTokens {
    type Answer = Counted;

    const OPERATION: &'static str = "count_tokens";

    fn model(&self) -> &str {
        &self.model
    }

    fn model_mut(&mut self) -> &mut String {
        &mut self.model
    }

    fn user(&self) -> Option<&str> {
        None
    }

    fn extra_mut(&mut self) -> Option<&mut RawExtra> {
        Some(&mut self.request.body)
    }

    /// A count uses no tokens: it counts against request limits only.
    fn input_tokens(&self) -> u64 {
        0
    }

    fn send(
        mut self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>> {
        let estimate = Counted {
            input_tokens: self.estimate,
            exact: false,
        };
        self.request.set_model(&self.model);
        match provider.count_tokens(self.request) {
            None => future::ready(Ok(estimate)).boxed(),
            Some(counting) => counting
                .map(|r| {
                    r.map(|TokenCount { input_tokens }| Counted {
                        input_tokens,
                        exact: true,
                    })
                })
                .boxed(),
        }
    }

    /// Nothing generated, nothing charged.
    fn reported(_answer: &Self::Answer) -> Option<Tokens> {
        Some(Tokens::default())
    }

    fn answer_model(_answer: &Self::Answer) -> Option<&str> {
        None
    }
}

/// The gateway's estimate of a Messages request's input tokens, for `count_tokens` on
/// providers without a token counter and for budgets and rate limits: four characters a token
/// of every string in `system`, `messages` and `tools` (keys and JSON punctuation not counted;
/// tool schemas counted as their JSON text), except base64 data and thinking signatures, plus
/// [`ATTACHMENT_TOKENS`] per image or document.
pub fn estimated_input_tokens(body: &RawExtra) -> u64 {
    let mut chars = 0u64;
    let mut attachments = 0u64;
    for field in ["system", "messages", "tools"] {
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
            if matches!(
                map.get("type").and_then(Value::as_str),
                Some("image" | "document")
            ) {
                *attachments += 1;
                return;
            }
            for (key, value) in map {
                match key.as_str() {
                    "signature" | "data" | "type" | "cache_control" => {}
                    "input_schema" | "input" => *chars += value.to_string().len() as u64,
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
        let tokens = estimated_input_tokens(&body(
            r#"{"model":"m","system":[{"type":"text","text":"abcd","cache_control":{"type":"ephemeral"}}],
                "messages":[{"role":"user","content":[
                    {"type":"text","text":"efgh"},
                    {"type":"image","source":{"type":"base64","media_type":"image/png","data":"QUFBQUFBQUFBQUFB"}},
                    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]},
                  {"role":"assistant","content":[{"type":"thinking","thinking":"ijkl","signature":"c2lnbmF0dXJlc2lnbmF0dXJl"}]}]}"#,
        ));
        // "abcd", "user", "efgh", "assistant" (9), "ijkl": 4+4+4+9+4 = 25 chars -> 7 tokens.
        assert_eq!(tokens, 7 + 2 * ATTACHMENT_TOKENS);
    }

    #[test]
    fn usage_with_cache_counts_is_priced_apart() {
        let usage: Usage = serde_json::from_str(
            r#"{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":4000,"cache_creation_input_tokens":2000}"#,
        )
        .expect("usage");
        assert_eq!(
            tokens_of(&usage),
            Tokens {
                prompt: 6010,
                completion: 5,
                cache_read: 4000,
                cache_write: 2000,
            }
        );
    }
}
