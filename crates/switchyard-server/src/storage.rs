//! The gateway's durable state at run time: the store of keys, users, teams and spend records
//! (SQLite or PostgreSQL), the budget counters (in Redis when `router_settings` names one, so
//! replicas share budgets; else in the store), the batched spend writer, and a short-lived
//! cache of who each virtual key belongs to, so a call costs no database round trip to
//! authenticate.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::future::Cache;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchyard_layers::rate_limit::Limits;
use switchyard_store::{
    BudgetCounters, CounterKey, CounterScope, KeyHash, KeyRecord, PostgresStore, RedisCounters,
    ShutdownReport, SpendRecord, SpendWriter, SpendWriterConfig, SqliteStore, Store, StoreError,
    TeamRecord, UserRecord, hash_key,
};

use crate::caller::{Account, Caller};
use crate::config::shared_usage::SharedUsageSettings;
use crate::config::storage::Database;
use crate::error::ApiError;
use crate::record::CallRecord;

/// How long who a key belongs to is remembered. Changes made through this replica's admin API
/// apply at once; those made through another replica within this time.
pub const IDENTITY_TTL: Duration = Duration::from_secs(5);

/// A virtual key with its user and team, as stored.
#[derive(Debug)]
struct Identity {
    key: KeyRecord,
    user: Option<UserRecord>,
    team: Option<TeamRecord>,
}

/// The store, the counters, the spend writer and the identity cache.
pub struct Storage {
    store: Arc<dyn Store>,
    counters: Arc<dyn BudgetCounters>,
    writer: SpendWriter,
    /// Key hash to its identity; `None` remembers a key that does not exist.
    identities: Cache<KeyHash, Option<Arc<Identity>>>,
    /// Spend records shed that the metrics already count.
    reported_shed: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens `database` (running its migrations) and, when `redis` is given, counts budgets
    /// there.
    pub async fn open(
        database: &Database,
        redis: Option<&SharedUsageSettings>,
    ) -> Result<Self, StoreError> {
        let (store, counters): (Arc<dyn Store>, Arc<dyn BudgetCounters>) = match database {
            Database::Sqlite(path) => {
                let store = Arc::new(SqliteStore::connect(path).await?);
                (Arc::clone(&store) as _, store as _)
            }
            Database::Postgres(url) => {
                let store = Arc::new(PostgresStore::connect(url).await?);
                (Arc::clone(&store) as _, store as _)
            }
        };
        let counters = match redis {
            None => counters,
            Some(shared) => {
                let timeout = Duration::from_millis(500);
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                let client = redis::Client::open(shared.redis.clone())?;
                let connection = ConnectionManager::new_lazy_with_config(client, config)?;
                Arc::new(RedisCounters::new(
                    connection,
                    format!("{}:spend:", shared.key_prefix),
                ))
            }
        };
        let writer = SpendWriter::spawn(Arc::clone(&store), SpendWriterConfig::default());
        Ok(Self {
            store,
            counters,
            writer,
            identities: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(IDENTITY_TTL)
                .build(),
            reported_shed: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The store, for the admin API.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Forgets every remembered identity, after a key, user or team changed.
    pub fn forget_identities(&self) {
        self.identities.invalidate_all();
    }

    /// The caller a virtual key's `secret` stands for: 401 when no such key exists, or when it,
    /// its user or its team is blocked, or the key has expired.
    pub async fn caller(&self, secret: &str) -> Result<Caller, ApiError> {
        let hash = hash_key(secret);
        let store = Arc::clone(&self.store);
        let identity = self
            .identities
            .try_get_with(hash, async move { identity(&*store, &hash).await })
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "cannot look up a virtual key");
                ApiError::unavailable("keys cannot be checked right now; try again shortly")
            })?;
        let Some(identity) = identity else {
            return Err(ApiError::unauthorized("the API key is not valid"));
        };
        let key = &identity.key;
        if key.blocked {
            return Err(ApiError::unauthorized(format!(
                "key `{}` is blocked",
                key.id
            )));
        }
        if key.is_expired(unix_seconds()) {
            return Err(ApiError::unauthorized(format!(
                "key `{}` has expired",
                key.id
            )));
        }
        if let Some(user) = identity.user.as_ref().filter(|u| u.blocked) {
            return Err(ApiError::unauthorized(format!(
                "user `{}` is blocked",
                user.id
            )));
        }
        if let Some(team) = identity.team.as_ref().filter(|t| t.blocked) {
            return Err(ApiError::unauthorized(format!(
                "team `{}` is blocked",
                team.id
            )));
        }
        Ok(caller_of(&identity))
    }

    /// Refuses a call when the caller's key, user or team has spent its budget for the current
    /// period. When the counters cannot be read, the call goes on (and the failure is logged).
    pub async fn check_budgets(&self, caller: &Caller) -> Result<(), ApiError> {
        let now = unix_seconds();
        let budgeted: Vec<(&Account, f64)> = caller
            .accounts
            .iter()
            .filter_map(|account| account.max_budget.map(|max| (account, max)))
            .collect();
        if budgeted.is_empty() {
            return Ok(());
        }
        let keys: Vec<CounterKey> = budgeted
            .iter()
            .map(|(account, _)| counter_key(account, now))
            .collect();
        let spent = match self.counters.spent(&keys).await {
            Ok(spent) => spent,
            Err(err) => {
                tracing::error!(error = %err, "budget counters cannot be read; the call goes on");
                return Ok(());
            }
        };
        for ((account, max), spent) in budgeted.iter().zip(spent) {
            if spent >= *max {
                return Err(ApiError::budget_exceeded(
                    account.scope.as_str(),
                    &account.id,
                    *max,
                    spent,
                    account.period.map(|p| p.period_end(now)),
                ));
            }
        }
        Ok(())
    }

