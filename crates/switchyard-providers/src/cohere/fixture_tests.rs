//! A Cohere deployment against a fake Cohere API on loopback replaying the documented v2
//! answers: the bodies sent to `/v2/chat` and `/v2/rerank`, the bearer key, and answers,
//! streams, tool calls, reranks and errors read back.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::*;
use crate::test_support::{assembled_tool_calls, finish_reasons, serve};

type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

const JSON: &str = "application/json";
const SSE: &str = "text/event-stream";
const CHAT_TEXT: &str = include_str!("../../tests/fixtures/cohere/chat_text.json");
const CHAT_TOOL_CALL: &str = include_str!("../../tests/fixtures/cohere/chat_tool_call.json");
const STREAM_TEXT: &str = include_str!("../../tests/fixtures/cohere/stream_text.sse");
const STREAM_TOOLS: &str =
    include_str!("../../tests/fixtures/cohere/stream_parallel_tool_calls.sse");
const EMBED: &str = include_str!("../../tests/fixtures/cohere/embed.json");
const RERANK: &str = include_str!("../../tests/fixtures/cohere/rerank.json");
const UNAUTHORIZED: &str = include_str!("../../tests/fixtures/cohere/error_unauthorized.json");
const RATE_LIMITED: &str = include_str!("../../tests/fixtures/cohere/error_rate_limited.json");

/// A fake Cohere API answering every call with `status`, `content_type` and `body`.
async fn start(
    status: StatusCode,
    content_type: &'static str,
    body: &'static str,
) -> (Seen, String) {
    let seen: Seen = Arc::default();
    let recorded = Arc::clone(&seen);
    let app = axum::Router::new().fallback(
        move |uri: Uri, headers: HeaderMap, sent: axum::body::Bytes| {
            let seen = Arc::clone(&recorded);
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let sent: Value = serde_json::from_slice(&sent).unwrap_or(Value::Null);
                seen.lock()
                    .expect("lock")
                    .push((uri.path().to_owned(), auth, sent));
                Response::builder()
                    .status(status)
                    .header("content-type", content_type)
                    .body(Body::from(body))
                    .expect("response")
            }
        },
    );
    let base = serve(app).await;
    (seen, base)
}

fn deployment(base: &str, model: &str) -> Cohere {
    let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
    Cohere::new(
        client,
        CohereSettings {
            model: model.to_owned(),
            api_base: base.to_owned(),
            api_key: Some("co-test-key".to_owned()),
        },
    )
    .expect("valid deployment")
}

fn chat(body: Value) -> ChatRequest {
    serde_json::from_value(body).expect("chat request")
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}})
}

// https://docs.cohere.com/reference/chat: `POST /v2/chat`, `Authorization: Bearer`; content as
// parts, `finish_reason` upper case, usage as `billed_units` and `tokens`.
#[tokio::test]
async fn a_chat_answer_is_translated_both_ways() {
    let (seen, base) = start(StatusCode::OK, JSON, CHAT_TEXT).await;
    let cohere = deployment(&base, "command-a-03-2025");
    assert_eq!(cohere.family(), "cohere");
    let answer = cohere
        .chat(chat(json!({
            "model": "c",
            "messages": [
                {"role": "developer", "content": "You are terse."},
                {"role": "user", "content": [{"type": "text", "text": "What is an LLM?"}]}
            ],
            "max_completion_tokens": 400,
            "top_p": 0.9,
            "temperature": 0.3,
            "stop": "END",
            "seed": 7,
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
        })))
        .await
        .expect("answer");
    let text = answer.choices[0]
        .message
        .content
        .as_ref()
        .map(switchyard_wire::MessageContent::joined_text)
        .unwrap_or_default();
    assert!(
        text.starts_with("LLMs stand for Large Language Models"),
        "{text}"
    );
    assert_eq!(answer.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(answer.id, "c14c80c3-18eb-4519-9460-6c92edd8cfb4");
    assert_eq!(answer.model, "command-a-03-2025");
    let usage = answer.usage.expect("usage");
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (17, 386),
        "the billed units"
    );

    let seen = seen.lock().expect("lock");
    let (path, auth, sent) = &seen[0];
    assert_eq!(path, "/v2/chat");
    assert_eq!(auth.as_deref(), Some("Bearer co-test-key"));
    assert_eq!(
        sent,
        &json!({
            "model": "command-a-03-2025",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": [{"type": "text", "text": "What is an LLM?"}]}
            ],
            "max_tokens": 400,
            "p": 0.9,
            "temperature": 0.3,
            "stop_sequences": ["END"],
            "seed": 7,
            "response_format": {"type": "json_object", "json_schema": {"type": "object"}}
        })
    );
}

