//! End to end: every failure answers with the right status and the OpenAI error body.

use serde_json::json;
use switchyard_e2e::{MASTER_KEY, UPSTREAM_KEY, error_of, standard_setup};

fn chat(model: &str) -> serde_json::Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let (_u, gateway) = standard_setup().await;
    let response = gateway
        .post_raw("/v1/chat/completions", "{\"model\":", Some(MASTER_KEY))
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "invalid_json"));
}

#[tokio::test]
async fn missing_or_empty_fields_are_400_invalid_request() {
    let (_u, gateway) = standard_setup().await;
    for body in [
        json!({"model": "gpt-4o-mini"}),
        json!({"model": "gpt-4o-mini", "messages": []}),
        json!({"messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "hi"}]}),
    ] {
        let response = gateway
            .post("/v1/chat/completions", &body, Some(MASTER_KEY))
            .await;
        let (status, code, error) = error_of(response).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_request"),
            "{body} -> {error}"
        );
    }
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_401_and_never_echoed() {
    let (_u, gateway) = standard_setup().await;
    let (status, code, _) = error_of(
        gateway
            .post("/v1/chat/completions", &chat("gpt-4o-mini"), None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "invalid_api_key"));
    let wrong = "sk-wrong-key-123";
    let (status, _, body) = error_of(
        gateway
            .post("/v1/chat/completions", &chat("gpt-4o-mini"), Some(wrong))
            .await,
    )
    .await;
    assert_eq!(status, 401);
    assert!(!body.to_string().contains(wrong));
    let (status, _, _) = error_of(
        gateway
            .post(
                "/v1/chat/completions",
                &chat("gpt-4o-mini"),
                Some(UPSTREAM_KEY),
            )
            .await,
    )
    .await;
    assert_eq!(status, 401, "the upstream key is not a gateway key");
}

#[tokio::test]
async fn an_unknown_model_is_404_model_not_found() {
    let (_u, gateway) = standard_setup().await;
    let response = gateway
        .post("/v1/chat/completions", &chat("gpt-7"), Some(MASTER_KEY))
        .await;
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (404, "model_not_found"));
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("gpt-7")
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let (upstream, gateway) = standard_setup().await;
    let big = "x".repeat(4096);
    let response = gateway
        .post("/v1/chat/completions", &chat(&big), Some(MASTER_KEY))
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (413, "request_too_large"));
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn an_upstream_429_is_passed_on_with_retry_after() {
    let (_u, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &chat("rate-limited"),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.headers()["retry-after"], "3");
    let (status, code, body) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limit_exceeded"));
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("Rate limit reached")
    );
}

#[tokio::test]
async fn upstream_failures_are_502_by_class() {
    let (_u, gateway) = standard_setup().await;
    for (model, expected) in [
        ("broken", "upstream_server_error"),
        ("garbage", "upstream_invalid_response"),
        ("unreachable", "upstream_unreachable"),
    ] {
        let response = gateway
            .post("/v1/chat/completions", &chat(model), Some(MASTER_KEY))
            .await;
        let (status, code, body) = error_of(response).await;
        assert_eq!((status, code.as_str()), (502, expected), "{model}: {body}");
        assert!(
            !body.to_string().contains(UPSTREAM_KEY),
            "no secret in {body}"
        );
    }
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_in_time_is_504() {
    let (_u, gateway) = standard_setup().await;
    let response = gateway
        .post("/v1/chat/completions", &chat("hang"), Some(MASTER_KEY))
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (504, "upstream_timeout"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let (_u, gateway) = standard_setup().await;
    let (status, code, _) = error_of(gateway.get("/v1/nothing-here", Some(MASTER_KEY)).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, code, _) =
        error_of(gateway.get("/v1/chat/completions", Some(MASTER_KEY)).await).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
}
