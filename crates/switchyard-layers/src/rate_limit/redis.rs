//! The shared backend: every replica counts in one Redis, so N replicas enforce one combined
//! limit. One Lua script per call checks and counts every limit in one round trip; when Redis
//! does not answer, the configured [`FailurePolicy`] decides.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Script};

use super::backend::{Acquire, Grant, RateLimitBackend};
use super::error::{LimitKind, RateLimitError, RateLimited, StoreUnavailable};
use super::key::LimitCheck;
use super::local::LocalBackend;

mod settings;

pub use self::settings::{FailurePolicy, RedisSettings};

/// Counts limits in Redis, shared by every replica that uses the same Redis and prefix.
///
/// Windows are the minutes of the Redis server's clock (the script reads `TIME`), so replicas
/// with skewed clocks still agree. Requests and tokens per minute are fixed one-minute windows.
/// Corrections are sent in the background and never delay a response; one that cannot be sent
/// (Redis down) is dropped, and the estimate stands.
///
/// When Redis does not answer in time, the [`FailurePolicy`] decides, each such call is counted
/// ([`unavailable_calls`](Self::unavailable_calls)), and the outage is logged once when it starts
/// and once when it ends.
#[derive(Clone)]
pub struct RedisBackend {
    shared: Arc<Shared>,
}

struct Shared {
    connection: ConnectionManager,
    acquire: Script,
    correct: Script,
    prefix: String,
    timeout: Duration,
    retry_interval: Duration,
    /// Counts calls while Redis is down, when failing open.
    fallback: Option<LocalBackend>,
    start: tokio::time::Instant,
    down: AtomicBool,
    /// Milliseconds after `start` when a call may try Redis again while it is down.
    next_attempt: AtomicU64,
    unavailable_calls: AtomicU64,
    outages: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error("{0}")]
    Redis(#[from] RedisError),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("unexpected reply {0:?}")]
    Reply(Vec<i64>),
}

impl RedisBackend {
    /// Counts in the Redis that `client` connects to. Connects lazily (a Redis that is down at
    /// start is an outage like any other) and reconnects by itself. Must be called within a
    /// tokio runtime.
    pub fn new(client: Client, settings: RedisSettings) -> Result<Self, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        let fallback = match settings.on_unavailable {
            FailurePolicy::Open => Some(LocalBackend::new()),
            FailurePolicy::Closed => None,
        };
        Ok(Self {
            shared: Arc::new(Shared {
                connection,
                acquire: Script::new(include_str!("redis/acquire.lua")),
                correct: Script::new(include_str!("redis/correct.lua")),
                prefix: settings.prefix,
                timeout: settings.timeout,
                retry_interval: settings.retry_interval,
                fallback,
                start: tokio::time::Instant::now(),
                down: AtomicBool::new(false),
                next_attempt: AtomicU64::new(0),
                unavailable_calls: AtomicU64::new(0),
                outages: AtomicU64::new(0),
            }),
        })
    }

    /// Counts in the Redis at `url` (`redis://`, `rediss://`, `unix://`); see [`new`](Self::new).
    pub fn open(url: &str, settings: RedisSettings) -> Result<Self, RedisError> {
        Self::new(Client::open(url)?, settings)
    }

    /// Calls decided by the [`FailurePolicy`] because Redis did not answer, since start.
    pub fn unavailable_calls(&self) -> u64 {
        self.shared.unavailable_calls.load(Ordering::Relaxed)
    }

    /// Times Redis stopped answering since start (each logged once).
    pub fn outages(&self) -> u64 {
        self.shared.outages.load(Ordering::Relaxed)
    }

    /// Whether the last exchange with Redis succeeded (`true` before the first).
    pub fn is_reachable(&self) -> bool {
        !self.shared.down.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for RedisBackend {
    // The connection's own `Debug` would print the URL, password included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.shared.prefix)
            .field("fail_open", &self.shared.fallback.is_some())
            .field("reachable", &self.is_reachable())
            .field("unavailable_calls", &self.unavailable_calls())
            .finish_non_exhaustive()
    }
}

impl RateLimitBackend for RedisBackend {
    fn acquire(&self, checks: &[LimitCheck], tokens: u64) -> Acquire {
        if !self.shared.may_try() {
            return Acquire::ready(self.shared.when_unavailable(checks, tokens));
        }
        let shared = Arc::clone(&self.shared);
        let checks = checks.to_vec();
        Acquire::pending(async move {
            match shared.send_acquire(&checks, tokens).await {
                Ok(decision) => {
                    shared.answered();
                    decision.map_err(RateLimitError::from)
                }
                Err(error) => {
                    shared.failed(&error);
                    shared.when_unavailable(&checks, tokens)
                }
            }
        })
    }

    fn correct(&self, checks: &[LimitCheck], grant: Grant, used_tokens: u64) {
        let shared = &self.shared;
        if grant.fallback {
            if let Some(fallback) = &shared.fallback {
                fallback.correct(checks, grant, used_tokens);
            }
            return;
        }
        let keys: Vec<String> = checks
            .iter()
            .filter(|check| check.limits.tokens_per_minute.is_some())
            .map(|check| shared.base_key(check))
            .collect();
        // Without a runtime there is nowhere to send it from; the estimate stands.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if keys.is_empty() || !shared.may_try() {
            return;
        }
        let delta = signed(used_tokens).saturating_sub(signed(grant.tokens));
        let shared = Arc::clone(shared);
        runtime.spawn(async move {
            match shared.send_correction(keys, grant.window, delta).await {
                Ok(()) => shared.answered(),
                Err(error) => shared.failed(&error),
            }
        });
    }

    fn retain_recent(&self) {
        if let Some(fallback) = &self.shared.fallback {
            fallback.retain_recent();
        }
    }
}

