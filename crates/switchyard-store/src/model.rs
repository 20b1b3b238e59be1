//! The records a store keeps of keys and spend, and the small query types around them
//! (patches, filters, groupings); users, teams and organizations are in `account.rs`. Plain
//! data, no I/O.

use serde::{Deserialize, Deserializer, Serialize};

use crate::aliases::ModelAliases;
use crate::key::{KeyHash, RandomnessError, new_key_id};
use crate::period::BudgetPeriod;

/// A virtual key. The secret itself is never stored: only its [`KeyHash`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Public id, safe to show and log (see [`new_key_id`]).
    pub id: String,
    /// SHA-256 of the secret.
    pub key_hash: KeyHash,
    /// A human name.
    pub alias: Option<String>,
    /// Model names or groups the key may call; empty means all.
    pub models: Vec<String>,
    /// Model names the key asks for under another model's name (LiteLLM's `aliases`); they
    /// win over its team's `model_aliases`.
    #[serde(default)]
    pub aliases: ModelAliases,
    /// Budget in US dollars per [`budget_duration`](Self::budget_duration), or ever if none.
    pub max_budget: Option<f64>,
    /// How often the budget starts over.
    pub budget_duration: Option<BudgetPeriod>,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// Unix seconds after which the key no longer works.
    pub expires_at: Option<i64>,
    /// Free-form JSON from the creator.
    pub metadata: serde_json::Value,
    /// Owner.
    pub user_id: Option<String>,
    /// Team; its budget applies too.
    pub team_id: Option<String>,
    /// Organization; its budget applies too (as does the organization of the key's team).
    pub organization_id: Option<String>,
    /// The secret abbreviated for display (`sk-...abcd`, LiteLLM's `key_name`); `None` for keys
    /// made before it was kept.
    pub key_name: Option<String>,
    /// Refused without being deleted.
    pub blocked: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

impl KeyRecord {
    /// A key with a fresh public id, no limits, no owner and empty metadata, created `now` (unix
    /// seconds).
    pub fn new(key_hash: KeyHash, now: i64) -> Result<Self, RandomnessError> {
        Ok(Self {
            id: new_key_id()?,
            key_hash,
            alias: None,
            models: Vec::new(),
            aliases: ModelAliases::new(),
            max_budget: None,
            budget_duration: None,
            rpm_limit: None,
            tpm_limit: None,
            expires_at: None,
            metadata: serde_json::Value::Object(serde_json::Map::new()),
            user_id: None,
            team_id: None,
            organization_id: None,
            key_name: None,
            blocked: false,
            created_at: now,
            updated_at: now,
        })
    }

    /// Whether the key has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// A change to a key: `None` leaves a field as it is. For fields that may be empty, `Some(None)`
/// clears them; in JSON, an absent field is `None` and `null` is `Some(None)`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    /// A new secret (regeneration); not accepted from JSON.
    #[serde(skip)]
    pub key_hash: Option<KeyHash>,
    /// New alias.
    #[serde(default, deserialize_with = "present")]
    pub alias: Option<Option<String>>,
    /// New model list (empty means all).
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// New aliases (replacing the old; empty for none).
    #[serde(default)]
    pub aliases: Option<ModelAliases>,
    /// New budget.
    #[serde(default, deserialize_with = "present")]
    pub max_budget: Option<Option<f64>>,
    /// New budget period.
    #[serde(default, deserialize_with = "present")]
    pub budget_duration: Option<Option<BudgetPeriod>>,
    /// New requests-per-minute limit.
    #[serde(default, deserialize_with = "present")]
    pub rpm_limit: Option<Option<u64>>,
    /// New tokens-per-minute limit.
    #[serde(default, deserialize_with = "present")]
    pub tpm_limit: Option<Option<u64>>,
    /// New expiry.
    #[serde(default, deserialize_with = "present")]
    pub expires_at: Option<Option<i64>>,
    /// New metadata (replaces the old).
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// New owner.
    #[serde(default, deserialize_with = "present")]
    pub user_id: Option<Option<String>>,
    /// New team.
    #[serde(default, deserialize_with = "present")]
    pub team_id: Option<Option<String>>,
    /// New organization.
    #[serde(default, deserialize_with = "present")]
    pub organization_id: Option<Option<String>>,
    /// Block or unblock.
    #[serde(default)]
    pub blocked: Option<bool>,
}

