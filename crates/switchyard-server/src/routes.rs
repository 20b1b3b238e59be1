//! The HTTP API: chat completions, embeddings, the model list and health checks.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use serde_json::json;
use switchyard_router::Deployment;
use switchyard_wire::{ChatRequest, EmbeddingsRequest, Model, ModelList};

use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;
use crate::stream::sse_response;

/// Response header naming the deployment that answered.
pub const DEPLOYMENT_HEADER: &str = "x-switchyard-deployment";

/// `POST /v1/chat/completions`: a complete answer, or a stream when `stream` is true.
pub async fn chat_completions(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    if request.messages.is_empty() {
        return Err(ApiError::invalid_request(
            "`messages` must hold at least one message",
        ));
    }
    let group = state
        .groups()
        .get(&request.model)
        .ok_or_else(|| ApiError::model_not_found(&request.model))?;
    let deployment = Arc::clone(group.pick());
    let mut response = if request.is_stream() {
        let include_usage = request.wants_stream_usage();
        let started = deployment.provider.chat_stream(request);
        let chunks = tokio::time::timeout(deployment.stream_timeout, started)
            .await
            .map_err(|_| ApiError::upstream_timeout(&deployment.id, deployment.stream_timeout))?
            .map_err(|err| upstream_failure(&deployment, &err))?;
        sse_response(Arc::from(deployment.id.as_str()), chunks, include_usage)
    } else {
        let answer = tokio::time::timeout(deployment.timeout, deployment.provider.chat(request))
            .await
            .map_err(|_| ApiError::upstream_timeout(&deployment.id, deployment.timeout))?
            .map_err(|err| upstream_failure(&deployment, &err))?;
        Json(answer).into_response()
    };
    tag_deployment(&mut response, &deployment);
    Ok(response)
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<EmbeddingsRequest>,
) -> Result<Response, ApiError> {
    if request.input.is_empty() {
        return Err(ApiError::invalid_request("`input` must not be empty"));
    }
    let group = state
        .groups()
        .get(&request.model)
        .ok_or_else(|| ApiError::model_not_found(&request.model))?;
    let deployment = Arc::clone(group.pick());
    let answer = tokio::time::timeout(deployment.timeout, deployment.provider.embeddings(request))
        .await
        .map_err(|_| ApiError::upstream_timeout(&deployment.id, deployment.timeout))?
        .map_err(|err| upstream_failure(&deployment, &err))?;
    let mut response = Json(answer).into_response();
    tag_deployment(&mut response, &deployment);
    Ok(response)
}

fn upstream_failure(
    deployment: &Deployment,
    err: &switchyard_providers::ProviderError,
) -> ApiError {
    tracing::warn!(
        deployment = %deployment.id,
        class = err.class.as_str(),
        status = err.status,
        "upstream call failed: {err}"
    );
    ApiError::from_provider(&deployment.id, err)
}

fn tag_deployment(response: &mut Response, deployment: &Deployment) {
    if let Ok(value) = HeaderValue::from_str(&deployment.id) {
        response.headers_mut().insert(DEPLOYMENT_HEADER, value);
    }
}

/// `GET /v1/models`: every configured model group.
pub async fn models(State(state): State<AppState>) -> Json<ModelList> {
    let created = state.started_at();
    let data = state
        .groups()
        .iter()
        .map(|group| Model {
            id: group.name().to_owned(),
            object: "model".to_owned(),
            created,
            owned_by: "switchyard".to_owned(),
        })
        .collect();
    Json(ModelList::new(data))
}

/// `GET /health/liveness`: the process is up.
pub async fn liveness() -> Json<serde_json::Value> {
    Json(json!({"status": "alive"}))
}

/// `GET /health/readiness`: the gateway is configured and serving.
pub async fn readiness(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({"status": "ready", "models": state.groups().len()}))
}
