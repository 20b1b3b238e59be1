//! A fake AWS Bedrock Runtime for the end-to-end tests: Converse and ConverseStream
//! (`POST /model/{modelId}/converse` and `/converse-stream`) on a loopback port, replaying the
//! documented shapes kept in `crates/switchyard-providers/tests/fixtures/bedrock/`, streams as
//! real `application/vnd.amazon.eventstream` frames, and checking every request's SigV4
//! signature the way AWS does: recomputed from what arrived, with the known secret.
//!
//! The model id in the path chooses the answer (see [`FakeBedrock`]). InvokeModel
//! (`/invoke`, `/invoke-with-response-stream`) on the Anthropic text model answers with the
//! Anthropic extended thinking fixtures (`thinking_response.json`, `stream_thinking.sse` of
//! `fixtures/anthropic/`), streamed as `chunk` events whose `bytes` are each Anthropic event,
//! base64-encoded, as
//! <https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html>
//! documents.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::date_time::{DateTime, Format};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use crate::{Gateway, MASTER_KEY};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/switchyard-providers/tests/fixtures/bedrock/",
            $name
        ))
    };
}

/// Converse: a text answer.
pub const CONVERSE_TEXT: &str = fixture!("converse_text.json");
/// Converse: a text block and a `toolUse` block.
pub const CONVERSE_TOOL_USE: &str = fixture!("converse_tool_use.json");
/// ConverseStream: the events of a text answer.
pub const STREAM_TEXT: &str = fixture!("stream_text.json");
/// ConverseStream: the events of a text block and a streamed `toolUse` block.
pub const STREAM_TOOL_USE: &str = fixture!("stream_tool_use.json");

/// The access key id the gateway's deployments sign with.
pub const ACCESS_KEY_ID: &str = "AKIAE2EBEDROCKTEST";
/// The secret access key.
pub const SECRET_ACCESS_KEY: &str = "e2e/bedrock+secret/KEY";
/// The session token of the deployments that carry one.
pub const SESSION_TOKEN: &str = "e2e-session-token";
/// The region of every deployment.
pub const REGION: &str = "us-west-2";
/// The request id the fake answers with (`x-amzn-RequestId`).
pub const REQUEST_ID: &str = "4f5b2c7e-0d1a-4c2b-9e6f-1a2b3c4d5e6f";
/// The `retry-after` the fake sends with its 429, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 7;

/// The model ids of the fake's behaviours.
pub mod models {
    /// A text answer, whole or streamed.
    pub const TEXT: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    /// A tool call, whole or streamed.
    pub const TOOLS: &str = "us.amazon.nova-pro-v1:0";
    /// 429 `ThrottlingException` with `retry-after`.
    pub const THROTTLED: &str = "bedrock-throttled";
    /// A stream whose first message is a `throttlingException`.
    pub const STREAM_THROTTLED: &str = "bedrock-stream-throttled";
    /// 400 `ValidationException`.
    pub const INVALID: &str = "bedrock-invalid";
    /// 400 `ValidationException`: the input is too long.
    pub const TOO_LONG: &str = "bedrock-too-long";
    /// 503 `ServiceUnavailableException`.
    pub const UNAVAILABLE: &str = "bedrock-unavailable";
    /// 403 `AccessDeniedException`.
    pub const DENIED: &str = "bedrock-denied";
    /// The first events of the streamed text answer, then the connection ends.
    pub const CUT_STREAM: &str = "bedrock-cut-stream";
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct BedrockRequest {
    /// The path as it arrived, percent-encoding included.
    pub raw_path: String,
    /// The model id, decoded.
    pub model: String,
    /// `converse` or `converse-stream`.
    pub operation: String,
    /// The `authorization` header.
    pub authorization: Option<String>,
    /// The `x-amz-date` header.
    pub amz_date: Option<String>,
    /// The `x-amz-security-token` header.
    pub security_token: Option<String>,
    /// Whether the signature is the one AWS would compute for this request.
    pub signature_valid: bool,
    /// The JSON body.
    pub body: Value,
}

/// The fake Bedrock. Its answer follows the model id in the path (see [`models`]); any other
/// model is 404 `ResourceNotFoundException`, and a request whose signature does not verify
/// (signed with a key it does not know, [`FakeBedrock::accept`]) or whose bearer token is not
/// an API key it knows ([`FakeBedrock::accept_api_key`]) is 403, as AWS answers them.
pub struct FakeBedrock {
    /// `http://127.0.0.1:PORT`, ready for `api_base`.
    pub api_base: String,
    state: Arc<Fake>,
}

/// What the fake knows and what it received.
#[derive(Default)]
struct Fake {
    received: Mutex<Vec<BedrockRequest>>,
    /// Secret access keys by access key id.
    secrets: Arc<Mutex<HashMap<String, String>>>,
    api_keys: Mutex<Vec<String>>,
}

impl FakeBedrock {
    /// Starts the fake on a free loopback port, knowing [`ACCESS_KEY_ID`].
    pub async fn start() -> Self {
        let state = Arc::new(Fake::default());
        state
            .secrets
            .lock()
            .expect("lock")
            .insert(ACCESS_KEY_ID.to_owned(), SECRET_ACCESS_KEY.to_owned());
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&state));
        let addr = crate::serve_on_loopback(app).await;
        Self {
            api_base: format!("http://{addr}"),
            state,
        }
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<BedrockRequest> {
        self.state.received.lock().expect("lock").clone()
    }

