//! Middleware for Switchyard that works in any service, not just the gateway, one module per
//! concern.
//!
//! - [`cache`]: an exact-match response cache keyed by the normalized request, in process (moka)
//!   or shared between replicas (Redis), streams stored only once they end well and replayed.
//! - [`cost`]: what a call costs in US dollars: an embedded catalog of public list prices
//!   (LiteLLM's), per-deployment overrides, and the arithmetic from token usage to dollars.
//! - [`retry`]: a `tower::retry::Policy` with exponential backoff and full jitter, a retry budget
//!   and `Retry-After` hints, retrying only transient failures and never a started stream.
//! - [`limits`]: a per-request deadline and `max_tokens` defaults and ceilings.
//! - [`rate_limit`]: requests and tokens per minute per caller (API key, user, team, model),
//!   counted in process or shared between replicas through Redis.

pub mod cache;
pub mod cost;
pub mod limits;
pub mod rate_limit;
pub mod retry;

pub use cache::{CacheLayer, CacheStatus, Cacheable, Cached, MemoryStore, RedisStore};
pub use cost::{
    Cost, ModelPrice, PriceCatalog, PriceOverride, Pricing, Tokens, cost_of, cost_of_tokens,
};
pub use limits::{DeadlineLayer, MaxTokensLayer};
pub use rate_limit::{
    RateLimit, RateLimitBackend, RateLimitError, RateLimitKey, RateLimitLayer, RateLimited,
};
pub use retry::RetryPolicy;
