//! Deployments added, changed and removed without a restart, as LiteLLM's model management
//! routes do (<https://docs.litellm.ai/docs/proxy/model_management>): `POST /model/new`,
//! `POST /model/update` (and `PATCH /model/{id}/update`), `POST /model/delete`. Proxy admins
//! only. Each is a `model_list` entry kept in the database ([`DeploymentStore`]), so it
//! survives restarts and every replica serves it (they follow the store's revision); it is
//! checked as a deployment of the configuration file is, with the file and the other stored
//! ones, before it is stored, and this replica serves the change before answering.
//!
//! Secrets are never stored: credential fields must name an environment variable
//! (`os.environ/NAME`), which each replica resolves from its own environment.
//!
//! [`DeploymentStore`]: switchyard_store::DeploymentStore

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_store::StoredDeployment;

use super::access::Principal;
use super::{OptionalJsonBody, store_error};
use crate::config::source::ENV_PREFIX;
use crate::error::ApiError;
use crate::live::Live;

/// `litellm_params` fields that hold credentials: stored only as `os.environ/NAME`.
const SECRET_FIELDS: &[&str] = &[
    "api_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "azure_ad_token",
    "vertex_credentials",
    "client_secret",
];

/// The body of `/model/new` and `/model/update`: a `model_list` entry.
#[derive(Debug, Default, Deserialize)]
pub struct DeploymentBody {
    /// The model group it serves.
    #[serde(default)]
    model_name: Option<String>,
    /// Where and how to reach the upstream.
    #[serde(default)]
    litellm_params: Option<Map<String, Value>>,
    /// Its information; `id` names it (a new one gets a random id without).
    #[serde(default)]
    model_info: Option<Map<String, Value>>,
}

/// The body of `/model/delete`.
#[derive(Debug, Default, Deserialize)]
pub struct DeleteBody {
    /// The deployment's id (`model_info.id`).
    #[serde(default)]
    id: Option<String>,
}

/// `POST /model/new`: adds a deployment; answers it as stored, with `model_id`.
pub async fn new(
    State(live): State<Live>,
    principal: Principal,
    OptionalJsonBody(body): OptionalJsonBody<DeploymentBody>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/model/new")?;
    let model_name = body
        .model_name
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_request("`model_name` is required"))?;
    let params = body
        .litellm_params
        .filter(|params| params.contains_key("model"))
        .ok_or_else(|| ApiError::invalid_request("`litellm_params.model` is required"))?;
    refuse_plain_secrets(&params)?;
    let mut info = body.model_info.unwrap_or_default();
    let id = match info.remove("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id,
        None | Some(Value::Null) => format!("{:032x}", fastrand::u128(..)),
        Some(_) => return Err(ApiError::invalid_request("`model_info.id` must be text")),
    };
    if serves_deployment(&live, &id) {
        return Err(ApiError::conflict(format!(
            "a deployment with id `{id}` already exists"
        )));
    }
    let now = unix_now();
    let deployment = StoredDeployment {
        id,
        model_name,
        litellm_params: Value::Object(params).to_string(),
        model_info: Value::Object(info).to_string(),
        created_at: now,
        updated_at: now,
    };
    let store = live.current().storage().deployments().clone();
    let (_, mut all) = store.deployments().await.map_err(store_error)?;
    all.push(deployment.clone());
    check(&live, &all).await?;
    store
        .create_deployment(&deployment)
        .await
        .map_err(store_error)?;
    serve_now(&live).await;
    Ok(Json(view(&deployment)))
}

/// `POST /model/update`: changes a stored deployment, named by `model_info.id`: a new
/// `model_name`, `litellm_params` keys replacing the stored ones (a `null` removes one), and
/// `model_info` keys likewise.
pub async fn update(
    State(live): State<Live>,
    principal: Principal,
    OptionalJsonBody(body): OptionalJsonBody<DeploymentBody>,
) -> Result<Json<Value>, ApiError> {
    let id = body
        .model_info
        .as_ref()
        .and_then(|info| info.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::invalid_request("`model_info.id` names the deployment to update")
        })?;
    change(&live, &principal, &id, body).await
}

/// `PATCH /model/{id}/update`: [`update`], the deployment named in the path.
pub async fn patch(
    State(live): State<Live>,
    principal: Principal,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<DeploymentBody>,
) -> Result<Json<Value>, ApiError> {
    change(&live, &principal, &id, body).await
}