    /// Takes signatures made with this key pair from now on.
    pub fn accept(&self, access_key_id: &str, secret_access_key: &str) {
        self.keys()
            .lock()
            .expect("lock")
            .insert(access_key_id.to_owned(), secret_access_key.to_owned());
    }

    /// The key pairs it takes, shared with a fake credential issuer that adds those it issues.
    pub fn keys(&self) -> Arc<Mutex<HashMap<String, String>>> {
        Arc::clone(&self.state.secrets)
    }

    /// Takes `Authorization: Bearer {key}` from now on, as Bedrock takes its API keys.
    pub fn accept_api_key(&self, key: &str) {
        self.state
            .api_keys
            .lock()
            .expect("lock")
            .push(key.to_owned());
    }
}

async fn answer(
    State(state): State<Arc<Fake>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_path = uri.path().to_owned();
    let Some((model, operation)) = raw_path
        .strip_prefix("/model/")
        .and_then(|rest| rest.rsplit_once('/'))
    else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            r#"{"message": null}"#,
        );
    };
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = BedrockRequest {
        model: percent_decode(model),
        operation: operation.to_owned(),
        authorization: text("authorization"),
        amz_date: text("x-amz-date"),
        security_token: text("x-amz-security-token"),
        signature_valid: authorized(&state, &uri, &headers, &body),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw_path,
    };
    let (model, operation, valid) = (
        request.model.clone(),
        request.operation.clone(),
        request.signature_valid,
    );
    state.received.lock().expect("lock").push(request);
    if !valid {
        return aws_error(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            r#"{"message": "The request signature we calculated does not match the signature you provided."}"#,
        );
    }
    match (model.as_str(), operation.as_str()) {
        (models::TEXT, "invoke") => return json(crate::fake_anthropic::THINKING_RESPONSE),
        (models::TEXT, "invoke-with-response-stream") => {
            return event_stream(invoke_frames(crate::fake_anthropic::STREAM_THINKING));
        }
        _ => {}
    }
    let streamed = operation == "converse-stream";
    match (model.as_str(), streamed) {
        (models::TEXT, false) => json(CONVERSE_TEXT),
        (models::TEXT, true) => event_stream(frames(STREAM_TEXT, usize::MAX)),
        (models::TOOLS, false) => json(CONVERSE_TOOL_USE),
        (models::TOOLS, true) => event_stream(frames(STREAM_TOOL_USE, usize::MAX)),
        (models::CUT_STREAM, true) => event_stream(frames(STREAM_TEXT, 3)),
        (models::STREAM_THROTTLED, true) => event_stream(exception_frame(
            "throttlingException",
            r#"{"message": "Too many tokens, please wait before trying again."}"#,
        )),
        (models::THROTTLED, _) => {
            let mut response = aws_error(
                StatusCode::TOO_MANY_REQUESTS,
                "ThrottlingException",
                fixture!("error_throttling.json"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
            response
        }
        (models::INVALID, _) => aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            fixture!("error_validation.json"),
        ),
        (models::TOO_LONG, _) => aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            fixture!("error_input_too_long.json"),
        ),
        (models::UNAVAILABLE, _) => aws_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            fixture!("error_service_unavailable.json"),
        ),
        (models::DENIED, _) => aws_error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            fixture!("error_access_denied.json"),
        ),
        _ => aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            r#"{"message": "The provided model identifier is invalid."}"#,
        ),
    }
}

