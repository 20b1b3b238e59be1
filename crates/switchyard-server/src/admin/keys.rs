//! `/key/*`: virtual keys. A key's secret is shown once, by `/key/generate`; afterwards a key is
//! named by its public id (`token` in answers) or by its secret, and answers never hold either
//! the secret or its hash.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchyard_store::{
    BudgetPeriod, KeyDuration, KeyFilter, KeyRecord, KeyUpdate, Store, generate_key, hash_key,
};

use super::{AdminQuery, OptionalJsonBody, store_error};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::unix_seconds;

/// A key as the admin API shows it: everything but its secret and hash.
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// The public id (LiteLLM calls it `token`).
    pub token: String,
    /// The public id again, under our own name.
    pub key_id: String,
    /// `key_alias`.
    pub key_alias: Option<String>,
    /// Models it may call; empty means all.
    pub models: Vec<String>,
    /// Budget in US dollars.
    pub max_budget: Option<f64>,
    /// How often the budget starts over.
    pub budget_duration: Option<BudgetPeriod>,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// Unix seconds it stops working.
    pub expires: Option<i64>,
    /// Free-form JSON.
    pub metadata: Value,
    /// Owner.
    pub user_id: Option<String>,
    /// Team.
    pub team_id: Option<String>,
    /// Refused without being deleted.
    pub blocked: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl From<KeyRecord> for KeyView {
    fn from(key: KeyRecord) -> Self {
        Self {
            token: key.id.clone(),
            key_id: key.id,
            key_alias: key.alias,
            models: key.models,
            max_budget: key.max_budget,
            budget_duration: key.budget_duration,
            rpm_limit: key.rpm_limit,
            tpm_limit: key.tpm_limit,
            expires: key.expires_at,
            metadata: key.metadata,
            user_id: key.user_id,
            team_id: key.team_id,
            blocked: key.blocked,
            created_at: key.created_at,
        }
    }
}

/// `POST /key/generate`'s body, LiteLLM's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateKey {
    key_alias: Option<String>,
    /// How long the key works, such as `30d` (LiteLLM's `duration`): an exact length.
    duration: Option<KeyDuration>,
    #[serde(default)]
    models: Vec<String>,
    max_budget: Option<f64>,
    budget_duration: Option<BudgetPeriod>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    metadata: Option<Value>,
    user_id: Option<String>,
    team_id: Option<String>,
    #[serde(default)]
    blocked: bool,
}

/// `POST /key/generate`: a new key; its secret is in the answer once and never again.
pub async fn generate(
    State(state): State<AppState>,
    OptionalJsonBody(request): OptionalJsonBody<GenerateKey>,
) -> Result<Json<Value>, ApiError> {
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
    key.models = request.models;
    key.max_budget = request.max_budget;
    key.budget_duration = request.budget_duration;
    key.rpm_limit = request.rpm_limit;
    key.tpm_limit = request.tpm_limit;
    key.expires_at = request.duration.map(|d| d.expires_at(now));
    key.metadata = request.metadata.unwrap_or_else(|| json!({}));
    key.user_id = request.user_id;
    key.team_id = request.team_id;
    key.blocked = request.blocked;
    state
        .storage()
        .store()
        .create_key(&key)
        .await
        .map_err(store_error)?;
    let mut answer = to_object(KeyView::from(key));
    answer.insert("key".to_owned(), Value::String(secret));
    Ok(Json(Value::Object(answer)))
}

/// `?key=`: a key's secret or public id.
#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    key: String,
}

/// `GET /key/info?key=...`.
pub async fn info(
    State(state): State<AppState>,
    AdminQuery(query): AdminQuery<KeyQuery>,
) -> Result<Json<Value>, ApiError> {
    let key = find(&**state.storage().store(), &query.key).await?;
    Ok(Json(
        json!({"key": key.id.clone(), "info": KeyView::from(key)}),
    ))
}

/// `POST /key/update`: `{"key": ..., <fields to change>}`; `null` clears a field.
pub async fn update(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<KeyView>, ApiError> {
    let mut body = body;
    let name = take_key_name(&mut body)?;
    let now = unix_seconds();
    if let Some(alias) = body.remove("key_alias") {
        body.insert("alias".to_owned(), alias);
    }
    // Lists and objects are never absent in a key: `null` clears them to their empty value
    // (every model allowed, no metadata) rather than leaving them as they were.
    for (field, empty) in [("models", json!([])), ("metadata", json!({}))] {
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
    apply(&state, &name, &change).await
}

/// `POST /key/delete`: `{"keys": [...]}`, secrets or ids.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteKeys {
    keys: Vec<String>,
}

/// `POST /key/delete`: answers the ids deleted.
pub async fn delete(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<DeleteKeys>,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let mut deleted = Vec::with_capacity(request.keys.len());
    for name in &request.keys {
        let key = find(&**store, name).await?;
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
    JsonBody(request): JsonBody<KeyName>,
) -> Result<Json<KeyView>, ApiError> {
    let change = KeyUpdate {
        blocked: Some(true),
        ..KeyUpdate::default()
    };
    apply(&state, &request.key, &change).await
}

/// `POST /key/unblock`.
pub async fn unblock(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<KeyName>,
) -> Result<Json<KeyView>, ApiError> {
    let change = KeyUpdate {
        blocked: Some(false),
        ..KeyUpdate::default()
    };
    apply(&state, &request.key, &change).await
}

/// `GET /key/list?user_id=&team_id=`: `{"keys": [...]}`.
pub async fn list(
    State(state): State<AppState>,
    AdminQuery(filter): AdminQuery<KeyFilter>,
) -> Result<Json<Value>, ApiError> {
    let keys = state
        .storage()
        .store()
        .list_keys(&filter)
        .await
        .map_err(store_error)?;
    let keys: Vec<KeyView> = keys.into_iter().map(KeyView::from).collect();
    Ok(Json(json!({"keys": keys})))
}

async fn apply(
    state: &AppState,
    name: &str,
    change: &KeyUpdate,
) -> Result<Json<KeyView>, ApiError> {
    let store = state.storage().store();
    let key = find(&**store, name).await?;
    let key = store
        .update_key(&key.id, change)
        .await
        .map_err(store_error)?;
    state.storage().forget_identities().await;
    Ok(Json(KeyView::from(key)))
}

/// The key a request names: by its secret (`sk-...`) or its public id. Messages never repeat a
/// secret.
async fn find(store: &dyn Store, name: &str) -> Result<KeyRecord, ApiError> {
    let found = if name.starts_with("sk-") {
        store.key_by_hash(&hash_key(name)).await
    } else {
        store.key_by_id(name).await
    };
    match found.map_err(store_error)? {
        Some(key) => Ok(key),
        None if name.starts_with("sk-") => Err(ApiError::not_found("no such key")),
        None => Err(ApiError::not_found(format!("no key `{name}`"))),
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

pub(super) fn check_budget(budget: Option<f64>) -> Result<(), ApiError> {
    match budget {
        Some(b) if !(b.is_finite() && b >= 0.0) => Err(ApiError::invalid_request(
            "`max_budget` must be a number of US dollars, 0 or more",
        )),
        _ => Ok(()),
    }
}

fn to_object(view: impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(view) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}
