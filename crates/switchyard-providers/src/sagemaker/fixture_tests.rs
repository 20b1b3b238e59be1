//! A SageMaker deployment against a fake SageMaker Runtime on loopback replaying the documented
//! TGI answers: the paths, the SigV4 signature for service `sagemaker`, the TGI body sent, and
//! answers, event streams and errors read back.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::*;
use crate::aws::eventstream::encode;
use crate::test_support::{finish_reasons, serve};

type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

const INVOKE_TGI: &str = include_str!("../../tests/fixtures/sagemaker/invoke_tgi.json");
const INVOKE_LLAMA: &str =
    include_str!("../../tests/fixtures/sagemaker/invoke_jumpstart_llama.json");
const STREAM_TGI: &str = include_str!("../../tests/fixtures/sagemaker/stream_tgi.json");
const EMBEDDINGS: &str = include_str!("../../tests/fixtures/sagemaker/invoke_embeddings.json");
const MODEL_ERROR: &str = include_str!("../../tests/fixtures/sagemaker/error_model_error.json");
const THROTTLING: &str = include_str!("../../tests/fixtures/sagemaker/error_throttling.json");

/// The event stream of `stream_tgi.json`, framed as SageMaker sends it.
fn framed(fixture: &str) -> Vec<u8> {
    let parts: Vec<Value> = serde_json::from_str(fixture).expect("fixture");
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&encode(
            &[
                (":event-type", part["event"].as_str().expect("event")),
                (":content-type", "application/octet-stream"),
                (":message-type", "event"),
            ],
            part["bytes"].as_str().expect("bytes").as_bytes(),
        ));
    }
    out
}

/// A fake runtime answering every call with `status`, `content_type` and `body`.
async fn start(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> (Seen, String) {
    let seen: Seen = Arc::default();
    let recorded = Arc::clone(&seen);
    let app = axum::Router::new().fallback(
        move |uri: Uri, headers: HeaderMap, sent: axum::body::Bytes| {
            let seen = Arc::clone(&recorded);
            let body = body.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let sent: Value = serde_json::from_slice(&sent).unwrap_or(Value::Null);
                seen.lock()
                    .expect("lock")
                    .push((uri.path().to_owned(), auth, sent));
                Response::builder()
                    .status(status)
                    .header("content-type", content_type)
                    .header("x-amzn-requestid", "req-1")
                    .body(Body::from(body))
                    .expect("response")
            }
        },
    );
    let base = serve(app).await;
    (seen, base)
}

fn deployment(base: &str, endpoint: &str) -> Sagemaker {
    let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
    Sagemaker::new(
        client,
        SagemakerSettings {
            endpoint: endpoint.to_owned(),
            region: "us-west-2".to_owned(),
            credentials: AwsCredentials::Keys {
                access_key_id: "AKIDSAGEMAKER".to_owned(),
                secret_access_key: "secret".to_owned(),
                session_token: None,
            },
            assume_role: None,
            api_base: Some(base.to_owned()),
        },
    )
    .expect("valid deployment")
}

fn chat(body: Value) -> ChatRequest {
    serde_json::from_value(body).expect("chat request")
}

fn hello(stream: bool) -> ChatRequest {
    chat(
        json!({"model": "s", "stream": stream, "max_tokens": 80, "temperature": 0.2,
        "messages": [{"role": "user", "content": "What is deep learning?"}]}),
    )
}

