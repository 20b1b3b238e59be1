//! The routing engine: which deployment serves a call, and what happens when it fails.
//!
//! Every `model_list` entry of the configuration is a [`Deployment`]; entries that share a
//! `model_name` form one [`ModelGroup`]. The [`Router`] picks a deployment of the requested group
//! with the configured [`Strategy`] (within the lowest `order` tier that has one available),
//! retries on other deployments, follows fallback chains by failure kind, and cools failing
//! deployments down ([`RoutingPolicy`]). It decides on
//! [`ErrorClass`](switchyard_providers::ErrorClass)es only.
//!
//! Before that, [`RoutingRules`] may turn a model name clients send (such as `switchyard/auto`)
//! into the group that serves the request, with an explainable [`Decision`].
//!
//! Several replicas agree on `rpm`/`tpm` limits and usage-based routing by sharing their
//! per-minute counts through a [`UsageStore`], which [`UsageSync`] updates off the call path.

mod deployment;
mod experiment;
mod group;
mod policy;
mod router;
mod rules;
mod service;
mod strategy;
mod usage;

pub use deployment::{
    Cooldown, CooldownCause, DEFAULT_MAX_STREAM_DURATION, Deployment, DeploymentLimits,
    DeploymentStats, LATENCY_WINDOW,
};
pub use experiment::{Experiment, StickyBy, Variant};
pub use group::{ModelGroup, ModelGroups, Unavailable};
pub use policy::{DEFAULT_COOLDOWN, FallbackReason, Hedge, RoutingPolicy};
pub use router::{
    CallGuard, CallOptions, CooldownHook, DeploymentRank, GroupFilter, RouteError, Routed, Router,
    WildcardRoute,
};
pub use rules::{
    ComplexityRule, Conditions, Decision, HybridRule, Prefer, RequestFacts, RoutingRules, Rule,
    RuleError, RuleKind, TaskRule, Tier, TierRule, group_latency, group_price,
};
pub use service::{RouteRequest, RouterService};
pub use strategy::Strategy;
pub use usage::{
    MemoryUsageStore, MinuteTotals, UsageCount, UsageIncrement, UsageStore, UsageStoreError,
    UsageSync, UsageSyncTask,
};

#[cfg(test)]
mod tests;
