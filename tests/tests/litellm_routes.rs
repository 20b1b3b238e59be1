//! End to end through a real gateway process: the routes LiteLLM serves besides chat and
//! embeddings, each answering in its documented shape through a fake upstream and each holding
//! a key's model allow-list (403), its budget (422 `budget_exceeded`, LiteLLM's status) and leaving a spend record,
//! as chat completions do.
//!
//! Shapes: OpenAI's API reference (<https://platform.openai.com/docs/api-reference/completions>)
//! and LiteLLM's proxy documentation, cited at each test.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::fake_anthropic::{ANTHROPIC_KEY, FakeAnthropic};
use switchyard_e2e::shared_state::{admin_get, eventually, new_key};
use switchyard_e2e::{
    FakeUpstream, Gateway, MASTER_KEY, UPSTREAM_KEY, closed_port, cost_of, error_of, sse_data,
};

/// US dollars per prompt and per completion token of every deployment here: the fake upstream
/// reports 10 and 5 tokens, so a call through it costs $0.019.
const INPUT_PRICE: f64 = 0.001;
const OUTPUT_PRICE: f64 = 0.0018;
const CALL_COST: f64 = 10.0 * INPUT_PRICE + 5.0 * OUTPUT_PRICE;

/// A model group `name` on the fake OpenAI-compatible upstream (upstream model `upstream`),
/// priced, with deployment id `{name}-1`.
fn upstream_group(name: &str, upstream: &str, api_base: &str) -> String {
    format!(
        "  - model_name: {name}\n    litellm_params: {{model: openai/{upstream}, api_base: '{api_base}', api_key: os.environ/UPSTREAM_KEY, input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}}}\n    model_info: {{id: {name}-1}}\n"
    )
}

/// A gateway with `instruct`, `other` and `vendor/instruct` on the fake upstream, `mocked` on
/// the mock provider and `claude` on a fake Anthropic API.
async fn setup() -> (FakeUpstream, FakeAnthropic, Gateway) {
    let upstream = FakeUpstream::start().await;
    let anthropic = FakeAnthropic::start().await;
    let api = &upstream.api_base;
    let config = format!(
        "model_list:\n{}{}{}  - model_name: mocked\n    litellm_params: {{model: mock/echo, input_cost_per_token: {INPUT_PRICE}, output_cost_per_token: {OUTPUT_PRICE}}}\n    model_info: {{id: mocked-1}}\n  - model_name: claude\n    litellm_params: {{model: anthropic/claude-text, api_base: '{}', api_key: {ANTHROPIC_KEY}}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        upstream_group("instruct", "upstream-instruct", api),
        upstream_group("other", "upstream-other", api),
        upstream_group("vendor/instruct", "upstream-vendor", api),
        anthropic.api_base,
    );
    let gateway = Gateway::spawn(&config, &[("UPSTREAM_KEY", UPSTREAM_KEY)]).await;
    (upstream, anthropic, gateway)
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks one documented `text_completion` choice.
fn assert_choice(choice: &Value, text: &str, index: u64) {
    assert_eq!(choice["text"], text, "{choice}");
    assert_eq!(choice["index"], index, "{choice}");
    assert!(choice.get("logprobs").is_some(), "logprobs key: {choice}");
    assert!(
        choice.get("finish_reason").is_some(),
        "finish_reason: {choice}"
    );
}

/// The spend records of answered calls (`status: success`) of key `id`, once there are `count`.
async fn spend_records(gateway: &Gateway, id: &str, count: usize) -> Vec<Value> {
    let path = format!("/spend/logs?key_id={id}");
    eventually(
        Duration::from_secs(15),
        &format!("{count} spend records"),
        || async {
            let answer = admin_get(gateway, &path).await;
            let records: Vec<Value> = answer
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["status"] == "success")
                .cloned()
                .collect();
            (records.len() >= count).then_some(records)
        },
    )
    .await
}

