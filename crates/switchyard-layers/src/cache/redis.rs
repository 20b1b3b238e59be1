//! [`RedisStore`]: entries in Redis, shared by every replica configured with the same Redis and key
//! prefix: `SET {prefix}:{key} {value} EX {seconds}` and `GET {prefix}:{key}`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Cmd, ErrorKind, IntoConnectionInfo, RedisError};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use super::key::CacheKey;
use super::store::{CacheStore, StoreError};

/// Entries in Redis, values as the layer serialized them (serde_json of an
/// [`Entry`](super::Entry)).
///
/// Nothing connects until the first command, so a Redis that is down at start delays nothing;
/// the connection reconnects by itself afterwards. Every command is bounded by a timeout
/// ([`RedisStore::TIMEOUT`] unless set), and a failure is an error the layer treats as a miss.
///
/// ```
/// use switchyard_layers::cache::{CacheLayer, RedisStore};
///
/// let store = RedisStore::open("redis://127.0.0.1:6379", "switchyard:cache")?;
/// let layer = CacheLayer::new(store);
/// # let _ = layer;
/// # Ok::<(), switchyard_layers::cache::StoreError>(())
/// ```
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    /// Made on first use, inside the runtime.
    connection: Arc<OnceCell<ConnectionManager>>,
    prefix: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The address only: the connection info may hold a password.
        f.debug_struct("RedisStore")
            .field(
                "address",
                &self.client.get_connection_info().addr().to_string(),
            )
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// How long a connection attempt or a command may take by default.
    pub const TIMEOUT: Duration = Duration::from_millis(250);

    /// A store on the Redis at `url` (`redis://`, `rediss://`, `unix://`), its keys starting
    /// with `prefix:`.
    pub fn open(url: impl IntoConnectionInfo, prefix: &str) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(store_error)?;
        Ok(Self::new(client, prefix))
    }

    /// A store on `client`'s Redis, its keys starting with `prefix:`.
    pub fn new(client: Client, prefix: &str) -> Self {
        Self {
            client,
            connection: Arc::new(OnceCell::new()),
            prefix: prefix.into(),
            timeout: Self::TIMEOUT,
        }
    }

    /// Allows each connection attempt and each command `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The Redis key of `key`: `{prefix}:{key}`.
    pub fn redis_key(&self, key: &CacheKey) -> String {
        format!("{}:{key}", self.prefix)
    }

    fn set_command(&self, key: &CacheKey, value: &[u8], ttl: Duration) -> Cmd {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(self.redis_key(key))
            .arg(value)
            .arg("EX")
            .arg(whole_seconds(ttl));
        cmd
    }

    /// Runs `cmd`, connecting first if need be, within the timeout.
    async fn run<T: ::redis::FromRedisValue>(&self, cmd: Cmd) -> Result<T, StoreError> {
        let work = async {
            let mut connection = self
                .connection
                .get_or_try_init(|| async {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(self.timeout))
                        .set_response_timeout(Some(self.timeout))
                        .set_number_of_retries(1)
                        .set_max_delay(self.timeout);
                    ConnectionManager::new_lazy_with_config(self.client.clone(), config)
                })
                .await
                .map_err(store_error)?
                .clone();
            cmd.query_async::<T>(&mut connection)
                .await
                .map_err(store_error)
        };
        // The manager's own timeouts bound each attempt; this bounds reconnection retries too.
        tokio::time::timeout(self.timeout.saturating_mul(3), work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unreachable(format!(
                    "no answer within {} ms",
                    self.timeout.saturating_mul(3).as_millis()
                )))
            })
    }
}

impl CacheStore for RedisStore {
    fn get(&self, key: &CacheKey) -> BoxFuture<'static, Result<Option<Bytes>, StoreError>> {
        let store = self.clone();
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(self.redis_key(key));
        Box::pin(async move {
            let value: Option<Vec<u8>> = store.run(cmd).await?;
            Ok(value.map(Bytes::from))
        })
    }

    fn put(
        &self,
        key: &CacheKey,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let store = self.clone();
        let cmd = self.set_command(key, &value, ttl);
        Box::pin(async move { store.run::<()>(cmd).await })
    }
}

/// `EX` takes whole seconds: round up, and never zero (Redis refuses it).
fn whole_seconds(ttl: Duration) -> u64 {
    ttl.as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0))
        .max(1)
}

fn store_error(error: RedisError) -> StoreError {
    match error.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
            StoreError::BadReply(error.to_string())
        }
        _ => StoreError::Unreachable(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyHasher;

    fn key() -> CacheKey {
        let mut key = KeyHasher::new("chat");
        key.field("q", "hi");
        key.finish().expect("key")
    }

    fn args(cmd: &Cmd) -> Vec<String> {
        cmd.args_iter()
            .map(|arg| match arg {
                ::redis::Arg::Simple(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => "<other>".to_owned(),
            })
            .collect()
    }

    #[test]
    fn set_carries_the_prefix_the_value_and_whole_seconds() {
        let store = RedisStore::open("redis://:secret@127.0.0.1:1", "sy:test").expect("url");
        let key = key();
        let cmd = store.set_command(&key, b"{\"complete\":1}", Duration::from_millis(1_500));
        assert_eq!(
            args(&cmd),
            [
                "SET",
                &format!("sy:test:{key}"),
                "{\"complete\":1}",
                "EX",
                "2"
            ]
        );
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(600)), 600);
        let debug = format!("{store:?}");
        assert!(
            debug.contains("127.0.0.1:1") && !debug.contains("secret"),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_not_a_wait() {
        // Port 1 on the loopback refuses connections at once.
        let store = RedisStore::open("redis://127.0.0.1:1", "sy:test").expect("url");
        let started = std::time::Instant::now();
        let error = store.get(&key()).await.expect_err("nothing listens");
        assert!(matches!(error, StoreError::Unreachable(_)), "{error}");
        let put = store.put(&key(), Bytes::from_static(b"1"), Duration::from_secs(1));
        assert!(put.await.is_err());
        assert!(
            started.elapsed() < RedisStore::TIMEOUT * 7,
            "{:?}",
            started.elapsed()
        );
    }
}
