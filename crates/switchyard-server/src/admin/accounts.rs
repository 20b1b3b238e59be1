//! `/user/*`, `/team/*` and `/organization/*`: the accounts that own keys, with budgets and
//! limits of their own, in LiteLLM's shapes (<https://docs.litellm.ai/docs/proxy/users>,
//! <https://docs.litellm.ai/docs/proxy/access_control>). One set of operations for the three
//! kinds: `/new` creates, `/update` changes the fields given, `/delete` removes (not the keys),
//! `/info` and `/list` read. Only a `proxy_admin` writes; a `proxy_admin_viewer` reads all; a key
//! reads its own user, the teams its user belongs to (or its own team) and the organizations its
//! user belongs to.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchyard_store::{
    AccountFilter, AccountKind, AccountRecord, BudgetPeriod, KeyFilter, MemberRecord, MemberRole,
    ModelAliases, Store, UserRole, new_key_id,
};

use super::access::Principal;
use super::keys::{GenerateKey, check_budget, new_key};
use super::views::{KeyView, alias_field, id_field, key_views, read_account};
use super::{AdminQuery, store_error};
use crate::body::JsonBody;
use crate::error::{ApiError, python_float};
use crate::state::AppState;
use crate::storage::unix_seconds;

/// The fields of `/{user,team,organization}/{new,update}`, once the kind's own names
/// (`user_id`, `team_alias`, ...) are read as `id` and `alias`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFields {
    id: Option<String>,
    alias: Option<String>,
    max_budget: Option<f64>,
    budget_duration: Option<BudgetPeriod>,
    rpm_limit: Option<u64>,
    tpm_limit: Option<u64>,
    models: Option<Vec<String>>,
    /// A team's `model_aliases` (replacing the old; `null` clears them).
    model_aliases: Option<ModelAliases>,
    metadata: Option<Value>,
    blocked: Option<bool>,
    /// A team's organization.
    organization_id: Option<String>,
    /// A user's role.
    user_role: Option<UserRole>,
    /// A user's email address.
    user_email: Option<String>,
    /// A new team's members: `[{"user_id", "role"}]`.
    members_with_roles: Option<Vec<MemberSpec>>,
    /// A new team's admins, by user id.
    admins: Option<Vec<String>>,
    /// A new team's members (role `user`), by user id.
    members: Option<Vec<String>>,
    /// The teams a new user joins (role `user`).
    teams: Option<Vec<String>>,
}

/// A member as LiteLLM names one: `{"user_id", "role", "user_email"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MemberSpec {
    pub user_id: Option<String>,
    pub role: Option<MemberRole>,
    pub user_email: Option<String>,
}

/// Fields of `/user/new` that describe the key made with the user.
const USER_KEY_FIELDS: [&str; 4] = ["models", "key_alias", "duration", "team_id"];

/// Which fields each kind of account takes.
fn allowed(kind: AccountKind, field: &str) -> bool {
    let common = [
        "id",
        "alias",
        "max_budget",
        "budget_duration",
        "rpm_limit",
        "tpm_limit",
        "metadata",
    ];
    if common.contains(&field) {
        return true;
    }
    let own: &[&str] = match kind {
        AccountKind::User => &["user_role", "user_email", "teams", "blocked"],
        AccountKind::Team => &[
            "models",
            "model_aliases",
            "blocked",
            "organization_id",
            "members_with_roles",
            "admins",
            "members",
        ],
        AccountKind::Organization => &["models"],
    };
    own.contains(&field)
}

/// Reads `body` as the fields of a `kind` account: its kind's names (`team_id`, `team_alias`,
/// `org_id`...) as the common ones, every field checked against the kind.
fn fields_of(kind: AccountKind, mut body: Map<String, Value>) -> Result<AccountFields, ApiError> {
    for (from, to) in [(id_field(kind), "id"), (alias_field(kind), "alias")] {
        if let Some(value) = body.remove(from) {
            body.insert(to.to_owned(), value);
        }
    }
    if kind == AccountKind::Team
        && let Some(value) = body.remove("org_id")
    {
        body.insert("organization_id".to_owned(), value);
    }
    if body.get("model_aliases").is_some_and(Value::is_null) {
        body.insert("model_aliases".to_owned(), json!({}));
    }
    if let Some(field) = body.keys().find(|field| !allowed(kind, field)) {
        return Err(ApiError::invalid_request(format!(
            "`{field}` is not a field of a {kind} here"
        )));
    }
    let fields: AccountFields = serde_json::from_value(Value::Object(body))
        .map_err(|err| ApiError::invalid_request(format!("invalid {kind}: {err}")))?;
    check_budget(fields.max_budget)?;
    Ok(fields)
}

