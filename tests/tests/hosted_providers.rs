//! End to end: LiteLLM's `huggingface/` (a dedicated Inference Endpoint or TGI server, given by
//! `api_base`) and `azure_ai/` (a serverless endpoint) prefixes through the gateway to an
//! OpenAI-compatible fake upstream (`FakeUpstream`): plain answers, streams, tool calls and
//! errors, the path and the key header each provider documents, the model as it is sent.
//!
//! Shapes: Hugging Face's OpenAI-compatible Messages API of TGI and Inference Endpoints
//! (<https://huggingface.co/docs/text-generation-inference/messages_api>, `POST /v1/chat/completions`
//! with `Authorization: Bearer hf_...`); Azure AI serverless endpoints
//! (<https://learn.microsoft.com/en-us/azure/ai-foundry/how-to/deploy-models-serverless>),
//! OpenAI-compatible with the key as a bearer token; LiteLLM's names from
//! <https://docs.litellm.ai/docs/providers/huggingface> and
//! <https://docs.litellm.ai/docs/providers/azure_ai>.

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, error_of, sse_data};

async fn setup() -> (FakeUpstream, Gateway) {
    let upstream = FakeUpstream::start().await;
    let root = upstream.api_base.trim_end_matches("/v1").to_owned();
    let mut config = String::from("model_list:\n");
    // Hugging Face endpoints by their root (the gateway calls their OpenAI-compatible API under
    // `/v1`), the Azure AI endpoint by its OpenAI-compatible base.
    for (name, model, api_base) in [
        ("hf", "huggingface/HuggingFaceH4/zephyr-7b-beta", &root),
        ("hf-tools", "huggingface/tool-caller", &root),
        ("hf-throttled", "huggingface/rate-limited", &root),
        ("phi", "azure_ai/Phi-4", &upstream.api_base),
        ("phi-tools", "azure_ai/tool-caller", &upstream.api_base),
        ("phi-broken", "azure_ai/broken", &upstream.api_base),
    ] {
        config.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: {model}\n      api_base: {api_base}\n",
        ));
    }
    config.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    let gateway = Gateway::start(
        &config,
        &[
            ("HF_TOKEN", "hf_e2e_token"),
            ("AZURE_AI_API_KEY", "azure-ai-e2e-key"),
        ],
    )
    .await;
    (upstream, gateway)
}

fn user(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hello there"}]})
}

fn tools(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "weather in Paris?"}],
           "tools": [{"type": "function", "function": {"name": "get_weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]})
}

#[tokio::test]
async fn huggingface_endpoints_answer_plain_streamed_and_tool_calls_with_the_hf_token() {
    let (upstream, gateway) = setup().await;
    let response = gateway
        .post("/v1/chat/completions", &user("hf"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "upstream says: hello there"
    );
    assert_eq!(body["usage"]["total_tokens"], 15);

    let mut streamed = user("hf");
    streamed["stream"] = json!(true);
    let response = gateway
        .post("/v1/chat/completions", &streamed, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let data = sse_data(&response.text().await.expect("body"));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let text: String = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).expect("chunk"))
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "upstream says: hello there");

    let response = gateway
        .post("/v1/chat/completions", &tools("hf-tools"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"],
        json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
    );

    let received = upstream.received();
    assert_eq!(received.len(), 3);
    for sent in &received {
        assert_eq!(sent.path, "/v1/chat/completions");
        assert_eq!(sent.authorization.as_deref(), Some("Bearer hf_e2e_token"));
    }
    assert_eq!(received[0].body["model"], "HuggingFaceH4/zephyr-7b-beta");
    assert_eq!(
        received[2].body["tools"][0]["function"]["name"],
        "get_weather"
    );
}

#[tokio::test]
async fn azure_ai_serverless_endpoints_answer_and_errors_keep_their_class() {
    let (upstream, gateway) = setup().await;
    let response = gateway
        .post("/v1/chat/completions", &user("phi"), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "upstream says: hello there"
    );

    let mut streamed = tools("phi-tools");
    streamed["stream"] = json!(true);
    let response = gateway
        .post("/v1/chat/completions", &streamed, Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let data = sse_data(&response.text().await.expect("body"));
    let arguments: String = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).expect("chunk"))
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");

    let received = upstream.received();
    assert_eq!(
        received[0].body["model"], "Phi-4",
        "the model rides in the body"
    );
    assert!(
        received
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer azure-ai-e2e-key"))
    );

    let (status, code, body) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &user("phi-broken"),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert!(!code.is_empty(), "{body}");
    let (status, _, body) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &user("hf-throttled"),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
}
