//! Chat chunks -> the Responses event stream
//! (<https://platform.openai.com/docs/api-reference/responses-streaming>), written as each chunk
//! arrives: `response.created` and `response.in_progress` first; for a text run, a `message`
//! item (`output_item.added`, `content_part.added`, `output_text.delta`s, `output_text.done`,
//! `content_part.done`, `output_item.done`); for each tool call, a `function_call` item
//! (`output_item.added`, `function_call_arguments.delta`s and `.done`, `output_item.done`),
//! parallel calls each with their own item; reasoning, a `reasoning` item added and done once
//! it ends, its signed thinking blocks (joined from the chunks' `thinking_blocks` fragments)
//! as the done item's `encrypted_content`; then `response.completed` (or `response.incomplete`) with the whole response and
//! its usage. Events are numbered by `sequence_number` from 0.
//!
//! An upstream failure mid-stream becomes an `error` event and `response.failed`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::Response as HttpResponse;
use futures_util::future::BoxFuture;
use serde_json::json;
use switchyard_providers::ChunkStream;
use switchyard_wire::responses::{FunctionCallItem, InputContent, Item, Response, StreamEvent};
use switchyard_wire::{ChatChunk, ThinkingAssembler, ThinkingBlock, ToolCallDelta, Usage};

use super::response::{Ids, finish, message_item, reasoning_item};
use crate::error::ApiError;
use crate::stream::translated::{EventTranslator, translated_sse_response, write_event};

/// What to do with the whole response once the stream completed (store it), done before the
/// closing events go out.
pub type OnComplete = Box<dyn FnOnce(Response) -> BoxFuture<'static, ()> + Send>;

/// A `text/event-stream` response carrying `chunks` as Responses events; `template` is the
/// response the request gets ([`super::response::template`]).
pub fn sse_response(
    deployment: Arc<str>,
    chunks: ChunkStream,
    template: Response,
    on_complete: Option<OnComplete>,
) -> HttpResponse {
    translated_sse_response(deployment, chunks, EventWriter::new(template, on_complete))
}

/// A text run or a reasoning run being written.
#[derive(Debug)]
struct Run {
    output_index: u32,
    item_id: String,
    text: String,
    /// The thinking blocks of a reasoning run, as their fragments arrive.
    blocks: ThinkingAssembler,
}

/// A tool call being written.
#[derive(Debug)]
struct Call {
    output_index: u32,
    item: FunctionCallItem,
}

/// The translation state of one stream.
pub(super) struct EventWriter {
    response: Response,
    ids: Option<Ids>,
    sequence_number: u64,
    text: Option<Run>,
    reasoning: Option<Run>,
    /// Open tool calls by their index in the chat chunks.
    calls: BTreeMap<u32, Call>,
    /// Output items done, by output index.
    output: BTreeMap<u32, Item>,
    next_output_index: u32,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    on_complete: Option<OnComplete>,
    /// The whole response, once complete, for `on_complete`.
    completed: Option<Response>,
}

impl EventTranslator for EventWriter {
    fn on_chunk(&mut self, chunk: ChatChunk, out: &mut Vec<u8>) {
        self.start(&chunk.id, &chunk.model, out);
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return;
        };
        let mut delta = choice.delta;
        let (reasoning, fragments) = super::reasoning::take(&mut delta.extra);
        if !reasoning.is_empty() || !fragments.is_empty() {
            self.close_text(out);
            self.reasoning_delta(reasoning, fragments, out);
        }
        if let Some(text) = delta.content.filter(|text| !text.is_empty()) {
            self.close_reasoning(out);
            self.text_delta(text, out);
        }
        for call in delta.tool_calls.into_iter().flatten() {
            self.close_reasoning(out);
            self.close_text(out);
            self.tool_call_delta(call, out);
        }
        if let Some(reason) = choice.finish_reason {
            self.close_all(out);
            self.finish_reason = Some(reason);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.start("", "", out);
        self.close_all(out);
        let mut response = self.response.clone();
        response.output = std::mem::take(&mut self.output).into_values().collect();
        finish(
            &mut response,
            self.finish_reason.as_deref(),
            self.usage.as_ref(),
        );
        let sequence_number = self.next_sequence_number();
        let event = if response.status == "incomplete" {
            StreamEvent::Incomplete {
                response: Box::new(response.clone()),
                sequence_number,
            }
        } else {
            StreamEvent::Completed {
                response: Box::new(response.clone()),
                sequence_number,
            }
        };
        write(out, &event);
        self.completed = Some(response);
    }

