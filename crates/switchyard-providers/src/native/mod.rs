//! Provider APIs passed through as the client wrote them, for clients that speak one
//! themselves: Anthropic's Messages API (the gateway's `/v1/messages`, to Anthropic and to
//! Anthropic's models on Bedrock) and OpenAI's Responses API (`/v1/responses`, to OpenAI and
//! Azure OpenAI). The client's body goes upstream with only `model` replaced; the answer comes
//! back as the upstream sent it, whole or event by event, so fields and events the gateway
//! does not know survive (thinking signatures, encrypted reasoning, built-in tools, ...).
//!
//! What is generic lives here: the request, the answer, the events and the usage gathered over
//! a stream. What each API's answers say about usage is read by its own module
//! ([`crate::anthropic::native`], [`responses`]); [`NativeApi`] picks it.

pub mod responses;

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderName, HeaderValue};
use switchyard_wire::{RawExtra, RawJson};

use crate::ProviderError;
use crate::anthropic;
use crate::openai::stream_error;

/// An API a provider may take requests of as they came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NativeApi {
    /// Anthropic's Messages API (<https://docs.anthropic.com/en/api/messages>).
    Messages,
    /// OpenAI's Responses API (<https://platform.openai.com/docs/api-reference/responses>).
    Responses,
}

impl NativeApi {
    /// The API's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Messages => "Anthropic Messages",
            Self::Responses => "OpenAI Responses",
        }
    }

    /// Reads what the gateway needs of a complete answer (`body`, as the upstream sent it).
    pub fn answer(self, body: Bytes) -> Result<NativeAnswer, ProviderError> {
        let (model, usage) = match self {
            Self::Messages => {
                let (model, usage) = anthropic::native::answer_head(&body)?;
                (model, Some(usage))
            }
            Self::Responses => responses::answer_head(&body)?,
        };
        Ok(NativeAnswer { body, model, usage })
    }

    /// The event named `event` (the `event:` line, if any) with `data`, and the usage it
    /// reports.
    pub fn event(self, event: Option<String>, data: String) -> NativeEvent {
        let usage = match self {
            Self::Messages => anthropic::native::event_usage(event.as_deref(), &data),
            Self::Responses => responses::event_usage(event.as_deref(), &data),
        };
        NativeEvent { event, data, usage }
    }
}

/// A request to send as the client wrote it.
#[derive(Debug, Clone)]
pub struct NativeRequest {
    /// The body's top-level fields, each value kept as the text it came as.
    pub body: RawExtra,
    /// The client's headers the API forwards (Anthropic's `anthropic-version` and
    /// `anthropic-beta`; none for Responses).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl NativeRequest {
    /// The body's `model`, when it is a string.
    pub fn model(&self) -> Option<String> {
        self.body.get("model")?.parse::<String>().ok()
    }

    /// Points the body's `model` at `model`.
    pub fn set_model(&mut self, model: &str) {
        let value = RawJson::from_value(&model).expect("a string is JSON");
        self.body.insert("model", value);
    }

    /// Whether the body asks for a stream.
    pub fn is_stream(&self) -> bool {
        self.body
            .get("stream")
            .and_then(|v| v.parse::<bool>().ok())
            .unwrap_or(false)
    }
}

/// Token counts in the gateway's terms: `prompt` is every input token, cached or not, and the
/// cache counts say how many of them were read from or written to a prompt cache (each priced
/// at its own rate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NativeUsage {
    /// Input tokens, cache reads and writes included.
    pub prompt: u64,
    /// Generated tokens, reasoning included.
    pub completion: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write: u64,
}

/// A complete answer, as the upstream sent it, with what the gateway reads of it.
#[derive(Debug, Clone)]
pub struct NativeAnswer {
    /// The body, byte for byte.
    pub body: Bytes,
    /// The model that answered.
    pub model: String,
    /// Its token counts, when it gives them.
    pub usage: Option<NativeUsage>,
}

