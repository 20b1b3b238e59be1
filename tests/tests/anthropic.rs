//! End to end, both directions of the Anthropic Messages API: OpenAI-shaped calls to
//! `anthropic/` deployments (a fake Anthropic API replaying documented fixtures), and
//! Anthropic-shaped calls to the gateway's `/v1/messages` in front of an OpenAI-compatible
//! upstream, the mock, and an Anthropic deployment.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_anthropic::{
    ANTHROPIC_KEY, MASTER_KEY, RETRY_AFTER_SECS, anthropic_setup,
};
use switchyard_e2e::{error_of, named_events, sse_data};

/// Guards reads of streams that must end: a hang fails the test instead of stalling it.
const STREAM_DEADLINE: Duration = Duration::from_secs(20);

async fn chat(gateway: &switchyard_e2e::Gateway, body: Value) -> reqwest::Response {
    gateway
        .post("/v1/chat/completions", &body, Some(MASTER_KEY))
        .await
}

async fn read_to_end(response: reqwest::Response) -> String {
    tokio::time::timeout(STREAM_DEADLINE, response.text())
        .await
        .expect("the stream ends instead of hanging")
        .expect("body")
}

/// The `data:` payloads of an OpenAI stream, as JSON, and whether it ended with `[DONE]`.
fn chunks(body: &str) -> (Vec<Value>, bool) {
    let data = sse_data(body);
    let done = data.last().map(String::as_str) == Some("[DONE]");
    let chunks = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("chunk is JSON"))
        .collect();
    (chunks, done)
}

// -- OpenAI clients, Anthropic deployments --------------------------------------------------

// Upstream answer: the reference example of https://docs.anthropic.com/en/api/messages.
#[tokio::test]
async fn a_plain_answer_is_translated_and_the_upstream_gets_a_messages_request() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    let response = chat(
        &gateway,
        json!({"model": "claude-text", "user": "u-7", "stop": "END", "temperature": 0.4,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "claude-text-deployment"
    );
    // The answer's id is the call's (`x-litellm-call-id`, the id of its spend record), not
    // Anthropic's `msg_...`.
    let call_id = response.headers()["x-litellm-call-id"].clone();
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["id"], call_id.to_str().expect("ascii"));
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hi! My name is Claude."
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": 3195, "completion_tokens": 503, "total_tokens": 3698,
            "prompt_tokens_details": {"cached_tokens": 1000},
            // LiteLLM's Anthropic-only count of cache writes
            // (https://docs.litellm.ai/docs/completion/prompt_caching).
            "cache_creation_input_tokens": 100})
    );

    let sent = anthropic.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/v1/messages");
    assert_eq!(sent[0].api_key.as_deref(), Some(ANTHROPIC_KEY));
    assert_eq!(sent[0].version.as_deref(), Some("2023-06-01"));
    assert_eq!(sent[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent[0].body,
        json!({"model": "claude-text", "max_tokens": 4096, "system": "be brief",
            "messages": [{"role": "user", "content": "hi"}], "stop_sequences": ["END"],
            "temperature": 0.4, "metadata": {"user_id": "u-7"}})
    );
}

