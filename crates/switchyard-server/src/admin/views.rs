//! How the admin API shows keys, users, teams and organizations: LiteLLM's field names
//! (`LiteLLM_VerificationToken`, `LiteLLM_UserTable`, `LiteLLM_TeamTable`,
//! `LiteLLM_OrganizationTable` in its `schema.prisma`; <https://docs.litellm.ai/docs/proxy/virtual_keys>),
//! times in RFC 3339, and each one's spend in its current budget window, read from the spend
//! log. Never a secret nor its hash.

use serde::Serialize;
use serde_json::{Map, Value, json};
use switchyard_store::{
    AccountKind, AccountRecord, BudgetPeriod, CounterScope, KeyRecord, MemberRecord, ModelAliases,
    Store,
};

use super::store_error;
use crate::error::ApiError;
use crate::storage::unix_seconds;
use crate::timestamp::rfc3339_seconds;

/// A key as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// The key's public id. LiteLLM's `token` is the SHA-256 of the secret; Switchyard shows
    /// the public id instead, which names the key in every route just the same.
    pub token: String,
    /// The public id again, as LiteLLM's newer `token_id`.
    pub token_id: String,
    /// The public id under Switchyard's own name.
    pub key_id: String,
    /// `key_alias`.
    pub key_alias: Option<String>,
    /// The secret abbreviated (`sk-...abcd`).
    pub key_name: Option<String>,
    /// Models it may call; empty means all.
    pub models: Vec<String>,
    /// Model names its calls are served under another model's name (LiteLLM's `aliases`).
    pub aliases: ModelAliases,
    /// US dollars spent in the current budget window (ever, without `budget_duration`).
    pub spend: f64,
    /// Budget in US dollars.
    pub max_budget: Option<f64>,
    /// How often the budget starts over.
    pub budget_duration: Option<BudgetPeriod>,
    /// When the budget next starts over.
    pub budget_reset_at: Option<String>,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// When it stops working.
    pub expires: Option<String>,
    /// Free-form JSON.
    pub metadata: Value,
    /// Owner.
    pub user_id: Option<String>,
    /// Team.
    pub team_id: Option<String>,
    /// Organization.
    pub organization_id: Option<String>,
    /// Refused without being deleted.
    pub blocked: bool,
    /// When it was made.
    pub created_at: Option<String>,
    /// When it last changed.
    pub updated_at: Option<String>,
}

impl KeyView {
    /// `key` with `spend` in its current window.
    pub fn new(key: KeyRecord, spend: f64) -> Self {
        Self {
            token: key.id.clone(),
            token_id: key.id.clone(),
            key_id: key.id,
            key_alias: key.alias,
            key_name: key.key_name,
            models: key.models,
            aliases: key.aliases,
            spend,
            max_budget: key.max_budget,
            budget_duration: key.budget_duration,
            budget_reset_at: reset_at(key.budget_duration),
            rpm_limit: key.rpm_limit,
            tpm_limit: key.tpm_limit,
            expires: key.expires_at.and_then(rfc3339_seconds),
            metadata: key.metadata,
            user_id: key.user_id,
            team_id: key.team_id,
            organization_id: key.organization_id,
            blocked: key.blocked,
            created_at: rfc3339_seconds(key.created_at),
            updated_at: rfc3339_seconds(key.updated_at),
        }
    }

    /// `key` with its spend read from the spend log.
    pub async fn read(store: &dyn Store, key: KeyRecord) -> Result<Self, ApiError> {
        let spend = current_spend(store, CounterScope::Key, &key.id, key.budget_duration).await?;
        Ok(Self::new(key, spend))
    }

    /// This view as a JSON object, to add fields to.
    pub fn into_object(self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// Every key of `keys` with its spend.
pub async fn key_views(store: &dyn Store, keys: Vec<KeyRecord>) -> Result<Vec<KeyView>, ApiError> {
    let mut views = Vec::with_capacity(keys.len());
    for key in keys {
        views.push(KeyView::read(store, key).await?);
    }
    Ok(views)
}

/// What `scope`/`id` has spent in the window of `period` that holds now (ever, without a
/// period), in US dollars, from the spend log.
pub async fn current_spend(
    store: &dyn Store,
    scope: CounterScope,
    id: &str,
    period: Option<BudgetPeriod>,
) -> Result<f64, ApiError> {
    let start_ms = period
        .map_or(0, |period| period.period_start(unix_seconds()))
        .saturating_mul(1_000);
    store
        .spend_in_window(scope, id, start_ms, None)
        .await
        .map_err(store_error)
}

/// When a budget of `period` next starts over.
fn reset_at(period: Option<BudgetPeriod>) -> Option<String> {
    rfc3339_seconds(period?.period_end(unix_seconds()))
}

/// The counter scope an account's spend is recorded under.
pub fn scope_of(kind: AccountKind) -> CounterScope {
    match kind {
        AccountKind::User => CounterScope::User,
        AccountKind::Team => CounterScope::Team,
        AccountKind::Organization => CounterScope::Organization,
    }
}

/// LiteLLM's name of an account's id field: `user_id`, `team_id`, `organization_id`.
pub fn id_field(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::User => "user_id",
        AccountKind::Team => "team_id",
        AccountKind::Organization => "organization_id",
    }
}

/// LiteLLM's name of an account's alias field: `user_alias`, `team_alias`,
/// `organization_alias`.
pub fn alias_field(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::User => "user_alias",
        AccountKind::Team => "team_alias",
        AccountKind::Organization => "organization_alias",
    }
}