/// A field that is present in the JSON, `null` or not: `Some(value)`.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Which keys [`Store::list_keys`](crate::Store::list_keys) returns, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyFilter {
    /// Only this owner's keys.
    pub user_id: Option<String>,
    /// Only this team's keys.
    pub team_id: Option<String>,
    /// Only this organization's own keys (not those of its teams).
    pub organization_id: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Skip this many first.
    pub offset: u32,
}

impl Default for KeyFilter {
    fn default() -> Self {
        Self {
            user_id: None,
            team_id: None,
            organization_id: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// One call: who made it, what it went to, what it cost. Stored once per `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRecord {
    /// Unique per call; a second record with the same id is ignored.
    pub request_id: String,
    /// When the call ended, unix milliseconds.
    pub time_ms: i64,
    /// The key's public id, never its secret.
    pub key_id: Option<String>,
    /// The key's alias at the time.
    pub key_alias: Option<String>,
    /// The key's owner.
    pub user_id: Option<String>,
    /// The key's team.
    pub team_id: Option<String>,
    /// The model name the caller asked for.
    pub model_requested: String,
    /// The model group that served it, if routing got that far.
    pub model_group: Option<String>,
    /// The deployment that answered.
    pub deployment: Option<String>,
    /// The provider family of that deployment.
    pub provider: Option<String>,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Prompt tokens served from the provider's cache.
    pub cached_tokens: u64,
    /// What the call cost in US dollars.
    pub cost_usd: f64,
    /// The cost was estimated (tokens counted locally, or no price known).
    pub cost_estimated: bool,
    /// From request to last byte, milliseconds.
    pub latency_ms: u64,
    /// The HTTP status answered.
    pub status: u16,
    /// Answered from the gateway's response cache.
    pub cache_hit: bool,
    /// The experiment that routed the call.
    pub experiment: Option<String>,
    /// The experiment's variant.
    pub variant: Option<String>,
    /// The end user the call was made for (the body's `user`, or the operator's header).
    #[serde(default)]
    pub end_user: Option<String>,
    /// The organization charged (the key's, or its team's).
    #[serde(default)]
    pub organization_id: Option<String>,
    /// What kind of call it was, in LiteLLM's words (`acompletion`, `aembedding`).
    #[serde(default)]
    pub call_type: Option<String>,
}

/// Which spend records [`Store::spend_logs`](crate::Store::spend_logs) returns, newest first.
/// Every field that is set must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpendFilter {
    /// Only the record of this call.
    pub request_id: Option<String>,
    /// Only this key (public id).
    pub key_id: Option<String>,
    /// Only this user.
    pub user_id: Option<String>,
    /// Only this team.
    pub team_id: Option<String>,
    /// Only calls that asked for, or were served by, this model name or group.
    pub model: Option<String>,
    /// From this time on (unix milliseconds, inclusive).
    pub start_ms: Option<i64>,
    /// Before this time (unix milliseconds, exclusive).
    pub end_ms: Option<i64>,
    /// Keyset paging: only records that come after this one in the log's order (newest
    /// first), so that each page is read from the index without skipping rows.
    pub after: Option<SpendCursor>,
    /// At most this many.
    pub limit: u32,
}

/// Where a page of the spend log ended: its last record's time and id (the log's order is
/// `time_ms` then `request_id`, both descending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendCursor {
    /// The last record's time (unix milliseconds).
    pub time_ms: i64,
    /// The last record's id.
    pub request_id: String,
}

