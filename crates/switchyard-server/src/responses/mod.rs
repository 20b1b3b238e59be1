//! OpenAI's Responses API ingress: `POST /v1/responses` translated into a chat call
//! ([`request`]), sent through the same dispatch as `/v1/chat/completions` (keys, allow-lists,
//! budgets, rate limits, cache, routing, spend, traces), and answered as a response object
//! ([`response`]) or its event stream ([`stream`]); `GET` and `DELETE /v1/responses/{id}` over
//! the responses kept in the store ([`stored`]).
//!
//! A model group whose deployments all speak the Responses API (OpenAI's and Azure OpenAI's) is
//! served by passing the call through to the upstream's own `/responses` ([`native`]); any
//! other (Anthropic, Gemini, Bedrock, other OpenAI-compatible servers, and groups mixing those
//! with OpenAI's) by translation. Failures answer in OpenAI's error shape, as on every OpenAI
//! route. Reference:
//! <https://platform.openai.com/docs/api-reference/responses>.

mod native;
mod reasoning;
mod request;
mod response;
mod stored;
mod stream;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::HeaderMap;
use switchyard_wire::responses::{DeletedResponse, ResponsesRequest};

use switchyard_providers::native::NativeApi;
use switchyard_wire::RawExtra;

use crate::body::JsonBody;
use crate::caller::Caller;
use crate::dispatch::{self, ChatOutcome, Dispatched};
use crate::error::ApiError;
use crate::native::{serves_natively, typed};
use crate::routes::tag_route;
use crate::state::AppState;

/// `POST /v1/responses`: a response object, or its event stream when `stream` is true. Passed
/// through to a model group whose deployments all speak the Responses API
/// ([`crate::native::serves_natively`]); translated to a chat call otherwise, the response
/// stored with the conversation that led to it unless `store` is false.
pub async fn create_response(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RawExtra>,
) -> Result<Response, ApiError> {
    let passed_through = body
        .get("model")
        .and_then(|model| model.parse::<String>().ok())
        .is_some_and(|model| serves_natively(&state, &caller, &model, NativeApi::Responses));
    if passed_through {
        return native::create(state, caller, &headers, body).await;
    }
    let request: ResponsesRequest = typed(&body)?;
    let mut conversation = match &request.previous_response_id {
        Some(id) => stored::conversation(&state, &caller, id).await?,
        None => Vec::new(),
    };
    conversation.extend(request.input_items());
    if conversation.is_empty() {
        return Err(ApiError::invalid_request(
            "Missing required parameter: 'input'.",
        ));
    }
    let template = response::template(&request);
    let chat = request::to_chat_request(request, &conversation)?;
    let keeper = template
        .store
        .then(|| stored::Keeper::new(&state, &caller, conversation));
    let Dispatched { route, outcome } = dispatch::chat(&state, chat, &headers, caller).await?;
    let mut answer = match outcome {
        ChatOutcome::Complete(answer) => {
            let response = response::to_response(*answer, template);
            if let Some(keeper) = keeper {
                keeper.keep(&response).await;
            }
            Json(response).into_response()
        }
        ChatOutcome::Stream(chunks) => {
            let on_complete = keeper.map(|keeper| -> stream::OnComplete {
                Box::new(move |response| Box::pin(async move { keeper.keep(&response).await }))
            });
            stream::sse_response(route.answered_by(), chunks, template, on_complete)
        }
    };
    tag_route(&mut answer, &route);
    Ok(answer)
}

/// `GET /v1/responses/{id}`: a response the calling key stored; 404 for any other.
pub async fn get_response(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let stored = stored::find(&state, &caller, &id).await?;
    Ok((
        [(http::header::CONTENT_TYPE, "application/json")],
        stored.response,
    )
        .into_response())
}

/// `DELETE /v1/responses/{id}`: deletes a response the calling key stored; 404 for any other.
/// A response held upstream is deleted there first (the gateway's record stays when the
/// upstream fails to, so that the client may try again).
pub async fn delete_response(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<DeletedResponse>, ApiError> {
    let stored = stored::find(&state, &caller, &id).await?;
    if let Some(deployment) = &stored.deployment {
        native::delete_upstream(&state, deployment, &id).await?;
    }
    stored::delete(&state, &caller, &id).await?;
    Ok(Json(DeletedResponse {
        id,
        object: "response".to_owned(),
        deleted: true,
    }))
}
