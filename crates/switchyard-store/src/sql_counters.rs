//! [`BudgetCounters`](crate::BudgetCounters) in SQL, once for both pools ([`sql_counters!`]):
//! the `spend_counters` table, reserved with conditional updates that lock rows in one order,
//! settled with plain updates of rows that exist, seeded with `ON CONFLICT DO NOTHING`.

#[derive(sqlx::FromRow)]
pub(crate) struct CounterRow {
    pub(crate) scope: String,
    pub(crate) id: String,
    pub(crate) period_start: i64,
    pub(crate) spent: f64,
}

/// Implements [`BudgetCounters`](crate::BudgetCounters) for a struct with a
/// `pool: sqlx::Pool<$db>` field (see `sql_store!` for why a macro).
macro_rules! sql_counters {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::counters::BudgetCounters for $store {
            async fn reserve(
                &self,
                budgets: &[$crate::Budget],
                usd: f64,
            ) -> Result<$crate::Reserve, $crate::StoreError> {
                $crate::counters::distinct(&[], usd)?;
                // Rows are locked in one order (scope, id, window) by every reservation, so two
                // of them never wait on each other's rows.
                let mut order: Vec<usize> = (0..budgets.len()).collect();
                order.sort_by(|&a, &b| budgets[a].key.cmp(&budgets[b].key));
                let mut transaction = self.pool.begin().await?;
                let mut missing = Vec::new();
                let mut held = vec![0.0; budgets.len()];
                for &index in &order {
                    let key = &budgets[index].key;
                    // The conditional update takes the row's lock and checks the condition on
                    // the row as it is then, so concurrent reservations queue here.
                    let now_holds: Option<f64> = sqlx::query_scalar(
                        "UPDATE spend_counters SET spent = spent + $1 \
                         WHERE scope = $2 AND id = $3 AND period_start = $4 AND spent < $5 \
                         RETURNING spent",
                    )
                    .bind(usd)
                    .bind(key.scope.as_str())
                    .bind(&key.id)
                    .bind(key.period_start)
                    .bind(budgets[index].max_usd)
                    .fetch_optional(&mut *transaction)
                    .await?;
                    if let Some(now_holds) = now_holds {
                        held[index] = now_holds;
                        continue;
                    }
                    let spent: Option<f64> = sqlx::query_scalar(
                        "SELECT spent FROM spend_counters \
                         WHERE scope = $1 AND id = $2 AND period_start = $3",
                    )
                    .bind(key.scope.as_str())
                    .bind(&key.id)
                    .bind(key.period_start)
                    .fetch_optional(&mut *transaction)
                    .await?;
                    match spent {
                        None => missing.push(index),
                        Some(spent) => {
                            transaction.rollback().await?;
                            return Ok($crate::Reserve::Exceeded { index, spent });
                        }
                    }
                }
                if !missing.is_empty() {
                    transaction.rollback().await?;
                    missing.sort_unstable();
                    return Ok($crate::Reserve::Missing(missing));
                }
                transaction.commit().await?;
                Ok($crate::Reserve::Held(held))
            }

            async fn charge(
                &self,
                keys: &[$crate::CounterKey],
                usd: f64,
            ) -> Result<(), $crate::StoreError> {
                let mut keys = $crate::counters::distinct(keys, usd)?;
                if keys.is_empty() {
                    return Ok(());
                }
                // One row at a time, in the order reservations lock them: no deadlock.
                keys.sort();
                let mut transaction = self.pool.begin().await?;
                for key in keys {
                    sqlx::query(
                        "UPDATE spend_counters SET spent = spent + $1 \
                         WHERE scope = $2 AND id = $3 AND period_start = $4",
                    )
                    .bind(usd)
                    .bind(key.scope.as_str())
                    .bind(&key.id)
                    .bind(key.period_start)
                    .execute(&mut *transaction)
                    .await?;
                }
                transaction.commit().await?;
                Ok(())
            }

            async fn seed(
                &self,
                key: &$crate::CounterKey,
                usd: f64,
            ) -> Result<(), $crate::StoreError> {
                $crate::counters::distinct(&[], usd)?;
                sqlx::query(
                    "INSERT INTO spend_counters (scope, id, period_start, period_end, spent) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (scope, id, period_start) DO NOTHING",
                )
                .bind(key.scope.as_str())
                .bind(&key.id)
                .bind(key.period_start)
                .bind(key.period_end)
                .bind(usd)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn spent(
                &self,
                keys: &[$crate::CounterKey],
            ) -> Result<Vec<f64>, $crate::StoreError> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT scope, id, period_start, spent FROM spend_counters WHERE FALSE",
                );
                for key in keys {
                    query
                        .push(" OR (scope = ")
                        .push_bind(key.scope.as_str())
                        .push(" AND id = ")
                        .push_bind(key.id.clone())
                        .push(" AND period_start = ")
                        .push_bind(key.period_start)
                        .push(")");
                }
                let rows: Vec<$crate::sql_counters::CounterRow> =
                    query.build_query_as().fetch_all(&self.pool).await?;
                Ok(keys
                    .iter()
                    .map(|key| {
                        rows.iter()
                            .find(|row| {
                                row.scope == key.scope.as_str()
                                    && row.id == key.id
                                    && row.period_start == key.period_start
                            })
                            .map_or(0.0, |row| row.spent)
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use sql_counters;