// https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html:
// `POST /endpoints/{EndpointName}/invocations`, signed for `sagemaker`.
#[tokio::test]
async fn a_chat_call_is_a_signed_tgi_invocation_answered_in_chat_shape() {
    let (seen, base) = start(StatusCode::OK, "application/json", INVOKE_TGI.into()).await;
    let sagemaker = deployment(&base, "my-tgi-endpoint");
    assert_eq!(sagemaker.family(), "sagemaker");
    let answer = sagemaker.chat(hello(false)).await.expect("answer");
    assert_eq!(answer.id, "chatcmpl-req-1");
    assert_eq!(answer.model, "my-tgi-endpoint");
    assert_eq!(
        answer.choices[0]
            .message
            .content
            .as_ref()
            .map(switchyard_wire::MessageContent::joined_text)
            .as_deref(),
        Some(
            "Deep learning is a subset of machine learning that uses neural networks with many layers."
        )
    );
    let usage = answer.usage.expect("estimated usage");
    assert!(usage.prompt_tokens > 0 && usage.completion_tokens > 0);

    let seen = seen.lock().expect("lock");
    let (path, auth, sent) = &seen[0];
    assert_eq!(path, "/endpoints/my-tgi-endpoint/invocations");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDSAGEMAKER/")
            && auth.contains("/us-west-2/sagemaker/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        sent,
        &json!({"inputs": "What is deep learning?",
            "parameters": {"max_new_tokens": 80, "temperature": 0.2}})
    );
}

#[tokio::test]
async fn jumpstart_llama_answers_are_read_and_the_chat_template_applied() {
    let (seen, base) = start(StatusCode::OK, "application/json", INVOKE_LLAMA.into()).await;
    let sagemaker = deployment(&base, "jumpstart-dft-meta-textgeneration-llama-2-7b-chat");
    let answer = sagemaker
        .chat(chat(json!({"model": "s",
            "messages": [{"role": "user", "content": "Capital of France?"}]})))
        .await
        .expect("answer");
    assert_eq!(
        answer.choices[0]
            .message
            .content
            .as_ref()
            .map(switchyard_wire::MessageContent::joined_text)
            .as_deref(),
        Some(" Paris is the capital of France.")
    );
    assert_eq!(
        seen.lock().expect("lock")[0].2["inputs"],
        "<s>[INST] Capital of France? [/INST]\n"
    );
}

// https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpointWithResponseStream.html:
// `PayloadPart` events carrying the container's bytes.
#[tokio::test]
async fn a_stream_of_payload_parts_yields_the_tokens_as_deltas() {
    let (seen, base) = start(
        StatusCode::OK,
        "application/vnd.amazon.eventstream",
        framed(STREAM_TGI),
    )
    .await;
    let sagemaker = deployment(&base, "my-tgi-endpoint");
    let chunks: Vec<_> = sagemaker
        .chat_stream(hello(true))
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
    assert_eq!(text, "Deep learning is", "the special </s> is not text");
    assert_eq!(chunks[0].choices[0].delta.role, Some(Role::Assistant));
    assert_eq!(finish_reasons(&chunks), ["stop"]);
    let last = chunks.last().expect("chunks");
    assert!(last.choices.is_empty());
    assert!(last.usage.as_ref().is_some_and(|u| u.completion_tokens > 0));
    let seen = seen.lock().expect("lock");
    assert_eq!(
        seen[0].0,
        "/endpoints/my-tgi-endpoint/invocations-response-stream"
    );
    assert_eq!(seen[0].2["stream"], true);
}

