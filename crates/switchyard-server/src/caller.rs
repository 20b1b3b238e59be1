//! Who is calling: the identity authentication establishes for a request (which key, its user
//! and team, their own limits, the models it may call and the aliases it names them by, and the
//! budgets its spend counts against), carried in the request's extensions to the call path, where rate limits, budgets
//! and spend records read it; and the end user a call names. Never holds the secret key itself.

use std::sync::{Arc, LazyLock};

use switchyard_layers::rate_limit::Limits;
use switchyard_store::{BudgetPeriod, CounterScope, ModelAliases, UserRole};

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
    /// The organization the key belongs to (its own, or its team's).
    pub organization_id: Option<Arc<str>>,
    /// The role of the key's user in the admin API (none for a key without a user).
    pub user_role: Option<UserRole>,
    /// The key's own requests and tokens per minute, replacing `rate_limits.key`.
    pub limits: Option<Limits>,
    /// The key owner's own limits (`/user/new`'s `rpm_limit`/`tpm_limit`), replacing
    /// `rate_limits.user`; they hold across every key of the user.
    pub user_limits: Option<Limits>,
    /// The team's own limits, replacing `rate_limits.team`; they hold across the team's keys.
    pub team_limits: Option<Limits>,
    /// The end user this call is made for: an end-user header or the body's `user`, set per
    /// call. A scope of its own, in addition to the key's owner, never instead of it.
    pub end_user: Option<Arc<str>>,
    /// Model names the caller may call; empty allows every model.
    pub models: Arc<[String]>,
    /// Model names the caller's organization may call, a ceiling over `models`; empty sets
    /// none.
    pub organization_models: Arc<[String]>,
    /// Model names the caller asks for under another model's name: its team's `model_aliases`
    /// with its key's `aliases` laid over them (the key's win).
    pub model_aliases: Arc<ModelAliases>,
    /// The key, its user, its team and its organization, whose spend each call adds to
    /// (virtual keys only).
    pub accounts: Arc<[Account]>,
}

/// A key, user, team or organization that is charged for a caller's calls, with its budget if
/// it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Key, user, team or organization.
    pub scope: CounterScope,
    /// Its id.
    pub id: String,
    /// How a refusal over its budget names it: a key's alias and abbreviated secret
    /// (`ci (sk-...abcd)`), else its id.
    pub name: String,
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

    /// The caller using the master key ([`Caller::MASTER`]): made once, cloned per request
    /// (reference counts, no allocation).
    pub fn master() -> Self {
        static MASTER: LazyLock<Caller> = LazyLock::new(|| Caller::with_key_id(Caller::MASTER));
        MASTER.clone()
    }

    /// The caller of a gateway without keys ([`Caller::OPEN`]), made once as [`Caller::master`].
    pub fn open() -> Self {
        static OPEN: LazyLock<Caller> = LazyLock::new(|| Caller::with_key_id(Caller::OPEN));
        OPEN.clone()
    }

    /// A caller known only by its key id, allowed every model, with no budget.
    pub fn with_key_id(key_id: &str) -> Self {
        Self {
            key_id: Arc::from(key_id),
            key_alias: None,
            user_id: None,
            team_id: None,
            organization_id: None,
            user_role: None,
            limits: None,
            user_limits: None,
            team_limits: None,
            end_user: None,
            models: Arc::from(Vec::new()),
            organization_models: Arc::from(Vec::new()),
            model_aliases: Arc::default(),
            accounts: Arc::from(Vec::new()),
        }
    }

    /// Whether the caller's allow-lists (its own or its team's, and its organization's ceiling)
    /// admit `model` by name or wildcard ([`AppState::may_call`](crate::AppState::may_call)
    /// adds access groups).
    pub fn may_call(&self, model: &str) -> bool {
        allows(&self.models, model) && allows(&self.organization_models, model)
    }

    /// The model `model` is one of the caller's aliases for (its key's or its team's).
    pub fn alias_target(&self, model: &str) -> Option<&str> {
        self.model_aliases.target(model)
    }
}