impl SpendCursor {
    /// The cursor after `record`.
    pub fn after(record: &SpendRecord) -> Self {
        Self {
            time_ms: record.time_ms,
            request_id: record.request_id.clone(),
        }
    }
}

impl std::fmt::Display for SpendCursor {
    /// `{time_ms}.{request_id}`, as clients pass it back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.time_ms, self.request_id)
    }
}

impl std::str::FromStr for SpendCursor {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const BAD: &str = "a spend log cursor is `{time_ms}.{request_id}`";
        let (time, id) = text.split_once('.').ok_or(BAD)?;
        if id.is_empty() {
            return Err(BAD);
        }
        Ok(Self {
            time_ms: time.parse().map_err(|_| BAD)?,
            request_id: id.to_owned(),
        })
    }
}

/// The upper bounds, in milliseconds, of the latency buckets [`SpendBucket`] counts calls in;
/// calls slower than the last fall in one more bucket.
pub const LATENCY_BOUNDS_MS: [u64; 12] = [
    25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000,
];

/// Calls of one model group and deployment in one time bucket: their count, failures, tokens,
/// cost and latency distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendBucket {
    /// The bucket's start (unix milliseconds, a multiple of the bucket's length).
    pub start_ms: i64,
    /// The model group (else the model asked for).
    pub model: String,
    /// The deployment that answered, if one did.
    pub deployment: Option<String>,
    /// Calls.
    pub requests: u64,
    /// Calls that failed (status 400 and above).
    pub errors: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// US dollars.
    pub cost_usd: f64,
    /// Calls per latency bucket: `latency_counts[i]` took at most `LATENCY_BOUNDS_MS[i]` (and
    /// more than the bound before); the last entry counts the slower ones.
    pub latency_counts: Vec<u64>,
}

impl Default for SpendFilter {
    fn default() -> Self {
        Self {
            request_id: None,
            key_id: None,
            user_id: None,
            team_id: None,
            model: None,
            start_ms: None,
            end_ms: None,
            after: None,
            limit: 100,
        }
    }
}

/// What [`Store::spend_totals`](crate::Store::spend_totals) adds up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendGroup {
    /// The key's public id.
    Key,
    /// The user.
    User,
    /// The team.
    Team,
    /// The model group, or the requested model when no group served the call.
    Model,
}

/// Spend of one group over a time range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendTotal {
    /// The key id, user, team or model; `None` for calls without one (no key, no team...).
    pub group: Option<String>,
    /// Calls.
    pub requests: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// US dollars.
    pub cost_usd: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_key;

    #[test]
    fn update_tells_absent_from_null() {
        let update: KeyUpdate =
            serde_json::from_str(r#"{"alias": null, "max_budget": 5.5, "blocked": true}"#)
                .expect("valid update");
        assert_eq!(update.alias, Some(None));
        assert_eq!(update.max_budget, Some(Some(5.5)));
        assert_eq!(update.blocked, Some(true));
        assert_eq!(update.team_id, None);
        assert_eq!(update.budget_duration, None);
        let update: KeyUpdate =
            serde_json::from_str(r#"{"budget_duration": "monthly"}"#).expect("valid update");
        assert_eq!(
            update.budget_duration,
            Some(Some("1mo".parse().expect("1mo")))
        );
        assert!(serde_json::from_str::<KeyUpdate>(r#"{"key_hash": "00"}"#).is_err());
    }

    #[test]
    fn new_key_has_no_limits_and_expiry_is_inclusive() {
        let mut key = KeyRecord::new(hash_key("sk-x"), 100).expect("OS RNG");
        assert!(key.id.starts_with("key-"));
        assert_eq!((key.created_at, key.updated_at), (100, 100));
        assert!(!key.is_expired(i64::MAX));
        key.expires_at = Some(200);
        assert!(!key.is_expired(199));
        assert!(key.is_expired(200));
    }
}
