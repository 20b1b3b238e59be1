//! The gateway's durable state at run time: the store of keys, users, teams and spend records
//! (SQLite or PostgreSQL), the budget counters (in Redis when `router_settings` names one, so
//! replicas share budgets; else in PostgreSQL, or in memory beside SQLite, which one process
//! uses), the batched spend writer, and a short-lived
//! cache of who each virtual key belongs to, so a call costs no database round trip to
//! authenticate.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::future::Cache;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchyard_layers::rate_limit::Limits;
use switchyard_store::{
    AccountKind, AccountRecord, Budget, BudgetCounters, CounterKey, CounterScope, DeploymentStore,
    ExclusiveUse, KeyHash, KeyRecord, MemoryCounters, PostgresStore, RedisCounters, Reserve,
    ResponseStore, ShutdownReport, SpendRecord, SpendWriter, SpendWriterConfig, SqliteStore, Store,
    StoreError, hash_key,
};

use crate::caller::{Account, Caller};
use crate::config::budgets::{BudgetSettings, CounterFailure};
use crate::config::shared_usage::SharedUsageSettings;
use crate::config::storage::Database;
use crate::error::ApiError;
use crate::invalidation::Invalidations;
use crate::outage::{OutageBudgets, Refusal};
use crate::record::CallRecord;

/// How long who a key belongs to is remembered. Changes made through this replica's admin API
/// apply at once; those made through another replica at once too when replicas share a Redis
/// (announced on a channel, see [`crate::invalidation`]), else within this time.
pub const IDENTITY_TTL: Duration = Duration::from_secs(5);

/// A virtual key with its user, team and organization, as stored.
#[derive(Debug)]
struct Identity {
    key: KeyRecord,
    user: Option<AccountRecord>,
    team: Option<AccountRecord>,
    organization: Option<AccountRecord>,
}

/// The store, the counters, the spend writer and the identity cache.
pub struct Storage {
    store: Arc<dyn Store>,
    /// The SQLite file, claimed for this process while it serves it (its budget counters are in
    /// this process's memory).
    _sqlite_claim: Option<ExclusiveUse>,
    /// Deployments added through the admin API.
    deployments: Arc<dyn DeploymentStore>,
    /// Responses of the Responses API, kept for retrieval and `previous_response_id`.
    responses: Arc<dyn ResponseStore>,
    counters: Arc<dyn BudgetCounters>,
    writer: SpendWriter,
    /// Key hash to its identity; `None` remembers a key that does not exist.
    identities: Cache<KeyHash, Option<Arc<Identity>>>,
    /// Key changes announced to and heard from other replicas, when they share a Redis.
    invalidations: Option<Invalidations>,
    /// Budgets while the counters cannot be reached (`local_slice`).
    outage: OutageBudgets,
    /// The heartbeat that counts the replicas, when they share a Redis.
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    /// Spend records shed that the metrics already count.
    reported_shed: std::sync::atomic::AtomicU64,
    /// Budget counter operations that failed.
    counter_failures: Arc<std::sync::atomic::AtomicU64>,
    /// Of those, the ones the metrics already count.
    reported_counter_failures: std::sync::atomic::AtomicU64,
}

/// A reservation being settled; awaiting it waits (at most [`SETTLE_WITHIN`]) until the
/// counters hold the call's exact cost. Dropped, the settlement still completes.
#[derive(Debug)]
pub struct Settlement(tokio::task::JoinHandle<()>);

/// The longest a call's answer waits for its settlement (the counters answer in
/// milliseconds; past this the settlement goes on in the background).
pub const SETTLE_WITHIN: Duration = Duration::from_secs(1);

impl Settlement {
    /// Waits until the settlement is done, or [`SETTLE_WITHIN`] has passed.
    pub async fn wait(self) {
        let _ = tokio::time::timeout(SETTLE_WITHIN, self.0).await;
    }
}

/// What a call holds on its budgets until it ends: the counters and the estimate.
#[derive(Debug, Clone)]
pub struct Reservation {
    keys: Arc<[CounterKey]>,
    usd: f64,
    /// Held on this replica's outage slices, not on the counters.
    local: bool,
    /// What the calling key had spent in its budget window before this call (with what calls
    /// in flight hold), when the key has a budget: LiteLLM's `x-litellm-key-spend`.
    key_spend: Option<f64>,
}

