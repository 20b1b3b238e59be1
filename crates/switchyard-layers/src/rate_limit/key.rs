//! Who a call is counted against: scopes, keys, the ceilings of one limit, and the
//! [`RateLimitKey`] decision that picks every limit applying to a request.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What kind of caller or resource a limit counts: an API key, a user, a team, a model, ...
///
/// Scopes keep keys apart: user `alice` and team `alice` are different counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(Cow<'static, str>);

impl Scope {
    /// Per API key (its id, never the secret itself).
    pub const API_KEY: Self = Self::from_static("api_key");
    /// Per user (in the gateway: the owner of the calling key).
    pub const USER: Self = Self::from_static("user");
    /// Per end user of the caller's application (in the gateway: the body's `user` or an
    /// end-user header), a scope apart from [`Scope::USER`].
    pub const END_USER: Self = Self::from_static("end_user");
    /// Per team.
    pub const TEAM: Self = Self::from_static("team");
    /// Per model (or model group).
    pub const MODEL: Self = Self::from_static("model");

    /// A scope named by a constant.
    pub const fn from_static(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    /// A scope with any name.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }

    /// The scope's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which caller or resource within a [`Scope`]: an API key's id, a user name, a model name.
///
/// A key is **not a secret**: it appears in Redis key names, in [`RateLimited`] errors and in
/// the message of the 429 answer. Use an API key's id or alias, never the key itself.
///
/// [`RateLimited`]: super::RateLimited
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<str>);

impl Key {
    /// A key from any string.
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        Self(key.into())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Key {
    fn from(key: &str) -> Self {
        Self(key.into())
    }
}

impl From<String> for Key {
    fn from(key: String) -> Self {
        Self(key.into())
    }
}

impl From<Arc<str>> for Key {
    fn from(key: Arc<str>) -> Self {
        Self(key)
    }
}

/// The ceilings of one limit, per minute. `None` is no ceiling; `Some(0)` refuses every call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute (RPM).
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute (TPM), prompt and completion together.
    pub tokens_per_minute: Option<u64>,
}

impl Limits {
    /// No ceiling at all; add some with [`rpm`](Self::rpm) and [`tpm`](Self::tpm).
    pub const fn none() -> Self {
        Self {
            requests_per_minute: None,
            tokens_per_minute: None,
        }
    }

    /// These limits with a ceiling of `requests` per minute.
    pub const fn rpm(mut self, requests: u32) -> Self {
        self.requests_per_minute = Some(requests);
        self
    }

    /// These limits with a ceiling of `tokens` per minute.
    pub const fn tpm(mut self, tokens: u64) -> Self {
        self.tokens_per_minute = Some(tokens);
        self
    }

    /// Whether neither ceiling is set.
    pub const fn is_unlimited(&self) -> bool {
        self.requests_per_minute.is_none() && self.tokens_per_minute.is_none()
    }
}

/// One limit that applies to a call: who is counted and how much they may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCheck {
    /// What kind of caller or resource is counted.
    pub scope: Scope,
    /// Which one.
    pub key: Key,
    /// Its ceilings.
    pub limits: Limits,
}

impl LimitCheck {
    /// A limit on `key` within `scope`.
    pub fn new(scope: Scope, key: impl Into<Key>, limits: Limits) -> Self {
        Self {
            scope,
            key: key.into(),
            limits,
        }
    }
}

/// Decides which limits apply to a request: the rate limiter's only question about callers.
///
/// Every limit returned is checked in one call to the backend, and the request passes only if
/// all of them admit it; a request refused by one limit is counted by none (see the backends for
/// the one exception). An empty list leaves the request unlimited.
///
/// Closures `Fn(&Req) -> Vec<LimitCheck>` implement it:
///
/// ```
/// use switchyard_layers::rate_limit::{LimitCheck, Limits, RateLimitKey, Scope};
/// use switchyard_wire::ChatRequest;
///
/// /// 60 requests a minute per user, and 1M tokens a minute per model.
/// struct PerUserAndModel;
///
/// impl RateLimitKey<ChatRequest> for PerUserAndModel {
///     fn checks(&self, req: &ChatRequest) -> Vec<LimitCheck> {
///         let mut checks = vec![LimitCheck::new(
///             Scope::MODEL,
///             req.model.as_str(),
///             Limits::none().tpm(1_000_000),
///         )];
///         if let Some(user) = &req.user {
///             checks.push(LimitCheck::new(Scope::USER, user.as_str(), Limits::none().rpm(60)));
///         }
///         checks
///     }
/// }
///
/// let req: ChatRequest = serde_json::from_value(serde_json::json!({
///     "model": "gpt-4o-mini", "messages": [], "user": "alice"
/// }))?;
/// assert_eq!(PerUserAndModel.checks(&req).len(), 2);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait RateLimitKey<Req> {
    /// The limits that apply to `req`.
    fn checks(&self, req: &Req) -> Vec<LimitCheck>;
}

impl<Req, F> RateLimitKey<Req> for F
where
    F: Fn(&Req) -> Vec<LimitCheck>,
{
    fn checks(&self, req: &Req) -> Vec<LimitCheck> {
        self(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_key_is_object_safe() {
        fn _obj_safe(_: Box<dyn RateLimitKey<String> + Send + Sync>) {}
    }

    #[test]
    fn closures_pick_limits() {
        let keys = |req: &String| vec![LimitCheck::new(Scope::USER, req.as_str(), Limits::none())];
        let checks = keys.checks(&"alice".to_owned());
        assert_eq!(checks[0].key.as_str(), "alice");
        assert_eq!(checks[0].scope, Scope::USER);
        assert!(checks[0].limits.is_unlimited());
    }

    #[test]
    fn limits_build_up() {
        let limits = Limits::none().rpm(10).tpm(1_000);
        assert_eq!(limits.requests_per_minute, Some(10));
        assert_eq!(limits.tokens_per_minute, Some(1_000));
        assert_eq!(Scope::new("org".to_owned()).to_string(), "org");
    }
}