// https://docs.cohere.com/docs/tool-use-overview: tools are OpenAI's function tools, a call
// comes back in `message.tool_calls` with `finish_reason: TOOL_CALL`; the conversation goes on
// with the assistant's `tool_calls` and a `tool` message by `tool_call_id`.
#[tokio::test]
async fn tool_calls_and_tool_results_are_translated() {
    let (seen, base) = start(StatusCode::OK, JSON, CHAT_TOOL_CALL).await;
    let cohere = deployment(&base, "command-a-03-2025");
    let answer = cohere
        .chat(chat(json!({
            "model": "c",
            "messages": [
                {"role": "user", "content": "Weather in Toronto?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "user", "content": "And Toronto?"}
            ],
            "tools": [weather_tool(), {"type": "function", "function": {"name": "other"}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
        })))
        .await
        .expect("answer");
    let choice = &answer.choices[0];
    assert_eq!(choice.finish_reason.as_deref(), Some("tool_calls"));
    let calls = choice.message.tool_calls.as_ref().expect("tool calls");
    assert_eq!(calls[0].id, "get_weather_1byjy32y4hvq");
    assert_eq!(calls[0].function.name, "get_weather");
    assert_eq!(calls[0].function.arguments, "{\"location\":\"Toronto\"}");
    assert!(choice.message.content.is_none());

    let seen = seen.lock().expect("lock");
    let sent = &seen[0].2;
    assert_eq!(sent["messages"][1]["role"], "assistant");
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["arguments"],
        "{\"location\":\"Paris\"}"
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "sunny"})
    );
    assert_eq!(
        sent["tools"],
        json!([weather_tool()]),
        "the named tool alone"
    );
    assert_eq!(sent["tool_choice"], "REQUIRED");
}

#[tokio::test]
async fn a_stream_yields_text_deltas_the_finish_reason_and_usage() {
    let (seen, base) = start(StatusCode::OK, SSE, STREAM_TEXT).await;
    let cohere = deployment(&base, "command-a-03-2025");
    let chunks: Vec<_> = cohere
        .chat_stream(chat(json!({"model": "c", "stream": true,
            "messages": [{"role": "user", "content": "Hello"}]})))
        .await
        .expect("stream")
        .map(|c| c.expect("chunk"))
        .collect()
        .await;
    assert_eq!(
        chunks[0].choices[0].delta.role,
        Some(switchyard_wire::Role::Assistant)
    );
    let text: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.as_deref())
        .collect();
    assert_eq!(text, "Hello! How can I help you today?");
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let last = chunks.last().expect("chunks");
    assert!(last.choices.is_empty());
    let usage = last.usage.clone().expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (3, 9));
    assert!(
        chunks
            .iter()
            .all(|c| c.id == "29f14a5a-11de-4cae-9800-25e4747408ea")
    );
    assert_eq!(seen.lock().expect("lock")[0].2["stream"], true);
}

