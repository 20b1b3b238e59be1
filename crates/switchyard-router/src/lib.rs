//! The routing engine: which deployment serves a call, and what happens when it fails.
//!
//! Every `model_list` entry of the configuration is a [`Deployment`]; entries that share a
//! `model_name` form one [`ModelGroup`]. The [`Router`] picks a deployment of the requested group
//! with the configured [`Strategy`] (within the lowest `order` tier that has one available),
//! retries on other deployments, follows fallback chains by failure kind, and cools failing
//! deployments down ([`RoutingPolicy`]). It decides on
//! [`ErrorClass`](switchyard_providers::ErrorClass)es only.

mod deployment;
mod experiment;
mod group;
mod policy;
mod router;
mod strategy;

pub use deployment::{Deployment, DeploymentLimits, DeploymentStats, LATENCY_WINDOW};
pub use experiment::{Experiment, StickyBy, Variant};
pub use group::{ModelGroup, ModelGroups};
pub use policy::{DEFAULT_COOLDOWN, FallbackReason, Hedge, RoutingPolicy};
pub use router::{CallGuard, CallOptions, RouteError, Routed, Router};
pub use strategy::Strategy;

#[cfg(test)]
mod tests;