#[tokio::test]
async fn a_model_stream_error_ends_the_stream_in_an_error() {
    let mut body = Vec::new();
    body.extend_from_slice(&encode(
        &[
            (":event-type", "PayloadPart"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ],
        b"data:{\"token\":{\"text\":\"Deep\",\"special\":false},\"generated_text\":null,\"details\":null}\n\n",
    ));
    body.extend_from_slice(&encode(
        &[
            (":exception-type", "ModelStreamError"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        br#"{"Message": "the model container crashed", "ErrorCode": "ModelStreamError"}"#,
    ));
    let (_, base) = start(StatusCode::OK, "application/vnd.amazon.eventstream", body).await;
    let items: Vec<_> = deployment(&base, "my-tgi-endpoint")
        .chat_stream(hello(true))
        .await
        .expect("stream")
        .collect()
        .await;
    assert!(items[0].is_ok());
    let err = items.last().expect("items").as_ref().expect_err("an error");
    assert_eq!(err.class, ErrorClass::UpstreamServer);
    assert!(
        err.message.contains("the model container crashed"),
        "{}",
        err.message
    );
}

// https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html#API_runtime_InvokeEndpoint_Errors
#[tokio::test]
async fn errors_keep_their_status_class_and_aws_s_message() {
    let (_, base) = start(
        StatusCode::FAILED_DEPENDENCY,
        "application/json",
        MODEL_ERROR.into(),
    )
    .await;
    let err = deployment(&base, "my-tgi-endpoint")
        .chat(hello(false))
        .await
        .expect_err("model error");
    assert_eq!(err.class, ErrorClass::BadRequest);
    assert!(
        err.message.contains("must be strictly positive"),
        "{}",
        err.message
    );

    let (_, base) = start(
        StatusCode::TOO_MANY_REQUESTS,
        "application/json",
        THROTTLING.into(),
    )
    .await;
    let err = deployment(&base, "my-tgi-endpoint")
        .chat_stream(hello(true))
        .await
        .err()
        .expect("throttled");
    assert_eq!(err.class, ErrorClass::RateLimited);
}

#[tokio::test]
async fn what_a_text_prompt_cannot_carry_is_refused_unsent() {
    let (seen, base) = start(StatusCode::OK, "application/json", INVOKE_TGI.into()).await;
    let sagemaker = deployment(&base, "my-tgi-endpoint");
    for body in [
        json!({"model": "s", "messages": [{"role": "user", "content": "Hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}]}),
        json!({"model": "s", "n": 2, "messages": [{"role": "user", "content": "Hi"}]}),
        json!({"model": "s", "messages": [{"role": "tool", "tool_call_id": "c", "content": "x"}]}),
    ] {
        let err = sagemaker
            .chat(chat(body.clone()))
            .await
            .expect_err("refused");
        assert_eq!(err.class, ErrorClass::BadRequest, "{body}");
    }
    assert!(seen.lock().expect("lock").is_empty());
    let client = HttpClient::new(&crate::http::ClientSettings::default()).expect("client");
    let bad = SagemakerSettings {
        endpoint: "../models".to_owned(),
        region: "us-west-2".to_owned(),
        credentials: AwsCredentials::DefaultChain,
        assume_role: None,
        api_base: None,
    };
    assert!(
        Sagemaker::new(client, bad).is_err(),
        "a name that would bend the path"
    );
}

// https://docs.litellm.ai/docs/providers/aws_sagemaker ("Embedding Models"): the texts as
// `inputs`, the vectors back, on `invocations`.
#[tokio::test]
async fn embeddings_send_the_texts_as_inputs_and_read_the_vectors_back() {
    let (seen, base) = start(StatusCode::OK, "application/json", EMBEDDINGS.into()).await;
    let sagemaker = deployment(&base, "berri-benchmarking-gpt-j-6b-fp16");
    let request: EmbeddingsRequest = serde_json::from_value(json!({"model": "e",
        "input": ["good morning from litellm", "this is another item"]}))
    .expect("request");
    let answer = sagemaker.embeddings(request).await.expect("answer");
    assert_eq!(answer.data.len(), 2);
    assert_eq!(answer.data[1].index, 1);
    assert_eq!(
        answer.data[0].embedding,
        switchyard_wire::EmbeddingVector::Float(vec![0.0123, -0.0456, 0.0789, 0.1011])
    );
    assert!(answer.usage.prompt_tokens > 0);
    let (path, auth, sent) = seen.lock().expect("lock")[0].clone();
    assert_eq!(
        path,
        "/endpoints/berri-benchmarking-gpt-j-6b-fp16/invocations"
    );
    assert!(auth.contains("/sagemaker/aws4_request"));
    assert_eq!(
        sent,
        json!({"inputs": ["good morning from litellm", "this is another item"]})
    );

    let base64: EmbeddingsRequest = serde_json::from_value(json!({"model": "e",
        "input": ["a", "b"], "encoding_format": "base64"}))
    .expect("request");
    let answer = sagemaker.embeddings(base64).await.expect("answer");
    assert!(matches!(
        answer.data[0].embedding,
        switchyard_wire::EmbeddingVector::Base64(_)
    ));
    let tokens: EmbeddingsRequest =
        serde_json::from_value(json!({"model": "e", "input": [1, 2, 3]})).expect("request");
    let err = sagemaker.embeddings(tokens).await.expect_err("text only");
    assert_eq!(err.class, ErrorClass::BadRequest);
}
