//! End to end: OpenAI-shaped calls through a real gateway socket to `bedrock/` deployments on a
//! fake Bedrock Runtime (`tests/src/fake_bedrock.rs`) that verifies each SigV4 signature and
//! replays AWS's documented shapes: plain, streamed (real event stream frames) and tool-use
//! answers, what the upstream received, error statuses, a cut stream, embeddings refused.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_bedrock::{
    ACCESS_KEY_ID, BedrockRequest, FakeBedrock, REGION, RETRY_AFTER_SECONDS, SECRET_ACCESS_KEY,
    SESSION_TOKEN, bedrock_config, bedrock_setup, models,
};
use switchyard_e2e::{Gateway, MASTER_KEY, error_of, sse_data};

/// A bound on reading a stream, so a stream that never ends fails the test instead of hanging it.
const STREAM_DEADLINE: Duration = Duration::from_secs(10);

fn user(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn streamed(mut request: Value) -> Value {
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    request
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

/// Checks the SigV4 headers of a request: the credential scope, the signed headers, the date,
/// and the fake's own verification of the signature.
fn assert_signed(sent: &BedrockRequest, with_token: bool) {
    assert!(sent.signature_valid, "signature does not verify: {sent:?}");
    let date = sent.amz_date.as_deref().expect("x-amz-date");
    assert_eq!(date.len(), 16, "{date}");
    let signed_headers = if with_token {
        "content-type;host;x-amz-date;x-amz-security-token"
    } else {
        "content-type;host;x-amz-date"
    };
    let expected = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{}/{REGION}/bedrock/aws4_request, SignedHeaders={signed_headers}, Signature=",
        &date[..8]
    );
    let authorization = sent.authorization.as_deref().expect("authorization");
    assert!(
        authorization.starts_with(&expected),
        "{authorization} / {expected}"
    );
    let signature = &authorization[expected.len()..];
    assert!(
        signature.len() == 64 && signature.chars().all(|c| c.is_ascii_hexdigit()),
        "{signature}"
    );
    assert_eq!(
        sent.security_token.as_deref(),
        with_token.then_some(SESSION_TOKEN)
    );
}

// Answer: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
// (response syntax, fixture converse_text.json); request syntax on the same page; signing:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
#[tokio::test]
async fn a_plain_answer_is_openai_shaped_and_the_upstream_got_a_signed_converse_request() {
    let (upstream, gateway) = bedrock_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": models::TEXT, "temperature": 0.2, "max_tokens": 100, "stop": ["END"],
                    "messages": [
                        {"role": "system", "content": "Answer in one sentence."},
                        {"role": "user", "content": "What is the capital of France?"},
                        {"role": "assistant", "content": "Do you mean today?"},
                        {"role": "user", "content": "Yes."}]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    // The answer's id is the call's (`x-litellm-call-id`), not Bedrock's request id.
    let call_id = response.headers()["x-litellm-call-id"].clone();
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["id"], call_id.to_str().expect("ascii"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], models::TEXT);
    assert!(body["created"].as_u64() > Some(0));
    assert_eq!(
        body["choices"],
        json!([{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "The capital of France is Paris."}}])
    );
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 18, "completion_tokens": 9, "total_tokens": 27,
               "prompt_tokens_details": {"cached_tokens": 4},
               // Cache writes, as LiteLLM reports them
               // (https://docs.litellm.ai/docs/completion/prompt_caching).
               "cache_creation_input_tokens": 2})
    );

    let received = upstream.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(
        sent.raw_path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        "the model id's `:` travels percent-encoded"
    );
    assert_eq!(
        (sent.model.as_str(), sent.operation.as_str()),
        (models::TEXT, "converse")
    );
    assert_signed(sent, true);
    assert_eq!(
        sent.body,
        json!({
            "system": [{"text": "Answer in one sentence."}],
            "messages": [
                {"role": "user", "content": [{"text": "What is the capital of France?"}]},
                {"role": "assistant", "content": [{"text": "Do you mean today?"}]},
                {"role": "user", "content": [{"text": "Yes."}]}
            ],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.2, "stopSequences": ["END"]}
        })
    );
}

