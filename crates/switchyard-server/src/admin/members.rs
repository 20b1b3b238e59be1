//! Members of teams and organizations, with their roles, as LiteLLM manages them:
//! `/team/member_add`, `/team/member_update`, `/team/member_delete` (team roles `admin` and
//! `user`; a proxy admin or an admin of the team may call them) and `/organization/member_add`,
//! `/organization/member_update`, `/organization/member_delete` (roles `org_admin`,
//! `internal_user`, `internal_user_viewer`; a proxy admin or an `org_admin` of the organization
//! may call them; <https://docs.litellm.ai/docs/proxy/access_control>). A member named by a
//! user id that is no user yet becomes one.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_store::{AccountKind, MemberRole, Store};

use super::access::Principal;
use super::accounts::{MemberSpec, ensure_user, exists, join, member_id};
use super::store_error;
use super::views::read_account;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// One member or several, as LiteLLM takes `member`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Members {
    /// `{"user_id", "role"}`.
    One(MemberSpec),
    /// `[{"user_id", "role"}, ...]`.
    Many(Vec<MemberSpec>),
}

impl Members {
    fn into_vec(self) -> Vec<MemberSpec> {
        match self {
            Self::One(spec) => vec![spec],
            Self::Many(specs) => specs,
        }
    }
}

/// `/team/member_add`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTeamMembers {
    team_id: String,
    member: Members,
}

/// `/organization/member_add`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddOrganizationMembers {
    #[serde(alias = "org_id")]
    organization_id: String,
    member: Members,
}

/// `/{team,organization}/member_update`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    #[serde(rename = "team_id", alias = "organization_id", alias = "org_id")]
    account_id: String,
    user_id: String,
    role: MemberRole,
}

/// `/{team,organization}/member_delete`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveMember {
    #[serde(rename = "team_id", alias = "organization_id", alias = "org_id")]
    account_id: String,
    user_id: String,
}

/// `POST /team/member_add`: the team as `/team/info` shows it, with `updated_users` and
/// `updated_team_memberships`.
pub async fn add_to_team(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<AddTeamMembers>,
) -> Result<Json<Value>, ApiError> {
    let kind = AccountKind::Team;
    let store = state.storage().store();
    may_manage(
        &**store,
        &principal,
        kind,
        &request.team_id,
        "/team/member_add",
    )
    .await?;
    let (users, memberships) = add(&**store, kind, &request.team_id, request.member).await?;
    state.storage().forget_identities().await;
    let team = exists(&**store, kind, &request.team_id).await?;
    let mut answer = read_account(&**store, team).await?;
    if let Value::Object(map) = &mut answer {
        map.insert("updated_users".to_owned(), json!(users));
        map.insert("updated_team_memberships".to_owned(), json!(memberships));
    }
    Ok(Json(answer))
}

/// `POST /organization/member_add`: `{"organization_id", "updated_users",
/// "updated_organization_memberships"}`.
pub async fn add_to_organization(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<AddOrganizationMembers>,
) -> Result<Json<Value>, ApiError> {
    let kind = AccountKind::Organization;
    let store = state.storage().store();
    let id = request.organization_id;
    may_manage(&**store, &principal, kind, &id, "/organization/member_add").await?;
    let (users, memberships) = add(&**store, kind, &id, request.member).await?;
    state.storage().forget_identities().await;
    Ok(Json(json!({
        "organization_id": id,
        "updated_users": users,
        "updated_organization_memberships": memberships,
    })))
}

/// `POST /team/member_update`: `{"team_id", "user_id", "role"}` as changed.
pub async fn update_in_team(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<UpdateMember>,
) -> Result<Json<Value>, ApiError> {
    update(&state, &principal, AccountKind::Team, request).await
}

/// `POST /organization/member_update`: `{"organization_id", "user_id", "role"}` as changed.
pub async fn update_in_organization(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<UpdateMember>,
) -> Result<Json<Value>, ApiError> {
    update(&state, &principal, AccountKind::Organization, request).await
}

/// `POST /team/member_delete`: the team as it now is.
pub async fn remove_from_team(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<RemoveMember>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &principal, AccountKind::Team, request).await
}

