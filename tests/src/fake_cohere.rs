//! A fake Cohere API for the end-to-end tests: Cohere's v2 chat and rerank routes
//! (`POST /v2/chat`, `POST /v2/rerank`) on a loopback port, replaying the documented bodies kept
//! in `crates/switchyard-providers/tests/fixtures/cohere/` (the same files the adapter's unit
//! tests read), and recording every request.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use serde_json::Value;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/switchyard-providers/tests/fixtures/cohere/",
            $name
        ))
    };
}

const CHAT_TEXT: &str = fixture!("chat_text.json");
const CHAT_TOOL_CALL: &str = fixture!("chat_tool_call.json");
const STREAM_TEXT: &str = fixture!("stream_text.sse");
const STREAM_TOOLS: &str = fixture!("stream_parallel_tool_calls.sse");
const RERANK: &str = fixture!("rerank.json");
const EMBED: &str = fixture!("embed.json");
const ERROR_RATE_LIMITED: &str = fixture!("error_rate_limited.json");
const ERROR_UNAUTHORIZED: &str = fixture!("error_unauthorized.json");

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct CohereRequest {
    /// `/v2/chat`, `/v2/rerank` or `/v2/embed`.
    pub path: String,
    /// The `authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Value,
}

/// The fake Cohere API. Its answer follows the body's `model`:
///
/// - `command-tools`: a tool call (`get_weather`, Toronto), or streamed two parallel calls;
/// - `command-rate-limited`: 429 with Cohere's error body;
/// - any other model: a text answer, whole or streamed (`stream: true`); on `/v2/rerank`, the
///   reference rerank answer; on `/v2/embed`, two vectors.
///
/// A request without `Authorization: Bearer` gets 401.
pub struct FakeCohere {
    /// `http://127.0.0.1:PORT`, ready for `api_base`.
    pub api_base: String,
    received: Arc<Mutex<Vec<CohereRequest>>>,
}

impl FakeCohere {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v2/chat", post(answer))
            .route("/v2/rerank", post(answer))
            .route("/v2/embed", post(answer))
            .with_state(Arc::clone(&received));
        let addr = crate::serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}"),
            received,
        }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<CohereRequest> {
        self.received.lock().expect("lock").clone()
    }
}

async fn answer(
    State(received): State<Arc<Mutex<Vec<CohereRequest>>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    received.lock().expect("lock").push(CohereRequest {
        path: uri.path().to_owned(),
        authorization: authorization.clone(),
        body: body.clone(),
    });
    if !authorization.is_some_and(|a| a.starts_with("Bearer ")) {
        return respond(
            StatusCode::UNAUTHORIZED,
            "application/json",
            ERROR_UNAUTHORIZED,
        );
    }
    let streamed = body["stream"] == Value::Bool(true);
    match (uri.path(), body["model"].as_str().unwrap_or_default()) {
        (_, "command-rate-limited") => respond(
            StatusCode::TOO_MANY_REQUESTS,
            "application/json",
            ERROR_RATE_LIMITED,
        ),
        ("/v2/rerank", _) => respond(StatusCode::OK, "application/json", RERANK),
        ("/v2/embed", _) => respond(StatusCode::OK, "application/json", EMBED),
        (_, "command-tools") if streamed => {
            respond(StatusCode::OK, "text/event-stream", STREAM_TOOLS)
        }
        (_, "command-tools") => respond(StatusCode::OK, "application/json", CHAT_TOOL_CALL),
        _ if streamed => respond(StatusCode::OK, "text/event-stream", STREAM_TEXT),
        _ => respond(StatusCode::OK, "application/json", CHAT_TEXT),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("response")
}
