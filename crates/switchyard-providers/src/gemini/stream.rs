//! Gemini's `streamGenerateContent?alt=sse` translated into OpenAI chat chunks, event by event
//! as the upstream sends them.
//!
//! Each `data:` event holds a whole `GenerateContentResponse`. The first chunk of a candidate
//! carries the assistant role, text parts become content deltas, function calls (which Gemini
//! sends whole) become complete tool call deltas, a `finishReason` becomes a chunk of its own,
//! and once the upstream closes, one last chunk with empty `choices` carries the usage of the
//! last `usageMetadata`. Gemini sends no end marker: a stream that closes before every
//! candidate has finished ends with an [`ErrorClass::InvalidResponse`] item.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;

use futures_util::StreamExt;
use serde_json::Value;
use sse_stream::SseByteStream;
use switchyard_wire::{
    ChatChunk, ChunkChoice, Delta, Extra, FunctionCallDelta, Role, ToolCallDelta,
};

use super::error::error_from_event;
use super::response::{CandidateAnswer, completion_id, finish_reason, no_candidates, usage};
use super::wire::{GenerateContentResponse, UsageMetadata};
use crate::openai::stream_error;
use crate::{ChunkStream, ErrorClass, ProviderError, unix_now};

/// Turns Gemini's SSE events into OpenAI chunks. `upstream_model` names the model until an
/// event reports its `modelVersion`.
pub fn chunk_stream<S>(events: SseByteStream<S>, upstream_model: String) -> ChunkStream
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: bytes::Buf + Send,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let state = StreamState {
        events: Box::pin(events),
        translator: Translator::new(upstream_model),
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
                match state.events.next().await {
                    None => {
                        state.ended = true;
                        return match state.translator.end() {
                            Ok(Some(usage_chunk)) => Some((Ok(usage_chunk), state)),
                            Ok(None) => None,
                            Err(err) => Some((Err(err), state)),
                        };
                    }
                    Some(Err(err)) => {
                        state.ended = true;
                        return Some((Err(stream_error(err)), state));
                    }
                    Some(Ok(event)) => {
                        let Some(data) = event.data.filter(|d| !d.trim().is_empty()) else {
                            continue;
                        };
                        match state.translator.event(&data) {
                            Ok(chunks) => state.pending.extend(chunks),
                            Err(err) => {
                                state.ended = true;
                                return Some((Err(err), state));
                            }
                        }
                    }
                }
            }
        },
    ))
}

struct StreamState<S: futures_util::TryStream> {
    events: Pin<Box<SseByteStream<S>>>,
    translator: Translator,
    /// Chunks translated from the last event and not yet handed on.
    pending: VecDeque<ChatChunk>,
    /// Whether the upstream stream has ended (closed, failed or refused).
    ended: bool,
}

/// How far one candidate has got.
#[derive(Debug, Default)]
struct CandidateProgress {
    /// Whether its first chunk (the one with the role) has been sent.
    started: bool,
    /// How many function calls it has made so far.
    calls: usize,
    /// Whether its `finishReason` has arrived.
    finished: bool,
}

/// The state of a stream's translation: ids, progress per candidate, the last usage seen.
struct Translator {
    id: Option<String>,
    created: u64,
    model: String,
    candidates: BTreeMap<u32, CandidateProgress>,
    usage: Option<UsageMetadata>,
}

impl Translator {
    fn new(upstream_model: String) -> Self {
        Self {
            id: None,
            created: unix_now(),
            model: upstream_model,
            candidates: BTreeMap::new(),
            usage: None,
        }
    }

