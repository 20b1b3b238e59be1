//! [`SqliteStore`]: the whole store in one SQLite file (or in memory), for a single replica or
//! tests. Write-ahead logging, so readers never wait for the spend writer.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::deployments::sql_deployments;
use crate::error::{BackendError, StoreError};
use crate::responses::sql_responses;
use crate::sql::sql_store;
use crate::sql_counters::sql_counters;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections to a file for reads and occasional writes; SQLite writes one at a time anyway.
const FILE_CONNECTIONS: u32 = 8;

/// A [`Store`](crate::Store) and [`BudgetCounters`](crate::BudgetCounters) in SQLite.
///
/// ```
/// # async fn demo() -> Result<(), switchyard_store::StoreError> {
/// use switchyard_store::{SqliteStore, Store};
///
/// let store = SqliteStore::connect("sqlite::memory:").await?;
/// store.ping().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection of its own for the spend writer's batches (the same pool in memory).
    ///
    /// Through the shared pool, batch after batch went to each of its connections in turn, so
    /// every connection parsed and cached every `INSERT` size and filled its page cache with
    /// the spend log's index pages: eight copies of both. SQLite writes one at a time anyway,
    /// so one connection loses nothing.
    spend: SqlitePool,
    in_memory: bool,
}

/// A database file claimed by this process ([`SqliteStore::claim_exclusive_use`]) until this
/// value is dropped or the process ends.
#[derive(Debug)]
pub struct ExclusiveUse {
    _locked: std::fs::File,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `location` and brings its schema up to
    /// date. `location` is a file path, a `sqlite:` URL, or `sqlite::memory:` for a private
    /// in-memory database that lives as long as this store.
    pub async fn connect(location: &str) -> Result<Self, StoreError> {
        let in_memory = location.contains(":memory:") || location.contains("mode=memory");
        let options = if location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(location)?
        } else {
            SqliteConnectOptions::new().filename(location)
        };
        Self::open(options, in_memory).await
    }

    /// Opens the database file `options` describe (plus: create if missing, WAL, foreign keys, a
    /// busy timeout) and brings its schema up to date. For an in-memory database, use
    /// [`connect`](Self::connect).
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        Self::open(options, false).await
    }

    async fn open(options: SqliteConnectOptions, in_memory: bool) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if in_memory {
            // An in-memory database lives as long as its last connection: keep exactly one,
            // forever, which also serializes writers.
            let pool = SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            MIGRATOR.run(&pool).await?;
            return Ok(Self {
                spend: pool.clone(),
                pool,
                in_memory,
            });
        }
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let spend = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            spend,
            in_memory,
        })
    }

    /// The pool spend records are written through.
    fn spend_pool(&self) -> &SqlitePool {
        &self.spend
    }

    /// Claims the database file for this process alone, for as long as the returned value
    /// lives: an advisory lock (`flock`) that another process claiming the same file is refused
    /// ([`StoreError::InUse`], naming the file), and that the system releases when this process
    /// ends however it ends. SQLite's own locks are independent of it. `None` for an in-memory
    /// database, which no other process can open.
    pub fn claim_exclusive_use(&self) -> Result<Option<ExclusiveUse>, StoreError> {
        if self.in_memory {
            return Ok(None);
        }
        let options = self.pool.connect_options();
        let path = options.get_filename();
        let file = std::fs::File::open(path).map_err(BackendError::File)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ExclusiveUse { _locked: file })),
            Err(_) => Err(StoreError::InUse(path.display().to_string())),
        }
    }

    /// The connection pool, for queries this crate does not offer.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.spend.close().await;
        self.pool.close().await;
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("connections", &self.pool.size())
            .finish_non_exhaustive()
    }
}

sql_store!(SqliteStore, sqlx::Sqlite);
sql_responses!(SqliteStore);
sql_deployments!(SqliteStore, sqlx::Sqlite);
sql_counters!(SqliteStore, sqlx::Sqlite);
