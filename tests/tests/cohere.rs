//! End to end: LiteLLM's `cohere/` prefix (<https://docs.litellm.ai/docs/providers/cohere>,
//! <https://docs.litellm.ai/docs/rerank>) through the gateway to a fake Cohere API v2
//! (`FakeCohere`, replaying Cohere's documented answers): `/v1/chat/completions` translated to
//! `POST /v2/chat` whole, streamed and with tools, priced by the catalog; `/v1/rerank` sent to
//! `POST /v2/rerank`; `/v1/embeddings` to `POST /v2/embed`, priced by the catalog; Cohere's 429
//! answered as OpenAI's `rate_limit_error`.

use serde_json::{Value, json};
use switchyard_e2e::fake_cohere::FakeCohere;
use switchyard_e2e::{Gateway, MASTER_KEY, cost_of, error_of, sse_data};

async fn setup() -> (FakeCohere, Gateway) {
    let cohere = FakeCohere::start().await;
    let mut config = String::from("model_list:\n");
    for (name, model) in [
        ("command", "cohere/command-a-03-2025"),
        ("command-tools", "cohere/command-tools"),
        ("command-limited", "cohere/command-rate-limited"),
        ("rerank-english-v3.0", "cohere/rerank-english-v3.0"),
        ("embed", "cohere/embed-english-v3.0"),
    ] {
        config.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: {model}\n      api_base: {}\n      api_key: os.environ/COHERE_API_KEY\n",
            cohere.api_base
        ));
    }
    config.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    let gateway = Gateway::start(&config, &[("COHERE_API_KEY", "co-e2e-key")]).await;
    (cohere, gateway)
}

fn user(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream,
        "messages": [{"role": "user", "content": "What's the weather in Madrid and Brasilia?"}]})
}

fn chunks(body: &str) -> Vec<Value> {
    let data = sse_data(body);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    data.iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("chunk"))
        .collect()
}

#[tokio::test]
async fn chat_is_translated_whole_and_streamed_and_priced() {
    let (cohere, gateway) = setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &user("command", false),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(cost_of(&response) > 0.0, "priced as command-a-03-2025");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| t.starts_with("LLMs stand for")),
        "{body}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 17);
    assert_eq!(body["usage"]["completion_tokens"], 386);

    let response = gateway
        .post(
            "/v1/chat/completions",
            &user("command", true),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text: String = chunks(&response.text().await.expect("body"))
        .iter()
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello! How can I help you today?");

    let received = cohere.received();
    assert_eq!(received.len(), 2);
    for sent in &received {
        assert_eq!(sent.path, "/v2/chat");
        assert_eq!(sent.authorization.as_deref(), Some("Bearer co-e2e-key"));
        assert_eq!(sent.body["model"], "command-a-03-2025");
        assert_eq!(
            sent.body["messages"],
            json!([{"role": "user", "content": "What's the weather in Madrid and Brasilia?"}])
        );
    }
    assert_eq!(received[1].body["stream"], true);
}

#[tokio::test]
async fn tool_calls_come_back_whole_and_streamed_in_openai_shape() {
    let (cohere, gateway) = setup().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}]);
    let mut whole = user("command-tools", false);
    whole["tools"] = tools.clone();
    let response = gateway
        .post("/v1/chat/completions", &whole, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"],
        json!({"name": "get_weather", "arguments": "{\"location\":\"Toronto\"}"})
    );

    let mut streamed = user("command-tools", true);
    streamed["tools"] = tools.clone();
    let response = gateway
        .post("/v1/chat/completions", &streamed, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let chunks = chunks(&response.text().await.expect("body"));
    let mut arguments = [String::new(), String::new()];
    let mut ids = Vec::new();
    for piece in chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
    {
        let index = piece["index"].as_u64().expect("index") as usize;
        if let Some(id) = piece["id"].as_str() {
            ids.push(id.to_owned());
        }
        arguments[index].push_str(piece["function"]["arguments"].as_str().unwrap_or_default());
    }
    assert_eq!(
        ids,
        ["get_weather_p0dage9q1nv4", "get_weather_vdr9cvj3sxp6"]
    );
    let parsed: Vec<Value> = arguments
        .iter()
        .map(|a| serde_json::from_str(a).expect("arguments are JSON"))
        .collect();
    assert_eq!(
        parsed,
        [
            json!({"location": "Madrid"}),
            json!({"location": "Brasilia"})
        ]
    );
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
    assert_eq!(cohere.received()[1].body["tools"], tools);
}

#[tokio::test]
async fn rerank_goes_to_v2_rerank_and_a_rate_limit_is_a_429() {
    let (cohere, gateway) = setup().await;
    let response = gateway
        .post(
            "/v1/rerank",
            &json!({"model": "rerank-english-v3.0", "query": "What is the capital of the United States?",
                "documents": ["Carson City", "Saipan", "capital letters", "Washington, D.C.", "capital punishment"],
                "top_n": 3}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    let indexes: Vec<u64> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["index"].as_u64())
        .collect();
    assert_eq!(indexes, [3, 4, 0]);
    assert_eq!(body["meta"]["billed_units"]["search_units"], 1);
    let sent = &cohere.received()[0];
    assert_eq!(sent.path, "/v2/rerank");
    assert_eq!(sent.body["model"], "rerank-english-v3.0");
    assert_eq!(sent.body["top_n"], 3);

    let (status, _, body) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &user("command-limited", false),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Trial key")),
        "{body}"
    );
}

#[tokio::test]
async fn embeddings_go_to_v2_embed_and_are_priced() {
    let (cohere, gateway) = setup().await;
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "embed", "input": ["hello", "goodbye"]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(cost_of(&response) > 0.0, "priced as embed-english-v3.0");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["usage"]["prompt_tokens"], 2);
    let sent = &cohere.received()[0];
    assert_eq!(sent.path, "/v2/embed");
    assert_eq!(sent.body["texts"], json!(["hello", "goodbye"]));
    assert_eq!(sent.body["embedding_types"], json!(["float"]));
}
