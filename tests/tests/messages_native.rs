//! The Anthropic ingress as Claude Code uses it: `/v1/messages` passed through to Anthropic
//! deployments (thinking blocks and signatures, `redacted_thinking`, `cache_control`,
//! documents, `is_error` tool results arrive upstream as the client wrote them; answers and
//! events come back unchanged; prompt cache counts priced at their own rates), translated for
//! other deployments; `/v1/messages/count_tokens`; and Anthropic's error shape on every path
//! under `/v1/messages`.
//!
//! Shapes: https://docs.anthropic.com/en/api/messages,
//! https://docs.anthropic.com/en/docs/build-with-claude/streaming,
//! https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking,
//! https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching,
//! https://platform.claude.com/docs/api/beta/messages/count_tokens and
//! https://docs.claude.com/en/api/errors.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_anthropic::{
    ANTHROPIC_KEY, COUNTED_TOKENS, FakeAnthropic, STREAM_THINKING, THINKING_RESPONSE,
};
use switchyard_e2e::shared_state::{admin_get, eventually, new_key};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY};

// Prices of claude-sonnet-4-5 in the catalog: cache writes 1.25x input, cache reads 0.1x
// (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing).
const INPUT: f64 = 3e-6;
const OUTPUT: f64 = 15e-6;
const CACHE_WRITE: f64 = 3.75e-6;
const CACHE_READ: f64 = 3e-7;

/// The cost of the thinking fixtures' usage (12 input, 2000 written to the cache, 4000 read
/// from it, 86 output tokens).
fn fixture_cost() -> f64 {
    12.0 * INPUT + 2000.0 * CACHE_WRITE + 4000.0 * CACHE_READ + 86.0 * OUTPUT
}