fn signed(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

impl Shared {
    /// `{prefix}:{scope}:{key}`, with `%` and `:` escaped so that no two limits share a name.
    fn base_key(&self, check: &LimitCheck) -> String {
        let (scope, key) = (check.scope.as_str(), check.key.as_str());
        let mut name = String::with_capacity(self.prefix.len() + scope.len() + key.len() + 2);
        name.push_str(&self.prefix);
        for part in [scope, key] {
            name.push(':');
            for c in part.chars() {
                match c {
                    '%' => name.push_str("%25"),
                    ':' => name.push_str("%3A"),
                    c => name.push(c),
                }
            }
        }
        name
    }

    async fn send_acquire(
        &self,
        checks: &[LimitCheck],
        tokens: u64,
    ) -> Result<Result<Grant, RateLimited>, StoreError> {
        let mut invocation = self.acquire.prepare_invoke();
        invocation.arg(signed(tokens));
        for check in checks {
            invocation.key(self.base_key(check));
            let limits = check.limits;
            invocation.arg(limits.requests_per_minute.map_or(-1, i64::from));
            invocation.arg(limits.tokens_per_minute.map_or(-1, signed));
        }
        let mut connection = self.connection.clone();
        let reply: Vec<i64> =
            tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection))
                .await
                .map_err(|_| StoreError::TimedOut(self.timeout))??;
        decide(reply, checks, tokens)
    }

    async fn send_correction(
        &self,
        keys: Vec<String>,
        window: u64,
        delta: i64,
    ) -> Result<(), StoreError> {
        let mut invocation = self.correct.prepare_invoke();
        invocation.key(keys).arg(window).arg(delta);
        let mut connection = self.connection.clone();
        tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await
        .map_err(|_| StoreError::TimedOut(self.timeout))??;
        Ok(())
    }

    fn now_ms(&self) -> u64 {
        let elapsed = tokio::time::Instant::now().saturating_duration_since(self.start);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this call may ask Redis: always while it answers; while it is down, one call
    /// per retry interval.
    fn may_try(&self) -> bool {
        if !self.down.load(Ordering::Relaxed) {
            return true;
        }
        let now = self.now_ms();
        let next = self.next_attempt.load(Ordering::Relaxed);
        now >= next
            && self
                .next_attempt
                .compare_exchange(
                    next,
                    now + self.retry_ms(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    fn retry_ms(&self) -> u64 {
        u64::try_from(self.retry_interval.as_millis()).unwrap_or(u64::MAX)
    }

    fn failed(&self, error: &StoreError) {
        self.next_attempt
            .store(self.now_ms() + self.retry_ms(), Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            let policy = if self.fallback.is_some() {
                "counted in this process"
            } else {
                "refused"
            };
            tracing::warn!("rate limits are {policy} until Redis answers again: {error}");
        }
    }

    fn answered(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(
                unavailable_calls = self.unavailable_calls.load(Ordering::Relaxed),
                "Redis answers again: rate limits are shared with other replicas"
            );
        }
    }

    fn when_unavailable(
        &self,
        checks: &[LimitCheck],
        tokens: u64,
    ) -> Result<Grant, RateLimitError> {
        self.unavailable_calls.fetch_add(1, Ordering::Relaxed);
        match &self.fallback {
            Some(fallback) => fallback
                .admit(checks, tokens)
                .map(|grant| Grant {
                    fallback: true,
                    ..grant
                })
                .map_err(RateLimitError::from),
            None => Err(RateLimitError::from(StoreUnavailable {
                retry_after: self.retry_interval,
            })),
        }
    }
}

/// Reads the script's answer: `{0, 0, 0, window}` admitted, `{kind, i, retry_after_ms, window}`
/// refused by limit `i` (1-based) for requests (kind 1) or tokens (kind 2).
fn decide(
    reply: Vec<i64>,
    checks: &[LimitCheck],
    tokens: u64,
) -> Result<Result<Grant, RateLimited>, StoreError> {
    let &[status, index, retry_after_ms, window] = reply.as_slice() else {
        return Err(StoreError::Reply(reply));
    };
    let Ok(window) = u64::try_from(window) else {
        return Err(StoreError::Reply(reply));
    };
    let kind = match status {
        0 => {
            return Ok(Ok(Grant {
                window,
                tokens,
                fallback: false,
            }));
        }
        1 => LimitKind::Requests,
        2 => LimitKind::Tokens,
        _ => return Err(StoreError::Reply(reply)),
    };
    let check = usize::try_from(index)
        .ok()
        .and_then(|index| index.checked_sub(1))
        .and_then(|index| checks.get(index));
    let Some(check) = check else {
        return Err(StoreError::Reply(reply));
    };
    let limit = match kind {
        LimitKind::Requests => check.limits.requests_per_minute.map(u64::from),
        LimitKind::Tokens => check.limits.tokens_per_minute,
    };
    Ok(Err(RateLimited {
        scope: check.scope.clone(),
        key: check.key.clone(),
        kind,
        limit: limit.unwrap_or_default(),
        retry_after: Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(0).max(1)),
    }))
}

#[cfg(test)]
mod tests;