#[tokio::test]
async fn permanent_credentials_sign_without_a_session_token() {
    let (upstream, gateway) = bedrock_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &user("text-without-token", "hi"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_signed(&upstream.received()[0], false);
}

// A signature made with the wrong secret is refused as AWS refuses it (403
// InvalidSignatureException), which shows the fake's verification is real.
#[tokio::test]
async fn a_wrong_secret_fails_verification_and_is_an_authentication_error() {
    let upstream = FakeBedrock::start().await;
    let gateway = Gateway::spawn(
        &bedrock_config(&upstream.api_base),
        &[
            ("BEDROCK_E2E_KEY_ID", ACCESS_KEY_ID),
            ("BEDROCK_E2E_SECRET", "not-the-secret"),
        ],
    )
    .await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &user(models::TEXT, "hi"),
            Some(MASTER_KEY),
        )
        .await;
    let (status, code, body) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (502, "upstream_authentication_failed"),
        "{body}"
    );
    let received = upstream.received();
    assert!(!received.is_empty());
    assert!(received.iter().all(|r| !r.signature_valid));
    assert!(
        !body.to_string().contains("not-the-secret"),
        "the secret stays out of errors: {body}"
    );
}

// Stream: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
// and API_runtime_ConverseStreamOutput.html (fixture stream_text.json, framed as
// application/vnd.amazon.eventstream: https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html).
#[tokio::test]
async fn a_streamed_answer_arrives_as_openai_chunks_with_a_final_usage_chunk() {
    let (upstream, gateway) = bedrock_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &streamed(user(models::TEXT, "What is the capital of France?")),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let call_id = response.headers()["x-litellm-call-id"].clone();
    let (chunks, done) = chunks(&stream_body(response).await);
    assert!(done, "the stream ends with [DONE]");
    assert_eq!(chunks.len(), 6, "{chunks:#?}");
    for chunk in &chunks {
        assert_eq!(chunk["id"], call_id.to_str().expect("ascii"));
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], models::TEXT);
    }
    let choice = |i: usize| chunks[i]["choices"].clone();
    assert_eq!(
        choice(0),
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])
    );
    assert_eq!(
        choice(1),
        json!([{"index": 0, "delta": {"content": "The"}, "finish_reason": null}])
    );
    assert_eq!(
        choice(2),
        json!([{"index": 0, "delta": {"content": " capital of France"}, "finish_reason": null}])
    );
    assert_eq!(
        choice(3),
        json!([{"index": 0, "delta": {"content": " is Paris."}, "finish_reason": null}])
    );
    assert_eq!(
        choice(4),
        json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    );
    assert_eq!(choice(5), json!([]));
    assert_eq!(
        chunks[5]["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 7, "total_tokens": 15})
    );
    let sent = &upstream.received()[0];
    assert_eq!(
        sent.raw_path,
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    );
    assert_signed(sent, true);
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "user", "content": [{"text": "What is the capital of France?"}]}])
    );
}

// Tool use: https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html
// (fixture converse_tool_use.json; ToolSpecification, ToolChoice, ToolResultBlock).
#[tokio::test]
async fn tool_calls_come_back_as_openai_tool_calls_and_their_results_go_back_as_tool_results() {
    let (upstream, gateway) = bedrock_setup().await;
    let tools = json!([{"type": "function", "function": {"name": "top_song",
        "description": "Get the most popular song played on a radio station.",
        "parameters": {"type": "object", "properties": {"sign": {"type": "string"}},
                       "required": ["sign"]}}}]);
    let question = json!({"role": "user", "content": "What is the most popular song on WZPZ?"});
    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": models::TOOLS, "messages": [question], "tools": tools,
                    "tool_choice": {"type": "function", "function": {"name": "top_song"}}}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let message = &choice["message"];
    assert_eq!(
        message["content"],
        "I'll look up the most popular song on WZPZ."
    );
    assert_eq!(
        message["tool_calls"],
        json!([{"id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function",
                "function": {"name": "top_song", "arguments": "{\"sign\":\"WZPZ\"}"}}])
    );
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 375, "completion_tokens": 87, "total_tokens": 462})
    );
    let sent = &upstream.received()[0].body;
    assert_eq!(
        sent["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "top_song",
                 "description": "Get the most popular song played on a radio station.",
                 "inputSchema": {"json": tools[0]["function"]["parameters"]}}}],
               "toolChoice": {"tool": {"name": "top_song"}}})
    );

    // The client runs the tool and answers, as OpenAI clients do.
    let second_turn = json!({"model": models::TOOLS, "tools": tools, "messages": [
        question,
        message,
        {"role": "tool", "tool_call_id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
         "content": "{\"song\": \"Elemental Hotel\", \"artist\": \"8 Storey Hike\"}"}
    ]});
    let response = gateway
        .post("/v1/chat/completions", &second_turn, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let sent = &upstream.received()[1];
    assert_signed(sent, true);
    assert_eq!(
        sent.body["messages"],
        json!([
            {"role": "user", "content": [{"text": "What is the most popular song on WZPZ?"}]},
            {"role": "assistant", "content": [
                {"text": "I'll look up the most popular song on WZPZ."},
                {"toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": "top_song",
                             "input": {"sign": "WZPZ"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                                "content": [{"json": {"song": "Elemental Hotel", "artist": "8 Storey Hike"}}]}}]}
        ])
    );
}

