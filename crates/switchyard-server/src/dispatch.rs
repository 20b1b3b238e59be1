//! Sending one call: its options taken out of the body, its experiment and routing rule
//! applied, then through the call path's layers ([`pipeline`]) to a deployment, and its
//! [`CallRecord`] finished with tokens and cost when the answer (or stream) is done. Every
//! ingress (OpenAI chat and text completions, embeddings, the Anthropic Messages API) goes
//! through here,
//! so they share routing, limits, caching, accounting and error mapping.

use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use http::HeaderMap;
use switchyard_layers::cache::{CacheControl, CacheStatus, Reply};
use switchyard_layers::cost::{Cost, MeteredStream, Tokens};
use switchyard_layers::rate_limit::estimated_prompt_tokens;
use switchyard_providers::{ChunkStream, ProviderError};
use switchyard_router::{
    CallOptions, Decision, DeploymentRank, GroupFilter, RequestFacts, StickyBy, WildcardRoute,
};
use switchyard_telemetry::InSpanExt;
use switchyard_telemetry::genai::operation;
use switchyard_telemetry::set_parent_from;
use switchyard_wire::{
    ChatChunk, ChatRequest, ChatResponse, CompletionRequest, MessageContent, PromptOptions,
    RawExtra, Usage,
};
use tokio::time::Instant;

mod kinds;
mod options;
pub(crate) mod unary;

pub(crate) use options::is_gateway_field;
use options::{
    cache_control, metadata_of, refuse_client_credentials, routing_options, take_litellm_fields,
    take_tags, take_timeout,
};

use crate::caller::{Caller, end_user_of};
use crate::config::budgets::Unpriced;
use crate::error::ApiError;
use crate::estimate::{self, Estimate, Pricer};
use crate::observe;
use crate::pipeline::{self, ChatAnswer, ChatCall, Upstream};
use crate::record::CallRecord;
use crate::settled::{SettledStream, SettlementSlot};
use crate::state::AppState;
use crate::storage::Reservation;

/// What a chat call produced.
pub enum ChatOutcome {
    /// A complete answer.
    Complete(Box<ChatResponse>),
    /// A stream that has started; chunks follow as the upstream (or the cache) sends them. It
    /// holds the deployment's in-flight slot until it ends or is dropped, and finishes the
    /// call's record then.
    Stream(ChunkStream),
}

/// A call's result with the route that produced it.
pub struct Dispatched<T> {
    /// How the call was answered.
    pub route: Route,
    /// What it answered.
    pub outcome: T,
}

/// How a call was answered: by which deployment after how many attempts, or by the cache; the
/// experiment and rule that chose the group; and, for complete answers, the cost.
#[derive(Debug, Clone)]
pub struct Route {
    /// The deployment that answered; `None` when the cache did.
    pub upstream: Option<Upstream>,
    /// The experiment and variant the caller was assigned to, if any.
    pub experiment: Option<(String, String)>,
    /// The routing rule's choice of group, and why, when the model invoked rules.
    pub decision: Option<Decision>,
    /// The cache's part, when the cache is on.
    pub cache: Option<CacheStatus>,
    /// What a complete answer cost; streams are priced when they end.
    pub cost: Option<Cost>,
    /// The gateway's id of the call.
    pub request_id: Arc<str>,
    /// The model group that served the call.
    pub model_group: Option<String>,
    /// What the calling key had spent in its budget window before the call, when it has a
    /// budget.
    pub key_spend: Option<f64>,
    /// When the call arrived.
    pub started: Instant,
}

impl Route {
    /// Who answered, for error messages: the deployment's id, or `cache`.
    pub fn answered_by(&self) -> Arc<str> {
        match &self.upstream {
            Some(upstream) => Arc::from(upstream.deployment.id.as_str()),
            None => Arc::from("cache"),
        }
    }
}

/// Validates and sends a chat call through the layers and the router; streams when the request
/// asks for one. The request's headers serve experiments that key callers by a header, routing
/// rules that match on headers, `Cache-Control`, and `traceparent` (the call span continues the
/// caller's trace). Every call, answered or failed, finishes one [`CallRecord`]; it counts as in
/// flight until then, a stream until it ends.
pub async fn chat(
    state: &AppState,
    request: ChatRequest,
    headers: &HeaderMap,
    caller: Caller,
) -> Result<Dispatched<ChatOutcome>, ApiError> {
    send(state, request, None, headers, caller).await
}

