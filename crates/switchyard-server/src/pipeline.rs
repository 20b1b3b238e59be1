//! The layers in front of the router for one chat call, stacked as tower services from what the
//! configuration turned on: rate limits per caller (outermost, so a refused call costs nothing
//! and reaches no upstream), the response cache (its keys scoped by the caller's team), the
//! call's deadline, and the router itself ([`RouteChat`]). The stack is assembled per call from
//! layers built once in [`AppState`]; assembling clones a few `Arc`s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use switchyard_layers::cache::{
    BoxChunkStream, CacheControl, CacheKey, CacheLayer, CacheStatus, CacheStore, Cacheable,
    CacheableResponse, Cached, Entry, KeyOptions, MemoryStore, RedisStore, Reply,
};
use switchyard_layers::limits::{DeadlineLayer, MaxTokensLayer, RequestedTimeout};
use switchyard_layers::rate_limit::{
    Correction, EstimateTokens, LimitCheck, Limits, LocalBackend, RateLimitBackend, RateLimitKey,
    RateLimitLayer, RedisBackend, RedisSettings, Scope, UsedTokens,
};
use switchyard_providers::{ChunkStream, ErrorClass, ProviderError};
use switchyard_router::{CallGuard, CallOptions, Deployment, RouteError};
use switchyard_telemetry::CallSpan;
use switchyard_telemetry::InSpanExt;
use switchyard_wire::{ChatChunk, ChatRequest, ChatResponse, CompletionRequest, PromptOptions};
use tokio::time::Instant;
use tower::util::Either;
use tower::{Layer, Service, ServiceExt};

use crate::caller::Caller;
use crate::config::layers::{CacheScope, CacheStoreSettings, LayerSettings, RateLimitSettings};
use crate::error::ApiError;
use crate::observe;
use crate::state::{AppState, BuildError};

/// One chat call on its way through the layers: the request as the upstream will see it, and
/// what the gateway knows around it.
pub(crate) struct ChatCall {
    /// The request, its model pointed at the group that serves it.
    pub request: ChatRequest,
    /// For a legacy text completion, what it holds besides the chat call it stands for: the
    /// upstream is asked for `/completions` ([`CompletionRequest::join`]).
    pub prompt: Option<Arc<PromptOptions>>,
    /// Per-request routing options (`models`, `fallbacks`, `num_retries`).
    pub options: CallOptions,
    /// Who is calling.
    pub caller: Caller,
    /// The request's own `timeout`, if it set one.
    pub timeout: Option<Duration>,
    /// The caller's cache directives: the body's `cache` object and the `Cache-Control` header.
    pub cache_control: CacheControl,
    /// The call's span: each upstream attempt gets a child span of it.
    pub span: CallSpan,
    /// Upstream attempts started so far, read by the caller when the call fails.
    pub attempts: Arc<AtomicU32>,
}

impl EstimateTokens for ChatCall {
    fn estimated_tokens(&self) -> u64 {
        self.request.estimated_tokens()
    }
}

/// A chat call on its way through the cache, with the partition of the cache it may read and
/// write: answers are never shared across partitions.
pub(crate) struct ScopedCall {
    call: ChatCall,
    /// `None` when every caller shares one cache (`cache_params.scope: shared`).
    scope: Option<String>,
}

impl ScopedCall {
    /// `call` in the partition `scope` gives its caller.
    fn new(call: ChatCall, scope: CacheScope) -> Self {
        let caller = &call.caller;
        // Distinct prefixes: a team id can never be mistaken for a key id. The master key and
        // an open gateway have key ids of their own (`master`, `open`), so each is one scope.
        let scope = match (scope, &caller.team_id) {
            (CacheScope::Shared, _) => None,
            (CacheScope::Team, Some(team)) => Some(format!("team:{team}")),
            (CacheScope::Team | CacheScope::Key, _) => Some(format!("key:{}", caller.key_id)),
        };
        Self { call, scope }
    }
}

impl Cacheable for ScopedCall {
    fn take_cache_control(&mut self) -> CacheControl {
        self.call.cache_control
    }

