//! Anthropic stream events -> OpenAI chat chunks, one event at a time as they arrive, following
//! the event flow of <https://docs.anthropic.com/en/docs/build-with-claude/streaming>:
//! `message_start` gives the role chunk, text and `input_json_delta` deltas become content and
//! tool-call argument chunks, thinking (`thinking_delta`, `signature_delta`, `redacted_thinking`
//! blocks) `reasoning_content` with the fragment each adds to LiteLLM's `thinking_blocks`
//! ([`switchyard_wire::thinking`]), `message_delta` the finish reason, and `message_stop` a final
//! usage chunk with no choices. `ping` and event types added after this adapter are skipped; an
//! `error` event, or an upstream that closes before `message_stop`, ends the stream in an error.

use std::collections::HashMap;

use futures_util::StreamExt;
use serde_json::Value;
use sse_stream::SseByteStream;
use switchyard_wire::anthropic::{BlockDelta, ContentBlock, StreamEvent};
use switchyard_wire::{
    ChatChunk, ChunkChoice, Delta, Extra, FunctionCallDelta, Role, ThinkingBlock, ToolCallDelta,
};

use super::error::classify;
use super::request::JSON_OBJECT_TOOL;
use super::response::{finish_reason, redacted_thinking, usage};
use crate::openai::stream_error;
use crate::{ChunkStream, ErrorClass, ProviderError, unix_now};

/// Turns the upstream's SSE events into chunks, never buffering more than one event. With
/// `json_tool` (the request forced [`JSON_OBJECT_TOOL`] for a `json_object` answer), that
/// tool's input streams as the message's text.
pub fn chunk_stream<S>(events: SseByteStream<S>, json_tool: bool) -> ChunkStream
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: bytes::Buf + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let translator = Translator {
        json_tool,
        ..Translator::default()
    };
    let state = (Box::pin(events), translator);
    Box::pin(futures_util::stream::unfold(
        Some(state),
        |state| async move {
            let (mut events, mut translator) = state?;
            loop {
                let event = match events.next().await {
                    None => {
                        let err = ProviderError::new(
                            ErrorClass::InvalidResponse,
                            "upstream closed the stream before message_stop",
                        );
                        return Some((Err(err), None));
                    }
                    Some(Err(err)) => return Some((Err(stream_error(err)), None)),
                    Some(Ok(event)) => event,
                };
                let Some(data) = event.data else { continue };
                let event = match parse_event(&data) {
                    Ok(Some(event)) => event,
                    Ok(None) => continue,
                    Err(err) => return Some((Err(err), None)),
                };
                match translator.on_event(event) {
                    Step::Skip => continue,
                    Step::Chunk(chunk) => return Some((Ok(chunk), Some((events, translator)))),
                    Step::Last(chunk) => return Some((Ok(chunk), None)),
                    Step::Fail(err) => return Some((Err(err), None)),
                }
            }
        },
    ))
}

/// An event, `None` for an event type this adapter does not know (to be skipped), or an error
/// for an event of a known type that does not have its documented shape.
fn parse_event(data: &str) -> Result<Option<StreamEvent>, ProviderError> {
    match serde_json::from_str::<StreamEvent>(data) {
        Ok(event) => Ok(Some(event)),
        Err(err) => {
            let kind = serde_json::from_str::<Value>(data)
                .ok()
                .and_then(|v| v.get("type")?.as_str().map(str::to_owned));
            match kind {
                Some(kind) if !StreamEvent::KNOWN_TYPES.contains(&kind.as_str()) => Ok(None),
                _ => Err(ProviderError::new(
                    ErrorClass::InvalidResponse,
                    format!("upstream sent an event that is not a Messages stream event: {err}"),
                )),
            }
        }
    }
}

/// What one event turns into.
#[derive(Debug)]
enum Step {
    /// Nothing to send.
    Skip,
    /// A chunk; more follow.
    Chunk(ChatChunk),
    /// The last chunk of the stream.
    Last(ChatChunk),
    /// The stream ends in this error.
    Fail(ProviderError),
}

/// The state a stream carries from event to event.
#[derive(Debug, Default)]
struct Translator {
    /// Message id and model, from `message_start`.
    message: Option<(String, String)>,
    created: u64,
    input_tokens: u64,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    output_tokens: u64,
    /// OpenAI tool-call index of each `tool_use` content block, by block index.
    tool_indexes: HashMap<u32, u32>,
    /// Whether the request forced [`JSON_OBJECT_TOOL`].
    json_tool: bool,
    /// The block index of that tool's call, once it started.
    json_block: Option<u32>,
}