/// Checks that a key limited to `instruct` with a budget of half a call is refused `other`
/// (403), is answered once on `instruct` and charged `cost` for it (spend record), then refused
/// over its budget: `call(key, model)` sends the route's request.
async fn assert_key_checks_hold<F, Fut>(
    gateway: &Gateway,
    upstream: &FakeUpstream,
    cost: f64,
    call: F,
) where
    F: Fn(String, &'static str) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let (key, id) = new_key(
        gateway,
        &json!({"models": ["instruct"], "max_budget": cost / 2.0}),
    )
    .await;
    let before = upstream.received().len();

    let (status, code, _) = error_of(call(key.clone(), "other").await).await;
    assert_eq!((status, code.as_str()), (403, "model_not_allowed"));
    assert_eq!(
        upstream.received().len(),
        before,
        "a forbidden model reached the upstream"
    );

    let answered = call(key.clone(), "instruct").await;
    assert_eq!(answered.status(), 200);
    let _ = answered.bytes().await;
    let records = spend_records(gateway, &id, 1).await;
    let record = &records[0];
    assert_eq!(record["model_group"], "instruct", "{record}");
    assert!(
        (record["spend"].as_f64().expect("cost") - cost).abs() < 1e-9,
        "{record}"
    );

    let (status, code, body) = error_of(call(key, "instruct").await).await;
    assert_eq!((status, code.as_str()), (422, "budget_exceeded"), "{body}");
    assert_eq!(
        upstream.received().len(),
        before + 1,
        "only the call within the budget reached the upstream"
    );
}

// https://platform.openai.com/docs/api-reference/completions/create
#[tokio::test]
async fn text_completions_reach_an_openai_compatible_upstream_as_sent() {
    let (upstream, _anthropic, gateway) = setup().await;
    for path in ["/v1/completions", "/completions"] {
        let response = gateway
            .post(
                path,
                &json!({"model": "instruct", "prompt": ["Say", "this"], "max_tokens": 7,
                        "logit_bias": {"50256": -100}, "echo": true, "logprobs": 1}),
                Some(MASTER_KEY),
            )
            .await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "x-switchyard-deployment"),
            Some("instruct-1")
        );
        assert!((cost_of(&response) - CALL_COST).abs() < 1e-9);
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(answer["object"], "text_completion", "{answer}");
        assert_eq!(answer["model"], "upstream-instruct");
        assert!(
            answer["id"].is_string() && answer["created"].is_u64(),
            "{answer}"
        );
        assert_choice(&answer["choices"][0], "upstream completes: Say", 0);
        assert_choice(&answer["choices"][1], "upstream completes: this", 1);
        assert_eq!(answer["choices"][0]["finish_reason"], "stop");
        assert_eq!(answer["usage"]["total_tokens"], 15, "{answer}");

        let sent = upstream.received().pop().expect("the upstream was called");
        assert_eq!(sent.path, "/v1/completions");
        assert_eq!(
            sent.authorization.as_deref(),
            Some(format!("Bearer {UPSTREAM_KEY}").as_str())
        );
        assert_eq!(sent.body["model"], "upstream-instruct");
        assert_eq!(
            sent.body["prompt"],
            json!(["Say", "this"]),
            "the prompt as sent"
        );
        for field in ["max_tokens", "logit_bias", "echo", "logprobs"] {
            assert!(
                sent.body.get(field).is_some(),
                "{field} forwarded: {}",
                sent.body
            );
        }
        assert!(sent.body.get("messages").is_none(), "{}", sent.body);
    }
}

// Stream events: `text_completion` objects, then `data: [DONE]`
// (https://platform.openai.com/docs/api-reference/completions/create#completions-create-stream).
#[tokio::test]
async fn streamed_text_completions_arrive_as_text_completion_chunks() {
    let (upstream, _anthropic, gateway) = setup().await;
    for include_usage in [false, true] {
        let response = gateway
            .post(
                "/v1/completions",
                &json!({"model": "instruct", "prompt": "Say", "stream": true,
                        "stream_options": {"include_usage": include_usage}}),
                Some(MASTER_KEY),
            )
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
        let body = response.text().await.expect("body");
        let events = sse_data(&body);
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).expect("a JSON chunk"))
            .collect();
        let text: String = chunks
            .iter()
            .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
            .map(|c| c["text"].as_str().expect("text").to_owned())
            .collect();
        assert_eq!(text, "upstream completes: Say");
        assert!(
            chunks.iter().all(|c| c["object"] == "text_completion"),
            "{body}"
        );
        let usage_chunks = chunks.iter().filter(|c| c.get("usage").is_some()).count();
        assert_eq!(usage_chunks, usize::from(include_usage), "{body}");
        let sent = upstream.received().pop().expect("called");
        assert_eq!(
            (sent.path.as_str(), &sent.body["stream"]),
            ("/v1/completions", &json!(true))
        );
    }
}

