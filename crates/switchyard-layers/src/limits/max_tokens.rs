//! The `max_tokens` policy layer: a default for requests that name no limit and a ceiling for
//! those that name too high a one, per key (a model, a team, a virtual key) with a fallback.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{InvalidTokenLimit, MaxTokensExceeded};

/// A request whose limit on generated tokens the layer can read and set.
pub trait MaxTokensRequest {
    /// Which limit applies: a model name, a team or key id. `None` takes the fallback.
    fn policy_key(&self) -> Option<&str>;

    /// The most tokens the request asks the model to generate, if it says.
    fn max_tokens(&self) -> Option<u32>;

    /// Makes the request ask for `max_tokens`; afterwards [`max_tokens`](Self::max_tokens)
    /// returns `Some(max_tokens)`.
    fn set_max_tokens(&mut self, max_tokens: u32);
}

/// The default and the ceiling of one key's `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLimit {
    default: u32,
    ceiling: u32,
}

impl TokenLimit {
    /// Requests naming no limit get `default`; none may ask for more than `ceiling`.
    ///
    /// # Errors
    ///
    /// [`InvalidTokenLimit`] when either is zero or the default is above the ceiling.
    pub fn new(default: u32, ceiling: u32) -> Result<Self, InvalidTokenLimit> {
        if default == 0 || ceiling == 0 {
            return Err(InvalidTokenLimit::Zero);
        }
        if default > ceiling {
            return Err(InvalidTokenLimit::DefaultAboveCeiling { default, ceiling });
        }
        Ok(Self { default, ceiling })
    }

    /// What a request naming no limit gets.
    pub fn default_tokens(&self) -> u32 {
        self.default
    }

    /// The most a request may ask for.
    pub fn ceiling(&self) -> u32 {
        self.ceiling
    }
}

/// What happens to a request asking for more than its ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Excess {
    /// Lower it to the ceiling and send it on.
    #[default]
    Clamp,
    /// Fail it with [`MaxTokensExceeded`] without calling the inner service.
    Refuse,
}

/// Applies `max_tokens` defaults and ceilings to the requests of the wrapped service.
///
/// ```
/// use switchyard_layers::limits::{Excess, MaxTokensExceeded, MaxTokensLayer, TokenLimit};
/// use switchyard_wire::ChatRequest;
/// use tower::{BoxError, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// // Every model: 1,024 tokens unless asked, at most 4,096; the small model may go to 16,384.
/// let layer = MaxTokensLayer::new()
///     .fallback(TokenLimit::new(1_024, 4_096)?)
///     .limit("gpt-4o-mini", TokenLimit::new(1_024, 16_384)?);
/// let service = ServiceBuilder::new()
///     .layer(layer.clone())
///     .service_fn(|request: ChatRequest| async move {
///         Ok::<_, BoxError>(request.max_completion_tokens)
///     });
///
/// let ask = |model: &str, max_tokens: Option<u32>| -> ChatRequest {
///     serde_json::from_value(serde_json::json!({
///         "model": model, "messages": [], "max_completion_tokens": max_tokens,
///     }))
///     .expect("a chat request")
/// };
/// assert_eq!(service.clone().oneshot(ask("gpt-4o", None)).await?, Some(1_024));
/// assert_eq!(service.clone().oneshot(ask("gpt-4o", Some(9_000))).await?, Some(4_096));
/// assert_eq!(service.oneshot(ask("gpt-4o-mini", Some(9_000))).await?, Some(9_000));
///
/// // Refusing instead of clamping.
/// let strict = ServiceBuilder::new()
///     .layer(layer.on_excess(Excess::Refuse))
///     .service_fn(|_: ChatRequest| async { Ok::<_, BoxError>(()) });
/// let err = strict.oneshot(ask("gpt-4o", Some(9_000))).await.expect_err("above the ceiling");
/// assert_eq!(
///     err.downcast_ref::<MaxTokensExceeded>(),
///     Some(&MaxTokensExceeded { requested: 9_000, ceiling: 4_096 })
/// );
/// # Ok(())
/// # }
/// ```
///
/// Cloning is cheap: the per-key limits are shared.
#[derive(Debug, Clone, Default)]
pub struct MaxTokensLayer {
    fallback: Option<TokenLimit>,
    by_key: Arc<HashMap<String, TokenLimit>>,
    excess: Excess,
}

