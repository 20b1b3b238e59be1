//! `/key/*`: virtual keys, with LiteLLM's request fields, answers and permissions
//! (<https://docs.litellm.ai/docs/proxy/virtual_keys>). A key's secret is shown once, by
//! `/key/generate`; afterwards a key is named by its public id (`token` in answers) or by its
//! secret, and answers never hold either the secret or its hash.
//!
//! Who may: a `proxy_admin` everything; a `proxy_admin_viewer` reads; an `internal_user`
//! generates keys for themselves (in teams they belong to) and changes or deletes their own keys
//! and those of teams they administer; any key reads its own `/key/info` (no `key` parameter:
//! the calling key), its user's keys and its team's if it administers the team.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_store::{
    AccountKind, BudgetPeriod, KeyDuration, KeyFilter, KeyRecord, KeyUpdate, ModelAliases, Store,
    abbreviate_key, generate_key, hash_key,
};

use super::access::Principal;
use super::views::{KeyView, key_views};
use super::{AdminQuery, OptionalJsonBody, store_error};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::unix_seconds;

/// `POST /key/generate`'s body, LiteLLM's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateKey {
    key_alias: Option<String>,
    /// How long the key works, such as `30d` (LiteLLM's `duration`): an exact length.
    duration: Option<KeyDuration>,
    #[serde(default)]
    models: Vec<String>,
    /// Model names the key's calls are served under another model's name, such as
    /// `{"gpt-4": "gpt-3.5-turbo"}` (LiteLLM's `aliases`); see `dispatch::admit_model`.
    aliases: Option<ModelAliases>,
    max_budget: Option<f64>,
    budget_duration: Option<BudgetPeriod>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    metadata: Option<Value>,
    user_id: Option<String>,
    team_id: Option<String>,
    #[serde(alias = "org_id")]
    organization_id: Option<String>,
    #[serde(default)]
    blocked: bool,
}

/// `POST /key/generate`: a new key; its secret is in the answer (`key`) once and never again.
pub async fn generate(
    State(state): State<AppState>,
    principal: Principal,
    OptionalJsonBody(request): OptionalJsonBody<GenerateKey>,
) -> Result<Json<Value>, ApiError> {
    principal.require_key_manager("/key/generate")?;
    let mut request = request;
    let store = state.storage().store();
    request.user_id = owner_for(
        &**store,
        &principal,
        request.user_id,
        request.team_id.as_deref(),
        request.organization_id.as_deref(),
    )
    .await?;
    within_team_models(
        &**store,
        &principal,
        request.team_id.as_deref(),
        &request.models,
    )
    .await?;
    let (secret, key) = new_key(request)?;
    store.create_key(&key).await.map_err(store_error)?;
    let mut answer = KeyView::new(key, 0.0).into_object();
    answer.insert("key".to_owned(), Value::String(secret));
    Ok(Json(Value::Object(answer)))
}

/// A key made from `request`, with its secret.
pub(super) fn new_key(request: GenerateKey) -> Result<(String, KeyRecord), ApiError> {
    check_budget(request.max_budget)?;
    let now = unix_seconds();
    let (secret, hash) = generate_key().map_err(|err| {
        tracing::error!(error = %err, "no randomness for a new key");
        ApiError::internal("the gateway could not make a key")
    })?;
    let mut key = KeyRecord::new(hash, now).map_err(|err| {
        tracing::error!(error = %err, "no randomness for a new key id");
        ApiError::internal("the gateway could not make a key")
    })?;
    key.alias = request.key_alias;
    key.key_name = Some(abbreviate_key(&secret));
    key.models = request.models;
    key.aliases = request.aliases.unwrap_or_default();
    key.max_budget = request.max_budget;
    key.budget_duration = request.budget_duration;
    key.rpm_limit = request.rpm_limit;
    key.tpm_limit = request.tpm_limit;
    key.expires_at = request.duration.map(|d| d.expires_at(now));
    key.metadata = request.metadata.unwrap_or_else(|| json!({}));
    key.user_id = request.user_id;
    key.team_id = request.team_id;
    key.organization_id = request.organization_id;
    key.blocked = request.blocked;
    Ok((secret, key))
}

impl GenerateKey {
    /// A request for a key of `user_id` with the given fields, as `/user/new` makes one.
    pub(super) fn for_user(user_id: String, fields: Map<String, Value>) -> Result<Self, ApiError> {
        let mut request: Self = serde_json::from_value(Value::Object(fields))
            .map_err(|err| ApiError::invalid_request(format!("invalid key fields: {err}")))?;
        request.user_id = Some(user_id);
        Ok(request)
    }
}

