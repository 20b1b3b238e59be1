//! A fake Gemini upstream for the end-to-end tests: the Generative Language API's routes
//! (`POST /v1beta/models/{model}:{method}`) on a loopback port, replaying the documented bodies
//! kept in `crates/switchyard-providers/tests/fixtures/gemini/`, and recording every request.
//!
//! The model name in the path chooses the answer (see [`FakeGemini`]); the fixtures are the
//! same files the adapter's unit tests read, so both sides agree on one copy of Google's shapes.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::Value;

use crate::{Gateway, MASTER_KEY};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/switchyard-providers/tests/fixtures/gemini/",
            $name
        ))
    };
}

/// `generateContent`: a text answer (https://ai.google.dev/api/generate-content).
pub const GENERATE_TEXT: &str = fixture!("generate_text.json");
/// `generateContent`: two parallel function calls.
pub const GENERATE_FUNCTION_CALL: &str = fixture!("generate_function_call.json");
/// `generateContent`: a candidate stopped for safety.
pub const GENERATE_SAFETY_BLOCKED: &str = fixture!("generate_safety_blocked.json");
/// `generateContent`: a blocked prompt, no candidates.
pub const GENERATE_PROMPT_BLOCKED: &str = fixture!("generate_prompt_blocked.json");
/// `streamGenerateContent?alt=sse`: a text answer in three events.
pub const STREAM_TEXT: &str = fixture!("stream_text.sse");
/// `streamGenerateContent?alt=sse`: text, then a function call.
pub const STREAM_FUNCTION_CALL: &str = fixture!("stream_function_call.sse");
/// `embedContent`.
pub const EMBED_SINGLE: &str = fixture!("embed_single.json");
/// `batchEmbedContents` (two embeddings).
pub const EMBED_BATCH: &str = fixture!("embed_batch.json");
/// 429 `RESOURCE_EXHAUSTED`.
pub const ERROR_RATE_LIMITED: &str = fixture!("error_rate_limited.json");
/// 400 `INVALID_ARGUMENT`.
pub const ERROR_INVALID_ARGUMENT: &str = fixture!("error_invalid_argument.json");
/// 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`.
pub const ERROR_API_KEY_INVALID: &str = fixture!("error_api_key_invalid.json");
/// 400 `INVALID_ARGUMENT`: the prompt is longer than the model's context.
pub const ERROR_CONTEXT_WINDOW: &str = fixture!("error_context_window.json");
/// 503 `UNAVAILABLE`.
pub const ERROR_UNAVAILABLE: &str = fixture!("error_unavailable.json");

/// The `retry-after` the fake sends with its 429, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 7;
/// The API key the gateway's Gemini deployments send, read from the environment as
/// `GEMINI_E2E_KEY` by [`gemini_config`].
pub const GEMINI_KEY: &str = "AIza-e2e-gemini-key";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct GeminiRequest {
    /// The model named in the path.
    pub model: String,
    /// The method after the colon: `generateContent`, `streamGenerateContent`, ...
    pub method: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The `x-goog-api-key` header, if any.
    pub api_key: Option<String>,
    /// The JSON body.
    pub body: Value,
}

/// The fake upstream. Its answer follows the model in the path:
///
/// - `gemini-text`: a text answer, whole or streamed;
/// - `gemini-tools`: function calls, whole (two in parallel) or streamed (one, after text);
/// - `gemini-safety`: a candidate stopped for safety; `gemini-prompt-blocked`: no candidates;
/// - `gemini-rate-limited`: 429 with `retry-after: 7`; `gemini-bad-request`: 400;
///   `gemini-bad-key`: 400 `API_KEY_INVALID`; `gemini-too-long`: 400 about the token count;
///   `gemini-unavailable`: 503;
/// - `gemini-tools-then-down`: the function calls of `gemini-tools`, then 503 for a request
///   that answers them (holds a `functionResponse`): a conversation that must fall back;
/// - `gemini-cut-stream`: the first event of the streamed text answer, then the connection ends;
/// - `gemini-embedding`: `embedContent` and `batchEmbedContents` answers;
/// - any other model: 404 `NOT_FOUND`. A request without `x-goog-api-key` gets 403.
pub struct FakeGemini {
    /// `http://127.0.0.1:PORT`, ready for `api_base`.
    pub api_base: String,
    received: Arc<Mutex<Vec<GeminiRequest>>>,
}

impl FakeGemini {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1beta/models/{call}", post(answer))
            .with_state(Arc::clone(&received));
        let addr = crate::serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}"),
            received,
        }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<GeminiRequest> {
        self.received.lock().expect("lock").clone()
    }
}