    /// Translates one event's data into the chunks it stands for.
    fn event(&mut self, data: &str) -> Result<Vec<ChatChunk>, ProviderError> {
        let value: Value = serde_json::from_str(data).map_err(|e| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                format!("Gemini sent an event that is not JSON: {e}"),
            )
        })?;
        if let Some(err) = error_from_event(&value) {
            return Err(err);
        }
        let answer: GenerateContentResponse = serde_json::from_value(value).map_err(|e| {
            ProviderError::new(
                ErrorClass::InvalidResponse,
                format!("Gemini sent an event that is not a GenerateContentResponse: {e}"),
            )
        })?;
        self.answer(answer)
    }

    /// Translates one answer event; a blocked prompt is an error.
    fn answer(&mut self, answer: GenerateContentResponse) -> Result<Vec<ChatChunk>, ProviderError> {
        if self.id.is_none() {
            self.id = Some(answer.response_id.clone().unwrap_or_else(completion_id));
        }
        if let Some(version) = answer.model_version {
            self.model = version;
        }
        if answer.usage_metadata.is_some() {
            self.usage = answer.usage_metadata;
        }
        if answer.candidates.is_empty() {
            if answer
                .prompt_feedback
                .as_ref()
                .is_some_and(|f| f.block_reason.is_some())
            {
                return Err(no_candidates(answer.prompt_feedback.as_ref()));
            }
            // An event with usage only.
            return Ok(Vec::new());
        }
        let mut deltas = Vec::new();
        let mut finishes = Vec::new();
        for (position, candidate) in answer.candidates.iter().enumerate() {
            let index = candidate.index.unwrap_or(position as u32);
            let progress = self.candidates.entry(index).or_default();
            let parts = candidate.content.as_ref().map_or(&[][..], |c| &c.parts);
            let said = CandidateAnswer::from_parts(parts);
            let tool_calls: Vec<ToolCallDelta> = said
                .tool_calls
                .into_iter()
                .enumerate()
                .map(|(offset, call)| ToolCallDelta {
                    index: (progress.calls + offset) as u32,
                    id: Some(call.id),
                    kind: Some(call.kind),
                    function: Some(FunctionCallDelta {
                        name: Some(call.function.name),
                        arguments: Some(call.function.arguments),
                    }),
                })
                .collect();
            progress.calls += tool_calls.len();
            let delta = Delta {
                role: (!progress.started).then_some(Role::Assistant),
                content: (!said.text.is_empty()).then_some(said.text),
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                extra: Extra::new(),
            };
            if delta.role.is_some() || delta.content.is_some() || delta.tool_calls.is_some() {
                progress.started = true;
                deltas.push(choice(index, delta, None));
            }
            if let Some(reason) = &candidate.finish_reason
                && !progress.finished
            {
                progress.finished = true;
                let reason = finish_reason(reason, progress.calls > 0);
                finishes.push(choice(index, Delta::default(), Some(reason)));
            }
        }
        Ok([deltas, finishes]
            .into_iter()
            .filter(|choices| !choices.is_empty())
            .map(|choices| self.chunk(choices, None))
            .collect())
    }

    /// At the upstream's close: the usage chunk if every candidate finished, else an error.
    fn end(&mut self) -> Result<Option<ChatChunk>, ProviderError> {
        let finished = !self.candidates.is_empty() && self.candidates.values().all(|c| c.finished);
        if !finished {
            return Err(ProviderError::new(
                ErrorClass::InvalidResponse,
                "Gemini closed the stream before the answer finished (no finishReason)",
            ));
        }
        Ok(self
            .usage
            .take()
            .map(|metadata| self.chunk(Vec::new(), Some(usage(&metadata)))))
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<switchyard_wire::Usage>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone().unwrap_or_default(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage,
            system_fingerprint: None,
            extra: Extra::new(),
        }
    }
}

