//! End to end: `vertex_ai/` deployments through a real gateway process to a fake Vertex AI
//! (`tests/src/fake_vertex.rs`), with OAuth2 tokens from a fake token server
//! (`tests/src/fake_oauth.rs`): a service-account key's signed JWT exchanged once and the token
//! reused, refreshed when the token endpoint says it expires, the metadata server of
//! Application Default Credentials, Claude's `rawPredict` body, and a failing token endpoint
//! answered as a 502 naming the credential, with no secret in the answer or the logs.
//!
//! LiteLLM's keys: <https://docs.litellm.ai/docs/providers/vertex> (`vertex_project`,
//! `vertex_location`, `vertex_credentials` as a file path).

use serde_json::{Value, json};
use switchyard_e2e::fake_oauth::{CLIENT_EMAIL, FakeOAuth};
use switchyard_e2e::fake_vertex::FakeVertex;
use switchyard_e2e::{Gateway, sse_data};

const MASTER: &str = "sk-vertex-e2e-master";

/// A gateway process with a Gemini, a Claude and an embeddings deployment on `vertex`,
/// authenticated as `credentials` (a `vertex_credentials` line, or empty for Application
/// Default Credentials), with `env`.
async fn gateway(
    vertex: &FakeVertex,
    credentials: &str,
    env: &[(&str, &str)],
    log: Option<&str>,
) -> Gateway {
    let mut config = String::from("model_list:\n");
    for (name, model) in [
        ("gemini", "gemini-2.5-flash"),
        ("claude", "claude-sonnet-4-5@20250929"),
        ("embed", "text-embedding-005"),
    ] {
        config.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: vertex_ai/{model}\n      \
             vertex_project: my-project\n      vertex_location: us-central1\n      \
             api_base: {}\n{credentials}",
            vertex.api_base
        ));
    }
    config.push_str(&format!("general_settings:\n  master_key: {MASTER}\n"));
    match log {
        Some(filter) => Gateway::spawn_logging(&config, env, filter).await,
        None => Gateway::spawn(&config, env).await,
    }
}

fn user(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "What is the capital of France?"}]})
}

/// A gateway on a service-account key file written for `oauth`.
async fn with_service_account(
    oauth: &FakeOAuth,
    vertex: &FakeVertex,
    dir: &tempfile::TempDir,
    log: Option<&str>,
) -> Gateway {
    let key_file = dir.path().join("service-account.json");
    std::fs::write(&key_file, oauth.service_account_json()).expect("key file");
    let line = format!("      vertex_credentials: {}\n", key_file.display());
    gateway(vertex, &line, &[], log).await
}

// Service accounts: https://developers.google.com/identity/protocols/oauth2/service-account#httprest
// (the JWT bearer grant; the fake verifies the RS256 signature, `iss`, `scope`, `aud`,
// `exp = iat + 3600` and `kid`).
#[tokio::test]
async fn a_service_account_token_is_fetched_once_and_carried_by_every_call() {
    let (oauth, vertex) = (FakeOAuth::start().await, FakeVertex::start().await);
    let dir = tempfile::tempdir().expect("dir");
    let gateway = with_service_account(&oauth, &vertex, &dir, None).await;

    let response = gateway
        .post("/v1/chat/completions", &user("gemini"), Some(MASTER))
        .await;
    assert_eq!(response.status(), 200);
    let cost: f64 = response.headers()["x-litellm-response-cost"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number");
    assert!(cost > 0.0, "priced from the catalog's vertex_ai entries");
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "The capital of France is Paris."
    );

    let mut streamed = user("gemini");
    streamed["stream"] = json!(true);
    let response = gateway
        .post("/v1/chat/completions", &streamed, Some(MASTER))
        .await;
    assert_eq!(response.status(), 200);
    let events = sse_data(&response.text().await.expect("body"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(
        events.iter().any(|e| e.contains("get_current_weather")),
        "the streamed tool call: {events:?}"
    );

    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "embed", "input": ["a", "b"]}),
            Some(MASTER),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["usage"]["prompt_tokens"], 7);

    assert_eq!(oauth.fetches("google"), 1, "one token for all three calls");
    let received = vertex.received();
    let methods: Vec<&str> = received.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "generateContent",
            "streamGenerateContent?alt=sse",
            "predict"
        ]
    );
    assert_eq!(
        received[0].model_path,
        "/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash"
    );
    for request in &received {
        assert_eq!(request.authorization.as_deref(), Some("Bearer ya29.sa-1"));
    }
    assert_eq!(received[0].body["contents"][0]["role"], "user");
}

