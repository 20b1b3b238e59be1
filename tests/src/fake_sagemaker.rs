//! A fake SageMaker Runtime for the end-to-end tests: `POST /endpoints/{name}/invocations` and
//! `.../invocations-response-stream` on a loopback port, replaying the documented TGI answers
//! kept in `crates/switchyard-providers/tests/fixtures/sagemaker/` (the stream as real
//! `application/vnd.amazon.eventstream` frames of `PayloadPart`s), and refusing every request
//! whose SigV4 signature for service `sagemaker` does not verify with the keys it accepts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_smithy_types::event_stream::Message;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::Value;

use crate::fake_bedrock::{
    encode, event_stream, exception_frame, signature_is_valid, string_header,
};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/switchyard-providers/tests/fixtures/sagemaker/",
            $name
        ))
    };
}

const INVOKE_TGI: &str = fixture!("invoke_tgi.json");
const STREAM_TGI: &str = fixture!("stream_tgi.json");
const ERROR_THROTTLING: &str = fixture!("error_throttling.json");
const INVOKE_EMBEDDINGS: &str = fixture!("invoke_embeddings.json");

/// The access key id the fake accepts, with [`SECRET_ACCESS_KEY`].
pub const ACCESS_KEY_ID: &str = "AKIDSAGEMAKERE2E";
/// The secret of [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "sagemaker-e2e-secret";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct SagemakerRequest {
    /// The request's path.
    pub path: String,
    /// Whether its signature verified.
    pub signed: bool,
    /// The JSON body.
    pub body: Value,
}

/// The fake runtime. Its answer follows the endpoint name:
///
/// - `tgi-throttled`: 429 `ThrottlingException`;
/// - `tgi-crashing`: a stream of one token, then a `ModelStreamError` exception;
/// - `tei-embeddings`: two embedding vectors;
/// - any other endpoint: TGI's answer, whole or streamed.
///
/// A request whose signature does not verify gets 403 `InvalidSignatureException`.
pub struct FakeSagemaker {
    /// `http://127.0.0.1:PORT`, ready for `api_base`.
    pub api_base: String,
    received: Arc<Mutex<Vec<SagemakerRequest>>>,
}

impl FakeSagemaker {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/endpoints/{name}/{method}", post(answer))
            .with_state(Arc::clone(&received));
        let addr = crate::serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}"),
            received,
        }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<SagemakerRequest> {
        self.received.lock().expect("lock").clone()
    }
}

async fn answer(
    State(received): State<Arc<Mutex<Vec<SagemakerRequest>>>>,
    Path((name, method)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let secrets = HashMap::from([(ACCESS_KEY_ID.to_owned(), SECRET_ACCESS_KEY.to_owned())]);
    let signed = signature_is_valid(&secrets, "sagemaker", &uri, &headers, &body);
    received.lock().expect("lock").push(SagemakerRequest {
        path: uri.path().to_owned(),
        signed,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    if !signed {
        return aws_json(
            StatusCode::FORBIDDEN,
            r#"{"message": "The request signature we calculated does not match the signature you provided."}"#,
        );
    }
    let streamed = method == "invocations-response-stream";
    match (name.as_str(), streamed) {
        ("tgi-throttled", _) => aws_json(StatusCode::TOO_MANY_REQUESTS, ERROR_THROTTLING),
        ("tei-embeddings", false) => aws_json(StatusCode::OK, INVOKE_EMBEDDINGS),
        ("tgi-crashing", true) => {
            let mut bytes = payload_part(
                "data:{\"token\":{\"text\":\"Deep\",\"special\":false},\"generated_text\":null,\"details\":null}\n\n",
            );
            bytes.extend(exception_frame(
                "ModelStreamError",
                r#"{"Message": "the model container crashed", "ErrorCode": "ModelStreamError"}"#,
            ));
            event_stream(bytes)
        }
        (_, true) => {
            let parts: Vec<Value> = serde_json::from_str(STREAM_TGI).expect("fixture");
            let bytes = parts
                .iter()
                .flat_map(|part| payload_part(part["bytes"].as_str().expect("bytes")))
                .collect();
            event_stream(bytes)
        }
        (_, false) => aws_json(StatusCode::OK, INVOKE_TGI),
    }
}

fn payload_part(bytes: &str) -> Vec<u8> {
    encode(
        &Message::new(Bytes::from(bytes.to_owned()))
            .add_header(string_header(":event-type", "PayloadPart"))
            .add_header(string_header(":content-type", "application/octet-stream"))
            .add_header(string_header(":message-type", "event")),
    )
}

fn aws_json(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