impl Translator {
    fn on_event(&mut self, event: StreamEvent) -> Step {
        let started = self.message.is_some();
        match event {
            StreamEvent::Ping => Step::Skip,
            StreamEvent::Error { error } => Step::Fail(classify(None, &error, None)),
            StreamEvent::MessageStart { message } => {
                self.message = Some((message.id, message.model));
                self.created = unix_now();
                self.input_tokens = message.usage.input_tokens;
                self.cache_read = message.usage.cache_read_input_tokens;
                self.cache_creation = message.usage.cache_creation_input_tokens;
                self.output_tokens = message.usage.output_tokens;
                Step::Chunk(self.chunk(
                    Delta {
                        role: Some(Role::Assistant),
                        content: Some(String::new()),
                        ..Delta::default()
                    },
                    None,
                ))
            }
            _ if !started => Step::Fail(ProviderError::new(
                ErrorClass::InvalidResponse,
                "upstream sent stream events before message_start",
            )),
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.on_block_start(index, content_block),
            StreamEvent::ContentBlockDelta { index, delta } => self.on_block_delta(index, delta),
            StreamEvent::ContentBlockStop { .. } => Step::Skip,
            StreamEvent::MessageDelta { delta, usage } => {
                // Counts in message_delta are cumulative; the ones it omits keep their start value.
                self.output_tokens = usage.output_tokens;
                self.input_tokens = usage.input_tokens.unwrap_or(self.input_tokens);
                self.cache_read = usage.cache_read_input_tokens.or(self.cache_read);
                self.cache_creation = usage.cache_creation_input_tokens.or(self.cache_creation);
                match delta.stop_reason {
                    Some(reason) => {
                        let finish = match reason.as_str() {
                            "tool_use" if self.json_block.is_some() => "stop",
                            other => finish_reason(other),
                        };
                        Step::Chunk(self.chunk(Delta::default(), Some(finish.to_owned())))
                    }
                    None => Step::Skip,
                }
            }
            StreamEvent::MessageStop => {
                let mut chunk = self.chunk(Delta::default(), None);
                chunk.choices.clear();
                chunk.usage = Some(usage(
                    self.input_tokens,
                    self.cache_read,
                    self.cache_creation,
                    self.output_tokens,
                ));
                Step::Last(chunk)
            }
        }
    }

    fn on_block_start(&mut self, index: u32, block: ContentBlock) -> Step {
        match block {
            ContentBlock::Text { text, .. } if !text.is_empty() => Step::Chunk(self.text(text)),
            ContentBlock::Thinking {
                thinking,
                signature,
                ..
            } if !thinking.is_empty() || signature.as_deref().is_some_and(|s| !s.is_empty()) => {
                Step::Chunk(self.reasoning(thinking, signature))
            }
            ContentBlock::Other(block) => match redacted_thinking(block) {
                Some(redacted) => Step::Chunk(self.thinking_block(Delta::default(), redacted)),
                None => Step::Skip,
            },
            ContentBlock::ToolUse { name, input, .. }
                if self.json_tool && name == JSON_OBJECT_TOOL =>
            {
                self.json_block = Some(index);
                match input {
                    Value::Object(fields) if fields.is_empty() => Step::Skip,
                    whole => Step::Chunk(self.text(whole.to_string())),
                }
            }
            ContentBlock::ToolUse {
                id, name, input, ..
            } => {
                let tool_index = u32::try_from(self.tool_indexes.len()).unwrap_or(u32::MAX);
                self.tool_indexes.insert(index, tool_index);
                // The input arrives as input_json_delta events; a start with a non-empty input
                // carries it whole.
                let arguments = match &input {
                    Value::Object(fields) if fields.is_empty() => String::new(),
                    other => other.to_string(),
                };
                Step::Chunk(self.tool_call(ToolCallDelta {
                    index: tool_index,
                    id: Some(id),
                    kind: Some("function".to_owned()),
                    function: Some(FunctionCallDelta {
                        name: Some(name),
                        arguments: Some(arguments),
                    }),
                }))
            }
            _ => Step::Skip,
        }
    }

