//! End to end: an `azure/<deployment>` model reaches Azure OpenAI's documented layout: the
//! deployment in the path, `api-version` in the query, the key in an `api-key` header, or a
//! Microsoft Entra ID token in `Authorization: Bearer` from client credentials or a managed
//! identity (a fake token server, `tests/src/fake_oauth.rs`).
//! Shapes follow https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
//! (chat completions and embeddings on `/openai/deployments/{deployment-id}/...`; "Microsoft
//! Entra ID authentication": `Authorization: Bearer` with a token of scope
//! `https://cognitiveservices.azure.com/.default`); LiteLLM's keys:
//! https://docs.litellm.ai/docs/providers/azure (`tenant_id`, `client_id`, `client_secret`,
//! `enable_azure_ad_token_refresh`).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_e2e::fake_oauth::{ENTRA_SECRET, FakeOAuth, IDENTITY_HEADER};
use switchyard_e2e::{Gateway, sse_data};

/// What the fake Azure received: deployment, operation, query, `api-key` header (or the
/// `Authorization` header of an Entra ID token), body.
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
        header("api-key").or_else(|| header("authorization")),
        body.clone(),
    ));
    if header("api-key").is_some() == header("authorization").is_some() {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            "Azure takes an api-key or an Entra ID bearer token, one of them",
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

const ENTRA_CONFIG: &str = "model_list:
  - model_name: gpt-4o
    litellm_params: {model: azure/my-gpt4o, api_base: 'BASE', tenant_id: contoso.onmicrosoft.com, client_id: app-1, client_secret: os.environ/ENTRA_SECRET}
  - model_name: embed
    litellm_params: {model: azure/my-embed, api_base: 'BASE', tenant_id: contoso.onmicrosoft.com, client_id: app-1, client_secret: os.environ/ENTRA_SECRET}
";

// Client credentials: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
#[tokio::test]
async fn entra_client_credentials_give_one_bearer_token_for_every_call() {
    let (base, seen) = azure().await;
    let oauth = FakeOAuth::start().await;
    let config = ENTRA_CONFIG.replace("BASE", &base);
    let env = [
        ("ENTRA_SECRET", ENTRA_SECRET),
        ("AZURE_AUTHORITY_HOST", oauth.base.as_str()),
    ];
    let mut gateway = Gateway::spawn_logging(&config, &env, "debug").await;
    let request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        let response = gateway.post("/v1/chat/completions", &request, None).await;
        assert_eq!(response.status(), 200);
    }
    let embedded = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "embed", "input": "x"}),
            None,
        )
        .await;
    assert_eq!(embedded.status(), 200);

    assert_eq!(oauth.fetches("entra"), 1, "one token for both deployments");
    assert_eq!(
        oauth.requests(),
        [(
            "entra".to_owned(),
            "contoso.onmicrosoft.com https://cognitiveservices.azure.com/.default".to_owned()
        )]
    );
    let seen = seen.0.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    for (_, _, _, auth, _) in &seen {
        assert_eq!(auth.as_deref(), Some("Bearer entra-1"));
    }
    let log = gateway.log_after_exit().await;
    assert!(
        !log.contains(ENTRA_SECRET) && !log.contains("entra-1"),
        "no secret in the logs"
    );
}

#[tokio::test]
async fn a_refused_client_secret_is_a_502_naming_the_client_not_the_secret() {
    let (base, seen) = azure().await;
    let oauth = FakeOAuth::start().await;
    let config = ENTRA_CONFIG.replace("BASE", &base);
    let wrong = "not-the-entra-secret";
    let env = [
        ("ENTRA_SECRET", wrong),
        ("AZURE_AUTHORITY_HOST", oauth.base.as_str()),
    ];
    let gateway = Gateway::spawn(&config, &env).await;
    let request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let response = gateway.post("/v1/chat/completions", &request, None).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("client `app-1` of tenant `contoso.onmicrosoft.com`")
            && message.contains("invalid_client")
            && message.contains("HTTP 401"),
        "{message}"
    );
    assert!(!message.contains(wrong), "{message}");
    assert!(
        seen.0.lock().expect("lock").is_empty(),
        "nothing sent without a token"
    );
}

// Managed identity through the instance metadata service:
// https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http
// (`Metadata: true`, `api-version=2018-02-01`, `resource`, the user-assigned `client_id`).
#[tokio::test]
async fn token_refresh_uses_the_managed_identity_of_the_host() {
    let (base, seen) = azure().await;
    let oauth = FakeOAuth::start().await;
    let config = format!(
        "model_list:
  - model_name: gpt-4o
    litellm_params: {{model: azure/my-gpt4o, api_base: '{base}', client_id: mi-client-1}}
litellm_settings:
  enable_azure_ad_token_refresh: true
"
    );
    let env = [
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", oauth.base.as_str()),
        ("AZURE_API_KEY", ""),
        ("AZURE_TENANT_ID", ""),
        ("AZURE_CLIENT_ID", ""),
        ("AZURE_CLIENT_SECRET", ""),
        ("IDENTITY_ENDPOINT", ""),
        ("IDENTITY_HEADER", ""),
    ];
    let gateway = Gateway::spawn(&config, &env).await;
    let request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        let response = gateway.post("/v1/chat/completions", &request, None).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(oauth.fetches("imds"), 1);
    assert_eq!(
        oauth.requests(),
        [(
            "imds".to_owned(),
            "api-version=2018-02-01&resource=https%3A%2F%2Fcognitiveservices.azure.com&client_id=mi-client-1"
                .to_owned()
        )]
    );
    let seen = seen.0.lock().expect("lock").clone();
    assert!(
        seen.iter()
            .all(|(_, _, _, auth, _)| auth.as_deref() == Some("Bearer imds-1"))
    );
}

// App Service, Functions and Container Apps: IDENTITY_ENDPOINT with X-IDENTITY-HEADER,
// `api-version=2019-08-01`, the answer's `expires_on` in Unix seconds as a string
// (https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference).
#[tokio::test]
async fn on_app_service_the_identity_endpoint_gives_the_token() {
    let (base, seen) = azure().await;
    let oauth = FakeOAuth::start().await;
    let config = format!(
        "model_list:
  - model_name: gpt-4o
    litellm_params: {{model: azure/my-gpt4o, api_base: '{base}'}}
litellm_settings:
  enable_azure_ad_token_refresh: true
"
    );
    let endpoint = format!("{}/msi/token", oauth.base);
    let env = [
        ("IDENTITY_ENDPOINT", endpoint.as_str()),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
        ("AZURE_API_KEY", ""),
        ("AZURE_TENANT_ID", ""),
        ("AZURE_CLIENT_ID", ""),
        ("AZURE_CLIENT_SECRET", ""),
    ];
    let gateway = Gateway::spawn(&config, &env).await;
    let request = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..2 {
        let response = gateway.post("/v1/chat/completions", &request, None).await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        oauth.fetches("appservice"),
        1,
        "expires_on read as an hour away"
    );
    assert_eq!(
        oauth.requests(),
        [(
            "appservice".to_owned(),
            "api-version=2019-08-01&resource=https%3A%2F%2Fcognitiveservices.azure.com".to_owned()
        )]
    );
    let seen = seen.0.lock().expect("lock").clone();
    assert!(
        seen.iter()
            .all(|(_, _, _, auth, _)| auth.as_deref() == Some("Bearer appsvc-1"))
    );
}
