//! End to end: LiteLLM's `text-completion-openai/` prefix
//! (<https://docs.litellm.ai/docs/providers/text_completion_openai>, "will call
//! openai.completions.create") through the gateway to a fake OpenAI (`FakeUpstream`, whose
//! `/v1/completions` answers OpenAI's `text_completion` objects): chat calls sent as text
//! completions (`prompt`, not `messages`) and answered in chat shape, whole and streamed;
//! `/v1/completions` passed through; each call priced by the catalog's
//! `gpt-3.5-turbo-instruct`; tools refused in OpenAI's error shape without a call upstream.

use serde_json::{Value, json};
use switchyard_e2e::{FakeUpstream, Gateway, MASTER_KEY, cost_of, error_of, sse_data};

async fn setup() -> (FakeUpstream, Gateway) {
    let upstream = FakeUpstream::start().await;
    let config = format!(
        "model_list:\n  - model_name: instruct\n    litellm_params:\n      model: text-completion-openai/gpt-3.5-turbo-instruct\n      api_base: {}\n      api_key: os.environ/OPENAI_API_KEY\ngeneral_settings:\n  master_key: {MASTER_KEY}\n",
        upstream.api_base
    );
    let gateway = Gateway::start(&config, &[("OPENAI_API_KEY", "sk-e2e-openai")]).await;
    (upstream, gateway)
}

fn chat(stream: bool) -> Value {
    json!({"model": "instruct", "stream": stream, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say this is a test"}
    ]})
}

#[tokio::test]
async fn chat_calls_become_text_completions_whole_and_streamed_and_are_priced() {
    let (upstream, gateway) = setup().await;
    let response = gateway
        .post("/v1/chat/completions", &chat(false), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    assert!(cost_of(&response) > 0.0, "priced as gpt-3.5-turbo-instruct");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "upstream completes: Be brief.\n\nSay this is a test"
    );
    assert_eq!(body["usage"]["total_tokens"], 15);

    let response = gateway
        .post("/v1/chat/completions", &chat(true), Some(MASTER_KEY))
        .await;
    assert_eq!(response.status(), 200);
    let data = sse_data(&response.text().await.expect("body"));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("chunk"))
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "upstream completes: Be brief.\n\nSay this is a test");

    let received = upstream.received();
    assert_eq!(received.len(), 2);
    for sent in &received {
        assert_eq!(sent.path, "/v1/completions");
        assert_eq!(sent.authorization.as_deref(), Some("Bearer sk-e2e-openai"));
        assert_eq!(sent.body["model"], "gpt-3.5-turbo-instruct");
        assert_eq!(sent.body["prompt"], "Be brief.\n\nSay this is a test");
        assert!(sent.body.get("messages").is_none(), "{}", sent.body);
    }
    assert_eq!(received[1].body["stream"], true);
}

#[tokio::test]
async fn text_completions_pass_through_and_tools_are_refused_unsent() {
    let (upstream, gateway) = setup().await;
    let response = gateway
        .post(
            "/v1/completions",
            &json!({"model": "instruct", "prompt": ["one", "two"], "max_tokens": 7}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(cost_of(&response) > 0.0);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["object"], "text_completion");
    let texts: Vec<&str> = body["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["upstream completes: one", "upstream completes: two"]
    );
    let received = upstream.received();
    assert_eq!(received[0].path, "/v1/completions");
    assert_eq!(received[0].body["prompt"], json!(["one", "two"]));

    let mut with_tools = chat(false);
    with_tools["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object"}}}]);
    let (status, _, body) = error_of(
        gateway
            .post("/v1/chat/completions", &with_tools, Some(MASTER_KEY))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("text-completion-openai")),
        "{body}"
    );
    assert_eq!(
        upstream.received().len(),
        1,
        "the refused call was not sent"
    );
}