/// `POST /user/new`: the user, and (unless `auto_create_key` is false) a key of theirs, whose
/// secret is in the answer as `key`, as LiteLLM's `NewUserResponse`. `models`, `key_alias`,
/// `duration` and `team_id` describe that key; `team_id` and `teams` also make the user a
/// member of those teams.
pub async fn new_user(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(mut body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/user/new")?;
    let auto_create_key = match body.remove("auto_create_key") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(create)) => create,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "`auto_create_key` must be true or false",
            ));
        }
    };
    let mut key_fields = Map::new();
    for field in USER_KEY_FIELDS {
        if let Some(value) = body.remove(field) {
            key_fields.insert(field.to_owned(), value);
        }
    }
    if !auto_create_key && !key_fields.is_empty() {
        return Err(ApiError::invalid_request(
            "`models`, `key_alias`, `duration` and `team_id` describe the key made with the user; \
             they need `auto_create_key`",
        ));
    }
    let mut fields = fields_of(AccountKind::User, body)?;
    let store = state.storage().store();
    let mut teams = fields.teams.take().unwrap_or_default();
    if let Some(Value::String(team)) = key_fields.get("team_id") {
        teams.push(team.clone());
    }
    for team in &teams {
        exists(&**store, AccountKind::Team, team).await?;
    }
    let user = create(&state, AccountKind::User, fields).await?;
    for team in &teams {
        join(
            &**store,
            AccountKind::Team,
            team,
            &user.id,
            MemberRole::User,
        )
        .await?;
    }
    let key = if auto_create_key {
        let (secret, key) = new_key(GenerateKey::for_user(user.id.clone(), key_fields)?)?;
        store.create_key(&key).await.map_err(store_error)?;
        Some((secret, key))
    } else {
        None
    };
    state.storage().forget_identities().await;
    let mut answer = match read_account(&**store, user).await? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some((secret, key)) = key {
        let view = KeyView::new(key, 0.0);
        for (field, value) in [
            ("key", json!(secret)),
            ("key_name", json!(view.key_name)),
            ("token", json!(view.token)),
            ("token_id", json!(view.token_id)),
            ("key_alias", json!(view.key_alias)),
            ("expires", json!(view.expires)),
            ("models", json!(view.models)),
        ] {
            answer.insert(field.to_owned(), value);
        }
    }
    Ok(Json(Value::Object(answer)))
}

/// `POST /team/new`: `team_id` is made up when not given; `members_with_roles`, `admins` and
/// `members` make users (created if unknown) members of it; `organization_id` must name an
/// organization whose budget and models the team's fit in.
pub async fn new_team(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/team/new")?;
    let mut fields = fields_of(AccountKind::Team, body)?;
    let mut members: Vec<(String, MemberRole)> = Vec::new();
    for spec in fields.members_with_roles.take().unwrap_or_default() {
        let role = spec.role.unwrap_or(MemberRole::User);
        members.push((member_id(&spec, AccountKind::Team, role)?, role));
    }
    for (ids, role) in [
        (fields.admins.take(), MemberRole::Admin),
        (fields.members.take(), MemberRole::User),
    ] {
        members.extend(ids.unwrap_or_default().into_iter().map(|id| (id, role)));
    }
    let team = create(&state, AccountKind::Team, fields).await?;
    let store = state.storage().store();
    for (user, role) in members {
        ensure_user(&**store, &user, None).await?;
        join(&**store, AccountKind::Team, &team.id, &user, role).await?;
    }
    state.storage().forget_identities().await;
    read_account(&**store, team).await.map(Json)
}

