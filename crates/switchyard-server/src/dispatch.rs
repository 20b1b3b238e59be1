//! Sending one call to a deployment of its model group, within the deployment's timeout.
//! Every ingress (OpenAI chat completions, embeddings, and later the Anthropic Messages API)
//! goes through here, so they share routing, timeouts and error mapping.

use std::sync::Arc;

use switchyard_providers::{ChunkStream, ProviderError};
use switchyard_router::Deployment;
use switchyard_wire::{ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse};

use crate::error::ApiError;
use crate::state::AppState;

/// What a chat call produced.
pub enum ChatOutcome {
    /// A complete answer.
    Complete(Box<ChatResponse>),
    /// A stream that has started; chunks follow as the upstream sends them.
    Stream(ChunkStream),
}

/// A call's result with the deployment that produced it.
pub struct Dispatched<T> {
    /// The deployment that answered.
    pub deployment: Arc<Deployment>,
    /// What it answered.
    pub outcome: T,
}

/// Validates and sends a chat call; streams when the request asks for one.
pub async fn chat(
    state: &AppState,
    request: ChatRequest,
) -> Result<Dispatched<ChatOutcome>, ApiError> {
    if request.messages.is_empty() {
        return Err(ApiError::invalid_request(
            "`messages` must hold at least one message",
        ));
    }
    let deployment = pick(state, &request.model)?;
    let outcome = if request.is_stream() {
        let started = deployment.provider.chat_stream(request);
        let chunks = within(&deployment, deployment.stream_timeout, started).await?;
        ChatOutcome::Stream(chunks)
    } else {
        let answer = deployment.provider.chat(request);
        ChatOutcome::Complete(Box::new(
            within(&deployment, deployment.timeout, answer).await?,
        ))
    };
    Ok(Dispatched {
        deployment,
        outcome,
    })
}

/// Validates and sends an embeddings call.
pub async fn embeddings(
    state: &AppState,
    request: EmbeddingsRequest,
) -> Result<Dispatched<EmbeddingsResponse>, ApiError> {
    if request.input.is_empty() {
        return Err(ApiError::invalid_request("`input` must not be empty"));
    }
    let deployment = pick(state, &request.model)?;
    let answer = deployment.provider.embeddings(request);
    let outcome = within(&deployment, deployment.timeout, answer).await?;
    Ok(Dispatched {
        deployment,
        outcome,
    })
}

fn pick(state: &AppState, model: &str) -> Result<Arc<Deployment>, ApiError> {
    let group = state
        .groups()
        .get(model)
        .ok_or_else(|| ApiError::model_not_found(model))?;
    Ok(Arc::clone(group.pick()))
}

async fn within<T>(
    deployment: &Deployment,
    limit: std::time::Duration,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(limit, call).await {
        Err(_) => Err(ApiError::upstream_timeout(&deployment.id, limit)),
        Ok(Err(err)) => {
            tracing::warn!(
                deployment = %deployment.id,
                class = err.class.as_str(),
                status = err.status,
                "upstream call failed: {err}"
            );
            Err(ApiError::from_provider(&deployment.id, &err))
        }
        Ok(Ok(value)) => Ok(value),
    }
}
