//! The configuration keys of the call path's layers as users write them: the response cache
//! (`litellm_settings.cache_params`, LiteLLM's keys), rate limits per caller and `max_tokens`
//! policies (Switchyard's own top-level keys).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{RedisPort, Secret};

/// `litellm_settings.cache_params`: LiteLLM's keys for the response cache.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct CacheParams {
    /// `local` (in process, the default) or `redis` (shared by every replica).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `redis`: the host, or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `redis`: the port (default 6379), or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<RedisPort>,
    /// `redis`: the password, or `os.environ/NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// `redis`: a `redis://` or `rediss://` URL (or `os.environ/NAME`), used instead of `host`,
    /// `port` and `password`. Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Secret>,
    /// Seconds an answer is kept (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<f64>,
    /// Prefix of the cache's Redis keys (default `switchyard:cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `local`: the most megabytes cached answers take in memory, keys and bookkeeping
    /// included (default 64). Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size_mb: Option<f64>,
    /// Key answers on the end user (`user`) too, so users never share them (default false).
    /// Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_user: Option<bool>,
    /// Who may read an answer another caller stored: `team` (default: callers of one team, a
    /// key without a team alone, the master key alone), `key` (each key alone) or `shared`
    /// (every caller: a hit tells one tenant what another asked). Switchyard's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The calls answered from the cache, by LiteLLM's names (`completion`/`acompletion` for
    /// chat completions, `aembedding`, `atext_completion`, `atranscription`, ...); default all.
    /// Switchyard caches chat completions only: a list without them turns the cache off, and
    /// other types listed are warned about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_call_types: Option<Vec<String>>,
    /// `default_on` (the default): every call may be answered from the cache;
    /// `default_off`: only calls that ask for it (`cache: {"use-cache": true}` or
    /// `caching: true`), as LiteLLM's key says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Keys we do not know (warned about, then ignored).
    #[serde(flatten)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

/// `rate_limits`: the limits every caller gets. A virtual key's own `rpm_limit` and
/// `tpm_limit` replace the `key` defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsEntry {
    /// Per API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<LimitPair>,
    /// Per user: the owner of the calling key, across all of that user's keys. A user's own
    /// `rpm_limit`/`tpm_limit` (`/user/new`) replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<LimitPair>,
    /// Per end user: the body's `user` or an end-user header (see
    /// `general_settings.user_header_name`). Applies in addition to the key's and its owner's
    /// limits, never instead of them (Switchyard's key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user: Option<LimitPair>,
    /// Per team of the key, across all of the team's keys. A team's own
    /// `rpm_limit`/`tpm_limit` (`/team/new`) replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<LimitPair>,
    /// Per model name requested, all callers together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<LimitPair>,
    /// When Redis does not answer: `open` (default: count in this process instead) or
    /// `closed` (refuse limited calls with 429).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_redis_failure: Option<String>,
}

/// Requests and tokens per minute; either may be left out.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitPair {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens per minute, prompt and completion together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
}

/// `max_tokens`: what a request gets when it asks for no limit, and the most it may ask for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaxTokensEntry {
    /// Every model without its own entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<TokenLimitEntry>,
    /// Per model name requested.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, TokenLimitEntry>,
    /// A request above its ceiling: `clamp` (default: lowered to the ceiling) or `refuse` (400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_excess: Option<String>,
}

/// A `max_tokens` default and ceiling.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenLimitEntry {
    /// `max_tokens` for requests that set none.
    pub default: u32,
    /// The most a request may ask for.
    pub ceiling: u32,
}
