//! Sending one call through the router: to a deployment of its model group, with retries,
//! fallbacks and each deployment's timeout. Every ingress (OpenAI chat completions, embeddings,
//! the Anthropic Messages API) goes through here, so they share routing and error mapping.

use std::collections::HashMap;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use http::HeaderMap;
use serde_json::Value;
use switchyard_providers::{ChunkStream, ErrorClass, ProviderError};
use switchyard_router::{
    CallGuard, CallOptions, Decision, Deployment, RequestFacts, RouteError, StickyBy,
};
use switchyard_wire::{
    ChatChunk, ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse, Extra,
    MessageContent,
};

use crate::error::ApiError;
use crate::state::AppState;

/// What a chat call produced.
pub enum ChatOutcome {
    /// A complete answer.
    Complete(Box<ChatResponse>),
    /// A stream that has started; chunks follow as the upstream sends them. It holds the
    /// deployment's in-flight slot until it ends or is dropped.
    Stream(ChunkStream),
}

/// A call's result with the route that produced it.
pub struct Dispatched<T> {
    /// The deployment that answered and how the call got there.
    pub deployment: Route,
    /// What it answered.
    pub outcome: T,
}

/// The deployment that answered a call, the attempts made, and the group it fell back from.
#[derive(Debug, Clone)]
pub struct Route {
    /// The deployment that answered.
    pub deployment: Arc<Deployment>,
    /// Attempts made, the successful one included.
    pub attempts: u32,
    /// The requested group, when a fallback group answered.
    pub fallback_from: Option<String>,
    /// The experiment and variant the caller was assigned to, if any.
    pub experiment: Option<(String, String)>,
    /// The routing rule's choice of group, and why, when the model invoked rules.
    pub decision: Option<Decision>,
}

impl Deref for Route {
    type Target = Deployment;

    fn deref(&self) -> &Deployment {
        &self.deployment
    }
}

/// Validates and sends a chat call; streams when the request asks for one. The request's headers
/// serve experiments that key callers by a header and routing rules that match on headers.
pub async fn chat(
    state: &AppState,
    mut request: ChatRequest,
    headers: &HeaderMap,
) -> Result<Dispatched<ChatOutcome>, ApiError> {
    if request.messages.is_empty() {
        return Err(ApiError::invalid_request(
            "`messages` must hold at least one message",
        ));
    }
    let options = routing_options(&mut request.extra)?;
    let tags = take_tags(&mut request.extra)?;
    let experiment = assign_variant(state, &mut request.model, request.user.as_deref(), headers);
    let decision = decide_rule(state, &mut request, tags, headers)?;
    let model = request.model.clone();
    let stream = request.is_stream();
    let routed = state
        .router()
        .call(&model, request, &options, move |deployment, request| {
            Box::pin(async move {
                if stream {
                    let started = deployment.provider.chat_stream(request);
                    within(&deployment, deployment.stream_timeout, started)
                        .await
                        .map(Attempt::Stream)
                } else {
                    let answer = deployment.provider.chat(request);
                    within(&deployment, deployment.timeout, answer)
                        .await
                        .map(|a| Attempt::Complete(Box::new(a)))
                }
            })
        })
        .await
        .map_err(route_error)?;
    let deployment = Route {
        deployment: Arc::clone(routed.deployment()),
        attempts: routed.attempts,
        fallback_from: routed.fallback_from,
        experiment,
        decision,
    };
    let outcome = match routed.value {
        Attempt::Complete(answer) => {
            if let Some(usage) = &answer.usage {
                state
                    .router()
                    .record_usage(&deployment.deployment, usage.total_tokens);
            }
            ChatOutcome::Complete(answer)
        }
        Attempt::Stream(chunks) => ChatOutcome::Stream(Box::pin(Guarded {
            chunks,
            guard: routed.guard,
            state: state.clone(),
        })),
    };
    Ok(Dispatched {
        deployment,
        outcome,
    })
}

