//! Chat chunks -> Anthropic's event stream (<https://docs.anthropic.com/en/docs/build-with-claude/streaming>),
//! written as each chunk arrives: `message_start` on the first chunk, a `content_block_start`,
//! deltas and `content_block_stop` for each text run and each tool call (its arguments as
//! `input_json_delta`), then `message_delta` with the stop reason and usage (known only at the
//! end of a chat stream) and `message_stop`. Each event is `event: NAME\ndata: JSON\n\n`.
//!
//! An upstream failure mid-stream becomes one `error` event, and the stream ends without
//! `message_stop`. Dropping the body drops the chunk stream, which cancels the upstream call.

use std::sync::Arc;

use axum::response::Response;
use serde_json::json;
use switchyard_providers::ChunkStream;
use switchyard_wire::anthropic::{
    BlockDelta, ContentBlock, DeltaUsage, MessageDelta, MessageRole, MessagesResponse, StreamEvent,
    Usage,
};
use switchyard_wire::{ChatChunk, Extra, ToolCallDelta};

use super::anthropic_error;
use super::response::{reasoning_of, stop_reason, usage};
use crate::error::ApiError;
use crate::stream::translated::{self, EventTranslator, translated_sse_response};

/// A `text/event-stream` response carrying `chunks` as Anthropic events.
pub fn sse_response(
    deployment: Arc<str>,
    chunks: ChunkStream,
    requested_model: String,
) -> Response {
    translated_sse_response(deployment, chunks, EventWriter::new(requested_model))
}

/// The content block being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Text {
        index: u32,
    },
    /// Reasoning, as an unsigned thinking block.
    Thinking {
        index: u32,
    },
    /// A tool call, with its index among the chat chunk's tool calls.
    ToolUse {
        index: u32,
        call: u32,
    },
}

impl OpenBlock {
    fn index(self) -> u32 {
        match self {
            Self::Text { index } | Self::Thinking { index } | Self::ToolUse { index, .. } => index,
        }
    }
}

/// The translation state of one stream.
#[derive(Debug)]
struct EventWriter {
    requested_model: String,
    started: bool,
    next_index: u32,
    open: Option<OpenBlock>,
    finish_reason: Option<String>,
    usage: Option<switchyard_wire::Usage>,
}

impl EventTranslator for EventWriter {
    fn on_chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        self.write_chunk(chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.write_end(out);
    }

    fn fail(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        let body = anthropic_error(err);
        write_event(out, &StreamEvent::Error { error: body.error });
    }
}

impl EventWriter {
    fn new(requested_model: String) -> Self {
        Self {
            requested_model,
            started: false,
            next_index: 0,
            open: None,
            finish_reason: None,
            usage: None,
        }
    }

