//! The validated settings of the call path's layers: the response cache
//! (`litellm_settings.cache`, `cache_params`), rate limits per caller (`rate_limits`) and
//! `max_tokens` policies (`max_tokens`). Redis passwords never reach `Debug` output or errors.

use std::fmt;
use std::time::Duration;

use redis::ConnectionInfo;
use switchyard_layers::limits::{Excess, MaxTokensLayer, TokenLimit};
use switchyard_layers::rate_limit::{FailurePolicy, Limits};

use super::file::{LimitPair, LitellmSettings, MaxTokensEntry, RateLimitsEntry, TokenLimitEntry};
use super::shared_usage::{RedisKeys, SharedUsageSettings, address, key_prefix};
use super::{ConfigError, ConfigWarning};

/// How long cached answers are kept when `cache_params.ttl` is unset (LiteLLM's default).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(600);
/// Memory for cached answers when `cache_params.max_size_mb` is unset.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Prefix of the cache's Redis keys when `cache_params.namespace` is unset.
pub const DEFAULT_CACHE_NAMESPACE: &str = "switchyard:cache";

/// The layers in front of the router.
#[derive(Debug, Default)]
pub struct LayerSettings {
    /// The response cache; `None` when `litellm_settings.cache` is not `true`.
    pub cache: Option<CacheSettings>,
    /// Limits per caller: `rate_limits`' defaults, and the place the keys', users' and teams'
    /// own limits apply (always set when loaded from a file).
    pub rate_limits: Option<RateLimitSettings>,
    /// `max_tokens` defaults and ceilings; `None` when `max_tokens` is unset.
    pub max_tokens: Option<MaxTokensLayer>,
}

/// The response cache.
#[derive(Debug)]
pub struct CacheSettings {
    /// Where answers are kept.
    pub store: CacheStoreSettings,
    /// How long.
    pub ttl: Duration,
    /// Whether answers are keyed on the end user too.
    pub per_user: bool,
    /// Which callers share answers.
    pub scope: CacheScope,
    /// Whether only calls that ask for the cache use it (`mode: default_off`).
    pub opt_in: bool,
}

/// Which callers may read the answers other callers stored (`cache_params.scope`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheScope {
    /// The callers of one team; a key without a team, and the master key, each alone.
    #[default]
    Team,
    /// Each key alone.
    Key,
    /// Every caller: one tenant's hit reveals what another asked.
    Shared,
}

/// Where cached answers are kept.
pub enum CacheStoreSettings {
    /// In this process, up to `max_bytes`.
    Memory {
        /// The most bytes of answers kept.
        max_bytes: u64,
    },
    /// In Redis, shared by every replica.
    Redis {
        /// How to reach it.
        connection: Box<ConnectionInfo>,
        /// Prefix of every key.
        namespace: String,
    },
}

impl fmt::Debug for CacheStoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory { max_bytes } => f
                .debug_struct("Memory")
                .field("max_bytes", max_bytes)
                .finish(),
            Self::Redis {
                connection,
                namespace,
            } => f
                .debug_struct("Redis")
                .field("address", &address(connection))
                .field("namespace", namespace)
                .finish(),
        }
    }
}

/// Limits per caller, counted in Redis when `router_settings` names one.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// Per API key, unless the key sets its own.
    pub key: Limits,
    /// Per user (the key's owner), unless the user sets its own.
    pub user: Limits,
    /// Per end user (the body's `user` or an end-user header).
    pub end_user: Limits,
    /// Per team.
    pub team: Limits,
    /// Per model requested.
    pub model: Limits,
    /// The Redis shared by the replicas, if any.
    pub redis: Option<SharedUsageSettings>,
    /// What happens while Redis does not answer.
    pub on_redis_failure: FailurePolicy,
}

/// The layers' keys of a configuration file.
pub struct LayerKeys<'a> {
    /// `litellm_settings`, with `cache` and `cache_params`.
    pub litellm_settings: &'a LitellmSettings,
    /// `rate_limits`.
    pub rate_limits: Option<&'a RateLimitsEntry>,
    /// `max_tokens`.
    pub max_tokens: Option<&'a MaxTokensEntry>,
}