/// `POST /organization/new`: `organization_id` is made up when not given.
pub async fn new_organization(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/organization/new")?;
    let fields = fields_of(AccountKind::Organization, body)?;
    let organization = create(&state, AccountKind::Organization, fields).await?;
    read_account(&**state.storage().store(), organization)
        .await
        .map(Json)
}

/// `POST /user/update`: the fields given change.
pub async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/user/update")?;
    update(&state, AccountKind::User, body).await
}

/// `POST /team/update`: the fields given change.
pub async fn update_team(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/team/update")?;
    update(&state, AccountKind::Team, body).await
}

/// `POST /organization/update`: the fields given change.
pub async fn update_organization(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/organization/update")?;
    update(&state, AccountKind::Organization, body).await
}

/// Stores a new `kind` account from `fields`; 409 if its id is taken.
async fn create(
    state: &AppState,
    kind: AccountKind,
    fields: AccountFields,
) -> Result<AccountRecord, ApiError> {
    let id = match &fields.id {
        Some(id) if !id.trim().is_empty() => id.clone(),
        _ => made_up_id(kind)?,
    };
    let store = state.storage().store();
    if store
        .account(kind, &id)
        .await
        .map_err(store_error)?
        .is_some()
    {
        return Err(ApiError::conflict(format!(
            "{kind} `{id}` already exists; /{kind}/update changes it"
        )));
    }
    let account = AccountRecord::new(kind, id, unix_seconds());
    save(state, account, fields).await
}

async fn update(
    state: &AppState,
    kind: AccountKind,
    body: Map<String, Value>,
) -> Result<Json<Value>, ApiError> {
    let fields = fields_of(kind, body)?;
    if fields.members_with_roles.is_some() || fields.admins.is_some() || fields.members.is_some() {
        return Err(ApiError::invalid_request(
            "members change through /team/member_add, /team/member_update and /team/member_delete",
        ));
    }
    if fields.teams.is_some() {
        return Err(ApiError::invalid_request(
            "a user joins teams through /team/member_add",
        ));
    }
    let Some(id) = fields.id.clone() else {
        return Err(ApiError::invalid_request(format!(
            "`{}` is required",
            id_field(kind)
        )));
    };
    let store = state.storage().store();
    let account = exists(&**store, kind, &id).await?;
    let account = save(state, account, fields).await?;
    read_account(&**store, account).await.map(Json)
}

/// Applies `fields` to `account` and stores it, once a team's fit in its organization is
/// checked.
async fn save(
    state: &AppState,
    mut account: AccountRecord,
    fields: AccountFields,
) -> Result<AccountRecord, ApiError> {
    if fields.alias.is_some() {
        account.alias = fields.alias;
    }
    if fields.max_budget.is_some() {
        account.max_budget = fields.max_budget;
    }
    if fields.budget_duration.is_some() {
        account.budget_duration = fields.budget_duration;
    }
    if fields.rpm_limit.is_some() {
        account.rpm_limit = fields.rpm_limit;
    }
    if fields.tpm_limit.is_some() {
        account.tpm_limit = fields.tpm_limit;
    }
    if let Some(models) = fields.models {
        account.models = models;
    }
    if let Some(aliases) = fields.model_aliases {
        account.model_aliases = aliases;
    }
    if let Some(metadata) = fields.metadata {
        account.metadata = metadata;
    }
    if let Some(blocked) = fields.blocked {
        account.blocked = blocked;
    }
    if fields.organization_id.is_some() {
        account.organization_id = fields.organization_id;
    }
    if fields.user_role.is_some() {
        account.user_role = fields.user_role;
    }
    if fields.user_email.is_some() {
        account.user_email = fields.user_email;
    }
    account.updated_at = unix_seconds();
    let store = state.storage().store();
    if let Some(organization) = &account.organization_id {
        let organization = exists(&**store, AccountKind::Organization, organization).await?;
        fits_in(&account, &organization)?;
    }
    store.upsert_account(&account).await.map_err(store_error)?;
    state.storage().forget_identities().await;
    Ok(account)
}