    fn before_end(&mut self) -> Option<BoxFuture<'static, ()>> {
        let on_complete = self.on_complete.take()?;
        self.completed.take().map(on_complete)
    }

    fn fail(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        self.start("", "", out);
        let code = err.code.unwrap_or(err.kind);
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::Error {
                code: Some(code.to_owned()),
                message: err.message.clone(),
                param: None,
                sequence_number,
            },
        );
        let mut response = self.response.clone();
        response.status = "failed".to_owned();
        response.error = Some(json!({"code": code, "message": err.message}));
        response.output = std::mem::take(&mut self.output).into_values().collect();
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::Failed {
                response: Box::new(response),
                sequence_number,
            },
        );
    }
}

impl EventWriter {
    pub(super) fn new(template: Response, on_complete: Option<OnComplete>) -> Self {
        Self {
            response: template,
            ids: None,
            sequence_number: 0,
            text: None,
            reasoning: None,
            calls: BTreeMap::new(),
            output: BTreeMap::new(),
            next_output_index: 0,
            finish_reason: None,
            usage: None,
            on_complete,
            completed: None,
        }
    }

    fn next_sequence_number(&mut self) -> u64 {
        let number = self.sequence_number;
        self.sequence_number += 1;
        number
    }

    /// `response.created` and `response.in_progress`, once, with the ids of the call answered
    /// as `chat_id` (a made-up one when the stream ended before any chunk).
    fn start(&mut self, chat_id: &str, model: &str, out: &mut Vec<u8>) {
        if self.ids.is_some() {
            return;
        }
        let ids = Ids::new(if chat_id.is_empty() {
            "switchyard"
        } else {
            chat_id
        });
        self.response.id = ids.response();
        if !model.is_empty() {
            self.response.model = model.to_owned();
        }
        self.ids = Some(ids);
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::Created {
                response: Box::new(self.response.clone()),
                sequence_number,
            },
        );
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::InProgress {
                response: Box::new(self.response.clone()),
                sequence_number,
            },
        );
    }

    /// The next output index, and the id of the item there with `prefix`.
    fn next_item(&mut self, prefix: &str) -> (u32, String) {
        let index = self.next_output_index;
        self.next_output_index += 1;
        let id = self
            .ids
            .as_ref()
            .map(|ids| ids.item(prefix, index))
            .unwrap_or_default();
        (index, id)
    }

    fn item_added(&mut self, output_index: u32, item: Item, out: &mut Vec<u8>) {
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::OutputItemAdded {
                output_index,
                item: Box::new(item),
                sequence_number,
            },
        );
    }

    fn item_done(&mut self, output_index: u32, item: Item, out: &mut Vec<u8>) {
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::OutputItemDone {
                output_index,
                item: Box::new(item.clone()),
                sequence_number,
            },
        );
        self.output.insert(output_index, item);
    }

    fn text_delta(&mut self, delta: String, out: &mut Vec<u8>) {
        if self.text.is_none() {
            let (output_index, item_id) = self.next_item("msg");
            self.item_added(
                output_index,
                message_item(item_id.clone(), Vec::new(), "in_progress"),
                out,
            );
            let sequence_number = self.next_sequence_number();
            write(
                out,
                &StreamEvent::ContentPartAdded {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    part: InputContent::output_text(""),
                    sequence_number,
                },
            );
            self.text = Some(Run {
                output_index,
                item_id,
                text: String::new(),
                blocks: ThinkingAssembler::default(),
            });
        }
        let sequence_number = self.next_sequence_number();
        let Some(run) = self.text.as_mut() else {
            return;
        };
        run.text.push_str(&delta);
        write(
            out,
            &StreamEvent::OutputTextDelta {
                item_id: run.item_id.clone(),
                output_index: run.output_index,
                content_index: 0,
                delta,
                logprobs: Vec::new(),
                sequence_number,
            },
        );
    }

    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some(run) = self.text.take() else {
            return;
        };
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::OutputTextDone {
                item_id: run.item_id.clone(),
                output_index: run.output_index,
                content_index: 0,
                text: run.text.clone(),
                logprobs: Vec::new(),
                sequence_number,
            },
        );
        let part = InputContent::output_text(run.text);
        let sequence_number = self.next_sequence_number();
        write(
            out,
            &StreamEvent::ContentPartDone {
                item_id: run.item_id.clone(),
                output_index: run.output_index,
                content_index: 0,
                part: part.clone(),
                sequence_number,
            },
        );
        let item = message_item(run.item_id, vec![part], "completed");
        self.item_done(run.output_index, item, out);
    }

    fn reasoning_delta(&mut self, delta: String, fragments: Vec<ThinkingBlock>, out: &mut Vec<u8>) {
        if self.reasoning.is_none() {
            let (output_index, item_id) = self.next_item("rs");
            let item = reasoning_item(item_id.clone(), String::new(), &[]);
            self.item_added(output_index, item, out);
            self.reasoning = Some(Run {
                output_index,
                item_id,
                text: String::new(),
                blocks: ThinkingAssembler::default(),
            });
        }
        if let Some(run) = self.reasoning.as_mut() {
            run.text.push_str(&delta);
            for fragment in fragments {
                run.blocks.push(fragment);
            }
        }
    }

    fn close_reasoning(&mut self, out: &mut Vec<u8>) {
        if let Some(run) = self.reasoning.take() {
            let item = reasoning_item(run.item_id, run.text, run.blocks.blocks());
            self.item_done(run.output_index, item, out);
        }
    }

    /// A piece of a tool call: a call index not seen yet adds a `function_call` item; pieces
    /// of arguments go to the item of their own index, so parallel calls stay apart.
    fn tool_call_delta(&mut self, delta: ToolCallDelta, out: &mut Vec<u8>) {
        let (name, arguments) = delta
            .function
            .map(|f| (f.name, f.arguments))
            .unwrap_or_default();
        if !self.calls.contains_key(&delta.index) {
            let (output_index, item_id) = self.next_item("fc");
            let call_id = delta
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{item_id}"));
            let item = FunctionCallItem {
                id: Some(item_id),
                call_id,
                name: name.unwrap_or_default(),
                arguments: String::new(),
                status: Some("in_progress".to_owned()),
            };
            self.item_added(output_index, Item::FunctionCall(item.clone()), out);
            self.calls.insert(delta.index, Call { output_index, item });
        }
        let Some(arguments) = arguments.filter(|a| !a.is_empty()) else {
            return;
        };
        let sequence_number = self.next_sequence_number();
        let Some(call) = self.calls.get_mut(&delta.index) else {
            return;
        };
        call.item.arguments.push_str(&arguments);
        write(
            out,
            &StreamEvent::FunctionCallArgumentsDelta {
                item_id: call.item.id.clone().unwrap_or_default(),
                output_index: call.output_index,
                delta: arguments,
                sequence_number,
            },
        );
    }

    fn close_calls(&mut self, out: &mut Vec<u8>) {
        for (_, mut call) in std::mem::take(&mut self.calls) {
            let sequence_number = self.next_sequence_number();
            write(
                out,
                &StreamEvent::FunctionCallArgumentsDone {
                    item_id: call.item.id.clone().unwrap_or_default(),
                    output_index: call.output_index,
                    name: call.item.name.clone(),
                    arguments: call.item.arguments.clone(),
                    sequence_number,
                },
            );
            call.item.status = Some("completed".to_owned());
            self.item_done(call.output_index, Item::FunctionCall(call.item), out);
        }
    }

    fn close_all(&mut self, out: &mut Vec<u8>) {
        self.close_reasoning(out);
        self.close_text(out);
        self.close_calls(out);
    }
}

