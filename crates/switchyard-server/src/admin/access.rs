//! Who may do what in the admin API, as LiteLLM decides it
//! (<https://docs.litellm.ai/docs/proxy/access_control>, and its `route_checks.py`): the master
//! key is a `proxy_admin`; a virtual key acts with its user's `user_role` (`proxy_admin`,
//! `proxy_admin_viewer`, `internal_user`, `internal_user_viewer`, or none); a team member with
//! role `admin` manages that team's keys and members; an organization member with role
//! `org_admin` adds members to that organization. The routes decide with [`Principal`]; the
//! refusals carry LiteLLM's words and statuses.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use switchyard_store::{AccountKind, MemberRole, Store, UserRole};

use super::store_error;
use crate::caller::Caller;
use crate::error::ApiError;

/// The caller of an admin route.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Its role: `proxy_admin` for the master key, else its key's user's, if any.
    pub role: Option<UserRole>,
    /// The calling key's public id ([`Caller::MASTER`] for the master key).
    pub key_id: Arc<str>,
    /// The calling key's user.
    pub user_id: Option<Arc<str>>,
    /// The calling key's team.
    pub team_id: Option<Arc<str>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(caller) = parts.extensions.get::<Caller>() else {
            tracing::error!("an admin route was reached without authentication");
            return Err(ApiError::internal(
                "the gateway failed to authenticate the call",
            ));
        };
        if &*caller.key_id == Caller::OPEN {
            return Err(ApiError::forbidden(
                "the admin API needs `general_settings.master_key` to be configured",
            ));
        }
        let role = if &*caller.key_id == Caller::MASTER {
            Some(UserRole::ProxyAdmin)
        } else {
            caller.user_role
        };
        Ok(Self {
            role,
            key_id: Arc::clone(&caller.key_id),
            user_id: caller.user_id.clone(),
            team_id: caller.team_id.clone(),
        })
    }
}

impl Principal {
    /// The master key itself.
    pub fn is_master_key(&self) -> bool {
        &*self.key_id == Caller::MASTER
    }

    /// A `proxy_admin` (the master key, or a key of such a user): may do everything.
    pub fn is_admin(&self) -> bool {
        self.role == Some(UserRole::ProxyAdmin)
    }

    /// A `proxy_admin` or `proxy_admin_viewer`: may read everything.
    pub fn reads_all(&self) -> bool {
        matches!(
            self.role,
            Some(UserRole::ProxyAdmin | UserRole::ProxyAdminViewer)
        )
    }

    /// An `internal_user` (or admin): may manage keys, within the limits of each route.
    pub fn manages_keys(&self) -> bool {
        matches!(
            self.role,
            Some(UserRole::ProxyAdmin | UserRole::InternalUser)
        )
    }

    /// An internal user of either kind (or admin of either kind): may read their own spend.
    pub fn reads_own_spend(&self) -> bool {
        self.role.is_some()
    }

