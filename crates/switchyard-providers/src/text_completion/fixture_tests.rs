//! A `text-completion-openai` deployment against a fake OpenAI on loopback replaying the
//! documented completion object and stream: chat calls sent as text completions and answered
//! in chat shape, text completions passed through, errors classified, tools refused unsent.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::*;
use crate::test_support::{finish_reasons, serve};

type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

/// A fake OpenAI whose `/v1/completions` answers `body` with `status` (an event stream when the
/// request asks for one and the status is a success).
async fn start(status: StatusCode, body: &'static str, stream: &'static str) -> (Seen, String) {
    let seen: Seen = Arc::default();
    let recorded = Arc::clone(&seen);
    let app = axum::Router::new().fallback(
        move |uri: Uri, headers: HeaderMap, body_bytes: axum::body::Bytes| {
            let seen = Arc::clone(&recorded);
            async move {
                let sent: Value = serde_json::from_slice(&body_bytes).unwrap_or(Value::Null);
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let streamed = sent["stream"] == json!(true);
                seen.lock()
                    .expect("lock")
                    .push((uri.path().to_owned(), auth, sent));
                let (content_type, text) = if streamed && status.is_success() {
                    ("text/event-stream", stream)
                } else {
                    ("application/json", body)
                };
                Response::builder()
                    .status(status)
                    .header("content-type", content_type)
                    .body(Body::from(text))
                    .expect("response")
            }
        },
    );
    let base = serve(app).await;
    (seen, base)
}

fn deployment(base: &str) -> TextCompletionOpenAi {
    let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
    TextCompletionOpenAi::new(
        client,
        OpenAiSettings {
            family: "openai",
            model: "gpt-3.5-turbo-instruct".to_owned(),
            api_base: format!("{base}/v1"),
            api_key: Some("sk-test".to_owned()),
            dialect: crate::openai::Dialect::OpenAi,
            extra_headers: Vec::new(),
            bearer: None,
        },
    )
    .expect("valid deployment")
}

fn chat(body: Value) -> ChatRequest {
    serde_json::from_value(body).expect("chat request")
}

const TEXT: &str = include_str!("../../tests/fixtures/openai/completion_text.json");
const STREAM: &str = include_str!("../../tests/fixtures/openai/completion_stream.sse");
const NOT_FOUND: &str =
    include_str!("../../tests/fixtures/openai/error_completions_model_not_found.json");

// https://platform.openai.com/docs/api-reference/completions/create: `prompt` instead of
// `messages`; https://platform.openai.com/docs/api-reference/completions/object: `choices[].text`.
#[tokio::test]
async fn a_chat_call_is_one_text_completion_answered_in_chat_shape() {
    let (seen, base) = start(StatusCode::OK, TEXT, STREAM).await;
    let provider = deployment(&base);
    assert_eq!(provider.family(), "text-completion-openai");
    let answer = provider
        .chat(chat(json!({
            "model": "instruct",
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": [{"type": "text", "text": "Say this is a test"}]}
            ],
            "max_completion_tokens": 7,
            "temperature": 0,
            "logprobs": true,
            "seed": 3
        })))
        .await
        .expect("answer");
    assert_eq!(answer.object, "chat.completion");
    let message = &answer.choices[0].message;
    assert_eq!(message.role, switchyard_wire::Role::Assistant);
    assert_eq!(
        message.content.as_ref().map(MessageContent::joined_text),
        Some("\n\nThis is indeed a test".to_owned())
    );
    assert_eq!(answer.choices[0].finish_reason.as_deref(), Some("length"));
    let usage = answer.usage.expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (5, 7));

    let seen = seen.lock().expect("lock");
    let (path, auth, sent) = &seen[0];
    assert_eq!(path, "/v1/completions");
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(sent["model"], "gpt-3.5-turbo-instruct");
    assert_eq!(sent["prompt"], "Answer briefly.\n\nSay this is a test");
    assert!(sent.get("messages").is_none(), "{sent}");
    assert_eq!(sent["max_tokens"], 7);
    assert_eq!(sent["seed"], 3);
    assert!(
        sent.get("logprobs").is_none(),
        "chat's boolean `logprobs` is not the completions API's count: {sent}"
    );
}

#[tokio::test]
async fn a_streamed_chat_call_streams_the_text_pieces_as_deltas_with_usage() {
    let (seen, base) = start(StatusCode::OK, TEXT, STREAM).await;
    let provider = deployment(&base);
    let chunks: Vec<_> = provider
        .chat_stream(chat(json!({
            "model": "instruct",
            "stream": true,
            "messages": [{"role": "user", "content": "Say this is a test"}]
        })))
        .await
        .expect("stream")
        .map(|c| c.expect("chunk"))
        .collect()
        .await;
    let text: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.as_deref())
        .collect();
    assert_eq!(text, "This is indeed a test");
    assert_eq!(finish_reasons(&chunks), ["length"]);
    assert!(chunks.iter().all(|c| c.object == "chat.completion.chunk"));
    let usage = chunks.last().and_then(|c| c.usage.clone()).expect("usage");
    assert_eq!(usage.total_tokens, 12);
    let seen = seen.lock().expect("lock");
    assert_eq!(seen[0].2["stream"], true);
    assert_eq!(seen[0].2["stream_options"]["include_usage"], true);
    assert_eq!(seen[0].2["prompt"], "Say this is a test");
}

#[tokio::test]
async fn text_completions_pass_through_as_they_came() {
    let (seen, base) = start(StatusCode::OK, TEXT, STREAM).await;
    let provider = deployment(&base);
    let request: CompletionRequest = serde_json::from_value(json!({
        "model": "instruct", "prompt": ["a", "b"], "echo": true, "logprobs": 2, "suffix": "!"
    }))
    .expect("request");
    let answer = provider.completion(request).await.expect("answer");
    assert_eq!(answer.choices.len(), 1);
    let seen = seen.lock().expect("lock");
    let sent = &seen[0].2;
    assert_eq!(sent["prompt"], json!(["a", "b"]));
    assert_eq!(
        (&sent["echo"], &sent["logprobs"], &sent["suffix"]),
        (&json!(true), &json!(2), &json!("!"))
    );
    assert_eq!(sent["model"], "gpt-3.5-turbo-instruct");
}

// OpenAI's error shape: https://platform.openai.com/docs/guides/error-codes.
#[tokio::test]
async fn upstream_errors_are_classified() {
    let (_, base) = start(StatusCode::NOT_FOUND, NOT_FOUND, "").await;
    let provider = deployment(&base);
    let request = chat(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
    let err = provider.chat(request).await.expect_err("not found");
    assert_eq!(err.class, ErrorClass::NotFound);
    assert!(err.message.contains("does not exist"), "{}", err.message);
}

#[tokio::test]
async fn tools_and_tool_conversations_are_refused_without_a_call() {
    let (seen, base) = start(StatusCode::OK, TEXT, STREAM).await;
    let provider = deployment(&base);
    let tool = json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}});
    for body in [
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}),
        json!({"model": "m", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
        ]}),
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"}}),
    ] {
        let err = provider
            .chat(chat(body.clone()))
            .await
            .expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest, "{body}");
        assert!(
            err.message.contains("text-completion-openai"),
            "{}",
            err.message
        );
    }
    assert!(seen.lock().expect("lock").is_empty(), "nothing was sent");
}
