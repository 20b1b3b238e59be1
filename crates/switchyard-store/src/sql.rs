//! What the SQLite and Postgres stores share: the row types and their conversions, the query
//! text, and [`sql_store!`], which implements [`Store`](crate::Store) once for both pools
//! (the budget counters are in `sql_counters.rs`). The two schemas differ only in
//! column types, and every query here is plain SQL both accept (`$n` placeholders, `ON
//! CONFLICT`, `RETURNING`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{BackendError, StoreError};
use crate::key::KeyHash;
use crate::model::{KeyRecord, SpendRecord, SpendTotal, TeamRecord, UserRecord};
use crate::period::BudgetPeriod;

/// Spend records per `INSERT`: 20 parameters each stays under SQLite's 32 766 and Postgres's
/// 65 535 bind parameters.
pub(crate) const SPEND_ROWS_PER_INSERT: usize = 500;

pub(crate) const KEY_COLUMNS: &str = "id, key_hash, alias, models, max_budget, budget_duration, \
     rpm_limit, tpm_limit, expires_at, metadata, user_id, team_id, blocked, created_at, updated_at";

pub(crate) const USER_COLUMNS: &str = "id, alias, max_budget, budget_duration, rpm_limit, \
     tpm_limit, metadata, blocked, created_at";

pub(crate) const TEAM_COLUMNS: &str = "id, alias, max_budget, budget_duration, rpm_limit, \
     tpm_limit, models, metadata, blocked, created_at";

pub(crate) const SPEND_COLUMNS: &str = "request_id, time_ms, key_id, key_alias, user_id, \
     team_id, model_requested, model_group, deployment, provider, input_tokens, output_tokens, \
     cached_tokens, cost_usd, cost_estimated, latency_ms, status, cache_hit, experiment, variant, \
     end_user";

pub(crate) const INSERT_KEY: &str = "INSERT INTO virtual_keys (id, key_hash, alias, models, \
     max_budget, budget_duration, rpm_limit, tpm_limit, expires_at, metadata, user_id, team_id, \
     blocked, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

pub(crate) const UPSERT_USER: &str = "INSERT INTO users (id, alias, max_budget, \
     budget_duration, rpm_limit, tpm_limit, metadata, blocked, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (id) DO UPDATE SET alias = excluded.alias, max_budget = excluded.max_budget, \
     budget_duration = excluded.budget_duration, rpm_limit = excluded.rpm_limit, \
     tpm_limit = excluded.tpm_limit, metadata = excluded.metadata, blocked = excluded.blocked";