    /// The role as LiteLLM prints it in refusals (`None` without one, as Python writes it).
    pub fn role_name(&self) -> &'static str {
        self.role.map_or("None", UserRole::as_str)
    }

    /// Whether `user_id` is the caller's own user.
    pub fn is_user(&self, user_id: Option<&str>) -> bool {
        user_id.is_some() && self.user_id.as_deref() == user_id
    }

    /// Refuses unless the caller is a `proxy_admin`: 403 for a `proxy_admin_viewer` (it may
    /// read, not write), else 401, in LiteLLM's words.
    pub fn require_admin(&self, route: &str) -> Result<(), ApiError> {
        if self.is_admin() {
            return Ok(());
        }
        Err(self.refusal(route))
    }

    /// Refuses unless the caller may manage keys (`proxy_admin`, `internal_user`).
    pub fn require_key_manager(&self, route: &str) -> Result<(), ApiError> {
        if self.manages_keys() {
            return Ok(());
        }
        Err(self.refusal(route))
    }

    /// Refuses unless the caller may read all records (`proxy_admin`, `proxy_admin_viewer`).
    pub fn require_reader(&self, route: &str) -> Result<(), ApiError> {
        if self.reads_all() {
            return Ok(());
        }
        Err(self.refusal(route))
    }

    /// LiteLLM's refusal of `route` for this caller's role: a viewer may not write (403),
    /// anyone else below admin may not use the route at all (401).
    pub fn refusal(&self, route: &str) -> ApiError {
        if self.role == Some(UserRole::ProxyAdminViewer) {
            return ApiError::forbidden(format!(
                "user not allowed to access this route, role= {}. Trying to access: {route}",
                self.role_name()
            ));
        }
        ApiError::admin_only(format!(
            "Authentication Error, Only proxy admin can be used to generate, delete, update info \
             for new keys/users/teams. Route={route}. Your role={}. Your user_id={}",
            self.role_name(),
            mask(self.user_id.as_deref().unwrap_or("unknown"))
        ))
    }

    /// The caller's role in the `kind` account `id` (a team or an organization), if a member.
    pub async fn role_in(
        &self,
        store: &dyn Store,
        kind: AccountKind,
        id: &str,
    ) -> Result<Option<MemberRole>, ApiError> {
        let Some(user_id) = self.user_id.as_deref() else {
            return Ok(None);
        };
        let members = store.members(kind, id).await.map_err(store_error)?;
        Ok(members
            .into_iter()
            .find(|member| member.user_id == user_id)
            .map(|member| member.role))
    }

    /// Whether the caller administers team `team_id` (or is a proxy admin).
    pub async fn administers_team(
        &self,
        store: &dyn Store,
        team_id: &str,
    ) -> Result<bool, ApiError> {
        if self.is_admin() {
            return Ok(true);
        }
        Ok(self.role_in(store, AccountKind::Team, team_id).await? == Some(MemberRole::Admin))
    }
}

/// A user id as LiteLLM shows it in refusals: its first six and last two characters, the rest
/// starred (`***` for short ones).
fn mask(user_id: &str) -> String {
    let chars: Vec<char> = user_id.chars().collect();
    if chars.len() <= 8 {
        return "***".to_owned();
    }
    let hidden = chars.len() - 8;
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Option<UserRole>) -> Principal {
        Principal {
            role,
            key_id: Arc::from("key-1"),
            user_id: Some(Arc::from("ana@example.com")),
            team_id: None,
        }
    }

    #[test]
    fn refusals_follow_the_role() {
        let viewer = principal(Some(UserRole::ProxyAdminViewer));
        assert!(viewer.reads_all() && !viewer.is_admin() && !viewer.manages_keys());
        let err = viewer.require_admin("/key/generate").expect_err("refused");
        assert_eq!(err.status.as_u16(), 403);
        assert_eq!(
            err.message,
            "user not allowed to access this route, role= proxy_admin_viewer. Trying to access: /key/generate"
        );
        let user_viewer = principal(Some(UserRole::InternalUserViewer));
        let err = user_viewer
            .require_key_manager("/key/generate")
            .expect_err("refused");
        assert_eq!(err.status.as_u16(), 401);
        assert_eq!(
            err.message,
            "Authentication Error, Only proxy admin can be used to generate, delete, update info \
             for new keys/users/teams. Route=/key/generate. Your role=internal_user_viewer. Your \
             user_id=ana@ex*******om"
        );
        assert!(
            principal(Some(UserRole::InternalUser))
                .require_key_manager("/key/generate")
                .is_ok()
        );
        let nobody = principal(None);
        assert_eq!(nobody.role_name(), "None");
        assert!(!nobody.reads_own_spend());
    }

    #[test]
    fn user_ids_are_masked_in_refusals() {
        assert_eq!(mask("ab"), "***");
        assert_eq!(mask("abcdefgh"), "***");
        assert_eq!(mask("abcdefghij"), "abcdef**ij");
    }
}
