//! Azure OpenAI's routes, as LiteLLM serves them for the Azure SDKs:
//! `POST /openai/deployments/{model}/chat/completions`, `.../completions` and
//! `.../embeddings`. The path's deployment is the model name (it replaces a `model` in the
//! body, as LiteLLM's proxy takes it: path before body); the `api-version` query is accepted and
//! ignored; the key may come in Azure's `api-key` header ([`crate::auth`]). Each is the same
//! call as its OpenAI route, with the same key checks, budgets, limits and accounting.

use axum::Extension;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request, State};
use axum::response::Response;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use switchyard_wire::{ChatRequest, CompletionRequest, EmbeddingsRequest};

use crate::body::parse_with_model;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::routes::{answer_chat, answer_completion, answer_whole};
use crate::state::AppState;

/// A JSON request body whose model is the deployment the path names.
#[derive(Debug)]
pub struct DeploymentBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for DeploymentBody<T>
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Path(model) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(|rejection| ApiError::invalid_request(rejection.body_text()))?;
        let bytes = crate::body::read(Request::from_parts(parts, body), state).await?;
        parse_with_model(&bytes, &model).map(Self)
    }
}

/// `POST /openai/deployments/{model}/chat/completions`.
pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    DeploymentBody(request): DeploymentBody<ChatRequest>,
) -> Result<Response, ApiError> {
    answer_chat(&state, caller, &headers, request).await
}

/// `POST /openai/deployments/{model}/completions`.
pub async fn completions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    DeploymentBody(request): DeploymentBody<CompletionRequest>,
) -> Result<Response, ApiError> {
    answer_completion(&state, caller, &headers, request).await
}

/// `POST /openai/deployments/{model}/embeddings`.
pub async fn embeddings(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    DeploymentBody(request): DeploymentBody<EmbeddingsRequest>,
) -> Result<Response, ApiError> {
    answer_whole(&state, caller, &headers, request).await
}