/// An account as LiteLLM shows a user (`user_id`, `user_alias`, `user_email`, `user_role`,
/// `teams`), a team (`team_id`, `team_alias`, `organization_id`, `admins`, `members`,
/// `members_with_roles: [{user_id, role}]`, `model_aliases`, also as LiteLLM nests them under
/// `litellm_model_table`) or an organization (`organization_id`,
/// `organization_alias`, its budget also under `litellm_budget_table`, `members`), each with
/// `spend`, `max_budget`, `budget_duration`, `budget_reset_at`, `rpm_limit`, `tpm_limit`,
/// `models`, `metadata`, `blocked`, `created_at` and `updated_at`. `members` are the members of
/// a team or organization; for a user, the teams and organizations it belongs to.
pub fn account_json(account: AccountRecord, spend: f64, members: &[MemberRecord]) -> Value {
    let kind = account.kind;
    let mut view = Map::new();
    view.insert(id_field(kind).to_owned(), json!(account.id));
    view.insert(alias_field(kind).to_owned(), json!(account.alias));
    view.insert("spend".to_owned(), json!(spend));
    view.insert("max_budget".to_owned(), json!(account.max_budget));
    view.insert("budget_duration".to_owned(), json!(account.budget_duration));
    view.insert(
        "budget_reset_at".to_owned(),
        json!(reset_at(account.budget_duration)),
    );
    view.insert("rpm_limit".to_owned(), json!(account.rpm_limit));
    view.insert("tpm_limit".to_owned(), json!(account.tpm_limit));
    view.insert("models".to_owned(), json!(account.models));
    view.insert("metadata".to_owned(), account.metadata.clone());
    view.insert("blocked".to_owned(), json!(account.blocked));
    view.insert(
        "created_at".to_owned(),
        json!(rfc3339_seconds(account.created_at)),
    );
    view.insert(
        "updated_at".to_owned(),
        json!(rfc3339_seconds(account.updated_at)),
    );
    match kind {
        AccountKind::User => {
            view.insert("user_email".to_owned(), json!(account.user_email));
            view.insert("user_role".to_owned(), json!(account.user_role));
            let teams: Vec<&str> = members
                .iter()
                .filter(|m| m.kind == AccountKind::Team)
                .map(|m| m.account_id.as_str())
                .collect();
            view.insert("teams".to_owned(), json!(teams));
            let organizations: Vec<Value> = members
                .iter()
                .filter(|m| m.kind == AccountKind::Organization)
                .map(|m| json!({"organization_id": m.account_id, "user_role": m.role.as_str()}))
                .collect();
            view.insert("organization_memberships".to_owned(), json!(organizations));
        }
        AccountKind::Team => {
            view.insert("organization_id".to_owned(), json!(account.organization_id));
            let with_roles: Vec<Value> = members
                .iter()
                .map(|m| json!({"user_id": m.user_id, "role": m.role.as_str(), "user_email": null}))
                .collect();
            let ids = |admins: bool| -> Vec<&str> {
                members
                    .iter()
                    .filter(|m| (m.role == switchyard_store::MemberRole::Admin) == admins)
                    .map(|m| m.user_id.as_str())
                    .collect()
            };
            view.insert("admins".to_owned(), json!(ids(true)));
            view.insert("members".to_owned(), json!(ids(false)));
            view.insert("members_with_roles".to_owned(), json!(with_roles));
            view.insert("model_aliases".to_owned(), json!(account.model_aliases));
            // LiteLLM keeps a team's aliases in a table of their own, shown joined.
            view.insert(
                "litellm_model_table".to_owned(),
                json!({"model_aliases": account.model_aliases}),
            );
        }
        AccountKind::Organization => {
            view.insert(
                "litellm_budget_table".to_owned(),
                json!({
                    "max_budget": account.max_budget,
                    "budget_duration": account.budget_duration,
                    "rpm_limit": account.rpm_limit,
                    "tpm_limit": account.tpm_limit,
                    "budget_reset_at": reset_at(account.budget_duration),
                }),
            );
            let members: Vec<Value> = members
                .iter()
                .map(|m| {
                    json!({
                        "user_id": m.user_id,
                        "organization_id": m.account_id,
                        "user_role": m.role.as_str(),
                        "created_at": rfc3339_seconds(m.created_at),
                    })
                })
                .collect();
            view.insert("members".to_owned(), json!(members));
        }
    }
    Value::Object(view)
}

/// An account read whole: with its spend, and its members (or, for a user, memberships).
pub async fn read_account(store: &dyn Store, account: AccountRecord) -> Result<Value, ApiError> {
    let spend = current_spend(
        store,
        scope_of(account.kind),
        &account.id,
        account.budget_duration,
    )
    .await?;
    let members = match account.kind {
        AccountKind::User => store.memberships(&account.id).await,
        kind => store.members(kind, &account.id).await,
    }
    .map_err(store_error)?;
    Ok(account_json(account, spend, &members))
}
