//! An exact-match response cache: a request seen before, within its TTL, is answered from a
//! store instead of the inner service, complete answers and streams alike.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use switchyard_layers::cache::{CacheLayer, CacheStatus, MemoryStore, Reply};
//! use switchyard_wire::{ChatMessage, ChatRequest, ChatResponse, ChatChunk, Choice, Role};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! type ChatReply = Reply<ChatResponse, ChatChunk, std::io::Error>;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let upstream_calls = Arc::new(AtomicUsize::new(0));
//! let calls = Arc::clone(&upstream_calls);
//! let cache = CacheLayer::new(MemoryStore::with_max_bytes(64 << 20));
//! let service = ServiceBuilder::new()
//!     .layer(cache.clone())
//!     .service_fn(move |request: ChatRequest| {
//!         calls.fetch_add(1, Ordering::SeqCst);
//!         async move {
//!             Ok::<_, std::io::Error>(ChatReply::Complete(ChatResponse {
//!                 id: "chatcmpl-1".into(),
//!                 object: "chat.completion".into(),
//!                 created: 0,
//!                 model: request.model,
//!                 choices: vec![Choice {
//!                     index: 0,
//!                     message: ChatMessage::text(Role::Assistant, "4"),
//!                     finish_reason: Some("stop".into()),
//!                     logprobs: None,
//!                 }],
//!                 usage: None,
//!                 system_fingerprint: None,
//!                 extra: Default::default(),
//!             }))
//!         }
//!     });
//!
//! let ask = || -> Result<ChatRequest, serde_json::Error> {
//!     serde_json::from_value(serde_json::json!({
//!         "model": "gpt-4o-mini",
//!         "messages": [{"role": "user", "content": "2+2?"}],
//!         "temperature": 0
//!     }))
//! };
//! let first = service.clone().oneshot(ask()?).await?;
//! assert_eq!(first.status, CacheStatus::Miss);
//! let second = service.clone().oneshot(ask()?).await?;
//! assert!(second.is_hit());
//! assert_eq!(upstream_calls.load(Ordering::SeqCst), 1);
//!
//! // LiteLLM's body directives: read fresh, and the `cache` object never goes upstream.
//! let mut fresh = ask()?;
//! fresh.extra.insert("cache", serde_json::from_str(r#"{"no-cache": true}"#)?);
//! assert_eq!(service.oneshot(fresh).await?.status, CacheStatus::Bypass);
//! assert_eq!(upstream_calls.load(Ordering::SeqCst), 2);
//! assert_eq!(cache.stats().hits, 1);
//! # Ok(())
//! # }
//! ```
//!
//! The pieces, decisions apart from mechanisms:
//!
//! - [`Cacheable`] (implemented for [`ChatRequest`](switchyard_wire::ChatRequest)): the request's
//!   [`CacheKey`] and its caller's [`CacheControl`] (`no-cache`: answer fresh but store;
//!   `no-store`: neither; a TTL). Chat keys hash the normalized request with SHA-256 through
//!   [`KeyHasher`]; see the implementation's docs for what is in and out. A service whose
//!   callers must not share answers (tenants of a gateway) keys its requests with
//!   [`CacheKey::scoped`] in its own `Cacheable` implementation; the layer never needs to know
//!   who is calling.
//! - [`CacheableResponse`] (implemented for [`Reply`]): complete or streamed, and rebuilt from an
//!   [`Entry`]. A stream is recorded as it passes and stored only once it ends well; an error
//!   or an early drop stores nothing. A hit on a stream replays the stored chunks one by one.
//! - [`CacheStore`]: [`MemoryStore`] (moka, in process) or [`RedisStore`] (shared by replicas).
//!   A store that fails or cannot be reached is a miss: the call goes on, the outage is logged
//!   once, and the store is tried again by one call per [`CacheLayer::retry_after`].
//! - [`Cached`]: what callers get, the response and its [`CacheStatus`], so the gateway can set a
//!   header and charge nothing on a hit.

mod control;
mod future;
mod key;
mod layer;
mod memory;
mod redis;
mod request;
mod response;
mod service;
mod state;
mod store;
mod stream;

pub use control::{CACHE_FIELD, CacheControl, InvalidCacheDirectives, take_cache_directives};
pub use future::ResponseFuture;
pub use key::{CacheKey, KeyHasher};
pub use layer::CacheLayer;
pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use request::{Cacheable, IGNORED_FIELDS, KeyOptions};
pub use response::{BoxChunkStream, CacheStatus, CacheableResponse, Cached, Entry, Reply};
pub use service::Cache;
pub use state::CacheStats;
pub use store::{CacheStore, StoreError};

#[cfg(test)]
mod tests;
