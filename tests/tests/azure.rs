//! End to end: an `azure/<deployment>` model reaches Azure OpenAI's documented layout: the
//! deployment in the path, `api-version` in the query, the key in an `api-key` header.
//! Shapes follow https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
//! (chat completions and embeddings on `/openai/deployments/{deployment-id}/...`).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_e2e::{Gateway, sse_data};

/// What the fake Azure received: deployment, operation, query, `api-key` header, body.
type Received = (String, String, Option<String>, Option<String>, Value);

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Received>>>);

async fn chat(
    State(seen): State<Seen>,
    Path((deployment, op)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    seen.0.lock().expect("lock").push((
        deployment.clone(),
        op.clone(),
        query,
        header("api-key"),
        body.clone(),
    ));
    if header("authorization").is_some() {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "Azure takes api-key, not a bearer token",
        )
            .into_response();
    }
    if op == "embeddings" {
        return axum::Json(json!({"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}}))
        .into_response();
    }
    if body["stream"] == json!(true) {
        let chunk = json!({"id": "chatcmpl-az", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "from azure"}, "finish_reason": "stop"}]});
        let usage = json!({"id": "chatcmpl-az", "object": "chat.completion.chunk", "created": 1,
            "model": "gpt-4o", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}});
        let text = format!("data: {chunk}\n\ndata: {usage}\n\ndata: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], text).into_response();
    }
    axum::Json(json!({"id": "chatcmpl-az", "object": "chat.completion", "created": 1,
        "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "message": {"role": "assistant",
        "content": "from azure"}, "finish_reason": "stop", "content_filter_results": {}}],
        "prompt_filter_results": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}))
    .into_response()
}

async fn azure() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/openai/deployments/{deployment}/{*op}", post(chat))
        .with_state(seen.clone());
    let addr = switchyard_e2e::serve_on_loopback(app).await;
    (format!("http://{addr}"), seen)
}

fn config(base: &str) -> String {
    format!(
        "model_list:
  - model_name: gpt-4o
    litellm_params: {{model: azure/my-gpt4o, api_base: '{base}', api_key: os.environ/AZURE_KEY, api_version: '2024-10-21'}}
  - model_name: embed
    litellm_params: {{model: azure/my-embed, api_base: '{base}', api_key: os.environ/AZURE_KEY}}
"
    )
}

#[tokio::test]
async fn azure_deployments_use_the_documented_path_query_and_key_header() {
    let (base, seen) = azure().await;
    let gateway = Gateway::spawn(&config(&base), &[("AZURE_KEY", "az-secret-1")]).await;
    let request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let response = gateway.post("/v1/chat/completions", &request, None).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "from azure");
    assert_eq!(
        body["prompt_filter_results"],
        json!([]),
        "Azure's extra fields pass through"
    );

    let mut stream_request = request.clone();
    stream_request["stream"] = json!(true);
    let streamed = gateway
        .post("/v1/chat/completions", &stream_request, None)
        .await;
    let events = sse_data(&streamed.text().await.expect("body"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(events[0].contains("from azure"), "{events:?}");

    let embedded = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "embed", "input": "x"}),
            None,
        )
        .await;
    assert_eq!(embedded.status(), 200);

    let seen = seen.0.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    let (deployment, op, query, key, body) = &seen[0];
    assert_eq!(
        (deployment.as_str(), op.as_str()),
        ("my-gpt4o", "chat/completions")
    );
    assert_eq!(query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(key.as_deref(), Some("az-secret-1"));
    assert_eq!(body["messages"][0]["content"], "hi");
    assert_eq!(seen[1].4["stream"], true);
    let (deployment, op, query, _, _) = &seen[2];
    assert_eq!(
        (deployment.as_str(), op.as_str()),
        ("my-embed", "embeddings")
    );
    assert!(
        query
            .as_deref()
            .is_some_and(|q| q.starts_with("api-version=")),
        "{query:?}"
    );
}
