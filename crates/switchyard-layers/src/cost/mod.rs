//! What a call costs: a catalog of public list prices per model, optional per-deployment overrides,
//! the arithmetic from token usage to US dollars, a [`CostLayer`] that prices every answer of a
//! tower service and hands it to a [`SpendSink`], and [`MeteredStream`] for streamed answers.
//!
//! ```
//! use switchyard_layers::cost::{PriceCatalog, cost_of};
//! use switchyard_wire::Usage;
//!
//! let catalog = PriceCatalog::embedded();
//! // Deployments name models `provider/model`; the catalog falls back to the bare name.
//! let entry = catalog.get("openai/gpt-4o-mini").expect("gpt-4o-mini is in the catalog");
//! assert_eq!(entry.name, "gpt-4o-mini");
//!
//! let cost = cost_of(&entry.price, &Usage::new(1_000, 200));
//! // LiteLLM lists gpt-4o-mini at $0.15 per million input tokens and $0.60 per million output
//! // tokens: 1,000 x 1.5e-7 + 200 x 6e-7, exactly.
//! assert_eq!(cost.usd, 0.00027);
//! assert!(!cost.estimated);
//! ```
//!
//! Prices are `f64` US dollars per token, the representation of the source file itself (LiteLLM
//! writes them as JSON numbers such as `1.5e-07`). An `f64` holds them to about 16 significant
//! digits, so a cost is exact to far below a millionth of a cent; that is ample for spend reports and
//! budgets, which is what these numbers are for. Invoicing would want a decimal type. A cost is
//! rounded to [`USD_DECIMALS`] places, the catalog's own precision, so the sums of binary
//! fractions come out as the decimal they stand for (`0.000006`, not `5.999999999999999e-06`).
//!
//! Where a deployment states its own price (LiteLLM's `input_cost_per_token` and friends in
//! `model_info` or `litellm_params`), [`Pricing::resolve`] puts it over the catalog's, and says when
//! a model has no price at all, so the caller can report the cost as unknown rather than zero.

mod catalog;
mod error;
mod layer;
pub mod litellm;
mod metered;
mod price;
mod pricing;

pub use catalog::{CatalogEntry, Mode, PriceCatalog};
pub use error::{CatalogError, InvalidPrice};
pub use layer::{Billable, CostLayer, CostService, ResponseFuture, SpendSink};
pub use metered::MeteredStream;
pub use price::{Cost, ModelPrice, Tokens, USD_DECIMALS, cost_of, cost_of_tokens, round_usd};
pub use pricing::{PriceOverride, Pricing};
