//! The HTTP API: chat and legacy text completions, calls answered whole (embeddings,
//! moderations, images, rerank), the model list, health checks and metrics.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use switchyard_wire::{ChatRequest, Completion, CompletionRequest, Model, ModelList};

use crate::body::JsonBody;
use crate::caller::Caller;
use crate::dispatch::unary::{UnaryCall, unary};
use crate::dispatch::{self, ChatOutcome, Dispatched, Route};
use crate::error::ApiError;
use crate::live::Live;
use crate::state::AppState;
use crate::stream::{completion_sse_response, sse_response};

/// Response header naming the deployment that answered.
pub const DEPLOYMENT_HEADER: HeaderName = HeaderName::from_static("x-switchyard-deployment");
/// Response header with the cost of a complete answer in US dollars, at the catalog's list price.
pub const COST_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cost-usd");
/// Response header saying whether the response cache answered: `HIT`, `MISS` or `BYPASS`
/// (absent when the cache is off).
pub const CACHE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache");
/// Response header with the gateway's id of the call, as its spend record and log line hold it.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-switchyard-request-id");
/// Response header counting the upstream attempts a call took.
pub const ATTEMPTS_HEADER: HeaderName = HeaderName::from_static("x-switchyard-attempts");
/// Response header naming the requested model group when a fallback group answered.
pub const FALLBACK_FROM_HEADER: HeaderName = HeaderName::from_static("x-switchyard-fallback-from");
/// Response header naming the A/B experiment the call took part in.
pub const EXPERIMENT_HEADER: HeaderName = HeaderName::from_static("x-switchyard-experiment");
/// Response header naming the experiment's variant that served the call.
pub const VARIANT_HEADER: HeaderName = HeaderName::from_static("x-switchyard-variant");
/// Response header explaining a routing rule's choice, such as
/// `rule=auto kind=complexity chose=big: 2600 chars > 2000, 0 keyword hits`.
pub const ROUTE_REASON_HEADER: HeaderName = HeaderName::from_static("x-switchyard-route-reason");
/// The longest route reason sent; longer ones are cut and end in `...`.
const MAX_REASON_LEN: usize = 256;

/// LiteLLM's response headers (<https://docs.litellm.ai/docs/proxy/response_headers>), sent
/// beside Switchyard's own. `x-litellm-model-api-base` is not sent: upstream URLs are not
/// shown to clients; nor are `x-litellm-overhead-duration-ms` and `x-litellm-max-fallbacks`.
pub mod litellm_headers {
    use http::HeaderName;

    /// The call's id: the `id` of a chat answer and of the call's spend record.
    pub const CALL_ID: HeaderName = HeaderName::from_static("x-litellm-call-id");
    /// The deployment that answered (its `model_info.id`).
    pub const MODEL_ID: HeaderName = HeaderName::from_static("x-litellm-model-id");
    /// The model group that served the call.
    pub const MODEL_GROUP: HeaderName = HeaderName::from_static("x-litellm-model-group");
    /// What a complete answer cost, in US dollars.
    pub const RESPONSE_COST: HeaderName = HeaderName::from_static("x-litellm-response-cost");
    /// Retries within groups: attempts beyond the first of each group attempted.
    pub const ATTEMPTED_RETRIES: HeaderName =
        HeaderName::from_static("x-litellm-attempted-retries");
    /// Fallback groups attempted.
    pub const ATTEMPTED_FALLBACKS: HeaderName =
        HeaderName::from_static("x-litellm-attempted-fallbacks");
    /// What the key had spent in its budget window before the call (keys with a budget).
    pub const KEY_SPEND: HeaderName = HeaderName::from_static("x-litellm-key-spend");
    /// Milliseconds from the request's arrival to the answer's headers.
    pub const RESPONSE_DURATION_MS: HeaderName =
        HeaderName::from_static("x-litellm-response-duration-ms");
    /// The proxy's version: Switchyard's.
    pub const VERSION: HeaderName = HeaderName::from_static("x-litellm-version");
}

/// `POST /v1/chat/completions`: a complete answer, or a stream when `stream` is true.
pub async fn chat_completions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    answer_chat(&state, caller, &headers, request).await
}