/// Whether an entry of a key's `models` admits `model`: the same name; `*` or LiteLLM's
/// `all-proxy-models` (every model); or a prefix ending in `*` (`openai/*`, `gpt-4o*`).
pub fn model_matches(allowed: &str, model: &str) -> bool {
    if allowed == model || allowed == "*" || allowed == "all-proxy-models" {
        return true;
    }
    allowed
        .strip_suffix('*')
        .is_some_and(|prefix| !prefix.is_empty() && model.starts_with(prefix))
}

/// Whether an allow-list lets `model` through (an empty list lets everything).
fn allows(list: &[String], model: &str) -> bool {
    list.is_empty() || list.iter().any(|allowed| model_matches(allowed, model))
}

/// Headers LiteLLM always reads for the end user of a call.
const END_USER_HEADERS: [&str; 2] = ["x-litellm-end-user-id", "x-litellm-customer-id"];

/// End-user ids longer than this are kept as a hash (they become counter and rate-limit keys).
const MAX_END_USER_BYTES: usize = 128;

/// The end user a call is made for: LiteLLM's end-user headers, then the operator's
/// `configured` header, then the body's `user`. Long ids are replaced by their SHA-256.
pub fn end_user_of(
    headers: &http::HeaderMap,
    configured: Option<&http::HeaderName>,
    body_user: Option<&str>,
) -> Option<Arc<str>> {
    let from_header = END_USER_HEADERS
        .iter()
        .filter_map(|name| headers.get(*name))
        .chain(configured.and_then(|name| headers.get(name)))
        .filter_map(|value| value.to_str().ok())
        .map(str::trim)
        .find(|value| !value.is_empty());
    let id = from_header.or(body_user.map(str::trim).filter(|u| !u.is_empty()))?;
    if id.len() <= MAX_END_USER_BYTES {
        return Some(Arc::from(id));
    }
    Some(Arc::from(format!(
        "sha256:{}",
        switchyard_store::hash_key(id).to_hex()
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_master_and_open_callers_are_shared_not_made_per_request() {
        use super::{Arc, Caller};
        let (one, two) = (Caller::master(), Caller::master());
        assert_eq!(&*one.key_id, Caller::MASTER);
        assert!(Arc::ptr_eq(&one.key_id, &two.key_id));
        assert!(Arc::ptr_eq(&one.model_aliases, &two.model_aliases));
        assert!(one.models.is_empty() && one.accounts.is_empty() && one.limits.is_none());
        let open = Caller::open();
        assert_eq!(&*open.key_id, Caller::OPEN);
        assert!(Arc::ptr_eq(&open.key_id, &Caller::open().key_id));
    }

    #[test]
    fn wildcards_in_a_keys_models_admit_what_they_name() {
        assert!(model_matches("gpt-4o", "gpt-4o"));
        assert!(!model_matches("gpt-4o", "gpt-4o-mini"));
        assert!(model_matches("*", "anything"));
        assert!(model_matches("all-proxy-models", "anything"));
        assert!(model_matches("openai/*", "openai/gpt-4o"));
        assert!(!model_matches("openai/*", "anthropic/claude"));
        assert!(model_matches("gpt-4o*", "gpt-4o-mini"));
        assert!(
            !model_matches("*x", "x"),
            "only a trailing star is a wildcard"
        );
    }

    use super::*;

    #[test]
    fn the_end_user_comes_from_headers_before_the_body() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            end_user_of(&headers, None, Some("ana")).as_deref(),
            Some("ana")
        );
        assert_eq!(end_user_of(&headers, None, Some("  ")), None);
        let custom = http::HeaderName::from_static("x-openwebui-user-email");
        headers.insert(
            "x-openwebui-user-email",
            "bo@example.com".parse().expect("value"),
        );
        assert_eq!(
            end_user_of(&headers, Some(&custom), Some("ana")).as_deref(),
            Some("bo@example.com")
        );
        assert_eq!(
            end_user_of(&headers, None, Some("ana")).as_deref(),
            Some("ana")
        );
        headers.insert("x-litellm-end-user-id", "cy".parse().expect("value"));
        assert_eq!(
            end_user_of(&headers, Some(&custom), Some("ana")).as_deref(),
            Some("cy")
        );
        let long = "u".repeat(10_000);
        let kept = end_user_of(&http::HeaderMap::new(), None, Some(&long)).expect("an id");
        assert!(kept.starts_with("sha256:") && kept.len() < 80, "{kept}");
    }
}
