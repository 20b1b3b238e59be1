//! `router_settings.redis_*` (LiteLLM's keys, plus our `redis_key_prefix`): the Redis through
//! which replicas share their per-minute usage, validated once into [`SharedUsageSettings`].
//! Passwords, and URLs that may hold one, never reach `Debug` output or error messages.

use std::fmt;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use super::file::{RedisPort, RouterSettings, Secret};
use super::settings::resolve;
use super::{ConfigError, ConfigWarning};

/// Key prefix when `router_settings.redis_key_prefix` is unset.
pub const DEFAULT_KEY_PREFIX: &str = "switchyard";
/// Redis port when `router_settings.redis_port` is unset.
pub const DEFAULT_REDIS_PORT: u16 = 6379;

/// Where usage counts are shared between replicas.
#[derive(Clone)]
pub struct SharedUsageSettings {
    /// How to reach Redis: address, TLS, credentials, database.
    pub redis: ConnectionInfo,
    /// Prefix of every key, so that unrelated gateways on one Redis stay apart.
    pub key_prefix: String,
}

impl fmt::Debug for SharedUsageSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = self.redis.redis_settings();
        f.debug_struct("SharedUsageSettings")
            .field("address", &address(&self.redis))
            .field("username", &settings.username())
            .field("password", &settings.password().map(|_| "[redacted]"))
            .field("db", &settings.db())
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// `host:port`, with ` (TLS)` for `rediss://`; never credentials.
pub fn address(info: &ConnectionInfo) -> String {
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port} (TLS)"),
        other => format!("{other:?}"),
    }
}

/// Reads the Redis keys of `router_settings`; `None` when neither `redis_url` nor `redis_host`
/// is set (usage stays per replica).
pub fn shared_usage(
    router: &RouterSettings,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Option<SharedUsageSettings>, ConfigError> {
    let keys = RedisKeys {
        section: "router_settings",
        url: ("redis_url", router.redis_url.as_ref()),
        host: ("redis_host", router.redis_host.as_deref()),
        port: ("redis_port", router.redis_port.as_ref()),
        password: ("redis_password", router.redis_password.as_ref()),
    };
    let Some(mut redis) = keys.connection(env, warnings)? else {
        if router.redis_key_prefix.is_some() {
            warnings.push(ConfigWarning {
                path: "router_settings.redis_key_prefix".to_owned(),
                message: "ignored without `redis_host` or `redis_url`".to_owned(),
            });
        }
        return Ok(None);
    };
    if let Some(db) = router.redis_db {
        let settings = redis.redis_settings().clone().set_db(db);
        redis = redis.set_redis_settings(settings);
    }
    let key_prefix = match &router.redis_key_prefix {
        None => DEFAULT_KEY_PREFIX.to_owned(),
        Some(prefix) => key_prefix("router_settings.redis_key_prefix", prefix)?,
    };
    Ok(Some(SharedUsageSettings { redis, key_prefix }))
}

/// A Redis key prefix: non-empty, without spaces.
pub(super) fn key_prefix(path: &str, prefix: &str) -> Result<String, ConfigError> {
    if !prefix.is_empty() && !prefix.chars().any(char::is_whitespace) {
        Ok(prefix.to_owned())
    } else {
        Err(ConfigError::invalid(
            path,
            "must be non-empty text without spaces",
        ))
    }
}

/// Where a section of the file describes a Redis connection: its name and, for each part, the
/// key's name and value. `router_settings` says `redis_host`; `cache_params` says `host`.
pub(super) struct RedisKeys<'a> {
    /// The section, such as `router_settings`.
    pub section: &'a str,
    /// A whole URL, which wins over the parts.
    pub url: (&'a str, Option<&'a Secret>),
    /// The host.
    pub host: (&'a str, Option<&'a str>),
    /// The port (default 6379).
    pub port: (&'a str, Option<&'a RedisPort>),
    /// The password.
    pub password: (&'a str, Option<&'a Secret>),
}

impl RedisKeys<'_> {
    /// The connection the keys describe; `None` when neither URL nor host is set. Parts that a
    /// URL overrides, or that mean nothing without a host, are warned about.
    pub(super) fn connection(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<ConfigWarning>,
    ) -> Result<Option<ConnectionInfo>, ConfigError> {
        let section = self.section;
        let mut ignore = |key: &str, why: String| {
            warnings.push(ConfigWarning {
                path: format!("{section}.{key}"),
                message: why,
            });
        };
        let others = [
            (self.host.0, self.host.1.is_some()),
            (self.port.0, self.port.1.is_some()),
            (self.password.0, self.password.1.is_some()),
        ];
        match (self.url.1, self.host.1) {
            (Some(url), _) => {
                for (key, _) in others.iter().filter(|(_, set)| *set) {
                    ignore(key, format!("ignored: `{}` is set", self.url.0));
                }
                let path = format!("{section}.{}", self.url.0);
                from_url(&path, &resolve(&path, &url.0, env)?).map(Some)
            }
            (None, Some(host)) => self.connection_to(host, env).map(Some),
            (None, None) => {
                for (key, _) in others.iter().filter(|(_, set)| *set) {
                    ignore(
                        key,
                        format!("ignored without `{}` or `{}`", self.host.0, self.url.0),
                    );
                }
                Ok(None)
            }
        }
    }

    fn connection_to(
        &self,
        host: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConnectionInfo, ConfigError> {
        let section = self.section;
        let path = format!("{section}.{}", self.host.0);
        let host = resolve(&path, host, env)?;
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "must be a host name or address (a URL goes in `{}`)",
                    self.url.0
                ),
            ));
        }
        let path = format!("{section}.{}", self.port.0);
        let port = match self.port.1 {
            None => DEFAULT_REDIS_PORT,
            Some(RedisPort::Number(n)) => port_number(&path, &n.to_string())?,
            Some(RedisPort::Text(text)) => port_number(&path, &resolve(&path, text, env)?)?,
        };
        let info = (host, port)
            .into_connection_info()
            .map_err(|e| ConfigError::invalid(&path, e.to_string()))?;
        let password = match self.password.1 {
            Some(secret) => resolve(&format!("{section}.{}", self.password.0), &secret.0, env)?,
            None => String::new(),
        };
        if password.is_empty() {
            return Ok(info);
        }
        let settings = info.redis_settings().clone().set_password(password);
        Ok(info.set_redis_settings(settings))
    }
}