fn choice(index: u32, delta: Delta, finish_reason: Option<&str>) -> ChunkChoice {
    ChunkChoice {
        index,
        delta,
        finish_reason: finish_reason.map(str::to_owned),
        logprobs: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use serde_json::json;

    /// Feeds `raw` to the translator in 7-byte reads, so events arrive split across reads.
    async fn translate(raw: &'static str) -> Vec<Result<ChatChunk, ProviderError>> {
        let bytes = stream::iter(
            raw.as_bytes()
                .chunks(7)
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from_static(c))),
        );
        chunk_stream(SseByteStream::new(bytes), "deployment-model".to_owned())
            .collect()
            .await
    }

    fn ok(items: Vec<Result<ChatChunk, ProviderError>>) -> Vec<ChatChunk> {
        items
            .into_iter()
            .map(|item| item.expect("a chunk"))
            .collect()
    }

    // Fixture: streamGenerateContent?alt=sse, one GenerateContentResponse per `data:` event,
    // CRLF-separated: https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
    #[tokio::test]
    async fn a_streamed_text_answer_translates_chunk_by_chunk() {
        let chunks =
            ok(translate(include_str!("../../tests/fixtures/gemini/stream_text.sse")).await);
        assert_eq!(
            chunks.len(),
            5,
            "three deltas, a finish chunk, a usage chunk: {chunks:#?}"
        );
        for chunk in &chunks {
            assert_eq!(chunk.id, "3A-taNiUOaeAz7IPrYqbmQo");
            assert_eq!(chunk.object, "chat.completion.chunk");
            assert_eq!(chunk.model, "gemini-2.5-flash");
        }
        let first = &chunks[0].choices[0];
        assert_eq!(first.index, 0);
        assert_eq!(first.delta.role, Some(Role::Assistant));
        assert_eq!(first.delta.content.as_deref(), Some("The"));
        assert_eq!(first.finish_reason, None);
        assert_eq!(chunks[1].choices[0].delta.role, None);
        assert_eq!(
            chunks[1].choices[0].delta.content.as_deref(),
            Some(" capital of France")
        );
        assert_eq!(
            chunks[2].choices[0].delta.content.as_deref(),
            Some(" is Paris.")
        );
        let finish = &chunks[3].choices[0];
        assert_eq!(finish.delta, Delta::default());
        assert_eq!(finish.finish_reason.as_deref(), Some("stop"));
        let last = &chunks[4];
        assert!(last.choices.is_empty());
        let usage = last.usage.as_ref().expect("usage");
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (8, 7, 15)
        );
        assert!(chunks[..4].iter().all(|c| c.usage.is_none()));
    }

    // Fixture: function calls arrive whole in one event:
    // https://ai.google.dev/gemini-api/docs/function-calling
    #[tokio::test]
    async fn a_streamed_function_call_is_one_complete_tool_call_delta() {
        let chunks = ok(translate(include_str!(
            "../../tests/fixtures/gemini/stream_function_call.sse"
        ))
        .await);
        assert_eq!(chunks.len(), 4, "{chunks:#?}");
        assert_eq!(
            chunks[0].choices[0].delta.content.as_deref(),
            Some("Let me check the weather.")
        );
        assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
        let delta = &chunks[1].choices[0].delta;
        assert_eq!(delta.role, None);
        assert_eq!(delta.content, None);
        let calls = delta.tool_calls.as_ref().expect("tool call delta");
        let id = calls[0].id.clone().expect("an id");
        assert_eq!(
            super::super::tool_call_id::signature(&id).as_deref(),
            Some("EpYCCpMCAdHtim9X4w==")
        );
        assert_eq!(
            serde_json::to_value(calls).expect("serializes"),
            json!([{"index": 0, "id": id, "type": "function",
                    "function": {"name": "get_current_weather",
                                 "arguments": "{\"location\":\"Boston, MA\"}"}}])
        );
        assert_eq!(
            chunks[2].choices[0].finish_reason.as_deref(),
            Some("tool_calls")
        );
        let usage = chunks[3].usage.as_ref().expect("usage");
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (57, 38, 95)
        );
        assert_eq!(
            usage.completion_tokens_details,
            Some(json!({"reasoning_tokens": 22}))
        );
    }

    #[tokio::test]
    async fn a_stream_closed_before_a_finish_reason_ends_in_an_error() {
        let items = translate(
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}], \"role\": \"model\"}, \"index\": 0}]}\r\n\r\n",
        )
        .await;
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        let err = items[1].as_ref().expect_err("truncation is an error");
        assert_eq!(err.class, ErrorClass::InvalidResponse);
        assert!(err.message.contains("finishReason"), "{}", err.message);
        let empty = translate("").await;
        assert_eq!(empty.len(), 1);
        assert_eq!(
            empty[0].as_ref().expect_err("nothing is an error").class,
            ErrorClass::InvalidResponse
        );
    }

    // An error reported inside the stream uses Google's error body:
    // https://ai.google.dev/gemini-api/docs/troubleshooting
    #[tokio::test]
    async fn errors_and_blocks_mid_stream_end_the_stream_with_their_class() {
        let items = translate(
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}]}}]}\n\ndata: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n",
        )
        .await;
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1].as_ref().expect_err("error event").class,
            ErrorClass::Overloaded
        );
        let blocked =
            translate("data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\"}}\n\n")
                .await;
        assert_eq!(blocked.len(), 1);
        let err = blocked[0].as_ref().expect_err("blocked");
        assert_eq!(err.class, ErrorClass::ContentPolicy);
        assert!(
            err.message.contains("PROHIBITED_CONTENT"),
            "{}",
            err.message
        );
        let garbage = translate("data: <html>\n\n").await;
        assert_eq!(
            garbage[0].as_ref().expect_err("garbage").class,
            ErrorClass::InvalidResponse
        );
    }

    #[tokio::test]
    async fn several_candidates_stream_side_by_side_and_all_must_finish() {
        let chunks = ok(translate(
            "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"A\"}]}, \"index\": 0}, {\"content\": {\"parts\": [{\"text\": \"B\"}]}, \"index\": 1, \"finishReason\": \"MAX_TOKENS\"}]}\n\ndata: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"!\"}]}, \"index\": 0, \"finishReason\": \"STOP\"}]}\n\n",
        )
        .await);
        let choices: Vec<Value> = chunks
            .iter()
            .flat_map(|c| &c.choices)
            .map(|c| serde_json::to_value(c).expect("serializes"))
            .collect();
        assert_eq!(
            choices,
            [
                json!({"index": 0, "delta": {"role": "assistant", "content": "A"}, "finish_reason": null}),
                json!({"index": 1, "delta": {"role": "assistant", "content": "B"}, "finish_reason": null}),
                json!({"index": 1, "delta": {}, "finish_reason": "length"}),
                json!({"index": 0, "delta": {"content": "!"}, "finish_reason": null}),
                json!({"index": 0, "delta": {}, "finish_reason": "stop"}),
            ]
        );
        assert!(chunks.iter().all(|c| c.id.starts_with("chatcmpl-gemini")));
        assert!(chunks.iter().all(|c| c.model == "deployment-model"));
        let unfinished = translate(
            "data: {\"candidates\": [{\"index\": 0, \"finishReason\": \"STOP\"}, {\"index\": 1, \"content\": {\"parts\": [{\"text\": \"B\"}]}}]}\n\n",
        )
        .await;
        assert!(unfinished.last().expect("items").is_err());
    }

    use crate::test_support::{AssembledCall, assembled_tool_calls, finish_reasons};

    // Fixture stream_parallel_function_calls.sse: two functionCall parts in one event, a third
    // in the next. Each is a whole tool call with its own index, a new id, the first carrying
    // its thought signature.
    #[tokio::test]
    async fn parallel_function_calls_keep_their_own_index_id_and_whole_arguments() {
        let chunks = ok(translate(include_str!(
            "../../tests/fixtures/gemini/stream_parallel_function_calls.sse"
        ))
        .await);
        let calls = assembled_tool_calls(&chunks);
        let summary: Vec<_> = calls.iter().map(AssembledCall::summary).collect();
        assert_eq!(
            summary,
            [
                (0, "get_current_weather", json!({"location": "Boston, MA"})),
                (
                    1,
                    "get_current_time",
                    json!({"timezone": "America/New_York"})
                ),
                (2, "get_current_weather", json!({"location": "Paris"})),
            ]
        );
        let signatures: Vec<Option<String>> = calls
            .iter()
            .map(|c| super::super::tool_call_id::signature(&c.id))
            .collect();
        assert_eq!(
            signatures,
            [
                Some("CiQB0e2Kb7Jw0mQhS1gAdyYK0yXvTQ==".to_owned()),
                None,
                None
            ]
        );
        assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    }
}
