//! Chat completion -> Responses response object
//! (<https://platform.openai.com/docs/api-reference/responses/object>): the first choice's
//! reasoning becomes a `reasoning` item (its signed thinking blocks as the item's
//! `encrypted_content`, [`super::reasoning`]), its text a `message` item, each tool call a
//! `function_call` item; the finish reason sets the status (`incomplete` at the token limit or
//! a content filter) and usage takes the Responses names. The request's settings are echoed as
//! the API echoes them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use switchyard_wire::responses::{
    FunctionCallItem, InputContent, InputTokensDetails, Item, ItemRole, MessageItem,
    OutputTokensDetails, ReasoningItem, Response, ResponseUsage, ResponsesRequest,
};
use switchyard_wire::{ChatResponse, ThinkingBlock, Usage};

use super::reasoning;

/// The response a request will get, before any output: its settings echoed, `in_progress`.
/// Read before the request is translated (which consumes it).
pub fn template(request: &ResponsesRequest) -> Response {
    let created_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Response {
        id: String::new(),
        object: "response".to_owned(),
        created_at,
        status: "in_progress".to_owned(),
        error: None,
        incomplete_details: None,
        instructions: request.instructions.clone(),
        max_output_tokens: request.max_output_tokens,
        model: request.model.clone(),
        output: Vec::new(),
        parallel_tool_calls: request.parallel_tool_calls.unwrap_or(true),
        previous_response_id: request.previous_response_id.clone(),
        reasoning: request.reasoning.as_ref().map(to_value),
        store: request.is_stored(),
        temperature: request.temperature,
        text: request
            .text
            .as_ref()
            .map(to_value)
            .unwrap_or_else(|| json!({"format": {"type": "text"}})),
        tool_choice: request.tool_choice.clone().unwrap_or_else(|| json!("auto")),
        tools: request.tools.iter().flatten().map(to_value).collect(),
        top_p: request.top_p,
        truncation: "disabled".to_owned(),
        usage: None,
        user: request.user.clone(),
        metadata: request.metadata.clone().unwrap_or_else(|| json!({})),
    }
}

/// A request setting as the response echoes it.
fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The ids of one response and its items, all from the call's id (`chatcmpl-<hex>`), so that
/// they are unique across calls and turns and trace back to the call's spend record.
#[derive(Debug, Clone)]
pub struct Ids {
    base: String,
}

impl Ids {
    /// The ids of the call answered as `chat_id`.
    pub fn new(chat_id: &str) -> Self {
        let base = chat_id.strip_prefix("chatcmpl-").unwrap_or(chat_id);
        Self {
            base: base.to_owned(),
        }
    }

    /// `resp_<hex>`.
    pub fn response(&self) -> String {
        format!("resp_{}", self.base)
    }

    /// The id of the output item at `output_index`, with the prefix of its kind (`msg`, `fc`,
    /// `rs`).
    pub fn item(&self, prefix: &str, output_index: u32) -> String {
        format!("{prefix}_{}_{output_index}", self.base)
    }
}

/// Translates a complete answer into `template`'s response.
pub fn to_response(answer: ChatResponse, mut response: Response) -> Response {
    let ids = Ids::new(&answer.id);
    response.id = ids.response();
    if !answer.model.is_empty() {
        response.model = answer.model;
    }
    let mut finish_reason = None;
    if let Some(choice) = answer.choices.into_iter().next() {
        finish_reason = choice.finish_reason;
        let mut message = choice.message;
        let next = |output: &Vec<Item>| u32::try_from(output.len()).unwrap_or(u32::MAX);
        let (reasoning, blocks) = reasoning::take(&mut message.extra);
        if !reasoning.is_empty() || !blocks.is_empty() {
            let id = ids.item("rs", next(&response.output));
            response.output.push(reasoning_item(id, reasoning, &blocks));
        }
        let mut parts = Vec::new();
        if let Some(text) = message.content.map(|c| c.joined_text())
            && !text.is_empty()
        {
            parts.push(InputContent::output_text(text));
        }
        if let Some(Value::String(refusal)) = message.extra.remove("refusal") {
            parts.push(refusal_part(refusal));
        }
        if !parts.is_empty() {
            let id = ids.item("msg", next(&response.output));
            response.output.push(message_item(id, parts, "completed"));
        }
        for call in message.tool_calls.into_iter().flatten() {
            let id = ids.item("fc", next(&response.output));
            response.output.push(Item::FunctionCall(FunctionCallItem {
                id: Some(id),
                call_id: call.id,
                name: call.function.name,
                arguments: call.function.arguments,
                status: Some("completed".to_owned()),
            }));
        }
    }
    finish(
        &mut response,
        finish_reason.as_deref(),
        answer.usage.as_ref(),
    );
    response
}

/// Sets the final status (and why it is incomplete) and the usage.
pub fn finish(response: &mut Response, finish_reason: Option<&str>, usage: Option<&Usage>) {
    let incomplete = match finish_reason {
        Some("length") => Some("max_output_tokens"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    };
    response.status = if incomplete.is_some() {
        "incomplete"
    } else {
        "completed"
    }
    .to_owned();
    response.incomplete_details = incomplete.map(|reason| json!({"reason": reason}));
    response.usage = usage.map(usage_of);
}

/// An assistant message item.
pub fn message_item(id: String, content: Vec<InputContent>, status: &str) -> Item {
    Item::Message(MessageItem {
        id: Some(id),
        role: ItemRole::Assistant,
        content,
        status: Some(status.to_owned()),
    })
}

/// A reasoning item whose summary is `text` (none when it is empty) and whose
/// `encrypted_content` carries the signed `blocks` (none when there are none).
pub fn reasoning_item(id: String, text: String, blocks: &[ThinkingBlock]) -> Item {
    let mut extra = switchyard_wire::Extra::new();
    if !blocks.is_empty() {
        extra.insert(
            "encrypted_content".to_owned(),
            Value::String(reasoning::encode(blocks)),
        );
    }
    let summary = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "summary_text", "text": text})]
    };
    Item::Reasoning(ReasoningItem {
        id: Some(id),
        summary,
        extra,
    })
}