/// Validates and sends an embeddings call.
pub async fn embeddings(
    state: &AppState,
    mut request: EmbeddingsRequest,
) -> Result<Dispatched<EmbeddingsResponse>, ApiError> {
    if request.input.is_empty() {
        return Err(ApiError::invalid_request("`input` must not be empty"));
    }
    let options = routing_options(&mut request.extra)?;
    let experiment = assign_variant(
        state,
        &mut request.model,
        request.user.as_deref(),
        &HeaderMap::new(),
    );
    let model = request.model.clone();
    let routed = state
        .router()
        .call(&model, request, &options, |deployment, request| {
            Box::pin(async move {
                let answer = deployment.provider.embeddings(request);
                within(&deployment, deployment.timeout, answer).await
            })
        })
        .await
        .map_err(route_error)?;
    Ok(Dispatched {
        deployment: Route {
            deployment: Arc::clone(routed.deployment()),
            attempts: routed.attempts,
            fallback_from: routed.fallback_from,
            experiment,
            decision: None,
        },
        outcome: routed.value,
    })
}

/// When `model` names an experiment, assigns the caller a variant (by `user` or the configured
/// header) and points `model` at the variant's group; answers `(experiment, variant)`.
fn assign_variant(
    state: &AppState,
    model: &mut String,
    user: Option<&str>,
    headers: &HeaderMap,
) -> Option<(String, String)> {
    let experiment = state.experiment(model)?;
    let key = match &experiment.sticky_by {
        StickyBy::User => user,
        StickyBy::Header(name) => headers.get(name.as_str()).and_then(|v| v.to_str().ok()),
    };
    let variant = experiment.assign(key);
    model.clone_from(&variant.model);
    Some((experiment.name.clone(), variant.name.clone()))
}

/// When `request.model` invokes routing rules, lets them choose the group from the request's
/// message text, `metadata`, tags and headers, and points `model` at it; answers the decision.
fn decide_rule(
    state: &AppState,
    request: &mut ChatRequest,
    mut tags: Vec<String>,
    headers: &HeaderMap,
) -> Result<Option<Decision>, ApiError> {
    if !state.rules().routes(&request.model) {
        return Ok(None);
    }
    let metadata = metadata_of(&request.extra, &mut tags);
    let text = request
        .messages
        .iter()
        .filter_map(|m| m.content.as_ref().map(MessageContent::joined_text))
        .collect::<Vec<_>>()
        .join("\n");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let facts = RequestFacts {
        text: &text,
        metadata: &metadata,
        tags: &tags,
        header: &header,
    };
    match state.rules().decide(&request.model, &facts, state.groups()) {
        None => Ok(None),
        Some(Ok(decision)) => {
            tracing::debug!(model = %request.model, %decision, "routing rule decided");
            request.model.clone_from(&decision.group);
            Ok(Some(decision))
        }
        Some(Err(err)) => Err(ApiError::from_rule(&err)),
    }
}

/// The scalar entries of the request's `metadata` object as text; tags listed in
/// `metadata.tags` (where LiteLLM clients may put them) join `tags`. The object stays in the
/// body: OpenAI reads `metadata` too.
fn metadata_of(extra: &Extra, tags: &mut Vec<String>) -> HashMap<String, String> {
    let Some(Value::Object(metadata)) = extra.get("metadata") else {
        return HashMap::new();
    };
    let mut out = HashMap::with_capacity(metadata.len());
    for (key, value) in metadata {
        match value {
            Value::String(text) => {
                out.insert(key.clone(), text.clone());
            }
            Value::Number(_) | Value::Bool(_) => {
                out.insert(key.clone(), value.to_string());
            }
            Value::Array(items) if key == "tags" => {
                tags.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    out
}

/// Takes LiteLLM's `tags` out of the body: they are for the gateway's rules, and OpenAI refuses
/// fields it does not know.
fn take_tags(extra: &mut Extra) -> Result<Vec<String>, ApiError> {
    let invalid = |found: &Value| {
        ApiError::invalid_request(format!("`tags` must be a list of strings, found {found}"))
    };
    match extra.remove("tags") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(tag) => Ok(tag),
                other => Err(invalid(&other)),
            })
            .collect(),
        Some(other) => Err(invalid(&other)),
    }
}

/// What one attempt produced, before the in-flight guard is attached to streams.
enum Attempt {
    Complete(Box<ChatResponse>),
    Stream(ChunkStream),
}