/// Who a key made or changed by `principal` belongs to: anyone an admin names; for anyone else,
/// themselves only (LiteLLM: "User can only create keys for themselves"), in teams and
/// organizations they belong to. Answers the key's user.
async fn owner_for(
    store: &dyn Store,
    principal: &Principal,
    user_id: Option<String>,
    team_id: Option<&str>,
    organization_id: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if principal.is_admin() {
        return Ok(user_id);
    }
    let own = principal.user_id.as_deref();
    if let Some(asked) = &user_id
        && Some(asked.as_str()) != own
    {
        return Err(ApiError::forbidden(format!(
            "User can only create keys for themselves. Got user_id={asked}, Your ID={}",
            own.unwrap_or("None")
        )));
    }
    if let Some(team_id) = team_id
        && principal
            .role_in(store, AccountKind::Team, team_id)
            .await?
            .is_none()
    {
        return Err(ApiError::invalid_request(format!(
            "User={} not assigned to team={team_id}",
            own.unwrap_or("None")
        )));
    }
    if let Some(organization_id) = organization_id
        && principal
            .role_in(store, AccountKind::Organization, organization_id)
            .await?
            .is_none()
    {
        return Err(ApiError::forbidden(format!(
            "User={} is not a member of organization={organization_id}",
            own.unwrap_or("None")
        )));
    }
    Ok(own.map(str::to_owned))
}

/// A key a non-admin makes or changes may name only models its team may call: a key's own list
/// takes the place of its team's, so a wider one would widen the team's.
async fn within_team_models(
    store: &dyn Store,
    principal: &Principal,
    team_id: Option<&str>,
    models: &[String],
) -> Result<(), ApiError> {
    let Some(team_id) = team_id.filter(|_| !principal.is_admin() && !models.is_empty()) else {
        return Ok(());
    };
    let Some(team) = store
        .account(AccountKind::Team, team_id)
        .await
        .map_err(store_error)?
    else {
        return Ok(());
    };
    let outside: Vec<&String> = models
        .iter()
        .filter(|model| !team.models.is_empty() && !team.models.contains(model))
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "team={team_id} may call only {:?}; a key of the team may not name {outside:?}",
        team.models
    )))
}

/// `?key=`: a key's secret or public id; none names the calling key.
#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    key: Option<String>,
}

/// `GET /key/info?key=...`: `{"key": <public id>, "info": {...}}`. Without `key`, the calling
/// key.
pub async fn info(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<KeyQuery>,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let name = match query.key {
        Some(name) => name,
        None if principal.is_master_key() => {
            return Err(ApiError::invalid_request(
                "`key` (the key's id or secret) is required with the master key",
            ));
        }
        None => principal.key_id.to_string(),
    };
    let key = find(&**store, &name).await?;
    let allowed = principal.reads_all()
        || key.id.as_str() == &*principal.key_id
        || principal.is_user(key.user_id.as_deref())
        || match &key.team_id {
            Some(team) => principal.administers_team(&**store, team).await?,
            None => false,
        };
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "You are not allowed to access this key's info. Your role={}",
            principal.role_name()
        )));
    }
    // LiteLLM repeats the `key` it was given; a secret is never repeated here, so `key` is the
    // key's public id.
    let id = key.id.clone();
    let view = KeyView::read(&**store, key).await?;
    Ok(Json(json!({"key": id, "info": view})))
}