/// What one event says of the call's usage; a count it does not give is `None` and leaves
/// what earlier events said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageReport {
    /// Input tokens, cache counts included.
    pub prompt: Option<u64>,
    /// Generated tokens so far (counts are cumulative).
    pub completion: Option<u64>,
    /// Input tokens read from the prompt cache.
    pub cache_read: Option<u64>,
    /// Input tokens written to the prompt cache.
    pub cache_write: Option<u64>,
}

impl UsageReport {
    /// The tokens the event reports, prompt and output together.
    pub fn total(&self) -> u64 {
        self.prompt.unwrap_or(0) + self.completion.unwrap_or(0)
    }
}

/// One server-sent event of a passed-through stream, as the upstream sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeEvent {
    /// The `event:` line (`message_start`, `response.completed`, ...), if there was one.
    pub event: Option<String>,
    /// The `data:` payload, a JSON object.
    pub data: String,
    /// The usage the event reports, read when it arrived.
    pub usage: Option<UsageReport>,
}

impl NativeEvent {
    /// The event's name: its `event:` line, else its data's `type` (which costs a parse).
    pub fn name(&self) -> Option<std::borrow::Cow<'_, str>> {
        if let Some(name) = &self.event {
            return Some(std::borrow::Cow::Borrowed(name));
        }
        #[derive(serde::Deserialize)]
        struct Typed {
            #[serde(rename = "type")]
            kind: String,
        }
        let typed: Typed = serde_json::from_str(&self.data).ok()?;
        Some(std::borrow::Cow::Owned(typed.kind))
    }

    /// The event as `event: NAME\ndata: JSON\n\n`.
    pub fn to_sse(&self) -> Bytes {
        let mut out = String::with_capacity(self.data.len() + 32);
        if let Some(event) = &self.event {
            out.push_str("event: ");
            out.push_str(event);
            out.push('\n');
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// A passed-through stream: the upstream's events as they arrive.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<NativeEvent, ProviderError>> + Send>>;

/// The usage a whole stream reported, gathered event by event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamUsage {
    /// The counts so far.
    pub usage: NativeUsage,
    /// Whether any event reported usage.
    pub reported: bool,
}

impl StreamUsage {
    /// Takes in the usage of one event: each count it gives replaces the one before, output
    /// never going down.
    pub fn add(&mut self, event: &NativeEvent) {
        let Some(report) = event.usage else { return };
        self.reported = true;
        let usage = &mut self.usage;
        if let Some(prompt) = report.prompt {
            usage.prompt = prompt;
        }
        if let Some(completion) = report.completion {
            usage.completion = usage.completion.max(completion);
        }
        if let Some(read) = report.cache_read {
            usage.cache_read = read;
        }
        if let Some(written) = report.cache_write {
            usage.cache_write = written;
        }
    }
}

/// The upstream's SSE events of `api` as [`NativeEvent`]s, never buffering more than one;
/// see [`ended`] for a stream that stops short.
pub(crate) fn event_stream<S>(api: NativeApi, events: sse_stream::SseByteStream<S>) -> EventStream
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: bytes::Buf + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    ended(
        api,
        Box::pin(events.filter_map(move |event| async move {
            match event {
                Err(err) => Some(Err(stream_error(err))),
                Ok(event) => event.data.map(|data| Ok(api.event(event.event, data))),
            }
        })),
    )
}

