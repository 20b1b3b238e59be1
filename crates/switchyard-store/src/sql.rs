//! What the SQLite and Postgres stores share: the row types and their conversions, the query
//! text, and [`sql_store!`], which implements [`Store`](crate::Store) once for both pools
//! (the budget counters are in `sql_counters.rs`). The two schemas differ only in
//! column types, and every query here is plain SQL both accept (`$n` placeholders, `ON
//! CONFLICT`, `RETURNING`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::account::{AccountKind, AccountRecord, MemberRecord};
use crate::error::{BackendError, StoreError};
use crate::key::KeyHash;
use crate::model::{KeyRecord, SpendRecord, SpendTotal};
use crate::period::BudgetPeriod;

/// Most spend records per `INSERT`: 23 parameters each stays well under SQLite's 32 766 and
/// Postgres's 65 535 bind parameters, and a prepared statement this size stays small (SQLite's
/// for 256 rows took about 0.7 MB of the statement cache) while its per-statement cost is
/// already shared by 32 rows.
pub(crate) const SPEND_ROWS_PER_INSERT: usize = 32;

/// `records` cut into `INSERT`s of power-of-two sizes, largest first (at most
/// [`SPEND_ROWS_PER_INSERT`]): a batch of any size is written with statements of at most six
/// distinct texts, so each is parsed once per connection and found in the statement cache after
/// that. Batches of whatever size arrived (one per second at low rates) each had a statement text
/// of their own, and SQLite parsed it anew: about 30k instructions per record.
pub(crate) fn spend_chunks<T>(mut records: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if records.is_empty() {
            return None;
        }
        let size = SPEND_ROWS_PER_INSERT.min(1 << records.len().ilog2());
        let (chunk, rest) = records.split_at(size);
        records = rest;
        Some(chunk)
    })
}

pub(crate) const KEY_COLUMNS: &str = "id, key_hash, alias, models, aliases, max_budget, \
     budget_duration, rpm_limit, tpm_limit, expires_at, metadata, user_id, team_id, \
     organization_id, key_name, blocked, created_at, updated_at";

pub(crate) const ACCOUNT_COLUMNS: &str = "kind, id, alias, max_budget, budget_duration, \
     rpm_limit, tpm_limit, models, model_aliases, metadata, blocked, organization_id, user_role, \
     user_email, created_at, updated_at";

pub(crate) const MEMBER_COLUMNS: &str = "kind, account_id, user_id, role, created_at";

pub(crate) const SPEND_COLUMNS: &str = "request_id, time_ms, key_id, key_alias, user_id, \
     team_id, model_requested, model_group, deployment, provider, input_tokens, output_tokens, \
     cached_tokens, cost_usd, cost_estimated, latency_ms, status, cache_hit, experiment, variant, \
     end_user, organization_id, call_type";

pub(crate) const INSERT_KEY: &str = "INSERT INTO virtual_keys (id, key_hash, alias, models, \
     aliases, max_budget, budget_duration, rpm_limit, tpm_limit, expires_at, metadata, user_id, \
     team_id, organization_id, key_name, blocked, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

/// A replaced account keeps its kind, id and `created_at`.
pub(crate) const UPSERT_ACCOUNT: &str = "INSERT INTO accounts (kind, id, alias, max_budget, \
     budget_duration, rpm_limit, tpm_limit, models, model_aliases, metadata, blocked, \
     organization_id, user_role, user_email, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
     ON CONFLICT (kind, id) DO UPDATE SET alias = excluded.alias, \
     max_budget = excluded.max_budget, budget_duration = excluded.budget_duration, \
     rpm_limit = excluded.rpm_limit, tpm_limit = excluded.tpm_limit, models = excluded.models, \
     model_aliases = excluded.model_aliases, metadata = excluded.metadata, blocked = excluded.blocked, \
     organization_id = excluded.organization_id, user_role = excluded.user_role, \
     user_email = excluded.user_email, updated_at = excluded.updated_at";

