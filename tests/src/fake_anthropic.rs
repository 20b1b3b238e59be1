//! A fake Anthropic Messages API on a loopback port, replaying the documented fixtures of
//! `crates/switchyard-providers/tests/fixtures/anthropic/` (see the README there for where each
//! comes from), and a gateway configuration that puts it beside the fake OpenAI-compatible
//! upstream and the mock.
//!
//! The upstream model a request names chooses the answer:
//!
//! - `claude-text`: `text_response.json`, or `stream_text.sse` when streaming;
//! - `claude-tool`: `tool_use_response.json`, or `stream_tool_use.sse`;
//! - `claude-rate-limited`: 429 with `retry-after: 7` and `error_rate_limit.json`;
//! - `claude-overloaded`: 529 with `error_overloaded.json`;
//! - `claude-bad-request`: 400 with `error_invalid_request.json`;
//! - `claude-too-long`: 400 with `error_prompt_too_long.json`;
//! - `claude-truncated`: `stream_text.sse` cut before `message_delta`, then the body ends;
//! - `claude-stream-error`: `stream_overloaded.sse`, which ends in an `error` event;
//! - `claude-thinking`: `thinking_response.json` (thinking with its signature, redacted
//!   thinking, prompt cache counts), or `stream_thinking.sse` (`thinking_delta`,
//!   `signature_delta`);
//! - `claude-thinking-tool`: a two-turn tool conversation with extended thinking. A first turn
//!   gets `thinking_tool_use_response.json` (or `stream_thinking_tool_use.sse`) when the
//!   request enables `thinking`, else `tool_use_response.json` (or `stream_tool_use.sse`). A
//!   turn that answers the tool with `thinking` enabled is refused as Anthropic refuses it
//!   unless the assistant turn before it starts with the thinking block given, its signature
//!   unchanged ([`refuse_unpreserved_thinking`]); then it gets `text_response.json` (or
//!   `stream_text.sse`);
//! - anything else: 404 with a `not_found_error` body.
//!
//! `POST /v1/messages/count_tokens` answers `{"input_tokens": 14}` ([`COUNTED_TOKENS`]), the
//! documented example (<https://platform.claude.com/docs/api/beta/messages/count_tokens>), for
//! any model.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::{FakeUpstream, Gateway, closed_port};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/switchyard-providers/tests/fixtures/anthropic/",
            $name
        ))
    };
}

/// The documented text answer (https://docs.anthropic.com/en/api/messages).
pub const TEXT_RESPONSE: &str = fixture!("text_response.json");
/// The documented tool use answer
/// (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview).
pub const TOOL_USE_RESPONSE: &str = fixture!("tool_use_response.json");
/// The documented basic stream (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
pub const STREAM_TEXT: &str = fixture!("stream_text.sse");
/// The documented tool use stream
/// (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
pub const STREAM_TOOL_USE: &str = fixture!("stream_tool_use.sse");
/// A stream ending in the documented `error` event
/// (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
pub const STREAM_OVERLOADED: &str = fixture!("stream_overloaded.sse");
/// An extended thinking answer
/// (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
pub const THINKING_RESPONSE: &str = fixture!("thinking_response.json");
/// The documented extended thinking stream
/// (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
pub const STREAM_THINKING: &str = fixture!("stream_thinking.sse");
/// Extended thinking with tool use
/// (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking).
pub const THINKING_TOOL_USE_RESPONSE: &str = fixture!("thinking_tool_use_response.json");
/// The same, streamed (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
pub const STREAM_THINKING_TOOL_USE: &str = fixture!("stream_thinking_tool_use.sse");
/// The signature of the thinking block in [`THINKING_TOOL_USE_RESPONSE`] and
/// [`STREAM_THINKING_TOOL_USE`].
pub const THINKING_TOOL_SIGNATURE: &str = "BDaL4VrbR2Oj0hO4XpJxT28J5TILnCrrUXoKiiNBZW9P+nr8XSj1zuZzAl4egiCCpQNvfyUuFFJP5CncdYZEQPPmLxYsNrcs";
/// What count_tokens answers.
pub const COUNTED_TOKENS: u64 = 14;
/// Documented error bodies (https://docs.anthropic.com/en/api/errors).
pub const ERROR_RATE_LIMIT: &str = fixture!("error_rate_limit.json");
/// See [`ERROR_RATE_LIMIT`].
pub const ERROR_OVERLOADED: &str = fixture!("error_overloaded.json");
/// See [`ERROR_RATE_LIMIT`].
pub const ERROR_INVALID_REQUEST: &str = fixture!("error_invalid_request.json");
/// See [`ERROR_RATE_LIMIT`].
pub const ERROR_PROMPT_TOO_LONG: &str = fixture!("error_prompt_too_long.json");