// LiteLLM answers text completions on providers without a completions API through chat
// (https://docs.litellm.ai/docs/text_completion).
#[tokio::test]
async fn providers_without_a_completions_api_answer_through_chat() {
    let (_upstream, anthropic, gateway) = setup().await;
    let answer: Value = gateway
        .post(
            "/v1/completions",
            &json!({"model": "mocked", "prompt": "echo me", "echo": true}),
            Some(MASTER_KEY),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["object"], "text_completion", "{answer}");
    assert_choice(&answer["choices"][0], "echo meecho me", 0);

    let streamed = gateway
        .post(
            "/v1/completions",
            &json!({"model": "mocked", "prompt": "one two", "stream": true}),
            Some(MASTER_KEY),
        )
        .await
        .text()
        .await
        .expect("body");
    let events = sse_data(&streamed);
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).expect("chunk"))
        .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
        .map(|c| c["text"].as_str().expect("text").to_owned())
        .collect();
    assert_eq!(text, "one two", "{streamed}");

    let answer: Value = gateway
        .post(
            "/v1/completions",
            &json!({"model": "claude", "prompt": "Hello", "max_tokens": 20}),
            Some(MASTER_KEY),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_choice(&answer["choices"][0], "Hi! My name is Claude.", 0);
    let sent = anthropic.received().pop().expect("Anthropic was called");
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "user", "content": "Hello"}]),
        "{}",
        sent.body
    );

    // What only a completions API can do is refused, not dropped.
    let (status, code, _) = error_of(
        gateway
            .post(
                "/v1/completions",
                &json!({"model": "claude", "prompt": [1, 2, 3]}),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "upstream_bad_request"));
}

#[tokio::test]
async fn text_completions_hold_allow_lists_and_budgets_and_leave_spend_records() {
    let (upstream, _anthropic, gateway) = setup().await;
    let malformed = gateway
        .post(
            "/v1/completions",
            &json!({"model": "instruct"}),
            Some(MASTER_KEY),
        )
        .await;
    let (status, code, _) = error_of(malformed).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    for stream in [false, true] {
        assert_key_checks_hold(&gateway, &upstream, CALL_COST, |key, model| {
            let gateway = &gateway;
            async move {
                gateway
                    .post(
                        "/v1/completions",
                        &json!({"model": model, "prompt": "hi", "stream": stream}),
                        Some(&key),
                    )
                    .await
            }
        })
        .await;
    }
}

/// `POST {path}` of `body` with the key in Azure's `api-key` header and an `api-version` query,
/// as the Azure OpenAI SDKs send them.
async fn azure_post(gateway: &Gateway, path: &str, body: &Value, key: &str) -> reqwest::Response {
    gateway
        .client
        .post(format!("{}{path}?api-version=2024-10-21", gateway.base))
        .header("api-key", key)
        .json(body)
        .send()
        .await
        .expect("gateway answers")
}