#[tokio::test]
async fn parallel_tool_calls_stream_as_openai_tool_call_pieces() {
    let (_, base) = start(StatusCode::OK, SSE, STREAM_TOOLS).await;
    let cohere = deployment(&base, "command-a-03-2025");
    let chunks: Vec<_> = cohere
        .chat_stream(chat(json!({"model": "c", "stream": true, "tools": [weather_tool()],
            "messages": [{"role": "user", "content": "What's the weather in Madrid and Brasilia?"}]})))
        .await
        .expect("stream")
        .map(|c| c.expect("chunk"))
        .collect()
        .await;
    let calls: Vec<_> = assembled_tool_calls(&chunks)
        .iter()
        .map(|c| (c.id.clone(), c.summary().1.to_owned(), c.arguments.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "get_weather_p0dage9q1nv4".to_owned(),
                "get_weather".to_owned(),
                json!({"location": "Madrid"})
            ),
            (
                "get_weather_vdr9cvj3sxp6".to_owned(),
                "get_weather".to_owned(),
                json!({"location": "Brasilia"})
            ),
        ]
    );
    assert_eq!(finish_reasons(&chunks), ["tool_calls"]);
    let text: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.as_deref())
        .collect();
    assert!(text.is_empty(), "the tool plan is not answer text: {text}");
}

#[tokio::test]
async fn a_stream_cut_before_message_end_is_an_error() {
    let cut: &'static str = STREAM_TEXT
        .split("event: message-end")
        .next()
        .expect("a prefix");
    let (_, base) = start(StatusCode::OK, SSE, cut).await;
    let cohere = deployment(&base, "command-a-03-2025");
    let items: Vec<_> = cohere
        .chat_stream(chat(
            json!({"model": "c", "messages": [{"role": "user", "content": "Hi"}]}),
        ))
        .await
        .expect("stream")
        .collect()
        .await;
    let err = items
        .last()
        .expect("items")
        .as_ref()
        .expect_err("cut streams end in an error");
    assert_eq!(err.class, ErrorClass::InvalidResponse);
}

// https://docs.cohere.com/reference/errors: `{"id", "message"}` with the HTTP status.
#[tokio::test]
async fn errors_are_classified_by_status_with_cohere_s_message() {
    for (status, body, class, words) in [
        (
            StatusCode::UNAUTHORIZED,
            UNAUTHORIZED,
            ErrorClass::Authentication,
            "invalid api token",
        ),
        (
            StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMITED,
            ErrorClass::RateLimited,
            "Trial key",
        ),
    ] {
        let (_, base) = start(status, JSON, body).await;
        let cohere = deployment(&base, "command-a-03-2025");
        let err = cohere
            .chat(chat(
                json!({"model": "c", "messages": [{"role": "user", "content": "Hi"}]}),
            ))
            .await
            .expect_err("failed");
        assert_eq!(err.class, class);
        assert!(err.message.contains(words), "{}", err.message);
        let request: RerankRequest =
            serde_json::from_value(json!({"model": "r", "query": "q", "documents": ["a"]}))
                .expect("request");
        let err = cohere.rerank(request).await.expect_err("failed");
        assert_eq!(err.class, class);
    }
}

#[tokio::test]
async fn what_cohere_cannot_take_is_refused_before_a_call() {
    let (seen, base) = start(StatusCode::OK, JSON, CHAT_TEXT).await;
    let cohere = deployment(&base, "command-a-03-2025");
    for body in [
        json!({"model": "c", "n": 2, "messages": [{"role": "user", "content": "Hi"}]}),
        json!({"model": "c", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}),
        json!({"model": "c", "messages": [{"role": "tool", "content": "x"}]}),
        json!({"model": "c", "messages": [{"role": "user", "content": "Hi"}], "tools": [weather_tool()],
            "tool_choice": {"type": "function", "function": {"name": "missing"}}}),
    ] {
        let err = cohere.chat(chat(body.clone())).await.expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest, "{body}");
    }
    assert!(seen.lock().expect("lock").is_empty());
}