    fn write_chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        self.start(&chunk.id, &chunk.model, out);
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return;
        };
        if let Some(thinking) = reasoning_of(&choice.delta.extra) {
            if !matches!(self.open, Some(OpenBlock::Thinking { .. })) {
                let index = self.open_block(out, super::response::thinking(String::new()));
                self.open = Some(OpenBlock::Thinking { index });
            }
            self.delta(out, BlockDelta::ThinkingDelta { thinking });
        }
        if let Some(text) = choice.delta.content.filter(|text| !text.is_empty()) {
            if !matches!(self.open, Some(OpenBlock::Text { .. })) {
                let index = self.open_block(out, ContentBlock::text(""));
                self.open = Some(OpenBlock::Text { index });
            }
            self.delta(out, BlockDelta::TextDelta { text });
        }
        for call in choice.delta.tool_calls.into_iter().flatten() {
            self.on_tool_call(call, out);
        }
        if let Some(reason) = choice.finish_reason {
            self.close_block(out);
            self.finish_reason = Some(reason);
        }
    }

    /// A piece of a tool call: the first piece of a call opens a `tool_use` block, the others
    /// add to its input.
    fn on_tool_call(&mut self, call: ToolCallDelta, out: &mut Vec<u8>) {
        let (name, arguments) = call
            .function
            .map(|f| (f.name, f.arguments))
            .unwrap_or_default();
        // Some servers repeat the id on every piece; the index alone tells calls apart.
        let continues =
            matches!(self.open, Some(OpenBlock::ToolUse { call: open, .. }) if open == call.index);
        if !continues {
            let block = ContentBlock::ToolUse {
                id: call
                    .id
                    .unwrap_or_else(|| format!("toolu_{}", self.next_index)),
                name: name.unwrap_or_default(),
                input: json!({}),
                extra: Extra::new(),
            };
            let index = self.open_block(out, block);
            self.open = Some(OpenBlock::ToolUse {
                index,
                call: call.index,
            });
        }
        if let Some(partial_json) = arguments.filter(|a| !a.is_empty()) {
            self.delta(out, BlockDelta::InputJsonDelta { partial_json });
        }
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = MessagesResponse {
            id: id.to_owned(),
            kind: "message".to_owned(),
            role: MessageRole::Assistant,
            content: Vec::new(),
            model: if model.is_empty() {
                self.requested_model.clone()
            } else {
                model.to_owned()
            },
            stop_reason: None,
            stop_sequence: None,
            // Chat streams report usage only at their end; message_delta carries it then.
            usage: Usage::default(),
            extra: Extra::new(),
        };
        write_event(out, &StreamEvent::MessageStart { message });
    }

    /// Closes the open block and opens `block` at the next index, returned.
    fn open_block(&mut self, out: &mut Vec<u8>, block: ContentBlock) -> u32 {
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        write_event(
            out,
            &StreamEvent::ContentBlockStart {
                index,
                content_block: block,
            },
        );
        index
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some(block) = self.open.take() {
            write_event(
                out,
                &StreamEvent::ContentBlockStop {
                    index: block.index(),
                },
            );
        }
    }

    fn delta(&self, out: &mut Vec<u8>, delta: BlockDelta) {
        if let Some(block) = self.open {
            let index = block.index();
            write_event(out, &StreamEvent::ContentBlockDelta { index, delta });
        }
    }

    /// The chat stream ended: the stop reason and usage, then `message_stop`.
    fn write_end(&mut self, out: &mut Vec<u8>) {
        let requested_model = self.requested_model.clone();
        self.start("msg_switchyard", &requested_model, out);
        self.close_block(out);
        let counts = self.usage.as_ref().map(usage).unwrap_or_default();
        let delta = MessageDelta {
            stop_reason: Some(stop_reason(self.finish_reason.as_deref()).to_owned()),
            stop_sequence: None,
            extra: Extra::new(),
        };
        let usage = DeltaUsage {
            output_tokens: counts.output_tokens,
            input_tokens: Some(counts.input_tokens),
            cache_creation_input_tokens: counts.cache_creation_input_tokens,
            cache_read_input_tokens: counts.cache_read_input_tokens,
            extra: Extra::new(),
        };
        write_event(out, &StreamEvent::MessageDelta { delta, usage });
        write_event(out, &StreamEvent::MessageStop);
    }
}

