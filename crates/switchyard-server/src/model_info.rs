//! What a caller may learn of the models it can call, in LiteLLM's shapes: `GET
//! /model_group/info` (one entry per model group: providers, token limits, prices, rate limits,
//! mode, the OpenAI parameters it takes; LiteLLM's API reference, "Model Group Info") and `GET
//! /v2/model/info` (one entry per deployment: `model_name`, `litellm_params.model`,
//! `model_info`). Both list only the groups the caller's key may call, as LiteLLM scopes them,
//! and never show a deployment's key or upstream URL.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_layers::cost::{Mode, PriceCatalog};
use switchyard_router::{Deployment, ModelGroup};

use crate::admin::AdminQuery;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The query of both routes.
#[derive(Debug, Default, Deserialize)]
pub struct InfoQuery {
    /// Only this model group (`/model_group/info?model_group=...`).
    #[serde(default)]
    model_group: Option<String>,
    /// Only this deployment (`/v2/model/info?model_id=...`, `litellm_model_id` in LiteLLM's
    /// v1 route).
    #[serde(default, alias = "litellm_model_id")]
    model_id: Option<String>,
}

/// The model groups `caller` may call, filtered by `only` when given.
fn visible_groups<'a>(
    state: &'a AppState,
    caller: &'a Caller,
    only: Option<&'a str>,
) -> impl Iterator<Item = &'a ModelGroup> {
    state
        .groups()
        .iter()
        .filter(move |group| caller.may_call(group.name()))
        .filter(move |group| only.is_none_or(|name| group.name() == name))
}

/// `GET /model_group/info`: `{"data": [{"model_group", "providers", "max_input_tokens",
/// "max_output_tokens", "input_cost_per_token", "output_cost_per_token", "mode", "tpm", "rpm",
/// "supports_function_calling", "supports_vision", "supports_parallel_function_calling",
/// "supported_openai_params"}]}`. Over a group's deployments, limits and prices are the
/// largest (what a call may reach), `tpm`/`rpm` the sum, as LiteLLM adds them up.
pub async fn model_group_info(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AdminQuery(query): AdminQuery<InfoQuery>,
) -> Result<Json<Value>, ApiError> {
    let data: Vec<Value> = visible_groups(&state, &caller, query.model_group.as_deref())
        .map(|group| group_info(&state, group))
        .collect();
    if data.is_empty()
        && let Some(name) = &query.model_group
    {
        return Err(ApiError::model_not_found(name));
    }
    Ok(Json(json!({"data": data})))
}

fn group_info(state: &AppState, group: &ModelGroup) -> Value {
    let deployments = group.deployments();
    let mut providers: Vec<&str> = Vec::new();
    for d in deployments {
        let family = d.provider.family();
        if !providers.contains(&family) {
            providers.push(family);
        }
    }
    let largest = |value: &dyn Fn(&Deployment) -> Option<f64>| {
        deployments.iter().filter_map(|d| value(d)).reduce(f64::max)
    };
    let limit = |value: &dyn Fn(&Deployment) -> Option<u64>| {
        deployments.iter().filter_map(|d| value(d)).max()
    };
    let sum = |value: &dyn Fn(&Deployment) -> Option<u64>| {
        let known: Vec<u64> = deployments.iter().filter_map(|d| value(d)).collect();
        (known.len() == deployments.len() && !known.is_empty()).then(|| known.iter().sum::<u64>())
    };
    let params = deployments
        .first()
        .map(|d| d.provider.supported_openai_params())
        .unwrap_or_default();
    json!({
        "model_group": group.name(),
        "providers": providers,
        "max_input_tokens": limit(&|d| state.token_limits(&d.id).input),
        "max_output_tokens": limit(&|d| state.token_limits(&d.id).output),
        "input_cost_per_token": largest(&|d| state.price(&d.id).map(|p| p.input_per_token)),
        "output_cost_per_token": largest(&|d| state.price(&d.id).map(|p| p.output_per_token)),
        "mode": deployments.first().and_then(|d| mode(d)),
        "tpm": sum(&|d| d.limits.tpm),
        "rpm": sum(&|d| d.limits.rpm),
        "supports_function_calling": params.contains(&"tools"),
        "supports_parallel_function_calling": false,
        "supports_vision": false,
        "supported_openai_params": params,
    })
}

/// `GET /v2/model/info`: `{"data": [{"model_name", "litellm_params": {"model"}, "model_info":
/// {"id", "litellm_provider", "mode", "max_input_tokens", "max_output_tokens",
/// "input_cost_per_token", "output_cost_per_token", "rpm", "tpm", "db_model"}}]}` for each
/// deployment of the groups the caller may call; `litellm_params` holds the model only (no key,
/// no `api_base`).
pub async fn model_info_v2(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    AdminQuery(query): AdminQuery<InfoQuery>,
) -> Json<Value> {
    let data: Vec<Value> = visible_groups(&state, &caller, query.model_group.as_deref())
        .flat_map(|group| group.deployments().iter())
        .filter(|d| query.model_id.as_deref().is_none_or(|id| d.id == id))
        .map(|d| {
            let price = state.price(&d.id);
            let limits = state.token_limits(&d.id);
            json!({
                "model_name": d.model_name,
                "litellm_params": {
                    "model": format!("{}/{}", d.provider.family(), d.provider.upstream_model()),
                },
                "model_info": {
                    "id": d.id,
                    "litellm_provider": d.provider.family(),
                    "mode": mode(d),
                    "max_input_tokens": limits.input,
                    "max_output_tokens": limits.output,
                    "input_cost_per_token": price.map(|p| p.input_per_token),
                    "output_cost_per_token": price.map(|p| p.output_per_token),
                    "rpm": d.limits.rpm,
                    "tpm": d.limits.tpm,
                    "supported_openai_params": d.provider.supported_openai_params(),
                    "db_model": false,
                },
            })
        })
        .collect();
    Json(json!({"data": data}))
}

/// The kind of calls a deployment's model serves, as LiteLLM's model list names it, when the
/// price catalog knows the model.
pub(crate) fn mode(deployment: &Deployment) -> Option<&'static str> {
    let catalog = PriceCatalog::embedded();
    let upstream = deployment.provider.upstream_model();
    let entry = catalog
        .get(upstream)
        .or_else(|| catalog.get(&format!("{}/{upstream}", deployment.provider.family())))?;
    match entry.mode {
        Mode::Chat => Some("chat"),
        Mode::Completion => Some("completion"),
        Mode::Embedding => Some("embedding"),
        Mode::Responses => Some("responses"),
        _ => None,
    }
}
