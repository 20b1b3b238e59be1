//! `/user/*` and `/team/*`: the owners of keys, with budgets and limits of their own. `/new`
//! creates (or replaces), `/update` changes the fields given, `/delete` removes (not the keys).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_store::{BudgetPeriod, KeyFilter, TeamRecord, UserRecord, new_key_id};

use super::keys::{KeyView, check_budget};
use super::{AdminQuery, store_error};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::unix_seconds;

/// The fields of `/user/new` and `/user/update` (LiteLLM's names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFields {
    user_id: Option<String>,
    user_alias: Option<String>,
    max_budget: Option<f64>,
    budget_duration: Option<BudgetPeriod>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    metadata: Option<Value>,
    blocked: Option<bool>,
}

/// `POST /user/new`.
pub async fn new_user(
    State(state): State<AppState>,
    JsonBody(fields): JsonBody<UserFields>,
) -> Result<Json<UserRecord>, ApiError> {
    let id = match &fields.user_id {
        Some(id) if !id.trim().is_empty() => id.clone(),
        _ => return Err(ApiError::invalid_request("`user_id` is required")),
    };
    let user = UserRecord {
        id,
        alias: None,
        max_budget: None,
        budget_duration: None,
        rpm_limit: None,
        tpm_limit: None,
        metadata: json!({}),
        blocked: false,
        created_at: unix_seconds(),
    };
    save_user(&state, user, fields).await
}

/// `POST /user/update`: the fields given change.
pub async fn update_user(
    State(state): State<AppState>,
    JsonBody(fields): JsonBody<UserFields>,
) -> Result<Json<UserRecord>, ApiError> {
    let id = fields
        .user_id
        .clone()
        .ok_or_else(|| ApiError::invalid_request("`user_id` is required"))?;
    let user = state
        .storage()
        .store()
        .user(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("no user `{id}`")))?;
    save_user(&state, user, fields).await
}

async fn save_user(
    state: &AppState,
    mut user: UserRecord,
    fields: UserFields,
) -> Result<Json<UserRecord>, ApiError> {
    check_budget(fields.max_budget)?;
    if fields.user_alias.is_some() {
        user.alias = fields.user_alias;
    }
    if fields.max_budget.is_some() {
        user.max_budget = fields.max_budget;
    }
    if fields.budget_duration.is_some() {
        user.budget_duration = fields.budget_duration;
    }
    if fields.rpm_limit.is_some() {
        user.rpm_limit = fields.rpm_limit;
    }
    if fields.tpm_limit.is_some() {
        user.tpm_limit = fields.tpm_limit;
    }
    if let Some(metadata) = fields.metadata {
        user.metadata = metadata;
    }
    if let Some(blocked) = fields.blocked {
        user.blocked = blocked;
    }
    state
        .storage()
        .store()
        .upsert_user(&user)
        .await
        .map_err(store_error)?;
    state.storage().forget_identities().await;
    Ok(Json(user))
}

/// `?user_id=`.
#[derive(Debug, Deserialize)]
pub struct UserQuery {
    user_id: String,
}

/// `GET /user/info?user_id=`: the user and their keys.
pub async fn user_info(
    State(state): State<AppState>,
    AdminQuery(query): AdminQuery<UserQuery>,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let user = store
        .user(&query.user_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("no user `{}`", query.user_id)))?;
    let filter = KeyFilter {
        user_id: Some(user.id.clone()),
        ..KeyFilter::default()
    };
    let keys: Vec<KeyView> = store
        .list_keys(&filter)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(Json(
        json!({"user_id": user.id.clone(), "user_info": user, "keys": keys}),
    ))
}

/// `{"user_ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteUsers {
    user_ids: Vec<String>,
}

/// `POST /user/delete`.
pub async fn delete_users(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<DeleteUsers>,
) -> Result<Json<Value>, ApiError> {
    for id in &request.user_ids {
        state
            .storage()
            .store()
            .delete_user(id)
            .await
            .map_err(store_error)?;
    }
    state.storage().forget_identities().await;
    Ok(Json(json!({"deleted_users": request.user_ids})))
}

/// `?limit=&offset=`.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    offset: u32,
}

fn default_limit() -> u32 {
    100
}

/// `GET /user/list`.
pub async fn list_users(
    State(state): State<AppState>,
    AdminQuery(page): AdminQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let users = state
        .storage()
        .store()
        .list_users(page.limit.min(1_000), page.offset)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({"users": users})))
}

