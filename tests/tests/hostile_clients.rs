//! End to end through a real gateway process: hostile clients found by a red team.
//! Encoded bodies get 415 without being decoded; `/v1/models` lists only what the caller may
//! call; and client strings echoed in errors are cut short. After each, the gateway's open connections, runtime tasks and calls in flight
//! are back to their baseline.

use serde_json::{Value, json};
use switchyard_e2e::gauges::{self, Gauges};
use switchyard_e2e::{Gateway, MASTER_KEY, assert_openai_error, error_of};

/// Models `a` and `b` (the mock), the master key, keys in the default SQLite file.
fn config() -> String {
    format!(
        "model_list:
  - model_name: a
    litellm_params: {{model: mock/echo}}
  - model_name: b
    litellm_params: {{model: mock/echo}}
general_settings:
  master_key: {MASTER_KEY}
"
    )
}

struct Setup {
    gateway: Gateway,
    baseline: Gauges,
}

impl Setup {
    async fn start() -> Self {
        let mut gateway = Gateway::spawn(&config(), &[]).await;
        // Every call on a connection of its own, closed after it, so none is left open to
        // count against the baseline.
        gateway.client = gauges::unpooled_client();
        let warm = gateway
            .client
            .post(format!("{}/v1/chat/completions", gateway.base))
            .bearer_auth(MASTER_KEY)
            .json(&ask("a"))
            .send()
            .await
            .expect("answer");
        assert_eq!(warm.status(), 200);
        warm.text().await.expect("body");
        let baseline = gauges::baseline(&gateway).await;
        Self { gateway, baseline }
    }

    async fn back_to_baseline(&self, after: &str) {
        gauges::back_to_baseline(&self.gateway, &self.baseline, after).await;
    }
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// Checks Anthropic's error shape, `{"type": "error", "error": {"type", "message"}}`.
fn assert_anthropic_error(body: &Value, kind: &str) {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body.get("code").is_none(), "{body}");
}

#[tokio::test]
async fn encoded_bodies_are_refused_with_415_without_being_decoded() {
    let setup = Setup::start().await;
    let post = async |path: &str, encoding: &str, body: Vec<u8>| {
        setup
            .gateway
            .client
            .post(format!("{}{path}", setup.gateway.base))
            .bearer_auth(MASTER_KEY)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .await
            .expect("an answer")
    };
    // The first bytes of a gzip stream, then garbage: nothing may try to inflate it.
    let gzip = vec![0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff];
    for (path, encoding) in [
        ("/v1/chat/completions", "gzip"),
        ("/v1/chat/completions", "br"),
        ("/v1/chat/completions", "identity, gzip"),
        ("/v1/embeddings", "deflate"),
        ("/v1/messages", "gzip"),
        ("/key/generate", "zstd"),
    ] {
        let response = post(path, encoding, gzip.clone()).await;
        let status = response.status();
        assert_eq!(
            response
                .headers()
                .get("accept-encoding")
                .map(|v| v.as_bytes()),
            Some(&b"identity"[..]),
            "{path} {encoding}"
        );
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 415, "{path} {encoding}: {body}");
        if path == "/v1/messages" {
            assert_anthropic_error(&body, "invalid_request_error");
        } else {
            assert_openai_error(&body, "unsupported_content_encoding");
        }
    }
    // `identity` is no encoding at all.
    let response = post(
        "/v1/chat/completions",
        "identity",
        ask("a").to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.expect("body");
    setup.back_to_baseline("encoded bodies").await;
}

/// The model ids `GET path` lists for `key`.
async fn listed(gateway: &Gateway, path: &str, key: &str) -> Vec<String> {
    let response = gateway.get(path, Some(key)).await;
    assert_eq!(response.status(), 200, "{path}");
    let list: Value = response.json().await.expect("JSON");
    let mut ids: Vec<String> = list["data"]
        .as_array()
        .expect("a data list")
        .iter()
        .map(|m| m["id"].as_str().expect("an id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// A new virtual key's secret.
async fn new_key(gateway: &Gateway, body: &Value) -> String {
    let created = gateway.admin_post("/key/generate", body).await;
    created["key"].as_str().expect("the secret").to_owned()
}

#[tokio::test]
async fn v1_models_lists_only_what_the_caller_may_call() {
    let setup = Setup::start().await;
    let gateway = &setup.gateway;
    let only_a = new_key(gateway, &json!({"models": ["a"]})).await;
    gateway
        .admin_post("/team/new", &json!({"team_id": "bees", "models": ["b"]}))
        .await;
    let team_key = new_key(gateway, &json!({"team_id": "bees"})).await;
    let any = new_key(gateway, &json!({})).await;
    let all = ["a", "b"];
    for path in ["/v1/models", "/models"] {
        assert_eq!(listed(gateway, path, &only_a).await, ["a"], "{path}");
        assert_eq!(listed(gateway, path, &team_key).await, ["b"], "{path}");
        assert_eq!(listed(gateway, path, &any).await, all, "{path}");
        assert_eq!(listed(gateway, path, MASTER_KEY).await, all, "{path}");
    }
    setup.back_to_baseline("listing models").await;
}

#[tokio::test]
async fn client_strings_echoed_in_errors_are_cut_short() {
    let setup = Setup::start().await;
    let gateway = &setup.gateway;
    let long = "m".repeat(1024 * 1024);
    // Cut to 64 characters (the path's `/` is one of them), then an ellipsis.
    let assert_cut = |message: &str, what: &str| {
        assert!(
            message.contains(&format!("{}…", "m".repeat(63))),
            "{what}: {message:.300}"
        );
        assert!(!message.contains(&"m".repeat(65)), "{what}: {message:.300}");
        assert!(message.len() < 512, "{what}: {} bytes", message.len());
    };

    // Unknown to the gateway: 404, in both ingress shapes.
    let (status, code, body) = error_of(
        gateway
            .post("/v1/chat/completions", &ask(&long), Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "model_not_found"));
    assert_cut(body["error"]["message"].as_str().unwrap_or_default(), "404");
    let messages = json!({"model": long, "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    let response = gateway
        .post("/v1/messages", &messages, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("JSON");
    assert_anthropic_error(&body, "not_found_error");
    assert_cut(
        body["error"]["message"].as_str().unwrap_or_default(),
        "404 on /v1/messages",
    );

    // Not allowed for the key: 403.
    let only_a = new_key(gateway, &json!({"models": ["a"]})).await;
    let (status, code, body) = error_of(
        gateway
            .post(
                "/v1/embeddings",
                &json!({"model": long, "input": "x"}),
                Some(&only_a),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "model_not_allowed"));
    assert_cut(body["error"]["message"].as_str().unwrap_or_default(), "403");

    // No such route: the path is echoed cut too.
    let path = format!("/{}", "m".repeat(16 * 1024));
    let (status, code, body) = error_of(gateway.get(&path, Some(MASTER_KEY)).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    assert_cut(
        body["error"]["message"].as_str().unwrap_or_default(),
        "no route",
    );

    // A string in a body that does not parse, as serde quotes it.
    let (status, _, body) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "a", "messages": long}),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_cut(body["error"]["message"].as_str().unwrap_or_default(), "400");
    setup.back_to_baseline("long client strings").await;
}