/// Takes the gateway's own routing fields out of the body, so they never reach an upstream:
/// `models` (OpenRouter's fallback list), `fallbacks` (LiteLLM's per-request list of group
/// names) and `num_retries`.
fn routing_options(extra: &mut Extra) -> Result<CallOptions, ApiError> {
    let mut options = CallOptions::default();
    for key in ["models", "fallbacks"] {
        match extra.remove(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(names)) => {
                for name in names {
                    match name {
                        Value::String(name) => options.models.push(name),
                        other => {
                            return Err(ApiError::invalid_request(format!(
                                "`{key}` must be a list of model names, found {other}"
                            )));
                        }
                    }
                }
            }
            Some(other) => {
                return Err(ApiError::invalid_request(format!(
                    "`{key}` must be a list of model names, found {other}"
                )));
            }
        }
    }
    match extra.remove("num_retries") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let retries = value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= 10)
                .ok_or_else(|| {
                    ApiError::invalid_request("`num_retries` must be a whole number from 0 to 10")
                })?;
            options.num_retries = Some(retries);
        }
    }
    Ok(options)
}

fn route_error(err: RouteError) -> ApiError {
    match err {
        RouteError::UnknownModel(model) => ApiError::model_not_found(&model),
        RouteError::NoneAvailable { group } => ApiError::no_deployment_available(&group),
        RouteError::Upstream {
            deployment, error, ..
        } => ApiError::from_provider(&deployment, &error),
    }
}

/// Runs one upstream call within `limit`; running out of time is a `Timeout` failure, which the
/// router may retry elsewhere.
async fn within<T>(
    deployment: &Deployment,
    limit: Duration,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(ProviderError::new(
            ErrorClass::Timeout,
            format!(
                "deployment `{}` did not answer within {:.3}s",
                deployment.id,
                limit.as_secs_f64()
            ),
        )),
    }
}

/// A chunk stream that keeps its deployment's in-flight slot until it ends or is dropped, and
/// counts the usage it reports against the deployment's minute budget.
struct Guarded {
    chunks: ChunkStream,
    guard: CallGuard,
    state: AppState,
}

impl Stream for Guarded {
    type Item = Result<ChatChunk, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.chunks.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &item
            && let Some(usage) = &chunk.usage
        {
            self.state
                .router()
                .record_usage(self.guard.deployment(), usage.total_tokens);
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extra(value: Value) -> Extra {
        match value {
            Value::Object(map) => map,
            _ => Extra::new(),
        }
    }

    #[test]
    fn routing_fields_are_taken_out_of_the_body() {
        let mut body =
            extra(json!({"models": ["b", "c"], "fallbacks": ["d"], "num_retries": 1, "seed": 3}));
        let options = routing_options(&mut body).expect("valid");
        assert_eq!(options.models, ["b", "c", "d"]);
        assert_eq!(options.num_retries, Some(1));
        assert_eq!(
            body,
            extra(json!({"seed": 3})),
            "only upstream fields remain"
        );
    }

    #[test]
    fn tags_leave_the_body_and_metadata_stays() {
        let mut body = extra(
            json!({"tags": ["a", "b"], "metadata": {"task": "code", "n": 2,
            "urgent": true, "tags": ["c"], "nested": {"x": 1}}}),
        );
        let mut tags = take_tags(&mut body).expect("valid");
        assert_eq!(tags, ["a", "b"]);
        assert!(!body.contains_key("tags"));
        let metadata = metadata_of(&body, &mut tags);
        assert_eq!(tags, ["a", "b", "c"]);
        assert_eq!(metadata.len(), 3, "scalars only: {metadata:?}");
        assert_eq!(metadata["task"], "code");
        assert_eq!(metadata["n"], "2");
        assert_eq!(metadata["urgent"], "true");
        assert!(body.contains_key("metadata"), "OpenAI reads metadata too");
        for bad in [json!({"tags": "a"}), json!({"tags": [1]})] {
            let err = take_tags(&mut extra(bad.clone())).expect_err("invalid");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn malformed_routing_fields_are_bad_requests() {
        for bad in [
            json!({"models": "b"}),
            json!({"models": [1]}),
            json!({"num_retries": -1}),
            json!({"num_retries": 99}),
        ] {
            let err = routing_options(&mut extra(bad.clone())).expect_err("invalid");
            assert_eq!(err.status, http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
