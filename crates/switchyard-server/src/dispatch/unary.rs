//! Calls answered whole by one upstream request (embeddings, moderations, image generation,
//! speech, transcriptions, rerank): one call path for all of them, the same checks as chat
//! calls in the same order. A [`UnaryCall`] says what differs (how to validate and count the
//! request, which provider method answers it, what usage the answer reports); [`unary`] does
//! the rest: end user, call span, model allow-list (403), client credentials refused, routing
//! options, experiment, rate limits (429), budget reservation (400 over budget), the router with
//! each deployment's timeout and an attempt span per try, and the finished [`CallRecord`] with
//! tokens, cost and its settlement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::future::BoxFuture;
use http::HeaderMap;
use switchyard_layers::cache::CacheControl;
use switchyard_layers::cost::Tokens;
use switchyard_providers::{Provider, ProviderError};
use switchyard_router::{CallGuard, CallOptions, DeploymentRank};
use switchyard_telemetry::InSpanExt;
use switchyard_telemetry::set_parent_from;
use switchyard_wire::RawExtra;
use tokio::time::Instant;

use super::options::{refuse_client_credentials, routing_options, take_litellm_fields, take_tags};
use super::{
    Dispatched, Route, admit_model, assign_variant, fail, fallback_filter, group_of,
    prefer_fitting, reserve, tag_preference, wildcard_model,
};
use crate::caller::{Caller, end_user_of};
use crate::error::ApiError;
use crate::estimate::{self, Pricer};
use crate::observe;
use crate::pipeline::{self, Upstream, route_error, within};
use crate::record::CallRecord;
use crate::settled::SettlementSlot;
use crate::state::AppState;
use crate::storage::Reservation;

/// A kind of call answered whole by one upstream request.
pub(crate) trait UnaryCall: Clone + Send + Sync + 'static {
    /// What the upstream answers.
    type Answer: Send + 'static;

    /// The call's GenAI operation name, for its span and access log.
    const OPERATION: &'static str;

    /// The model group asked for.
    fn model(&self) -> &str;

    /// The model group asked for, for experiments to point elsewhere.
    fn model_mut(&mut self) -> &mut String;

    /// The body's end user, if it names one.
    fn user(&self) -> Option<&str>;

    /// The body's fields the gateway does not know, where the gateway's own options travel;
    /// `None` for a request that is not a JSON object (an upload).
    fn extra_mut(&mut self) -> Option<&mut RawExtra>;

    /// Refuses a request the upstream could not answer (400), before anything is reserved.
    fn check(&self) -> Result<(), ApiError> {
        Ok(())
    }

    /// The request as deployment `id` takes it: its `litellm_params` defaults and
    /// `additional_drop_params` applied ([`AppState::shape_request`]); a request that is not a
    /// JSON object (an upload) goes as it came.
    fn shaped_for(self, _state: &AppState, _id: &str) -> Self {
        self
    }

    /// The request's prompt tokens, estimated (four characters a token): what rate limits
    /// count and budgets reserve, and what is charged when the answer reports no usage.
    fn input_tokens(&self) -> u64;

    /// Asks `provider` for the answer.
    fn send(
        self,
        provider: &dyn Provider,
    ) -> BoxFuture<'static, Result<Self::Answer, ProviderError>>;

    /// The usage the answer reports, if it reports any.
    fn reported(answer: &Self::Answer) -> Option<Tokens>;

    /// The model the answer says answered, if it says.
    fn answer_model(answer: &Self::Answer) -> Option<&str>;

    /// The most output tokens the request asks for, when it generates any: what the budget
    /// reservation holds for the answer beside the prompt.
    fn asked_output(&self) -> Option<u64> {
        None
    }

    /// The deployment the call goes to whenever it is available, over any other of its group
    /// (and over tag routing): the one holding the state the call continues.
    fn pinned_deployment(&self) -> Option<&str> {
        None
    }

    /// Whether the call generates output: the budget reservation then holds what it asks for
    /// ([`UnaryCall::asked_output`]), or when it asks for no limit, the model's most.
    fn generates(&self) -> bool {
        self.asked_output().is_some()
    }

    /// Whether `answer` is a stream still running, whose usage is known only at its end.
    fn streaming(_answer: &Self::Answer) -> bool {
        false
    }

    /// Wraps a streaming answer ([`UnaryCall::streaming`]) in `watch`: the deployment's
    /// in-flight slot and stream timeouts ([`StreamWatch::guard`]) and the call's end
    /// ([`StreamWatch::end`]), which must run once, when the stream ends or is dropped, with
    /// the usage it reported.
    fn watch(answer: Self::Answer, _watch: StreamWatch) -> Self::Answer {
        answer
    }
}