// Upstream answer: the tool use example of
// https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview.
#[tokio::test]
async fn a_tool_use_answer_becomes_openai_tool_calls() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    let response = chat(
        &gateway,
        json!({"model": "claude-tool", "max_tokens": 200, "tool_choice": "required",
            "messages": [{"role": "user", "content": "weather in SF?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["content"],
        "I'll check the current weather in San Francisco for you."
    );
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(
        call["function"]["arguments"]
            .as_str()
            .expect("arguments are a string"),
    )
    .expect("arguments are JSON");
    assert_eq!(
        arguments,
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
    let sent = &anthropic.received()[0].body;
    assert_eq!(sent["max_tokens"], 200);
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");
}

// Upstream stream: "Basic streaming request" of
// https://docs.anthropic.com/en/docs/build-with-claude/streaming.
#[tokio::test]
async fn a_streamed_answer_arrives_as_openai_chunks_ending_with_usage_and_done() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    let response = chat(
        &gateway,
        json!({"model": "claude-text", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let call_id = response.headers()["x-litellm-call-id"].clone();
    let (chunks, done) = chunks(&read_to_end(response).await);
    assert!(done, "a complete stream ends with [DONE]");
    assert!(
        chunks
            .iter()
            .all(|c| c["id"] == call_id.to_str().expect("ascii"))
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello!");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let last = &chunks[chunks.len() - 1];
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 25, "completion_tokens": 15, "total_tokens": 40})
    );
    assert_eq!(anthropic.received()[0].body["stream"], true);
}

// Upstream stream: "Streaming request with tool use" of
// https://docs.anthropic.com/en/docs/build-with-claude/streaming.
#[tokio::test]
async fn a_streamed_tool_call_arrives_as_tool_call_deltas() {
    let (_anthropic, _openai, gateway) = anthropic_setup().await;
    let response = chat(
        &gateway,
        json!({"model": "claude-tool", "stream": true,
            "messages": [{"role": "user", "content": "weather in SF?"}]}),
    )
    .await;
    let (chunks, done) = chunks(&read_to_end(response).await);
    assert!(done);
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "usage only when asked"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Okay, let's check the weather for San Francisco, CA:");
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert!(calls.iter().all(|c| c["index"] == 0));
    assert_eq!(calls[0]["id"], "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let arguments: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).expect("arguments are JSON"),
        json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
    );
    assert_eq!(
        chunks.last().expect("chunks")["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

// Error bodies: https://docs.anthropic.com/en/api/errors.
#[tokio::test]
async fn anthropic_errors_answer_with_the_gateway_statuses() {
    let (_anthropic, _openai, gateway) = anthropic_setup().await;
    let user = json!([{"role": "user", "content": "hi"}]);

    let response = chat(
        &gateway,
        json!({"model": "claude-rate-limited", "messages": user}),
    )
    .await;
    assert_eq!(
        response.headers()["retry-after"],
        RETRY_AFTER_SECS.to_string().as_str()
    );
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limit_exceeded"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("per-minute rate limit")),
        "{body}"
    );

    for (model, status, code) in [
        ("claude-overloaded", 502, "overloaded"),
        ("claude-bad-request", 400, "upstream_bad_request"),
        ("claude-too-long", 400, "context_length_exceeded"),
        ("claude-unreachable", 502, "upstream_unreachable"),
    ] {
        let (got_status, got_code, body) =
            error_of(chat(&gateway, json!({"model": model, "messages": user})).await).await;
        assert_eq!((got_status, got_code.as_str()), (status, code), "{body}");
        assert!(!body.to_string().contains(ANTHROPIC_KEY), "{body}");
    }
}

// Upstream stream (cut): "Basic streaming request" of
// https://docs.anthropic.com/en/docs/build-with-claude/streaming.
#[tokio::test]
async fn a_truncated_stream_ends_in_an_error_event_not_a_hang() {
    let (_anthropic, _openai, gateway) = anthropic_setup().await;
    let response = chat(
        &gateway,
        json!({"model": "claude-truncated", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let (chunks, done) = chunks(&read_to_end(response).await);
    assert!(!done, "a broken stream must not claim to be complete");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello!", "what arrived before the cut is forwarded");
    let last = chunks.last().expect("events");
    assert_eq!(last["error"]["code"], "upstream_invalid_response");
    assert!(
        last["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("message_stop"))
    );
}

// Upstream stream: the `overloaded_error` event of
// https://docs.anthropic.com/en/docs/build-with-claude/streaming.
#[tokio::test]
async fn an_error_event_mid_stream_becomes_an_error_event_of_its_class() {
    let (_anthropic, _openai, gateway) = anthropic_setup().await;
    let response = chat(
        &gateway,
        json!({"model": "claude-stream-error", "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let (chunks, done) = chunks(&read_to_end(response).await);
    assert!(!done);
    let last = chunks.last().expect("events");
    assert_eq!(last["error"]["code"], "overloaded");
    assert!(
        last["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Overloaded"))
    );
}

// Anthropic has no embeddings endpoint; its one generation call is
// https://docs.anthropic.com/en/api/messages.
#[tokio::test]
async fn embeddings_on_an_anthropic_deployment_are_a_bad_request() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "claude-text", "input": "hi"}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "upstream_bad_request"));
    assert!(body.to_string().contains("embeddings"), "{body}");
    assert!(anthropic.received().is_empty(), "nothing is sent upstream");
}

// -- Anthropic clients, /v1/messages ---------------------------------------------------------

async fn messages(gateway: &switchyard_e2e::Gateway, body: Value) -> reqwest::Response {
    gateway
        .client
        .post(format!("{}/v1/messages", gateway.base))
        .header("x-api-key", MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("gateway answers")
}

/// `(event name, data)` pairs of an Anthropic stream, each data's `type` naming its event, as
/// https://docs.anthropic.com/en/docs/build-with-claude/streaming specifies.
fn anthropic_events(body: &str) -> Vec<(String, Value)> {
    named_events(body)
}

/// Checks an Anthropic error answer: `{"type": "error", "error": {"type", "message"}}`.
async fn anthropic_error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["type"], "error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let kind = body["error"]["type"]
        .as_str()
        .expect("error type")
        .to_owned();
    (status, kind)
}

// Request and response shapes: https://docs.anthropic.com/en/api/messages.
#[tokio::test]
async fn messages_are_answered_by_an_openai_compatible_deployment() {
    let (_anthropic, openai, gateway) = anthropic_setup().await;
    let response = messages(
        &gateway,
        json!({"model": "gpt-4o-mini", "max_tokens": 100, "system": "be brief",
            "stop_sequences": ["END"], "metadata": {"user_id": "u-9"},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "gpt-4o-mini-deployment"
    );
    let call_id = response.headers()["x-litellm-call-id"].clone();
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(
        answer,
        json!({"id": call_id.to_str().expect("ascii"), "type": "message", "role": "assistant", "model": "upstream-model",
            "content": [{"type": "text", "text": "upstream says: hello"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5}})
    );
    let sent = &openai.received()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}])
    );
    assert_eq!(sent.body["max_tokens"], 100);
    assert_eq!(sent.body["stop"], json!(["END"]));
    assert_eq!(sent.body["user"], "u-9");
}

// Event flow: https://docs.anthropic.com/en/docs/build-with-claude/streaming.
#[tokio::test]
async fn a_messages_stream_from_an_openai_compatible_deployment_follows_the_event_flow() {
    let (_anthropic, openai, gateway) = anthropic_setup().await;
    let response = messages(
        &gateway,
        json!({"model": "gpt-4o-mini", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "stream this"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = anthropic_events(&read_to_end(response).await);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names[1], "content_block_start");
    assert_eq!(
        names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert!(
        names[2..names.len() - 3]
            .iter()
            .all(|n| *n == "content_block_delta")
    );
    assert_eq!(events[0].1["message"]["role"], "assistant");
    assert_eq!(events[0].1["message"]["content"], json!([]));
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "upstream says: stream this");
    let (_, delta) = &events[events.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(
        delta["usage"],
        json!({"output_tokens": 5, "input_tokens": 10})
    );
    let sent = &openai.received()[0].body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

// What the `anthropic` SDK's `messages.parse` sends, `output_config.format`
// (https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs), reaches an
// OpenAI-compatible deployment as a strict `json_schema` `response_format`
// (https://platform.openai.com/docs/api-reference/chat/create); a request field the translation
// cannot carry is refused in Anthropic's error shape (https://docs.anthropic.com/en/api/errors)
// instead of being dropped.
#[tokio::test]
async fn an_output_format_reaches_an_openai_deployment_as_its_response_format() {
    let (_anthropic, openai, gateway) = anthropic_setup().await;
    let schema = json!({"type": "object", "title": "ContactInfo",
        "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
        "required": ["name", "email"], "additionalProperties": false});
    let response = messages(
        &gateway,
        json!({"model": "gpt-4o-mini", "max_tokens": 100,
            "messages": [{"role": "user", "content": "John Smith, john@example.com"}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}}}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let sent = &openai.received()[0].body;
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "ContactInfo", "schema": schema, "strict": true}})
    );
    assert!(sent.get("output_config").is_none(), "{sent}");

    let refused = messages(
        &gateway,
        json!({"model": "gpt-4o-mini", "max_tokens": 100, "service_tier": "auto",
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(
        anthropic_error_of(refused).await,
        (400, "invalid_request_error".to_owned())
    );
    assert_eq!(openai.received().len(), 1, "nothing more went upstream");
}

// Response shape: https://docs.anthropic.com/en/api/messages.
#[tokio::test]
async fn messages_are_answered_by_the_mock() {
    let (_anthropic, _openai, gateway) = anthropic_setup().await;
    let response = messages(
        &gateway,
        json!({"model": "mock-echo", "max_tokens": 10,
            "messages": [{"role": "user", "content": "echo me"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(
        answer["content"],
        json!([{"type": "text", "text": "echo me"}])
    );
    assert_eq!(answer["stop_reason"], "end_turn");
    assert!(answer["usage"]["output_tokens"].as_u64() > Some(0));
}

// Tool use shapes: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview.
#[tokio::test]
async fn a_tool_use_history_reaches_an_openai_upstream_as_tool_calls_and_tool_messages() {
    let (_anthropic, openai, gateway) = anthropic_setup().await;
    let response = messages(
        &gateway,
        json!({"model": "gpt-4o-mini", "max_tokens": 100,
            "tools": [{"name": "get_weather", "description": "Weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "auto"},
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_9", "content": "15C"},
                    {"type": "text", "text": "summarize"}]}
            ]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let sent = &openai.received()[0].body;
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "tool_calls": [{"id": "toolu_9", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_9", "content": "15C"},
            {"role": "user", "content": "summarize"}
        ])
    );
    assert_eq!(
        sent["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
    );
    assert_eq!(sent["tool_choice"], "auto");
}

// Tool use answer and stream: https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview
// and https://docs.anthropic.com/en/docs/build-with-claude/streaming. An Anthropic deployment
// behind /v1/messages is passed through: the answer is Anthropic's own (its `msg_` id; the
// call's id is in `x-litellm-call-id`), the events are Anthropic's.
#[tokio::test]
async fn messages_through_an_anthropic_deployment_keep_tool_use_both_ways() {
    let (anthropic, _openai, gateway) = anthropic_setup().await;
    let request = json!({"model": "claude-tool", "max_tokens": 300,
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "weather in SF?"}]});
    let response = messages(&gateway, request.clone()).await;
    assert!(response.headers().contains_key("x-litellm-call-id"));
    let answer: Value = response.json().await.expect("JSON");
    let fixture: Value =
        serde_json::from_str(switchyard_e2e::fake_anthropic::TOOL_USE_RESPONSE).expect("JSON");
    assert_eq!(answer, fixture);
    assert_eq!(answer["id"], "msg_01Aq9w938a90dw8q");
    let sent = &anthropic.received()[0].body;
    assert_eq!(sent["max_tokens"], 300);
    assert_eq!(sent["model"], "claude-tool");
    assert_eq!(sent["tools"], request["tools"]);
    assert_eq!(sent["messages"], request["messages"]);

    let mut streamed = request;
    streamed["stream"] = json!(true);
    let events = anthropic_events(&read_to_end(messages(&gateway, streamed).await).await);
    let tool_start = events
        .iter()
        .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .expect("a tool_use block");
    assert_eq!(tool_start.1["index"], 1);
    assert_eq!(
        tool_start.1["content_block"],
        json!({"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}})
    );
    let input: String = events
        .iter()
        .filter(|(_, d)| d["index"] == 1)
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).expect("input is JSON"),
        json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
    );
    let (_, delta) = &events[events.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"], json!({"output_tokens": 89}));
    assert_eq!(events.last().expect("events").0, "message_stop");
}

// Error shapes and statuses: https://docs.anthropic.com/en/api/errors.
#[tokio::test]
async fn messages_errors_use_anthropic_error_bodies_with_gateway_statuses() {
    let (_anthropic, _openai, gateway) = anthropic_setup().await;
    let user = json!([{"role": "user", "content": "hi"}]);

    let (status, kind) = anthropic_error_of(
        messages(
            &gateway,
            json!({"model": "no-such-model", "max_tokens": 5, "messages": user}),
        )
        .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (404, "not_found_error"));

    let (status, kind) = anthropic_error_of(
        messages(&gateway, json!({"model": "gpt-4o-mini", "messages": user})).await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));

    let response = gateway
        .client
        .post(format!("{}/v1/messages", gateway.base))
        .header("x-api-key", "sk-wrong")
        .json(&json!({"model": "gpt-4o-mini", "max_tokens": 5, "messages": user}))
        .send()
        .await
        .expect("answers");
    let (status, kind) = anthropic_error_of(response).await;
    assert_eq!((status, kind.as_str()), (401, "authentication_error"));

    let response = gateway
        .post_raw("/v1/messages", "{\"model\":", Some(MASTER_KEY))
        .await;
    let (status, kind) = anthropic_error_of(response).await;
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));

    let response = messages(
        &gateway,
        json!({"model": "claude-rate-limited", "max_tokens": 5, "messages": user}),
    )
    .await;
    assert_eq!(
        response.headers()["retry-after"],
        RETRY_AFTER_SECS.to_string().as_str()
    );
    let (status, kind) = anthropic_error_of(response).await;
    assert_eq!((status, kind.as_str()), (429, "rate_limit_error"));

    let (status, kind) = anthropic_error_of(
        messages(
            &gateway,
            json!({"model": "claude-overloaded", "max_tokens": 5, "messages": user}),
        )
        .await,
    )
    .await;
    assert_eq!((status, kind.as_str()), (502, "overloaded_error"));

    // The OpenAI routes keep OpenAI's shape.
    let (status, code, _) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "no-such-model", "messages": user}),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "model_not_found"));
}

// Error events mid-stream: https://docs.anthropic.com/en/docs/build-with-claude/streaming.
#[tokio::test]
async fn a_messages_stream_that_fails_mid_way_ends_in_an_error_event() {
    let (_anthropic, _openai, gateway) = anthropic_setup().await;
    let response = messages(
        &gateway,
        json!({"model": "cut-stream", "max_tokens": 5, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = anthropic_events(&read_to_end(response).await);
    assert_eq!(events[0].0, "message_start");
    let (name, data) = events.last().expect("events");
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(events.iter().all(|(n, _)| n != "message_stop"));
}