// LiteLLM serves Azure's routes and takes their model from the path
// (https://docs.litellm.ai/docs/providers/azure, "Azure OpenAI SDK" against the proxy).
#[tokio::test]
async fn azure_routes_take_the_model_from_the_path_and_the_key_from_api_key() {
    let (upstream, _anthropic, gateway) = setup().await;
    let chat = json!({"messages": [{"role": "user", "content": "hi"}]});
    for body in [
        chat.clone(),
        json!({"model": "other", "messages": chat["messages"]}),
    ] {
        let response = azure_post(
            &gateway,
            "/openai/deployments/instruct/chat/completions",
            &body,
            MASTER_KEY,
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "x-switchyard-deployment"),
            Some("instruct-1")
        );
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(answer["object"], "chat.completion", "{answer}");
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            "upstream says: hi"
        );
        let sent = upstream.received().pop().expect("called");
        assert_eq!(
            (sent.path.as_str(), &sent.body["model"]),
            ("/v1/chat/completions", &json!("upstream-instruct"))
        );
    }
    let answer: Value = azure_post(
        &gateway,
        "/openai/deployments/instruct/embeddings",
        &json!({"input": ["a", "b"]}),
        MASTER_KEY,
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(answer["object"], "list", "{answer}");
    assert_eq!(answer["data"].as_array().map(Vec::len), Some(2));
    let answer: Value = azure_post(
        &gateway,
        "/openai/deployments/instruct/completions",
        &json!({"prompt": "Say"}),
        MASTER_KEY,
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_choice(&answer["choices"][0], "upstream completes: Say", 0);

    let (status, code, _) = error_of(
        gateway
            .post("/openai/deployments/instruct/chat/completions", &chat, None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "invalid_api_key"));
    let (status, code, _) = error_of(
        azure_post(
            &gateway,
            "/openai/deployments/instruct/chat/completions",
            &chat,
            "sk-nope",
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "invalid_api_key"));

    // The fake upstream reports 4 prompt tokens for embeddings.
    for (route, cost) in [
        ("chat/completions", CALL_COST),
        ("embeddings", 4.0 * INPUT_PRICE),
    ] {
        assert_key_checks_hold(&gateway, &upstream, cost, |key, model| {
            let gateway = &gateway;
            async move {
                let body = json!({"messages": [{"role": "user", "content": "hi"}], "input": "hi"});
                azure_post(
                    gateway,
                    &format!("/openai/deployments/{model}/{route}"),
                    &body,
                    &key,
                )
                .await
            }
        })
        .await;
    }
}

// https://platform.openai.com/docs/api-reference/models/retrieve
#[tokio::test]
async fn one_model_is_served_to_keys_that_may_call_it() {
    let (_upstream, _anthropic, gateway) = setup().await;
    for (path, id) in [
        ("/v1/models/instruct", "instruct"),
        ("/models/instruct", "instruct"),
        ("/v1/models/vendor/instruct", "vendor/instruct"),
    ] {
        let response = gateway.get(path, Some(MASTER_KEY)).await;
        assert_eq!(response.status(), 200, "{path}");
        let model: Value = response.json().await.expect("JSON");
        assert_eq!(model["id"], id, "{model}");
        assert_eq!(model["object"], "model");
        assert!(
            model["created"].is_u64() && model["owned_by"].is_string(),
            "{model}"
        );
    }
    let (key, _) = new_key(&gateway, &json!({"models": ["instruct"]})).await;
    assert_eq!(
        gateway
            .get("/v1/models/instruct", Some(&key))
            .await
            .status(),
        200
    );
    for path in [
        "/v1/models/other",
        "/v1/models/vendor/instruct",
        "/v1/models/nowhere",
    ] {
        let (status, code, _) = error_of(gateway.get(path, Some(&key)).await).await;
        assert_eq!((status, code.as_str()), (404, "model_not_found"), "{path}");
    }
    let (status, code, _) = error_of(gateway.get("/v1/models/instruct", None).await).await;
    assert_eq!((status, code.as_str()), (401, "invalid_api_key"));
}

// LiteLLM's API reference, "Model Group Info" (`GET /model_group/info`) and `GET /v2/model/info`.
#[tokio::test]
async fn model_group_info_and_v2_model_info_show_what_a_key_may_call() {
    let (upstream, _anthropic, gateway) = setup().await;
    let all = admin_get(&gateway, "/model_group/info").await;
    let names: Vec<&str> = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|g| g["model_group"].as_str().expect("model_group"))
        .collect();
    for name in ["instruct", "other", "vendor/instruct", "mocked", "claude"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let one = admin_get(&gateway, "/model_group/info?model_group=instruct").await;
    let group = &one["data"][0];
    assert_eq!(one["data"].as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(group["providers"], json!(["openai"]), "{group}");
    assert_eq!(group["input_cost_per_token"], INPUT_PRICE);
    assert_eq!(group["output_cost_per_token"], OUTPUT_PRICE);
    for field in [
        "max_input_tokens",
        "max_output_tokens",
        "mode",
        "tpm",
        "rpm",
    ] {
        assert!(group.get(field).is_some(), "{field}: {group}");
    }
    assert_eq!(group["supports_function_calling"], true);
    let params = group["supported_openai_params"].as_array().expect("params");
    assert!(params.contains(&json!("temperature")), "{group}");

    let (key, _) = new_key(&gateway, &json!({"models": ["instruct"]})).await;
    let scoped: Value = gateway
        .get("/model_group/info", Some(&key))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        scoped["data"]
            .as_array()
            .map(|d| d.iter().map(|g| g["model_group"].clone()).collect()),
        Some(vec![json!("instruct")]),
        "{scoped}"
    );
    let (status, code, _) = error_of(
        gateway
            .get("/model_group/info?model_group=other", Some(&key))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "model_not_found"));

    let response = gateway.get("/v2/model/info", Some(&key)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(
        !text.contains(&upstream.api_base) && !text.contains(UPSTREAM_KEY),
        "no upstream URL or key: {text}"
    );
    let info: Value = serde_json::from_str(&text).expect("JSON");
    let entries = info["data"].as_array().expect("data");
    assert_eq!(entries.len(), 1, "{info}");
    assert_eq!(entries[0]["model_name"], "instruct");
    assert_eq!(
        entries[0]["litellm_params"]["model"],
        "openai/upstream-instruct"
    );
    assert_eq!(entries[0]["model_info"]["id"], "instruct-1");
    assert_eq!(
        entries[0]["model_info"]["input_cost_per_token"],
        INPUT_PRICE
    );
    let all = admin_get(&gateway, "/v2/model/info").await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(5), "{all}");
    let (status, _, _) = error_of(gateway.get("/v2/model/info", None).await).await;
    assert_eq!(status, 401);
}