    fn on_block_delta(&mut self, index: u32, delta: BlockDelta) -> Step {
        match delta {
            BlockDelta::TextDelta { text } if !text.is_empty() => Step::Chunk(self.text(text)),
            BlockDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                Step::Chunk(self.reasoning(thinking, None))
            }
            BlockDelta::SignatureDelta { signature } if !signature.is_empty() => {
                Step::Chunk(self.reasoning(String::new(), Some(signature)))
            }
            BlockDelta::InputJsonDelta { partial_json }
                if !partial_json.is_empty() && self.json_block == Some(index) =>
            {
                Step::Chunk(self.text(partial_json))
            }
            BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                let Some(&tool_index) = self.tool_indexes.get(&index) else {
                    return Step::Fail(ProviderError::new(
                        ErrorClass::InvalidResponse,
                        format!("upstream sent tool input for block {index}, which is no tool_use"),
                    ));
                };
                Step::Chunk(self.tool_call(ToolCallDelta {
                    index: tool_index,
                    id: None,
                    kind: None,
                    function: Some(FunctionCallDelta {
                        name: None,
                        arguments: Some(partial_json),
                    }),
                }))
            }
            _ => Step::Skip,
        }
    }

    fn text(&self, text: String) -> ChatChunk {
        let delta = Delta {
            content: Some(text),
            ..Delta::default()
        };
        self.chunk(delta, None)
    }

    /// More thinking text, as `reasoning_content`, and as the fragment it adds to the open
    /// thinking block (with the block's `signature` when that is what came).
    fn reasoning(&self, thinking: String, signature: Option<String>) -> ChatChunk {
        let mut delta = Delta::default();
        if !thinking.is_empty() {
            delta.extra.insert(
                "reasoning_content".to_owned(),
                Value::String(thinking.clone()),
            );
        }
        let signature = signature.filter(|s| !s.is_empty());
        self.thinking_block(
            delta,
            ThinkingBlock::Thinking {
                thinking,
                signature,
            },
        )
    }

    /// `delta` carrying `fragment` as its `thinking_blocks`.
    fn thinking_block(&self, mut delta: Delta, fragment: ThinkingBlock) -> ChatChunk {
        ThinkingBlock::write(&mut delta.extra, &[fragment]);
        self.chunk(delta, None)
    }

    fn tool_call(&self, call: ToolCallDelta) -> ChatChunk {
        let delta = Delta {
            tool_calls: Some(vec![call]),
            ..Delta::default()
        };
        self.chunk(delta, None)
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<String>) -> ChatChunk {
        let (id, model) = self.message.clone().unwrap_or_default();
        ChatChunk {
            id,
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                logprobs: None,
            }],
            usage: None,
            system_fingerprint: None,
            extra: Extra::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use serde_json::json;

    /// Replays a recorded stream in 7-byte reads, so events arrive split across reads.
    async fn replay(raw: &'static str) -> Vec<Result<ChatChunk, ProviderError>> {
        let bytes = stream::iter(
            raw.as_bytes()
                .chunks(7)
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from_static(c))),
        );
        chunk_stream(SseByteStream::new(bytes), false)
            .collect()
            .await
    }

    fn ok(items: Vec<Result<ChatChunk, ProviderError>>) -> Vec<ChatChunk> {
        items
            .into_iter()
            .map(|item| item.expect("a chunk"))
            .collect()
    }

    // Fixture: "Basic streaming request" of
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[tokio::test]
    async fn a_streamed_text_answer_becomes_role_text_finish_and_usage_chunks() {
        let chunks = ok(replay(include_str!(
            "../../tests/fixtures/anthropic/stream_text.sse"
        ))
        .await);
        assert_eq!(chunks.len(), 5, "{chunks:#?}");
        for chunk in &chunks {
            assert_eq!(chunk.id, "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
            assert_eq!(chunk.object, "chat.completion.chunk");
            assert_eq!(chunk.model, "claude-sonnet-4-5-20250929");
        }
        assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
        assert_eq!(chunks[1].choices[0].delta.content.as_deref(), Some("Hello"));
        assert_eq!(chunks[2].choices[0].delta.content.as_deref(), Some("!"));
        assert_eq!(chunks[3].choices[0].finish_reason.as_deref(), Some("stop"));
        assert_eq!(chunks[3].choices[0].delta, Delta::default());
        let last = &chunks[4];
        assert!(last.choices.is_empty());
        let usage = last.usage.as_ref().expect("usage");
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (25, 15, 40)
        );
    }

    // Fixture: "Streaming request with tool use" of
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[tokio::test]
    async fn a_streamed_tool_use_becomes_tool_call_deltas_with_the_arguments_in_pieces() {
        let chunks = ok(replay(include_str!(
            "../../tests/fixtures/anthropic/stream_tool_use.sse"
        ))
        .await);
        let text: String = chunks
            .iter()
            .filter_map(|c| c.choices.first()?.delta.content.clone())
            .collect();
        assert_eq!(text, "Okay, let's check the weather for San Francisco, CA:");
        let calls: Vec<&ToolCallDelta> = chunks
            .iter()
            .filter_map(|c| c.choices.first()?.delta.tool_calls.as_ref())
            .flatten()
            .collect();
        assert!(calls.iter().all(|call| call.index == 0));
        assert_eq!(
            calls[0].id.as_deref(),
            Some("toolu_01T1x1fJ34qAmk2tNTrN7Up6")
        );
        assert_eq!(calls[0].kind.as_deref(), Some("function"));
        let first = calls[0].function.as_ref().expect("function");
        assert_eq!(first.name.as_deref(), Some("get_weather"));
        assert!(calls[1..].iter().all(|c| c.id.is_none()));
        let arguments: String = calls
            .iter()
            .filter_map(|c| c.function.as_ref()?.arguments.clone())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&arguments).expect("arguments are JSON"),
            json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
        );
        let finish = &chunks[chunks.len() - 2];
        assert_eq!(
            finish.choices[0].finish_reason.as_deref(),
            Some("tool_calls")
        );
        let usage = chunks[chunks.len() - 1].usage.as_ref().expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (472, 89));
    }

    // Block indexes and cumulative `message_delta` usage:
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[tokio::test]
    async fn a_second_tool_use_block_gets_the_next_tool_call_index() {
        let mut translator = Translator::default();
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                "content": [], "model": "claude", "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 3, "cache_read_input_tokens": 7, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t1", "name": "a", "input": {}}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t2", "name": "b", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{}"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9, "input_tokens": 4}}),
            json!({"type": "message_stop"}),
        ];
        let steps: Vec<Step> = events
            .into_iter()
            .map(|e| translator.on_event(serde_json::from_value(e).expect("event")))
            .collect();
        let index_of = |step: &Step| match step {
            Step::Chunk(c) => c.choices[0].delta.tool_calls.as_ref().map(|t| t[0].index),
            _ => None,
        };
        assert_eq!(
            steps.iter().map(index_of).collect::<Vec<_>>(),
            [None, Some(0), Some(1), Some(1), None, None]
        );
        let Step::Last(last) = &steps[5] else {
            panic!("message_stop ends the stream: {:?}", steps[5])
        };
        let usage = last.usage.as_ref().expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (4 + 7, 9));
        assert_eq!(
            usage
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
            Some(7)
        );
    }

    // Fixture: the error event of https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[tokio::test]
    async fn an_error_event_mid_stream_ends_it_with_a_classified_error() {
        let items = replay(include_str!(
            "../../tests/fixtures/anthropic/stream_overloaded.sse"
        ))
        .await;
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(
            items[1].as_ref().expect("text").choices[0]
                .delta
                .content
                .as_deref(),
            Some("Hello")
        );
        let err = items[2].as_ref().expect_err("error event");
        assert_eq!(err.class, ErrorClass::Overloaded);
        assert_eq!(err.message, "Overloaded");
    }

    // Every stream ends with `message_stop`:
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[tokio::test]
    async fn a_stream_cut_before_message_stop_ends_in_an_invalid_response() {
        let full = include_str!("../../tests/fixtures/anthropic/stream_text.sse");
        let cut = full
            .find("event: message_delta")
            .expect("fixture has message_delta");
        let items = replay(&full[..cut]).await;
        assert_eq!(items.len(), 4);
        let err = items[3].as_ref().expect_err("truncation is an error");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
        assert!(err.message.contains("message_stop"), "{}", err.message);
    }

    // "Your code should handle unknown event types gracefully":
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming.
    #[tokio::test]
    async fn unknown_event_types_are_skipped_and_malformed_known_ones_are_errors() {
        let raw = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n\
                   event: future_event\ndata: {\"type\":\"future_event\",\"x\":1}\n\n\
                   event: content_block_delta\ndata: {\"type\":\"content_block_delta\"}\n\n";
        let items = replay(raw).await;
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(items[0].is_ok());
        assert_eq!(
            items[1].as_ref().expect_err("malformed").class,
            ErrorClass::InvalidResponse
        );
    }

    use crate::test_support::{AssembledCall, assembled_tool_calls, finish_reasons};
    use switchyard_wire::ThinkingAssembler;

    // Fixture stream_thinking.sse ("Streaming request with extended thinking",
    // https://docs.anthropic.com/en/docs/build-with-claude/streaming): the thinking streams as
    // `reasoning_content`, and the deltas' `thinking_blocks` fragments join into the signed
    // block (LiteLLM's shape: https://docs.litellm.ai/docs/reasoning_content).
    #[tokio::test]
    async fn streamed_thinking_carries_its_signature_in_thinking_block_fragments() {
        let chunks = ok(replay(include_str!(
            "../../tests/fixtures/anthropic/stream_thinking.sse"
        ))
        .await);
        let reasoning: String = chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| c.delta.extra.get("reasoning_content")?.as_str())
            .collect();
        let thought = "Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3";
        assert_eq!(reasoning, thought);
        let mut assembler = ThinkingAssembler::default();
        for choice in chunks.iter().flat_map(|c| &c.choices) {
            assembler.push_from(&choice.delta.extra);
        }
        assert_eq!(
            assembler.into_blocks(),
            [ThinkingBlock::Thinking {
                thinking: thought.to_owned(),
                signature: Some("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+N7Tr0TGSEAKN0G3e0fk3XOtqKBBZ2jzY+wM2vhpxWATl6MrsVqzt7gqBKsuDT6Y8ueZCjoGpTwgxRWe15ncT4kfsZSqHRPEmfQzvY3vJ3H0Kl+8YD7JS0Nq1w8zrvgm9qsH0cZ9Fr/I+vsbGL0bPWw=".to_owned()),
            }]
        );
        let text: String = chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| c.delta.content.as_deref())
            .collect();
        assert_eq!(text, "27 * 453 = 12,231");
    }

    // A `redacted_thinking` block arrives whole in its content_block_start
    // (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
    #[test]
    fn a_redacted_thinking_block_is_one_whole_fragment() {
        let mut translator = Translator::default();
        translator.on_event(
            serde_json::from_value(json!({"type": "message_start", "message": {"id": "msg_1",
                "type": "message", "role": "assistant", "content": [], "model": "claude",
                "usage": {"input_tokens": 3, "output_tokens": 1}}}))
            .expect("event"),
        );
        let step = translator.on_event(
            serde_json::from_value(json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "redacted_thinking", "data": "EmwKAhgB"}}))
            .expect("event"),
        );
        let Step::Chunk(chunk) = step else {
            panic!("a chunk: {step:?}")
        };
        assert_eq!(
            chunk.choices[0].delta.extra["thinking_blocks"],
            json!([{"type": "redacted_thinking", "data": "EmwKAhgB"}])
        );
        assert!(
            !chunk.choices[0]
                .delta
                .extra
                .contains_key("reasoning_content")
        );
    }

    // Fixture stream_parallel_tool_use.sse: two tool_use blocks after a text block; each
    // becomes its own OpenAI tool call (index 0 and 1, not the block indexes 1 and 2), its
    // input pieces joined under its own index.
    #[tokio::test]
    async fn parallel_tool_calls_keep_their_own_index_id_and_whole_arguments() {
        let chunks = ok(replay(include_str!(
            "../../tests/fixtures/anthropic/stream_parallel_tool_use.sse"
        ))
        .await);
        let calls = assembled_tool_calls(&chunks);
        let summary: Vec<_> = calls.iter().map(AssembledCall::summary).collect();
        let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "toolu_01NRLabsLyVHZPKxbKvkfSMn"
            ]
        );
        assert_eq!(
            summary,
            [
                (0, "get_weather", json!({"location": "San Francisco, CA"})),
                (1, "get_time", json!({"timezone": "America/Los_Angeles"})),
            ]
        );
        assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    }

    // The forced tool of a `json_object` request, streamed as the documented tool_use flow
    // (content_block_start, input_json_delta pieces): its input arrives as text deltas.
    #[tokio::test]
    async fn the_forced_json_tool_s_input_streams_as_text() {
        let raw = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01J\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":40,\"output_tokens\":1},\"content\":[],\"stop_reason\":null}}\n\n",
            "event: content_block_start\n",
            "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01J\",\"name\":\"json_object_answer\",\"input\":{}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n",
            "event: content_block_stop\n",
            "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}\n\n",
            "event: message_stop\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        );
        let bytes = stream::iter(
            raw.as_bytes()
                .chunks(7)
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from_static(c))),
        );
        let chunks = ok(chunk_stream(SseByteStream::new(bytes), true)
            .collect()
            .await);
        let text: String = chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| c.delta.content.as_deref())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&text).expect("JSON"),
            json!({"city": "Paris"})
        );
        assert!(
            assembled_tool_calls(&chunks).is_empty(),
            "no tool call shown"
        );
        assert_eq!(finish_reasons(&chunks), ["stop"]);
    }
}