/// `event: NAME\ndata: JSON\n\n`.
fn write_event(out: &mut Vec<u8>, event: &StreamEvent) {
    translated::write_event(out, event.name(), event);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::translated::testing::{chunk, delta, events};
    use http::header;
    use serde_json::Value;

    // Thinking events of https://docs.anthropic.com/en/docs/build-with-claude/streaming
    // ("Streaming request with extended thinking"): a chat stream's `reasoning_content` opens a
    // thinking block, unsigned, before the text.
    #[test]
    fn reasoning_becomes_a_thinking_block_before_the_text() {
        let mut writer = EventWriter::new("m".to_owned());
        let mut out = Vec::new();
        for c in [
            delta(
                json!({"role": "assistant", "reasoning_content": "2 + 2"}),
                None,
            ),
            delta(json!({"reasoning_content": " is 4."}), None),
            delta(json!({"content": "4"}), Some("stop")),
        ] {
            writer.on_chunk(c, &mut out);
        }
        writer.finish(&mut out);
        let events = events(&out);
        assert_eq!(
            events[1].1["content_block"],
            json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        let thinking: Vec<&Value> = events
            .iter()
            .filter(|(_, d)| d["delta"]["type"] == "thinking_delta")
            .map(|(_, d)| &d["delta"]["thinking"])
            .collect();
        assert_eq!(thinking, [&json!("2 + 2"), &json!(" is 4.")]);
        let text_start = events
            .iter()
            .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "text")
            .expect("a text block");
        assert_eq!(text_start.1["index"], 1);
    }

    // Expected flow from https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[test]
    fn text_then_tool_calls_become_sequential_blocks_ending_in_message_delta_and_stop() {
        let mut writer = EventWriter::new("claude-alias".to_owned());
        let mut out = Vec::new();
        for c in [
            delta(json!({"role": "assistant", "content": ""}), None),
            delta(json!({"content": "Let me "}), None),
            delta(json!({"content": "check."}), None),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                "function": {"name": "now", "arguments": "{}"}}]}),
                None,
            ),
            delta(json!({}), Some("tool_calls")),
            chunk(
                json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5,
                "total_tokens": 17, "prompt_tokens_details": {"cached_tokens": 2}}}),
            ),
        ] {
            writer.on_chunk(c, &mut out);
        }
        writer.finish(&mut out);
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let start = &events[0].1["message"];
        assert_eq!(start["id"], "chatcmpl-9");
        assert_eq!(start["model"], "gpt-4o-mini");
        assert_eq!(start["content"], json!([]));
        assert_eq!(start["stop_reason"], Value::Null);
        assert_eq!(
            events[1].1["content_block"],
            json!({"type": "text", "text": ""})
        );
        assert_eq!(
            events[2].1["delta"],
            json!({"type": "text_delta", "text": "Let me "})
        );
        assert_eq!(
            events[5].1,
            json!({"type": "content_block_start", "index": 1, "content_block":
                {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}})
        );
        let arguments: String = events[6..8]
            .iter()
            .map(|(_, d)| d["delta"]["partial_json"].as_str().expect("partial json"))
            .collect();
        assert_eq!(arguments, "{\"city\":\"Paris\"}");
        assert_eq!(events[9].1["index"], 2);
        assert_eq!(events[9].1["content_block"]["id"], "call_b");
        assert_eq!(
            events[12].1,
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                "usage": {"output_tokens": 5, "input_tokens": 10, "cache_read_input_tokens": 2}})
        );
    }

    // Every stream starts with `message_start` and ends with `message_stop`:
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[test]
    fn an_empty_chat_stream_still_starts_and_stops_the_message() {
        let mut writer = EventWriter::new("claude-alias".to_owned());
        let mut out = Vec::new();
        writer.finish(&mut out);
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
        assert_eq!(events[0].1["message"]["model"], "claude-alias");
        assert_eq!(events[1].1["delta"]["stop_reason"], "end_turn");
    }

    // Error events mid-stream: https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[tokio::test]
    async fn a_failure_mid_stream_is_one_error_event_and_no_message_stop() {
        use switchyard_providers::{ErrorClass, ProviderError};
        let chunks: ChunkStream = Box::pin(futures_util::stream::iter([
            Ok(delta(json!({"content": "Hel"}), None)),
            Err(ProviderError::new(ErrorClass::Overloaded, "busy")),
        ]));
        let response = sse_response(Arc::from("dep"), chunks, "m".to_owned());
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let events = events(&body);
        let (name, data) = events.last().expect("events");
        assert_eq!(name, "error");
        assert_eq!(data["error"]["type"], "overloaded_error");
        assert!(events.iter().all(|(n, _)| n != "message_stop"));
    }
}
