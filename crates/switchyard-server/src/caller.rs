//! Who is calling: the identity authentication establishes for a request (which key, its user
//! and team, its own limits, the models it may call, and the budgets its spend counts against),
//! carried in the request's extensions to the call path, where rate limits, budgets and spend
//! records read it. Never holds the secret key itself.

use std::sync::Arc;

use switchyard_layers::rate_limit::Limits;
use switchyard_store::{BudgetPeriod, CounterScope};

/// The identity of one request's caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's public id: a virtual key's id, [`Caller::MASTER`] for the master key, or
    /// [`Caller::OPEN`] when the gateway asks for no key.
    pub key_id: Arc<str>,
    /// The key's alias, if it has one.
    pub key_alias: Option<Arc<str>>,
    /// The user the key belongs to.
    pub user_id: Option<Arc<str>>,
    /// The team the key belongs to.
    pub team_id: Option<Arc<str>>,
    /// The key's own requests and tokens per minute, replacing `rate_limits.key`.
    pub limits: Option<Limits>,
    /// Model names the caller may call; empty allows every model.
    pub models: Arc<[String]>,
    /// The key, its user and its team, whose spend each call adds to (virtual keys only).
    pub accounts: Arc<[Account]>,
}

/// A key, user or team that is charged for a caller's calls, with its budget if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Key, user or team.
    pub scope: CounterScope,
    /// Its id.
    pub id: String,
    /// US dollars it may spend per period (ever, without a period).
    pub max_budget: Option<f64>,
    /// How often the budget starts over.
    pub period: Option<BudgetPeriod>,
}

impl Caller {
    /// The key id of callers using the master key.
    pub const MASTER: &str = "master";
    /// The key id of callers of a gateway without keys.
    pub const OPEN: &str = "open";

    /// A caller known only by its key id, allowed every model, with no budget.
    pub fn with_key_id(key_id: &str) -> Self {
        Self {
            key_id: Arc::from(key_id),
            key_alias: None,
            user_id: None,
            team_id: None,
            limits: None,
            models: Arc::from(Vec::new()),
            accounts: Arc::from(Vec::new()),
        }
    }

    /// Whether the caller may call `model`.
    pub fn may_call(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|allowed| allowed == model)
    }
}