/// `events` ending in an error when the upstream closes it before the event that ends a
/// stream of `api` (Messages' `message_stop`, Responses' `response.completed`,
/// `response.incomplete` or `response.failed`, or either API's `error`), so that a client is
/// told its answer is cut rather than left with a stream that just stops.
pub(crate) fn ended(api: NativeApi, events: EventStream) -> EventStream {
    let last: &'static [&'static str] = match api {
        NativeApi::Messages => &["message_stop", "error"],
        NativeApi::Responses => &[
            "response.completed",
            "response.incomplete",
            "response.failed",
            "error",
        ],
    };
    let cut = move || {
        ProviderError::new(
            crate::ErrorClass::InvalidResponse,
            format!("upstream closed the stream before {}", last[0]),
        )
    };
    Box::pin(futures_util::stream::unfold(
        (events, false),
        move |(mut events, finished)| async move {
            if finished {
                return None;
            }
            match events.next().await {
                None => Some((Err(cut()), (events, true))),
                Some(Err(err)) => Some((Err(err), (events, true))),
                Some(Ok(event)) => {
                    // Nothing comes after the last event; anything that would is not read.
                    let finished = event
                        .name()
                        .is_some_and(|name| last.contains(&name.as_ref()));
                    Some((Ok(event), (events, finished)))
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(api: NativeApi, events: &[(&str, &str)]) -> EventStream {
        let events: Vec<Result<NativeEvent, ProviderError>> = events
            .iter()
            .map(|(name, data)| Ok(api.event(Some((*name).to_owned()), (*data).to_owned())))
            .collect();
        ended(api, Box::pin(futures_util::stream::iter(events)))
    }

    // A Responses stream ends with `response.completed` (or `.incomplete`, `.failed`, `error`):
    // https://platform.openai.com/docs/api-reference/responses-streaming.
    #[tokio::test]
    async fn a_stream_closed_before_its_last_event_ends_in_an_error() {
        let created = r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","model":"m","usage":null}}"#;
        let cut: Vec<_> = stream_of(NativeApi::Responses, &[("response.created", created)])
            .collect()
            .await;
        assert_eq!(cut.len(), 2);
        let err = cut[1].as_ref().expect_err("cut short");
        assert_eq!(err.class, crate::ErrorClass::InvalidResponse);
        assert!(
            err.message.contains("response.completed"),
            "{}",
            err.message
        );

        let completed = r#"{"type":"response.completed","sequence_number":1,"response":{"id":"resp_1","model":"m","usage":null}}"#;
        let whole: Vec<_> = stream_of(
            NativeApi::Responses,
            &[
                ("response.created", created),
                ("response.completed", completed),
            ],
        )
        .collect()
        .await;
        assert_eq!(whole.len(), 2);
        assert!(whole.iter().all(Result::is_ok));

        // Anthropic's streams end with `message_stop`
        // (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
        let stopped: Vec<_> = stream_of(
            NativeApi::Messages,
            &[("message_stop", r#"{"type":"message_stop"}"#)],
        )
        .collect()
        .await;
        assert_eq!(stopped.len(), 1);
        assert!(stopped[0].is_ok());
    }

    #[test]
    fn an_event_is_named_by_its_line_or_its_type() {
        let named = NativeApi::Responses.event(Some("error".to_owned()), "{}".to_owned());
        assert_eq!(named.name().as_deref(), Some("error"));
        let typed = NativeApi::Responses.event(None, r#"{"type":"response.failed"}"#.to_owned());
        assert_eq!(typed.name().as_deref(), Some("response.failed"));
    }

    #[test]
    fn an_event_is_written_back_as_it_came() {
        let sent =
            NativeApi::Messages.event(Some("ping".to_owned()), r#"{"type": "ping"}"#.to_owned());
        assert_eq!(
            &sent.to_sse()[..],
            b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
        );
    }

    #[test]
    fn the_model_is_replaced_and_the_rest_kept_as_text() {
        let body: RawExtra = serde_json::from_str(
            r#"{"model":"alias","max_tokens":5,"stream":true,"messages":[{"role":"assistant","content":[{"signature":"c2ln","thinking":"x","type":"thinking"}]}]}"#,
        )
        .expect("json");
        let mut request = NativeRequest {
            body,
            headers: Vec::new(),
        };
        assert_eq!(request.model().as_deref(), Some("alias"));
        assert!(request.is_stream());
        request.set_model("claude-sonnet-4-5");
        let sent = serde_json::to_string(&request.body).expect("json");
        assert!(sent.contains(r#""model":"claude-sonnet-4-5""#), "{sent}");
        assert!(
            sent.contains(r#"[{"signature":"c2ln","thinking":"x","type":"thinking"}]"#),
            "{sent}"
        );
    }
}
