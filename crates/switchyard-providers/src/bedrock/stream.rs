//! `ConverseStream` answers translated into OpenAI chat chunks, message by message as the
//! upstream sends them
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html>).
//!
//! `messageStart` gives the role chunk; text deltas become content, a `toolUse` block start
//! becomes a tool call delta with its id and name, and its input deltas become argument pieces
//! at the same index, reasoning deltas `reasoning_content` with the fragment each adds to
//! LiteLLM's `thinking_blocks` (text, the block's `signature`, a `redactedContent` block);
//! `messageStop` gives the finish chunk and `metadata` the usage, sent as one
//! last chunk with empty `choices` once both have arrived. Exception messages end the stream
//! with their classified error; a stream that closes before `messageStop` and `metadata` ends
//! with an [`ErrorClass::InvalidResponse`] item.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;

use aws_smithy_types::event_stream::Message;
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use switchyard_wire::{
    ChatChunk, ChunkChoice, Delta, Extra, FunctionCallDelta, Role, ThinkingBlock, ToolCallDelta,
    Usage,
};

use super::error::error_from_exception;
use super::response::{finish_reason, usage};
use super::wire::{
    ContentBlockDeltaEvent, ContentBlockStartEvent, ConverseStreamMetadataEvent, MessageStartEvent,
    MessageStopEvent,
};
use crate::aws::eventstream::header;
use crate::{ChunkStream, ErrorClass, ProviderError, unix_now};

/// Passes an event message; an exception or error message becomes its classified error, as
/// Bedrock's event streams (Converse and InvokeModel alike) report failures mid-stream.
pub(super) fn check_event(message: &Message) -> Result<(), ProviderError> {
    match header(message, ":message-type") {
        Some("event") => Ok(()),
        Some("exception") => {
            let kind = header(message, ":exception-type").unwrap_or("unknownException");
            Err(error_from_exception(kind, message.payload()))
        }
        Some("error") => {
            let code = header(message, ":error-code").unwrap_or("unknownError");
            let text = header(message, ":error-message").unwrap_or_default();
            Err(error_from_exception(code, text.as_bytes()))
        }
        other => Err(ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("Bedrock sent an event stream message of type {other:?}"),
        )),
    }
}

/// Turns the messages of a `ConverseStream` answer into OpenAI chunks with `id` and `model`.
pub fn chunk_stream<S>(messages: S, id: String, model: String) -> ChunkStream
where
    S: Stream<Item = Result<Message, ProviderError>> + Send + 'static,
{
    let state = StreamState {
        messages: Box::pin(messages),
        translator: Translator::new(id, model),
        pending: VecDeque::new(),
        ended: false,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            loop {
                if let Some(chunk) = state.pending.pop_front() {
                    return Some((Ok(chunk), state));
                }
                if state.ended {
                    return None;
                }
                let step = match state.messages.next().await {
                    None => {
                        state.ended = true;
                        return state.translator.end().err().map(|err| (Err(err), state));
                    }
                    Some(Err(err)) => Err(err),
                    Some(Ok(message)) => state.translator.message(&message),
                };
                match step {
                    Ok(chunks) => state.pending.extend(chunks),
                    Err(err) => {
                        state.ended = true;
                        return Some((Err(err), state));
                    }
                }
            }
        },
    ))
}

struct StreamState {
    messages: Pin<Box<dyn Stream<Item = Result<Message, ProviderError>> + Send>>,
    translator: Translator,
    /// Chunks translated from the last message and not yet handed on.
    pending: VecDeque<ChatChunk>,
    ended: bool,
}

/// The state of a stream's translation.
struct Translator {
    id: String,
    model: String,
    created: u64,
    /// OpenAI tool-call index of each `toolUse` content block, by block index.
    tool_indexes: HashMap<u32, u32>,
    /// Whether `messageStop` has arrived.
    stopped: bool,
    /// The usage of `metadata`, until it is sent; `Some(None)` once sent.
    usage: Option<Option<Usage>>,
}