/// `POST /organization/member_delete`: the organization as it now is.
pub async fn remove_from_organization(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(request): JsonBody<RemoveMember>,
) -> Result<Json<Value>, ApiError> {
    remove(&state, &principal, AccountKind::Organization, request).await
}

async fn update(
    state: &AppState,
    principal: &Principal,
    kind: AccountKind,
    request: UpdateMember,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let id = request.account_id;
    let route = format!("/{kind}/member_update");
    may_manage(&**store, principal, kind, &id, &route).await?;
    if !request.role.fits(kind) {
        return Err(ApiError::invalid_request(format!(
            "`{}` is not a role in a {kind}",
            request.role.as_str()
        )));
    }
    let members = store.members(kind, &id).await.map_err(store_error)?;
    if !members.iter().any(|m| m.user_id == request.user_id) {
        return Err(ApiError::not_found(format!(
            "user `{}` is not a member of {kind} `{id}`",
            request.user_id
        )));
    }
    join(&**store, kind, &id, &request.user_id, request.role).await?;
    state.storage().forget_identities().await;
    let id_field = super::views::id_field(kind);
    Ok(Json(json!({
        id_field: id,
        "user_id": request.user_id,
        "role": request.role.as_str(),
        "user_email": null,
    })))
}

async fn remove(
    state: &AppState,
    principal: &Principal,
    kind: AccountKind,
    request: RemoveMember,
) -> Result<Json<Value>, ApiError> {
    let store = state.storage().store();
    let id = request.account_id;
    let route = format!("/{kind}/member_delete");
    may_manage(&**store, principal, kind, &id, &route).await?;
    store
        .remove_member(kind, &id, &request.user_id)
        .await
        .map_err(store_error)?;
    state.storage().forget_identities().await;
    let account = exists(&**store, kind, &id).await?;
    read_account(&**store, account).await.map(Json)
}

/// Adds every member of `members` to the `kind` account `id`; answers the users and the
/// memberships as LiteLLM lists them.
async fn add(
    store: &dyn Store,
    kind: AccountKind,
    id: &str,
    members: Members,
) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let default_role = match kind {
        AccountKind::Organization => MemberRole::InternalUser,
        _ => MemberRole::User,
    };
    let specs = members.into_vec();
    let mut named = Vec::with_capacity(specs.len());
    for spec in &specs {
        let role = spec.role.unwrap_or(default_role);
        named.push((
            member_id(spec, kind, role)?,
            role,
            spec.user_email.as_deref(),
        ));
    }
    let (mut users, mut memberships) = (Vec::new(), Vec::new());
    for (user_id, role, email) in named {
        let user = ensure_user(store, &user_id, email).await?;
        join(store, kind, id, &user_id, role).await?;
        users.push(read_account(store, user).await?);
        memberships.push(json!({
            "user_id": user_id,
            super::views::id_field(kind): id,
            "role": role.as_str(),
            "user_role": role.as_str(),
        }));
    }
    Ok((users, memberships))
}

/// Refuses unless `principal` may manage the members of the `kind` account `id`, which must
/// exist: a proxy admin; an admin of the team; an `org_admin` of the organization. A viewer is
/// refused as LiteLLM refuses its writes, anyone else with LiteLLM's team-admin refusal.
async fn may_manage(
    store: &dyn Store,
    principal: &Principal,
    kind: AccountKind,
    id: &str,
    route: &str,
) -> Result<(), ApiError> {
    if principal.role == Some(switchyard_store::UserRole::ProxyAdminViewer) {
        return Err(principal.refusal(route));
    }
    exists(store, kind, id).await?;
    if principal.is_admin() {
        return Ok(());
    }
    let admin_role = match kind {
        AccountKind::Organization => MemberRole::OrgAdmin,
        _ => MemberRole::Admin,
    };
    if principal.role_in(store, kind, id).await? == Some(admin_role) {
        return Ok(());
    }
    match kind {
        AccountKind::Team => Err(ApiError::forbidden(format!(
            "Call not allowed. User not proxy admin OR team admin. route={route}, team_id={id}"
        ))),
        _ => Err(principal.refusal(route)),
    }
}