/// A member added again keeps `created_at` and takes the new role.
pub(crate) const UPSERT_MEMBER: &str = "INSERT INTO members (kind, account_id, user_id, role, \
     created_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (kind, account_id, user_id) DO UPDATE SET role = excluded.role";

/// Current unix time in seconds (0 if the clock is before 1970).
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Counts go into signed 64-bit columns; nothing real comes near `i64::MAX`.
pub(crate) fn to_db(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A count read back; a negative value can only come from outside this crate.
pub(crate) fn from_db(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> String {
    // Serializing `Vec<String>`, `ModelAliases` or `serde_json::Value` cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| BackendError::Corrupt(what).into())
}

fn period(text: Option<String>) -> Result<Option<BudgetPeriod>, StoreError> {
    text.map(|text| {
        text.parse()
            .map_err(|_| BackendError::Corrupt("budget period").into())
    })
    .transpose()
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: String,
    key_hash: String,
    alias: Option<String>,
    models: String,
    aliases: String,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    expires_at: Option<i64>,
    metadata: String,
    user_id: Option<String>,
    team_id: Option<String>,
    organization_id: Option<String>,
    key_name: Option<String>,
    blocked: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<KeyRow> for KeyRecord {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> Result<Self, StoreError> {
        Ok(KeyRecord {
            id: row.id,
            key_hash: KeyHash::from_hex(&row.key_hash)
                .map_err(|_| BackendError::Corrupt("key hash"))?,
            alias: row.alias,
            models: from_json(&row.models, "model list")?,
            aliases: from_json(&row.aliases, "model aliases")?,
            max_budget: row.max_budget,
            budget_duration: period(row.budget_duration)?,
            rpm_limit: row.rpm_limit.map(from_db),
            tpm_limit: row.tpm_limit.map(from_db),
            expires_at: row.expires_at,
            metadata: from_json(&row.metadata, "metadata")?,
            user_id: row.user_id,
            team_id: row.team_id,
            organization_id: row.organization_id,
            key_name: row.key_name,
            blocked: row.blocked,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    kind: String,
    id: String,
    alias: Option<String>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    models: String,
    model_aliases: String,
    metadata: String,
    blocked: bool,
    organization_id: Option<String>,
    user_role: Option<String>,
    user_email: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<AccountRow> for AccountRecord {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        Ok(AccountRecord {
            kind: account_kind(&row.kind)?,
            id: row.id,
            alias: row.alias,
            max_budget: row.max_budget,
            budget_duration: period(row.budget_duration)?,
            rpm_limit: row.rpm_limit.map(from_db),
            tpm_limit: row.tpm_limit.map(from_db),
            models: from_json(&row.models, "model list")?,
            model_aliases: from_json(&row.model_aliases, "model aliases")?,
            metadata: from_json(&row.metadata, "metadata")?,
            blocked: row.blocked,
            organization_id: row.organization_id,
            user_role: row
                .user_role
                .map(|role| role.parse())
                .transpose()
                .map_err(|_| BackendError::Corrupt("user role"))?,
            user_email: row.user_email,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemberRow {
    kind: String,
    account_id: String,
    user_id: String,
    role: String,
    created_at: i64,
}

impl TryFrom<MemberRow> for MemberRecord {
    type Error = StoreError;

    fn try_from(row: MemberRow) -> Result<Self, StoreError> {
        Ok(MemberRecord {
            kind: account_kind(&row.kind)?,
            account_id: row.account_id,
            user_id: row.user_id,
            role: row
                .role
                .parse()
                .map_err(|_| BackendError::Corrupt("member role"))?,
            created_at: row.created_at,
        })
    }
}

fn account_kind(text: &str) -> Result<AccountKind, StoreError> {
    AccountKind::from_stored(text).ok_or_else(|| BackendError::Corrupt("account kind").into())
}

#[derive(sqlx::FromRow)]
pub(crate) struct SpendRow {
    request_id: String,
    time_ms: i64,
    key_id: Option<String>,
    key_alias: Option<String>,
    user_id: Option<String>,
    team_id: Option<String>,
    model_requested: String,
    model_group: Option<String>,
    deployment: Option<String>,
    provider: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    cached_tokens: i64,
    cost_usd: f64,
    cost_estimated: bool,
    latency_ms: i64,
    status: i32,
    cache_hit: bool,
    experiment: Option<String>,
    variant: Option<String>,
    end_user: Option<String>,
    organization_id: Option<String>,
    call_type: Option<String>,
}

impl From<SpendRow> for SpendRecord {
    fn from(row: SpendRow) -> Self {
        SpendRecord {
            request_id: row.request_id,
            time_ms: row.time_ms,
            key_id: row.key_id,
            key_alias: row.key_alias,
            user_id: row.user_id,
            team_id: row.team_id,
            model_requested: row.model_requested,
            model_group: row.model_group,
            deployment: row.deployment,
            provider: row.provider,
            input_tokens: from_db(row.input_tokens),
            output_tokens: from_db(row.output_tokens),
            cached_tokens: from_db(row.cached_tokens),
            cost_usd: row.cost_usd,
            cost_estimated: row.cost_estimated,
            latency_ms: from_db(row.latency_ms),
            status: u16::try_from(row.status).unwrap_or(0),
            cache_hit: row.cache_hit,
            experiment: row.experiment,
            variant: row.variant,
            end_user: row.end_user,
            organization_id: row.organization_id,
            call_type: row.call_type,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TotalRow {
    grp: Option<String>,
    requests: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
}

impl From<TotalRow> for SpendTotal {
    fn from(row: TotalRow) -> Self {
        SpendTotal {
            group: row.grp,
            requests: from_db(row.requests),
            input_tokens: from_db(row.input_tokens),
            output_tokens: from_db(row.output_tokens),
            cost_usd: row.cost_usd,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SeriesRow {
    start_ms: i64,
    model: String,
    deployment: Option<String>,
    latency_bucket: i32,
    requests: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
}

/// The `SELECT` of a spend series in buckets of `bucket_ms`, up to its `time_ms >= ` bind:
/// one row per bucket, model, deployment and latency bucket ([`crate::LATENCY_BOUNDS_MS`]).
pub(crate) fn series_select(bucket_ms: i64) -> String {
    let bucket_ms = bucket_ms.max(1);
    let mut latency = String::from("CASE");
    for (i, bound) in crate::LATENCY_BOUNDS_MS.iter().enumerate() {
        latency.push_str(&format!(" WHEN latency_ms <= {bound} THEN {i}"));
    }
    latency.push_str(&format!(" ELSE {} END", crate::LATENCY_BOUNDS_MS.len()));
    format!(
        "SELECT (time_ms / {bucket_ms}) * {bucket_ms} AS start_ms, \
         COALESCE(model_group, model_requested) AS model, deployment, \
         CAST({latency} AS INTEGER) AS latency_bucket, \
         COUNT(*) AS requests, \
         CAST(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS BIGINT) AS errors, \
         CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, \
         CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
         CAST(SUM(cost_usd) AS DOUBLE PRECISION) AS cost_usd \
         FROM spend_logs WHERE time_ms >= "
    )
}

/// Rows of one bucket, model and deployment (sorted together) folded into one [`SpendBucket`].
pub(crate) fn fold_series(rows: Vec<SeriesRow>) -> Vec<crate::SpendBucket> {
    let mut buckets: Vec<crate::SpendBucket> = Vec::new();
    for row in rows {
        let same = buckets.last().is_some_and(|last| {
            last.start_ms == row.start_ms
                && last.model == row.model
                && last.deployment == row.deployment
        });
        if !same {
            buckets.push(crate::SpendBucket {
                start_ms: row.start_ms,
                model: row.model,
                deployment: row.deployment,
                requests: 0,
                errors: 0,
                input_tokens: 0,
                output_tokens: 0,
                cost_usd: 0.0,
                latency_counts: vec![0; crate::LATENCY_BOUNDS_MS.len() + 1],
            });
        }
        let Some(bucket) = buckets.last_mut() else {
            continue;
        };
        let requests = from_db(row.requests);
        bucket.requests += requests;
        bucket.errors += from_db(row.errors);
        bucket.input_tokens += from_db(row.input_tokens);
        bucket.output_tokens += from_db(row.output_tokens);
        bucket.cost_usd += row.cost_usd;
        let slot = usize::try_from(row.latency_bucket)
            .unwrap_or(0)
            .min(crate::LATENCY_BOUNDS_MS.len());
        bucket.latency_counts[slot] += requests;
    }
    buckets
}

/// ` WHERE ...` for the keys `filter` names (its paging aside).
pub(crate) fn key_conditions<DB: sqlx::Database>(
    query: &mut sqlx::QueryBuilder<DB>,
    filter: &crate::model::KeyFilter,
) where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    query.push(" WHERE TRUE");
    if let Some(user_id) = &filter.user_id {
        query.push(" AND user_id = ").push_bind(user_id.clone());
    }
    if let Some(team_id) = &filter.team_id {
        query.push(" AND team_id = ").push_bind(team_id.clone());
    }
    if let Some(organization_id) = &filter.organization_id {
        query
            .push(" AND organization_id = ")
            .push_bind(organization_id.clone());
    }
}

/// ` WHERE ...` for the accounts `filter` names (its paging aside).
pub(crate) fn account_conditions<DB: sqlx::Database>(
    query: &mut sqlx::QueryBuilder<DB>,
    filter: &crate::account::AccountFilter,
) where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> &'static str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    query.push(" WHERE kind = ").push_bind(filter.kind.as_str());
    if let Some(organization_id) = &filter.organization_id {
        query
            .push(" AND organization_id = ")
            .push_bind(organization_id.clone());
    }
}

/// Implements [`Store`](crate::Store) for a struct with a `pool: sqlx::Pool<$db>` field and a
/// `spend_pool(&self) -> &sqlx::Pool<$db>` method (the pool spend records are written through).
/// A macro rather than generic code: the queries
/// are the same text for both databases, and sqlx's generic bounds would be longer than them.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn create_key(&self, key: &$crate::KeyRecord) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::sql::INSERT_KEY)
                    .bind(&key.id)
                    .bind(key.key_hash.to_hex())
                    .bind(key.alias.as_deref())
                    .bind($crate::sql::json_text(&key.models))
                    .bind($crate::sql::json_text(&key.aliases))
                    .bind(key.max_budget)
                    .bind(key.budget_duration.map(|period| period.to_string()))
                    .bind(key.rpm_limit.map($crate::sql::to_db))
                    .bind(key.tpm_limit.map($crate::sql::to_db))
                    .bind(key.expires_at)
                    .bind($crate::sql::json_text(&key.metadata))
                    .bind(key.user_id.as_deref())
                    .bind(key.team_id.as_deref())
                    .bind(key.organization_id.as_deref())
                    .bind(key.key_name.as_deref())
                    .bind(key.blocked)
                    .bind(key.created_at)
                    .bind(key.updated_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|error| $crate::StoreError::from_insert(error, "key"))?;
                Ok(())
            }

            async fn key_by_hash(
                &self,
                hash: &$crate::KeyHash,
            ) -> Result<Option<$crate::KeyRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::KEY_COLUMNS)
                    .push(" FROM virtual_keys WHERE key_hash = ")
                    .push_bind(hash.to_hex());
                let row: Option<$crate::sql::KeyRow> =
                    query.build_query_as().fetch_optional(&self.pool).await?;
                row.map($crate::KeyRecord::try_from).transpose()
            }

            async fn key_by_id(
                &self,
                id: &str,
            ) -> Result<Option<$crate::KeyRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::KEY_COLUMNS)
                    .push(" FROM virtual_keys WHERE id = ")
                    .push_bind(id);
                let row: Option<$crate::sql::KeyRow> =
                    query.build_query_as().fetch_optional(&self.pool).await?;
                row.map($crate::KeyRecord::try_from).transpose()
            }

            async fn update_key(
                &self,
                id: &str,
                update: &$crate::KeyUpdate,
            ) -> Result<$crate::KeyRecord, $crate::StoreError> {
                let mut query =
                    sqlx::QueryBuilder::<$db>::new("UPDATE virtual_keys SET updated_at = ");
                query.push_bind($crate::sql::now_unix());
                if let Some(hash) = &update.key_hash {
                    query.push(", key_hash = ").push_bind(hash.to_hex());
                }
                if let Some(alias) = &update.alias {
                    query.push(", alias = ").push_bind(alias.clone());
                }
                if let Some(models) = &update.models {
                    query
                        .push(", models = ")
                        .push_bind($crate::sql::json_text(models));
                }
                if let Some(aliases) = &update.aliases {
                    query
                        .push(", aliases = ")
                        .push_bind($crate::sql::json_text(aliases));
                }
                if let Some(max_budget) = update.max_budget {
                    query.push(", max_budget = ").push_bind(max_budget);
                }
                if let Some(period) = update.budget_duration {
                    query
                        .push(", budget_duration = ")
                        .push_bind(period.map(|period| period.to_string()));
                }
                if let Some(rpm) = update.rpm_limit {
                    query
                        .push(", rpm_limit = ")
                        .push_bind(rpm.map($crate::sql::to_db));
                }
                if let Some(tpm) = update.tpm_limit {
                    query
                        .push(", tpm_limit = ")
                        .push_bind(tpm.map($crate::sql::to_db));
                }
                if let Some(expires_at) = update.expires_at {
                    query.push(", expires_at = ").push_bind(expires_at);
                }
                if let Some(metadata) = &update.metadata {
                    query
                        .push(", metadata = ")
                        .push_bind($crate::sql::json_text(metadata));
                }
                if let Some(user_id) = &update.user_id {
                    query.push(", user_id = ").push_bind(user_id.clone());
                }
                if let Some(team_id) = &update.team_id {
                    query.push(", team_id = ").push_bind(team_id.clone());
                }
                if let Some(organization_id) = &update.organization_id {
                    query
                        .push(", organization_id = ")
                        .push_bind(organization_id.clone());
                }
                if let Some(blocked) = update.blocked {
                    query.push(", blocked = ").push_bind(blocked);
                }
                query
                    .push(" WHERE id = ")
                    .push_bind(id)
                    .push(" RETURNING ")
                    .push($crate::sql::KEY_COLUMNS);
                let row: Option<$crate::sql::KeyRow> = query
                    .build_query_as()
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|error| $crate::StoreError::from_insert(error, "key"))?;
                row.ok_or($crate::StoreError::NotFound("key"))
                    .and_then($crate::KeyRecord::try_from)
            }

            async fn delete_key(&self, id: &str) -> Result<(), $crate::StoreError> {
                let done = sqlx::query("DELETE FROM virtual_keys WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound("key"));
                }
                Ok(())
            }

            async fn list_keys(
                &self,
                filter: &$crate::KeyFilter,
            ) -> Result<Vec<$crate::KeyRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query.push($crate::sql::KEY_COLUMNS).push(" FROM virtual_keys");
                $crate::sql::key_conditions(&mut query, filter);
                query
                    .push(" ORDER BY created_at, id LIMIT ")
                    .push_bind(i64::from(filter.limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(filter.offset));
                let rows: Vec<$crate::sql::KeyRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::KeyRecord::try_from).collect()
            }

            async fn count_keys(
                &self,
                filter: &$crate::KeyFilter,
            ) -> Result<u64, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM virtual_keys");
                $crate::sql::key_conditions(&mut query, filter);
                let count: i64 = query.build_query_scalar().fetch_one(&self.pool).await?;
                Ok($crate::sql::from_db(count))
            }

            async fn upsert_account(
                &self,
                account: &$crate::AccountRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::sql::UPSERT_ACCOUNT)
                    .bind(account.kind.as_str())
                    .bind(&account.id)
                    .bind(account.alias.as_deref())
                    .bind(account.max_budget)
                    .bind(account.budget_duration.map(|period| period.to_string()))
                    .bind(account.rpm_limit.map($crate::sql::to_db))
                    .bind(account.tpm_limit.map($crate::sql::to_db))
                    .bind($crate::sql::json_text(&account.models))
                    .bind($crate::sql::json_text(&account.model_aliases))
                    .bind($crate::sql::json_text(&account.metadata))
                    .bind(account.blocked)
                    .bind(account.organization_id.as_deref())
                    .bind(account.user_role.map(|role| role.as_str()))
                    .bind(account.user_email.as_deref())
                    .bind(account.created_at)
                    .bind(account.updated_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn account(
                &self,
                kind: $crate::AccountKind,
                id: &str,
            ) -> Result<Option<$crate::AccountRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::ACCOUNT_COLUMNS)
                    .push(" FROM accounts WHERE kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND id = ")
                    .push_bind(id);
                let row: Option<$crate::sql::AccountRow> =
                    query.build_query_as().fetch_optional(&self.pool).await?;
                row.map($crate::AccountRecord::try_from).transpose()
            }

            async fn delete_account(
                &self,
                kind: $crate::AccountKind,
                id: &str,
            ) -> Result<(), $crate::StoreError> {
                let mut transaction = self.pool.begin().await?;
                let done = sqlx::query("DELETE FROM accounts WHERE kind = $1 AND id = $2")
                    .bind(kind.as_str())
                    .bind(id)
                    .execute(&mut *transaction)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(kind.as_str()));
                }
                let memberships = match kind {
                    $crate::AccountKind::User => sqlx::query("DELETE FROM members WHERE user_id = $1")
                        .bind(id),
                    _ => sqlx::query("DELETE FROM members WHERE kind = $1 AND account_id = $2")
                        .bind(kind.as_str())
                        .bind(id),
                };
                memberships.execute(&mut *transaction).await?;
                transaction.commit().await?;
                Ok(())
            }

            async fn list_accounts(
                &self,
                filter: &$crate::AccountFilter,
            ) -> Result<Vec<$crate::AccountRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query.push($crate::sql::ACCOUNT_COLUMNS).push(" FROM accounts");
                $crate::sql::account_conditions(&mut query, filter);
                query
                    .push(" ORDER BY id LIMIT ")
                    .push_bind(i64::from(filter.limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(filter.offset));
                let rows: Vec<$crate::sql::AccountRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::AccountRecord::try_from).collect()
            }

            async fn count_accounts(
                &self,
                filter: &$crate::AccountFilter,
            ) -> Result<u64, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM accounts");
                $crate::sql::account_conditions(&mut query, filter);
                let count: i64 = query.build_query_scalar().fetch_one(&self.pool).await?;
                Ok($crate::sql::from_db(count))
            }

            async fn set_member(
                &self,
                member: &$crate::MemberRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::sql::UPSERT_MEMBER)
                    .bind(member.kind.as_str())
                    .bind(&member.account_id)
                    .bind(&member.user_id)
                    .bind(member.role.as_str())
                    .bind(member.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn remove_member(
                &self,
                kind: $crate::AccountKind,
                account_id: &str,
                user_id: &str,
            ) -> Result<(), $crate::StoreError> {
                let done = sqlx::query(
                    "DELETE FROM members WHERE kind = $1 AND account_id = $2 AND user_id = $3",
                )
                .bind(kind.as_str())
                .bind(account_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound("member"));
                }
                Ok(())
            }

            async fn members(
                &self,
                kind: $crate::AccountKind,
                account_id: &str,
            ) -> Result<Vec<$crate::MemberRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::MEMBER_COLUMNS)
                    .push(" FROM members WHERE kind = ")
                    .push_bind(kind.as_str())
                    .push(" AND account_id = ")
                    .push_bind(account_id)
                    .push(" ORDER BY user_id");
                let rows: Vec<$crate::sql::MemberRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::MemberRecord::try_from).collect()
            }

            async fn memberships(
                &self,
                user_id: &str,
            ) -> Result<Vec<$crate::MemberRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::MEMBER_COLUMNS)
                    .push(" FROM members WHERE user_id = ")
                    .push_bind(user_id)
                    .push(" ORDER BY kind, account_id");
                let rows: Vec<$crate::sql::MemberRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::MemberRecord::try_from).collect()
            }

            async fn insert_spend(
                &self,
                records: &[$crate::SpendRecord],
            ) -> Result<u64, $crate::StoreError> {
                if records.is_empty() {
                    return Ok(0);
                }
                let mut inserted = 0;
                let mut transaction = self.spend_pool().begin().await?;
                for chunk in $crate::sql::spend_chunks(records) {
                    let mut query = sqlx::QueryBuilder::<$db>::new("INSERT INTO spend_logs (");
                    query.push($crate::sql::SPEND_COLUMNS).push(") ");
                    query.push_values(chunk, |mut row, record| {
                        row.push_bind(record.request_id.as_str())
                            .push_bind(record.time_ms)
                            .push_bind(record.key_id.as_deref())
                            .push_bind(record.key_alias.as_deref())
                            .push_bind(record.user_id.as_deref())
                            .push_bind(record.team_id.as_deref())
                            .push_bind(record.model_requested.as_str())
                            .push_bind(record.model_group.as_deref())
                            .push_bind(record.deployment.as_deref())
                            .push_bind(record.provider.as_deref())
                            .push_bind($crate::sql::to_db(record.input_tokens))
                            .push_bind($crate::sql::to_db(record.output_tokens))
                            .push_bind($crate::sql::to_db(record.cached_tokens))
                            .push_bind(record.cost_usd)
                            .push_bind(record.cost_estimated)
                            .push_bind($crate::sql::to_db(record.latency_ms))
                            .push_bind(i32::from(record.status))
                            .push_bind(record.cache_hit)
                            .push_bind(record.experiment.as_deref())
                            .push_bind(record.variant.as_deref())
                            .push_bind(record.end_user.as_deref())
                            .push_bind(record.organization_id.as_deref())
                            .push_bind(record.call_type.as_deref());
                    });
                    query.push(" ON CONFLICT (request_id) DO NOTHING");
                    inserted += query
                        .build()
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected();
                }
                transaction.commit().await?;
                Ok(inserted)
            }

            async fn spend_logs(
                &self,
                filter: &$crate::SpendFilter,
            ) -> Result<Vec<$crate::SpendRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::SPEND_COLUMNS)
                    .push(" FROM spend_logs WHERE TRUE");
                if let Some(request_id) = &filter.request_id {
                    query.push(" AND request_id = ").push_bind(request_id.clone());
                }
                if let Some(key_id) = &filter.key_id {
                    query.push(" AND key_id = ").push_bind(key_id.clone());
                }
                if let Some(user_id) = &filter.user_id {
                    query.push(" AND user_id = ").push_bind(user_id.clone());
                }
                if let Some(team_id) = &filter.team_id {
                    query.push(" AND team_id = ").push_bind(team_id.clone());
                }
                if let Some(model) = &filter.model {
                    query
                        .push(" AND (model_group = ")
                        .push_bind(model.clone())
                        .push(" OR model_requested = ")
                        .push_bind(model.clone())
                        .push(")");
                }
                if let Some(start_ms) = filter.start_ms {
                    query.push(" AND time_ms >= ").push_bind(start_ms);
                }
                if let Some(end_ms) = filter.end_ms {
                    query.push(" AND time_ms < ").push_bind(end_ms);
                }
                if let Some(after) = &filter.after {
                    // A row value, so both databases seek the (time_ms, request_id) index.
                    query
                        .push(" AND (time_ms, request_id) < (")
                        .push_bind(after.time_ms)
                        .push(", ")
                        .push_bind(after.request_id.clone())
                        .push(")");
                }
                query
                    .push(" ORDER BY time_ms DESC, request_id DESC LIMIT ")
                    .push_bind(i64::from(filter.limit));
                let rows: Vec<$crate::sql::SpendRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map($crate::SpendRecord::from).collect())
            }

            async fn spend_in_window(
                &self,
                scope: $crate::CounterScope,
                id: &str,
                start_ms: i64,
                end_ms: Option<i64>,
            ) -> Result<f64, $crate::StoreError> {
                let column = match scope {
                    $crate::CounterScope::Key => "key_id",
                    $crate::CounterScope::User => "user_id",
                    $crate::CounterScope::Team => "team_id",
                    $crate::CounterScope::EndUser => "end_user",
                    $crate::CounterScope::Organization => "organization_id",
                };
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT CAST(COALESCE(SUM(cost_usd), 0) AS DOUBLE PRECISION) FROM spend_logs WHERE ",
                );
                query
                    .push(column)
                    .push(" = ")
                    .push_bind(id.to_owned())
                    .push(" AND time_ms >= ")
                    .push_bind(start_ms);
                if let Some(end_ms) = end_ms {
                    query.push(" AND time_ms < ").push_bind(end_ms);
                }
                let spent: f64 = query.build_query_scalar().fetch_one(&self.pool).await?;
                Ok(spent)
            }

            async fn spend_totals(
                &self,
                group_by: $crate::SpendGroup,
                start_ms: i64,
                end_ms: i64,
            ) -> Result<Vec<$crate::SpendTotal>, $crate::StoreError> {
                let column = match group_by {
                    $crate::SpendGroup::Key => "key_id",
                    $crate::SpendGroup::User => "user_id",
                    $crate::SpendGroup::Team => "team_id",
                    $crate::SpendGroup::Model => "COALESCE(model_group, model_requested)",
                };
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push(column)
                    .push(
                        " AS grp, COUNT(*) AS requests, \
                         CAST(SUM(input_tokens) AS BIGINT) AS input_tokens, \
                         CAST(SUM(output_tokens) AS BIGINT) AS output_tokens, \
                         SUM(cost_usd) AS cost_usd \
                         FROM spend_logs WHERE time_ms >= ",
                    )
                    .push_bind(start_ms)
                    .push(" AND time_ms < ")
                    .push_bind(end_ms)
                    .push(" GROUP BY ")
                    .push(column)
                    .push(" ORDER BY SUM(cost_usd) DESC, ")
                    .push(column)
                    .push(" IS NULL, ")
                    .push(column);
                let rows: Vec<$crate::sql::TotalRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map($crate::SpendTotal::from).collect())
            }

            async fn spend_series(
                &self,
                start_ms: i64,
                end_ms: i64,
                bucket_ms: i64,
            ) -> Result<Vec<$crate::SpendBucket>, $crate::StoreError> {
                let mut query =
                    sqlx::QueryBuilder::<$db>::new($crate::sql::series_select(bucket_ms));
                query
                    .push_bind(start_ms)
                    .push(" AND time_ms < ")
                    .push_bind(end_ms)
                    .push(" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4");
                let rows: Vec<$crate::sql::SeriesRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                Ok($crate::sql::fold_series(rows))
            }
        }
    };
}

pub(crate) use sql_store;

#[cfg(test)]
mod tests {
    use super::{SPEND_ROWS_PER_INSERT, spend_chunks};

    #[test]
    fn spend_batches_are_cut_into_power_of_two_inserts_largest_first() {
        let sizes = |n: usize| {
            let records = vec![0u8; n];
            spend_chunks(&records).map(<[u8]>::len).collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(7), [4, 2, 1]);
        assert_eq!(sizes(44), [32, 8, 4]);
        assert_eq!(sizes(75), [32, 32, 8, 2, 1]);
        // Every record is written once, in order, whatever the batch size.
        for n in 0..=1100 {
            let records: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = spend_chunks(&records).collect();
            assert!(chunks.iter().all(|c| c.len().is_power_of_two()));
            assert!(chunks.iter().all(|c| c.len() <= SPEND_ROWS_PER_INSERT));
            assert_eq!(chunks.concat(), records);
        }
    }
}