// A token whose `expires_in` leaves no time is not reused: the next call fetches another.
#[tokio::test]
async fn a_token_that_is_about_to_expire_is_replaced() {
    let (oauth, vertex) = (FakeOAuth::start().await, FakeVertex::start().await);
    oauth.set_lifetime(0);
    let dir = tempfile::tempdir().expect("dir");
    let gateway = with_service_account(&oauth, &vertex, &dir, None).await;
    for _ in 0..2 {
        let response = gateway
            .post("/v1/chat/completions", &user("gemini"), Some(MASTER))
            .await;
        assert_eq!(response.status(), 200);
    }
    oauth.set_lifetime(3599);
    for _ in 0..2 {
        let response = gateway
            .post("/v1/chat/completions", &user("gemini"), Some(MASTER))
            .await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(oauth.fetches("google"), 3);
    let tokens: Vec<Option<String>> = vertex
        .received()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(
        tokens,
        ["ya29.sa-1", "ya29.sa-2", "ya29.sa-3", "ya29.sa-3"].map(|t| Some(format!("Bearer {t}")))
    );
}

// Claude on Vertex: https://docs.anthropic.com/en/api/claude-on-vertex-ai; the metadata server:
// https://cloud.google.com/compute/docs/access/authenticate-workloads#applications.
#[tokio::test]
async fn claude_through_the_metadata_server_gets_the_vertex_body_on_both_ingresses() {
    let (oauth, vertex) = (FakeOAuth::start().await, FakeVertex::start().await);
    let empty = tempfile::tempdir().expect("dir");
    let env = [
        (
            "GCE_METADATA_HOST",
            oauth.base.trim_start_matches("http://"),
        ),
        ("CLOUDSDK_CONFIG", empty.path().to_str().expect("utf-8")),
        ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ];
    let gateway = gateway(&vertex, "", &env, None).await;

    let response = gateway
        .post("/v1/chat/completions", &user("claude"), Some(MASTER))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hi! My name is Claude."
    );

    let response = gateway
        .post(
            "/v1/messages",
            &json!({"model": "claude", "max_tokens": 64, "stream": true,
                    "messages": [{"role": "user", "content": "Hello"}]}),
            Some(MASTER),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(text.contains("event: message_stop"), "{text}");

    assert_eq!(oauth.fetches("metadata"), 1);
    let received = vertex.received();
    assert_eq!(received[0].method, "rawPredict");
    assert_eq!(received[1].method, "streamRawPredict");
    assert!(
        received[0]
            .model_path
            .ends_with("/publishers/anthropic/models/claude-sonnet-4-5@20250929")
    );
    for request in &received {
        assert_eq!(request.authorization.as_deref(), Some("Bearer ya29.meta-1"));
        assert_eq!(request.body["anthropic_version"], "vertex-2023-10-16");
        assert!(request.body.get("model").is_none(), "{}", request.body);
    }
    assert_eq!(received[1].body["stream"], true);
}

#[tokio::test]
async fn a_refused_token_request_is_a_502_naming_the_credential_and_no_secret() {
    let (oauth, vertex) = (FakeOAuth::start().await, FakeVertex::start().await);
    let dir = tempfile::tempdir().expect("dir");
    let mut gateway = with_service_account(&oauth, &vertex, &dir, Some("debug")).await;
    let response = gateway
        .post("/v1/chat/completions", &user("gemini"), Some(MASTER))
        .await;
    assert_eq!(response.status(), 200);
    oauth.fail(true);

    // A new gateway whose first token request is refused.
    let mut failing = with_service_account(&oauth, &vertex, &dir, Some("debug")).await;
    let response = failing
        .post("/v1/chat/completions", &user("gemini"), Some(MASTER))
        .await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(CLIENT_EMAIL) && message.contains("invalid_grant"),
        "{message}"
    );
    assert_eq!(body["error"]["type"], "api_error");
    let response = failing
        .post(
            "/v1/messages",
            &json!({"model": "claude", "max_tokens": 8,
                    "messages": [{"role": "user", "content": "Hello"}]}),
            Some(MASTER),
        )
        .await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "error", "Anthropic's error shape: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(CLIENT_EMAIL)),
        "{body}"
    );

    let key_body = oauth
        .private_key_pem()
        .lines()
        .nth(1)
        .expect("a line of the key")
        .to_owned();
    for log in [
        gateway.log_after_exit().await,
        failing.log_after_exit().await,
    ] {
        assert!(!log.is_empty(), "the gateway logged");
        assert!(!log.contains("ya29.sa-"), "no token in the logs");
        assert!(!log.contains(&key_body), "no private key in the logs");
    }
    assert!(!message.contains(&key_body));
}