    fn cache_key(&self, options: &KeyOptions) -> Option<CacheKey> {
        // Text completions are not cached: their key would have to hold their prompt options.
        if self.call.prompt.is_some() {
            return None;
        }
        let key = self.call.request.cache_key(options)?;
        Some(match &self.scope {
            Some(scope) => key.scoped(scope),
            None => key,
        })
    }
}

impl RequestedTimeout for ChatCall {
    fn requested_timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

/// The deployment that answered a call and how the call got there.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    /// The deployment.
    pub deployment: Arc<Deployment>,
    /// Attempts made, the successful one included.
    pub attempts: u32,
    /// Fallback groups attempted.
    pub fallbacks: u32,
    /// The requested group, when a fallback group answered.
    pub fallback_from: Option<String>,
    /// Time spent waiting on upstreams, until the answer or the stream's start.
    pub upstream_wait: Duration,
}

/// A complete answer or a stream of chunks.
pub(crate) type ChatReply = Reply<Box<ChatResponse>, ChatChunk, ProviderError>;

/// What the layers give back for a chat call.
pub(crate) struct ChatAnswer {
    /// The deployment that answered; `None` when the cache did.
    pub upstream: Option<Upstream>,
    /// The answer.
    pub reply: ChatReply,
    /// The cache's part, when the cache is on.
    pub cache: Option<CacheStatus>,
    /// The rate limiter's token estimate, to settle when a stream reports its usage.
    pub correction: Option<Correction>,
}

impl ChatAnswer {
    fn from_cached(cached: Cached<Self>) -> Self {
        Self {
            cache: Some(cached.status),
            ..cached.response
        }
    }
}

impl CacheableResponse for ChatAnswer {
    type Complete = Box<ChatResponse>;
    type Chunk = ChatChunk;
    type Error = ProviderError;

    fn as_complete(&self) -> Option<&Self::Complete> {
        self.reply.as_complete()
    }

    fn map_stream<F>(self, wrap: F) -> Self
    where
        F: FnOnce(
            BoxChunkStream<Self::Chunk, Self::Error>,
        ) -> BoxChunkStream<Self::Chunk, Self::Error>,
    {
        Self {
            reply: self.reply.map_stream(wrap),
            ..self
        }
    }

    fn from_entry(entry: Entry<Self::Complete, Self::Chunk>) -> Self {
        Self {
            upstream: None,
            reply: Reply::from_entry(entry),
            cache: None,
            correction: None,
        }
    }
}

/// A cached answer used no tokens of any limit: the call counts as a request only.
impl UsedTokens for ChatAnswer {
    fn used_tokens(&self) -> Option<u64> {
        if self.upstream.is_none() {
            return Some(0);
        }
        match &self.reply {
            Reply::Complete(answer) => Some(answer.usage.as_ref().map_or(0, |u| u.total_tokens)),
            Reply::Stream(_) => None,
        }
    }

    fn defer_correction(&mut self, correction: Correction) {
        self.correction = Some(correction);
    }
}

/// The limits a chat call counts against, each scope on its own: its key (the key's own
/// limits, else `rate_limits.key`), the key's owner (the user's own, else `rate_limits.user`),
/// the key's team (the team's own, else `rate_limits.team`), the call's end user
/// (`rate_limits.end_user`, keyed by what the client names: it adds a limit, it never replaces
/// the owner's), and the model group requested.
#[derive(Debug, Clone)]
pub(crate) struct CallerLimits(pub RateLimitSettings);

/// What a call's limits key on: who calls, and which model group.
pub(crate) trait LimitedCall {
    fn caller(&self) -> &Caller;
    fn model(&self) -> &str;
}

impl LimitedCall for ChatCall {
    fn caller(&self) -> &Caller {
        &self.caller
    }

    fn model(&self) -> &str {
        &self.request.model
    }
}

/// A call answered whole (embeddings, moderations, images, audio, rerank) as its limits see
/// it: the caller, the group and its estimated tokens.
pub(crate) struct AdmittedCall {
    pub caller: Caller,
    pub model: String,
    pub tokens: u64,
}

