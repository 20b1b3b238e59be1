//! Per-request limits for any tower service: how long a request may take ([`DeadlineLayer`])
//! and how many tokens it may ask the model for ([`MaxTokensLayer`]).
//!
//! Both read the request through a small trait ([`RequestedTimeout`], [`MaxTokensRequest`]) and
//! fail through the inner service's own error type, which must take their error
//! (`From<Elapsed>`, `From<MaxTokensExceeded>`; tower's `BoxError` takes both).
//!
//! ```
//! use std::time::Duration;
//!
//! use switchyard_layers::limits::{DeadlineLayer, MaxTokensLayer, RequestedTimeout, TokenLimit};
//! use switchyard_wire::ChatRequest;
//! use tower::{BoxError, ServiceBuilder, ServiceExt};
//!
//! /// A chat call with the caller's own timeout, if it sent one.
//! struct Call {
//!     chat: ChatRequest,
//!     timeout: Option<Duration>,
//! }
//!
//! impl RequestedTimeout for Call {
//!     fn requested_timeout(&self) -> Option<Duration> {
//!         self.timeout
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let limits = MaxTokensLayer::new().fallback(TokenLimit::new(512, 4_096)?);
//! let service = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new(Duration::from_secs(60), Duration::from_secs(600)))
//!     // The max_tokens layer sees the chat request inside the call.
//!     .map_request(|call: Call| call.chat)
//!     .layer(limits)
//!     .service_fn(|chat: ChatRequest| async move {
//!         Ok::<_, BoxError>(chat.max_completion_tokens)
//!     });
//!
//! let chat: ChatRequest = serde_json::from_str(r#"{"model": "m", "messages": []}"#)?;
//! let sent = service.oneshot(Call { chat, timeout: None }).await?;
//! assert_eq!(sent, Some(512));
//! # Ok(())
//! # }
//! ```

mod deadline;
mod error;
mod gateway;
mod max_tokens;

pub use deadline::{Deadline, DeadlineLayer, RequestedTimeout};
pub use error::{Elapsed, InvalidTokenLimit, MaxTokensExceeded};
pub use max_tokens::{Excess, MaxTokens, MaxTokensLayer, MaxTokensRequest, TokenLimit};

/// The response futures of the limit services.
pub mod future {
    pub use super::deadline::ResponseFuture as DeadlineFuture;
    pub use super::max_tokens::ResponseFuture as MaxTokensFuture;
}
