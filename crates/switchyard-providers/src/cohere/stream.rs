//! Cohere's chat stream events (<https://docs.cohere.com/reference/chat-stream>,
//! <https://docs.cohere.com/docs/streaming>, <https://docs.cohere.com/docs/tool-use-streaming>)
//! into OpenAI chat chunks, one event at a time as they arrive: `message-start` gives the role
//! chunk, `content-delta` text, `tool-call-start` a call's id and name and `tool-call-delta`
//! more of its arguments, `message-end` the finish reason and then a usage chunk with no
//! choices. `content-start` with no text, `tool-plan-delta`, the `*-end` events, citations and
//! event types added after this adapter are skipped; an upstream that closes before
//! `message-end` ends the stream in an error.

use std::collections::VecDeque;

use futures_util::StreamExt;
use serde_json::Value;
use sse_stream::SseByteStream;
use switchyard_wire::{ChatChunk, Delta, FunctionCallDelta, Role, ToolCallDelta};

use super::chat::{finish_reason, usage};
use super::wire::{DeltaMessage, StreamEvent};
use crate::openai::stream_error;
use crate::translate::Chunks;
use crate::{ChunkStream, ErrorClass, ProviderError, unix_now};

/// Turns the upstream's SSE events into chunks of `model`'s answer.
pub(super) fn chunk_stream<S>(events: SseByteStream<S>, model: String) -> ChunkStream
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: bytes::Buf + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let translator = Translator {
        chunks: Chunks {
            id: String::new(),
            model,
            created: unix_now(),
        },
        tool_calls: 0,
        pending: VecDeque::new(),
        ended: false,
    };
    Box::pin(futures_util::stream::unfold(
        Some((Box::pin(events), translator)),
        |state| async move {
            let (mut events, mut translator) = state?;
            loop {
                if let Some(chunk) = translator.pending.pop_front() {
                    return Some((Ok(chunk), Some((events, translator))));
                }
                if translator.ended {
                    return None;
                }
                let event = match events.next().await {
                    None => {
                        let err = ProviderError::new(
                            ErrorClass::InvalidResponse,
                            "upstream closed the stream before message-end",
                        );
                        return Some((Err(err), None));
                    }
                    Some(Err(err)) => return Some((Err(stream_error(err)), None)),
                    Some(Ok(event)) => event,
                };
                let Some(data) = event.data else { continue };
                match serde_json::from_str::<StreamEvent>(&data) {
                    Ok(event) => translator.on_event(event),
                    Err(err) => return Some((Err(unreadable(&data, &err)), None)),
                }
            }
        },
    ))
}

/// An event that is not a stream event: an error Cohere reports (`{"message": ...}`), or garbage.
fn unreadable(data: &str, err: &serde_json::Error) -> ProviderError {
    let message = serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned));
    match message {
        Some(message) => ProviderError::new(
            ErrorClass::UpstreamServer,
            format!("upstream reported an error mid-stream: {message}"),
        ),
        None => ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("upstream sent an event that is not a Cohere stream event: {err}"),
        ),
    }
}

struct Translator {
    chunks: Chunks,
    /// Tool calls started so far; the current one is the last.
    tool_calls: u32,
    /// Chunks made but not yet handed on.
    pending: VecDeque<ChatChunk>,
    /// `message-end` was read.
    ended: bool,
}

impl Translator {
    fn on_event(&mut self, event: StreamEvent) {
        let message = event
            .delta
            .as_ref()
            .and_then(|d| d.message.clone())
            .unwrap_or_default();
        match event.kind.as_str() {
            "message-start" => {
                if let Some(id) = event.id {
                    self.chunks.id = id;
                }
                self.push_delta(
                    Delta {
                        role: Some(Role::Assistant),
                        ..Delta::default()
                    },
                    None,
                );
            }
            "content-start" | "content-delta" => {
                if let Some(text) = content_text(&message).filter(|t| !t.is_empty()) {
                    self.push_delta(
                        Delta {
                            content: Some(text),
                            ..Delta::default()
                        },
                        None,
                    );
                }
            }
            "tool-call-start" => {
                let call = message.tool_calls.unwrap_or(Value::Null);
                let function = &call["function"];
                self.tool_calls += 1;
                let piece = ToolCallDelta {
                    index: self.tool_calls - 1,
                    id: call["id"].as_str().map(str::to_owned),
                    kind: Some("function".to_owned()),
                    function: Some(FunctionCallDelta {
                        name: function["name"].as_str().map(str::to_owned),
                        arguments: Some(
                            function["arguments"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                    }),
                };
                self.push_tool_piece(piece);
            }
            "tool-call-delta" if self.tool_calls > 0 => {
                let call = message.tool_calls.unwrap_or(Value::Null);
                if let Some(arguments) = call["function"]["arguments"].as_str() {
                    let piece = ToolCallDelta {
                        index: self.tool_calls - 1,
                        id: None,
                        kind: None,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some(arguments.to_owned()),
                        }),
                    };
                    self.push_tool_piece(piece);
                }
            }
            "message-end" => {
                let delta = event.delta.unwrap_or_default();
                let reason = delta.finish_reason.as_deref().map_or("stop", finish_reason);
                self.push_delta(Delta::default(), Some(reason.to_owned()));
                let mut last = self.chunks.chunk(Vec::new());
                last.usage = delta.usage.as_ref().and_then(usage);
                self.pending.push_back(last);
                self.ended = true;
            }
            _ => {}
        }
    }

    fn push_tool_piece(&mut self, piece: ToolCallDelta) {
        self.push_delta(
            Delta {
                tool_calls: Some(vec![piece]),
                ..Delta::default()
            },
            None,
        );
    }

    fn push_delta(&mut self, delta: Delta, finish_reason: Option<String>) {
        let chunk = self.chunks.delta(delta, finish_reason);
        self.pending.push_back(chunk);
    }
}

/// The text of a `content-start` or `content-delta` event.
fn content_text(message: &DeltaMessage) -> Option<String> {
    message
        .content
        .as_ref()?
        .get("text")?
        .as_str()
        .map(str::to_owned)
}
