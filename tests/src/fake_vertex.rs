//! A fake Vertex AI for the end-to-end tests, on a loopback port: the model methods of
//! `POST /v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`
//! answering with the Gemini and Anthropic adapters' documented fixtures
//! (`generateContent`, `streamGenerateContent?alt=sse`, `:predict`, `:rawPredict`,
//! `:streamRawPredict`), recording each request with its `Authorization` header, and refusing a
//! call without a bearer token as Google does (401 `UNAUTHENTICATED`).
//!
//! Paths: <https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference>,
//! <https://docs.anthropic.com/en/api/claude-on-vertex-ai>.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::Value;

macro_rules! fixture {
    ($dir:literal, $name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/switchyard-providers/tests/fixtures/",
            $dir,
            "/",
            $name
        ))
    };
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct VertexRequest {
    /// The path up to the method (`/v1/projects/.../models/{model}`).
    pub model_path: String,
    /// The method after the colon, with its query (`streamGenerateContent?alt=sse`).
    pub method: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Value,
}

/// The fake.
pub struct FakeVertex {
    /// `http://127.0.0.1:PORT`, ready for `api_base`.
    pub api_base: String,
    received: Arc<Mutex<Vec<VertexRequest>>>,
}

impl FakeVertex {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route(
                "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{call}",
                post(answer),
            )
            .with_state(Arc::clone(&received));
        let addr = crate::serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}"),
            received,
        }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<VertexRequest> {
        self.received.lock().expect("lock").clone()
    }
}

async fn answer(
    State(received): State<Arc<Mutex<Vec<VertexRequest>>>>,
    Path((project, location, publisher, call)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (model, method) = call.split_once(':').unwrap_or((call.as_str(), ""));
    let method = match &query {
        Some(query) => format!("{method}?{query}"),
        None => method.to_owned(),
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    received.lock().expect("lock").push(VertexRequest {
        model_path: format!(
            "/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"
        ),
        method: method.clone(),
        authorization: authorization.clone(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    if !authorization.is_some_and(|a| a.starts_with("Bearer ")) {
        return (
            StatusCode::UNAUTHORIZED,
            json_body(
                r#"{"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}"#,
            ),
        )
            .into_response();
    }
    match (publisher.as_str(), method.as_str()) {
        ("google", "generateContent") => json_body(fixture!("gemini", "generate_text.json")),
        ("google", "streamGenerateContent?alt=sse") => {
            sse(fixture!("gemini", "stream_function_call.sse"))
        }
        ("google", "predict") => json_body(fixture!("vertex", "predict_embeddings.json")),
        ("anthropic", "rawPredict") => json_body(fixture!("anthropic", "text_response.json")),
        ("anthropic", "streamRawPredict") => sse(fixture!("anthropic", "stream_text.sse")),
        _ => (
            StatusCode::NOT_FOUND,
            json_body(
                r#"{"error": {"code": 404, "message": "Publisher model not found.", "status": "NOT_FOUND"}}"#,
            ),
        )
            .into_response(),
    }
}

fn json_body(body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn sse(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}