/// Sends a legacy text completion as [`chat`] sends a chat call: as the chat call it stands
/// for ([`CompletionRequest::split`]), so it shares routing, limits, budgets and accounting;
/// each deployment's provider is asked for a text completion (`/completions` where it has
/// one). The answer comes back in chat shape.
pub async fn text_completion(
    state: &AppState,
    request: CompletionRequest,
    headers: &HeaderMap,
    caller: Caller,
) -> Result<Dispatched<ChatOutcome>, ApiError> {
    let (chat, prompt) = request.split();
    send(state, chat, Some(prompt), headers, caller).await
}

/// A chat call, or with `prompt` the text completion it stands for.
async fn send(
    state: &AppState,
    mut request: ChatRequest,
    prompt: Option<PromptOptions>,
    headers: &HeaderMap,
    mut caller: Caller,
) -> Result<Dispatched<ChatOutcome>, ApiError> {
    let started = Instant::now();
    let in_flight = state.metrics().in_flight();
    caller.end_user = end_user_of(
        headers,
        state.budgets().end_user_header.as_ref(),
        request.user.as_deref(),
    );
    let operation = match prompt {
        Some(_) => operation::TEXT_COMPLETION,
        None => operation::CHAT,
    };
    let mut record = CallRecord::start(operation, caller.clone(), request.model.clone());
    set_parent_from(&record.span, headers);
    if let Err(err) = admit_model(state, &caller, &mut request.model) {
        return Err(fail(state, record, started, err).await);
    }
    let prepared = record
        .span
        .in_scope(|| prepare_chat(state, &mut request, prompt.as_ref(), headers));
    let (mut options, timeout, cache_control, experiment, decision) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => return Err(fail(state, record, started, err).await),
    };
    options.wildcard = state.wildcard_route(&request.model);
    let group = group_of(&request.model, &options);
    // Counted once: the budget estimate, the stream's meter and the fallback usage share it.
    let prompt_estimate = estimated_prompt_tokens(&request);
    prefer_fitting(state, &mut options, prompt_estimate);
    let asked_output = estimate::asked_output(&request);
    let wildcard = options.wildcard.as_ref();
    let estimate = || estimate::chat(state, &group, wildcard, prompt_estimate, asked_output);
    match reserve(state, &caller, &group, estimate).await {
        Ok(reservation) => record.reservation = reservation,
        Err(err) => return Err(fail(state, record, started, err).await),
    }
    options.allowed = fallback_filter(state, &caller);
    record.experiment.clone_from(&experiment);
    record.route_reason = decision.as_ref().map(ToString::to_string);
    record.model_group = Some(group);
    observe::open_chat(&record, &request, state.record_content());
    let wildcard = options.wildcard.clone();
    let attempts = Arc::new(AtomicU32::new(0));
    let call = ChatCall {
        request,
        prompt: prompt.map(Arc::new),
        options,
        caller,
        timeout,
        cache_control,
        span: record.span.clone(),
        attempts: Arc::clone(&attempts),
    };
    let answer = pipeline::run(state, call)
        .in_span(record.span.span().clone())
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            record.attempts = attempts.load(Ordering::Relaxed);
            return Err(fail(state, record, started, err).await);
        }
    };
    let ChatAnswer {
        upstream,
        reply,
        cache,
        correction,
    } = answer;
    record.cache_hit = cache == Some(CacheStatus::Hit);
    // Known for calls an upstream answered; a stream adds its upstream's time to its end.
    let routed_wait = upstream.as_ref().map(|u| u.upstream_wait);
    record.upstream_wait = routed_wait;
    let price = upstream.as_ref().and_then(|u| {
        record.deployment = Some(u.deployment.id.clone());
        record.provider = Some(u.deployment.provider.family());
        record.upstream_model = Some(u.deployment.provider.upstream_model().to_owned());
        record.model_group = Some(u.deployment.model_name.clone());
        record.attempts = u.attempts;
        record.fallback_from.clone_from(&u.fallback_from);
        state.price_on(&u.deployment, wildcard.as_ref())
    });
    let limits = upstream
        .as_ref()
        .map(|u| state.token_limits(&u.deployment.id))
        .unwrap_or_default();
    let pricer = Pricer {
        price,
        limits,
        fallback: Tokens {
            prompt: prompt_estimate,
            completion: asked_output
                .or(limits.output)
                .unwrap_or(estimate::DEFAULT_OUTPUT_TOKENS),
            ..Tokens::default()
        },
        cache_hit: record.cache_hit,
    };
    let mut route = Route {
        upstream,
        experiment,
        decision,
        cache,
        cost: None,
        request_id: Arc::clone(&record.request_id),
        model_group: record.model_group.clone(),
        key_spend: record.reservation.as_ref().and_then(Reservation::key_spend),
        started,
    };
    let outcome = match reply {
        Reply::Complete(mut answer) => {
            // The answer's id is the call's, so that the client can find its spend record by
            // it (LiteLLM's `request_id`); the upstream's own id stays in the call's span.
            record.response_id = Some(std::mem::replace(
                &mut answer.id,
                record.request_id.to_string(),
            ));
            let reported = answer.usage.as_ref().map(Tokens::from).unwrap_or_default();
            record.reasoning_tokens = answer
                .usage
                .as_ref()
                .and_then(Usage::reasoning_tokens)
                .unwrap_or(0);
            let (tokens, cost) = pricer.account(reported, false, Some(&answer.model));
            route.cost = cost;
            record.tokens = tokens;
            record.cost = route.cost;
            record.latency = started.elapsed();
            record.response_model = Some(answer.model.clone());
            record.finish_reasons = answer
                .choices
                .iter()
                .filter_map(|c| c.finish_reason.clone())
                .collect();
            if state.record_content() {
                observe::record_completion(&record.span, &answer);
            }
            if let Some(settlement) = state.finish_call(record) {
                settlement.wait().await;
            }
            drop(in_flight);
            ChatOutcome::Complete(answer)
        }
        Reply::Stream(chunks) => {
            let stream_started = started.elapsed();
            let notes = Arc::new(StreamNotes::default());
            let observed = ObserveChunks {
                chunks,
                started,
                notes: Arc::clone(&notes),
                id: Arc::clone(&record.request_id),
            };
            let state = state.clone();
            let slot = SettlementSlot::default();
            let settled = slot.clone();
            // The record (holding the call span) and the in-flight guard live in the closure:
            // the call is traced and counted as in flight until the stream ends or is dropped.
            let metered =
                MeteredStream::new(observed, prompt_estimate, move |tokens, estimated| {
                    if let Some(correction) = correction {
                        correction.settle(tokens.prompt.saturating_add(tokens.completion));
                    }
                    let answered = notes.response.get().map(|(_, model)| model.as_str());
                    let (tokens, cost) = pricer.account(tokens, estimated, answered);
                    record.tokens = tokens;
                    record.cost = cost;
                    record.latency = started.elapsed();
                    notes.fill(&mut record);
                    // The upstream's part of a stream: from its start to its last chunk (or its
                    // error). A stream the client dropped first has no known end: no overhead.
                    record.upstream_wait = routed_wait
                        .zip(notes.upstream_end.get())
                        .map(|(wait, end)| wait + end.saturating_sub(stream_started));
                    slot.put(state.finish_call(record));
                    drop(in_flight);
                });
            ChatOutcome::Stream(Box::pin(SettledStream::new(metered, settled)))
        }
    };
    Ok(Dispatched { route, outcome })
}