/// Sends a chat call and answers it, for every route that serves chat completions; a `model`
/// of comma-separated names is a batch ([`crate::batch`]).
pub(crate) async fn answer_chat(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    request: ChatRequest,
) -> Result<Response, ApiError> {
    if crate::batch::is_batch(&request.model) {
        return crate::batch::answer(state, caller, headers, request).await;
    }
    let include_usage = request.wants_stream_usage();
    let dispatched = dispatch::chat(state, request, headers, caller).await?;
    Ok(respond_chat(dispatched, include_usage))
}

/// A chat call's answer: the completion as JSON, or its stream as server-sent events, with the
/// route's headers.
pub(crate) fn respond_chat(dispatched: Dispatched<ChatOutcome>, include_usage: bool) -> Response {
    let Dispatched { route, outcome } = dispatched;
    let mut response = match outcome {
        ChatOutcome::Complete(answer) => Json(answer).into_response(),
        ChatOutcome::Stream(chunks) => sse_response(route.answered_by(), chunks, include_usage),
    };
    tag_route(&mut response, &route);
    response
}

/// `POST /v1/completions`: a legacy text completion
/// (<https://platform.openai.com/docs/api-reference/completions>), complete or streamed, as
/// LiteLLM serves it: passed to upstreams with a completions API, through chat on the others.
pub async fn completions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CompletionRequest>,
) -> Result<Response, ApiError> {
    answer_completion(&state, caller, &headers, request).await
}

/// Sends a text completion and answers it, for every route that serves them.
pub(crate) async fn answer_completion(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    request: CompletionRequest,
) -> Result<Response, ApiError> {
    let include_usage = request
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let Dispatched { route, outcome } =
        dispatch::text_completion(state, request, headers, caller).await?;
    let mut response = match outcome {
        ChatOutcome::Complete(answer) => Json(Completion::from_chat(*answer)).into_response(),
        ChatOutcome::Stream(chunks) => {
            completion_sse_response(route.answered_by(), chunks, include_usage)
        }
    };
    tag_route(&mut response, &route);
    Ok(response)
}

/// `POST /v1/embeddings`, `/v1/moderations`, `/v1/images/generations`, `/v1/rerank` (and
/// their other paths): a call answered whole, in its JSON shape.
pub(crate) async fn answered_whole<C>(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<C>,
) -> Result<Response, ApiError>
where
    C: UnaryCall + DeserializeOwned,
    C::Answer: Serialize,
{
    answer_whole(&state, caller, &headers, request).await
}

/// Sends a call answered whole and answers it as JSON, for every route that serves its kind.
pub(crate) async fn answer_whole<C>(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    request: C,
) -> Result<Response, ApiError>
where
    C: UnaryCall,
    C::Answer: Serialize,
{
    let Dispatched { route, outcome } = unary(state, request, headers, caller).await?;
    let mut response = Json(outcome).into_response();
    tag_route(&mut response, &route);
    Ok(response)
}