/// Reads the layers' keys. `shared` is the Redis of `router_settings`, where rate limits are
/// counted too.
pub fn layers(
    keys: LayerKeys<'_>,
    shared: Option<&SharedUsageSettings>,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<LayerSettings, ConfigError> {
    Ok(LayerSettings {
        cache: cache(keys.litellm_settings, env, warnings)?,
        // Always on: a key's, user's or team's own limits hold even when `rate_limits` sets
        // no default for anyone.
        rate_limits: Some(rate_limits(
            keys.rate_limits.unwrap_or(&RateLimitsEntry::default()),
            shared,
        )?),
        max_tokens: keys.max_tokens.map(max_tokens).transpose()?,
    })
}

fn cache(
    section: &LitellmSettings,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<CacheSettings>, ConfigError> {
    let params = section.cache_params.clone().unwrap_or_default();
    if section.cache != Some(true) {
        if section.cache_params.is_some() {
            warnings.push(ConfigWarning {
                path: "litellm_settings.cache_params".to_owned(),
                message: "ignored: `litellm_settings.cache` is not `true`".to_owned(),
            });
        }
        return Ok(None);
    }
    if let Some(types) = &params.supported_call_types {
        let path = "litellm_settings.cache_params.supported_call_types";
        let chat = |t: &String| matches!(t.as_str(), "completion" | "acompletion");
        for other in types.iter().filter(|t| !chat(t)) {
            warnings.push(ConfigWarning {
                path: path.to_owned(),
                message: format!(
                    "`{other}` answers are not cached: Switchyard caches chat completions only"
                ),
            });
        }
        if !types.iter().any(chat) {
            warnings.push(ConfigWarning {
                path: path.to_owned(),
                message: "no chat completion call type is listed, so the cache is off".to_owned(),
            });
            return Ok(None);
        }
    }
    let ttl = match params.ttl {
        None => DEFAULT_CACHE_TTL,
        Some(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs),
        Some(secs) => {
            return Err(ConfigError::invalid(
                "litellm_settings.cache_params.ttl",
                format!("must be a positive number of seconds, not {secs}"),
            ));
        }
    };
    let path = "litellm_settings.cache_params";
    let store = match params.kind.as_deref().unwrap_or("local") {
        "local" | "in-memory" => CacheStoreSettings::Memory {
            max_bytes: match params.max_size_mb {
                None => DEFAULT_CACHE_BYTES,
                Some(mb) if mb.is_finite() && mb > 0.0 => (mb * 1024.0 * 1024.0) as u64,
                Some(mb) => {
                    return Err(ConfigError::invalid(
                        format!("{path}.max_size_mb"),
                        format!("must be a positive number of megabytes, not {mb}"),
                    ));
                }
            },
        },
        "redis" => {
            let keys = RedisKeys {
                section: path,
                url: ("url", params.url.as_ref()),
                host: ("host", params.host.as_deref()),
                port: ("port", params.port.as_ref()),
                password: ("password", params.password.as_ref()),
            };
            let connection = keys
                .connection(env, warnings)?
                .ok_or_else(|| ConfigError::invalid(path, "`type: redis` needs `host` or `url`"))?;
            let namespace = match &params.namespace {
                None => DEFAULT_CACHE_NAMESPACE.to_owned(),
                Some(namespace) => key_prefix(&format!("{path}.namespace"), namespace)?,
            };
            CacheStoreSettings::Redis {
                connection: Box::new(connection),
                namespace,
            }
        }
        other => {
            return Err(ConfigError::invalid(
                format!("{path}.type"),
                format!("unknown cache type `{other}` (known: local, redis)"),
            ));
        }
    };
    let scope = match params.scope.as_deref() {
        None | Some("team") => CacheScope::Team,
        Some("key") => CacheScope::Key,
        Some("shared") => CacheScope::Shared,
        Some(other) => {
            return Err(ConfigError::invalid(
                format!("{path}.scope"),
                format!("must be `team`, `key` or `shared`, not `{other}`"),
            ));
        }
    };
    let opt_in = match params.mode.as_deref() {
        None | Some("default_on") => false,
        Some("default_off") => true,
        Some(other) => {
            return Err(ConfigError::invalid(
                "litellm_settings.cache_params.mode",
                format!("must be `default_on` or `default_off`, not `{other}`"),
            ));
        }
    };
    Ok(Some(CacheSettings {
        store,
        ttl,
        per_user: params.per_user.unwrap_or(false),
        scope,
        opt_in,
    }))
}

fn rate_limits(
    entry: &RateLimitsEntry,
    shared: Option<&SharedUsageSettings>,
) -> Result<RateLimitSettings, ConfigError> {
    let limits = |scope: &str, pair: Option<LimitPair>| -> Result<Limits, ConfigError> {
        let pair = pair.unwrap_or_default();
        let mut limits = Limits::none();
        if let Some(rpm) = pair.rpm {
            let rpm = u32::try_from(rpm).ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::invalid(
                    format!("rate_limits.{scope}.rpm"),
                    format!("must be a whole number from 1 to {}", u32::MAX),
                )
            })?;
            limits = limits.rpm(rpm);
        }
        if let Some(tpm) = pair.tpm {
            if tpm == 0 {
                return Err(ConfigError::invalid(
                    format!("rate_limits.{scope}.tpm"),
                    "must be at least 1 (remove it for no limit)",
                ));
            }
            limits = limits.tpm(tpm);
        }
        Ok(limits)
    };
    let on_redis_failure = match entry.on_redis_failure.as_deref() {
        None | Some("open") => FailurePolicy::Open,
        Some("closed") => FailurePolicy::Closed,
        Some(other) => {
            return Err(ConfigError::invalid(
                "rate_limits.on_redis_failure",
                format!("must be `open` or `closed`, not `{other}`"),
            ));
        }
    };
    Ok(RateLimitSettings {
        key: limits("key", entry.key)?,
        user: limits("user", entry.user)?,
        end_user: limits("end_user", entry.end_user)?,
        team: limits("team", entry.team)?,
        model: limits("model", entry.model)?,
        redis: shared.cloned(),
        on_redis_failure,
    })
}

