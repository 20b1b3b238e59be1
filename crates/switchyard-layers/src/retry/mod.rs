//! Retries for any tower service: a [`tower::retry::Policy`] with exponential backoff and full
//! jitter, a retry budget, `Retry-After` hints, and two promises: only failures that say they
//! are transient are retried, and nothing is retried once a stream has started.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//!
//! use switchyard_layers::retry::{Replay, RetryClass, RetryConfig, RetryDecision, RetryPolicy};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! #[derive(Clone)]
//! struct Prompt(&'static str);
//!
//! impl Replay for Prompt {
//!     fn replay(&self) -> Option<Self> {
//!         Some(self.clone())
//!     }
//! }
//!
//! struct Reply(String);
//!
//! impl RetryClass for Reply {
//!     fn retry_decision(&self) -> RetryDecision {
//!         RetryDecision::Final
//!     }
//! }
//!
//! #[derive(Debug)]
//! enum Failure {
//!     Overloaded,
//!     BadRequest,
//! }
//!
//! impl RetryClass for Failure {
//!     fn retry_decision(&self) -> RetryDecision {
//!         match self {
//!             Failure::Overloaded => RetryDecision::Retry { after: None },
//!             Failure::BadRequest => RetryDecision::Final,
//!         }
//!     }
//! }
//!
//! // The clock is paused so the backoff costs the example no time.
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let policy = RetryPolicy::new(&RetryConfig { seed: Some(7), ..RetryConfig::default() })?;
//!     let calls = Arc::new(AtomicU32::new(0));
//!     let counter = Arc::clone(&calls);
//!     let service = ServiceBuilder::new()
//!         .retry(policy.clone())
//!         .service_fn(move |prompt: Prompt| {
//!             let call = counter.fetch_add(1, Ordering::SeqCst);
//!             async move {
//!                 match (prompt.0, call) {
//!                     ("", _) => Err(Failure::BadRequest),
//!                     (_, 0 | 1) => Err(Failure::Overloaded),
//!                     (text, _) => Ok(Reply(text.to_uppercase())),
//!                 }
//!             }
//!         });
//!
//!     // Overloaded twice, then an answer: three attempts, the default.
//!     let reply = service.clone().oneshot(Prompt("hi")).await.map_err(|e| format!("{e:?}"))?;
//!     assert_eq!(reply.0, "HI");
//!     assert_eq!(calls.load(Ordering::SeqCst), 3);
//!
//!     // A bad request is final: one more call, no retry.
//!     assert!(service.oneshot(Prompt("")).await.is_err());
//!     assert_eq!(calls.load(Ordering::SeqCst), 4);
//!     Ok(())
//! }
//! ```
//!
//! # What is retried
//!
//! The request says whether it can be sent again ([`Replay`]); the response and the error each
//! say what they call for ([`RetryClass`] → [`RetryDecision`]): `Final`, `Retry` (with the
//! upstream's wait hint) or `Streaming`. A streaming response is handed over untouched and ends
//! the retries, because its first chunks may already be on their way to the client. The
//! gateway's types answer already: `ChatRequest` and `EmbeddingsRequest` replay as copies,
//! complete responses are final, and with the `providers` feature `ProviderError` retries the
//! classes `ErrorClass::is_retryable` names while a `ChunkStream` is `Streaming`.
//!
//! # How long it waits
//!
//! Retry `n` (from zero) waits a [`Backoff`] draw from `[0, min(max_delay, base_delay * 2^n)]`
//! ("full jitter"), or the upstream's `Retry-After` when that is longer. A hint longer than
//! `max_retry_after` ends the retries so the caller can go elsewhere. Time is tokio's, so tests
//! pause and advance it; [`RetryConfig::seed`] makes the jitter reproducible.
//!
//! # How much it may retry
//!
//! Every request pays one token into a [`RetryBudget`] on its first answer; a retry costs
//! `1 / retry_ratio` tokens. With the defaults, retries add at most 20 % of requests plus 10 a
//! second to an upstream that fails everything, however many attempts are allowed per request.
//! Clones of one policy share its budget; [`RetryPolicy::with_budget`] shares one between
//! policies.
//!
//! # Where it goes in a stack
//!
//! Put it outside a [`DeadlineLayer`](crate::limits::DeadlineLayer) to give every attempt its
//! own deadline (an elapsed attempt is then retried if its error says it may be), inside one to
//! bound all attempts together. The inner service must be `Clone`.

mod backoff;
mod budget;
mod class;
mod config;
mod policy;
#[cfg(test)]
mod tests;

pub use backoff::Backoff;
pub use budget::RetryBudget;
pub use class::{Replay, RetryClass, RetryDecision};
pub use config::{RetryConfig, RetryConfigError};
pub use policy::RetryPolicy;
pub use tower::retry::{Retry, RetryLayer};