/// Says how a call was answered: the deployment in [`DEPLOYMENT_HEADER`], the attempts made in
/// [`ATTEMPTS_HEADER`], after a fallback the requested group in [`FALLBACK_FROM_HEADER`], the
/// experiment's variant, a routing rule's decision in [`ROUTE_REASON_HEADER`], the cache's
/// part in [`CACHE_HEADER`], a complete answer's cost in [`COST_HEADER`] and the call's id in
/// [`REQUEST_ID_HEADER`].
pub(crate) fn tag_route(response: &mut Response, route: &Route) {
    // Room for every header below at once, rather than the map growing twice on the way.
    response.headers_mut().reserve(20);
    let request_id = HeaderValue::from_str(&route.request_id).ok();
    // The cost is rounded to the catalog's places (`switchyard_layers::cost::USD_DECIMALS`);
    // `Display` prints that decimal in full, never in exponent form: the number the span and
    // the access log carry.
    let cost = route
        .cost
        .and_then(|c| HeaderValue::from_str(&c.usd.to_string()).ok());
    tag_litellm(response, route, request_id.as_ref(), cost.as_ref());
    let headers = response.headers_mut();
    if let Some(value) = request_id {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    if let Some(upstream) = &route.upstream {
        if let Ok(value) = HeaderValue::from_str(&upstream.deployment.id) {
            headers.insert(DEPLOYMENT_HEADER, value);
        }
        headers.insert(ATTEMPTS_HEADER, HeaderValue::from(upstream.attempts));
        if let Some(value) = upstream
            .fallback_from
            .as_deref()
            .and_then(|group| HeaderValue::from_str(group).ok())
        {
            headers.insert(FALLBACK_FROM_HEADER, value);
        }
    }
    if let Some(status) = route.cache {
        headers.insert(CACHE_HEADER, HeaderValue::from_static(status.as_str()));
    }
    if let Some(value) = cost {
        headers.insert(COST_HEADER, value);
    }
    if let Some((experiment, variant)) = &route.experiment
        && let (Ok(experiment), Ok(variant)) = (
            HeaderValue::from_str(experiment),
            HeaderValue::from_str(variant),
        )
    {
        headers.insert(EXPERIMENT_HEADER, experiment);
        headers.insert(VARIANT_HEADER, variant);
    }
    if let Some(decision) = &route.decision
        && let Ok(value) = HeaderValue::from_str(&header_text(&decision.to_string()))
    {
        headers.insert(ROUTE_REASON_HEADER, value);
    }
}

/// Says how a call was answered in LiteLLM's headers ([`litellm_headers`]).
/// `call_id` and `cost` are the values [`tag_route`] sends in its own headers too.
fn tag_litellm(
    response: &mut Response,
    route: &Route,
    call_id: Option<&HeaderValue>,
    cost: Option<&HeaderValue>,
) {
    use litellm_headers::*;
    let headers = response.headers_mut();
    let mut put = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put(RESPONSE_DURATION_MS, &millis_text(route.started.elapsed()));
    if let Some(group) = &route.model_group {
        put(MODEL_GROUP, group);
    }
    let (retries, fallbacks) = match &route.upstream {
        Some(upstream) => {
            put(MODEL_ID, &upstream.deployment.id);
            let groups = upstream.fallbacks.saturating_add(1);
            (upstream.attempts.saturating_sub(groups), upstream.fallbacks)
        }
        None => (0, 0),
    };
    if let Some(spend) = route.key_spend {
        put(KEY_SPEND, &spend.to_string());
    }
    if let Some(call_id) = call_id {
        headers.insert(CALL_ID, call_id.clone());
    }
    if let Some(cost) = cost {
        headers.insert(RESPONSE_COST, cost.clone());
    }
    headers.insert(VERSION, HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
    headers.insert(ATTEMPTED_RETRIES, HeaderValue::from(retries));
    headers.insert(ATTEMPTED_FALLBACKS, HeaderValue::from(fallbacks));
}

/// `elapsed` in milliseconds with three decimals (`12.345`), as `format!("{:.3}", ms)` gives
/// it, with integer arithmetic: float formatting was about 1.5k instructions a call.
fn millis_text(elapsed: Duration) -> String {
    let micros = (elapsed.as_nanos() + 500) / 1000;
    let fraction = micros % 1000;
    let mut text = String::with_capacity(24);
    text.push_str(itoa::Buffer::new().format(micros / 1000));
    text.push('.');
    for divisor in [100, 10, 1] {
        let digit = u8::try_from(fraction / divisor % 10).unwrap_or(0);
        text.push(char::from(b'0' + digit));
    }
    text
}

/// `text` as a header value: printable ASCII (anything else becomes `?`), at most
/// [`MAX_REASON_LEN`] characters.
fn header_text(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if out.len() > MAX_REASON_LEN {
        out.truncate(MAX_REASON_LEN - 3);
        out.push_str("...");
    }
    out
}

/// `GET /v1/models`: the configured model groups, experiment models and rule models the caller
/// may call, as LiteLLM lists them: a key limited to some models (its own list, or its team's)
/// sees only those; the master key and an open gateway see every one.
pub async fn models(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Json<ModelList> {
    let data = callable_models(&state, &caller)
        .map(|name| model_object(&state, name))
        .collect();
    Json(ModelList::new(data))
}

/// `GET /v1/models/{id}`: one model the caller may call, as OpenAI's model object
/// (<https://platform.openai.com/docs/api-reference/models/retrieve>); a model that does not
/// exist, or that the caller's key may not call, is 404 `model_not_found` alike, so a key
/// learns nothing of models outside its list. The id may hold `/` (`openai/gpt-4o`).
pub async fn model(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Model>, ApiError> {
    callable_models(&state, &caller)
        .find(|name| *name == id)
        .map(|name| Json(model_object(&state, name)))
        .ok_or_else(|| ApiError::model_not_found(&id))
}

/// The model names the caller may call: configured model groups, experiment models, rule
/// models and listed aliases, filtered by the caller's allow-list (its own, or its team's,
/// with wildcards and access groups).
pub(crate) fn callable_models<'a>(
    state: &'a AppState,
    caller: &'a Caller,
) -> impl Iterator<Item = &'a str> {
    state
        .groups()
        .iter()
        .map(|group| group.name())
        .chain(state.experiments().map(|e| e.model.as_str()))
        .chain(state.rules().models())
        .chain(state.listed_aliases())
        .filter(|name| state.may_call(caller, name))
}

fn model_object(state: &AppState, name: &str) -> Model {
    Model {
        id: name.to_owned(),
        object: "model".to_owned(),
        created: state.started_at(),
        owned_by: "switchyard".to_owned(),
    }
}

/// `GET /health/liveness`: the process is up.
pub async fn liveness() -> Json<serde_json::Value> {
    Json(json!({"status": "alive"}))
}

/// `GET /health/readiness`: 503 once shutdown has begun; otherwise the configuration is loaded
/// and serving, with the state of the database and Redis (when configured). A dependency that is
/// down makes readiness 503 under `readiness_policy: strict`, and `degraded` (still 200)
/// otherwise: calls with the master key, and the cache and rate limits by their own policies,
/// keep working without them.
pub async fn readiness(State(live): State<Live>) -> Response {
    if live.is_draining() {
        return (
            http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    let state = live.current();
    let checks = state.check_dependencies(READINESS_CHECK_TIME).await;
    let mut report = serde_json::Map::new();
    let mut healthy = true;
    for (name, result) in checks {
        if let Err(err) = &result {
            tracing::warn!(dependency = name, error = %err, "readiness: a dependency is down");
            healthy = false;
        }
        report.insert(
            name.to_owned(),
            json!(if result.is_ok() { "ok" } else { "down" }),
        );
    }
    let status = if healthy { "ready" } else { "degraded" };
    let body = Json(json!({
        "status": status,
        "models": state.groups().len(),
        "reloads": live.reloads(),
        "reload_failures": live.reload_failures(),
        "checks": report,
        "budget_failure_policy": state.budgets().on_counter_failure.as_str(),
        "replicas": state.storage().replicas(),
    }));
    if !healthy && state.server_settings().strict_readiness {
        (http::StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    } else {
        body.into_response()
    }
}

/// How long readiness waits for each dependency.
const READINESS_CHECK_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// `GET /metrics`: the gateway's metrics as OpenMetrics text, for Prometheus. Unauthenticated,
/// like the health checks: labels hold configured names only, never keys or client input.
pub async fn metrics(State(live): State<Live>) -> Response {
    let state = live.current();
    state.report_tallies();
    state.metrics().set_process_gauges(
        live.connections().get(),
        live.runtimes()
            .alive_tasks(Some(&tokio::runtime::Handle::current())),
    );
    (
        [(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(switchyard_telemetry::metrics::CONTENT_TYPE),
        )],
        state.metrics().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_milliseconds_with_three_decimals_as_float_formatting_gives_them() {
        for nanos in [
            0,
            1,
            499,
            500,
            999_999,
            1_000_000,
            12_345_678,
            3_000_000_499,
            86_400_000_000_123,
        ] {
            let elapsed = Duration::from_nanos(nanos);
            let by_float = format!("{:.3}", elapsed.as_secs_f64() * 1e3);
            assert_eq!(millis_text(elapsed), by_float, "{nanos} ns");
        }
    }
}