/// A team's budget and models must fit in its organization's, as LiteLLM checks
/// (`Team max_budget (100.0) exceeds organization's max_budget (5.0)`). A team listing no models
/// may call what its organization may.
fn fits_in(team: &AccountRecord, organization: &AccountRecord) -> Result<(), ApiError> {
    if let (Some(team_budget), Some(organization_budget)) =
        (team.max_budget, organization.max_budget)
        && team_budget > organization_budget
    {
        return Err(ApiError::invalid_request(format!(
            "Team max_budget ({}) exceeds organization's max_budget ({})",
            python_float(team_budget),
            python_float(organization_budget)
        )));
    }
    if !organization.models.is_empty() {
        let outside: Vec<&String> = team
            .models
            .iter()
            .filter(|model| !organization.models.contains(model))
            .collect();
        if !outside.is_empty() {
            return Err(ApiError::invalid_request(format!(
                "team models must be a subset of organization `{}`'s models {:?}; not {outside:?}",
                organization.id, organization.models
            )));
        }
    }
    Ok(())
}

/// The `kind` account `id`, or 404.
pub(super) async fn exists(
    store: &dyn Store,
    kind: AccountKind,
    id: &str,
) -> Result<AccountRecord, ApiError> {
    store
        .account(kind, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("no {kind} `{id}`")))
}

/// Makes `user_id` a user if it is not one yet (a member added before it was created).
pub(super) async fn ensure_user(
    store: &dyn Store,
    user_id: &str,
    email: Option<&str>,
) -> Result<AccountRecord, ApiError> {
    if let Some(user) = store
        .account(AccountKind::User, user_id)
        .await
        .map_err(store_error)?
    {
        return Ok(user);
    }
    let mut user = AccountRecord::new(AccountKind::User, user_id, unix_seconds());
    user.user_email = email.map(str::to_owned);
    store.upsert_account(&user).await.map_err(store_error)?;
    Ok(user)
}

/// Makes `user_id` a member of the `kind` account `account_id` with `role`.
pub(super) async fn join(
    store: &dyn Store,
    kind: AccountKind,
    account_id: &str,
    user_id: &str,
    role: MemberRole,
) -> Result<(), ApiError> {
    let member = MemberRecord {
        kind,
        account_id: account_id.to_owned(),
        user_id: user_id.to_owned(),
        role,
        created_at: unix_seconds(),
    };
    store.set_member(&member).await.map_err(store_error)
}

/// The user a member spec names, once its role is checked for `kind`.
pub(super) fn member_id(
    spec: &MemberSpec,
    kind: AccountKind,
    role: MemberRole,
) -> Result<String, ApiError> {
    if !role.fits(kind) {
        return Err(ApiError::invalid_request(format!(
            "`{}` is not a role in a {kind}",
            role.as_str()
        )));
    }
    match &spec.user_id {
        Some(id) if !id.trim().is_empty() => Ok(id.clone()),
        _ => Err(ApiError::invalid_request(
            "`user_id` is required: members are named by user id (a `user_email` alone is not \
             looked up)",
        )),
    }
}

/// An id for an account created without one.
fn made_up_id(kind: AccountKind) -> Result<String, ApiError> {
    let prefix = match kind {
        AccountKind::User => "user-",
        AccountKind::Team => "team-",
        AccountKind::Organization => "org-",
    };
    new_key_id()
        .map(|id| id.replacen("key-", prefix, 1))
        .map_err(|_| ApiError::internal("the gateway could not make an id"))
}

/// `{"user_ids": [...]}`, `{"team_ids": [...]}` or `{"organization_ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccounts {
    #[serde(alias = "user_ids", alias = "team_ids", alias = "organization_ids")]
    ids: Vec<String>,
}

/// `POST /user/delete`: `{"deleted_users": [...]}`.
pub async fn delete_users(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<DeleteAccounts>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/user/delete")?;
    let deleted = delete(&state, AccountKind::User, request.ids).await?;
    Ok(Json(json!({"deleted_users": deleted})))
}

/// `POST /team/delete`: `{"deleted_teams": [...]}`.
pub async fn delete_teams(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<DeleteAccounts>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/team/delete")?;
    let deleted = delete(&state, AccountKind::Team, request.ids).await?;
    Ok(Json(json!({"deleted_teams": deleted})))
}