/// What a streaming answer of a [`UnaryCall`] must carry until it ends.
pub(crate) struct StreamWatch {
    /// Holds the deployment's in-flight slot; with the state, cuts a silent stream
    /// ([`crate::pipeline::Guarded`]).
    pub guard: CallGuard,
    /// The state the call began with.
    pub state: AppState,
    /// Finishes the call with what the stream showed ([`StreamEnd`]).
    pub end: Box<dyn FnOnce(StreamEnd) + Send>,
    /// Where the end leaves its settlement, for the stream to wait on before it ends
    /// ([`crate::settled::SettledStream`]).
    pub slot: SettlementSlot,
}

/// What a watched stream showed by its end, for the call's record.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StreamEnd {
    /// The usage it reported; `None`: it reported none.
    pub reported: Option<Tokens>,
    /// When its first event arrived.
    pub first_event: Option<Instant>,
    /// When the upstream's stream ended or broke; `None` when the client left first.
    pub upstream_end: Option<Instant>,
}

/// Validates and sends a [`UnaryCall`]; `headers` may carry the caller's `traceparent`, an
/// end-user header and an experiment's sticky header.
pub(crate) async fn unary<C: UnaryCall>(
    state: &AppState,
    mut request: C,
    headers: &HeaderMap,
    mut caller: Caller,
) -> Result<Dispatched<C::Answer>, ApiError> {
    let started = Instant::now();
    let in_flight = state.metrics().in_flight();
    caller.end_user = end_user_of(
        headers,
        state.budgets().end_user_header.as_ref(),
        request.user(),
    );
    let mut record = CallRecord::start(C::OPERATION, caller.clone(), request.model().to_owned());
    set_parent_from(&record.span, headers);
    if let Err(err) = admit_model(state, &caller, request.model_mut()) {
        return Err(fail(state, record, started, err).await);
    }
    let mut options = match request.check().and_then(|()| match request.extra_mut() {
        Some(extra) => {
            refuse_client_credentials(extra)?;
            let mut options = routing_options(extra)?;
            let tags = take_tags(extra)?;
            options.preference = tag_preference(state, &tags, extra, headers);
            // These calls are not cached; the cache fields are taken out all the same.
            take_litellm_fields(extra, &mut options, &mut CacheControl::default())?;
            Ok(options)
        }
        None => Ok(CallOptions::default()),
    }) {
        Ok(options) => options,
        Err(err) => return Err(fail(state, record, started, err).await),
    };
    if let Some(pinned) = request.pinned_deployment() {
        let pinned = pinned.to_owned();
        options.preference = Some(DeploymentRank::new(move |d| u8::from(d.id != pinned)));
    }
    options.allowed = fallback_filter(state, &caller);
    let user = request.user().map(str::to_owned);
    let experiment = assign_variant(state, request.model_mut(), user.as_deref(), headers);
    options.wildcard = state.wildcard_route(request.model());
    let group = group_of(request.model(), &options);
    let wildcard = options.wildcard.clone();
    let input_tokens = request.input_tokens();
    prefer_fitting(state, &mut options, input_tokens);
    let limited = pipeline::AdmittedCall {
        caller: caller.clone(),
        model: request.model().to_owned(),
        tokens: input_tokens,
    };
    if let Err(err) = pipeline::admit(state, limited).await {
        return Err(fail(state, record, started, err).await);
    }
    let asked_output = request.asked_output();
    let generates = request.generates();
    let estimate = || {
        if generates {
            estimate::chat(state, &group, wildcard.as_ref(), input_tokens, asked_output)
        } else {
            estimate::prompt_only(state, &group, wildcard.as_ref(), input_tokens)
        }
    };
    match reserve(state, &caller, &group, estimate).await {
        Ok(reservation) => record.reservation = reservation,
        Err(err) => return Err(fail(state, record, started, err).await),
    }
    record.experiment.clone_from(&experiment);
    record.model_group = Some(group.clone());
    observe::note_caller(&record);
    let model = group;
    let span = record.span.clone();
    let attempts = AtomicU32::new(0);
    let routed = state
        .router()
        .call(&model, request, &options, |deployment, mut request| {
            if let Some(model) = wildcard_model(&deployment, wildcard.as_ref()) {
                *request.model_mut() = model;
            }
            let request = request.shaped_for(state, &deployment.id);
            let number = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            let attempt = observe::attempt_span(&span, &deployment, number);
            let entered = attempt.span().clone();
            Box::pin(
                async move {
                    let answer = request.send(deployment.provider.as_ref());
                    let result = within(&deployment, deployment.timeout, answer).await;
                    match &result {
                        Ok(answer) => {
                            attempt.record_response(C::answer_model(answer).unwrap_or(""), "", &[]);
                            if let Some(tokens) = C::reported(answer) {
                                observe::record_tokens(&attempt, tokens, 0);
                            }
                        }
                        Err(err) => attempt.record_error(err.class.as_str()),
                    }
                    result
                }
                .in_span(entered),
            )
        })
        .in_span(record.span.span().clone())
        .await
        .map_err(route_error);
    let routed = match routed {
        Ok(routed) => routed,
        Err(err) => {
            record.attempts = attempts.load(Ordering::Relaxed);
            return Err(fail(state, record, started, err).await);
        }
    };
    let deployment = Arc::clone(routed.deployment());
    let fallback = Tokens {
        prompt: input_tokens,
        completion: asked_output.unwrap_or(0),
        ..Tokens::default()
    };
    let pricer = Pricer {
        price: state.price_on(&deployment, wildcard.as_ref()),
        limits: state.token_limits(&deployment.id),
        fallback,
        cache_hit: false,
    };
    record.deployment = Some(deployment.id.clone());
    record.provider = Some(deployment.provider.family());
    record.upstream_model = Some(deployment.provider.upstream_model().to_owned());
    record.model_group = Some(deployment.model_name.clone());
    record.attempts = routed.attempts;
    record.fallback_from.clone_from(&routed.fallback_from);
    let upstream_wait = routed.upstream_wait;
    let request_id = Arc::clone(&record.request_id);
    let model_group = record.model_group.clone();
    let key_spend = record.reservation.as_ref().and_then(Reservation::key_spend);
    let upstream = Upstream {
        deployment,
        attempts: routed.attempts,
        fallbacks: routed.fallbacks,
        fallback_from: routed.fallback_from,
        upstream_wait,
    };
    let mut cost = None;
    let outcome = if C::streaming(&routed.value) {
        let slot = SettlementSlot::default();
        let settled = slot.clone();
        let finishing = state.clone();
        // The record (holding the call span) and the in-flight count live in the closure: the
        // call is traced and counted as in flight until the stream ends or is dropped.
        let stream_started = Instant::now();
        let end = Box::new(move |end: StreamEnd| {
            record.time_to_first_token = end.first_event.map(|at| at - started);
            // The upstream's part of the stream, from its start to its end, adds to the wait
            // until it started; unknown when the client left first.
            record.upstream_wait = end
                .upstream_end
                .map(|at| upstream_wait + (at - stream_started));
            let (reported, estimated) = match end.reported {
                Some(tokens) => (tokens, false),
                None => (fallback, true),
            };
            let (tokens, cost) = pricer.account(reported, estimated, None);
            record.tokens = tokens;
            record.cost = cost;
            record.latency = started.elapsed();
            slot.put(finishing.finish_call(record));
            drop(in_flight);
        });
        let watch = StreamWatch {
            guard: routed.guard,
            state: state.clone(),
            end,
            slot: settled,
        };
        C::watch(routed.value, watch)
    } else {
        let (reported, estimated) = match C::reported(&routed.value) {
            Some(tokens) => (tokens, false),
            None => (fallback, true),
        };
        let answer_model = C::answer_model(&routed.value);
        let (tokens, answer_cost) = pricer.account(reported, estimated, answer_model);
        record.response_model = answer_model.map(str::to_owned);
        record.upstream_wait = Some(upstream_wait);
        record.tokens = tokens;
        record.cost = answer_cost;
        record.latency = started.elapsed();
        cost = answer_cost;
        if let Some(settlement) = state.finish_call(record) {
            settlement.wait().await;
        }
        drop(in_flight);
        routed.value
    };
    Ok(Dispatched {
        route: Route {
            upstream: Some(upstream),
            experiment,
            decision: None,
            cache: None,
            cost,
            request_id,
            model_group,
            key_spend,
            started,
        },
        outcome,
    })
}
