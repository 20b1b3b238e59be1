//! End to end: OpenAI-shaped calls through a real gateway socket to `gemini/` deployments on a
//! fake Gemini upstream that replays Google's documented bodies (`tests/src/fake_gemini.rs`):
//! plain, streamed and tool-call answers, what the upstream received, error statuses, a cut
//! stream, and embeddings.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_gemini::{GEMINI_KEY, RETRY_AFTER_SECONDS, gemini_setup};
use switchyard_e2e::{MASTER_KEY, error_of, sse_data};

/// A bound on reading a stream, so a stream that never ends fails the test instead of hanging it.
const STREAM_DEADLINE: Duration = Duration::from_secs(10);

fn user(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// The chunks of an SSE body and whether it ended with `[DONE]`.
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

async fn stream_body(response: reqwest::Response) -> String {
    tokio::time::timeout(STREAM_DEADLINE, response.text())
        .await
        .expect("the stream ends")
        .expect("body")
}

// Answer: https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
// (fixture generate_text.json); request: https://ai.google.dev/api/generate-content#request-body
#[tokio::test]
async fn a_plain_answer_is_openai_shaped_and_the_upstream_got_gemini_s_request() {
    let (upstream, gateway) = gemini_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "gemini-text", "temperature": 0.2, "max_tokens": 100,
                    "messages": [
                        {"role": "system", "content": "Answer in one sentence."},
                        {"role": "user", "content": "What is the capital of France?"},
                        {"role": "assistant", "content": "Do you mean today?"},
                        {"role": "user", "content": "Yes."}]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "gemini-text-deployment"
    );
    // The answer's id is the call's (`x-litellm-call-id`), not Gemini's `responseId`.
    let call_id = response.headers()["x-litellm-call-id"].clone();
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["id"], call_id.to_str().expect("ascii"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gemini-2.5-flash");
    assert!(body["created"].as_u64() > Some(0));
    assert_eq!(
        body["choices"],
        json!([{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "The capital of France is Paris."}}])
    );
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 33, "total_tokens": 45,
               "prompt_tokens_details": {"cached_tokens": 4},
               "completion_tokens_details": {"reasoning_tokens": 26}})
    );

    let received = upstream.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(
        (sent.model.as_str(), sent.method.as_str()),
        ("gemini-text", "generateContent")
    );
    assert_eq!(
        sent.query, None,
        "nothing, the key least of all, rides in the URL"
    );
    assert_eq!(sent.api_key.as_deref(), Some(GEMINI_KEY));
    assert_eq!(
        sent.body,
        json!({
            "systemInstruction": {"parts": [{"text": "Answer in one sentence."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "What is the capital of France?"}]},
                {"role": "model", "parts": [{"text": "Do you mean today?"}]},
                {"role": "user", "parts": [{"text": "Yes."}]}
            ],
            "generationConfig": {"temperature": 0.2, "maxOutputTokens": 100}
        })
    );
}

// Stream: https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
// (fixture stream_text.sse, CRLF-separated events).
#[tokio::test]
async fn a_streamed_answer_arrives_as_openai_chunks_with_a_final_usage_chunk() {
    let (upstream, gateway) = gemini_setup().await;
    let mut request = user("gemini-text", "What is the capital of France?");
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = gateway
        .post("/v1/chat/completions", &request, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let call_id = response.headers()["x-litellm-call-id"].clone();
    let (chunks, done) = chunks(&stream_body(response).await);
    assert!(done, "the stream ends with [DONE]");
    assert_eq!(chunks.len(), 5, "{chunks:#?}");
    for chunk in &chunks {
        assert_eq!(chunk["id"], call_id.to_str().expect("ascii"));
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "gemini-2.5-flash");
    }
    assert_eq!(
        chunks[0]["choices"],
        json!([{"index": 0, "delta": {"role": "assistant", "content": "The"}, "finish_reason": null}])
    );
    assert_eq!(
        chunks[1]["choices"],
        json!([{"index": 0, "delta": {"content": " capital of France"}, "finish_reason": null}])
    );
    assert_eq!(
        chunks[2]["choices"],
        json!([{"index": 0, "delta": {"content": " is Paris."}, "finish_reason": null}])
    );
    assert_eq!(
        chunks[3]["choices"],
        json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    );
    assert_eq!(chunks[4]["choices"], json!([]));
    assert_eq!(
        chunks[4]["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 7, "total_tokens": 15})
    );
    let sent = &upstream.received()[0];
    assert_eq!(sent.method, "streamGenerateContent");
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    assert_eq!(sent.api_key.as_deref(), Some(GEMINI_KEY));
}

#[tokio::test]
async fn a_stream_without_include_usage_carries_no_usage() {
    let (_upstream, gateway) = gemini_setup().await;
    let mut request = user("gemini-text", "hi");
    request["stream"] = json!(true);
    let response = gateway
        .post("/v1/chat/completions", &request, Some(MASTER_KEY))
        .await;
    let (chunks, done) = chunks(&stream_body(response).await);
    assert!(done);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "The capital of France is Paris.");
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "{chunks:#?}"
    );
}