impl Reservation {
    /// What the calling key had spent in its budget window before this call, when known.
    pub fn key_spend(&self) -> Option<f64> {
        self.key_spend
    }
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
        pool_limit: Option<u32>,
        redis: Option<&SharedUsageSettings>,
    ) -> Result<Self, StoreError> {
        type Parts = (
            Arc<dyn Store>,
            Arc<dyn BudgetCounters>,
            Arc<dyn DeploymentStore>,
            Arc<dyn ResponseStore>,
        );
        let mut sqlite_claim = None;
        let (store, counters, deployments, responses): Parts = match database {
            Database::Sqlite(path) => {
                let store = Arc::new(SqliteStore::connect(path).await?);
                sqlite_claim = store.claim_exclusive_use().inspect_err(|err| {
                    if matches!(err, StoreError::InUse(_)) {
                        tracing::error!(
                            "another gateway serves this SQLite database: budget counters live in \
                             each gateway's memory on SQLite, so two would each allow a whole \
                             budget; give replicas PostgreSQL (database_url), or stop the other"
                        );
                    }
                })?;
                // One process uses a SQLite file: its budget counters live in its memory,
                // rebuilt from the spend log, instead of a transaction per reservation and one
                // per settlement.
                (
                    Arc::clone(&store) as _,
                    Arc::new(MemoryCounters::new()) as _,
                    Arc::clone(&store) as _,
                    store as _,
                )
            }
            Database::Postgres(url) => {
                let options = url.parse().map_err(StoreError::from)?;
                let store = Arc::new(PostgresStore::connect_pooled(options, pool_limit).await?);
                (
                    Arc::clone(&store) as _,
                    Arc::clone(&store) as _,
                    Arc::clone(&store) as _,
                    store as _,
                )
            }
        };
        let identities = Cache::builder()
            .max_capacity(100_000)
            .time_to_live(IDENTITY_TTL)
            .build();
        let outage = OutageBudgets::default();
        let (counters, invalidations, heartbeat) = match redis {
            None => (counters, None, None),
            Some(shared) => {
                let timeout = Duration::from_millis(500);
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    // A call waits for one reconnection at most, not redis' default six with backoff
                    // (about 6 s): while Redis is down, budgets answer by their policy at once.
                    .set_number_of_retries(1);
                let client = redis::Client::open(shared.redis.clone())?;
                let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
                let counters: Arc<dyn BudgetCounters> = Arc::new(RedisCounters::new(
                    connection.clone(),
                    format!("{}:spend:", shared.key_prefix),
                ));
                let heartbeat = outage.heartbeat(
                    connection.clone(),
                    format!("{}:replicas", shared.key_prefix),
                );
                let invalidations = Invalidations::start(
                    client,
                    connection,
                    format!("{}:identities", shared.key_prefix),
                    identities.clone(),
                );
                (counters, Some(invalidations), Some(heartbeat))
            }
        };
        let writer = SpendWriter::spawn(Arc::clone(&store), SpendWriterConfig::default());
        Ok(Self {
            store,
            _sqlite_claim: sqlite_claim,
            deployments,
            responses,
            counters,
            writer,
            identities,
            invalidations,
            outage,
            heartbeat,
            reported_shed: std::sync::atomic::AtomicU64::new(0),
            counter_failures: Arc::default(),
            reported_counter_failures: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The store, for the admin API.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The deployments added through the admin API.
    pub fn deployments(&self) -> &Arc<dyn DeploymentStore> {
        &self.deployments
    }

    /// The responses of the Responses API.
    pub fn responses(&self) -> &Arc<dyn ResponseStore> {
        &self.responses
    }

    /// Forgets every remembered identity after a key, user or team changed, here and, when
    /// replicas share a Redis, on every replica.
    pub async fn forget_identities(&self) {
        self.identities.invalidate_all();
        if let Some(invalidations) = &self.invalidations {
            invalidations.announce().await;
        }
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

    /// Holds `estimate_usd` on every budget of the call (its key, user and team, and its end
    /// user when `budgets` gives end users one) before it goes upstream; `None` when none has a
    /// budget. Refuses with 400 when a budget has reached its maximum (spend plus what calls in
    /// flight hold). A counter that is missing (never made, or lost by Redis) is rebuilt from
    /// the spend log first, never taken as zero. While the counters cannot be reached, the call
    /// is refused with 503 (`budget_failure_policy: closed`, the default) or served from this
    /// replica's slice of what the budget had left (`local_slice`, see [`crate::outage`]).
    pub async fn reserve(
        &self,
        caller: &Caller,
        estimate_usd: f64,
        budgets: &BudgetSettings,
    ) -> Result<Option<Reservation>, ApiError> {
        let now = unix_seconds();
        let owners = budgeted(caller, budgets);
        if owners.is_empty() {
            return Ok(None);
        }
        let usd = if estimate_usd.is_finite() && estimate_usd > 0.0 {
            estimate_usd
        } else {
            0.0
        };
        let wanted: Vec<Budget> = owners
            .iter()
            .map(|owner| Budget {
                key: counter_key(owner, now),
                max_usd: owner.max_budget.unwrap_or(f64::INFINITY),
            })
            .collect();
        let exceeded = |index: usize, spent: f64| {
            let owner = &owners[index];
            ApiError::budget_exceeded(
                budgets.exceeded_status.0,
                owner.scope,
                &owner.name,
                spent,
                wanted[index].max_usd,
            )
        };
        if self.outage.has_spend() {
            self.hand_over_outage_spend().await;
        }
        // Rounds: one may find counters missing and rebuild them.
        let mut failure = None;
        for _ in 0..3 {
            match self.counters.reserve(&wanted, usd).await {
                Ok(Reserve::Held(now_holds)) => {
                    self.outage.remember(&wanted, &now_holds).await;
                    let key_spend = owners
                        .iter()
                        .position(|owner| owner.scope == CounterScope::Key)
                        .and_then(|index| now_holds.get(index))
                        .map(|holds| (holds - usd).max(0.0));
                    return Ok(Some(Reservation {
                        keys: wanted.into_iter().map(|b| b.key).collect(),
                        usd,
                        local: false,
                        key_spend,
                    }));
                }
                Ok(Reserve::Exceeded { index, spent }) => {
                    self.outage.remember(&wanted[index..=index], &[spent]).await;
                    return Err(exceeded(index, spent));
                }
                Ok(Reserve::Missing(missing)) => {
                    for index in missing {
                        if let Err(err) = self.rebuild(&wanted[index].key).await {
                            failure = Some(err);
                            break;
                        }
                    }
                    if failure.is_some() {
                        break;
                    }
                }
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        let err = failure.unwrap_or(StoreError::Invalid(
            "budget counters kept disappearing while being rebuilt",
        ));
        self.counter_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match budgets.on_counter_failure {
            CounterFailure::Closed => {
                tracing::error!(error = %err, "budget counters cannot be reached; budgeted call refused");
                Err(counters_unreachable())
            }
            CounterFailure::LocalSlice => match self.outage.admit(&wanted, usd).await {
                Ok(()) => {
                    tracing::warn!(
                        error = %err,
                        replicas = self.outage.replicas(),
                        "budget counters cannot be reached; the call is served from this \
                         replica's slice of what its budgets had left"
                    );
                    Ok(Some(Reservation {
                        keys: wanted.into_iter().map(|b| b.key).collect(),
                        usd,
                        local: true,
                        key_spend: None,
                    }))
                }
                Err(Refusal::Exceeded { index, spent }) => Err(exceeded(index, spent)),
                Err(Refusal::Unknown) => {
                    tracing::error!(
                        error = %err,
                        "budget counters cannot be reached and this replica never saw one of \
                         the call's budgets; refused"
                    );
                    Err(counters_unreachable())
                }
            },
        }
    }

    /// The replicas sharing this one's Redis heard from lately (1 without Redis).
    pub fn replicas(&self) -> u64 {
        self.outage.replicas()
    }

    /// Charges the counters, which answer again, with what calls cost while they did not.
    async fn hand_over_outage_spend(&self) {
        for (key, usd) in self.outage.drain() {
            if let Err(err) = self.counters.charge(std::slice::from_ref(&key), usd).await {
                // Still away: keep it for the next time.
                self.outage.settle(std::slice::from_ref(&key), usd);
                tracing::warn!(error = %err, "outage spend not handed to the counters yet");
                return;
            }
        }
    }

    /// Recreates a lost counter from what the spend log holds for its owner and window.
    async fn rebuild(&self, key: &CounterKey) -> Result<(), StoreError> {
        let start_ms = key.period_start.saturating_mul(1_000);
        let end_ms = key.period_end.map(|end| end.saturating_mul(1_000));
        let spent = self
            .store
            .spend_in_window(key.scope, &key.id, start_ms, end_ms)
            .await?;
        tracing::info!(
            scope = key.scope.as_str(),
            id = %key.id,
            spent,
            "budget counter rebuilt from the spend log"
        );
        self.counters.seed(key, spent).await
    }

    /// Budget counter operations that failed (reservations refused or let through, settlements
    /// lost) since the last call, for the metrics.
    pub fn take_new_counter_failures(&self) -> u64 {
        let total = self
            .counter_failures
            .load(std::sync::atomic::Ordering::Relaxed);
        let before = self
            .reported_counter_failures
            .swap(total, std::sync::atomic::Ordering::Relaxed);
        total.saturating_sub(before)
    }

    /// Records a finished call: its spend record goes to the writer (batched, flushed on
    /// shutdown), and its reservation is settled to what it cost (released when it failed), in
    /// a task of its own that the caller may wait for.
    pub fn record(&self, call: &CallRecord) -> Option<Settlement> {
        self.writer.record(spend_record(call));
        let reservation = call.reservation.as_ref()?;
        let usd = call.cost.map_or(0.0, |c| c.usd);
        self.settle(reservation, usd, &call.request_id)
    }

    /// Adds `usd - reserved` to the reservation's counters, in a task.
    fn settle(
        &self,
        reservation: &Reservation,
        usd: f64,
        request_id: &Arc<str>,
    ) -> Option<Settlement> {
        let difference = usd - reservation.usd;
        if difference == 0.0 || !difference.is_finite() {
            return None;
        }
        if reservation.local {
            self.outage.settle(&reservation.keys, difference);
            return None;
        }
        let counters = Arc::clone(&self.counters);
        let keys = Arc::clone(&reservation.keys);
        let request_id = Arc::clone(request_id);
        let failures = Arc::clone(&self.counter_failures);
        Some(Settlement(tokio::spawn(async move {
            if let Err(err) = counters.charge(&keys, difference).await {
                failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(
                    error = %err,
                    %request_id,
                    difference,
                    "a call's reservation could not be settled; its counters keep the estimate"
                );
            }
        })))
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
        Some(id) => store.account(AccountKind::User, id).await?,
        None => None,
    };
    let team = match &key.team_id {
        Some(id) => store.account(AccountKind::Team, id).await?,
        None => None,
    };
    let organization_id = key
        .organization_id
        .as_ref()
        .or_else(|| team.as_ref()?.organization_id.as_ref());
    let organization = match organization_id {
        Some(id) => store.account(AccountKind::Organization, id).await?,
        None => None,
    };
    Ok(Some(Arc::new(Identity {
        key,
        user,
        team,
        organization,
    })))
}

/// Limits of `rpm` and `tpm` when either is set.
fn own_limits(rpm: Option<u64>, tpm: Option<u64>) -> Option<Limits> {
    (rpm.is_some() || tpm.is_some()).then(|| {
        let mut limits = Limits::none();
        if let Some(rpm) = rpm {
            limits = limits.rpm(u32::try_from(rpm).unwrap_or(u32::MAX));
        }
        if let Some(tpm) = tpm {
            limits = limits.tpm(tpm);
        }
        limits
    })
}

fn caller_of(identity: &Identity) -> Caller {
    let key = &identity.key;
    let limits = own_limits(key.rpm_limit, key.tpm_limit);
    let user_limits = identity
        .user
        .as_ref()
        .and_then(|user| own_limits(user.rpm_limit, user.tpm_limit));
    let team_limits = identity
        .team
        .as_ref()
        .and_then(|team| own_limits(team.rpm_limit, team.tpm_limit));
    let models = if key.models.is_empty() {
        identity
            .team
            .as_ref()
            .map(|team| team.models.clone())
            .unwrap_or_default()
    } else {
        key.models.clone()
    };
    // A key's aliases win over its team's, as its `models` replace its team's.
    let model_aliases = match &identity.team {
        Some(team) => team.model_aliases.overlaid_with(&key.aliases),
        None => key.aliases.clone(),
    };
    // An organization's models are a ceiling over its teams' and keys' lists.
    let organization_models = identity
        .organization
        .as_ref()
        .map(|organization| organization.models.clone())
        .unwrap_or_default();
    let mut accounts = vec![Account {
        scope: CounterScope::Key,
        id: key.id.clone(),
        name: key_descriptor(key),
        max_budget: key.max_budget,
        period: key.budget_duration,
    }];
    let owners = [
        (
            CounterScope::User,
            key.user_id.as_ref(),
            identity.user.as_ref(),
        ),
        (
            CounterScope::Team,
            key.team_id.as_ref(),
            identity.team.as_ref(),
        ),
        (
            CounterScope::Organization,
            identity.organization.as_ref().map(|o| &o.id),
            identity.organization.as_ref(),
        ),
    ];
    for (scope, id, account) in owners {
        if let Some(id) = id {
            accounts.push(Account {
                scope,
                id: id.clone(),
                name: id.clone(),
                max_budget: account.and_then(|a| a.max_budget),
                period: account.and_then(|a| a.budget_duration),
            });
        }
    }
    Caller {
        key_id: Arc::from(key.id.as_str()),
        key_alias: key.alias.as_deref().map(Arc::from),
        user_id: key.user_id.as_deref().map(Arc::from),
        team_id: key.team_id.as_deref().map(Arc::from),
        organization_id: identity
            .organization
            .as_ref()
            .map(|o| Arc::from(o.id.as_str())),
        user_role: identity.user.as_ref().and_then(|u| u.user_role),
        limits,
        user_limits,
        team_limits,
        end_user: None,
        models: Arc::from(models),
        organization_models: Arc::from(organization_models),
        model_aliases: Arc::new(model_aliases),
        accounts: Arc::from(accounts),
    }
}

/// How a refusal over a key's budget names the key, as LiteLLM does: its alias and abbreviated
/// secret (`ci (sk-...abcd)`), either alone, or its public id for keys older than the
/// abbreviation.
fn key_descriptor(key: &KeyRecord) -> String {
    match (&key.alias, &key.key_name) {
        (Some(alias), Some(name)) => format!("{alias} ({name})"),
        (Some(alias), None) => alias.clone(),
        (None, Some(name)) => name.clone(),
        (None, None) => key.id.clone(),
    }
}

fn counter_key(account: &Account, now: i64) -> CounterKey {
    CounterKey::new(account.scope, account.id.clone(), account.period, now)
}

/// The accounts of a call that have a budget: its key's, user's and team's, and its end
/// user's when `budgets` gives every end user one.
fn budgeted(caller: &Caller, budgets: &BudgetSettings) -> Vec<Account> {
    let mut owners: Vec<Account> = caller
        .accounts
        .iter()
        .filter(|account| account.max_budget.is_some())
        .cloned()
        .collect();
    if let (Some(end_user), Some(max)) = (&caller.end_user, budgets.max_end_user_budget) {
        owners.push(Account {
            scope: CounterScope::EndUser,
            id: end_user.to_string(),
            name: end_user.to_string(),
            max_budget: Some(max),
            period: None,
        });
    }
    owners
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
        end_user: caller.end_user.as_deref().map(str::to_owned),
        organization_id: caller.organization_id.as_deref().map(str::to_owned),
        call_type: Some(call_type(call.operation).to_owned()),
    }
}

/// LiteLLM's `call_type` of a GenAI operation: `acompletion` for chat (whichever API the client
/// spoke), `aembedding` for embeddings.
fn call_type(operation: &str) -> &str {
    match operation {
        "chat" => "acompletion",
        "embeddings" => "aembedding",
        other => other,
    }
}

/// The answer to a budgeted call whose budgets cannot be checked.
fn counters_unreachable() -> ApiError {
    ApiError::unavailable(
        "budgets cannot be checked right now, so calls with a budget are refused; try again \
         shortly",
    )
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

/// The time now in Unix seconds.
pub fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
