//! [`RedisCounters`]: budget counters in Redis, shared by every replica that uses the same Redis
//! and key prefix. A reservation and a charge are each one Lua script (one round trip, atomic)
//! however many counters they touch; counters expire a day after their window ends. Redis is a
//! cache of what the spend log holds durably: a counter Redis lost is reported missing, never
//! read as zero.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script};
use async_trait::async_trait;

use crate::counters::{Budget, BudgetCounters, CounterKey, Reserve, distinct};
use crate::error::StoreError;

/// Adds `ARGV[1]` dollars to every key that exists.
const CHARGE: &str = r"
local charged = 0
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('INCRBYFLOAT', key, ARGV[1])
    charged = charged + 1
  end
end
return charged
";

/// Reserves `ARGV[1]` dollars on every key if each exists and holds less than its maximum
/// `ARGV[i + 1]`. Answers `{0, held...}` when reserved (what each key holds now),
/// `{-1, i, ...}` naming the missing keys, or `{i, spent}` for the first key at its maximum.
const RESERVE: &str = r"
local missing = {-1}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then
    table.insert(missing, i)
  end
end
if #missing > 1 then
  return missing
end
for i, key in ipairs(KEYS) do
  local spent = tonumber(redis.call('GET', key))
  if spent >= tonumber(ARGV[i + 1]) then
    return {i, tostring(spent)}
  end
end
local held = {0}
for i, key in ipairs(KEYS) do
  table.insert(held, redis.call('INCRBYFLOAT', key, ARGV[1]))
end
return held
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
    reserve: Script,
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
            .set_response_timeout(Some(timeout))
            // A call waits for one reconnection at most, not redis' default six with backoff
            // (about 6 s): while Redis is down, budgets answer by their policy at once.
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(Client::open(url)?, config).await?;
        Ok(Self::new(connection, prefix))
    }

    /// Counts through an existing connection.
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            connection,
            prefix: prefix.into(),
            charge: Script::new(CHARGE),
            reserve: Script::new(RESERVE),
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
    async fn reserve(&self, budgets: &[Budget], usd: f64) -> Result<Reserve, StoreError> {
        distinct(&[], usd)?;
        if budgets.is_empty() {
            return Ok(Reserve::Held(Vec::new()));
        }
        let mut invocation = self.reserve.prepare_invoke();
        invocation.arg(usd.to_string());
        for budget in budgets {
            invocation.key(self.redis_key(&budget.key));
            invocation.arg(budget.max_usd.to_string());
        }
        let mut connection = self.connection.clone();
        let answer: Vec<::redis::Value> = invocation.invoke_async(&mut connection).await?;
        let corrupt = || StoreError::Backend(crate::error::BackendError::Corrupt("reservation"));
        let number = |value: &::redis::Value| -> Result<i64, StoreError> {
            ::redis::from_redis_value_ref::<i64>(value).map_err(|_| corrupt())
        };
        let first = answer.first().ok_or_else(corrupt).and_then(number)?;
        // Lua indexes from 1.
        let index = |value: i64| usize::try_from(value - 1).map_err(|_| corrupt());
        let float = |value: &::redis::Value| -> Result<f64, StoreError> {
            let text: String = ::redis::from_redis_value_ref(value).map_err(|_| corrupt())?;
            text.parse().map_err(|_| corrupt())
        };
        match first {
            0 => answer[1..]
                .iter()
                .map(float)
                .collect::<Result<Vec<_>, _>>()
                .map(Reserve::Held),
            -1 => answer[1..]
                .iter()
                .map(|value| number(value).and_then(index))
                .collect::<Result<Vec<_>, _>>()
                .map(Reserve::Missing),
            at => Ok(Reserve::Exceeded {
                index: index(at)?,
                spent: float(answer.get(1).ok_or_else(corrupt)?)?,
            }),
        }
    }

    async fn charge(&self, keys: &[CounterKey], usd: f64) -> Result<(), StoreError> {
        let keys = distinct(keys, usd)?;
        if keys.is_empty() {
            return Ok(());
        }
        let mut invocation = self.charge.prepare_invoke();
        invocation.arg(usd.to_string());
        for key in keys {
            invocation.key(self.redis_key(key));
        }
        let mut connection = self.connection.clone();
        let _: i64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    async fn seed(&self, key: &CounterKey, usd: f64) -> Result<(), StoreError> {
        distinct(&[], usd)?;
        let mut command = ::redis::cmd("SET");
        command
            .arg(self.redis_key(key))
            .arg(usd.to_string())
            .arg("NX");
        if let Some(end) = key.period_end {
            command
                .arg("EXAT")
                .arg(end.saturating_add(GRACE_SECONDS).max(1));
        }
        let mut connection = self.connection.clone();
        let _: Option<String> = command.query_async(&mut connection).await?;
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