fn refusal_part(refusal: String) -> InputContent {
    let mut part = InputContent {
        kind: "refusal".to_owned(),
        text: None,
        extra: Default::default(),
    };
    part.extra
        .insert("refusal".to_owned(), Value::String(refusal));
    part
}

/// Chat usage in the Responses names: input tokens include the cached ones, output tokens the
/// reasoning ones, as in both APIs.
pub fn usage_of(usage: &Usage) -> ResponseUsage {
    let cached_tokens = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0);
    let reasoning_tokens = usage.reasoning_tokens().unwrap_or(0);
    ResponseUsage {
        input_tokens: usage.prompt_tokens,
        input_tokens_details: InputTokensDetails { cached_tokens },
        output_tokens: usage.completion_tokens,
        output_tokens_details: OutputTokensDetails { reasoning_tokens },
        total_tokens: usage.total_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The output items and usage of https://platform.openai.com/docs/api-reference/responses/object.
    #[test]
    fn a_chat_answer_becomes_reasoning_message_and_function_call_items() {
        let request: ResponsesRequest = serde_json::from_value(json!({
            "model": "alias", "input": "hi", "instructions": "be kind", "store": false,
            "metadata": {"k": "v"}
        }))
        .expect("valid");
        let answer: ChatResponse = serde_json::from_value(json!({
            "id": "chatcmpl-00ff", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.", "reasoning_content": "think",
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "w", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                      "prompt_tokens_details": {"cached_tokens": 4},
                      "completion_tokens_details": {"reasoning_tokens": 2}}
        }))
        .expect("valid");
        let response = to_response(answer, template(&request));
        let value = serde_json::to_value(&response).expect("serializes");
        assert_eq!(value["id"], "resp_00ff");
        assert_eq!(value["object"], "response");
        assert_eq!(value["status"], "completed");
        assert_eq!(value["model"], "gpt-4o");
        assert_eq!(value["instructions"], "be kind");
        assert_eq!(value["store"], false);
        assert_eq!(value["metadata"], json!({"k": "v"}));
        assert_eq!(value["tool_choice"], "auto");
        assert_eq!(value["text"], json!({"format": {"type": "text"}}));
        assert_eq!(
            value["output"],
            json!([
                {"type": "reasoning", "id": "rs_00ff_0", "summary": [{"type": "summary_text", "text": "think"}]},
                {"type": "message", "id": "msg_00ff_1", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
                {"type": "function_call", "id": "fc_00ff_2", "call_id": "call_1", "name": "w",
                 "arguments": "{}", "status": "completed"}
            ])
        );
        assert_eq!(
            value["usage"],
            json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4},
                   "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2},
                   "total_tokens": 15})
        );
        assert_eq!(response.output_text(), "Checking.");
    }

    // Thinking blocks (LiteLLM's `thinking_blocks`, https://docs.litellm.ai/docs/reasoning_content)
    // ride as the reasoning item's `encrypted_content`
    // (https://platform.openai.com/docs/api-reference/responses/object).
    #[test]
    fn signed_thinking_becomes_the_reasoning_item_s_encrypted_content() {
        let request: ResponsesRequest =
            serde_json::from_value(json!({"model": "m", "input": "hi", "store": false}))
                .expect("valid");
        let answer: ChatResponse = serde_json::from_value(json!({
            "id": "chatcmpl-ab", "object": "chat.completion", "created": 1, "model": "claude",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": null, "reasoning_content": "Need weather.",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "Need weather.", "signature": "c2ln"},
                    {"type": "redacted_thinking", "data": "EmwK"}],
                "tool_calls": [{"id": "toolu_1", "type": "function",
                                "function": {"name": "w", "arguments": "{}"}}]}}]
        }))
        .expect("valid");
        let response = to_response(answer, template(&request));
        let value = serde_json::to_value(&response).expect("serializes");
        let item = &value["output"][0];
        assert_eq!(item["type"], "reasoning");
        assert_eq!(
            item["summary"],
            json!([{"type": "summary_text", "text": "Need weather."}])
        );
        let encrypted = item["encrypted_content"].as_str().expect("a string");
        assert_eq!(
            reasoning::decode(encrypted).expect("ours"),
            Some(vec![
                ThinkingBlock::Thinking {
                    thinking: "Need weather.".to_owned(),
                    signature: Some("c2ln".to_owned())
                },
                ThinkingBlock::RedactedThinking {
                    data: "EmwK".to_owned()
                }
            ])
        );
        assert_eq!(value["output"][1]["type"], "function_call");
        assert_eq!(value["output"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn the_token_limit_makes_the_response_incomplete() {
        let request: ResponsesRequest =
            serde_json::from_value(json!({"model": "m", "input": "hi"})).expect("valid");
        let answer: ChatResponse = serde_json::from_value(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "length",
                         "message": {"role": "assistant", "content": "Hel"}}]
        }))
        .expect("valid");
        let response = to_response(answer, template(&request));
        assert_eq!(response.status, "incomplete");
        assert_eq!(
            response.incomplete_details,
            Some(json!({"reason": "max_output_tokens"}))
        );
    }
}