// LiteLLM's `/health` (https://docs.litellm.ai/docs/proxy/health): each deployment called
// once, `healthy_endpoints` / `unhealthy_endpoints` with their counts, master key only.
#[tokio::test]
async fn health_calls_each_deployment_within_its_deadline_and_shows_no_secret() {
    let upstream = FakeUpstream::start().await;
    let api = &upstream.api_base;
    let config = format!(
        "model_list:\n{}{}  - model_name: hang\n    litellm_params: {{model: openai/hang, api_base: '{api}', api_key: os.environ/UPSTREAM_KEY, timeout: 0.5}}\n  - model_name: unreachable\n    litellm_params: {{model: openai/x, api_base: 'http://127.0.0.1:{}/v1', api_key: os.environ/UPSTREAM_KEY}}\n  - model_name: mocked\n    litellm_params: {{model: mock/echo}}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        upstream_group("instruct", "upstream-instruct", api),
        upstream_group("broken", "broken", api),
        closed_port().await,
    );
    let gateway = Gateway::spawn(&config, &[("UPSTREAM_KEY", UPSTREAM_KEY)]).await;
    let started = std::time::Instant::now();
    let response = gateway.get("/health", Some(MASTER_KEY)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the hung deployment held the check for {:?}",
        started.elapsed()
    );
    assert!(
        !text.contains(UPSTREAM_KEY) && !text.contains(api.as_str()),
        "no key or upstream URL: {text}"
    );
    let health: Value = serde_json::from_str(&text).expect("JSON");
    let names = |list: &str| -> Vec<String> {
        let mut names: Vec<String> = health[list]
            .as_array()
            .expect(list)
            .iter()
            .map(|e| e["model_name"].as_str().expect("model_name").to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names("healthy_endpoints"),
        ["instruct", "mocked"],
        "{health}"
    );
    assert_eq!(
        names("unhealthy_endpoints"),
        ["broken", "hang", "unreachable"],
        "{health}"
    );
    assert_eq!(
        (
            health["healthy_count"].as_u64(),
            health["unhealthy_count"].as_u64()
        ),
        (Some(2), Some(3))
    );
    assert!(
        health["unhealthy_endpoints"]
            .as_array()
            .expect("list")
            .iter()
            .all(|e| e["error"].is_string()),
        "{health}"
    );
    let healthy = &health["healthy_endpoints"];
    assert!(
        healthy
            .as_array()
            .expect("list")
            .iter()
            .any(|e| e["model"] == "openai/upstream-instruct"),
        "{health}"
    );

    let one: Value = admin_get(&gateway, "/health?model=instruct").await;
    assert_eq!(
        (
            one["healthy_count"].as_u64(),
            one["unhealthy_count"].as_u64()
        ),
        (Some(1), Some(0))
    );

    let (key, _) = new_key(&gateway, &json!({})).await;
    // A key of no proxy admin is refused as LiteLLM refuses admin routes.
    let (status, code, _) = error_of(gateway.get("/health", Some(&key)).await).await;
    assert_eq!((status, code.as_str()), (401, "admin_only"));
    let (status, _, _) = error_of(gateway.get("/health", None).await).await;
    assert_eq!(status, 401);
}

/// A request body of each kind answered whole, for `model`.
fn whole_request(path: &str, model: &str) -> Value {
    match path {
        "/v1/moderations" => json!({"model": model, "input": "hi"}),
        "/v1/images/generations" => json!({"model": model, "prompt": "a cat", "n": 2}),
        _ => json!({"model": model, "query": "cat", "documents": ["a dog", "a cat"], "top_n": 1}),
    }
}

// Moderations (https://platform.openai.com/docs/api-reference/moderations), image generation
// (https://platform.openai.com/docs/api-reference/images/create) and rerank
// (https://docs.litellm.ai/docs/rerank): passed to the upstream, refused with a 400 on a
// provider without the API, answered by the mock, and each under the key's checks.
#[tokio::test]
async fn moderations_images_and_rerank_pass_through_and_hold_the_key_checks() {
    let (upstream, anthropic, gateway) = setup().await;
    for (path, upstream_path) in [
        ("/v1/moderations", "/v1/moderations"),
        ("/moderations", "/v1/moderations"),
        ("/v1/images/generations", "/v1/images/generations"),
        ("/images/generations", "/v1/images/generations"),
        ("/v1/rerank", "/v1/rerank"),
        ("/rerank", "/v1/rerank"),
        ("/v2/rerank", "/v1/rerank"),
    ] {
        let body = whole_request(upstream_path, "instruct");
        let response = gateway.post(path, &body, Some(MASTER_KEY)).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "x-switchyard-deployment"),
            Some("instruct-1")
        );
        assert!(header(&response, "x-switchyard-request-id").is_some());
        let answer: Value = response.json().await.expect("JSON");
        match upstream_path {
            "/v1/moderations" => {
                assert_eq!(answer["results"][0]["flagged"], true, "{answer}");
                assert!(answer["id"].is_string() && answer["model"].is_string());
            }
            "/v1/images/generations" => {
                assert_eq!(answer["data"].as_array().map(Vec::len), Some(2), "{answer}");
                assert!(answer["created"].is_u64() && answer["data"][0]["url"].is_string());
            }
            _ => {
                assert_eq!(answer["results"][0]["index"], 1, "{answer}");
                assert!(answer["results"][0]["relevance_score"].is_f64(), "{answer}");
                assert_eq!(answer["results"].as_array().map(Vec::len), Some(1));
            }
        }
        let sent = upstream.received().pop().expect("called");
        assert_eq!(sent.path, upstream_path);
        assert_eq!(sent.body["model"], "upstream-instruct");

        // A provider without the API: a clear 400, nothing sent to it.
        let before = anthropic.received().len();
        let (status, code, body) = error_of(
            gateway
                .post(
                    path,
                    &whole_request(upstream_path, "claude"),
                    Some(MASTER_KEY),
                )
                .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (400, "upstream_bad_request"),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("anthropic"))
        );
        assert_eq!(anthropic.received().len(), before);

        // The mock answers each, so the embedded default shows the route.
        let mocked = gateway
            .post(
                path,
                &whole_request(upstream_path, "mocked"),
                Some(MASTER_KEY),
            )
            .await;
        assert_eq!(mocked.status(), 200, "{path}");
    }
    // Moderations report no usage: their input is charged at the estimate (1 token of "hi").
    for (path, cost) in [
        ("/v1/moderations", INPUT_PRICE),
        ("/v1/images/generations", CALL_COST),
        ("/v1/rerank", 10.0 * INPUT_PRICE),
    ] {
        assert_key_checks_hold(&gateway, &upstream, cost, |key, model| {
            let gateway = &gateway;
            async move {
                gateway
                    .post(path, &whole_request(path, model), Some(&key))
                    .await
            }
        })
        .await;
    }
}

