//! Middleware for Switchyard that works in any service, not just the gateway, one module per
//! concern.
//!
//! - [`cost`]: what a call costs in US dollars: an embedded catalog of public list prices
//!   (LiteLLM's), per-deployment overrides, and the arithmetic from token usage to dollars.

pub mod cost;

pub use cost::{
    Cost, ModelPrice, PriceCatalog, PriceOverride, Pricing, Tokens, cost_of, cost_of_tokens,
};