    /// Records a finished call: its spend record goes to the writer (batched, flushed on
    /// shutdown), and its cost to the budget counters of its key, user and team at once.
    pub fn record(&self, call: &CallRecord) {
        self.writer.record(spend_record(call));
        let usd = call.cost.map_or(0.0, |c| c.usd);
        if usd > 0.0 && !call.caller.accounts.is_empty() {
            let now = unix_seconds();
            let keys: Vec<CounterKey> = call
                .caller
                .accounts
                .iter()
                .map(|account| counter_key(account, now))
                .collect();
            let counters = Arc::clone(&self.counters);
            let request_id = Arc::clone(&call.request_id);
            tokio::spawn(async move {
                if let Err(err) = counters.charge(&keys, usd).await {
                    tracing::error!(
                        error = %err,
                        %request_id,
                        usd,
                        "a call's cost could not be added to its budgets"
                    );
                }
            });
        }
    }

    /// Spend records shed because the writer's queue was full.
    pub fn shed_spend_records(&self) -> u64 {
        self.writer.shed_count()
    }

    /// Spend records shed since the last call.
    pub fn take_new_shed(&self) -> u64 {
        let total = self.writer.shed_count();
        let before = self
            .reported_shed
            .swap(total, std::sync::atomic::Ordering::Relaxed);
        total.saturating_sub(before)
    }

    /// Writes every queued spend record, then stops the writer.
    pub async fn shutdown(&self) -> ShutdownReport {
        self.writer.shutdown().await
    }
}

async fn identity(store: &dyn Store, hash: &KeyHash) -> Result<Option<Arc<Identity>>, StoreError> {
    let Some(key) = store.key_by_hash(hash).await? else {
        return Ok(None);
    };
    let user = match &key.user_id {
        Some(id) => store.user(id).await?,
        None => None,
    };
    let team = match &key.team_id {
        Some(id) => store.team(id).await?,
        None => None,
    };
    Ok(Some(Arc::new(Identity { key, user, team })))
}

fn caller_of(identity: &Identity) -> Caller {
    let key = &identity.key;
    let limits = (key.rpm_limit.is_some() || key.tpm_limit.is_some()).then(|| {
        let mut limits = Limits::none();
        if let Some(rpm) = key.rpm_limit {
            limits = limits.rpm(u32::try_from(rpm).unwrap_or(u32::MAX));
        }
        if let Some(tpm) = key.tpm_limit {
            limits = limits.tpm(tpm);
        }
        limits
    });
    let models = if key.models.is_empty() {
        identity
            .team
            .as_ref()
            .map(|team| team.models.clone())
            .unwrap_or_default()
    } else {
        key.models.clone()
    };
    let mut accounts = vec![Account {
        scope: CounterScope::Key,
        id: key.id.clone(),
        max_budget: key.max_budget,
        period: key.budget_duration,
    }];
    if let Some(user_id) = &key.user_id {
        let user = identity.user.as_ref();
        accounts.push(Account {
            scope: CounterScope::User,
            id: user_id.clone(),
            max_budget: user.and_then(|u| u.max_budget),
            period: user.and_then(|u| u.budget_duration),
        });
    }
    if let Some(team_id) = &key.team_id {
        let team = identity.team.as_ref();
        accounts.push(Account {
            scope: CounterScope::Team,
            id: team_id.clone(),
            max_budget: team.and_then(|t| t.max_budget),
            period: team.and_then(|t| t.budget_duration),
        });
    }
    Caller {
        key_id: Arc::from(key.id.as_str()),
        key_alias: key.alias.as_deref().map(Arc::from),
        user_id: key.user_id.as_deref().map(Arc::from),
        team_id: key.team_id.as_deref().map(Arc::from),
        limits,
        models: Arc::from(models),
        accounts: Arc::from(accounts),
    }
}

fn counter_key(account: &Account, now: i64) -> CounterKey {
    CounterKey::new(account.scope, account.id.clone(), account.period, now)
}

fn spend_record(call: &CallRecord) -> SpendRecord {
    let caller = &call.caller;
    let (experiment, variant) = match &call.experiment {
        Some((experiment, variant)) => (Some(experiment.clone()), Some(variant.clone())),
        None => (None, None),
    };
    SpendRecord {
        request_id: call.request_id.to_string(),
        time_ms: call.started_at_ms,
        key_id: Some(caller.key_id.to_string()),
        key_alias: caller.key_alias.as_deref().map(str::to_owned),
        user_id: caller.user_id.as_deref().map(str::to_owned),
        team_id: caller.team_id.as_deref().map(str::to_owned),
        model_requested: call.model_requested.clone(),
        model_group: call.model_group.clone(),
        deployment: call.deployment.clone(),
        provider: call.provider.map(str::to_owned),
        input_tokens: call.tokens.prompt,
        output_tokens: call.tokens.completion,
        cached_tokens: call.tokens.cache_read,
        cost_usd: call.cost.map_or(0.0, |c| c.usd),
        cost_estimated: call.cost.is_some_and(|c| c.estimated),
        latency_ms: u64::try_from(call.latency.as_millis()).unwrap_or(u64::MAX),
        status: call.status,
        cache_hit: call.cache_hit,
        experiment,
        variant,
    }
}

/// The time now in Unix seconds.
pub fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
