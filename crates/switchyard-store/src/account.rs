//! Users, teams and organizations: the accounts that own keys. The three share one shape
//! ([`AccountRecord`]: an alias, a budget and limits, models, metadata) and one table, told
//! apart by [`AccountKind`]; teams and organizations have members with a role
//! ([`MemberRecord`]). Plain data, no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::aliases::ModelAliases;
use crate::period::BudgetPeriod;

/// Which kind of account a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person (or service) that owns keys.
    User,
    /// A group of users sharing a budget and a model list for their keys.
    Team,
    /// A group of teams, with a budget over all of them.
    Organization,
}

impl AccountKind {
    /// `"user"`, `"team"` or `"organization"`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Team => "team",
            Self::Organization => "organization",
        }
    }

    /// The kind stored as `text`.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "team" => Some(Self::Team),
            "organization" => Some(Self::Organization),
            _ => None,
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user may do in the admin API: LiteLLM's proxy-wide user roles
/// (<https://docs.litellm.ai/docs/proxy/access_control>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Everything.
    ProxyAdmin,
    /// Reads everything, changes nothing, calls no model.
    ProxyAdminViewer,
    /// Manages their own keys and reads their own spend.
    InternalUser,
    /// Reads their own keys and spend.
    InternalUserViewer,
}

impl UserRole {
    /// The role's name, as LiteLLM writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProxyAdmin => "proxy_admin",
            Self::ProxyAdminViewer => "proxy_admin_viewer",
            Self::InternalUser => "internal_user",
            Self::InternalUserViewer => "internal_user_viewer",
        }
    }
}

impl fmt::Display for UserRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of LiteLLM's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for UserRole {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "proxy_admin" => Ok(Self::ProxyAdmin),
            "proxy_admin_viewer" => Ok(Self::ProxyAdminViewer),
            "internal_user" => Ok(Self::InternalUser),
            "internal_user_viewer" => Ok(Self::InternalUserViewer),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// A member's role in a team (`admin`, `user`) or an organization (`org_admin`,
/// `internal_user`, `internal_user_viewer`), as LiteLLM names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Team admin: manages the team's keys and members.
    Admin,
    /// Team member.
    User,
    /// Organization admin.
    OrgAdmin,
    /// Organization member.
    InternalUser,
    /// Organization member who only reads.
    InternalUserViewer,
}

impl MemberRole {
    /// The role's name, as LiteLLM writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
            Self::OrgAdmin => "org_admin",
            Self::InternalUser => "internal_user",
            Self::InternalUserViewer => "internal_user_viewer",
        }
    }

    /// Whether members of a `kind` account can hold this role.
    pub fn fits(self, kind: AccountKind) -> bool {
        match kind {
            AccountKind::Team => matches!(self, Self::Admin | Self::User),
            AccountKind::Organization => matches!(
                self,
                Self::OrgAdmin | Self::InternalUser | Self::InternalUserViewer
            ),
            AccountKind::User => false,
        }
    }
}

impl FromStr for MemberRole {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "admin" => Ok(Self::Admin),
            "user" => Ok(Self::User),
            "org_admin" => Ok(Self::OrgAdmin),
            "internal_user" => Ok(Self::InternalUser),
            "internal_user_viewer" => Ok(Self::InternalUserViewer),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// A user, team or organization. Fields that do not apply to a kind stay empty: only users
/// have a role and an email, only teams an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// User, team or organization.
    pub kind: AccountKind,
    /// Its id (a user's is often an email address).
    pub id: String,
    /// A human name.
    pub alias: Option<String>,
    /// Budget in US dollars per period, or ever if none.
    pub max_budget: Option<f64>,
    /// How often the budget starts over.
    pub budget_duration: Option<BudgetPeriod>,
    /// Requests per minute over all the account's keys.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute over all the account's keys.
    pub tpm_limit: Option<u64>,
    /// Models the account's keys may call; empty means all (teams and organizations).
    pub models: Vec<String>,
    /// A team's `model_aliases`: model names its keys ask for under another model's name.
    #[serde(default)]
    pub model_aliases: ModelAliases,
    /// Free-form JSON.
    pub metadata: serde_json::Value,
    /// Every key of the account is refused.
    pub blocked: bool,
    /// A team's organization.
    pub organization_id: Option<String>,
    /// A user's role in the admin API.
    pub user_role: Option<UserRole>,
    /// A user's email address.
    pub user_email: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

impl AccountRecord {
    /// An account of `kind` with no limits, no alias and empty metadata, created `now` (unix
    /// seconds).
    pub fn new(kind: AccountKind, id: impl Into<String>, now: i64) -> Self {
        Self {
            kind,
            id: id.into(),
            alias: None,
            max_budget: None,
            budget_duration: None,
            rpm_limit: None,
            tpm_limit: None,
            models: Vec::new(),
            model_aliases: ModelAliases::new(),
            metadata: serde_json::Value::Object(serde_json::Map::new()),
            blocked: false,
            organization_id: None,
            user_role: None,
            user_email: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Which accounts [`Store::list_accounts`](crate::Store::list_accounts) returns, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFilter {
    /// Users, teams or organizations.
    pub kind: AccountKind,
    /// Only the teams of this organization.
    pub organization_id: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Skip this many first.
    pub offset: u32,
}

impl AccountFilter {
    /// The first 100 accounts of `kind`.
    pub fn of(kind: AccountKind) -> Self {
        Self {
            kind,
            organization_id: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// A user's membership of a team or an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Team or organization.
    pub kind: AccountKind,
    /// The team's or organization's id.
    pub account_id: String,
    /// The member.
    pub user_id: String,
    /// What the member may do there.
    pub role: MemberRole,
    /// Unix seconds.
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_read_as_litellm_writes_them() {
        for role in [
            UserRole::ProxyAdmin,
            UserRole::ProxyAdminViewer,
            UserRole::InternalUser,
            UserRole::InternalUserViewer,
        ] {
            assert_eq!(role.as_str().parse::<UserRole>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).expect("serializes"),
                serde_json::json!(role.as_str())
            );
        }
        assert!("admin".parse::<UserRole>().is_err());
        assert!(MemberRole::Admin.fits(AccountKind::Team));
        assert!(!MemberRole::Admin.fits(AccountKind::Organization));
        assert!(MemberRole::OrgAdmin.fits(AccountKind::Organization));
        assert_eq!("org_admin".parse(), Ok(MemberRole::OrgAdmin));
        for kind in [
            AccountKind::User,
            AccountKind::Team,
            AccountKind::Organization,
        ] {
            assert_eq!(AccountKind::from_stored(kind.as_str()), Some(kind));
        }
    }
}
