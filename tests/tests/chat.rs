//! End to end: plain chat completions, embeddings and the model list through a real gateway
//! socket to a fake OpenAI-compatible upstream.

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, UPSTREAM_KEY, error_of, standard_setup};

#[tokio::test]
async fn chat_reaches_the_upstream_with_its_model_key_and_unknown_fields() {
    let (upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}],
                    "temperature": 0.2, "custom_param": {"nested": [1, 2]}}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-deployment"],
        "gpt-4o-mini-deployment"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "upstream says: hello"
    );
    assert_eq!(body["usage"]["total_tokens"], 15);
    assert_eq!(
        body["service_tier"], "default",
        "unknown response fields pass through"
    );

    let sent = upstream.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["model"], "upstream-model");
    assert_eq!(sent[0].body["custom_param"], json!({"nested": [1, 2]}));
    assert_eq!(sent[0].body["temperature"], 0.2);
    assert!(sent[0].body.get("stream").is_none());
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
}

#[tokio::test]
async fn the_unversioned_alias_serves_chat_too() {
    let (_upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/chat/completions",
            &json!({"model": "mock-echo", "messages": [{"role": "user", "content": "ping"}]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "ping");
}

#[tokio::test]
async fn embeddings_pass_through_to_the_upstream() {
    let (upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": ["a", "b"]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    let sent = upstream.received();
    assert_eq!(sent[0].path, "/v1/embeddings");
    assert_eq!(sent[0].body["model"], "upstream-embed");
}

#[tokio::test]
async fn embeddings_take_at_most_2048_inputs_per_request() {
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n  - model_name: e\n    litellm_params: {{model: openai/upstream-embed, api_base: '{}'}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        upstream.api_base
    );
    let gateway = Gateway::spawn(&config, &[]).await;
    let embed = |count: usize| json!({"model": "e", "input": vec!["a"; count]});
    let response = gateway
        .post("/v1/embeddings", &embed(2048), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2048));
    // One more is refused while the body is read, and nothing goes upstream.
    let (status, code, body) = error_of(
        gateway
            .post("/v1/embeddings", &embed(2049), Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}");
    assert!(body.to_string().contains("2048"), "{body}");
    assert_eq!(upstream.received().len(), 1);
}

#[tokio::test]
async fn models_lists_every_group_and_needs_the_key() {
    let (_upstream, gateway) = standard_setup().await;
    assert_eq!(gateway.get("/v1/models", None).await.status(), 401);
    let body: Value = gateway
        .get("/v1/models", Some(MASTER_KEY))
        .await
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"gpt-4o-mini") && ids.contains(&"mock-echo"),
        "{ids:?}"
    );
    assert_eq!(body["object"], "list");
}

#[tokio::test]
async fn health_checks_need_no_key() {
    let (_upstream, gateway) = standard_setup().await;
    let live = gateway.get("/health/liveness", None).await;
    assert_eq!(live.status(), 200);
    let ready: Value = gateway
        .get("/health/readiness", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["models"], 10);
}

#[tokio::test]
async fn a_complete_answer_reports_its_cost_at_the_catalog_price() {
    let upstream = switchyard_e2e::FakeUpstream::start().await;
    let config = format!(
        "model_list:\n  - {{model_name: priced, litellm_params: {{model: openai/gpt-4o-mini, api_base: '{}'}}}}\n  - {{model_name: unpriced, litellm_params: {{model: openai/not-in-any-catalog, api_base: '{}'}}}}\n",
        upstream.api_base, upstream.api_base
    );
    let gateway = switchyard_e2e::Gateway::spawn(&config, &[]).await;
    let ask =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let priced = gateway
        .post("/v1/chat/completions", &ask("priced"), None)
        .await;
    assert_eq!(priced.status(), 200);
    // The fake upstream reports 10 prompt and 5 completion tokens; LiteLLM lists gpt-4o-mini at
    // $0.15 and $0.60 per million.
    let cost = switchyard_e2e::cost_of(&priced);
    assert!(
        (cost - (10.0 * 0.15e-6 + 5.0 * 0.6e-6)).abs() < 1e-12,
        "{cost}"
    );
    let unpriced = gateway
        .post("/v1/chat/completions", &ask("unpriced"), None)
        .await;
    assert_eq!(unpriced.status(), 200);
    assert!(unpriced.headers().get("x-switchyard-cost-usd").is_none());
}

// An application that appends the message `client.chat.completions.parse()` returned sends the
// SDK-only `parsed` (and the answer's `annotations`, `audio: null`) back; OpenAI's request
// messages define none of them (https://platform.openai.com/docs/api-reference/chat/create), so
// the upstream gets the message without them, streamed or not.
#[tokio::test]
async fn a_replayed_parsed_answer_reaches_the_upstream_without_sdk_only_fields() {
    let (upstream, gateway) = standard_setup().await;
    for stream in [false, true] {
        let response = gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "gpt-4o-mini", "stream": stream, "messages": [
                    {"role": "user", "content": "city?"},
                    {"role": "assistant", "content": "{\"city\":\"Paris\"}", "refusal": null,
                     "parsed": {"city": "Paris"}, "annotations": [], "audio": null, "tool_calls": []},
                    {"role": "user", "content": "and now?"}]}),
                Some(MASTER_KEY),
            )
            .await;
        assert_eq!(response.status(), 200, "stream {stream}");
        let _ = response.text().await;
    }
    for sent in upstream.received() {
        assert_eq!(
            sent.body["messages"][1],
            json!({"role": "assistant", "content": "{\"city\":\"Paris\"}", "refusal": null}),
            "{}",
            sent.body
        );
    }
    assert_eq!(upstream.received().len(), 2);
}
