//! [`RedisCounters`]: budget counters in Redis, shared by every replica that uses the same Redis
//! and key prefix. A charge is one Lua script (one round trip) however many counters it adds to;
//! counters expire a day after their window ends.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script};
use async_trait::async_trait;

use crate::counters::{BudgetCounters, CounterKey, distinct};
use crate::error::StoreError;

/// Adds `ARGV[1]` dollars to every key, and sets each key's expiry to `ARGV[i + 1]` (unix
/// seconds; 0 for none).
const CHARGE: &str = r"
for i, key in ipairs(KEYS) do
  redis.call('INCRBYFLOAT', key, ARGV[1])
  local expire_at = tonumber(ARGV[i + 1])
  if expire_at > 0 then
    redis.call('EXPIREAT', key, expire_at)
  end
end
return #KEYS
";

/// How long a counter outlives its window, so a late read or a replica with a slow clock
/// still finds it.
const GRACE_SECONDS: i64 = 24 * 60 * 60;

/// [`BudgetCounters`] in Redis.
///
/// A counter is the key `{prefix}{scope}:{id}:{period_start}` holding the dollars spent as a
/// float (`INCRBYFLOAT`). Several counters are charged in one script, so they change together,
/// but they must live on one node: with Redis Cluster, give the prefix a hash tag.
///
/// A charge whose answer is lost (a timeout) may still have been applied, so it is not retried.
#[derive(Clone)]
pub struct RedisCounters {
    connection: ConnectionManager,
    prefix: String,
    charge: Script,
}

impl RedisCounters {
    /// The prefix used unless told otherwise.
    pub const DEFAULT_PREFIX: &'static str = "switchyard:spend:";

    /// Connects to the Redis at `url` (`redis://`, `rediss://`, `unix://`) and keeps the
    /// connection up (reconnecting as needed). Each command waits at most `timeout`.
    pub async fn connect(
        url: &str,
        prefix: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connection = ConnectionManager::new_with_config(Client::open(url)?, config).await?;
        Ok(Self::new(connection, prefix))
    }

    /// Counts through an existing connection.
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
            charge: Script::new(CHARGE),
        }
    }

    /// The Redis key of a counter.
    pub fn redis_key(&self, key: &CounterKey) -> String {
        format!(
            "{}{}:{}:{}",
            self.prefix,
            key.scope.as_str(),
            key.id,
            key.period_start
        )
    }
}

impl fmt::Debug for RedisCounters {
    // The connection's own `Debug` would print the URL, password included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl BudgetCounters for RedisCounters {
    async fn charge(&self, keys: &[CounterKey], usd: f64) -> Result<(), StoreError> {
        let keys = distinct(keys, usd)?;
        if keys.is_empty() {
            return Ok(());
        }
        let mut invocation = self.charge.prepare_invoke();
        invocation.arg(usd.to_string());
        for key in keys {
            invocation.key(self.redis_key(key));
            invocation.arg(
                key.period_end
                    .map_or(0, |end| end.saturating_add(GRACE_SECONDS).max(1)),
            );
        }
        let mut connection = self.connection.clone();
        let _: i64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    async fn spent(&self, keys: &[CounterKey]) -> Result<Vec<f64>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = ::redis::cmd("MGET");
        for key in keys {
            command.arg(self.redis_key(key));
        }
        let mut connection = self.connection.clone();
        let values: Vec<Option<String>> = command.query_async(&mut connection).await?;
        values
            .into_iter()
            .map(|value| match value {
                None => Ok(0.0),
                Some(text) => text.parse().map_err(|_| {
                    StoreError::Backend(crate::error::BackendError::Corrupt("spend counter"))
                }),
            })
            .collect()
    }
}
