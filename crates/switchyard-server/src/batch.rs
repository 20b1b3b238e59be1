//! LiteLLM's batch completions on `/v1/chat/completions`: a `model` of comma-separated model
//! names sends the one request to each (LiteLLM's proxy docs, "Batch Completions - pass model
//! as List", and <https://docs.litellm.ai/docs/completion/batching>).
//!
//! - By default every model answers, at once, and the answer is a JSON array of
//!   `chat.completion` objects in the order the models were named; a model whose call failed
//!   holds its OpenAI error body (`{"error": {...}}`) in its place. Batches do not stream.
//! - With `"fastest_response": true` the first model to answer (or start its stream) answers
//!   alone, as a normal chat completion. Unlike LiteLLM, the others are not cancelled: they run
//!   to their end in the background, so that each is recorded and charged for what it used.
//!
//! Every model (or the model it is an alias of) must be in the key's allow-list, or nothing is
//! sent (403); each call is then a chat call of its own, with its own rate limits, budget
//! reservation and spend record.

use axum::Json;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::future::join_all;
use futures_util::stream::FuturesUnordered;
use http::HeaderMap;
use serde_json::Value;
use switchyard_wire::ChatRequest;

use crate::caller::Caller;
use crate::dispatch::{self, ChatOutcome, Dispatched};
use crate::error::ApiError;
use crate::routes::respond_chat;
use crate::state::AppState;

/// Whether `model` asks for a batch.
pub fn is_batch(model: &str) -> bool {
    model.contains(',')
}

/// Sends `request` to each model its `model` names and answers as the module says.
pub async fn answer(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    mut request: ChatRequest,
) -> Result<Response, ApiError> {
    let models: Vec<String> = request
        .model
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect();
    if models.is_empty() {
        return Err(ApiError::invalid_request("`model` names no model"));
    }
    // Checked as each call will be (aliases followed), before any is sent.
    if let Some(refused) = models
        .iter()
        .find_map(|model| dispatch::admit_model(state, &caller, &mut model.clone()).err())
    {
        return Err(refused);
    }
    let fastest = match request.extra.take_value("fastest_response") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(fastest)) => fastest,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "`fastest_response` must be true or false",
            ));
        }
    };
    let calls = models.into_iter().map(|model| ChatRequest {
        model,
        ..request.clone()
    });
    if fastest {
        return fastest_answer(state, caller, headers, &request, calls).await;
    }
    if request.is_stream() {
        return Err(ApiError::invalid_request(
            "a batch of models does not stream; send `fastest_response: true` to stream the \
             first model's answer",
        ));
    }
    let answers =
        join_all(calls.map(|call| dispatch::chat(state, call, headers, caller.clone()))).await;
    let items: Vec<Value> = answers
        .into_iter()
        .map(|answer| match answer {
            Ok(Dispatched {
                outcome: ChatOutcome::Complete(answer),
                ..
            }) => serde_json::to_value(answer).unwrap_or(Value::Null),
            Ok(Dispatched { .. }) => Value::Null,
            Err(err) => serde_json::to_value(err.body()).unwrap_or(Value::Null),
        })
        .collect();
    Ok(Json(items).into_response())
}

/// The first model to answer; each call runs as a task of its own, so those that lose still
/// finish (and are charged) rather than being dropped halfway.
async fn fastest_answer(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    request: &ChatRequest,
    calls: impl Iterator<Item = ChatRequest>,
) -> Result<Response, ApiError> {
    let include_usage = request.wants_stream_usage();
    let mut running: FuturesUnordered<_> = calls
        .map(|call| {
            let (state, headers, caller) = (state.clone(), headers.clone(), caller.clone());
            tokio::spawn(async move { dispatch::chat(&state, call, &headers, caller).await })
        })
        .collect();
    let mut first_error = None;
    while let Some(joined) = running.next().await {
        match joined {
            Ok(Ok(dispatched)) => return Ok(respond_chat(dispatched, include_usage)),
            Ok(Err(err)) => {
                first_error.get_or_insert(err);
            }
            Err(join) => {
                first_error.get_or_insert(ApiError::internal(format!(
                    "a call of the batch failed: {join}"
                )));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| ApiError::invalid_request("`model` names no model")))
}
