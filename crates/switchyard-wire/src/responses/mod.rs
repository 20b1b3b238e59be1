//! OpenAI's Responses API (`POST /v1/responses`, `GET`/`DELETE /v1/responses/{id}`): the
//! request ([`ResponsesRequest`]), the items a conversation is made of, in and out ([`Item`]),
//! the response object ([`Response`]) and the stream events ([`StreamEvent`]), as documented at
//! <https://platform.openai.com/docs/api-reference/responses/create>,
//! <https://platform.openai.com/docs/api-reference/responses/object> and
//! <https://platform.openai.com/docs/api-reference/responses-streaming>.
//!
//! The request keeps every field it does not know as text ([`crate::RawExtra`]), as
//! [`crate::ChatRequest`] does. `output_text`, which the SDKs offer on a response, is computed by
//! the SDKs from `output`, not sent by the API, so [`Response`] has no such field.

mod event;
mod item;
mod object;
mod request;

pub use event::StreamEvent;
pub use item::{
    FunctionCallItem, FunctionCallOutputItem, InputContent, Item, ItemRole, MessageItem,
    ReasoningItem,
};
pub use object::{
    DeletedResponse, InputTokensDetails, OutputTokensDetails, Response, ResponseUsage,
};
pub use request::{
    FunctionTool, ReasoningConfig, ResponseInput, ResponsesRequest, TextConfig, TextFormat,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    // The request of "Function calling" and "Conversation state" in
    // https://platform.openai.com/docs/api-reference/responses/create: input items of every
    // kind the gateway translates, an easy message without `type`, flat function tools.
    #[test]
    fn a_documented_request_reads_with_its_items_and_keeps_unknown_fields() {
        let body = json!({
            "model": "gpt-4.1",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": "What is the weather in Paris?"},
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "and this?"},
                    {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"}
                ]},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
                 "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
                {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\":21}"}
            ],
            "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                       "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                       "strict": true}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}},
            "reasoning": {"effort": "low"},
            "max_output_tokens": 64,
            "store": false,
            "previous_response_id": "resp_0",
            "metadata": {"team": "a"},
            "truncation": "disabled"
        });
        let request: ResponsesRequest = serde_json::from_value(body).expect("valid request");
        assert!(!request.is_stored());
        assert!(!request.is_stream());
        assert_eq!(request.previous_response_id.as_deref(), Some("resp_0"));
        assert_eq!(
            request.extra.value("truncation"),
            Some(json!("disabled")),
            "unknown fields kept"
        );
        let items = request.input_items();
        assert_eq!(items.len(), 5);
        let Item::Message(first) = &items[0] else {
            panic!("a message without `type`: {:?}", items[0])
        };
        assert_eq!(first.role, ItemRole::User);
        assert_eq!(
            first.content,
            [InputContent::text(
                "input_text",
                "What is the weather in Paris?"
            )]
        );
        let Item::Message(second) = &items[1] else {
            panic!("{:?}", items[1])
        };
        assert_eq!(second.content[1].kind, "input_image");
        assert_eq!(
            second.content[1].extra["image_url"],
            "https://example.com/a.png"
        );
        let Item::Reasoning(reasoning) = &items[2] else {
            panic!("{:?}", items[2])
        };
        assert_eq!(reasoning.extra["encrypted_content"], "gAAA");
        assert!(
            matches!(&items[3], Item::FunctionCall(c) if c.call_id == "call_1" && c.name == "get_weather")
        );
        assert!(matches!(&items[4], Item::FunctionCallOutput(o) if o.output == "{\"temp\":21}"));
        let tools = request.tools.as_deref().expect("tools");
        assert_eq!(tools[0].name.as_deref(), Some("get_weather"));
        let format = request.text.and_then(|t| t.format).expect("a format");
        assert_eq!(format.kind, "json_schema");
        assert_eq!(
            format.schema.map(|s| s.get().to_owned()).as_deref(),
            Some(r#"{"type":"object"}"#)
        );
        assert_eq!(
            request.reasoning.and_then(|r| r.effort).as_deref(),
            Some("low")
        );
    }

    #[test]
    fn text_input_is_one_user_message_and_bad_items_are_refused() {
        let request: ResponsesRequest =
            serde_json::from_value(json!({"model": "m", "input": "hi", "stream": true}))
                .expect("valid");
        assert!(request.is_stream() && request.is_stored());
        assert_eq!(request.input_items(), [Item::user_text("hi")]);
        for (body, error) in [
            (json!({"input": "hi"}), "missing field `model`"),
            (
                json!({"model": "m", "input": [{"type": "web_search_call", "id": "x"}]}),
                "unknown variant `web_search_call`",
            ),
            (
                json!({"model": "m", "input": [{"type": "function_call_output"}]}),
                "missing field `call_id`",
            ),
            (
                json!({"model": "m", "input": 7}),
                "a string or a list of input items",
            ),
        ] {
            let err =
                serde_json::from_value::<ResponsesRequest>(body.clone()).expect_err("invalid");
            assert!(err.to_string().contains(error), "{body}: {err}");
        }
    }

    // The response object of https://platform.openai.com/docs/api-reference/responses/object,
    // with a function call item as "Function calling" shows it.
    #[test]
    fn the_documented_response_object_round_trips() {
        let body = json!({
            "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
            "object": "response",
            "created_at": 1741476542,
            "status": "completed",
            "error": null,
            "incomplete_details": null,
            "instructions": null,
            "max_output_tokens": null,
            "model": "gpt-4.1-2025-04-14",
            "output": [
                {"type": "message", "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6", "status": "completed",
                 "role": "assistant", "content": [{"type": "output_text", "text": "In a peaceful grove...", "annotations": []}]},
                {"type": "function_call", "id": "fc_12345xyz", "call_id": "call_12345xyz",
                 "name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}", "status": "completed"}
            ],
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "store": true,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": 87, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": 123},
            "user": null,
            "metadata": {}
        });
        let response: Response = serde_json::from_value(body.clone()).expect("valid response");
        assert_eq!(response.output_text(), "In a peaceful grove...");
        assert_eq!(response.usage.as_ref().map(|u| u.total_tokens), Some(123));
        assert_eq!(serde_json::to_value(&response).expect("serializes"), body);
    }

    // Event shapes of https://platform.openai.com/docs/api-reference/responses-streaming.
    #[test]
    fn stream_events_carry_their_type_and_documented_fields() {
        let delta = StreamEvent::OutputTextDelta {
            item_id: "msg_1".to_owned(),
            output_index: 0,
            content_index: 0,
            delta: "Hi".to_owned(),
            logprobs: Vec::new(),
            sequence_number: 4,
        };
        assert_eq!(delta.name(), "response.output_text.delta");
        assert_eq!(
            serde_json::to_value(&delta).expect("serializes"),
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
                   "content_index": 0, "delta": "Hi", "logprobs": [], "sequence_number": 4})
        );
        let done = StreamEvent::FunctionCallArgumentsDone {
            item_id: "fc_1".to_owned(),
            output_index: 1,
            name: "f".to_owned(),
            arguments: "{}".to_owned(),
            sequence_number: 9,
        };
        let value: Value = serde_json::to_value(&done).expect("serializes");
        assert_eq!(value["type"], done.name());
        assert_eq!(value["arguments"], "{}");
        let error = StreamEvent::Error {
            code: Some("server_error".to_owned()),
            message: "boom".to_owned(),
            param: None,
            sequence_number: 2,
        };
        assert_eq!(
            serde_json::to_value(&error).expect("serializes"),
            json!({"type": "error", "code": "server_error", "message": "boom", "param": null, "sequence_number": 2})
        );
    }
}
