//! Rate limits per caller: requests and tokens per minute, counted in process or shared between
//! replicas through Redis.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use switchyard_layers::rate_limit::{
//!     LimitCheck, LimitKind, Limits, LocalBackend, RateLimitError, RateLimitLayer, Scope,
//! };
//! use switchyard_wire::{ChatRequest, Usage};
//! use tower::{BoxError, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! // Every call counts against its user (2 requests a minute) and its model (10k tokens a minute).
//! let keys = |req: &ChatRequest| {
//!     let mut checks = vec![LimitCheck::new(
//!         Scope::MODEL,
//!         req.model.as_str(),
//!         Limits::none().tpm(10_000),
//!     )];
//!     if let Some(user) = &req.user {
//!         checks.push(LimitCheck::new(Scope::USER, user.as_str(), Limits::none().rpm(2)));
//!     }
//!     checks
//! };
//! let service = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(keys, Arc::new(LocalBackend::new())))
//!     // The upstream call; its response reports the usage that corrects the estimate.
//!     .service_fn(|_req: ChatRequest| async { Ok::<_, Infallible>(Usage::new(12, 30)) });
//!
//! let req: ChatRequest = serde_json::from_value(serde_json::json!({
//!     "model": "gpt-4o-mini",
//!     "messages": [{"role": "user", "content": "Hello!"}],
//!     "user": "alice",
//! }))?;
//! service.clone().oneshot(req.clone()).await?;
//! service.clone().oneshot(req.clone()).await?;
//! let err = service.oneshot(req).await.expect_err("alice's third call this minute");
//! let Some(RateLimitError::Limited(limited)) = err.downcast_ref::<RateLimitError>() else {
//!     panic!("refused by the rate limiter");
//! };
//! assert_eq!((limited.scope.as_str(), limited.key.as_str()), ("user", "alice"));
//! assert_eq!(limited.kind, LimitKind::Requests);
//! assert!(limited.retry_after.as_secs() <= 30);
//! # Ok(())
//! # }
//! ```
//!
//! The pieces, tower style:
//!
//! - **Which limits** apply to a request is a decision, [`RateLimitKey`]: it returns every
//!   [`LimitCheck`] (a [`Scope`] such as user, team, API key or model, a [`Key`] within it, and
//!   its [`Limits`]), and they are checked together, in one call to the backend.
//! - **How many tokens** a call uses: estimated from the request before the call
//!   ([`EstimateTokens`], implemented for [`ChatRequest`](switchyard_wire::ChatRequest)), then
//!   corrected from the response ([`UsedTokens`]); a stream whose usage comes at its end gets a
//!   [`Correction`] to [`settle`](Correction::settle) then.
//! - **Where it is counted** is a mechanism, [`RateLimitBackend`]: [`LocalBackend`] (in
//!   process: governor for requests, a one-minute window for tokens) or [`RedisBackend`] (one
//!   combined limit for every replica, one Lua script and round trip per call, and a
//!   [`FailurePolicy`] for when Redis does not answer). Run a [`Sweeper`] beside either.
//! - **Over a limit**, the service fails with a [`RateLimitError`] naming the limit and when to
//!   try again; it knows nothing of HTTP. [`RateLimitError::into_openai_response`] makes the
//!   OpenAI 429 answer, with `Retry-After`, for whoever does.

mod backend;
mod error;
mod future;
mod key;
mod layer;
mod local;
mod openai;
mod redis;
mod service;
mod tokens;

#[cfg(test)]
mod tests;

pub use self::backend::{Acquire, Correction, Grant, RateLimitBackend, Sweeper};
pub use self::error::{LimitKind, RateLimitError, RateLimited, StoreUnavailable};
pub use self::future::ResponseFuture;
pub use self::key::{Key, LimitCheck, Limits, RateLimitKey, Scope};
pub use self::layer::RateLimitLayer;
pub use self::local::LocalBackend;
pub use self::redis::{FailurePolicy, RedisBackend, RedisSettings};
pub use self::service::RateLimit;
pub use self::tokens::{
    DEFAULT_COMPLETION_TOKENS, EstimateTokens, UsedTokens, estimated_prompt_tokens,
};