impl LimitedCall for AdmittedCall {
    fn caller(&self) -> &Caller {
        &self.caller
    }

    fn model(&self) -> &str {
        &self.model
    }
}

impl EstimateTokens for AdmittedCall {
    fn estimated_tokens(&self) -> u64 {
        self.tokens
    }
}

/// The answer of the gate of calls answered whole: the estimate stands for the usage (they
/// use their prompt tokens only).
struct Admitted(u64);

impl UsedTokens for Admitted {
    fn used_tokens(&self) -> Option<u64> {
        Some(self.0)
    }
}

/// Counts a call answered whole against the caller's limits, as chat calls are counted: 429
/// when one is reached, so no route lets a key dodge its limits.
pub(crate) async fn admit(state: &AppState, call: AdmittedCall) -> Result<(), ApiError> {
    let Some(rate_limit) = &state.layers().rate_limit else {
        return Ok(());
    };
    let gate =
        tower::service_fn(
            |call: AdmittedCall| async move { Ok::<_, ApiError>(Admitted(call.tokens)) },
        );
    rate_limit
        .layer(gate)
        .oneshot(call)
        .await
        .map(drop)
        .map_err(ApiError::from_layers)
}

impl<C: LimitedCall> RateLimitKey<C> for CallerLimits {
    fn checks(&self, call: &C) -> Vec<LimitCheck> {
        let settings = &self.0;
        let caller = call.caller();
        let mut checks = Vec::with_capacity(5);
        let mut check = |scope: Scope, id: Option<&Arc<str>>, limits: Limits| {
            if let Some(id) = id
                && !limits.is_unlimited()
            {
                checks.push(LimitCheck::new(scope, Arc::clone(id), limits));
            }
        };
        check(
            Scope::API_KEY,
            Some(&caller.key_id),
            caller.limits.unwrap_or(settings.key),
        );
        check(
            Scope::USER,
            caller.user_id.as_ref(),
            caller.user_limits.unwrap_or(settings.user),
        );
        check(
            Scope::TEAM,
            caller.team_id.as_ref(),
            caller.team_limits.unwrap_or(settings.team),
        );
        check(Scope::END_USER, caller.end_user.as_ref(), settings.end_user);
        if !settings.model.is_unlimited() {
            checks.push(LimitCheck::new(Scope::MODEL, call.model(), settings.model));
        }
        checks
    }
}

/// Sends `call` through the layers the configuration turned on, then the router.
pub(crate) async fn run(state: &AppState, call: ChatCall) -> Result<ChatAnswer, ApiError> {
    let layers = state.layers();
    let core = layers.deadline.layer(RouteChat {
        state: state.clone(),
    });
    let cached = match &layers.cache {
        Some(cache) => {
            let scope = layers.cache_scope;
            Either::Left(
                cache
                    .layer(core.map_request(|scoped: ScopedCall| scoped.call))
                    .map_request(move |call: ChatCall| ScopedCall::new(call, scope))
                    .map_response(ChatAnswer::from_cached as fn(Cached<ChatAnswer>) -> ChatAnswer),
            )
        }
        None => Either::Right(core),
    };
    match &layers.rate_limit {
        Some(rate_limit) => rate_limit
            .layer(cached)
            .oneshot(call)
            .await
            .map_err(ApiError::from_layers),
        None => cached.oneshot(call).await,
    }
}

/// The innermost service: the router, sending the call to a deployment of its group with
/// retries, fallbacks and each deployment's timeout.
#[derive(Clone)]
pub(crate) struct RouteChat {
    state: AppState,
}

impl Service<ChatCall> for RouteChat {
    type Response = ChatAnswer;
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ChatAnswer, ApiError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: ChatCall) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move { route(state, call).await })
    }
}