impl MaxTokensLayer {
    /// A layer with no limits yet, clamping requests above a ceiling.
    pub fn new() -> Self {
        Self::default()
    }

    /// The limit for requests whose key has none of its own. Without one they pass unchanged.
    pub fn fallback(mut self, limit: TokenLimit) -> Self {
        self.fallback = Some(limit);
        self
    }

    /// The limit for requests whose [`policy_key`](MaxTokensRequest::policy_key) is `key`.
    pub fn limit(mut self, key: impl Into<String>, limit: TokenLimit) -> Self {
        Arc::make_mut(&mut self.by_key).insert(key.into(), limit);
        self
    }

    /// What to do with requests above their ceiling.
    pub fn on_excess(mut self, excess: Excess) -> Self {
        self.excess = excess;
        self
    }

    /// The limit that applies to requests with `key`.
    pub fn limit_for(&self, key: Option<&str>) -> Option<TokenLimit> {
        key.and_then(|key| self.by_key.get(key))
            .copied()
            .or(self.fallback)
    }

    /// Gives `request` its default or lowers it to its ceiling; the layer's whole job, for
    /// callers outside a tower stack.
    ///
    /// # Errors
    ///
    /// [`MaxTokensExceeded`] when the request is above its ceiling and the layer refuses.
    pub fn apply<R>(&self, request: &mut R) -> Result<(), MaxTokensExceeded>
    where
        R: MaxTokensRequest + ?Sized,
    {
        let Some(limit) = self.limit_for(request.policy_key()) else {
            return Ok(());
        };
        match request.max_tokens() {
            None => request.set_max_tokens(limit.default),
            Some(requested) if requested > limit.ceiling => match self.excess {
                Excess::Clamp => request.set_max_tokens(limit.ceiling),
                Excess::Refuse => {
                    return Err(MaxTokensExceeded {
                        requested,
                        ceiling: limit.ceiling,
                    });
                }
            },
            Some(_) => {}
        }
        Ok(())
    }
}

impl<S> Layer<S> for MaxTokensLayer {
    type Service = MaxTokens<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MaxTokens {
            inner,
            limits: self.clone(),
        }
    }
}

/// The service [`MaxTokensLayer`] builds.
#[derive(Debug, Clone)]
pub struct MaxTokens<S> {
    inner: S,
    limits: MaxTokensLayer,
}

impl<S> MaxTokens<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, Req> Service<Req> for MaxTokens<S>
where
    S: Service<Req>,
    S::Error: From<MaxTokensExceeded>,
    Req: MaxTokensRequest,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Req) -> Self::Future {
        let state = match self.limits.apply(&mut request) {
            Ok(()) => State::Called {
                future: self.inner.call(request),
            },
            Err(refused) => State::Refused {
                refused: Some(refused),
            },
        };
        ResponseFuture { state }
    }
}

