//! OpenAI's Responses API on the fake OpenAI upstream ([`crate::FakeUpstream`]'s
//! `POST /v1/responses`, and Azure OpenAI's `POST /openai/v1/responses` at its root), replaying the documented fixtures of
//! `crates/switchyard-providers/tests/fixtures/openai/` (see the README there for where each
//! comes from). The model a request names chooses the answer:
//!
//! - `refused`: 400 with [`ERROR_INVALID_REQUEST`];
//! - a model starting with `o4` (a reasoning model): [`RESPONSES_REASONING`];
//! - anything else: [`RESPONSES_TEXT`];
//! - any model with `"stream": true`: [`STREAM_REASONING`]; for `cut`, only its first
//!   [`CUT_AFTER`] events, then the body ends.
//!
//! Each answer's response id gets the number of the request appended (`resp_..._3`), as
//! OpenAI's ids are unique per response. `DELETE` of a response answers OpenAI's deletion
//! object (<https://platform.openai.com/docs/api-reference/responses/delete>) whatever the id.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::{UpstreamState, recorded_json};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../crates/switchyard-providers/tests/fixtures/openai/",
            $name
        ))
    };
}

/// The reference example of a response object
/// (https://platform.openai.com/docs/api-reference/responses/object).
pub const RESPONSES_TEXT: &str = fixture!("responses_text.json");
/// A reasoning model's answer with a `reasoning` item carrying `encrypted_content`
/// (https://platform.openai.com/docs/guides/reasoning#encrypted-reasoning-items).
pub const RESPONSES_REASONING: &str = fixture!("responses_reasoning.json");
/// The same answer streamed (https://platform.openai.com/docs/api-reference/responses-streaming).
pub const STREAM_REASONING: &str = fixture!("responses_stream_reasoning.sse");
/// A documented 400 body (https://platform.openai.com/docs/guides/error-codes).
pub const ERROR_INVALID_REQUEST: &str = fixture!("error_invalid_request.json");

/// How many events of [`STREAM_REASONING`] the `cut` model sends before its body ends.
pub const CUT_AFTER: usize = 4;

/// The response id of [`RESPONSES_TEXT`].
pub const TEXT_ID: &str = "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b";
/// The response id of [`RESPONSES_REASONING`] and [`STREAM_REASONING`].
pub const REASONING_ID: &str = "resp_68af4030592c81938ec0a5fbab4a3e9f05438e46b5f69a3b";

/// The id a fixture's response gets in answer to request number `n`.
pub fn numbered(id: &str, n: usize) -> String {
    format!("{id}_{n}")
}

pub(crate) async fn responses(
    State(state): State<UpstreamState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match recorded_json(&state, uri.path(), &headers, &body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let n = state.received.lock().expect("lock").len();
    let model = body["model"].as_str().unwrap_or_default();
    if model == "refused" {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            ERROR_INVALID_REQUEST,
        )
            .into_response();
    }
    if body["stream"] == true {
        let mut text = STREAM_REASONING.replace(REASONING_ID, &numbered(REASONING_ID, n));
        if model == "cut" {
            // The comment, then the first events: each ends with a blank line.
            let kept: Vec<&str> = text.split_inclusive("\n\n").take(1 + CUT_AFTER).collect();
            text = kept.concat();
        }
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from(text),
        )
            .into_response();
    }
    let (fixture, id) = if model.starts_with("o4") {
        (RESPONSES_REASONING, REASONING_ID)
    } else {
        (RESPONSES_TEXT, TEXT_ID)
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        fixture.replace(id, &numbered(id, n)),
    )
        .into_response()
}

pub(crate) async fn deleted(
    State(state): State<UpstreamState>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    crate::record(&state, uri.path(), &headers, &serde_json::Value::Null);
    axum::Json(serde_json::json!({"id": id, "object": "response", "deleted": true})).into_response()
}