async fn route(state: AppState, call: ChatCall) -> Result<ChatAnswer, ApiError> {
    let ChatCall {
        request,
        prompt,
        options,
        span,
        attempts,
        ..
    } = call;
    let model = crate::dispatch::group_of(&request.model, &options);
    let stream = request.is_stream();
    let request = match prompt {
        None => UpstreamRequest::Chat(request),
        Some(prompt) => UpstreamRequest::Completion(CompletionRequest::join(&request, &prompt)),
    };
    let routed = state
        .router()
        .call(&model, request, &options, |deployment, mut request| {
            let wildcard = options.wildcard.as_ref();
            if let Some(model) = crate::dispatch::wildcard_model(&deployment, wildcard) {
                request.set_model(model);
            }
            let request = request.shaped_for(&state, &deployment.id);
            // Retries, fallbacks and hedges each get their own child of the call span; the
            // attempt runs inside it, so the upstream request carries its context.
            let number = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            let attempt = observe::attempt_span(&span, &deployment, number);
            let entered = attempt.span().clone();
            Box::pin(
                async move {
                    let provider = &deployment.provider;
                    let result = if stream {
                        let started = match request {
                            UpstreamRequest::Chat(chat) => provider.chat_stream(chat),
                            UpstreamRequest::Completion(text) => provider.completion_stream(text),
                        };
                        within(&deployment, deployment.stream_timeout, started)
                            .await
                            .map(Attempt::Stream)
                    } else {
                        let answer = match request {
                            UpstreamRequest::Chat(chat) => provider.chat(chat),
                            UpstreamRequest::Completion(text) => provider.completion(text),
                        };
                        within(&deployment, deployment.timeout, answer)
                            .await
                            .map(|a| Attempt::Complete(Box::new(a)))
                    };
                    match &result {
                        Ok(Attempt::Complete(answer)) => observe::record_answer(&attempt, answer),
                        Ok(Attempt::Stream(_)) => {}
                        Err(err) => attempt.record_error(err.class.as_str()),
                    }
                    result
                }
                .in_span(entered),
            )
        })
        .await
        .map_err(route_error)?;
    let upstream = Upstream {
        deployment: Arc::clone(routed.deployment()),
        attempts: routed.attempts,
        fallbacks: routed.fallbacks,
        fallback_from: routed.fallback_from,
        upstream_wait: routed.upstream_wait,
    };
    let reply = match routed.value {
        Attempt::Complete(answer) => {
            if let Some(usage) = &answer.usage {
                state
                    .router()
                    .record_usage(&upstream.deployment, usage.total_tokens);
            }
            Reply::Complete(answer)
        }
        Attempt::Stream(chunks) => {
            Reply::Stream(Box::pin(Guarded::new(chunks, routed.guard, state)))
        }
    };
    Ok(ChatAnswer {
        upstream: Some(upstream),
        reply,
        cache: None,
        correction: None,
    })
}

/// What the upstream is asked for: a chat completion, or a legacy text completion.
#[derive(Clone)]
enum UpstreamRequest {
    Chat(ChatRequest),
    Completion(CompletionRequest),
}

impl UpstreamRequest {
    fn set_model(&mut self, model: String) {
        match self {
            Self::Chat(chat) => chat.model = model,
            Self::Completion(text) => text.model = model,
        }
    }

    /// The request as deployment `id` takes it ([`AppState::shape_request`]).
    fn shaped_for(self, state: &AppState, id: &str) -> Self {
        match self {
            Self::Chat(chat) => Self::Chat(state.shape_request(id, chat)),
            Self::Completion(text) => Self::Completion(state.shape_request(id, text)),
        }
    }
}

/// What one attempt produced, before the in-flight guard is attached to streams.
enum Attempt {
    Complete(Box<ChatResponse>),
    Stream(ChunkStream),
}

/// The gateway's answer to a routing failure.
pub(crate) fn route_error(err: RouteError) -> ApiError {
    match err {
        RouteError::UnknownModel(model) => ApiError::model_not_found(&model),
        RouteError::NoneAvailable { group, unavailable } => {
            ApiError::no_deployment_available(&group, unavailable)
        }
        RouteError::Upstream {
            deployment, error, ..
        } => ApiError::from_provider(&deployment, &error),
    }
}

