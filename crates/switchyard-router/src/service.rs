//! The router as a tower [`Service`], so other services can stack layers (timeouts, rate limits,
//! tracing) over it and call it like any other service.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use switchyard_providers::Provider;
//! use switchyard_providers::mock::{Mock, MockSettings};
//! use switchyard_router::{
//!     CallOptions, Deployment, ModelGroups, RouteRequest, Router, RouterService, RoutingPolicy,
//! };
//! use switchyard_wire::{ChatMessage, ChatRequest, RawExtra, Role};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = Mock::new(MockSettings { response: Some("hi".into()), ..Default::default() });
//! let deployment = Deployment::new("d1", "chat", Box::new(mock), Duration::from_secs(5));
//! let router = Arc::new(Router::new(ModelGroups::new([deployment]), RoutingPolicy::default()));
//!
//! // What one attempt does: here, a plain chat call on the chosen deployment.
//! let service = RouterService::new(router, |deployment: Arc<Deployment>, request: ChatRequest| {
//!     deployment.provider.chat(request)
//! });
//!
//! let request = ChatRequest {
//!     model: "chat".into(),
//!     messages: vec![ChatMessage::text(Role::User, "hello")],
//!     stream: None, stream_options: None, max_tokens: None, max_completion_tokens: None,
//!     temperature: None, top_p: None, n: None, stop: None, tools: None, tool_choice: None,
//!     response_format: None, user: None, extra: RawExtra::new(),
//! };
//! let routed = service
//!     .oneshot(RouteRequest::new("chat", request))
//!     .await
//!     .expect("the mock answers");
//! assert_eq!(routed.deployment().id, "d1");
//! assert_eq!(routed.value.choices[0].message.content.as_ref().map(|c| c.joined_text()).as_deref(), Some("hi"));
//! # }
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use switchyard_providers::ProviderError;
use tower::Service;

use crate::deployment::Deployment;
use crate::router::{CallOptions, RouteError, Routed, Router};

/// A call for the [`RouterService`]: the model group, the request and per-call options.
#[derive(Debug, Clone)]
pub struct RouteRequest<R> {
    /// The model group (or fallback chain head) to serve from.
    pub model: String,
    /// What each attempt is given (cloned only when another attempt could follow).
    pub request: R,
    /// Per-call routing options (`models`, `num_retries`).
    pub options: CallOptions,
}

impl<R> RouteRequest<R> {
    /// A call to `model` with default options.
    pub fn new(model: impl Into<String>, request: R) -> Self {
        Self {
            model: model.into(),
            request,
            options: CallOptions::default(),
        }
    }
}

/// [`Router::call`] as a [`Service`]: `send` performs one attempt on the chosen deployment.
/// Always ready; routing, retries, fallbacks, cooldowns and hedging happen inside `call`.
#[derive(Debug, Clone)]
pub struct RouterService<F> {
    router: Arc<Router>,
    send: F,
}

impl<F> RouterService<F> {
    /// A service routing through `router`, making each attempt with `send`.
    pub fn new(router: Arc<Router>, send: F) -> Self {
        Self { router, send }
    }

    /// The router behind the service.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }
}

impl<R, T, F> Service<RouteRequest<R>> for RouterService<F>
where
    R: Clone + Send + Sync + 'static,
    T: Send + 'static,
    F: Fn(Arc<Deployment>, R) -> BoxFuture<'static, Result<T, ProviderError>>
        + Clone
        + Send
        + Sync
        + 'static,
{
    type Response = Routed<T>;
    type Error = RouteError;
    type Future = BoxFuture<'static, Result<Routed<T>, RouteError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: RouteRequest<R>) -> Self::Future {
        let router = Arc::clone(&self.router);
        let send = self.send.clone();
        Box::pin(async move {
            router
                .call(&call.model, call.request, &call.options, send)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelGroups, RoutingPolicy};
    use std::time::Duration;
    use switchyard_providers::ErrorClass;
    use switchyard_providers::mock::{Mock, MockSettings};
    use tower::ServiceExt;

    fn router() -> Arc<Router> {
        let deployments = ["a", "b"].map(|id| {
            Deployment::new(
                id,
                "m",
                Box::new(Mock::new(MockSettings::default())),
                Duration::from_secs(1),
            )
        });
        Arc::new(Router::new(
            ModelGroups::new(deployments),
            RoutingPolicy::default(),
        ))
    }

    #[tokio::test]
    async fn the_service_retries_like_the_router() {
        let send = |deployment: Arc<Deployment>,
                    _request: ()|
         -> BoxFuture<'static, Result<String, ProviderError>> {
            Box::pin(async move {
                if deployment.id == "a" {
                    Err(ProviderError::new(ErrorClass::Overloaded, "busy"))
                } else {
                    Ok(deployment.id.clone())
                }
            })
        };
        let service = RouterService::new(router(), send);
        for _ in 0..10 {
            let routed = service
                .clone()
                .oneshot(RouteRequest::new("m", ()))
                .await
                .expect("served by b");
            assert_eq!(routed.value, "b");
        }
        let err = service
            .oneshot(RouteRequest::new("nope", ()))
            .await
            .expect_err("unknown");
        assert!(matches!(err, RouteError::UnknownModel(_)));
    }

    #[test]
    fn the_service_is_a_tower_service() {
        fn is_service<S: Service<RouteRequest<()>>>(_: &S) {}
        let send = |_: Arc<Deployment>, _: ()| -> BoxFuture<'static, Result<(), ProviderError>> {
            Box::pin(async { Ok(()) })
        };
        is_service(&RouterService::new(router(), send));
    }
}