impl Translator {
    fn new(id: String, model: String) -> Self {
        Self {
            id,
            model,
            created: unix_now(),
            tool_indexes: HashMap::new(),
            stopped: false,
            usage: None,
        }
    }

    /// Translates one event stream message into the chunks it stands for.
    fn message(&mut self, message: &Message) -> Result<Vec<ChatChunk>, ProviderError> {
        check_event(message)?;
        let payload = message.payload().as_ref();
        let chunks = match header(message, ":event-type").unwrap_or_default() {
            "messageStart" => {
                let _: MessageStartEvent = parse("messageStart", payload)?;
                vec![self.chunk(Delta {
                    role: Some(Role::Assistant),
                    content: Some(String::new()),
                    ..Delta::default()
                })]
            }
            "contentBlockStart" => {
                let event: ContentBlockStartEvent = parse("contentBlockStart", payload)?;
                let Some(call) = event.start.tool_use else {
                    return Ok(Vec::new());
                };
                let index = u32::try_from(self.tool_indexes.len()).unwrap_or(u32::MAX);
                self.tool_indexes.insert(event.content_block_index, index);
                vec![self.tool_call(ToolCallDelta {
                    index,
                    id: Some(call.tool_use_id),
                    kind: Some("function".to_owned()),
                    function: Some(FunctionCallDelta {
                        name: Some(call.name),
                        arguments: Some(String::new()),
                    }),
                })]
            }
            "contentBlockDelta" => {
                let event: ContentBlockDeltaEvent = parse("contentBlockDelta", payload)?;
                self.delta(event)?
            }
            "messageStop" => {
                let event: MessageStopEvent = parse("messageStop", payload)?;
                self.stopped = true;
                let mut finish = self.chunk(Delta::default());
                finish.choices[0].finish_reason = Some(finish_reason(&event.stop_reason).into());
                [Some(finish), self.usage_chunk()]
                    .into_iter()
                    .flatten()
                    .collect()
            }
            "metadata" => {
                let event: ConverseStreamMetadataEvent = parse("metadata", payload)?;
                if self.usage.is_none() {
                    self.usage = Some(Some(usage(&event.usage)));
                }
                self.usage_chunk().into_iter().collect()
            }
            // contentBlockStop, and event types newer than this adapter.
            _ => Vec::new(),
        };
        Ok(chunks)
    }