/// The `retry-after` the rate-limited model answers with, in seconds.
pub const RETRY_AFTER_SECS: u64 = 7;
/// The key the gateway is configured to send upstream, from `ANTHROPIC_KEY`.
pub const ANTHROPIC_KEY: &str = "sk-ant-e2e";

/// One request the fake Anthropic API received.
#[derive(Debug, Clone)]
pub struct AnthropicReceived {
    /// The request path.
    pub path: String,
    /// The `x-api-key` header.
    pub api_key: Option<String>,
    /// The `anthropic-version` header.
    pub version: Option<String>,
    /// The `anthropic-beta` headers, in order.
    pub betas: Vec<String>,
    /// The `content-type` header.
    pub content_type: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// The body as it arrived.
    pub raw: String,
}

/// The fake Anthropic API.
pub struct FakeAnthropic {
    /// `http://127.0.0.1:PORT`, ready for `api_base`.
    pub api_base: String,
    received: Arc<Mutex<Vec<AnthropicReceived>>>,
}

impl FakeAnthropic {
    /// Starts it on a free loopback port.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .with_state(Arc::clone(&received));
        let addr = crate::serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}"),
            received,
        }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<AnthropicReceived> {
        self.received.lock().expect("lock").clone()
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn json_answer(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Replays an SSE fixture one event per body chunk, as the API sends them.
fn replay(raw: &'static str) -> Response {
    let events: Vec<Result<Bytes, std::io::Error>> = raw
        .split_inclusive("\n\n")
        .map(|event| Ok(Bytes::from_static(event.as_bytes())))
        .collect();
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(events)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        "text/event-stream".parse().expect("header"),
    );
    response
}

/// Keeps what a request brought; answers its JSON body.
fn note(
    received: &Mutex<Vec<AnthropicReceived>>,
    path: &str,
    headers: &HeaderMap,
    raw: &Bytes,
) -> Value {
    let body: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    received.lock().expect("lock").push(AnthropicReceived {
        path: path.to_owned(),
        api_key: header_text(headers, "x-api-key"),
        version: header_text(headers, "anthropic-version"),
        betas: headers
            .get_all("anthropic-beta")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect(),
        content_type: header_text(headers, "content-type"),
        body: body.clone(),
        raw: String::from_utf8_lossy(raw).into_owned(),
    });
    body
}

async fn count_tokens(
    State(received): State<Arc<Mutex<Vec<AnthropicReceived>>>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    note(&received, "/v1/messages/count_tokens", &headers, &raw);
    axum::Json(json!({ "input_tokens": COUNTED_TOKENS })).into_response()
}

async fn messages(
    State(received): State<Arc<Mutex<Vec<AnthropicReceived>>>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = note(&received, "/v1/messages", &headers, &raw);
    let stream = body["stream"] == json!(true);
    match (body["model"].as_str().unwrap_or_default(), stream) {
        ("claude-text", false) => json_answer(StatusCode::OK, TEXT_RESPONSE),
        ("claude-text", true) => replay(STREAM_TEXT),
        ("claude-tool", false) => json_answer(StatusCode::OK, TOOL_USE_RESPONSE),
        ("claude-tool", true) => replay(STREAM_TOOL_USE),
        ("claude-stream-error", true) => replay(STREAM_OVERLOADED),
        ("claude-thinking", false) => json_answer(StatusCode::OK, THINKING_RESPONSE),
        ("claude-thinking", true) => replay(STREAM_THINKING),
        ("claude-thinking-tool", stream) => thinking_tool_turn(&body, stream),
        ("claude-truncated", true) => {
            let cut = STREAM_TEXT
                .find("event: message_delta")
                .expect("the fixture has a message_delta");
            replay(&STREAM_TEXT[..cut])
        }
        ("claude-rate-limited", _) => {
            let mut response = json_answer(StatusCode::TOO_MANY_REQUESTS, ERROR_RATE_LIMIT);
            response
                .headers_mut()
                .insert("retry-after", RETRY_AFTER_SECS.into());
            response
        }
        ("claude-overloaded", _) => {
            let status = StatusCode::from_u16(529).expect("529 is a status");
            json_answer(status, ERROR_OVERLOADED)
        }
        ("claude-bad-request", _) => json_answer(StatusCode::BAD_REQUEST, ERROR_INVALID_REQUEST),
        ("claude-too-long", _) => json_answer(StatusCode::BAD_REQUEST, ERROR_PROMPT_TOO_LONG),
        (model, _) => {
            let body = json!({"type": "error", "error": {"type": "not_found_error",
                "message": format!("model: {model}")}});
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
    }
}

/// A turn of `claude-thinking-tool`: see the module doc.
fn thinking_tool_turn(body: &Value, stream: bool) -> Response {
    let thinking = body["thinking"]["type"] == "enabled";
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let answers_tool = messages.last().is_some_and(|last| {
        last["role"] == "user"
            && last["content"]
                .as_array()
                .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
    });
    match (answers_tool, thinking, stream) {
        (false, true, false) => json_answer(StatusCode::OK, THINKING_TOOL_USE_RESPONSE),
        (false, true, true) => replay(STREAM_THINKING_TOOL_USE),
        (false, false, false) => json_answer(StatusCode::OK, TOOL_USE_RESPONSE),
        (false, false, true) => replay(STREAM_TOOL_USE),
        (true, _, _) => {
            if thinking && let Some(refusal) = refuse_unpreserved_thinking(&messages) {
                return refusal;
            }
            if stream {
                replay(STREAM_TEXT)
            } else {
                json_answer(StatusCode::OK, TEXT_RESPONSE)
            }
        }
    }
}

/// Anthropic's refusal of a tool result whose assistant turn lost its thinking: "When `thinking`
/// is enabled, a final `assistant` message must start with a thinking block" (message as the
/// API words it, https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking,
/// "Preserving thinking blocks"); and of a thinking block whose signature changed. `None` when
/// the turn before the tool result starts with the thinking block given, unchanged.
pub fn refuse_unpreserved_thinking(messages: &[Value]) -> Option<Response> {
    let index = messages.len().checked_sub(2)?;
    let first = &messages[index]["content"][0];
    let found = first["type"].as_str().unwrap_or("text");
    let message = match found {
        "thinking" if first["signature"] == THINKING_TOOL_SIGNATURE => return None,
        "redacted_thinking" => return None,
        "thinking" => {
            format!("messages.{index}.content.0: Invalid `signature` in `thinking` block")
        }
        _ => format!(
            "messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
        ),
    };
    let body =
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}});
    Some((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
}

/// The master key of [`anthropic_config`].
pub const MASTER_KEY: &str = "sk-master-anthropic-e2e";

/// A config with one `anthropic/` model group per fake Anthropic behaviour (named as the upstream
/// model), `gpt-4o-mini` and `cut-stream` on the fake OpenAI-compatible upstream (as a vLLM
/// server: an OpenAI-compatible API without a Responses API of its own, so that Responses calls
/// to them are translated to chat calls too), the mock, and an Anthropic deployment nothing
/// listens behind (`claude-unreachable`).
pub fn anthropic_config(anthropic_base: &str, openai_base: &str, closed_port: u16) -> String {
    let mut out = String::from("model_list:\n");
    for name in [
        "claude-text",
        "claude-tool",
        "claude-rate-limited",
        "claude-overloaded",
        "claude-bad-request",
        "claude-too-long",
        "claude-truncated",
        "claude-stream-error",
        "claude-thinking",
        "claude-thinking-tool",
    ] {
        out.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: anthropic/{name}\n      api_base: {anthropic_base}\n      api_key: os.environ/ANTHROPIC_KEY\n    model_info:\n      id: {name}-deployment\n"
        ));
    }
    out.push_str(&format!(
        "  - model_name: claude-unreachable\n    litellm_params:\n      model: anthropic/claude-text\n      api_base: http://127.0.0.1:{closed_port}\n"
    ));
    for (name, upstream) in [
        ("gpt-4o-mini", "upstream-model"),
        ("cut-stream", "cut-stream"),
    ] {
        out.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: hosted_vllm/{upstream}\n      api_base: {openai_base}\n    model_info:\n      id: {name}-deployment\n"
        ));
    }
    out.push_str("  - model_name: mock-echo\n    litellm_params:\n      model: mock/echo\n");
    out.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    out
}

/// Both fake upstreams and a gateway on [`anthropic_config`] in front of them.
pub async fn anthropic_setup() -> (FakeAnthropic, FakeUpstream, Gateway) {
    let anthropic = FakeAnthropic::start().await;
    let openai = FakeUpstream::start().await;
    let config = anthropic_config(&anthropic.api_base, &openai.api_base, closed_port().await);
    let gateway = Gateway::start(&config, &[("ANTHROPIC_KEY", ANTHROPIC_KEY)]).await;
    (anthropic, openai, gateway)
}
