//! [`PostgresStore`]: the store shared by every replica, in Postgres.

use std::fmt;
use std::str::FromStr;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::deployments::sql_deployments;
use crate::error::StoreError;
use crate::responses::sql_responses;
use crate::sql::sql_store;
use crate::sql_counters::sql_counters;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The longest a query waits for a connection from the pool (or for a new one to open).
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A [`Store`](crate::Store) and [`BudgetCounters`](crate::BudgetCounters) in Postgres.
///
/// Tables are created in the first schema of the connection's `search_path` (`public` unless
/// the URL or [`connect_with`](Self::connect_with)'s options say otherwise).
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host/db?sslmode=...`) and
    /// brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with `options` (for a `search_path`, TLS roots, ...) and brings the schema up
    /// to date. A query waits at most `ACQUIRE_TIMEOUT` (3 s) for a connection, so while the server
    /// is down callers hear so in seconds, not after sqlx's default 30.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        Self::connect_pooled(options, None).await
    }

    /// [`connect_with`](Self::connect_with), keeping at most `max_connections` open (sqlx's
    /// default, 10, when `None`): LiteLLM's `database_connection_pool_limit`.
    pub async fn connect_pooled(
        options: PgConnectOptions,
        max_connections: Option<u32>,
    ) -> Result<Self, StoreError> {
        let mut pool = PgPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        if let Some(max) = max_connections {
            pool = pool.max_connections(max);
        }
        Self::from_pool(pool.connect_with(options).await?).await
    }

    /// Uses an existing pool, bringing the schema up to date.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, for queries this crate does not offer.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Spend records are written through the shared pool: PostgreSQL writes concurrently.
    fn spend_pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl fmt::Debug for PostgresStore {
    // The pool's own `Debug` shows its connect options, password included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

sql_store!(PostgresStore, sqlx::Postgres);
sql_responses!(PostgresStore);
sql_deployments!(PostgresStore, sqlx::Postgres);
sql_counters!(PostgresStore, sqlx::Postgres);