/// The fields of `/team/new` and `/team/update` (LiteLLM's names).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamFields {
    team_id: Option<String>,
    team_alias: Option<String>,
    max_budget: Option<f64>,
    budget_duration: Option<BudgetPeriod>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    models: Option<Vec<String>>,
    metadata: Option<Value>,
    blocked: Option<bool>,
}

/// `POST /team/new`: `team_id` is made up when not given.
pub async fn new_team(
    State(state): State<AppState>,
    JsonBody(fields): JsonBody<TeamFields>,
) -> Result<Json<TeamRecord>, ApiError> {
    let id = match &fields.team_id {
        Some(id) if !id.trim().is_empty() => id.clone(),
        _ => new_key_id()
            .map(|id| id.replacen("key-", "team-", 1))
            .map_err(|_| ApiError::internal("the gateway could not make a team id"))?,
    };
    let team = TeamRecord {
        id,
        alias: None,
        max_budget: None,
        budget_duration: None,
        rpm_limit: None,
        tpm_limit: None,
        models: Vec::new(),
        metadata: json!({}),
        blocked: false,
        created_at: unix_seconds(),
    };
    save_team(&state, team, fields).await
}

/// `POST /team/update`: the fields given change.
pub async fn update_team(
    State(state): State<AppState>,
    JsonBody(fields): JsonBody<TeamFields>,
) -> Result<Json<TeamRecord>, ApiError> {
    let id = fields
        .team_id
        .clone()
        .ok_or_else(|| ApiError::invalid_request("`team_id` is required"))?;
    let team = state
        .storage()
        .store()
        .team(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("no team `{id}`")))?;
    save_team(&state, team, fields).await
}

async fn save_team(
    state: &AppState,
    mut team: TeamRecord,
    fields: TeamFields,
) -> Result<Json<TeamRecord>, ApiError> {
    check_budget(fields.max_budget)?;
    if fields.team_alias.is_some() {
        team.alias = fields.team_alias;
    }
    if fields.max_budget.is_some() {
        team.max_budget = fields.max_budget;
    }
    if fields.budget_duration.is_some() {
        team.budget_duration = fields.budget_duration;
    }
    if fields.rpm_limit.is_some() {
        team.rpm_limit = fields.rpm_limit;
    }
    if fields.tpm_limit.is_some() {
        team.tpm_limit = fields.tpm_limit;
    }
    if let Some(models) = fields.models {
        team.models = models;
    }
    if let Some(metadata) = fields.metadata {
        team.metadata = metadata;
    }
    if let Some(blocked) = fields.blocked {
        team.blocked = blocked;
    }
    state
        .storage()
        .store()
        .upsert_team(&team)
        .await
        .map_err(store_error)?;
    state.storage().forget_identities().await;
    Ok(Json(team))
}

/// `?team_id=`.
#[derive(Debug, Deserialize)]
pub struct TeamQuery {
    team_id: String,
}

/// `GET /team/info?team_id=`: the team and its keys.
pub async fn team_info(
    State(state): State<AppState>,
    AdminQuery(query): AdminQuery<TeamQuery>,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let team = store
        .team(&query.team_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("no team `{}`", query.team_id)))?;
    let filter = KeyFilter {
        team_id: Some(team.id.clone()),
        ..KeyFilter::default()
    };
    let keys: Vec<KeyView> = store
        .list_keys(&filter)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(Json(
        json!({"team_id": team.id.clone(), "team_info": team, "keys": keys}),
    ))
}

/// `{"team_ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteTeams {
    team_ids: Vec<String>,
}

/// `POST /team/delete`.
pub async fn delete_teams(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<DeleteTeams>,
) -> Result<Json<Value>, ApiError> {
    for id in &request.team_ids {
        state
            .storage()
            .store()
            .delete_team(id)
            .await
            .map_err(store_error)?;
    }
    state.storage().forget_identities().await;
    Ok(Json(json!({"deleted_teams": request.team_ids})))
}

/// `GET /team/list`.
pub async fn list_teams(
    State(state): State<AppState>,
    AdminQuery(page): AdminQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    let teams = state
        .storage()
        .store()
        .list_teams(page.limit.min(1_000), page.offset)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({"teams": teams})))
}