// Fixture stream_tool_use.json: a toolUse block starts with its id and name, then its input
// arrives in pieces (API_runtime_ContentBlockStartEvent.html, API_runtime_ToolUseBlockDelta.html).
#[tokio::test]
async fn a_streamed_tool_call_arrives_as_indexed_tool_call_deltas() {
    let (_upstream, gateway) = bedrock_setup().await;
    let mut request = streamed(user(models::TOOLS, "Most popular song on WZPZ?"));
    request["tools"] = json!([{"type": "function", "function": {"name": "top_song"}}]);
    let response = gateway
        .post("/v1/chat/completions", &request, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let (chunks, done) = chunks(&stream_body(response).await);
    assert!(done);
    let deltas: Vec<Value> = chunks
        .iter()
        .map(|c| c["choices"][0]["delta"].clone())
        .collect();
    assert_eq!(
        deltas[3..6],
        [
            json!({"tool_calls": [{"index": 0, "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                   "type": "function", "function": {"name": "top_song", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"sign\": "}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"WZPZ\"}"}}]}),
        ]
    );
    assert_eq!(chunks[6]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[7]["usage"]["prompt_tokens"], 375);
}

// Errors: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors
#[tokio::test]
async fn bedrock_errors_map_to_the_right_statuses_without_leaking_credentials() {
    let cases = [
        (models::INVALID, 400, "upstream_bad_request"),
        (models::TOO_LONG, 400, "context_length_exceeded"),
        (models::UNAVAILABLE, 502, "overloaded"),
        (models::DENIED, 502, "upstream_permission_denied"),
        ("bedrock-unknown", 502, "upstream_not_found"),
    ];
    for stream in [false, true] {
        // A fresh gateway each time: a failing deployment may be cooling down afterwards.
        let (_upstream, gateway) = bedrock_setup().await;
        for (model, status, code) in cases {
            let mut request = user(model, "hi");
            request["stream"] = json!(stream);
            let response = gateway
                .post("/v1/chat/completions", &request, Some(MASTER_KEY))
                .await;
            let (got_status, got_code, body) = error_of(response).await;
            assert_eq!(
                (got_status, got_code.as_str()),
                (status, code),
                "{model} stream {stream}: {body}"
            );
            let message = body["error"]["message"].as_str().unwrap_or_default();
            for secret in [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, "127.0.0.1"] {
                assert!(!message.contains(secret), "{secret} leaks in {message}");
            }
        }
    }
}

// 429 ThrottlingException, and throttlingException as a stream's first message:
// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
#[tokio::test]
async fn throttling_is_429_with_retry_after_when_bedrock_gives_one() {
    for stream in [false, true] {
        // A fresh gateway each time: a rate-limited deployment may be cooling down afterwards.
        let (_upstream, gateway) = bedrock_setup().await;
        let mut request = user(models::THROTTLED, "hi");
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
                .is_some_and(|m| m.contains("ThrottlingException: Too many requests")),
            "{body}"
        );
    }
    let (_upstream, gateway) = bedrock_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &streamed(user(models::STREAM_THROTTLED, "hi")),
            Some(MASTER_KEY),
        )
        .await;
    assert!(response.headers().get("retry-after").is_none());
    let (status, code, body) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (429, "rate_limit_exceeded"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("throttlingException")),
        "{body}"
    );
}

#[tokio::test]
async fn a_stream_cut_before_message_stop_ends_with_an_error_event() {
    let (_upstream, gateway) = bedrock_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &streamed(user(models::CUT_STREAM, "hi")),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let (chunks, done) = chunks(&stream_body(response).await);
    assert!(!done, "a broken stream must not claim to be complete");
    assert_eq!(chunks.len(), 4, "{chunks:#?}");
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "The");
    let error = &chunks[3]["error"];
    assert_eq!(error["code"], "upstream_invalid_response");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("messageStop")),
        "{error}"
    );
}

#[tokio::test]
async fn embeddings_are_refused_without_calling_bedrock() {
    let (upstream, gateway) = bedrock_setup().await;
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": models::TEXT, "input": "hello"}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "upstream_bad_request"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("embeddings via Bedrock are not supported yet")),
        "{body}"
    );
    assert!(upstream.received().is_empty());
}