async fn change(
    live: &Live,
    principal: &Principal,
    id: &str,
    body: DeploymentBody,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/model/update")?;
    let store = live.current().storage().deployments().clone();
    let (_, mut all) = store.deployments().await.map_err(store_error)?;
    let Some(stored) = all.iter_mut().find(|d| d.id == id) else {
        return Err(not_stored(live, id));
    };
    if let Some(name) = body.model_name {
        if name.trim().is_empty() {
            return Err(ApiError::invalid_request("`model_name` must not be empty"));
        }
        stored.model_name = name;
    }
    if let Some(changes) = body.litellm_params {
        refuse_plain_secrets(&changes)?;
        stored.litellm_params = merged(&stored.litellm_params, changes);
    }
    if let Some(mut changes) = body.model_info {
        changes.remove("id");
        stored.model_info = merged(&stored.model_info, changes);
    }
    stored.updated_at = unix_now();
    let changed = stored.clone();
    check(live, &all).await?;
    store
        .replace_deployment(&changed)
        .await
        .map_err(store_error)?;
    serve_now(live).await;
    Ok(Json(view(&changed)))
}

/// `POST /model/delete`: removes a stored deployment, `{"id": ...}`.
pub async fn delete(
    State(live): State<Live>,
    principal: Principal,
    OptionalJsonBody(body): OptionalJsonBody<DeleteBody>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/model/delete")?;
    let id = body
        .id
        .ok_or_else(|| ApiError::invalid_request("`id` names the deployment to delete"))?;
    let store = live.current().storage().deployments().clone();
    let (_, mut all) = store.deployments().await.map_err(store_error)?;
    let before = all.len();
    all.retain(|d| d.id != id);
    if all.len() == before {
        return Err(not_stored(&live, &id));
    }
    check(&live, &all).await?;
    store.delete_deployment(&id).await.map_err(store_error)?;
    serve_now(&live).await;
    Ok(Json(
        json!({"message": format!("Model: {id} deleted successfully")}),
    ))
}

/// 404 for an id that is no stored deployment; 400 when it is one of the configuration file's,
/// which only the file changes.
fn not_stored(live: &Live, id: &str) -> ApiError {
    if serves_deployment(live, id) {
        ApiError::invalid_request(format!(
            "deployment `{id}` is defined in the configuration file; change it there"
        ))
    } else {
        ApiError::not_found(format!("no stored deployment with id `{id}`"))
    }
}

/// Whether a deployment with id `id` is served now (from the file or the store).
fn serves_deployment(live: &Live, id: &str) -> bool {
    live.current()
        .groups()
        .iter()
        .any(|group| group.deployments().iter().any(|d| d.id == id))
}

/// Refuses a credential given as plain text: only `os.environ/NAME` is stored.
fn refuse_plain_secrets(params: &Map<String, Value>) -> Result<(), ApiError> {
    for field in SECRET_FIELDS {
        match params.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::String(value)) if value.starts_with(ENV_PREFIX) => {}
            Some(_) => {
                return Err(ApiError::invalid_request(format!(
                    "`litellm_params.{field}` must name an environment variable \
                     (`os.environ/NAME`): stored deployments keep no secret in the database"
                )));
            }
        }
    }
    Ok(())
}

/// The stored JSON object `text` with `changes` laid over it (a `null` removes a key).
fn merged(text: &str, changes: Map<String, Value>) -> String {
    let mut object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    for (key, value) in changes {
        if value.is_null() {
            object.remove(&key);
        } else {
            object.insert(key, value);
        }
    }
    Value::Object(object).to_string()
}

/// Whether the configuration with `stored` as its stored deployments is valid; 400 with the
/// reason when it is not.
async fn check(live: &Live, stored: &[StoredDeployment]) -> Result<(), ApiError> {
    live.check_with_stored(stored)
        .await
        .map_err(|err| ApiError::invalid_request(format!("the deployment is refused: {err}")))
}

/// Serves the stored change on this replica before answering; on failure the change is still
/// stored and served once the state can be rebuilt (logged).
async fn serve_now(live: &Live) {
    if let Err(err) = live.rebuild().await {
        tracing::error!(error = %err, "a stored deployment change is not served yet");
    }
}

/// A stored deployment as LiteLLM's model table shows it.
fn view(deployment: &StoredDeployment) -> Value {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let mut info = parse(&deployment.model_info);
    if let Value::Object(map) = &mut info {
        map.insert("id".to_owned(), deployment.id.clone().into());
        map.insert("db_model".to_owned(), true.into());
    }
    json!({
        "model_id": deployment.id,
        "model_name": deployment.model_name,
        "litellm_params": parse(&deployment.litellm_params),
        "model_info": info,
        "created_at": deployment.created_at,
        "updated_at": deployment.updated_at,
    })
}

fn unix_now() -> i64 {
    i64::try_from(switchyard_providers::unix_now()).unwrap_or(i64::MAX)
}