/// `POST /organization/delete`: `{"deleted_organizations": [...]}`. An organization that still
/// has teams is refused.
pub async fn delete_organizations(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<DeleteAccounts>,
) -> Result<Json<Value>, ApiError> {
    principal.require_admin("/organization/delete")?;
    let store = state.storage().store();
    for id in &request.ids {
        let teams = AccountFilter {
            organization_id: Some(id.clone()),
            ..AccountFilter::of(AccountKind::Team)
        };
        if store.count_accounts(&teams).await.map_err(store_error)? > 0 {
            return Err(ApiError::invalid_request(format!(
                "organization `{id}` still has teams; delete them or move them to another \
                 organization first"
            )));
        }
    }
    let deleted = delete(&state, AccountKind::Organization, request.ids).await?;
    Ok(Json(json!({"deleted_organizations": deleted})))
}

async fn delete(
    state: &AppState,
    kind: AccountKind,
    ids: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    let store = state.storage().store();
    for id in &ids {
        store.delete_account(kind, id).await.map_err(store_error)?;
    }
    state.storage().forget_identities().await;
    Ok(ids)
}

/// `?user_id=`: none names the calling key's user.
#[derive(Debug, Deserialize)]
pub struct UserQuery {
    user_id: Option<String>,
}

/// `GET /user/info?user_id=`: `{"user_id", "user_info", "keys", "teams"}`. A key reads its
/// own user's (`user_id` left out or its own), admins and viewers anyone's.
pub async fn user_info(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<UserQuery>,
) -> Result<Json<Value>, ApiError> {
    let own = principal.user_id.as_deref();
    let id = match (query.user_id, own) {
        (Some(asked), _) if principal.reads_all() || Some(asked.as_str()) == own => asked,
        (Some(asked), _) => {
            return Err(ApiError::forbidden(format!(
                "key not allowed to access this user's info. user_id={asked}, key's user_id={}",
                own.unwrap_or("None")
            )));
        }
        (None, Some(own)) => own.to_owned(),
        (None, None) => {
            return Err(ApiError::invalid_request(
                "`user_id` is required: the calling key belongs to no user",
            ));
        }
    };
    let store = state.storage().store();
    let user = exists(&**store, AccountKind::User, &id).await?;
    let keys = owned_keys(
        &**store,
        KeyFilter {
            user_id: Some(id.clone()),
            ..KeyFilter::default()
        },
    )
    .await?;
    let mut teams = Vec::new();
    for membership in store.memberships(&id).await.map_err(store_error)? {
        if membership.kind == AccountKind::Team
            && let Some(team) = store
                .account(AccountKind::Team, &membership.account_id)
                .await
                .map_err(store_error)?
        {
            teams.push(read_account(&**store, team).await?);
        }
    }
    let user_info = read_account(&**store, user).await?;
    Ok(Json(
        json!({"user_id": id, "user_info": user_info, "keys": keys, "teams": teams}),
    ))
}

/// `?team_id=`.
#[derive(Debug, Deserialize)]
pub struct TeamQuery {
    team_id: String,
}

/// `GET /team/info?team_id=`: `{"team_id", "team_info": {..., "members_with_roles"}, "keys"}`.
/// Members of the team and keys of the team read it, besides admins and viewers.
pub async fn team_info(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<TeamQuery>,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let id = query.team_id;
    let allowed = principal.reads_all()
        || principal.team_id.as_deref() == Some(id.as_str())
        || principal
            .role_in(&**store, AccountKind::Team, &id)
            .await?
            .is_some();
    if !allowed {
        return Err(ApiError::forbidden(
            "key not allowed to access this team's info",
        ));
    }
    let team = exists(&**store, AccountKind::Team, &id).await?;
    let keys = owned_keys(
        &**store,
        KeyFilter {
            team_id: Some(id.clone()),
            ..KeyFilter::default()
        },
    )
    .await?;
    let team_info = read_account(&**store, team).await?;
    Ok(Json(
        json!({"team_id": id, "team_info": team_info, "keys": keys}),
    ))
}

/// `?organization_id=`.
#[derive(Debug, Deserialize)]
pub struct OrganizationQuery {
    #[serde(alias = "org_id")]
    organization_id: String,
}