pin_project! {
    /// The future of [`MaxTokens`]: the inner answer, or the refusal.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    #[derive(Debug)]
    enum State<F> {
        Called { #[pin] future: F },
        Refused { refused: Option<MaxTokensExceeded> },
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: From<MaxTokensExceeded>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future } => future.poll(cx),
            StateProj::Refused { refused } => {
                let refused = refused.take().expect("polled after completion");
                Poll::Ready(Err(refused.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::{ServiceBuilder, ServiceExt};

    #[derive(Debug, Clone, PartialEq)]
    struct Ask {
        key: Option<&'static str>,
        max_tokens: Option<u32>,
    }

    impl MaxTokensRequest for Ask {
        fn policy_key(&self) -> Option<&str> {
            self.key
        }
        fn max_tokens(&self) -> Option<u32> {
            self.max_tokens
        }
        fn set_max_tokens(&mut self, max_tokens: u32) {
            self.max_tokens = Some(max_tokens);
        }
    }

    #[derive(Debug, PartialEq, thiserror::Error)]
    #[error(transparent)]
    struct Refused(#[from] MaxTokensExceeded);

    fn ask(key: Option<&'static str>, max_tokens: Option<u32>) -> Ask {
        Ask { key, max_tokens }
    }

    fn limit(default: u32, ceiling: u32) -> TokenLimit {
        TokenLimit::new(default, ceiling).expect("valid")
    }

    fn layer() -> MaxTokensLayer {
        MaxTokensLayer::new()
            .fallback(limit(256, 1_000))
            .limit("big", limit(1_000, 8_000))
    }

    /// What the inner service sees of `request` behind `layer`; `None` when it is not called.
    async fn seen(layer: MaxTokensLayer, request: Ask) -> Result<Option<u32>, Refused> {
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|request: Ask| async move { Ok(request.max_tokens) })
            .oneshot(request)
            .await
    }

    #[tokio::test]
    async fn requests_without_a_limit_get_their_keys_default() {
        assert_eq!(seen(layer(), ask(None, None)).await, Ok(Some(256)));
        assert_eq!(seen(layer(), ask(Some("other"), None)).await, Ok(Some(256)));
        assert_eq!(seen(layer(), ask(Some("big"), None)).await, Ok(Some(1_000)));
    }

    #[tokio::test]
    async fn requests_within_the_ceiling_are_untouched() {
        assert_eq!(seen(layer(), ask(None, Some(1_000))).await, Ok(Some(1_000)));
        assert_eq!(seen(layer(), ask(Some("big"), Some(5))).await, Ok(Some(5)));
    }

    #[tokio::test]
    async fn requests_above_the_ceiling_are_clamped_by_default() {
        assert_eq!(seen(layer(), ask(None, Some(5_000))).await, Ok(Some(1_000)));
        let big = ask(Some("big"), Some(50_000));
        assert_eq!(seen(layer(), big).await, Ok(Some(8_000)));
    }

    #[tokio::test]
    async fn refusing_fails_without_calling_the_inner_service() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let service = ServiceBuilder::new()
            .layer(layer().on_excess(Excess::Refuse))
            .service_fn(move |_: Ask| {
                counter.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Refused>(()) }
            });
        let refused = service.clone().oneshot(ask(None, Some(1_001))).await;
        let expected = MaxTokensExceeded {
            requested: 1_001,
            ceiling: 1_000,
        };
        assert_eq!(refused, Err(Refused(expected)));
        assert_eq!(
            expected.to_string(),
            "max_tokens 1001 is above the ceiling of 1000"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        // A request within its ceiling, or without a limit, still goes through.
        assert_eq!(service.clone().oneshot(ask(None, Some(10))).await, Ok(()));
        assert_eq!(service.oneshot(ask(None, None)).await, Ok(()));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_a_matching_limit_requests_pass_unchanged() {
        let keyed_only = MaxTokensLayer::new().limit("big", limit(1, 2));
        let service = ServiceBuilder::new()
            .layer(keyed_only)
            .service_fn(|request: Ask| async move { Ok::<_, Refused>(request) });
        let request = ask(Some("small"), Some(1_000_000));
        assert_eq!(service.oneshot(request.clone()).await, Ok(request));
    }

    #[test]
    fn invalid_limits_are_refused() {
        assert_eq!(TokenLimit::new(0, 10), Err(InvalidTokenLimit::Zero));
        assert_eq!(TokenLimit::new(1, 0), Err(InvalidTokenLimit::Zero));
        assert_eq!(
            TokenLimit::new(11, 10),
            Err(InvalidTokenLimit::DefaultAboveCeiling {
                default: 11,
                ceiling: 10
            })
        );
        let ok = limit(10, 10);
        assert_eq!((ok.default_tokens(), ok.ceiling()), (10, 10));
    }

    #[test]
    fn max_tokens_request_is_object_safe() {
        fn _obj_safe(_: &mut dyn MaxTokensRequest, _: Box<dyn MaxTokensRequest + Send>) {}
        let mut request = ask(None, Some(99_999));
        let dynamic: &mut dyn MaxTokensRequest = &mut request;
        layer().apply(dynamic).expect("clamped");
        assert_eq!(request.max_tokens, Some(1_000));
    }
}
