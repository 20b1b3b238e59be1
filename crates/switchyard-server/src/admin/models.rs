//! `GET /model/info`: every deployment of every model group with its live state in this
//! replica (calls in flight, requests and tokens counted this minute — every replica's, when
//! usage is shared through Redis — cooldown and observed latency), for operators and for
//! checking that replicas agree.

use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::access::Principal;
use crate::caller::Caller;
use crate::state::AppState;

/// `GET /model/info`: `{"data": [{"model_name", "model_info": {...}}, ...]}`, LiteLLM's shape.
/// Admins and viewers see every deployment; any other key those of the models it may call, as
/// LiteLLM shows a key "just the models it has access to".
pub async fn info(
    State(state): State<AppState>,
    principal: Principal,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let router = state.router();
    let now = router.now_ms();
    let data: Vec<Value> = state
        .groups()
        .iter()
        .filter(|group| principal.reads_all() || state.may_call(&caller, group.name()))
        .flat_map(|group| group.deployments().iter())
        .map(|d| {
            json!({
                "model_name": d.model_name,
                "model_info": {
                    "id": d.id,
                    "provider": d.provider.family(),
                    "upstream_model": d.provider.upstream_model(),
                    "rpm": d.limits.rpm,
                    "tpm": d.limits.tpm,
                    "max_parallel_requests": d.limits.max_parallel_requests,
                    "in_flight": d.stats.in_flight(),
                    "requests_this_minute": d.stats.requests_this_minute(now),
                    "tokens_this_minute": d.stats.tokens_this_minute(now),
                    "cooling_down": d.stats.cooling_down(now),
                    "mean_latency_ms": d.stats.mean_latency().map(|l| l.as_secs_f64() * 1e3),
                    "p95_latency_ms": d.stats.latency_percentile(0.95).map(|l| l.as_secs_f64() * 1e3),
                }
            })
        })
        .collect();
    Json(json!({"data": data}))
}