// https://docs.cohere.com/reference/rerank: `POST /v2/rerank` with `{model, query, documents,
// top_n}`; the answer is LiteLLM's `/rerank` shape already.
#[tokio::test]
async fn rerank_sends_texts_and_puts_documents_back_when_asked() {
    let (seen, base) = start(StatusCode::OK, JSON, RERANK).await;
    let cohere = deployment(&base, "rerank-v3.5");
    let documents = [
        "Carson City is the capital city of the American state of Nevada.",
        "The Commonwealth of the Northern Mariana Islands is a group of islands in the Pacific Ocean. Its capital is Saipan.",
        "Capitalization or capitalisation in English grammar is the use of a capital letter at the start of a word.",
        "Washington, D.C. is the capital of the United States. It is a federal district.",
        "Capital punishment has existed in the United States since before the United States was a country.",
    ];
    let request: RerankRequest = serde_json::from_value(json!({
        "model": "r",
        "query": "What is the capital of the United States?",
        "documents": [documents[0], documents[1], {"text": documents[2]}, documents[3],
            {"title": "punishment", "year": 2017}],
        "top_n": 3,
        "return_documents": true,
        "rank_fields": ["title"]
    }))
    .expect("request");
    let answer = cohere.rerank(request).await.expect("answer");
    let ranked: Vec<(u32, f64)> = answer
        .results
        .iter()
        .map(|r| (r.index, r.relevance_score))
        .collect();
    assert_eq!(ranked, [(3, 0.999071), (4, 0.7867867), (0, 0.32713068)]);
    assert_eq!(
        answer.results[0].document,
        Some(json!({"text": documents[3]}))
    );
    assert_eq!(
        answer.meta.expect("meta")["billed_units"]["search_units"],
        1
    );

    let seen = seen.lock().expect("lock");
    let (path, auth, sent) = &seen[0];
    assert_eq!(path, "/v2/rerank");
    assert_eq!(auth.as_deref(), Some("Bearer co-test-key"));
    assert_eq!(
        sent,
        &json!({
            "model": "rerank-v3.5",
            "query": "What is the capital of the United States?",
            "documents": [documents[0], documents[1], documents[2], documents[3],
                "{\"title\":\"punishment\",\"year\":2017}"],
            "top_n": 3
        })
    );
}

#[test]
fn a_versioned_base_is_taken_at_its_root_and_the_key_stays_out_of_debug() {
    let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
    let settings = CohereSettings {
        model: "m".to_owned(),
        api_base: "https://api.cohere.com/v2/".to_owned(),
        api_key: Some("co-secret".to_owned()),
    };
    assert!(!format!("{settings:?}").contains("co-secret"));
    let cohere = Cohere::new(client, settings).expect("valid");
    assert_eq!(
        cohere.inner.chat_uri.to_string(),
        "https://api.cohere.com/v2/chat"
    );
    assert_eq!(
        cohere.inner.rerank_uri.to_string(),
        "https://api.cohere.com/v2/rerank"
    );
    assert!(cohere.inner.headers["authorization"].is_sensitive());
    assert!(!format!("{cohere:?}").contains("co-secret"));
}

// https://docs.cohere.com/reference/embed: `POST /v2/embed` with `texts`, `input_type` and
// `embedding_types`; the vectors under `embeddings.float`, the billed input tokens in `meta`.
#[tokio::test]
async fn embeddings_go_to_v2_embed_and_come_back_in_openai_s_shape() {
    let (seen, base) = start(StatusCode::OK, JSON, EMBED).await;
    let cohere = deployment(&base, "embed-english-v3.0");
    let request: EmbeddingsRequest = serde_json::from_value(json!({"model": "e",
        "input": ["hello", "goodbye"], "dimensions": 256}))
    .expect("request");
    let answer = cohere.embeddings(request).await.expect("answer");
    assert_eq!(answer.data.len(), 2);
    assert_eq!(
        answer.data[1].embedding,
        switchyard_wire::EmbeddingVector::Float(vec![
            -0.0625,
            0.0129547,
            0.03414917,
            -0.0040626526
        ])
    );
    assert_eq!(answer.usage.prompt_tokens, 2, "the billed tokens");
    assert_eq!(answer.model, "embed-english-v3.0");
    let (path, _, sent) = seen.lock().expect("lock")[0].clone();
    assert_eq!(path, "/v2/embed");
    assert_eq!(
        sent,
        json!({"model": "embed-english-v3.0", "texts": ["hello", "goodbye"],
            "input_type": "search_document", "embedding_types": ["float"], "output_dimension": 256})
    );
}