    fn delta(&mut self, event: ContentBlockDeltaEvent) -> Result<Vec<ChatChunk>, ProviderError> {
        let delta = event.delta;
        let mut chunks = Vec::new();
        if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
            chunks.push(self.chunk(Delta {
                content: Some(text),
                ..Delta::default()
            }));
        }
        if let Some(thought) = delta.reasoning_content {
            let text = thought.text.unwrap_or_default();
            let signature = thought.signature.filter(|s| !s.is_empty());
            let mut extra = Extra::new();
            if !text.is_empty() {
                extra.insert("reasoning_content".to_owned(), Value::String(text.clone()));
            }
            let fragment = match thought.redacted_content {
                Some(data) => Some(ThinkingBlock::RedactedThinking { data }),
                None if !text.is_empty() || signature.is_some() => Some(ThinkingBlock::Thinking {
                    thinking: text,
                    signature,
                }),
                None => None,
            };
            if let Some(fragment) = fragment {
                ThinkingBlock::write(&mut extra, &[fragment]);
                chunks.push(self.chunk(Delta {
                    extra,
                    ..Delta::default()
                }));
            }
        }
        if let Some(input) = delta.tool_use {
            let index = *self
                .tool_indexes
                .get(&event.content_block_index)
                .ok_or_else(|| {
                    ProviderError::new(
                        ErrorClass::InvalidResponse,
                        format!(
                            "Bedrock sent tool input for content block {} before its contentBlockStart",
                            event.content_block_index
                        ),
                    )
                })?;
            chunks.push(self.tool_call(ToolCallDelta {
                index,
                id: None,
                kind: None,
                function: Some(FunctionCallDelta {
                    name: None,
                    arguments: Some(input.input),
                }),
            }));
        }
        Ok(chunks)
    }

    /// The usage chunk, once `messageStop` and `metadata` have both arrived, and only once.
    fn usage_chunk(&mut self) -> Option<ChatChunk> {
        if !self.stopped {
            return None;
        }
        let usage = self.usage.as_mut()?.take()?;
        let mut chunk = self.chunk(Delta::default());
        chunk.choices.clear();
        chunk.usage = Some(usage);
        Some(chunk)
    }

    /// At the upstream's close: fine once the usage chunk has gone out, an error otherwise.
    fn end(&self) -> Result<(), ProviderError> {
        if self.stopped && self.usage == Some(None) {
            return Ok(());
        }
        let missing = match (self.stopped, self.usage.is_some()) {
            (false, false) => "messageStop and metadata",
            (false, true) => "messageStop",
            _ => "metadata",
        };
        Err(ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("Bedrock closed the stream before the answer finished (no {missing})"),
        ))
    }

    fn tool_call(&self, call: ToolCallDelta) -> ChatChunk {
        self.chunk(Delta {
            tool_calls: Some(vec![call]),
            ..Delta::default()
        })
    }

    fn chunk(&self, delta: Delta) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: None,
                logprobs: None,
            }],
            usage: None,
            system_fingerprint: None,
            extra: Extra::new(),
        }
    }
}

