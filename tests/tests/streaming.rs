//! End to end: streamed chat completions over SSE, usage on request, failures mid-stream, and
//! cancellation of the upstream call when the client goes away.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_e2e::{MASTER_KEY, error_of, sse_data, standard_setup};

fn stream_request(model: &str, include_usage: Option<bool>) -> Value {
    let mut body = json!({"model": model, "stream": true,
        "messages": [{"role": "user", "content": "tell me"}]});
    if let Some(flag) = include_usage {
        body["stream_options"] = json!({"include_usage": flag});
    }
    body
}

fn chunks(body: &str) -> (Vec<Value>, bool) {
    let data = sse_data(body);
    let done = data.last().map(String::as_str) == Some("[DONE]");
    let chunks = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("chunk is JSON"))
        .collect();
    (chunks, done)
}

fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn a_stream_with_include_usage_ends_with_a_usage_chunk_then_done() {
    let (upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &stream_request("gpt-4o-mini", Some(true)),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (chunks, done) = chunks(&response.text().await.expect("body"));
    assert!(done, "stream ends with [DONE]");
    assert_eq!(text_of(&chunks), "upstream says: tell me");
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["total_tokens"], 15);
    assert_eq!(upstream.received()[0].body["stream"], true);
}

#[tokio::test]
async fn a_stream_without_include_usage_carries_no_usage_though_the_upstream_was_asked() {
    let (upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &stream_request("gpt-4o-mini", None),
            Some(MASTER_KEY),
        )
        .await;
    let (chunks, done) = chunks(&response.text().await.expect("body"));
    assert!(done);
    assert_eq!(text_of(&chunks), "upstream says: tell me");
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "{chunks:?}"
    );
    assert!(
        chunks
            .iter()
            .all(|c| !c["choices"].as_array().expect("choices").is_empty())
    );
    let sent = &upstream.received()[0].body;
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "usage is always asked for"
    );
}

#[tokio::test]
async fn the_mock_provider_streams_too() {
    let (_upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &stream_request("mock-echo", Some(true)),
            Some(MASTER_KEY),
        )
        .await;
    let (chunks, done) = chunks(&response.text().await.expect("body"));
    assert!(done);
    assert_eq!(text_of(&chunks), "tell me");
    assert!(chunks.last().expect("usage chunk")["usage"]["total_tokens"].as_u64() > Some(0));
}

#[tokio::test]
async fn an_upstream_error_before_the_stream_starts_is_a_plain_http_error() {
    let (_upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &stream_request("rate-limited", None),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.headers()["retry-after"], "3");
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (429, "rate_limit_exceeded"));
}

#[tokio::test]
async fn an_upstream_that_cuts_the_stream_yields_an_error_event() {
    let (_upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &stream_request("cut-stream", None),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let (chunks, done) = chunks(&response.text().await.expect("body"));
    assert!(!done, "a broken stream must not claim to be complete");
    let last = chunks.last().expect("events");
    assert_eq!(last["error"]["code"], "upstream_invalid_response");
    assert!(
        last["error"]["message"]
            .as_str()
            .expect("message")
            .contains("[DONE]")
    );
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_cancels_the_upstream_call() {
    let (upstream, gateway) = standard_setup().await;
    let response = gateway
        .post(
            "/v1/chat/completions",
            &stream_request("slow-stream", None),
            Some(MASTER_KEY),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = body.next().await.expect("first event").expect("bytes");
    assert!(first.starts_with(b"data: "), "{first:?}");
    assert!(
        !upstream.stream_dropped(Duration::from_millis(50)).await,
        "the upstream stream is still open while the client listens"
    );
    drop(body);
    assert!(
        upstream.stream_dropped(Duration::from_secs(10)).await,
        "the upstream request was not cancelled after the client left"
    );
}