// Function calling: https://ai.google.dev/gemini-api/docs/function-calling (fixture
// generate_function_call.json: two parallel calls, the first with a thought signature,
// https://ai.google.dev/gemini-api/docs/thought-signatures).
#[tokio::test]
async fn tool_calls_come_back_as_openai_tool_calls_and_their_results_go_back_as_function_responses()
{
    let (upstream, gateway) = gemini_setup().await;
    let tools = json!([
        {"type": "function", "function": {"name": "get_current_weather",
            "description": "The weather in a city",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                "required": ["location"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "get_current_time",
            "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}}
    ]);
    let question = json!({"role": "user", "content": "Weather and time in Boston?"});
    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "gemini-tools", "messages": [question], "tools": tools,
                    "tool_choice": "required"}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let message = &choice["message"];
    assert_eq!(message["role"], "assistant");
    assert!(
        message.get("content").is_none_or(Value::is_null),
        "{message}"
    );
    let calls = message["tool_calls"].as_array().expect("tool calls");
    assert_eq!(calls.len(), 2);
    // New ids in Anthropic's alphabet, the thought signature riding in the first one.
    let ids: Vec<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(
        ids.len() == 2
            && ids[0] != ids[1]
            && ids.iter().all(|id| id.starts_with("call_")
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')),
        "{ids:?}"
    );
    assert!(
        ids[0].contains("_ts1_") && !ids[1].contains("_ts1_"),
        "{ids:?}"
    );
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_current_weather");
    let arguments: Value = serde_json::from_str(
        calls[0]["function"]["arguments"]
            .as_str()
            .expect("arguments string"),
    )
    .expect("arguments are JSON");
    assert_eq!(
        arguments,
        json!({"location": "Boston, MA", "unit": "celsius"})
    );
    assert_eq!(calls[1]["function"]["name"], "get_current_time");
    assert_eq!(
        calls[1]["function"]["arguments"],
        r#"{"timezone":"America/New_York"}"#
    );

    let sent = &upstream.received()[0].body;
    assert_eq!(
        sent["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_current_weather", "description": "The weather in a city",
             "parametersJsonSchema": tools[0]["function"]["parameters"]},
            {"name": "get_current_time", "parametersJsonSchema": tools[1]["function"]["parameters"]}
        ]}])
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );

    // The client runs the tools and answers, as OpenAI clients do: the assistant message as it
    // came, then one `tool` message per call.
    let second_turn = json!({"model": "gemini-tools", "tools": tools, "messages": [
        question,
        message,
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "{\"temperature\": 21, \"unit\": \"celsius\"}"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "10:42 AM"}
    ]});
    let response = gateway
        .post("/v1/chat/completions", &second_turn, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let sent = &upstream.received()[1].body;
    assert_eq!(
        sent["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather and time in Boston?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_current_weather",
                                  "args": {"location": "Boston, MA", "unit": "celsius"}},
                 "thoughtSignature": "CiQB0e2Kb7Jw0mQhS1gAdyYK0yXvTQ=="},
                {"functionCall": {"name": "get_current_time", "args": {"timezone": "America/New_York"}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_current_weather",
                                      "response": {"temperature": 21, "unit": "celsius"}}},
                {"functionResponse": {"name": "get_current_time", "response": {"result": "10:42 AM"}}}
            ]}
        ])
    );
}