fn write(out: &mut Vec<u8>, event: &StreamEvent) {
    write_event(out, event.name(), event);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::translated::testing::{self, chunk, delta};
    use serde_json::Value;
    use std::sync::Mutex;
    use switchyard_wire::responses::ResponsesRequest;

    fn template() -> Response {
        let request: ResponsesRequest =
            serde_json::from_value(json!({"model": "alias", "input": "hi"})).expect("valid");
        super::super::response::template(&request)
    }

    /// The events of a written stream, checking their sequence numbers count up from 0.
    fn events(out: &[u8]) -> Vec<(String, Value)> {
        let events = testing::events(out);
        for (n, (_, data)) in events.iter().enumerate() {
            assert_eq!(data["sequence_number"], n, "{data}");
        }
        events
    }

    // Event order of https://platform.openai.com/docs/api-reference/responses-streaming.
    #[tokio::test]
    async fn text_then_parallel_tool_calls_become_items_with_their_own_events() {
        let kept = Arc::new(Mutex::new(None));
        let keep = Arc::clone(&kept);
        let mut writer = EventWriter::new(
            template(),
            Some(Box::new(move |response| {
                *keep.lock().expect("lock") = Some(response);
                Box::pin(async {})
            })),
        );
        let mut out = Vec::new();
        for c in [
            delta(json!({"role": "assistant", "content": ""}), None),
            delta(json!({"content": "Let me "}), None),
            delta(json!({"content": "check."}), None),
            delta(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                "function": {"name": "w", "arguments": ""}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                "function": {"name": "now", "arguments": "{}"}}]}),
                None,
            ),
            delta(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"c\":\"Paris\"}"}}]}),
                None,
            ),
            delta(json!({}), Some("tool_calls")),
            chunk(
                json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5,
                "total_tokens": 17}}),
            ),
        ] {
            writer.on_chunk(c, &mut out);
        }
        writer.finish(&mut out);
        writer.before_end().expect("work before the end").await;
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let created = &events[0].1["response"];
        assert_eq!(created["id"], "resp_9");
        assert_eq!(created["status"], "in_progress");
        assert_eq!(created["output"], json!([]));
        assert_eq!(
            events[2].1["item"],
            json!({"type": "message", "id": "msg_9_0", "role": "assistant",
                   "content": [], "status": "in_progress"})
        );
        assert_eq!(events[4].1["item_id"], "msg_9_0");
        assert_eq!(events[6].1["text"], "Let me check.");
        assert_eq!(events[9].1["output_index"], 1);
        assert_eq!(events[9].1["item"]["call_id"], "call_a");
        assert_eq!(events[10].1["output_index"], 2);
        assert_eq!(events[10].1["item"]["call_id"], "call_b");
        // Each piece of arguments goes to its own call's item.
        assert_eq!(events[11].1["item_id"], "fc_9_2");
        assert_eq!(events[11].1["delta"], "{}");
        assert_eq!(events[12].1["item_id"], "fc_9_1");
        assert_eq!(events[13].1["arguments"], "{\"c\":\"Paris\"}");
        let completed = &events[17].1["response"];
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["usage"]["input_tokens"], 12);
        assert_eq!(completed["usage"]["total_tokens"], 17);
        let output = completed["output"].as_array().expect("output");
        assert_eq!(output.len(), 3);
        assert_eq!(output[0]["content"][0]["text"], "Let me check.");
        assert_eq!(output[1]["arguments"], "{\"c\":\"Paris\"}");
        assert_eq!(output[2]["name"], "now");
        let kept = kept
            .lock()
            .expect("lock")
            .take()
            .expect("kept on completion");
        assert_eq!(serde_json::to_value(&kept).expect("serializes"), *completed);
    }

    #[test]
    fn reasoning_is_an_item_of_its_own_and_the_token_limit_ends_incomplete() {
        let mut writer = EventWriter::new(template(), None);
        let mut out = Vec::new();
        writer.on_chunk(delta(json!({"reasoning_content": "Hmm, "}), None), &mut out);
        writer.on_chunk(delta(json!({"reasoning_content": "ok."}), None), &mut out);
        writer.on_chunk(delta(json!({"content": "Hi"}), Some("length")), &mut out);
        writer.finish(&mut out);
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[2..4],
            ["response.output_item.added", "response.output_item.done"]
        );
        assert_eq!(events[3].1["item"]["type"], "reasoning");
        assert_eq!(
            events[3].1["item"]["summary"],
            json!([{"type": "summary_text", "text": "Hmm, ok."}])
        );
        let (last, data) = events.last().expect("events");
        assert_eq!(last, "response.incomplete");
        assert_eq!(
            data["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
    }

    // The chunks the Anthropic adapter writes for a thinking block (a `thinking_delta` per piece,
    // then the `signature_delta`: https://docs.anthropic.com/en/docs/build-with-claude/streaming)
    // become one reasoning item whose done event carries the signed block as
    // `encrypted_content` (https://platform.openai.com/docs/api-reference/responses/object).
    #[test]
    fn streamed_thinking_fragments_become_the_done_item_s_encrypted_content() {
        let mut writer = EventWriter::new(template(), None);
        let mut out = Vec::new();
        for fragment in [
            json!({"reasoning_content": "Need ", "thinking_blocks": [{"type": "thinking", "thinking": "Need "}]}),
            json!({"reasoning_content": "weather.", "thinking_blocks": [{"type": "thinking", "thinking": "weather."}]}),
            json!({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "c2ln"}]}),
        ] {
            writer.on_chunk(delta(fragment, None), &mut out);
        }
        writer.on_chunk(delta(json!({"content": "Sunny."}), Some("stop")), &mut out);
        writer.finish(&mut out);
        let events = events(&out);
        let added: Vec<&Value> = events
            .iter()
            .filter(|(n, _)| n == "response.output_item.added")
            .map(|(_, d)| &d["item"])
            .collect();
        assert_eq!(added.len(), 2, "one reasoning item, one message: {added:?}");
        assert!(added[0].get("encrypted_content").is_none());
        let (_, done) = events
            .iter()
            .find(|(n, d)| n == "response.output_item.done" && d["item"]["type"] == "reasoning")
            .expect("reasoning done");
        assert_eq!(
            done["item"]["summary"],
            json!([{"type": "summary_text", "text": "Need weather."}])
        );
        let encrypted = done["item"]["encrypted_content"]
            .as_str()
            .expect("a string");
        assert_eq!(
            super::super::reasoning::decode(encrypted).expect("ours"),
            Some(vec![ThinkingBlock::Thinking {
                thinking: "Need weather.".to_owned(),
                signature: Some("c2ln".to_owned())
            }])
        );
        let (_, completed) = events.last().expect("events");
        assert_eq!(
            completed["response"]["output"][0]["encrypted_content"],
            encrypted
        );
    }

    // The `error` event of https://platform.openai.com/docs/api-reference/responses-streaming.
    #[tokio::test]
    async fn a_failure_mid_stream_is_an_error_event_then_response_failed() {
        use switchyard_providers::{ErrorClass, ProviderError};
        let chunks: ChunkStream = Box::pin(futures_util::stream::iter([
            Ok(delta(json!({"content": "Hel"}), None)),
            Err(ProviderError::new(ErrorClass::Overloaded, "busy")),
        ]));
        let response = sse_response(Arc::from("dep"), chunks, template(), None);
        assert_eq!(
            response.headers()[http::header::CONTENT_TYPE],
            "text/event-stream"
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let events = events(&body);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[names.len() - 2..], ["error", "response.failed"]);
        let error = &events[events.len() - 2].1;
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{error}"
        );
        assert_eq!(
            events.last().expect("events").1["response"]["status"],
            "failed"
        );
        assert!(names.iter().all(|n| *n != "response.completed"));
    }
}
