//! Anthropic's Messages API passed through, for clients that speak it themselves (the gateway's
//! `/v1/messages`): the client's body is sent as it came, only `model` replaced, with the
//! client's `anthropic-version` and `anthropic-beta` headers; the answer comes back as
//! Anthropic sent it, whole or event by event, so thinking blocks and their signatures,
//! `redacted_thinking`, `cache_control`, documents and events this adapter does not know all
//! survive. `POST /v1/messages/count_tokens` is passed the same way.
//!
//! Shapes: <https://docs.anthropic.com/en/api/messages>,
//! <https://docs.anthropic.com/en/docs/build-with-claude/streaming> and
//! <https://platform.claude.com/docs/api/beta/messages/count_tokens>.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use switchyard_wire::anthropic::Usage;
use switchyard_wire::{RawExtra, RawJson};

use crate::openai::stream_error;
use crate::{ErrorClass, ProviderError};

/// The client headers a passed-through call forwards: the API version the client was written
/// for, and the betas it opted into (interleaved thinking, 1M context, ...).
pub const FORWARDED_HEADERS: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// A Messages (or count_tokens) request to send as the client wrote it.
#[derive(Debug, Clone)]
pub struct NativeRequest {
    /// The body's top-level fields, each value kept as the text it came as.
    pub body: RawExtra,
    /// The client's [`FORWARDED_HEADERS`] it sent.
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

/// A complete answer, as Anthropic sent it, with what the gateway reads of it.
#[derive(Debug, Clone)]
pub struct NativeAnswer {
    /// The body, byte for byte.
    pub body: Bytes,
    /// The model that answered.
    pub model: String,
    /// Its token counts.
    pub usage: Usage,
}

/// The fields of a Messages response the gateway reads; the rest stays in the bytes.
#[derive(Deserialize)]
struct AnswerHead {
    model: String,
    usage: Usage,
}

impl NativeAnswer {
    /// Reads the model and usage of `body`, a Messages response.
    pub fn from_body(body: Bytes) -> Result<Self, ProviderError> {
        let head: AnswerHead = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                format!("upstream answered with a body that is not a Messages response: {e}"),
            )
        })?;
        Ok(Self {
            body,
            model: head.model,
            usage: head.usage,
        })
    }
}

/// One server-sent event of a Messages stream, as Anthropic sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeEvent {
    /// The `event:` line (`message_start`, `content_block_delta`, ...), if there was one.
    pub event: Option<String>,
    /// The `data:` payload, a JSON object.
    pub data: String,
}

impl NativeEvent {
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

    /// The usage this event reports: `message_start`'s `message.usage` (input and cache
    /// counts) or `message_delta`'s `usage` (cumulative output, and on newer API versions the
    /// input counts again).
    pub fn usage(&self) -> Option<Usage> {
        #[derive(Deserialize)]
        struct Start {
            message: Head,
        }
        #[derive(Deserialize)]
        struct Head {
            usage: Usage,
        }
        #[derive(Deserialize)]
        struct Delta {
            usage: PartialUsage,
        }
        match self.event.as_deref().or_else(|| self.kind())? {
            "message_start" => serde_json::from_str::<Start>(&self.data)
                .ok()
                .map(|start| start.message.usage),
            "message_delta" => serde_json::from_str::<Delta>(&self.data)
                .ok()
                .map(|delta| delta.usage.into()),
            _ => None,
        }
    }

    /// The data's `type` when the event had no `event:` line; costs a parse, so only for
    /// that case.
    fn kind(&self) -> Option<&'static str> {
        let value: serde_json::Value = serde_json::from_str(&self.data).ok()?;
        match value.get("type")?.as_str()? {
            "message_start" => Some("message_start"),
            "message_delta" => Some("message_delta"),
            _ => None,
        }
    }
}

/// `message_delta`'s usage: every field may be missing.
#[derive(Deserialize)]
struct PartialUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl From<PartialUsage> for Usage {
    fn from(usage: PartialUsage) -> Self {
        Usage {
            input_tokens: usage.input_tokens.unwrap_or(0),
            output_tokens: usage.output_tokens.unwrap_or(0),
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
            extra: switchyard_wire::Extra::new(),
        }
    }
}

/// A passed-through Messages stream: Anthropic's events as they arrive.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<NativeEvent, ProviderError>> + Send>>;

/// The usage a whole stream reported, gathered event by event: input and cache counts from
/// `message_start`, output (cumulative) from the last `message_delta`, which on newer API
/// versions repeats the input counts too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamUsage {
    /// Uncached input tokens.
    pub input: u64,
    /// Generated tokens.
    pub output: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation: u64,
    /// Whether any event reported usage.
    pub reported: bool,
}

impl StreamUsage {
    /// Takes in the usage of one event.
    pub fn add(&mut self, event: &NativeEvent) {
        let Some(usage) = event.usage() else { return };
        let start = event.event.as_deref() == Some("message_start");
        self.reported = true;
        if start || usage.input_tokens > 0 {
            self.input = usage.input_tokens;
        }
        self.output = self.output.max(usage.output_tokens);
        if let Some(read) = usage.cache_read_input_tokens {
            self.cache_read = read;
        }
        if let Some(created) = usage.cache_creation_input_tokens {
            self.cache_creation = created;
        }
    }
}

/// The upstream's SSE events as [`NativeEvent`]s, never buffering more than one.
pub(super) fn event_stream<S>(events: sse_stream::SseByteStream<S>) -> EventStream
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: bytes::Buf + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    Box::pin(events.filter_map(|event| async move {
        match event {
            Err(err) => Some(Err(stream_error(err))),
            Ok(event) => event.data.map(|data| {
                Ok(NativeEvent {
                    event: event.event,
                    data,
                })
            }),
        }
    }))
}

/// Anthropic's count_tokens answer.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct TokenCount {
    /// Tokens the request's input holds.
    pub input_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> NativeEvent {
        NativeEvent {
            event: Some(name.to_owned()),
            data: data.to_owned(),
        }
    }

    // Event shapes and the cumulative `message_delta` usage:
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[test]
    fn a_stream_usage_takes_input_and_cache_from_the_start_and_output_from_the_last_delta() {
        let mut usage = StreamUsage::default();
        usage.add(&event(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":2000,"cache_read_input_tokens":4000,"output_tokens":1}}}"#,
        ));
        usage.add(&event(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}"#,
        ));
        usage.add(&event(
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        ));
        assert_eq!(
            usage,
            StreamUsage {
                input: 12,
                output: 15,
                cache_read: 4000,
                cache_creation: 2000,
                reported: true,
            }
        );
    }

    #[test]
    fn an_event_is_written_back_as_it_came() {
        let sent = event("ping", r#"{"type": "ping"}"#);
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