/// Runs one upstream call within `limit`; running out of time is a `Timeout` failure, which the
/// router may retry elsewhere.
pub(crate) async fn within<T>(
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

/// A stream (of chat chunks, or of a passed-through provider's events) that keeps its deployment's in-flight slot until it ends or is dropped,
/// counts the usage it reports against the deployment's minute budget, and ends in a `Timeout`
/// error when the upstream sends nothing for the deployment's `stream_timeout` (the time it
/// had to start the stream is also the longest silence allowed once it has started), or when
/// the stream has run for the deployment's `max_stream_duration` however steadily it sends
/// (an upstream trickling forever would otherwise hold its slot, its connection and the
/// client's forever).
pub(crate) struct Guarded<T> {
    chunks: Pin<Box<dyn Stream<Item = Result<T, ProviderError>> + Send>>,
    guard: CallGuard,
    state: AppState,
    /// The longest silence allowed between two chunks.
    idle: Duration,
    /// When the stream must have ended; `None` when that is beyond the clock's range.
    ends_at: Option<Instant>,
    /// Runs out at the earlier of `idle` after the last chunk and `ends_at`: one timer for both.
    timer: Pin<Box<tokio::time::Sleep>>,
    timed_out: bool,
}

impl<T> Guarded<T> {
    pub(crate) fn new(
        chunks: Pin<Box<dyn Stream<Item = Result<T, ProviderError>> + Send>>,
        guard: CallGuard,
        state: AppState,
    ) -> Self {
        let deployment = guard.deployment();
        let idle = deployment.stream_timeout;
        let now = Instant::now();
        let ends_at = now.checked_add(deployment.max_stream_duration);
        let mut guarded = Self {
            chunks,
            guard,
            state,
            idle,
            ends_at,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timed_out: false,
        };
        guarded.rearm(now);
        guarded
    }

    /// Sets the timer for a chunk received at `now`.
    fn rearm(&mut self, now: Instant) {
        let silence_ends = now.checked_add(self.idle);
        let next = match (silence_ends, self.ends_at) {
            (Some(silence), Some(end)) => Some(silence.min(end)),
            (one, other) => one.or(other),
        };
        match next {
            Some(at) => self.timer.as_mut().reset(at),
            // Both limits are beyond the clock's range: a timer that never runs out.
            None => self.timer = Box::pin(tokio::time::sleep(Duration::MAX)),
        }
    }

    /// Ends the stream at `now` with the error of the limit it ran into.
    fn cut(&mut self, now: Instant) -> Poll<Option<Result<T, ProviderError>>> {
        self.timed_out = true;
        Poll::Ready(Some(Err(self.timeout_error(now))))
    }

    /// The error that ends the stream when a limit has run out at `now`.
    fn timeout_error(&self, now: Instant) -> ProviderError {
        let deployment = self.guard.deployment();
        let message = if self.ends_at.is_some_and(|end| now >= end) {
            format!(
                "deployment `{}` streamed for longer than {:.3}s (max_stream_duration)",
                deployment.id,
                deployment.max_stream_duration.as_secs_f64()
            )
        } else {
            format!(
                "deployment `{}` sent nothing for {:.3}s mid-stream",
                deployment.id,
                self.idle.as_secs_f64()
            )
        };
        ProviderError::new(ErrorClass::Timeout, message)
    }
}

/// An item of a stream that may report the call's usage so far.
pub(crate) trait ReportsUsage {
    /// The tokens this item reports the call used, if it reports any.
    fn total_tokens(&self) -> Option<u64>;
}

impl ReportsUsage for ChatChunk {
    fn total_tokens(&self) -> Option<u64> {
        self.usage.as_ref().map(|usage| usage.total_tokens)
    }
}

impl<T: ReportsUsage> Stream for Guarded<T> {
    type Item = Result<T, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.timed_out {
            return Poll::Ready(None);
        }
        // The whole stream's limit is checked before the next chunk, so that an upstream with a
        // chunk always ready is cut all the same. Silence is only silence when no chunk is
        // ready: a client reading slowly never makes its upstream look silent.
        let now = Instant::now();
        if self.ends_at.is_some_and(|end| now >= end) {
            return self.cut(now);
        }
        let item = self.chunks.as_mut().poll_next(cx);
        match &item {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(total) = chunk.total_tokens() {
                    self.state
                        .router()
                        .record_usage(self.guard.deployment(), total);
                }
                self.rearm(Instant::now());
            }
            Poll::Ready(_) => {}
            Poll::Pending => {
                if self.timer.as_mut().poll(cx).is_ready() {
                    return self.cut(Instant::now());
                }
            }
        }
        item
    }
}

