//! OpenAI's Responses API ingress: `POST /v1/responses` translated into a chat call
//! ([`request`]), sent through the same dispatch as `/v1/chat/completions` (keys, allow-lists,
//! budgets, rate limits, cache, routing, spend, traces), and answered as a response object
//! ([`response`]) or its event stream ([`stream`]); `GET` and `DELETE /v1/responses/{id}` over
//! the responses kept in the store ([`stored`]).
//!
//! Every provider is served by translation, OpenAI's and Azure's too: the gateway does not
//! pass Responses calls through to upstreams' own `/responses`. Failures answer in OpenAI's
//! error shape, as on every OpenAI route. Reference:
//! <https://platform.openai.com/docs/api-reference/responses>.

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

use crate::body::JsonBody;
use crate::caller::Caller;
use crate::dispatch::{self, ChatOutcome, Dispatched};
use crate::error::ApiError;
use crate::routes::tag_route;
use crate::state::AppState;

/// `POST /v1/responses`: a response object, or its event stream when `stream` is true. The
/// response is stored, with the conversation that led to it, unless `store` is false.
pub async fn create_response(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ResponsesRequest>,
) -> Result<Response, ApiError> {
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
pub async fn delete_response(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<DeletedResponse>, ApiError> {
    stored::delete(&state, &caller, &id).await?;
    Ok(Json(DeletedResponse {
        id,
        object: "response".to_owned(),
        deleted: true,
    }))
}