// Fixture stream_function_call.sse: Gemini streams a function call whole, in one event.
#[tokio::test]
async fn a_streamed_tool_call_is_one_complete_tool_call_delta() {
    let (_upstream, gateway) = gemini_setup().await;
    let mut request = user("gemini-tools", "Weather in Boston?");
    request["stream"] = json!(true);
    request["tools"] = json!([{"type": "function", "function": {"name": "get_current_weather"}}]);
    let response = gateway
        .post("/v1/chat/completions", &request, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let (chunks, done) = chunks(&stream_body(response).await);
    assert!(done);
    assert_eq!(chunks.len(), 3, "{chunks:#?}");
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "Let me check the weather."})
    );
    let id = chunks[1]["choices"][0]["delta"]["tool_calls"][0]["id"].clone();
    assert!(id.as_str().is_some_and(|id| id.contains("_ts1_")), "{id}");
    assert_eq!(
        chunks[1]["choices"][0]["delta"],
        json!({"tool_calls": [{"index": 0, "id": id,
               "type": "function", "function": {"name": "get_current_weather",
               "arguments": "{\"location\":\"Boston, MA\"}"}}]})
    );
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "tool_calls");
}

// FinishReason SAFETY: https://ai.google.dev/api/generate-content#FinishReason
#[tokio::test]
async fn a_safety_stop_is_a_content_filter_finish() {
    let (_upstream, gateway) = gemini_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &user("gemini-safety", "something dangerous"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"],
        json!([{"index": 0, "finish_reason": "content_filter", "message": {"role": "assistant"}}])
    );
}

// PromptFeedback.blockReason with no candidates:
// https://ai.google.dev/api/generate-content#PromptFeedback
#[tokio::test]
async fn a_blocked_prompt_is_a_400_content_policy_error_streamed_or_not() {
    let (_upstream, gateway) = gemini_setup().await;
    let mut request = user("gemini-prompt-blocked", "something forbidden");
    for stream in [false, true] {
        request["stream"] = json!(stream);
        let response = gateway
            .post("/v1/chat/completions", &request, Some(MASTER_KEY))
            .await;
        let (status, code, body) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "content_policy_violation"),
            "stream {stream}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("SAFETY")),
            "{body}"
        );
    }
}

// Error bodies and statuses: https://ai.google.dev/gemini-api/docs/troubleshooting
#[tokio::test]
async fn google_errors_map_to_the_right_statuses() {
    let (_upstream, gateway) = gemini_setup().await;
    let cases = [
        ("gemini-bad-request", 400, "upstream_bad_request"),
        ("gemini-too-long", 400, "context_length_exceeded"),
        ("gemini-unavailable", 502, "overloaded"),
        ("gemini-bad-key", 502, "upstream_authentication_failed"),
    ];
    for (model, status, code) in cases {
        let response = gateway
            .post("/v1/chat/completions", &user(model, "hi"), Some(MASTER_KEY))
            .await;
        let (got_status, got_code, body) = error_of(response).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{model}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains(GEMINI_KEY) && !message.contains("127.0.0.1"),
            "no key or upstream URL in {message}"
        );
    }
}

