//! Vertex AI deployments against a fake Vertex AI and a fake metadata server on loopback,
//! replaying the documented bodies of the Gemini and Anthropic fixtures: the URLs each model
//! is called at, the bearer token on every call (fetched once, `Metadata-Flavor: Google`), the
//! bodies sent, and answers, streams, tool calls and errors read back.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_wire::{ChatRequest, EmbeddingsRequest};

use super::*;
use crate::test_support::{assembled_tool_calls, serve};

/// What the fake servers saw.
#[derive(Default)]
struct Seen {
    token_fetches: usize,
    calls: Vec<(String, Option<String>, Value)>,
}

/// A fake Vertex AI and metadata server: the metadata token endpoint answers `ya29.vertex`
/// (or fails with `token_status`), every model method answers `answers[path suffix]`.
fn fake(
    seen: Arc<Mutex<Seen>>,
    token_status: StatusCode,
    answers: Vec<(&'static str, StatusCode, &'static str, &'static str)>,
) -> axum::Router {
    axum::Router::new().fallback(
        move |uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
            let seen = Arc::clone(&seen);
            let answers = answers.clone();
            async move {
                let path = uri.path().to_owned();
                if path == "/computeMetadata/v1/instance/service-accounts/default/token" {
                    assert_eq!(headers["metadata-flavor"], "Google");
                    seen.lock().expect("lock").token_fetches += 1;
                    let body = if token_status.is_success() {
                        r#"{"access_token":"ya29.vertex","expires_in":3599,"token_type":"Bearer"}"#
                    } else {
                        "metadata server unavailable"
                    };
                    return Response::builder()
                        .status(token_status)
                        .body(Body::from(body))
                        .expect("response");
                }
                let target = match uri.query() {
                    Some(query) => format!("{path}?{query}"),
                    None => path,
                };
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                seen.lock()
                    .expect("lock")
                    .calls
                    .push((target.clone(), auth, sent));
                match answers.iter().find(|(suffix, ..)| target.ends_with(suffix)) {
                    Some((_, status, content_type, body)) => Response::builder()
                        .status(*status)
                        .header("content-type", *content_type)
                        .body(Body::from(*body))
                        .expect("response"),
                    None => Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(Body::from(format!("no route {target}")))
                        .expect("response"),
                }
            }
        },
    )
}

/// Starts a fake (see [`fake`]); answers what it sees and its base URL.
async fn start(
    token_status: StatusCode,
    answers: Vec<(&'static str, StatusCode, &'static str, &'static str)>,
) -> (Arc<Mutex<Seen>>, String) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let base = serve(fake(Arc::clone(&seen), token_status, answers)).await;
    (seen, base)
}

async fn deployment(base: &str, model: &str) -> Box<dyn Provider> {
    let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
    provider(
        client,
        VertexSettings {
            model: model.to_owned(),
            project: "my-project".to_owned(),
            location: "us-central1".to_owned(),
            api_base: Some(base.to_owned()),
            credential: GoogleCredential::MetadataServer(base.to_owned()),
        },
    )
    .expect("valid deployment")
}

fn chat(body: Value) -> ChatRequest {
    serde_json::from_value(body).expect("chat request")
}

const JSON: &str = "application/json";
const SSE: &str = "text/event-stream";
const GEMINI_PATH: &str =
    "/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash";
const CLAUDE_PATH: &str = "/v1/projects/my-project/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929";

// Gemini on Vertex: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference
// (generateContent, streamGenerateContent?alt=sse); the bodies are the Gemini API's.
#[tokio::test]
async fn gemini_answers_streams_and_tool_calls_with_one_fetched_token() {
    let (seen, base) = start(
        StatusCode::OK,
        vec![
            (
                ":generateContent",
                StatusCode::OK,
                JSON,
                include_str!("../../tests/fixtures/gemini/generate_text.json"),
            ),
            (
                ":streamGenerateContent?alt=sse",
                StatusCode::OK,
                SSE,
                include_str!("../../tests/fixtures/gemini/stream_function_call.sse"),
            ),
        ],
    )
    .await;
    let gemini = deployment(&base, "gemini-2.5-flash").await;
    assert_eq!(gemini.family(), "vertex_ai");
    let request =
        json!({"model": "g", "messages": [{"role": "user", "content": "Capital of France?"}]});
    let answer = gemini.chat(chat(request.clone())).await.expect("answer");
    assert!(answer.choices[0].message.content.is_some());
    assert!(answer.usage.is_some());
    gemini.chat(chat(request.clone())).await.expect("answer");
    let mut streamed = request;
    streamed["stream"] = json!(true);
    let chunks: Vec<_> = gemini
        .chat_stream(chat(streamed))
        .await
        .expect("stream")
        .map(|c| c.expect("chunk"))
        .collect()
        .await;
    let calls = assembled_tool_calls(&chunks);
    assert_eq!(calls.len(), 1, "{calls:?}");

    let seen = seen.lock().expect("lock");
    assert_eq!(seen.token_fetches, 1, "one token for every call");
    let targets: Vec<&str> = seen.calls.iter().map(|(t, ..)| t.as_str()).collect();
    assert_eq!(
        targets,
        [
            format!("{GEMINI_PATH}:generateContent"),
            format!("{GEMINI_PATH}:generateContent"),
            format!("{GEMINI_PATH}:streamGenerateContent?alt=sse"),
        ]
    );
    for (_, auth, sent) in &seen.calls {
        assert_eq!(auth.as_deref(), Some("Bearer ya29.vertex"));
        assert_eq!(sent["contents"][0]["role"], "user");
    }
}

