//! The Switchyard gateway as a library: configuration, authentication and the OpenAI-compatible
//! HTTP API, assembled into an axum application that tests and the binary build the same way.
//!
//! - [`config`]: LiteLLM-style `config.yaml` -> validated [`config::Settings`].
//! - [`AppState`]: model groups and provider adapters built from the settings.
//! - [`router`] / [`serve`]: the HTTP API (OpenAI's, and Anthropic's `/v1/messages`) and the
//!   server loop.
//! - [`ApiError`]: the one place failures become OpenAI error answers.
//! - [`usage_store`]: per-minute usage shared between replicas through Redis.

mod admin;
mod audio;
mod auth;
mod azure;
mod batch;
mod body;
mod dispatch;
mod estimate;
mod health;
mod invalidation;
mod messages;
mod model_info;
mod native;
mod observe;
mod outage;
mod pipeline;
pub mod request_params;
mod responses;
mod routes;
mod settled;
mod state;
mod stream;
pub mod tag_routing;
mod timestamp;
pub mod ui;
pub mod wildcard;

pub mod app;
pub mod caller;
pub mod config;
pub mod error;
pub mod live;
pub mod record;
pub mod server;
pub mod storage;
pub mod usage_store;

pub use app::{router, serve};
pub use error::ApiError;
pub use live::{Live, ReloadError};
pub use routes::{
    ATTEMPTS_HEADER, CACHE_HEADER, COST_HEADER, DEPLOYMENT_HEADER, EXPERIMENT_HEADER,
    FALLBACK_FROM_HEADER, REQUEST_ID_HEADER, ROUTE_REASON_HEADER, VARIANT_HEADER,
};
pub use state::{AppState, BuildError};