fn config(anthropic: &str, openai: &str) -> String {
    let prices = format!(
        "input_cost_per_token: {INPUT}, output_cost_per_token: {OUTPUT}, cache_creation_input_token_cost: {CACHE_WRITE}, cache_read_input_token_cost: {CACHE_READ}"
    );
    format!(
        "model_list:
  - model_name: claude-thinking
    litellm_params: {{model: anthropic/claude-thinking, api_base: \"{anthropic}\", api_key: os.environ/ANTHROPIC_KEY, {prices}}}
    model_info: {{id: claude-thinking-deployment}}
  - model_name: claude-text
    litellm_params: {{model: anthropic/claude-text, api_base: \"{anthropic}\", api_key: os.environ/ANTHROPIC_KEY}}
    model_info: {{id: claude-text-deployment}}
  - model_name: gpt-4o-mini
    litellm_params: {{model: openai/upstream-model, api_base: \"{openai}\", input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}
    model_info: {{id: gpt-4o-mini-deployment}}
general_settings:
  master_key: {MASTER_KEY}
"
    )
}

async fn setup() -> (FakeAnthropic, FakeUpstream, Gateway) {
    let anthropic = FakeAnthropic::start().await;
    let openai = FakeUpstream::start().await;
    let gateway = Gateway::start(
        &config(&anthropic.api_base, &openai.api_base),
        &[("ANTHROPIC_KEY", ANTHROPIC_KEY)],
    )
    .await;
    (anthropic, openai, gateway)
}

/// `POST {path}` of `body` (sent as these very bytes) with Anthropic's headers.
async fn send(gateway: &Gateway, path: &str, key: &str, body: &str) -> reqwest::Response {
    gateway
        .client
        .post(format!("{}{path}", gateway.base))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("gateway answers")
}

/// Checks Anthropic's error shape; answers the status and error type.
async fn anthropic_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["type"], "error", "{body}");
    assert!(body.get("object").is_none(), "not OpenAI's shape: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        status,
        body["error"]["type"].as_str().expect("type").to_owned(),
    )
}

/// The `messages` of a Claude Code session's third turn: a system prompt and tools marked for
/// the prompt cache, an assistant turn with extended thinking (signed), redacted thinking and a
/// tool call, the tool's failed result (`is_error`), a PDF and an image. Written with the odd
/// spacing a client may use: a pass-through keeps it.
const SESSION_MESSAGES: &str = r#"[{"role": "user", "content": "Why does the build fail?"},
 {"role": "assistant", "content": [
   {"type": "thinking", "thinking": "I should run the build first.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+N7Tr0TGSEAKN0G3e0fk3XOtqKBBZ2jzY+wM2vhpxWATl6MrsVqzt7gqBKsuDT6Y8ueZCjoGpTwgxRWe15ncT4kfsZSqHRPEmfQzvY3vJ3H0Kl+8YD7JS0Nq1w8zrvgm9qsH0cZ9Fr/I+vsbGL0bPWw="},
   {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB8URj2pabXQZ8qfSW2DJCZO"},
   {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "bash", "input": {"command": "cargo build"}}]},
 {"role": "user", "content": [
   {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "is_error": true, "content": [{"type": "text", "text": "error[E0432]: unresolved import"}]},
   {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}, "cache_control": {"type": "ephemeral"}},
   {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
   {"type": "text", "text": "Here is the spec and a screenshot."}]}]"#;

const SESSION_SYSTEM: &str = r#"[{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}}]"#;

const SESSION_TOOLS: &str = r#"[{"name": "bash", "description": "Run a shell command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}, "cache_control": {"type": "ephemeral"}}]"#;

fn session(model: &str, stream: bool) -> String {
    format!(
        r#"{{"model": "{model}", "max_tokens": 2048, "stream": {stream}, "thinking": {{"type": "enabled", "budget_tokens": 1024}}, "system": {SESSION_SYSTEM}, "tools": {SESSION_TOOLS}, "metadata": {{"user_id": "user_abc"}}, "messages": {SESSION_MESSAGES}}}"#
    )
}

// A Claude Code turn to an Anthropic deployment: the body goes upstream with only `model`
// changed, the client's `anthropic-version` and `anthropic-beta` with it; the answer comes back
// byte for byte, priced with the cache counts at their own rates.
#[tokio::test]
async fn a_claude_code_turn_passes_through_to_anthropic_unchanged() {
    let (anthropic, _openai, gateway) = setup().await;
    let response = send(
        &gateway,
        "/v1/messages",
        MASTER_KEY,
        &session("claude-thinking", false),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "claude-thinking-deployment"
    );
    let cost: f64 = response.headers()["x-litellm-response-cost"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number");
    assert!((cost - fixture_cost()).abs() < 1e-12, "{cost}");
    assert_eq!(response.text().await.expect("body"), THINKING_RESPONSE);

    let sent = &anthropic.received()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.api_key.as_deref(), Some(ANTHROPIC_KEY));
    assert_eq!(sent.version.as_deref(), Some("2023-06-01"));
    assert_eq!(sent.betas, ["interleaved-thinking-2025-05-14"]);
    assert_eq!(sent.body["model"], "claude-thinking");
    for part in [SESSION_MESSAGES, SESSION_SYSTEM, SESSION_TOOLS] {
        assert!(sent.raw.contains(part), "not byte-identical: {}", sent.raw);
    }
    assert_eq!(
        sent.body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert_eq!(sent.body["metadata"], json!({"user_id": "user_abc"}));
}

/// `(event name, data text)` of each event of a stream.
fn events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|event| {
            let mut name = None;
            let mut data = None;
            for line in event.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = Some(value.to_owned());
                }
            }
            Some((name?, data?))
        })
        .collect()
}

// The stream of a Claude Code turn: every event as Anthropic sent it (thinking_delta,
// signature_delta), and the spend record priced with the cache counts at their own rates.
#[tokio::test]
async fn a_streamed_thinking_turn_keeps_every_event_and_prices_cached_tokens_at_their_rates() {
    let (_anthropic, _openai, gateway) = setup().await;
    let (secret, key_id) = new_key(&gateway, &json!({"models": ["claude-thinking"]})).await;
    let response = send(
        &gateway,
        "/v1/messages",
        &secret,
        &session("claude-thinking", true),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let got = events(&response.text().await.expect("body"));
    let expected = events(STREAM_THINKING);
    assert_eq!(got, expected);
    assert!(got.iter().any(|(_, d)| d.contains("\"signature_delta\"")));
    assert!(got.iter().any(|(_, d)| d.contains("\"thinking_delta\"")));

    let path = format!("/spend/logs?api_key={key_id}");
    let record = eventually(Duration::from_secs(15), "a spend record", || async {
        admin_get(&gateway, &path)
            .await
            .as_array()
            .and_then(|rows| rows.first().cloned())
    })
    .await;
    // The prompt counts every input token, cached or not; 10x or 1x cache pricing would show.
    assert_eq!(record["prompt_tokens"], 12 + 2000 + 4000, "{record}");
    assert_eq!(record["completion_tokens"], 86, "{record}");
    let spend = record["spend"].as_f64().expect("spend");
    assert!((spend - fixture_cost()).abs() < 1e-12, "{spend} {record}");
}

// The same session to an OpenAI deployment is translated: thinking and redacted thinking are
// dropped (their signatures mean nothing to another provider), the tool call and its result
// become a tool call and a `tool` message; a document, which chat completions cannot carry, is
// refused with 400 rather than dropped.
#[tokio::test]
async fn a_claude_code_session_to_an_openai_deployment_is_translated() {
    let (_anthropic, openai, gateway) = setup().await;
    let response = send(
        &gateway,
        "/v1/messages",
        MASTER_KEY,
        &session("gpt-4o-mini", false),
    )
    .await;
    let (status, kind) = anthropic_error(response).await;
    assert_eq!((status, kind.as_str()), (400, "invalid_request_error"));
    assert!(openai.received().is_empty(), "refused before any upstream");

    let without_document = session("gpt-4o-mini", false).replace(
        r#"{"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}, "cache_control": {"type": "ephemeral"}},"#,
        "",
    );
    for stream in [false, true] {
        let body = without_document.replace(
            "\"stream\": false",
            if stream {
                "\"stream\": true"
            } else {
                "\"stream\": false"
            },
        );
        let response = send(&gateway, "/v1/messages", MASTER_KEY, &body).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.expect("body");
        if stream {
            let names: Vec<String> = events(&text).into_iter().map(|(n, _)| n).collect();
            assert_eq!(names.first().map(String::as_str), Some("message_start"));
            assert_eq!(names.last().map(String::as_str), Some("message_stop"));
        } else {
            let answer: Value = serde_json::from_str(&text).expect("JSON");
            assert_eq!(answer["type"], "message");
            assert_eq!(answer["content"][0]["type"], "text");
        }
    }
    let sent = &openai.received()[0].body;
    let messages = sent["messages"].as_array().expect("messages");
    assert_eq!(messages[0]["role"], "system");
    let assistant = &messages[2];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(
        assistant["tool_calls"][0]["function"]["name"], "bash",
        "{assistant}"
    );
    assert!(!sent.to_string().contains("EqQBCgIYAhIM"), "no signature");
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "toolu_01A09q90qw90lq917835lq9");
}

// count_tokens: exact from Anthropic (its count_tokens endpoint, with the client's headers),
// the gateway's documented estimate elsewhere, said in `x-switchyard-token-count`; key
// allow-list applies; nothing charged.
#[tokio::test]
async fn count_tokens_is_exact_from_anthropic_and_estimated_elsewhere() {
    let (anthropic, openai, gateway) = setup().await;
    let body = |model: &str| {
        format!(
            r#"{{"model": "{model}", "system": "abcdefgh", "messages": [{{"role": "user", "content": "abcd"}}]}}"#
        )
    };
    let (secret, key_id) =
        new_key(&gateway, &json!({"models": ["claude-text", "gpt-4o-mini"]})).await;
    let response = send(
        &gateway,
        "/v1/messages/count_tokens",
        &secret,
        &body("claude-text"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-token-count"], "exact");
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer, json!({"input_tokens": COUNTED_TOKENS}));
    let sent = &anthropic.received()[0];
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(sent.body["model"], "claude-text");
    assert_eq!(sent.api_key.as_deref(), Some(ANTHROPIC_KEY));
    assert_eq!(sent.betas, ["interleaved-thinking-2025-05-14"]);

    let response = send(
        &gateway,
        "/v1/messages/count_tokens",
        &secret,
        &body("gpt-4o-mini"),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-token-count"], "estimate");
    let answer: Value = response.json().await.expect("JSON");
    // "abcdefgh" + "user" + "abcd": 16 characters, four a token.
    assert_eq!(answer, json!({"input_tokens": 4}));
    assert!(
        openai.received().is_empty(),
        "an estimate calls no upstream"
    );

    // The key's allow-list applies.
    let response = send(
        &gateway,
        "/v1/messages/count_tokens",
        &secret,
        &body("claude-thinking"),
    )
    .await;
    assert_eq!(
        anthropic_error(response).await,
        (403, "permission_error".to_owned())
    );

    let path = format!("/spend/logs?api_key={key_id}");
    let rows = eventually(Duration::from_secs(15), "count records", || async {
        let rows = admin_get(&gateway, &path).await;
        let rows = rows.as_array().cloned().unwrap_or_default();
        (rows.len() >= 2).then_some(rows)
    })
    .await;
    for row in rows {
        assert_eq!(row["spend"].as_f64(), Some(0.0), "{row}");
    }
}

// Every path under /v1/messages answers in Anthropic's error shape, with the type the status
// has in https://docs.claude.com/en/api/errors.
#[tokio::test]
async fn every_path_under_messages_answers_in_anthropic_error_shape() {
    let (_anthropic, _openai, gateway) = setup().await;
    let count = r#"{"model": "claude-text", "messages": [{"role": "user", "content": "hi"}]}"#;
    let cases = [
        (
            "/v1/messages/count_tokens",
            "sk-wrong",
            count,
            401,
            "authentication_error",
        ),
        (
            "/v1/messages/count_tokens",
            MASTER_KEY,
            r#"{"model": "claude-text"}"#,
            400,
            "invalid_request_error",
        ),
        (
            "/v1/messages/count_tokens",
            MASTER_KEY,
            r#"{"model": "#,
            400,
            "invalid_request_error",
        ),
        (
            "/v1/messages/count_tokens",
            MASTER_KEY,
            r#"{"model": "nope", "messages": []}"#,
            404,
            "not_found_error",
        ),
        (
            "/v1/messages/batches",
            MASTER_KEY,
            count,
            404,
            "not_found_error",
        ),
        (
            "/v1/messages/x/y",
            "sk-wrong",
            count,
            404,
            "not_found_error",
        ),
    ];
    for (path, key, body, status, kind) in cases {
        let got = anthropic_error(send(&gateway, path, key, body).await).await;
        assert_eq!(got, (status, kind.to_owned()), "{path} {body}");
    }
    for path in ["/v1/messages", "/v1/messages/count_tokens"] {
        let response = gateway
            .client
            .get(format!("{}{path}", gateway.base))
            .header("x-api-key", MASTER_KEY)
            .send()
            .await
            .expect("answers");
        assert_eq!(
            anthropic_error(response).await,
            (405, "invalid_request_error".to_owned()),
            "{path}"
        );
    }
    // OpenAI's routes keep OpenAI's shape.
    let response = gateway.get("/v1/nothing-here", Some(MASTER_KEY)).await;
    let body: Value = response.json().await.expect("JSON");
    assert!(body["error"]["code"].is_string(), "{body}");
}

// The same Anthropic answers through /v1/chat/completions, translated: the prompt cache counts
// reach the spend record at their own rates, streamed or not (a peer gateway bills cached tokens
// 10x when streaming). The usage the client sees is LiteLLM's: `cached_tokens` and
// `cache_creation_input_tokens` (https://docs.litellm.ai/docs/completion/prompt_caching).
#[tokio::test]
async fn chat_completions_to_anthropic_price_cache_counts_at_their_rates_streamed_or_not() {
    let (_anthropic, _openai, gateway) = setup().await;
    let (secret, key_id) = new_key(&gateway, &json!({"models": ["claude-thinking"]})).await;
    let ask = |stream: bool| {
        json!({"model": "claude-thinking", "stream": stream,
            "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
            "messages": [{"role": "user", "content": "27 * 453?"}]})
    };
    let response = gateway
        .post("/v1/chat/completions", &ask(false), Some(&secret))
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["usage"]["prompt_tokens"], 6012, "{answer}");
    assert_eq!(
        answer["usage"]["prompt_tokens_details"]["cached_tokens"],
        4000
    );
    assert_eq!(answer["usage"]["cache_creation_input_tokens"], 2000);

    let response = gateway
        .post("/v1/chat/completions", &ask(true), Some(&secret))
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(
        text.contains("\"cache_creation_input_tokens\":2000"),
        "{text}"
    );

    let path = format!("/spend/logs?api_key={key_id}");
    let rows = eventually(Duration::from_secs(15), "two spend records", || async {
        let rows = admin_get(&gateway, &path).await;
        let rows = rows.as_array().cloned().unwrap_or_default();
        (rows.len() >= 2).then_some(rows)
    })
    .await;
    for row in rows {
        let spend = row["spend"].as_f64().expect("spend");
        assert!((spend - fixture_cost()).abs() < 1e-12, "{spend} {row}");
    }
}

// Anthropic's models on Bedrock are passed through too, to InvokeModel: the body as the client
// wrote it, without `model` and `stream`, with Bedrock's `anthropic_version` and the client's
// betas as `anthropic_beta`
// (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html),
// signed; the answer and the events (from `chunk` frames) come back as Anthropic's.
#[tokio::test]
async fn a_claude_code_turn_passes_through_to_bedrock_invoke_model() {
    use switchyard_e2e::fake_bedrock::{bedrock_setup, models};
    let (bedrock, gateway) = bedrock_setup().await;
    let response = send(
        &gateway,
        "/v1/messages",
        MASTER_KEY,
        &session(models::TEXT, false),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), THINKING_RESPONSE);
    let sent = &bedrock.received()[0];
    assert_eq!(sent.operation, "invoke");
    assert!(sent.signature_valid);
    assert!(sent.body.get("model").is_none() && sent.body.get("stream").is_none());
    assert_eq!(sent.body["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(
        sent.body["anthropic_beta"],
        json!(["interleaved-thinking-2025-05-14"])
    );
    let messages: Value = serde_json::from_str(SESSION_MESSAGES).expect("JSON");
    assert_eq!(sent.body["messages"], messages);
    assert_eq!(
        sent.body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );

    let response = send(
        &gateway,
        "/v1/messages",
        MASTER_KEY,
        &session(models::TEXT, true),
    )
    .await;
    assert_eq!(response.status(), 200);
    let got = events(&response.text().await.expect("body"));
    assert_eq!(got, events(STREAM_THINKING));
    let sent = &bedrock.received()[1];
    assert_eq!(sent.operation, "invoke-with-response-stream");
    assert!(sent.signature_valid);

    // Bedrock has no token counter here: the gateway estimates.
    let count = format!(
        r#"{{"model": "{}", "messages": [{{"role": "user", "content": "abcd"}}]}}"#,
        models::TEXT
    );
    let response = send(&gateway, "/v1/messages/count_tokens", MASTER_KEY, &count).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchyard-token-count"], "estimate");
    assert_eq!(bedrock.received().len(), 2, "an estimate calls no upstream");
}