/// A known API key as a bearer token, or a valid signature.
fn authorized(state: &Fake, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(key) => state
            .api_keys
            .lock()
            .expect("lock")
            .iter()
            .any(|known| known == key),
        None => signature_is_valid(
            &state.secrets.lock().expect("lock"),
            "bedrock",
            uri,
            headers,
            body,
        ),
    }
}

/// Recomputes the signature from the request as received, as AWS does: the signed headers it
/// names, its host, path and body, at its `x-amz-date`, with the secret of the access key id
/// it names, for `service` (its signing name) in [`REGION`].
pub(crate) fn signature_is_valid(
    secrets: &HashMap<String, String>,
    service: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(authorization), Some(amz_date), Some(host)) = (
        header("authorization"),
        header("x-amz-date"),
        header("host"),
    ) else {
        return false;
    };
    let Some(time) = parse_amz_date(amz_date) else {
        return false;
    };
    let Some(signed_names) = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
    else {
        return false;
    };
    // The signer adds the date, the token and the host itself.
    let pairs: Vec<(&str, &str)> = signed_names
        .split(';')
        .filter(|name| !matches!(*name, "x-amz-date" | "x-amz-security-token" | "host"))
        .filter_map(|name| Some((name, header(name)?)))
        .collect();
    let Some((key_id, secret)) = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|key_id| Some((key_id, secrets.get(key_id)?)))
    else {
        return false;
    };
    let identity: Identity = Credentials::new(
        key_id,
        secret.as_str(),
        header("x-amz-security-token").map(str::to_owned),
        None,
        "fake-bedrock",
    )
    .into();
    let Ok(params) = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
    else {
        return false;
    };
    let params = params.into();
    let Ok(request) = SignableRequest::new(
        "POST",
        format!("http://{host}{}", uri.path()),
        pairs.into_iter(),
        SignableBody::Bytes(body),
    ) else {
        return false;
    };
    let Ok(output) = sign(request, &params) else {
        return false;
    };
    output
        .output()
        .headers()
        .any(|(name, value)| name == "authorization" && value == authorization)
}

/// `20150830T123600Z` as a time.
fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    );
    SystemTime::try_from(DateTime::from_str(&iso, Format::DateTime).ok()?).ok()
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(message, &mut out).expect("frame encodes");
    out
}

pub(crate) fn string_header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

/// The first `keep` events of a fixture (`[{"event", "payload"}]`) as event stream frames.
fn frames(fixture: &str, keep: usize) -> Vec<u8> {
    let events: Vec<Value> = serde_json::from_str(fixture).expect("fixture is JSON");
    events
        .iter()
        .take(keep)
        .flat_map(|event| {
            let message = Message::new(Bytes::from(event["payload"].to_string()))
                .add_header(string_header(
                    ":event-type",
                    event["event"].as_str().expect("event type"),
                ))
                .add_header(string_header(":content-type", "application/json"))
                .add_header(string_header(":message-type", "event"));
            encode(&message)
        })
        .collect()
}