/// `POST /key/update`: `{"key": ..., <fields to change>}`; `null` clears a field. Answers the
/// key as it now is, `key` being its public id.
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    principal.require_key_manager("/key/update")?;
    let mut body = body;
    let name = take_key_name(&mut body)?;
    let now = unix_seconds();
    if let Some(alias) = body.remove("key_alias") {
        body.insert("alias".to_owned(), alias);
    }
    if let Some(organization) = body.remove("org_id") {
        body.insert("organization_id".to_owned(), organization);
    }
    // Lists and objects are never absent in a key: `null` clears them to their empty value
    // (every model allowed, no aliases, no metadata) rather than leaving them as they were.
    for (field, empty) in [
        ("models", json!([])),
        ("aliases", json!({})),
        ("metadata", json!({})),
    ] {
        if body.get(field).is_some_and(Value::is_null) {
            body.insert(field.to_owned(), empty);
        }
    }
    if let Some(duration) = body.remove("duration") {
        let expires = match duration {
            Value::Null => Value::Null,
            value => {
                let duration: KeyDuration = serde_json::from_value(value)
                    .map_err(|err| ApiError::invalid_request(format!("`duration`: {err}")))?;
                json!(duration.expires_at(now))
            }
        };
        body.insert("expires_at".to_owned(), expires);
    }
    let change: KeyUpdate = serde_json::from_value(Value::Object(body))
        .map_err(|err| ApiError::invalid_request(format!("invalid key update: {err}")))?;
    if let Some(Some(budget)) = change.max_budget {
        check_budget(Some(budget))?;
    }
    let store = state.storage().store();
    let key = find(&**store, &name).await?;
    may_change(&**store, &principal, &key).await?;
    if !principal.is_admin() {
        if change.user_id.as_ref().is_some_and(|user| user.is_none()) {
            return Err(ApiError::forbidden(
                "Non-admin users cannot remove the user_id from a key.",
            ));
        }
        // A key leaving its team would leave the team's budget and models behind.
        if key.team_id.is_some() && change.team_id.as_ref().is_some_and(|team| team.is_none()) {
            return Err(ApiError::forbidden(
                "Non-admin users cannot remove the team_id from a key.",
            ));
        }
        let user = change.user_id.clone().flatten();
        let team = change.team_id.clone().flatten();
        let organization = change.organization_id.clone().flatten();
        owner_for(
            &**store,
            &principal,
            user,
            team.as_deref(),
            organization.as_deref(),
        )
        .await?;
        let team = team.or_else(|| key.team_id.clone());
        let models = change.models.as_ref().unwrap_or(&key.models);
        within_team_models(&**store, &principal, team.as_deref(), models).await?;
    }
    let view = apply(&state, key, &change).await?;
    let id = view.key_id.clone();
    let mut answer = view.into_object();
    answer.insert("key".to_owned(), Value::String(id));
    Ok(Json(Value::Object(answer)))
}

/// `POST /key/delete`: `{"keys": [...]}`, secrets or ids.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteKeys {
    keys: Vec<String>,
}

/// `POST /key/delete`: answers the ids deleted. Every key must be the caller's to delete, or
/// none is.
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<DeleteKeys>,
) -> Result<Json<Value>, ApiError> {
    principal.require_key_manager("/key/delete")?;
    let store = state.storage().store();
    let mut keys = Vec::with_capacity(request.keys.len());
    for name in &request.keys {
        let key = find(&**store, name).await?;
        may_change(&**store, &principal, &key).await?;
        keys.push(key);
    }
    let mut deleted = Vec::with_capacity(keys.len());
    for key in keys {
        store.delete_key(&key.id).await.map_err(store_error)?;
        deleted.push(key.id);
    }
    state.storage().forget_identities().await;
    Ok(Json(json!({"deleted_keys": deleted})))
}

/// `{"key": ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyName {
    key: String,
}

/// `POST /key/block`.
pub async fn block(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<KeyName>,
) -> Result<Json<KeyView>, ApiError> {
    set_blocked(&state, &principal, "/key/block", &request.key, true).await
}

/// `POST /key/unblock`.
pub async fn unblock(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<KeyName>,
) -> Result<Json<KeyView>, ApiError> {
    set_blocked(&state, &principal, "/key/unblock", &request.key, false).await
}

async fn set_blocked(
    state: &AppState,
    principal: &Principal,
    route: &str,
    name: &str,
    blocked: bool,
) -> Result<Json<KeyView>, ApiError> {
    principal.require_key_manager(route)?;
    let store = state.storage().store();
    let key = find(&**store, name).await?;
    may_change(&**store, principal, &key).await?;
    let change = KeyUpdate {
        blocked: Some(blocked),
        ..KeyUpdate::default()
    };
    apply(state, key, &change).await.map(Json)
}

/// `GET /key/list`'s query: LiteLLM's `page` (from 1), `size`, filters and
/// `return_full_object`; Switchyard's `limit`/`offset` are taken too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListKeys {
    user_id: Option<String>,
    team_id: Option<String>,
    #[serde(alias = "org_id")]
    organization_id: Option<String>,
    page: Option<u32>,
    size: Option<u32>,
    limit: Option<u32>,
    offset: Option<u32>,
    #[serde(default)]
    return_full_object: bool,
}