// Vertex AI's errors are Google's error bodies: https://cloud.google.com/apis/design/errors.
#[tokio::test]
async fn gemini_errors_are_classified_and_a_failing_token_endpoint_is_named() {
    let (_, base) = start(
        StatusCode::OK,
        vec![(
            ":generateContent",
            StatusCode::TOO_MANY_REQUESTS,
            JSON,
            include_str!("../../tests/fixtures/gemini/error_rate_limited.json"),
        )],
    )
    .await;
    let gemini = deployment(&base, "gemini-2.5-flash").await;
    let request = chat(json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}));
    let err = gemini.chat(request.clone()).await.expect_err("limited");
    assert_eq!(err.class, ErrorClass::RateLimited);

    let (failing, base) = start(StatusCode::SERVICE_UNAVAILABLE, Vec::new()).await;
    let gemini = deployment(&base, "gemini-2.5-flash").await;
    let err = gemini.chat(request).await.expect_err("no token");
    assert_eq!(err.class, ErrorClass::UpstreamServer);
    assert!(
        err.message.contains("metadata server") && err.message.contains("HTTP 503"),
        "{}",
        err.message
    );
    assert!(
        failing.lock().expect("lock").calls.is_empty(),
        "no call without a token"
    );
}

// Text embeddings on Vertex: one `:predict` call
// (https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api).
#[tokio::test]
async fn embeddings_go_to_predict() {
    let (seen, base) = start(
        StatusCode::OK,
        vec![(
            ":predict",
            StatusCode::OK,
            JSON,
            include_str!("../../tests/fixtures/vertex/predict_embeddings.json"),
        )],
    )
    .await;
    let embedder = deployment(&base, "text-embedding-005").await;
    let request: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "e", "input": ["a", "b"]})).expect("request");
    let answer = embedder.embeddings(request).await.expect("answer");
    assert_eq!(answer.data.len(), 2);
    assert_eq!(answer.usage.prompt_tokens, 7);
    let seen = seen.lock().expect("lock");
    assert!(
        seen.calls[0]
            .0
            .ends_with("/models/text-embedding-005:predict")
    );
    assert_eq!(
        seen.calls[0].2,
        json!({"instances": [{"content": "a"}, {"content": "b"}]})
    );
}

// Claude on Vertex: https://docs.anthropic.com/en/api/claude-on-vertex-ai (rawPredict,
// streamRawPredict, `anthropic_version: vertex-2023-10-16`, no `model` in the body).
#[tokio::test]
async fn claude_goes_to_raw_predict_with_the_vertex_version_and_no_model() {
    let (seen, base) = start(
        StatusCode::OK,
        vec![
            (
                ":rawPredict",
                StatusCode::OK,
                JSON,
                include_str!("../../tests/fixtures/anthropic/text_response.json"),
            ),
            (
                ":streamRawPredict",
                StatusCode::OK,
                SSE,
                include_str!("../../tests/fixtures/anthropic/stream_tool_use.sse"),
            ),
        ],
    )
    .await;
    let claude = deployment(&base, "claude-sonnet-4-5@20250929").await;
    assert_eq!(claude.family(), "vertex_ai");
    assert!(claude.speaks(crate::native::NativeApi::Messages));
    let request = json!({"model": "c", "messages": [{"role": "user", "content": "hi"}]});
    let answer = claude.chat(chat(request.clone())).await.expect("answer");
    assert_eq!(
        answer.choices[0]
            .message
            .content
            .as_ref()
            .map(|c| c.joined_text()),
        Some("Hi! My name is Claude.".to_owned())
    );
    let mut streamed = request;
    streamed["stream"] = json!(true);
    let chunks: Vec<_> = claude
        .chat_stream(chat(streamed))
        .await
        .expect("stream")
        .map(|c| c.expect("chunk"))
        .collect()
        .await;
    assert_eq!(assembled_tool_calls(&chunks).len(), 1);
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.token_fetches, 1);
    assert_eq!(seen.calls[0].0, format!("{CLAUDE_PATH}:rawPredict"));
    assert_eq!(seen.calls[1].0, format!("{CLAUDE_PATH}:streamRawPredict"));
    for (_, auth, sent) in &seen.calls {
        assert_eq!(auth.as_deref(), Some("Bearer ya29.vertex"));
        assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
        assert!(sent.get("model").is_none(), "{sent}");
        assert!(sent["max_tokens"].is_u64());
    }
    assert_eq!(seen.calls[1].2["stream"], true);
}

// Vertex AI's own refusals of a Claude call (quota, permission) come in Google's error shape,
// not Anthropic's: https://cloud.google.com/apis/design/errors.
#[tokio::test]
async fn claude_refused_by_vertex_itself_is_classified_by_status() {
    let (_, base) = start(
        StatusCode::OK,
        vec![(
            ":rawPredict",
            StatusCode::TOO_MANY_REQUESTS,
            JSON,
            include_str!("../../tests/fixtures/gemini/error_rate_limited.json"),
        )],
    )
    .await;
    let claude = deployment(&base, "claude-sonnet-4-5@20250929").await;
    let err = claude
        .chat(chat(
            json!({"model": "c", "messages": [{"role": "user", "content": "hi"}]}),
        ))
        .await
        .expect_err("limited");
    assert_eq!(err.class, ErrorClass::RateLimited);
    assert_eq!(err.status, Some(429));
}