/// The events of an Anthropic SSE fixture as InvokeModelWithResponseStream `chunk` frames.
fn invoke_frames(sse: &str) -> Vec<u8> {
    sse.split("\n\n")
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
        .flat_map(|data| {
            let payload =
                serde_json::json!({"bytes": aws_smithy_types::base64::encode(data.as_bytes())});
            let message = Message::new(Bytes::from(payload.to_string()))
                .add_header(string_header(":event-type", "chunk"))
                .add_header(string_header(":content-type", "application/json"))
                .add_header(string_header(":message-type", "event"));
            encode(&message)
        })
        .collect()
}

pub(crate) fn exception_frame(kind: &str, payload: &str) -> Vec<u8> {
    encode(
        &Message::new(Bytes::from(payload.to_owned()))
            .add_header(string_header(":exception-type", kind))
            .add_header(string_header(":content-type", "application/json"))
            .add_header(string_header(":message-type", "exception")),
    )
}

/// An event stream answer, sent in small pieces so frames straddle reads.
pub(crate) fn event_stream(bytes: Vec<u8>) -> Response {
    let pieces: Vec<Result<Bytes, Infallible>> = bytes
        .chunks(11)
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(pieces)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        "application/vnd.amazon.eventstream"
            .parse()
            .expect("header"),
    );
    headers.insert("x-amzn-requestid", REQUEST_ID.parse().expect("header"));
    response
}

fn json(body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::HeaderName::from_static("x-amzn-requestid"),
                REQUEST_ID,
            ),
        ],
        body,
    )
        .into_response()
}

fn aws_error(status: StatusCode, kind: &str, body: &'static str) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    response.headers_mut().insert(
        "x-amzn-errortype",
        format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/")
            .parse()
            .expect("header"),
    );
    response
}

/// A gateway config with one `bedrock/` deployment per behaviour of [`FakeBedrock`], each
/// model group named as its upstream model id, credentials read from `BEDROCK_E2E_KEY_ID` and
/// `BEDROCK_E2E_SECRET`, all with the session token but `text-without-token`, a second
/// deployment of the text model.
pub fn bedrock_config(api_base: &str) -> String {
    let mut out = String::from("model_list:\n");
    let deployment = |name: &str, model: &str, token: bool| {
        let token = if token {
            format!("      aws_session_token: {SESSION_TOKEN}\n")
        } else {
            String::new()
        };
        format!(
            "  - model_name: '{name}'\n    litellm_params:\n      model: 'bedrock/{model}'\n      api_base: {api_base}\n      aws_access_key_id: os.environ/BEDROCK_E2E_KEY_ID\n      aws_secret_access_key: os.environ/BEDROCK_E2E_SECRET\n{token}      aws_region_name: {REGION}\n"
        )
    };
    for model in [
        models::TEXT,
        models::TOOLS,
        models::THROTTLED,
        models::STREAM_THROTTLED,
        models::INVALID,
        models::TOO_LONG,
        models::UNAVAILABLE,
        models::DENIED,
        models::CUT_STREAM,
        "bedrock-unknown",
    ] {
        out.push_str(&deployment(model, model, true));
    }
    out.push_str(&deployment("text-without-token", models::TEXT, false));
    out.push_str(&format!("general_settings:\n  master_key: {MASTER_KEY}\n"));
    out
}

/// A fake Bedrock and a gateway on [`bedrock_config`] in front of it.
pub async fn bedrock_setup() -> (FakeBedrock, Gateway) {
    let upstream = FakeBedrock::start().await;
    let config = bedrock_config(&upstream.api_base);
    let gateway = Gateway::start(
        &config,
        &[
            ("BEDROCK_E2E_KEY_ID", ACCESS_KEY_ID),
            ("BEDROCK_E2E_SECRET", SECRET_ACCESS_KEY),
        ],
    )
    .await;
    (upstream, gateway)
}