/// A transcription upload of `model`: a small WAV-named file and a `language` field.
fn upload(model: &str) -> reqwest::multipart::Form {
    let file = reqwest::multipart::Part::bytes(b"RIFF fake wav".to_vec())
        .file_name("hello.wav")
        .mime_str("audio/wav")
        .expect("a media type");
    reqwest::multipart::Form::new()
        .text("model", model.to_owned())
        .text("language", "en")
        .part("file", file)
}

async fn transcribe(
    gateway: &Gateway,
    form: reqwest::multipart::Form,
    key: &str,
) -> reqwest::Response {
    gateway
        .client
        .post(format!("{}/v1/audio/transcriptions", gateway.base))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .expect("gateway answers")
}

// Speech and transcriptions (https://platform.openai.com/docs/api-reference/audio).
#[tokio::test]
async fn speech_streams_audio_back_and_transcriptions_forward_the_upload() {
    let (upstream, _anthropic, gateway) = setup().await;
    let speak = |model: &'static str| json!({"model": model, "input": "hi", "voice": "alloy"});
    for path in ["/v1/audio/speech", "/audio/speech"] {
        let response = gateway
            .post(path, &speak("instruct"), Some(MASTER_KEY))
            .await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), Some("audio/mpeg"));
        assert_eq!(
            header(&response, "x-switchyard-deployment"),
            Some("instruct-1")
        );
        let audio = response.bytes().await.expect("audio");
        assert_eq!(&audio[..], switchyard_e2e::FAKE_AUDIO);
        let sent = upstream.received().pop().expect("called");
        assert_eq!(
            (sent.path.as_str(), &sent.body["voice"]),
            ("/v1/audio/speech", &json!("alloy"))
        );
        assert_eq!(sent.body["model"], "upstream-instruct");
    }
    let mocked = gateway
        .post("/v1/audio/speech", &speak("mocked"), Some(MASTER_KEY))
        .await;
    assert_eq!(header(&mocked, "content-type"), Some("audio/wav"));
    assert!(mocked.bytes().await.expect("audio").starts_with(b"RIFF"));
    let (status, code, _) = error_of(
        gateway
            .post("/v1/audio/speech", &speak("claude"), Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "upstream_bad_request"));

    let response = transcribe(&gateway, upload("instruct"), MASTER_KEY).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(
        answer["text"], "upstream heard hello.wav (13 bytes)",
        "{answer}"
    );
    let sent = upstream.received().pop().expect("called");
    assert_eq!(sent.path, "/v1/audio/transcriptions");
    assert_eq!(
        sent.body["fields"]["model"], "upstream-instruct",
        "{}",
        sent.body
    );
    assert_eq!(sent.body["fields"]["language"], "en");
    assert_eq!(sent.body["file"]["content_type"], "audio/wav");
    assert_eq!(sent.body["file"]["bytes"], "RIFF fake wav");

    let text = transcribe(
        &gateway,
        upload("mocked").text("response_format", "text"),
        MASTER_KEY,
    )
    .await
    .text()
    .await
    .expect("text");
    assert_eq!(text, "mock transcription of hello.wav (13 bytes)");
    for form in [
        reqwest::multipart::Form::new().text("model", "instruct"),
        upload("instruct").text("api_base", "http://169.254.169.254/"),
    ] {
        let (status, code, _) = error_of(transcribe(&gateway, form, MASTER_KEY).await).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"));
    }

    // Speech reports no usage: "hi" is charged as 1 estimated token; transcriptions report
    // 10 and 5.
    assert_key_checks_hold(&gateway, &upstream, INPUT_PRICE, |key, model| {
        let gateway = &gateway;
        async move {
            gateway
                .post(
                    "/v1/audio/speech",
                    &json!({"model": model, "input": "hi"}),
                    Some(&key),
                )
                .await
        }
    })
    .await;
    assert_key_checks_hold(&gateway, &upstream, CALL_COST, |key, model| {
        let gateway = &gateway;
        async move { transcribe(gateway, upload(model), &key).await }
    })
    .await;
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