/// A `redis://` or `rediss://` URL. Error messages never repeat it: it may hold a password.
fn from_url(path: &str, url: &str) -> Result<ConnectionInfo, ConfigError> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("redis" | "rediss")) {
        return Err(ConfigError::invalid(
            path,
            "must be a `redis://` or `rediss://` URL",
        ));
    }
    url.into_connection_info()
        .map_err(|e| ConfigError::invalid(path, format!("not a usable Redis URL: {e}")))
}

fn port_number(path: &str, text: &str) -> Result<u16, ConfigError> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(ConfigError::invalid(
            path,
            format!("must be a port number from 1 to 65535, not `{text}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_with_env;
    use super::*;

    const MODELS: &str = "model_list:\n  - {model_name: a, litellm_params: {model: mock/a}}\n";

    fn env(name: &str) -> Option<String> {
        match name {
            "REDIS_URL" => Some("rediss://:hunter2@cache.internal:6380/2".to_owned()),
            "REDIS_PASSWORD" => Some("hunter2".to_owned()),
            "REDIS_PORT" => Some("6390".to_owned()),
            _ => None,
        }
    }

    fn load(router: &str) -> Result<super::super::LoadedConfig, ConfigError> {
        parse_with_env(&format!("{MODELS}router_settings:\n{router}"), &env)
    }

    fn shared(router: &str) -> SharedUsageSettings {
        let loaded = load(router).expect("valid");
        loaded.settings.shared_usage.expect("usage is shared")
    }

    #[test]
    fn without_redis_keys_usage_stays_per_replica() {
        let loaded = load("  num_retries: 1\n").expect("valid");
        assert!(loaded.settings.shared_usage.is_none());
        let loaded = load("  redis_key_prefix: x\n").expect("valid");
        assert!(loaded.settings.shared_usage.is_none());
        assert_eq!(loaded.warnings[0].path, "router_settings.redis_key_prefix");
    }

    #[test]
    fn a_url_from_the_environment_is_used_and_its_password_never_shown() {
        let s = shared("  redis_url: os.environ/REDIS_URL\n  redis_host: ignored\n");
        assert_eq!(address(&s.redis), "cache.internal:6380 (TLS)");
        assert_eq!(s.redis.redis_settings().password(), Some("hunter2"));
        assert_eq!(s.redis.redis_settings().db(), 2);
        assert_eq!(s.key_prefix, DEFAULT_KEY_PREFIX);
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let loaded =
            load("  redis_url: os.environ/REDIS_URL\n  redis_host: ignored\n").expect("valid");
        assert!(!format!("{:?}", loaded.settings).contains("hunter2"));
        assert_eq!(loaded.warnings[0].path, "router_settings.redis_host");
    }

    #[test]
    fn host_port_and_password_make_a_connection() {
        let s = shared(
            "  redis_host: 10.0.0.5\n  redis_port: os.environ/REDIS_PORT\n  redis_password: os.environ/REDIS_PASSWORD\n  redis_key_prefix: team-a\n",
        );
        assert_eq!(address(&s.redis), "10.0.0.5:6390");
        assert_eq!(s.redis.redis_settings().password(), Some("hunter2"));
        assert_eq!(s.key_prefix, "team-a");
        assert!(!format!("{s:?}").contains("hunter2"));
        let s = shared("  redis_host: localhost\n  redis_port: 7000\n");
        assert_eq!(address(&s.redis), "localhost:7000");
        assert_eq!(s.redis.redis_settings().password(), None);
        let s = shared("  redis_host: localhost\n");
        assert_eq!(address(&s.redis), "localhost:6379");
    }

    #[test]
    fn bad_values_fail_with_their_path_and_without_the_secret() {
        for (router, path) in [
            (
                "  redis_url: http://:hunter2@cache:6379\n",
                "router_settings.redis_url",
            ),
            (
                "  redis_url: 'redis://:hunter2@:6379'\n",
                "router_settings.redis_url",
            ),
            (
                "  redis_url: os.environ/NOPE\n",
                "router_settings.redis_url",
            ),
            (
                "  redis_host: 'redis://cache'\n",
                "router_settings.redis_host",
            ),
            (
                "  redis_host: cache\n  redis_port: 70000\n",
                "router_settings.redis_port",
            ),
            (
                "  redis_host: cache\n  redis_port: six\n",
                "router_settings.redis_port",
            ),
            (
                "  redis_host: cache\n  redis_key_prefix: 'a b'\n",
                "router_settings.redis_key_prefix",
            ),
        ] {
            let err = load(router).expect_err(router);
            let ConfigError::Invalid { path: at, reason } = &err else {
                panic!("{err}")
            };
            assert_eq!(at, path, "{router}: {reason}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }
}