/// `GET /organization/info?organization_id=`: the organization with its budget, members and
/// teams. Its members read it, besides admins and viewers.
pub async fn organization_info(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(query): AdminQuery<OrganizationQuery>,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let id = query.organization_id;
    let allowed = principal.reads_all()
        || principal
            .role_in(&**store, AccountKind::Organization, &id)
            .await?
            .is_some();
    if !allowed {
        return Err(ApiError::forbidden(
            "key not allowed to access this organization's info",
        ));
    }
    let organization = exists(&**store, AccountKind::Organization, &id).await?;
    let mut view = read_account(&**store, organization).await?;
    let teams = store
        .list_accounts(&AccountFilter {
            organization_id: Some(id),
            limit: 1_000,
            ..AccountFilter::of(AccountKind::Team)
        })
        .await
        .map_err(store_error)?;
    let mut team_views = Vec::with_capacity(teams.len());
    for team in teams {
        team_views.push(read_account(&**store, team).await?);
    }
    if let Value::Object(map) = &mut view {
        map.insert("teams".to_owned(), json!(team_views));
    }
    Ok(Json(view))
}

async fn owned_keys(store: &dyn Store, filter: KeyFilter) -> Result<Vec<KeyView>, ApiError> {
    let keys = store.list_keys(&filter).await.map_err(store_error)?;
    key_views(store, keys).await
}

/// `?page=&page_size=` (LiteLLM's, from 1) or `?limit=&offset=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    page: Option<u32>,
    page_size: Option<u32>,
    limit: Option<u32>,
    offset: Option<u32>,
    #[serde(alias = "org_id")]
    organization_id: Option<String>,
}

impl Page {
    fn filter(&self, kind: AccountKind) -> AccountFilter {
        let size = self.page_size.or(self.limit).unwrap_or(100).clamp(1, 1_000);
        let page = self.page.unwrap_or(1).max(1);
        AccountFilter {
            kind,
            organization_id: self.organization_id.clone(),
            limit: size,
            offset: self
                .offset
                .unwrap_or_else(|| (page - 1).saturating_mul(size)),
        }
    }
}

/// `GET /user/list`: `{"users", "total", "page", "page_size", "total_pages"}`, for admins and
/// viewers.
pub async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(page): AdminQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    principal.require_reader("/user/list")?;
    let store = state.storage().store();
    let filter = page.filter(AccountKind::User);
    let total = store.count_accounts(&filter).await.map_err(store_error)?;
    let users = read_all(
        &**store,
        store.list_accounts(&filter).await.map_err(store_error)?,
    )
    .await?;
    Ok(Json(json!({
        "users": users,
        "total": total,
        "page": filter.offset / filter.limit + 1,
        "page_size": filter.limit,
        "total_pages": total.div_ceil(u64::from(filter.limit)),
    })))
}

/// `GET /team/list`: every team for admins and viewers; a key's own team and its user's teams
/// for anyone else. A list, as LiteLLM answers.
pub async fn list_teams(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(page): AdminQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    list_kind(&state, &principal, AccountKind::Team, &page).await
}

/// `GET /organization/list`: every organization for admins and viewers; its user's
/// organizations for anyone else. A list, as LiteLLM answers.
pub async fn list_organizations(
    State(state): State<AppState>,
    principal: Principal,
    AdminQuery(page): AdminQuery<Page>,
) -> Result<Json<Value>, ApiError> {
    list_kind(&state, &principal, AccountKind::Organization, &page).await
}

async fn list_kind(
    state: &AppState,
    principal: &Principal,
    kind: AccountKind,
    page: &Page,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    if principal.reads_all() {
        let accounts = store
            .list_accounts(&page.filter(kind))
            .await
            .map_err(store_error)?;
        return read_all(&**store, accounts)
            .await
            .map(|all| Json(json!(all)));
    }
    let mut ids: Vec<String> = match principal.user_id.as_deref() {
        Some(user) => store
            .memberships(user)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.account_id)
            .collect(),
        None => Vec::new(),
    };
    if kind == AccountKind::Team
        && let Some(team) = &principal.team_id
        && !ids.iter().any(|id| id == &**team)
    {
        ids.push(team.to_string());
    }
    let mut accounts = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(account) = store.account(kind, &id).await.map_err(store_error)? {
            accounts.push(account);
        }
    }
    read_all(&**store, accounts)
        .await
        .map(|all| Json(json!(all)))
}

