//! [`StoreError`], the one error type of every store and counter backend: what a caller can act
//! on (missing, already there, refused input) apart from the backend failing. Messages carry
//! public ids at most, never secrets or connection URLs.

/// A store or budget counter operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record to read, change or delete does not exist (`"key"`, `"user"`, `"team"`,
    /// `"organization"`, `"member"`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A record with the same id (or, for keys, the same secret) already exists.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The input cannot be stored, such as a charge that is not a finite number.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// Another process already uses what this one asked to use alone (a SQLite database file,
    /// see [`SqliteStore::claim_exclusive_use`](crate::SqliteStore::claim_exclusive_use)).
    #[error("{0} is in use by another process")]
    InUse(String),
    /// The database or Redis failed, or returned data this crate cannot read.
    #[error("store backend failed: {0}")]
    Backend(#[from] BackendError),
}

/// Why a backend failed; inside [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// SQLite or Postgres.
    #[error(transparent)]
    Sql(sqlx::Error),
    /// Applying the schema migrations at connect.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Redis.
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// A database file outside SQLite's own use of it (opening it to claim it).
    #[error("database file: {0}")]
    File(#[from] std::io::Error),
    /// A stored value that does not parse (bad JSON, an unknown budget period, a bad hash).
    #[error("stored {0} is malformed")]
    Corrupt(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Backend(BackendError::Sql(error))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Backend(BackendError::Migrate(error))
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(error: redis::RedisError) -> Self {
        StoreError::Backend(BackendError::Redis(error))
    }
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`] on `what`, anything else
    /// to [`StoreError::Backend`].
    pub(crate) fn from_insert(error: sqlx::Error, what: &'static str) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => error.into(),
        }
    }
}