/// The call's options, taken out of the body (routing fields, tags, `timeout`, cache
/// directives), its experiment variant and its rule's decision, with `request.model` pointed at
/// the group that serves it and `max_tokens` policies applied.
#[allow(clippy::type_complexity)]
fn prepare_chat(
    state: &AppState,
    request: &mut ChatRequest,
    prompt: Option<&PromptOptions>,
    headers: &HeaderMap,
) -> Result<
    (
        CallOptions,
        Option<Duration>,
        CacheControl,
        Option<(String, String)>,
        Option<Decision>,
    ),
    ApiError,
> {
    if request.messages.is_empty() {
        return Err(ApiError::invalid_request(match prompt {
            Some(_) => "`prompt` must hold at least one prompt",
            None => "`messages` must hold at least one message",
        }));
    }
    refuse_client_credentials(&request.extra)?;
    let mut options = routing_options(&mut request.extra)?;
    let tags = take_tags(&mut request.extra)?;
    options.preference = tag_preference(state, &tags, &request.extra, headers);
    let timeout = take_timeout(&mut request.extra)?;
    let mut cache_control = cache_control(&mut request.extra, headers)?;
    let experiment = assign_variant(state, &mut request.model, request.user.as_deref(), headers);
    let decision = decide_rule(state, request, tags, headers)?;
    // After the rules, which read `metadata`.
    take_litellm_fields(&mut request.extra, &mut options, &mut cache_control)?;
    if state.cache_opt_in() && !cache_control.use_cache {
        cache_control = CacheControl::BYPASS;
    }
    if let Some(policy) = &state.layers().max_tokens {
        policy
            .apply(request)
            .map_err(|err| ApiError::invalid_request(err.to_string()))?;
    }
    Ok((options, timeout, cache_control, experiment, decision))
}