async fn read_all(store: &dyn Store, accounts: Vec<AccountRecord>) -> Result<Vec<Value>, ApiError> {
    let mut views = Vec::with_capacity(accounts.len());
    for account in accounts {
        views.push(read_account(store, account).await?);
    }
    Ok(views)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value`'s fields, as a request body.
    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn each_kind_reads_its_own_names_and_refuses_others() {
        let team = fields_of(
            AccountKind::Team,
            body(json!({"team_id": "t", "team_alias": "T", "org_id": "o", "models": ["m"]})),
        )
        .expect("a team");
        assert_eq!(team.id.as_deref(), Some("t"));
        assert_eq!(team.alias.as_deref(), Some("T"));
        assert_eq!(team.organization_id.as_deref(), Some("o"));
        let organization = fields_of(
            AccountKind::Organization,
            body(json!({"organization_id": "o", "organization_alias": "O", "max_budget": 5})),
        )
        .expect("an organization");
        assert_eq!(organization.id.as_deref(), Some("o"));
        let err = fields_of(
            AccountKind::User,
            body(json!({"user_id": "u", "models": []})),
        )
        .expect_err("users take no models");
        assert!(err.message.contains("`models`"), "{}", err.message);
        let err = fields_of(AccountKind::Organization, body(json!({"blocked": true})))
            .expect_err("organizations are not blocked");
        assert!(err.message.contains("`blocked`"), "{}", err.message);
        let err = fields_of(AccountKind::User, body(json!({"user_role": "admin"})))
            .expect_err("not a LiteLLM role");
        assert_eq!(err.status.as_u16(), 400);
    }

    #[test]
    fn a_team_takes_model_aliases_of_names_only() {
        // `model_aliases` as LiteLLM's /team/new takes it
        // (https://docs.litellm.ai/docs/proxy/team_based_routing).
        let team = fields_of(
            AccountKind::Team,
            body(json!({"team_id": "t", "model_aliases": {"gpt-3.5-turbo": "gpt-3.5-turbo-eu"}})),
        )
        .expect("a team");
        let aliases = team.model_aliases.expect("aliases given");
        assert_eq!(aliases.target("gpt-3.5-turbo"), Some("gpt-3.5-turbo-eu"));
        let cleared = fields_of(AccountKind::Team, body(json!({"model_aliases": null})))
            .expect("null clears");
        assert_eq!(cleared.model_aliases, Some(ModelAliases::new()));
        let absent = fields_of(AccountKind::Team, body(json!({}))).expect("nothing given");
        assert_eq!(absent.model_aliases, None, "left as it is");
        for bad in [
            json!({"model_aliases": {"gpt-4": 4}}),
            json!({"model_aliases": {"gpt-4": ["a"]}}),
            json!({"model_aliases": ["gpt-4"]}),
            json!({"model_aliases": "gpt-4"}),
        ] {
            let err = fields_of(AccountKind::Team, body(bad.clone())).expect_err("not names");
            assert_eq!(err.status.as_u16(), 400, "{bad}");
        }
        let err = fields_of(
            AccountKind::User,
            body(json!({"model_aliases": {"a": "b"}})),
        )
        .expect_err("a user has none");
        assert!(err.message.contains("`model_aliases`"), "{}", err.message);
    }

    #[test]
    fn a_team_fits_in_its_organization() {
        let mut organization = AccountRecord::new(AccountKind::Organization, "o", 0);
        organization.max_budget = Some(5.0);
        organization.models = vec!["a".to_owned(), "b".to_owned()];
        let mut team = AccountRecord::new(AccountKind::Team, "t", 0);
        team.max_budget = Some(100.0);
        team.models = vec!["a".to_owned()];
        let err = fits_in(&team, &organization).expect_err("over budget");
        assert_eq!(
            err.message,
            "Team max_budget (100.0) exceeds organization's max_budget (5.0)"
        );
        team.max_budget = Some(5.0);
        assert!(fits_in(&team, &organization).is_ok());
        team.models = vec!["c".to_owned()];
        assert!(fits_in(&team, &organization).is_err());
        // A team without a list of its own is held to its organization's when it calls.
        team.models = Vec::new();
        assert!(fits_in(&team, &organization).is_ok());
    }
}