/// `GET /key/list`: `{"keys": [ids], "total_count", "current_page", "total_pages"}`, or the
/// whole keys with `return_full_object=true`, as LiteLLM answers. Admins and viewers list any
/// keys; others their own, or their team's when they administer it.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<ListKeys>,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let size = query.size.or(query.limit).unwrap_or(10).clamp(1, 1_000);
    let page = query.page.unwrap_or(1).max(1);
    let offset = query
        .offset
        .unwrap_or_else(|| (page - 1).saturating_mul(size));
    let mut filter = KeyFilter {
        user_id: query.user_id,
        team_id: query.team_id,
        organization_id: query.organization_id,
        limit: size,
        offset,
    };
    if !principal.reads_all() {
        let own = principal.user_id.as_deref().map(str::to_owned);
        if filter.user_id.is_some() && filter.user_id != own {
            return Err(ApiError::forbidden(
                "You are not authorized to check another user's keys",
            ));
        }
        match &filter.team_id {
            Some(team) if !principal.administers_team(&**store, team).await? => {
                return Err(ApiError::forbidden(
                    "You are not authorized to check this team's keys",
                ));
            }
            Some(_) => {}
            None => filter.user_id = own,
        }
        if filter.organization_id.is_some() {
            return Err(ApiError::forbidden(
                "You are not authorized to check this organization's keys",
            ));
        }
        if filter.user_id.is_none() && filter.team_id.is_none() {
            // A key without a user sees itself.
            let key = store
                .key_by_id(&principal.key_id)
                .await
                .map_err(store_error)?;
            let keys: Vec<KeyRecord> = key.into_iter().collect();
            return list_answer(&**store, keys, 1, 1, 1, query.return_full_object).await;
        }
    }
    let total = store.count_keys(&filter).await.map_err(store_error)?;
    let keys = store.list_keys(&filter).await.map_err(store_error)?;
    let current_page = offset / size + 1;
    list_answer(
        &**store,
        keys,
        total,
        current_page,
        total.div_ceil(u64::from(size)).max(1),
        query.return_full_object,
    )
    .await
}

async fn list_answer(
    store: &dyn Store,
    keys: Vec<KeyRecord>,
    total: u64,
    current_page: u32,
    total_pages: u64,
    full: bool,
) -> Result<Json<Value>, ApiError> {
    let keys = if full {
        json!(key_views(store, keys).await?)
    } else {
        json!(keys.into_iter().map(|key| key.id).collect::<Vec<_>>())
    };
    Ok(Json(json!({
        "keys": keys,
        "total_count": total,
        "current_page": current_page,
        "total_pages": total_pages,
    })))
}

/// Refuses unless `principal` may change or delete `key`: an admin's any key, anyone else's
/// own keys and those of teams they administer.
async fn may_change(
    store: &dyn Store,
    principal: &Principal,
    key: &KeyRecord,
) -> Result<(), ApiError> {
    if principal.is_admin() || principal.is_user(key.user_id.as_deref()) {
        return Ok(());
    }
    if let Some(team) = &key.team_id
        && principal.administers_team(store, team).await?
    {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "key `{}` is neither yours nor a key of a team you administer",
        key.id
    )))
}

async fn apply(state: &AppState, key: KeyRecord, change: &KeyUpdate) -> Result<KeyView, ApiError> {
    let store = state.storage().store();
    let key = store
        .update_key(&key.id, change)
        .await
        .map_err(store_error)?;
    state.storage().forget_identities().await;
    KeyView::read(&**store, key).await
}

/// The key a request names: by its secret (`sk-...`) or its public id. Messages never repeat a
/// secret.
pub(super) async fn find(store: &dyn Store, name: &str) -> Result<KeyRecord, ApiError> {
    let found = if name.starts_with("sk-") {
        store.key_by_hash(&hash_key(name)).await
    } else {
        store.key_by_id(name).await
    };
    match found.map_err(store_error)? {
        Some(key) => Ok(key),
        None if name.starts_with("sk-") => Err(ApiError::not_found("Key not found in database")),
        None => Err(ApiError::not_found(format!(
            "Key not found in database: `{name}`"
        ))),
    }
}

fn take_key_name(body: &mut Map<String, Value>) -> Result<String, ApiError> {
    match body.remove("key") {
        Some(Value::String(name)) => Ok(name),
        _ => Err(ApiError::invalid_request(
            "`key` (the key's id or secret) is required",
        )),
    }
}

/// Refuses a budget that is not a number of dollars, 0 or more.
pub(super) fn check_budget(budget: Option<f64>) -> Result<(), ApiError> {
    match budget {
        Some(b) if !(b.is_finite() && b >= 0.0) => Err(ApiError::invalid_request(format!(
            "max_budget cannot be negative. Received: {b}"
        ))),
        _ => Ok(()),
    }
}