// 429 RESOURCE_EXHAUSTED: https://ai.google.dev/gemini-api/docs/troubleshooting
#[tokio::test]
async fn a_rate_limit_is_429_with_retry_after_streamed_or_not() {
    let mut request = user("gemini-rate-limited", "hi");
    for stream in [false, true] {
        // A fresh gateway each time: a rate-limited deployment may be cooling down afterwards.
        let (_upstream, gateway) = gemini_setup().await;
        request["stream"] = json!(stream);
        let response = gateway
            .post("/v1/chat/completions", &request, Some(MASTER_KEY))
            .await;
        assert_eq!(
            response.headers()["retry-after"],
            RETRY_AFTER_SECONDS.to_string().as_str()
        );
        let (status, code, body) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (429, "rate_limit_exceeded"),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("RESOURCE_EXHAUSTED")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_stream_cut_before_its_finish_reason_ends_with_an_error_event() {
    let (_upstream, gateway) = gemini_setup().await;
    let mut request = user("gemini-cut-stream", "hi");
    request["stream"] = json!(true);
    let response = gateway
        .post("/v1/chat/completions", &request, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let (chunks, done) = chunks(&stream_body(response).await);
    assert!(!done, "a broken stream must not claim to be complete");
    assert_eq!(chunks.len(), 2, "{chunks:#?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "The");
    let error = &chunks[1]["error"];
    assert_eq!(error["code"], "upstream_invalid_response");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("finishReason")),
        "{error}"
    );
}

// Embeddings: https://ai.google.dev/api/embeddings (fixtures embed_single.json and
// embed_batch.json).
#[tokio::test]
async fn embeddings_use_embed_content_for_one_input_and_batch_embed_contents_for_several() {
    let (upstream, gateway) = gemini_setup().await;
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "gemini-embedding", "input": "hello world", "dimensions": 4}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"object": "list", "model": "gemini-embedding",
               "data": [{"object": "embedding", "index": 0,
                         "embedding": [0.013168523, -0.008711934, -0.046782676, 0.000699695]}],
               "usage": {"prompt_tokens": 3, "total_tokens": 3}})
    );
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "gemini-embedding", "input": ["first", "second"]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(
        data[1]["embedding"],
        json!([-0.021200396, 0.004377459, 0.030151263, -0.012084735])
    );

    let received = upstream.received();
    assert_eq!(received[0].method, "embedContent");
    assert_eq!(
        received[0].body,
        json!({"model": "models/gemini-embedding",
               "content": {"parts": [{"text": "hello world"}]}, "outputDimensionality": 4})
    );
    assert_eq!(received[1].method, "batchEmbedContents");
    assert_eq!(
        received[1].body,
        json!({"requests": [
            {"model": "models/gemini-embedding", "content": {"parts": [{"text": "first"}]}},
            {"model": "models/gemini-embedding", "content": {"parts": [{"text": "second"}]}}
        ]})
    );
    assert!(
        received
            .iter()
            .all(|r| r.api_key.as_deref() == Some(GEMINI_KEY))
    );

    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "gemini-embedding", "input": [101, 102]}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "upstream_bad_request"));
    assert_eq!(
        upstream.received().len(),
        2,
        "a refused request is not sent"
    );
}

// A rejected provider key (Google answers `API_KEY_INVALID`,
// https://ai.google.dev/gemini-api/docs/troubleshooting) is the gateway's credentials, not the
// client's: the first answer and the cooldown after it both say so.
#[tokio::test]
async fn a_refused_provider_key_is_named_in_the_error_and_in_the_cooldown_after_it() {
    let (_upstream, gateway) = gemini_setup().await;
    let request = user("gemini-bad-key", "hi");
    let call = || gateway.post("/v1/chat/completions", &request, Some(MASTER_KEY));
    let (status, code, body) = error_of(call().await).await;
    assert_eq!(
        (status, code.as_str()),
        (502, "upstream_authentication_failed"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("refused this gateway's credentials"),
        "{message}"
    );
    let (status, code, body) = error_of(call().await).await;
    assert_eq!(
        (status, code.as_str()),
        (503, "no_deployment_available"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cooling down") && message.contains("refused this gateway's credentials"),
        "{message}"
    );
    assert!(!message.contains(GEMINI_KEY), "{message}");
}

// The `anthropic` SDK's `messages.parse` sends `output_config.format`
// (https://docs.anthropic.com/en/docs/build-with-claude/structured-outputs); to a Gemini
// deployment it arrives as structured output, `responseMimeType` with `responseJsonSchema`
// (https://ai.google.dev/gemini-api/docs/structured-output).
#[tokio::test]
async fn an_anthropic_output_format_reaches_gemini_as_its_response_schema() {
    let (upstream, gateway) = gemini_setup().await;
    let schema = json!({"type": "object", "title": "Capital",
        "properties": {"city": {"type": "string"}}, "required": ["city"],
        "additionalProperties": false});
    let response = gateway
        .client
        .post(format!("{}/v1/messages", gateway.base))
        .header("x-api-key", MASTER_KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gemini-text", "max_tokens": 100,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}}}))
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(response.status(), 200);
    let sent = &upstream.received()[0].body;
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(sent["generationConfig"]["responseJsonSchema"], schema);
}
