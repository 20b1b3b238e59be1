//! `GET /health`, LiteLLM's upstream health check (<https://docs.litellm.ai/docs/proxy/health>):
//! every deployment (or those of `?model=`) is sent one tiny request, all at once, each within
//! its deployment's timeout and at most [`CHECK_WITHIN`], and the answer sorts them into
//! `healthy_endpoints` and `unhealthy_endpoints` with their counts. Proxy admins only (the
//! master key, or a key of a `proxy_admin` user). An endpoint is named by its model group, deployment id and upstream model; never by
//! its key or URL, and an error says only its class and status. The checks go straight to each
//! deployment: they are not routed, retried or counted against anyone's budget.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use futures_util::future::join_all;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_providers::ProviderError;
use switchyard_router::Deployment;
use switchyard_wire::{ChatMessage, ChatRequest, EmbeddingInput, EmbeddingsRequest, Role};

use crate::admin::AdminQuery;
use crate::admin::access::Principal;
use crate::error::ApiError;
use crate::model_info::mode;
use crate::pipeline::within;
use crate::state::AppState;

/// The longest one deployment's check may take, whatever its own timeout.
pub const CHECK_WITHIN: Duration = Duration::from_secs(10);

/// The query of `/health`.
#[derive(Debug, Default, Deserialize)]
pub struct HealthQuery {
    /// Only the deployments of this model group.
    #[serde(default)]
    model: Option<String>,
}

/// `GET /health`: `{"healthy_endpoints": [...], "unhealthy_endpoints": [...],
/// "healthy_count", "unhealthy_count"}`.
pub async fn check(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<HealthQuery>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/health")?;
    let deployments: Vec<_> = state
        .groups()
        .iter()
        .filter(|group| {
            query
                .model
                .as_deref()
                .is_none_or(|name| group.name() == name)
        })
        .flat_map(|group| group.deployments().iter().cloned())
        .collect();
    if deployments.is_empty()
        && let Some(name) = &query.model
    {
        return Err(ApiError::model_not_found(name));
    }
    let results = join_all(deployments.iter().map(|d| probe(d))).await;
    let (mut healthy, mut unhealthy) = (Vec::new(), Vec::new());
    for (deployment, result) in deployments.iter().zip(results) {
        let mut endpoint = json!({
            "model": format!("{}/{}", deployment.provider.family(), deployment.provider.upstream_model()),
            "model_name": deployment.model_name,
            "model_id": deployment.id,
        });
        match result {
            Ok(()) => healthy.push(endpoint),
            Err(err) => {
                let status = err
                    .status
                    .map(|s| format!(" (HTTP {s})"))
                    .unwrap_or_default();
                endpoint["error"] = json!(format!("{}{status}", err.class.as_str()));
                unhealthy.push(endpoint);
            }
        }
    }
    Ok(Json(json!({
        "healthy_count": healthy.len(),
        "unhealthy_count": unhealthy.len(),
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
    })))
}

/// One tiny call to `deployment`: embeddings of `ping` for an embedding model, else a chat
/// completion of at most one token.
async fn probe(deployment: &Deployment) -> Result<(), ProviderError> {
    let limit = deployment.timeout.min(CHECK_WITHIN);
    let provider = &deployment.provider;
    if mode(deployment) == Some("embedding") {
        let request = EmbeddingsRequest {
            model: deployment.model_name.clone(),
            input: EmbeddingInput::Text("ping".to_owned()),
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Default::default(),
        };
        return within(deployment, limit, provider.embeddings(request))
            .await
            .map(drop);
    }
    let request = ChatRequest {
        max_tokens: Some(1),
        ..ChatRequest::new(
            &deployment.model_name,
            vec![ChatMessage::text(Role::User, "ping")],
        )
    };
    within(deployment, limit, provider.chat(request))
        .await
        .map(drop)
}
