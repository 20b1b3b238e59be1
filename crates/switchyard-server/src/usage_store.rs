//! The Redis [`UsageStore`]: replicas configured with the same Redis and key prefix
//! (`router_settings.redis_*`) share their per-minute usage through it, so `rpm`, `tpm` and
//! usage-based routing count every replica's calls.
//!
//! One hash per minute, `{prefix}:usage:{minute}`, with the fields `requests:{deployment id}`
//! and `tokens:{deployment id}`; every exchange is one pipelined round trip (`HINCRBY` for each
//! count, `EXPIRE` for each minute touched, `HGETALL` of the current minute).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchyard_router::{MinuteTotals, UsageIncrement, UsageStore, UsageStoreError};
use tokio::sync::OnceCell;

use crate::config::shared_usage::{SharedUsageSettings, address};

/// How long a minute's counts stay in Redis after their last change: the minute itself and the
/// next, for replicas whose clocks run a little behind.
pub const KEY_TTL_SECONDS: i64 = 120;
/// Time allowed to connect, and to wait for an answer.
const NETWORK_TIMEOUT: Duration = Duration::from_millis(800);

/// Per-minute usage counts in Redis.
#[derive(Clone)]
pub struct RedisUsageStore {
    client: redis::Client,
    /// Made on first use, inside the runtime; it reconnects by itself after that.
    connection: Arc<OnceCell<ConnectionManager>>,
    key_prefix: Arc<str>,
}

impl fmt::Debug for RedisUsageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUsageStore")
            .field("address", &address(self.client.get_connection_info()))
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisUsageStore {
    /// A store on the configured Redis. Nothing connects until the first exchange, so a Redis
    /// that is down at start delays nothing.
    pub fn new(settings: &SharedUsageSettings) -> Result<Self, UsageStoreError> {
        let client = redis::Client::open(settings.redis.clone())
            .map_err(|e| UsageStoreError::Unreachable(e.to_string()))?;
        Ok(Self {
            client,
            connection: Arc::new(OnceCell::new()),
            key_prefix: settings.key_prefix.as_str().into(),
        })
    }

    /// The key of `minute`'s hash.
    pub fn key(&self, minute: u64) -> String {
        format!("{}:usage:{minute}", self.key_prefix)
    }

    fn pipeline(&self, increments: &[UsageIncrement], minute: u64) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        let mut touched = BTreeSet::new();
        for increment in increments {
            let key = self.key(increment.minute);
            let id = &increment.deployment_id;
            if increment.requests > 0 {
                pipe.hincr(&key, format!("requests:{id}"), increment.requests)
                    .ignore();
            }
            if increment.tokens > 0 {
                pipe.hincr(&key, format!("tokens:{id}"), increment.tokens)
                    .ignore();
            }
            touched.insert(key);
        }
        for key in touched {
            pipe.expire(key, KEY_TTL_SECONDS).ignore();
        }
        pipe.hgetall(self.key(minute));
        pipe
    }
}

impl UsageStore for RedisUsageStore {
    fn exchange(
        &self,
        increments: &[UsageIncrement],
        minute: u64,
    ) -> BoxFuture<'static, Result<MinuteTotals, UsageStoreError>> {
        let pipe = self.pipeline(increments, minute);
        let store = self.clone();
        Box::pin(async move {
            let mut connection = store
                .connection
                .get_or_try_init(|| async {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(NETWORK_TIMEOUT))
                        .set_response_timeout(Some(NETWORK_TIMEOUT))
                        .set_number_of_retries(2)
                        .set_max_delay(NETWORK_TIMEOUT);
                    ConnectionManager::new_lazy_with_config(store.client.clone(), config)
                })
                .await
                .map_err(store_error)?
                .clone();
            let (fields,): (HashMap<String, String>,) = pipe
                .query_async(&mut connection)
                .await
                .map_err(store_error)?;
            Ok(totals(fields))
        })
    }
}

/// `requests:{id}` and `tokens:{id}` fields -> counts by id; fields of any other shape (not
/// ours) are skipped.
fn totals(fields: HashMap<String, String>) -> MinuteTotals {
    let mut totals = MinuteTotals::new();
    for (field, value) in fields {
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        if let Some(id) = field.strip_prefix("requests:") {
            totals.entry(id.to_owned()).or_default().requests = value;
        } else if let Some(id) = field.strip_prefix("tokens:") {
            totals.entry(id.to_owned()).or_default().tokens = value;
        }
    }
    totals
}

fn store_error(error: redis::RedisError) -> UsageStoreError {
    match error.kind() {
        redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => {
            UsageStoreError::BadReply(error.to_string())
        }
        _ => UsageStoreError::Unreachable(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_router::UsageCount;

    #[test]
    fn fields_become_counts_by_deployment_and_strangers_are_skipped() {
        let fields = HashMap::from([
            ("requests:a:1".to_owned(), "3".to_owned()),
            ("tokens:a:1".to_owned(), "45".to_owned()),
            ("tokens:b".to_owned(), "7".to_owned()),
            ("requests:c".to_owned(), "lots".to_owned()),
            ("other".to_owned(), "1".to_owned()),
        ]);
        let totals = totals(fields);
        assert_eq!(
            totals["a:1"],
            UsageCount {
                requests: 3,
                tokens: 45
            }
        );
        assert_eq!(
            totals["b"],
            UsageCount {
                requests: 0,
                tokens: 7
            }
        );
        assert_eq!(totals.len(), 2);
    }

    #[test]
    fn one_pipeline_adds_expires_and_reads() {
        let settings = SharedUsageSettings {
            redis: redis::IntoConnectionInfo::into_connection_info("redis://:pw@127.0.0.1:1")
                .expect("url"),
            key_prefix: "p".to_owned(),
        };
        let store = RedisUsageStore::new(&settings).expect("store");
        let increments = [
            UsageIncrement {
                deployment_id: "a".to_owned(),
                minute: 7,
                requests: 2,
                tokens: 0,
            },
            UsageIncrement {
                deployment_id: "b".to_owned(),
                minute: 8,
                requests: 1,
                tokens: 9,
            },
        ];
        let pipe = store.pipeline(&increments, 8);
        let commands: Vec<String> = pipe
            .cmd_iter()
            .map(|cmd| {
                cmd.args_iter()
                    .map(|arg| match arg {
                        redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                        _ => "<other>".to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            commands,
            [
                "HINCRBY p:usage:7 requests:a 2",
                "HINCRBY p:usage:8 requests:b 1",
                "HINCRBY p:usage:8 tokens:b 9",
                "EXPIRE p:usage:7 120",
                "EXPIRE p:usage:8 120",
                "HGETALL p:usage:8",
            ]
        );
        assert!(!format!("{store:?}").contains("pw"));
    }
}