fn parse<T: DeserializeOwned>(event: &str, payload: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(payload).map_err(|e| {
        ProviderError::new(
            ErrorClass::InvalidResponse,
            format!("Bedrock sent a `{event}` event that does not parse: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::eventstream::{encode, frames, messages};
    use bytes::Bytes;
    use futures_util::stream;
    use serde_json::json;

    /// Translates framed bytes fed in 9-byte reads, so messages arrive split across reads.
    async fn translate(body: Vec<u8>) -> Vec<Result<ChatChunk, ProviderError>> {
        let reads: Vec<Result<Bytes, ProviderError>> = body
            .chunks(9)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        chunk_stream(
            messages(stream::iter(reads)),
            "chatcmpl-req-1".to_owned(),
            "deployment-model".to_owned(),
        )
        .collect()
        .await
    }

    fn ok(items: Vec<Result<ChatChunk, ProviderError>>) -> Vec<ChatChunk> {
        items
            .into_iter()
            .map(|item| item.expect("a chunk"))
            .collect()
    }

    fn choice(chunk: &ChatChunk) -> Value {
        serde_json::to_value(&chunk.choices).expect("serializes")
    }

    // Fixture: the ConverseStreamOutput events of a text answer,
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
    #[tokio::test]
    async fn a_streamed_text_answer_translates_chunk_by_chunk() {
        let chunks = ok(translate(frames(include_str!(
            "../../tests/fixtures/bedrock/stream_text.json"
        )))
        .await);
        assert_eq!(
            chunks.len(),
            6,
            "role, three deltas, finish, usage: {chunks:#?}"
        );
        for chunk in &chunks {
            assert_eq!(chunk.id, "chatcmpl-req-1");
            assert_eq!(chunk.object, "chat.completion.chunk");
            assert_eq!(chunk.model, "deployment-model");
        }
        assert_eq!(
            choice(&chunks[0]),
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])
        );
        let texts: Vec<_> = chunks[1..4]
            .iter()
            .map(|c| c.choices[0].delta.content.clone().unwrap_or_default())
            .collect();
        assert_eq!(texts, ["The", " capital of France", " is Paris."]);
        assert_eq!(
            choice(&chunks[4]),
            json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        );
        assert!(chunks[5].choices.is_empty());
        let usage = chunks[5].usage.as_ref().expect("usage");
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (8, 7, 15)
        );
        assert!(chunks[..5].iter().all(|c| c.usage.is_none()));
    }

    // Fixture: a text block, then a toolUse block whose input arrives in pieces
    // (ContentBlockStartEvent / ToolUseBlockDelta:
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlockStartEvent.html).
    #[tokio::test]
    async fn a_streamed_tool_call_arrives_as_indexed_tool_call_deltas() {
        let chunks = ok(translate(frames(include_str!(
            "../../tests/fixtures/bedrock/stream_tool_use.json"
        )))
        .await);
        let deltas: Vec<Value> = chunks.iter().map(choice).collect();
        assert_eq!(
            deltas,
            [
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
                json!([{"index": 0, "delta": {"content": "I'll look up"}, "finish_reason": null}]),
                json!([{"index": 0, "delta": {"content": " the most popular song."}, "finish_reason": null}]),
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                        "type": "function", "function": {"name": "top_song", "arguments": ""}}]}, "finish_reason": null}]),
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"sign\": "}}]}, "finish_reason": null}]),
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"WZPZ\"}"}}]}, "finish_reason": null}]),
                json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
                json!([]),
            ]
        );
        let usage = chunks[7].usage.as_ref().expect("usage");
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (375, 87));
    }

    #[tokio::test]
    async fn a_stream_cut_before_message_stop_and_metadata_ends_in_an_error() {
        let whole = include_str!("../../tests/fixtures/bedrock/stream_text.json");
        let events: Vec<Value> = serde_json::from_str(whole).expect("json");
        // Two events give the role and one text chunk; six give every chunk but the usage.
        for (keep, chunks, missing) in
            [(2, 2, "no messageStop and metadata"), (6, 5, "no metadata")]
        {
            let cut = serde_json::to_string(&events[..keep]).expect("json");
            let items = translate(frames(&cut)).await;
            assert_eq!(items.len(), chunks + 1, "{items:#?}");
            assert!(items[..chunks].iter().all(Result::is_ok));
            let err = items.last().expect("items").as_ref().expect_err("cut");
            assert_eq!(err.class, ErrorClass::InvalidResponse);
            assert!(err.message.contains(missing), "{}", err.message);
        }
        let nothing = translate(Vec::new()).await;
        assert_eq!(nothing.len(), 1);
        assert!(nothing[0].is_err());
    }

    // Exceptions mid-stream: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
    #[tokio::test]
    async fn exception_messages_end_the_stream_with_their_class() {
        let mut body = frames(r#"[{"event": "messageStart", "payload": {"role": "assistant"}}]"#);
        body.extend_from_slice(&encode(
            &[
                (":exception-type", "throttlingException"),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            br#"{"message": "Too many tokens, please wait before trying again."}"#,
        ));
        body.extend_from_slice(&frames(
            r#"[{"event": "messageStop", "payload": {"stopReason": "end_turn"}}]"#,
        ));
        let items = translate(body).await;
        assert_eq!(items.len(), 2, "{items:#?}");
        let err = items[1].as_ref().expect_err("exception");
        assert_eq!(err.class, ErrorClass::RateLimited);
        assert!(err.message.contains("Too many tokens"), "{}", err.message);

        let unmodeled = encode(
            &[
                (":message-type", "error"),
                (":error-code", "InternalFailure"),
                (":error-message", "boom"),
            ],
            b"",
        );
        let items = translate(unmodeled.to_vec()).await;
        assert_eq!(
            items[0].as_ref().expect_err("error").class,
            ErrorClass::UpstreamServer
        );

        let early_input = frames(
            r#"[{"event": "messageStart", "payload": {"role": "assistant"}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{"}}}}]"#,
        );
        let items = translate(early_input).await;
        assert_eq!(
            items[1].as_ref().expect_err("orphan input").class,
            ErrorClass::InvalidResponse
        );

        let garbage = frames(r#"[{"event": "messageStop", "payload": {"stopReason": 7}}]"#);
        assert_eq!(
            translate(garbage).await[0].as_ref().expect_err("bad").class,
            ErrorClass::InvalidResponse
        );
    }

    #[tokio::test]
    async fn unknown_fields_and_events_are_skipped_and_reasoning_is_kept_apart() {
        let chunks = ok(translate(frames(
            r#"[{"event": "messageStart", "payload": {"role": "assistant", "p": "abcdefgh"}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hmm."}}, "p": "ab"}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 1, "delta": {"text": "Hi"}}},
                {"event": "somethingNew", "payload": {}},
                {"event": "metadata", "payload": {"usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}},
                {"event": "messageStop", "payload": {"stopReason": "max_tokens"}}]"#,
        ))
        .await);
        assert_eq!(chunks.len(), 5, "{chunks:#?}");
        assert_eq!(
            chunks[1].choices[0].delta.extra["reasoning_content"],
            "Hmm."
        );
        assert_eq!(chunks[2].choices[0].delta.content.as_deref(), Some("Hi"));
        assert_eq!(
            chunks[3].choices[0].finish_reason.as_deref(),
            Some("length")
        );
        assert_eq!(
            chunks[4].usage.as_ref().map(|u| u.total_tokens),
            Some(3),
            "usage comes last"
        );
    }

    use crate::test_support::{AssembledCall, assembled_tool_calls, finish_reasons};

    // ReasoningContentBlockDelta's members `text`, `signature` and `redactedContent`
    // (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlockDelta.html)
    // as `thinking_blocks` fragments that join into the signed blocks.
    #[tokio::test]
    async fn reasoning_deltas_carry_their_signature_and_redacted_content() {
        let chunks = ok(translate(frames(
            r#"[{"event": "messageStart", "payload": {"role": "assistant"}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Two and "}}}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "two."}}}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "RW13"}}}},
                {"event": "contentBlockDelta", "payload": {"contentBlockIndex": 2, "delta": {"text": "4"}}},
                {"event": "messageStop", "payload": {"stopReason": "end_turn"}},
                {"event": "metadata", "payload": {"usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}}}]"#,
        ))
        .await);
        let mut assembler = switchyard_wire::ThinkingAssembler::default();
        for choice in chunks.iter().flat_map(|c| &c.choices) {
            assembler.push_from(&choice.delta.extra);
        }
        assert_eq!(
            assembler.into_blocks(),
            [
                ThinkingBlock::Thinking {
                    thinking: "Two and two.".to_owned(),
                    signature: Some("c2ln".to_owned())
                },
                ThinkingBlock::RedactedThinking {
                    data: "RW13".to_owned()
                }
            ]
        );
        let reasoning: String = chunks
            .iter()
            .flat_map(|c| &c.choices)
            .filter_map(|c| c.delta.extra.get("reasoning_content")?.as_str())
            .collect();
        assert_eq!(reasoning, "Two and two.");
    }

    // Fixture stream_parallel_tool_use.json: two toolUse blocks after a text block
    // (ContentBlockStartEvent, ToolUseBlockDelta).
    #[tokio::test]
    async fn parallel_tool_calls_keep_their_own_index_id_and_whole_arguments() {
        let chunks = ok(translate(frames(include_str!(
            "../../tests/fixtures/bedrock/stream_parallel_tool_use.json"
        )))
        .await);
        let calls = assembled_tool_calls(&chunks);
        let summary: Vec<_> = calls.iter().map(AssembledCall::summary).collect();
        let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "tooluse_Weather7hQ2rJ6eAyJE5GIl7Q",
                "tooluse_Time9kZJMlvQmRJ6eAyJE5G"
            ]
        );
        assert_eq!(
            summary,
            [
                (0, "get_weather", json!({"location": "Seattle"})),
                (1, "get_time", json!({"timezone": "America/Los_Angeles"})),
            ]
        );
        assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    }
}