async fn answer(
    State(received): State<Arc<Mutex<Vec<GeminiRequest>>>>,
    Path(call): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (model, method) = call.split_once(':').unwrap_or((call.as_str(), ""));
    let api_key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    received.lock().expect("lock").push(GeminiRequest {
        model: model.to_owned(),
        method: method.to_owned(),
        query: query.clone(),
        api_key: api_key.clone(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    if api_key.is_none() {
        return google_error(
            StatusCode::FORBIDDEN,
            r#"{"error": {"code": 403, "message": "Method doesn't allow unregistered callers.", "status": "PERMISSION_DENIED"}}"#,
        );
    }
    let streamed = method == "streamGenerateContent";
    if streamed && query.as_deref() != Some("alt=sse") {
        return google_error(
            StatusCode::BAD_REQUEST,
            r#"{"error": {"code": 400, "message": "this fake streams only with alt=sse", "status": "INVALID_ARGUMENT"}}"#,
        );
    }
    match (model, method) {
        ("gemini-rate-limited", _) => {
            let mut response = google_error(StatusCode::TOO_MANY_REQUESTS, ERROR_RATE_LIMITED);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
            response
        }
        ("gemini-bad-request", _) => google_error(StatusCode::BAD_REQUEST, ERROR_INVALID_ARGUMENT),
        ("gemini-bad-key", _) => google_error(StatusCode::BAD_REQUEST, ERROR_API_KEY_INVALID),
        ("gemini-too-long", _) => google_error(StatusCode::BAD_REQUEST, ERROR_CONTEXT_WINDOW),
        ("gemini-unavailable", _) => {
            google_error(StatusCode::SERVICE_UNAVAILABLE, ERROR_UNAVAILABLE)
        }
        ("gemini-text", "generateContent") => json(GENERATE_TEXT),
        ("gemini-text", "streamGenerateContent") => sse(STREAM_TEXT.to_owned()),
        ("gemini-tools", "generateContent") => json(GENERATE_FUNCTION_CALL),
        ("gemini-tools-then-down", "generateContent") => {
            let answers_calls = received
                .lock()
                .expect("lock")
                .last()
                .is_some_and(|r| r.body.to_string().contains("functionResponse"));
            if answers_calls {
                google_error(StatusCode::SERVICE_UNAVAILABLE, ERROR_UNAVAILABLE)
            } else {
                json(GENERATE_FUNCTION_CALL)
            }
        }
        ("gemini-tools", "streamGenerateContent") => sse(STREAM_FUNCTION_CALL.to_owned()),
        ("gemini-safety", "generateContent") => json(GENERATE_SAFETY_BLOCKED),
        ("gemini-safety", "streamGenerateContent") => sse(event_of(GENERATE_SAFETY_BLOCKED)),
        ("gemini-prompt-blocked", "generateContent") => json(GENERATE_PROMPT_BLOCKED),
        ("gemini-prompt-blocked", "streamGenerateContent") => {
            sse(event_of(GENERATE_PROMPT_BLOCKED))
        }
        ("gemini-cut-stream", "streamGenerateContent") => {
            let first = STREAM_TEXT
                .split_inclusive("\r\n\r\n")
                .next()
                .unwrap_or_default();
            sse(first.to_owned())
        }
        ("gemini-embedding", "embedContent") => json(EMBED_SINGLE),
        ("gemini-embedding", "batchEmbedContents") => json(EMBED_BATCH),
        _ => google_error(
            StatusCode::NOT_FOUND,
            r#"{"error": {"code": 404, "message": "models/unknown is not found for API version v1beta, or is not supported for this method.", "status": "NOT_FOUND"}}"#,
        ),
    }
}

fn json(body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn google_error(status: StatusCode, body: &'static str) -> Response {
    (status, json(body)).into_response()
}

/// A whole JSON answer as one SSE event, the way Gemini streams a one-event answer.
fn event_of(answer: &str) -> String {
    let one_line: Value = serde_json::from_str(answer).expect("fixture is JSON");
    format!("data: {one_line}\r\n\r\n")
}

fn sse(events: String) -> Response {
    let mut response = Response::new(Body::from(events));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        "text/event-stream".parse().expect("header"),
    );
    response
}

/// A gateway config with one `gemini/` deployment per behaviour of [`FakeGemini`], each model
/// group named as its upstream model, the key read from `GEMINI_E2E_KEY`.
pub fn gemini_config(api_base: &str) -> String {
    let mut out = String::from("model_list:\n");
    for model in [
        "gemini-text",
        "gemini-tools",
        "gemini-safety",
        "gemini-prompt-blocked",
        "gemini-rate-limited",
        "gemini-bad-request",
        "gemini-bad-key",
        "gemini-too-long",
        "gemini-unavailable",
        "gemini-cut-stream",
        "gemini-embedding",
    ] {
        out.push_str(&format!(
            "  - model_name: {model}\n    litellm_params:\n      model: gemini/{model}\n      api_base: {api_base}\n      api_key: os.environ/GEMINI_E2E_KEY\n    model_info:\n      id: {model}-deployment\n"
        ));
    }
    out.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    out
}

/// A fake Gemini and a gateway on [`gemini_config`] in front of it.
pub async fn gemini_setup() -> (FakeGemini, Gateway) {
    let upstream = FakeGemini::start().await;
    let config = gemini_config(&upstream.api_base);
    let gateway = Gateway::start(&config, &[("GEMINI_E2E_KEY", GEMINI_KEY)]).await;
    (upstream, gateway)
}