// LiteLLM's batch completions: a comma-separated `model` answers a list, one completion per
// model ("Batch Completions - pass model as List", proxy docs), or with `fastest_response` the
// first answer alone (https://docs.litellm.ai/docs/completion/batching).
#[tokio::test]
async fn a_comma_separated_model_answers_each_model_under_the_keys_checks() {
    let (upstream, _anthropic, gateway) = setup().await;
    let answers: Value = gateway
        .post(
            "/v1/chat/completions",
            &ask("instruct, other,nowhere"),
            Some(MASTER_KEY),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let items = answers.as_array().expect("a list");
    assert_eq!(items.len(), 3, "{answers}");
    assert_eq!(items[0]["object"], "chat.completion");
    assert_eq!(items[0]["model"], "upstream-instruct");
    assert_eq!(items[1]["model"], "upstream-other");
    assert_eq!(items[2]["error"]["code"], "model_not_found", "{answers}");

    let fastest: Value = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "instruct,mocked", "fastest_response": true,
                    "messages": [{"role": "user", "content": "hi"}]}),
            Some(MASTER_KEY),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(fastest["object"], "chat.completion", "{fastest}");
    let streamed = gateway
        .post(
            "/v1/chat/completions",
            &json!({"model": "mocked,instruct", "fastest_response": true, "stream": true,
                    "messages": [{"role": "user", "content": "hi"}]}),
            Some(MASTER_KEY),
        )
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(
        sse_data(&streamed).last().map(String::as_str),
        Some("[DONE]"),
        "{streamed}"
    );
    let (status, _, _) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &json!({"model": "instruct,other", "stream": true,
                        "messages": [{"role": "user", "content": "hi"}]}),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 400);

    // Every model must be allowed, or nothing is sent.
    let (key, _) = new_key(&gateway, &json!({"models": ["instruct"]})).await;
    let before = upstream.received().len();
    let (status, code, _) = error_of(
        gateway
            .post("/v1/chat/completions", &ask("instruct,other"), Some(&key))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "model_not_allowed"));
    assert_eq!(upstream.received().len(), before);

    // Each call reserves on the budget: within half a call's cost, one is answered at most.
    let (key, id) = new_key(
        &gateway,
        &json!({"models": ["instruct", "other"], "max_budget": CALL_COST / 2.0}),
    )
    .await;
    let answers: Value = gateway
        .post("/v1/chat/completions", &ask("instruct,other"), Some(&key))
        .await
        .json()
        .await
        .expect("JSON");
    let items = answers.as_array().expect("a list");
    let refused = items
        .iter()
        .filter(|i| i["error"]["code"] == "budget_exceeded")
        .count();
    assert_eq!((items.len(), refused), (2, 1), "{answers}");
    let records = spend_records(&gateway, &id, 1).await;
    assert!((records[0]["spend"].as_f64().expect("cost") - CALL_COST).abs() < 1e-9);
    let answers: Value = gateway
        .post("/v1/chat/completions", &ask("instruct,other"), Some(&key))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(
        answers
            .as_array()
            .expect("a list")
            .iter()
            .all(|i| i["error"]["code"] == "budget_exceeded"),
        "{answers}"
    );
}
