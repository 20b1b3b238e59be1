//! End to end: LiteLLM's `sagemaker/` prefix (<https://docs.litellm.ai/docs/providers/aws_sagemaker>,
//! its proxy config: `aws_access_key_id`, `aws_secret_access_key`, `aws_region_name`) through the
//! gateway to a fake SageMaker Runtime (`FakeSagemaker`) that verifies every SigV4 signature
//! for service `sagemaker`: the TGI payload sent, answers whole and streamed from event stream
//! `PayloadPart`s, a mid-stream `ModelStreamError` ending the stream in OpenAI's error event,
//! and a throttled endpoint answered 429.

use serde_json::{Value, json};
use switchyard_e2e::fake_sagemaker::{ACCESS_KEY_ID, FakeSagemaker, SECRET_ACCESS_KEY};
use switchyard_e2e::{Gateway, MASTER_KEY, error_of, sse_data};

async fn setup() -> (FakeSagemaker, Gateway) {
    let sagemaker = FakeSagemaker::start().await;
    let mut config = String::from("model_list:\n");
    for (name, endpoint) in [
        ("tgi", "my-tgi-endpoint"),
        ("throttled", "tgi-throttled"),
        ("crashing", "tgi-crashing"),
        ("sagemaker-embeddings", "tei-embeddings"),
    ] {
        config.push_str(&format!(
            "  - model_name: {name}\n    litellm_params:\n      model: sagemaker/{endpoint}\n      api_base: {}\n      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID\n      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY\n      aws_region_name: us-west-2\n",
            sagemaker.api_base
        ));
    }
    config.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    let gateway = Gateway::start(
        &config,
        &[
            ("CUSTOM_AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("CUSTOM_AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ],
    )
    .await;
    (sagemaker, gateway)
}

fn user(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 80,
        "messages": [{"role": "user", "content": "What is deep learning?"}]})
}

#[tokio::test]
async fn signed_tgi_invocations_answer_whole_and_streamed() {
    let (sagemaker, gateway) = setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &user("tgi", false),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Deep learning is a subset of machine learning that uses neural networks with many layers."
    );
    assert!(
        body["usage"]["prompt_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );

    let response = gateway
        .post("/v1/chat/completions", &user("tgi", true), Some(MASTER_KEY))
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
    assert_eq!(text, "Deep learning is");

    let received = sagemaker.received();
    assert_eq!(received.len(), 2);
    assert!(
        received.iter().all(|r| r.signed),
        "every call is signed for sagemaker"
    );
    assert_eq!(received[0].path, "/endpoints/my-tgi-endpoint/invocations");
    assert_eq!(
        received[1].path,
        "/endpoints/my-tgi-endpoint/invocations-response-stream"
    );
    assert_eq!(
        received[0].body,
        json!({"inputs": "What is deep learning?", "parameters": {"max_new_tokens": 80}})
    );
    assert_eq!(received[1].body["stream"], true);
}

#[tokio::test]
async fn throttling_is_a_429_and_a_model_stream_error_ends_the_stream_with_an_error() {
    let (_, gateway) = setup().await;
    let (status, _, body) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &user("throttled", false),
                Some(MASTER_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let response = gateway
        .post(
            "/v1/chat/completions",
            &user("crashing", true),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200, "the stream had started");
    let data = sse_data(&response.text().await.expect("body"));
    let last: Value = serde_json::from_str(
        data.iter()
            .rev()
            .find(|d| d.as_str() != "[DONE]")
            .expect("events"),
    )
    .expect("json");
    assert!(
        last["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the model container crashed")),
        "{last}"
    );
}

// The embeddings of LiteLLM's sagemaker page: `litellm.embedding(model="sagemaker/<deployment>",
// input=["good morning from litellm", "this is another item"])`.
#[tokio::test]
async fn embeddings_are_signed_invocations_answered_in_openai_s_shape() {
    let (sagemaker, gateway) = setup().await;
    let response = gateway
        .post(
            "/v1/embeddings",
            &json!({"model": "sagemaker-embeddings",
                "input": ["good morning from litellm", "this is another item"]}),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(
        body["data"][0]["embedding"].as_array().map(Vec::len),
        Some(4)
    );
    assert!(
        body["usage"]["prompt_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    let sent = &sagemaker.received()[0];
    assert!(sent.signed);
    assert_eq!(sent.path, "/endpoints/tei-embeddings/invocations");
    assert_eq!(
        sent.body,
        json!({"inputs": ["good morning from litellm", "this is another item"]})
    );
}