/// Holds the call's estimate on its budgets (none when the caller has none). A caller with a
/// budget may not use a group with an unpriced deployment unless `budget_unpriced: allow`.
async fn reserve(
    state: &AppState,
    caller: &Caller,
    group: &str,
    estimate: impl FnOnce() -> Estimate,
) -> Result<Option<Reservation>, ApiError> {
    // Calls without a budget (most, and every master-key call) skip the estimate.
    if !has_budget(state, caller) {
        return Ok(None);
    }
    let estimate = estimate();
    let budgets = state.budgets();
    if estimate.unpriced && budgets.unpriced == Unpriced::Refuse {
        return Err(ApiError::unpriced_model(group));
    }
    state.storage().reserve(caller, estimate.usd, budgets).await
}

/// Whether any budget applies to the caller's calls.
fn has_budget(state: &AppState, caller: &Caller) -> bool {
    caller.accounts.iter().any(|a| a.max_budget.is_some())
        || (caller.end_user.is_some() && state.budgets().max_end_user_budget.is_some())
}

/// The fallback groups the router may take this call to: those the caller may call (its
/// allow-list, wildcards and access groups), and, for a caller with a budget (unless
/// `budget_unpriced: allow`), only fully priced ones.
fn fallback_filter(state: &AppState, caller: &Caller) -> Option<GroupFilter> {
    let limited = !caller.models.is_empty();
    let refuse_unpriced = state.budgets().unpriced == Unpriced::Refuse && has_budget(state, caller);
    if !limited && !refuse_unpriced {
        return None;
    }
    let state = state.clone();
    let caller = caller.clone();
    Some(GroupFilter::new(move |group| {
        (!limited || state.may_call(&caller, group))
            && (!refuse_unpriced || state.group_is_priced(group))
    }))
}

/// Finishes the record of a failed call and gives the error back.
async fn fail(
    state: &AppState,
    mut record: CallRecord,
    started: Instant,
    err: ApiError,
) -> ApiError {
    record.status = err.status.as_u16();
    record.error_code = err.code;
    record.limit_scope.clone_from(&err.limit_scope);
    record.latency = started.elapsed();
    // A failed call's reservation is released before the client hears of the failure, so
    // its retry finds the budget as it was.
    if let Some(released) = state.finish_call(record) {
        released.wait().await;
    }
    err
}

/// What a stream showed on its way, for the call's record: when its first chunk arrived, the
/// answer's id and model, each choice's finish reason, and the error that broke it, if any.
#[derive(Debug, Default)]
struct StreamNotes {
    first_chunk: OnceLock<Duration>,
    response: OnceLock<(String, String)>,
    // Locked once per finished choice, never across an await.
    finish_reasons: Mutex<Vec<String>>,
    error: OnceLock<&'static str>,
    reasoning_tokens: OnceLock<u64>,
    /// When the upstream's stream ended or broke, since the call started.
    upstream_end: OnceLock<Duration>,
}

impl StreamNotes {
    /// Copies the notes into the call's record.
    fn fill(&self, record: &mut CallRecord) {
        record.time_to_first_token = self.first_chunk.get().copied();
        if let Some((id, model)) = self.response.get() {
            record.response_id = Some(id.clone());
            record.response_model = Some(model.clone());
        }
        if let Ok(mut reasons) = self.finish_reasons.lock() {
            record.finish_reasons = std::mem::take(&mut *reasons);
        }
        if let Some(class) = self.error.get() {
            record.error_code = Some(class);
        }
        if let Some(reasoning) = self.reasoning_tokens.get() {
            record.reasoning_tokens = *reasoning;
        }
    }
}

/// Passes a stream's chunks through, taking [`StreamNotes`], each chunk's `id` replaced by the
/// call's (as a complete answer's is).
struct ObserveChunks {
    chunks: ChunkStream,
    started: Instant,
    notes: Arc<StreamNotes>,
    id: Arc<str>,
}

