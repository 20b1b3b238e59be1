//! The audio routes: `POST /v1/audio/speech` (a JSON request; the upstream's audio streamed
//! back as it arrives, with its media type) and `POST /v1/audio/transcriptions` (a
//! `multipart/form-data` upload: `file`, `model` and the other fields, sent on as an upload),
//! as OpenAI documents them (<https://platform.openai.com/docs/api-reference/audio>), each on
//! the shared path of calls answered whole.

use axum::Extension;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use switchyard_providers::audio::{AudioFile, TranscriptionRequest};
use switchyard_wire::SpeechRequest;

use crate::body::JsonBody;
use crate::caller::Caller;
use crate::dispatch::Dispatched;
use crate::dispatch::unary::unary;
use crate::error::ApiError;
use crate::routes::tag_route;
use crate::state::AppState;

/// `POST /v1/audio/speech`.
pub async fn speech(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<SpeechRequest>,
) -> Result<Response, ApiError> {
    let Dispatched { route, outcome } = unary(&state, request, &headers, caller).await?;
    let mut response = Response::new(Body::from_stream(outcome.body));
    set_content_type(&mut response, &outcome.content_type);
    tag_route(&mut response, &route);
    Ok(response)
}

/// `POST /v1/audio/transcriptions`.
pub async fn transcriptions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let request = read_upload(&state, request).await?;
    let Dispatched { route, outcome } = unary(&state, request, &headers, caller).await?;
    let mut response = outcome.body.into_response();
    set_content_type(&mut response, &outcome.content_type);
    tag_route(&mut response, &route);
    Ok(response)
}

fn set_content_type(response: &mut Response, content_type: &str) {
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
}

/// Reads a transcription upload within the body limits every request has (size, deadline, no
/// encoding): `file` and `model` are required; every other field is kept as text, in order.
async fn read_upload(state: &AppState, request: Request) -> Result<TranscriptionRequest, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = crate::body::read(Request::from_parts(parts.clone(), body), state).await?;
    let rebuilt = Request::from_parts(parts, Body::from(bytes));
    let invalid = |err: &dyn std::fmt::Display| {
        ApiError::invalid_request(format!("invalid multipart/form-data upload: {err}"))
    };
    let mut form = Multipart::from_request(rebuilt, state)
        .await
        .map_err(|rejection| invalid(&rejection.body_text()))?;
    let (mut model, mut file, mut fields) = (None, None, Vec::new());
    while let Some(field) = form.next_field().await.map_err(|err| invalid(&err))? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let filename = field.file_name().unwrap_or("audio").to_owned();
            let content_type = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|err| invalid(&err))?;
            file = Some(AudioFile {
                filename,
                content_type,
                bytes,
            });
            continue;
        }
        let value = field.text().await.map_err(|err| invalid(&err))?;
        if name == "model" {
            model = Some(value);
        } else {
            fields.push((name, value));
        }
    }
    Ok(TranscriptionRequest {
        model: model
            .ok_or_else(|| ApiError::invalid_request("the upload needs a `model` field"))?,
        file: file.ok_or_else(|| ApiError::invalid_request("the upload needs a `file` field"))?,
        fields,
    })
}