pub(crate) const UPSERT_TEAM: &str = "INSERT INTO teams (id, alias, max_budget, \
     budget_duration, rpm_limit, tpm_limit, models, metadata, blocked, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (id) DO UPDATE SET alias = excluded.alias, max_budget = excluded.max_budget, \
     budget_duration = excluded.budget_duration, rpm_limit = excluded.rpm_limit, \
     tpm_limit = excluded.tpm_limit, models = excluded.models, metadata = excluded.metadata, \
     blocked = excluded.blocked";

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
    // Serializing a `Vec<String>` or a `serde_json::Value` to a string cannot fail.
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
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    expires_at: Option<i64>,
    metadata: String,
    user_id: Option<String>,
    team_id: Option<String>,
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
            max_budget: row.max_budget,
            budget_duration: period(row.budget_duration)?,
            rpm_limit: row.rpm_limit.map(from_db),
            tpm_limit: row.tpm_limit.map(from_db),
            expires_at: row.expires_at,
            metadata: from_json(&row.metadata, "metadata")?,
            user_id: row.user_id,
            team_id: row.team_id,
            blocked: row.blocked,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    alias: Option<String>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    metadata: String,
    blocked: bool,
    created_at: i64,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(UserRecord {
            id: row.id,
            alias: row.alias,
            max_budget: row.max_budget,
            budget_duration: period(row.budget_duration)?,
            rpm_limit: row.rpm_limit.map(from_db),
            tpm_limit: row.tpm_limit.map(from_db),
            metadata: from_json(&row.metadata, "metadata")?,
            blocked: row.blocked,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TeamRow {
    id: String,
    alias: Option<String>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    models: String,
    metadata: String,
    blocked: bool,
    created_at: i64,
}

impl TryFrom<TeamRow> for TeamRecord {
    type Error = StoreError;

    fn try_from(row: TeamRow) -> Result<Self, StoreError> {
        Ok(TeamRecord {
            id: row.id,
            alias: row.alias,
            max_budget: row.max_budget,
            budget_duration: period(row.budget_duration)?,
            rpm_limit: row.rpm_limit.map(from_db),
            tpm_limit: row.tpm_limit.map(from_db),
            models: from_json(&row.models, "model list")?,
            metadata: from_json(&row.metadata, "metadata")?,
            blocked: row.blocked,
            created_at: row.created_at,
        })
    }
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

/// Implements [`Store`](crate::Store) for a struct with a `pool: sqlx::Pool<$db>` field. A macro rather than generic code: the queries
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
                    .bind(key.max_budget)
                    .bind(key.budget_duration.map(|period| period.to_string()))
                    .bind(key.rpm_limit.map($crate::sql::to_db))
                    .bind(key.tpm_limit.map($crate::sql::to_db))
                    .bind(key.expires_at)
                    .bind($crate::sql::json_text(&key.metadata))
                    .bind(key.user_id.as_deref())
                    .bind(key.team_id.as_deref())
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
                query
                    .push($crate::sql::KEY_COLUMNS)
                    .push(" FROM virtual_keys WHERE TRUE");
                if let Some(user_id) = &filter.user_id {
                    query.push(" AND user_id = ").push_bind(user_id.clone());
                }
                if let Some(team_id) = &filter.team_id {
                    query.push(" AND team_id = ").push_bind(team_id.clone());
                }
                query
                    .push(" ORDER BY created_at, id LIMIT ")
                    .push_bind(i64::from(filter.limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(filter.offset));
                let rows: Vec<$crate::sql::KeyRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::KeyRecord::try_from).collect()
            }

            async fn upsert_user(
                &self,
                user: &$crate::UserRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::sql::UPSERT_USER)
                    .bind(&user.id)
                    .bind(user.alias.as_deref())
                    .bind(user.max_budget)
                    .bind(user.budget_duration.map(|period| period.to_string()))
                    .bind(user.rpm_limit.map($crate::sql::to_db))
                    .bind(user.tpm_limit.map($crate::sql::to_db))
                    .bind($crate::sql::json_text(&user.metadata))
                    .bind(user.blocked)
                    .bind(user.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn user(
                &self,
                id: &str,
            ) -> Result<Option<$crate::UserRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::USER_COLUMNS)
                    .push(" FROM users WHERE id = ")
                    .push_bind(id);
                let row: Option<$crate::sql::UserRow> =
                    query.build_query_as().fetch_optional(&self.pool).await?;
                row.map($crate::UserRecord::try_from).transpose()
            }

            async fn delete_user(&self, id: &str) -> Result<(), $crate::StoreError> {
                let done = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound("user"));
                }
                Ok(())
            }

            async fn list_users(
                &self,
                limit: u32,
                offset: u32,
            ) -> Result<Vec<$crate::UserRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::USER_COLUMNS)
                    .push(" FROM users ORDER BY id LIMIT ")
                    .push_bind(i64::from(limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(offset));
                let rows: Vec<$crate::sql::UserRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::UserRecord::try_from).collect()
            }

            async fn upsert_team(
                &self,
                team: &$crate::TeamRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query($crate::sql::UPSERT_TEAM)
                    .bind(&team.id)
                    .bind(team.alias.as_deref())
                    .bind(team.max_budget)
                    .bind(team.budget_duration.map(|period| period.to_string()))
                    .bind(team.rpm_limit.map($crate::sql::to_db))
                    .bind(team.tpm_limit.map($crate::sql::to_db))
                    .bind($crate::sql::json_text(&team.models))
                    .bind($crate::sql::json_text(&team.metadata))
                    .bind(team.blocked)
                    .bind(team.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn team(
                &self,
                id: &str,
            ) -> Result<Option<$crate::TeamRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::TEAM_COLUMNS)
                    .push(" FROM teams WHERE id = ")
                    .push_bind(id);
                let row: Option<$crate::sql::TeamRow> =
                    query.build_query_as().fetch_optional(&self.pool).await?;
                row.map($crate::TeamRecord::try_from).transpose()
            }

            async fn delete_team(&self, id: &str) -> Result<(), $crate::StoreError> {
                let done = sqlx::query("DELETE FROM teams WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound("team"));
                }
                Ok(())
            }

            async fn list_teams(
                &self,
                limit: u32,
                offset: u32,
            ) -> Result<Vec<$crate::TeamRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new("SELECT ");
                query
                    .push($crate::sql::TEAM_COLUMNS)
                    .push(" FROM teams ORDER BY id LIMIT ")
                    .push_bind(i64::from(limit))
                    .push(" OFFSET ")
                    .push_bind(i64::from(offset));
                let rows: Vec<$crate::sql::TeamRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::TeamRecord::try_from).collect()
            }

            async fn insert_spend(
                &self,
                records: &[$crate::SpendRecord],
            ) -> Result<u64, $crate::StoreError> {
                if records.is_empty() {
                    return Ok(0);
                }
                let mut inserted = 0;
                let mut transaction = self.pool.begin().await?;
                for chunk in records.chunks($crate::sql::SPEND_ROWS_PER_INSERT) {
                    let mut query = sqlx::QueryBuilder::<$db>::new("INSERT INTO spend_logs (");
                    query.push($crate::sql::SPEND_COLUMNS).push(") ");
                    query.push_values(chunk, |mut row, record| {
                        row.push_bind(record.request_id.clone())
                            .push_bind(record.time_ms)
                            .push_bind(record.key_id.clone())
                            .push_bind(record.key_alias.clone())
                            .push_bind(record.user_id.clone())
                            .push_bind(record.team_id.clone())
                            .push_bind(record.model_requested.clone())
                            .push_bind(record.model_group.clone())
                            .push_bind(record.deployment.clone())
                            .push_bind(record.provider.clone())
                            .push_bind($crate::sql::to_db(record.input_tokens))
                            .push_bind($crate::sql::to_db(record.output_tokens))
                            .push_bind($crate::sql::to_db(record.cached_tokens))
                            .push_bind(record.cost_usd)
                            .push_bind(record.cost_estimated)
                            .push_bind($crate::sql::to_db(record.latency_ms))
                            .push_bind(i32::from(record.status))
                            .push_bind(record.cache_hit)
                            .push_bind(record.experiment.clone())
                            .push_bind(record.variant.clone())
                            .push_bind(record.end_user.clone());
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
        }
    };
}

pub(crate) use sql_store;