impl Stream for ObserveChunks {
    type Item = Result<ChatChunk, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut item = self.chunks.as_mut().poll_next(cx);
        match &mut item {
            Poll::Ready(Some(Ok(chunk))) => {
                let notes = &self.notes;
                if notes.first_chunk.get().is_none() {
                    let _ = notes.first_chunk.set(self.started.elapsed());
                }
                if notes.response.get().is_none() && !chunk.id.is_empty() {
                    let _ = notes.response.set((chunk.id.clone(), chunk.model.clone()));
                }
                if let Some(reasoning) = chunk.usage.as_ref().and_then(Usage::reasoning_tokens) {
                    let _ = notes.reasoning_tokens.set(reasoning);
                }
                chunk.id.clear();
                chunk.id.push_str(&self.id);
                let finished = chunk
                    .choices
                    .iter()
                    .filter_map(|c| c.finish_reason.as_ref());
                for reason in finished {
                    if let Ok(mut reasons) = notes.finish_reasons.lock() {
                        reasons.push(reason.clone());
                    }
                }
            }
            Poll::Ready(Some(Err(err))) => {
                let _ = self.notes.error.set(err.class.as_str());
                let _ = self.notes.upstream_end.set(self.started.elapsed());
            }
            Poll::Ready(None) => {
                let _ = self.notes.upstream_end.set(self.started.elapsed());
            }
            Poll::Pending => {}
        }
        item
    }
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

/// How the call ranks its group's deployments under tag routing (`None` when it is off): by
/// its body's `tags`, its `metadata.tags` and its headers.
fn tag_preference(
    state: &AppState,
    tags: &[String],
    extra: &RawExtra,
    headers: &HeaderMap,
) -> Option<DeploymentRank> {
    let routing = state.tag_routing()?;
    let mut tags = tags.to_vec();
    metadata_of(extra, &mut tags);
    Some(routing.preference(tags, headers))
}

/// With `enable_pre_call_checks`: the call prefers the deployments whose model takes a prompt
/// of `prompt_tokens` (when its limit is known), before any tag preference.
pub(crate) fn prefer_fitting(state: &AppState, options: &mut CallOptions, prompt_tokens: u64) {
    if !state.pre_call_checks() {
        return;
    }
    let tags = options.preference.take();
    let state = state.clone();
    options.preference = Some(DeploymentRank::new(move |deployment| {
        let too_long = state
            .token_limits(&deployment.id)
            .input
            .is_some_and(|max| prompt_tokens > max);
        let tag_rank = tags.as_ref().map_or(0, |tags| tags.rank(deployment));
        u8::from(too_long) * 16 + tag_rank
    }));
}

/// The model group that serves a call for `model`: a wildcard group when `options` routes it
/// to one, else the group of that name.
pub(crate) fn group_of(model: &str, options: &CallOptions) -> String {
    match &options.wildcard {
        Some(route) => route.group.clone(),
        None => model.to_owned(),
    }
}

/// The model a wildcard deployment is asked for on this call (`None` for a deployment with a
/// fixed model, or a call that came to it by name).
pub(crate) fn wildcard_model(
    deployment: &switchyard_router::Deployment,
    wildcard: Option<&WildcardRoute>,
) -> Option<String> {
    wildcard?.upstream_model(deployment.provider.upstream_model())
}

/// Points `model` at the group that serves it, once the caller is found to be allowed it. One
/// step for every kind of alias: the caller's own first (its key's `aliases` over its team's
/// `model_aliases`), then the configuration's `router_settings.model_group_alias`; an alias is
/// followed once, never through a second alias of the same kind.
///
/// Which name the allow-list must admit: LiteLLM's example of a key alias
/// (<https://docs.litellm.ai/docs/proxy/virtual_keys>, "Model Aliases") makes a key with
/// `models: ["my-free-tier"]` and `aliases: {"gpt-3.5-turbo": "my-free-tier"}` and calls
/// `gpt-3.5-turbo`: the alias is followed before the check, and the key must be allowed the
/// model it leads to. Being allowed the alias's name is not enough, so that an alias (which a
/// key's owner may set) never widens what a key reaches. A configuration alias, the operator's,
/// admits a caller allowed either its name or its group.
pub(crate) fn admit_model(
    state: &AppState,
    caller: &Caller,
    model: &mut String,
) -> Result<(), ApiError> {
    let own_target = caller.alias_target(model);
    let named = own_target.unwrap_or(model);
    let group = state.alias_target(named);
    let allowed =
        state.may_call(caller, named) || group.is_some_and(|group| state.may_call(caller, group));
    if !allowed {
        return Err(match own_target {
            Some(target) => ApiError::alias_not_allowed(model, target, &caller.key_id),
            None => ApiError::model_not_allowed(model, &caller.key_id),
        });
    }
    let served = group.unwrap_or(named).to_owned();
    *model = served;
    Ok(())
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