fn max_tokens(entry: &MaxTokensEntry) -> Result<MaxTokensLayer, ConfigError> {
    let limit = |path: String, entry: &TokenLimitEntry| {
        TokenLimit::new(entry.default, entry.ceiling)
            .map_err(|e| ConfigError::invalid(path, e.to_string()))
    };
    let mut layer = MaxTokensLayer::new().on_excess(match entry.on_excess.as_deref() {
        None | Some("clamp") => Excess::Clamp,
        Some("refuse") => Excess::Refuse,
        Some(other) => {
            return Err(ConfigError::invalid(
                "max_tokens.on_excess",
                format!("must be `clamp` or `refuse`, not `{other}`"),
            ));
        }
    });
    if let Some(default) = &entry.default {
        layer = layer.fallback(limit("max_tokens.default".to_owned(), default)?);
    }
    for (model, entry) in &entry.models {
        layer = layer.limit(
            model.clone(),
            limit(format!("max_tokens.models.{model}"), entry)?,
        );
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::super::parse_with_env;
    use super::*;

    const MODELS: &str = "model_list:\n  - {model_name: a, litellm_params: {model: mock/a}}\n";

    fn env(name: &str) -> Option<String> {
        (name == "CACHE_PASSWORD").then(|| "hunter2".to_owned())
    }

    #[test]
    fn the_cache_is_off_unless_turned_on() {
        let loaded = parse_with_env(MODELS, &env).expect("valid");
        assert!(loaded.settings.layers.cache.is_none());
        let text = format!("{MODELS}litellm_settings:\n  cache_params: {{type: local}}\n");
        let loaded = parse_with_env(&text, &env).expect("valid");
        assert!(loaded.settings.layers.cache.is_none());
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.path == "litellm_settings.cache_params"),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn answers_are_shared_within_a_team_unless_configured() {
        let on = |params: &str| {
            let text = format!("{MODELS}litellm_settings:\n  cache: true\n{params}");
            let loaded = parse_with_env(&text, &env).expect("valid");
            loaded.settings.layers.cache.expect("on").scope
        };
        assert_eq!(on(""), CacheScope::Team);
        for (name, scope) in [
            ("team", CacheScope::Team),
            ("key", CacheScope::Key),
            ("shared", CacheScope::Shared),
        ] {
            assert_eq!(on(&format!("  cache_params: {{scope: {name}}}\n")), scope);
        }
    }

    #[test]
    fn litellm_redis_cache_params_are_read() {
        let text = format!(
            "{MODELS}litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n    \
             host: 127.0.0.1\n    port: 6390\n    password: os.environ/CACHE_PASSWORD\n    \
             ttl: 30\n    namespace: team-a\n    supported_call_types: [acompletion, aembedding]\n"
        );
        let loaded = parse_with_env(&text, &env).expect("valid");
        let cache = loaded.settings.layers.cache.expect("on");
        assert_eq!(cache.ttl, Duration::from_secs(30));
        let CacheStoreSettings::Redis {
            connection,
            namespace,
        } = &cache.store
        else {
            panic!("redis: {:?}", cache.store);
        };
        assert_eq!(namespace, "team-a");
        assert_eq!(address(connection), "127.0.0.1:6390");
        assert_eq!(connection.redis_settings().password(), Some("hunter2"));
        assert!(!format!("{cache:?}").contains("hunter2"));
        assert!(
            loaded.warnings.iter().any(|w| w.path
                == "litellm_settings.cache_params.supported_call_types"
                && w.message.contains("aembedding")),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn bad_layer_values_fail_with_their_path() {
        for (text, path) in [
            (
                "litellm_settings: {cache: true, cache_params: {type: disk}}",
                "litellm_settings.cache_params.type",
            ),
            (
                "litellm_settings: {cache: true, cache_params: {type: redis}}",
                "litellm_settings.cache_params",
            ),
            (
                "litellm_settings: {cache: true, cache_params: {ttl: 0}}",
                "litellm_settings.cache_params.ttl",
            ),
            (
                "litellm_settings: {cache: true, cache_params: {scope: tenant}}",
                "litellm_settings.cache_params.scope",
            ),
            ("rate_limits: {user: {rpm: 0}}", "rate_limits.user.rpm"),
            ("rate_limits: {model: {tpm: 0}}", "rate_limits.model.tpm"),
            (
                "rate_limits: {on_redis_failure: maybe}",
                "rate_limits.on_redis_failure",
            ),
            (
                "max_tokens: {default: {default: 10, ceiling: 5}}",
                "max_tokens.default",
            ),
            ("max_tokens: {on_excess: cut}", "max_tokens.on_excess"),
        ] {
            let err = parse_with_env(&format!("{MODELS}{text}\n"), &env).expect_err(text);
            assert!(
                matches!(&err, ConfigError::Invalid { path: p, .. } if p == path),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn rate_limits_and_max_tokens_are_read() {
        let text = format!(
            "{MODELS}rate_limits:\n  key: {{rpm: 10}}\n  model: {{rpm: 5, tpm: 1000}}\n  \
             on_redis_failure: closed\nmax_tokens:\n  default: {{default: 256, ceiling: 1024}}\n  \
             models: {{a: {{default: 16, ceiling: 32}}}}\n  on_excess: refuse\n"
        );
        let layers = parse_with_env(&text, &env).expect("valid").settings.layers;
        let limits = layers.rate_limits.expect("set");
        assert_eq!(limits.key, Limits::none().rpm(10));
        assert_eq!(limits.model, Limits::none().rpm(5).tpm(1000));
        assert!(limits.user.is_unlimited());
        assert_eq!(limits.on_redis_failure, FailurePolicy::Closed);
        assert!(limits.redis.is_none());
        let max_tokens = layers.max_tokens.expect("set");
        assert_eq!(
            max_tokens.limit_for(Some("a")).map(|l| l.ceiling()),
            Some(32)
        );
        assert_eq!(
            max_tokens.limit_for(Some("b")).map(|l| l.ceiling()),
            Some(1024)
        );
    }
}