/// The layers of the call path, built once from the settings.
pub(crate) struct CallLayers {
    /// The whole call's deadline.
    pub deadline: DeadlineLayer,
    /// The response cache, when on.
    pub cache: Option<CacheLayer>,
    /// Which callers share cached answers.
    pub cache_scope: CacheScope,
    /// Rate limits per caller, when any is set.
    pub rate_limit: Option<RateLimitLayer<CallerLimits>>,
    /// Where the rate limits are counted, to sweep its idle state.
    pub rate_limit_backend: Option<Arc<dyn RateLimitBackend>>,
    /// The same backend when it is Redis, for its tally of calls Redis did not answer.
    pub rate_limit_redis: Option<Arc<RedisBackend>>,
    /// `max_tokens` defaults and ceilings, when set.
    pub max_tokens: Option<MaxTokensLayer>,
}

impl std::fmt::Debug for CallLayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLayers")
            .field("deadline", &self.deadline)
            .field("cache", &self.cache)
            .field("cache_scope", &self.cache_scope)
            .field("rate_limit", &self.rate_limit)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl CallLayers {
    /// Builds the layers `settings` turn on. Needs a tokio runtime when limits count in Redis.
    pub(crate) fn build(
        settings: LayerSettings,
        request_timeout: Duration,
    ) -> Result<Self, BuildError> {
        let cache_scope = settings
            .cache
            .as_ref()
            .map_or(CacheScope::default(), |cache| cache.scope);
        let cache = match settings.cache {
            None => None,
            Some(cache) => {
                let store: Arc<dyn CacheStore> = match cache.store {
                    CacheStoreSettings::Memory { max_bytes } => {
                        Arc::new(MemoryStore::with_max_bytes(max_bytes))
                    }
                    CacheStoreSettings::Redis {
                        connection,
                        namespace,
                    } => {
                        let client = redis::Client::open(*connection)
                            .map_err(|e| BuildError::Cache(e.to_string()))?;
                        Arc::new(RedisStore::new(client, &namespace))
                    }
                };
                Some(
                    CacheLayer::shared(store)
                        .ttl(cache.ttl)
                        .key_options(KeyOptions {
                            include_user: cache.per_user,
                        }),
                )
            }
        };
        let (rate_limit, rate_limit_backend, rate_limit_redis) = match settings.rate_limits {
            None => (None, None, None),
            Some(limits) => {
                let redis = match &limits.redis {
                    None => None,
                    Some(shared) => {
                        let client = redis::Client::open(shared.redis.clone())
                            .map_err(|e| BuildError::RateLimits(e.to_string()))?;
                        let settings = RedisSettings::new(format!("{}:rate", shared.key_prefix))
                            .on_unavailable(limits.on_redis_failure);
                        Some(Arc::new(
                            RedisBackend::new(client, settings)
                                .map_err(|e| BuildError::RateLimits(e.to_string()))?,
                        ))
                    }
                };
                let backend: Arc<dyn RateLimitBackend> = match &redis {
                    Some(redis) => Arc::clone(redis) as _,
                    None => Arc::new(LocalBackend::new()),
                };
                let layer = RateLimitLayer::new(CallerLimits(limits), Arc::clone(&backend));
                (Some(layer), Some(backend), redis)
            }
        };
        Ok(Self {
            deadline: DeadlineLayer::new(request_timeout, request_timeout),
            cache,
            cache_scope,
            rate_limit,
            rate_limit_backend,
            rate_limit_redis,
            max_tokens: settings.max_tokens,
        })
    }
}
