//! Durable state for Switchyard: virtual keys, users, teams, organizations, budgets and spend.
//!
//! - [`Store`]: keys (looked up by the SHA-256 of their secret), accounts (users, teams and
//!   organizations: [`AccountRecord`]) with their members, and the spend log, in SQLite
//!   ([`SqliteStore`]) or Postgres ([`PostgresStore`]); the schema is migrated at connect.
//! - [`BudgetCounters`]: spend per budget window, reserved before a call and settled after it,
//!   in the same databases or in Redis ([`RedisCounters`]) so that replicas share budgets; a
//!   missing counter is rebuilt from the spend log ([`Store::spend_in_window`]), never read as 0.
//!   A single process on SQLite keeps them in memory ([`MemoryCounters`]), rebuilt the same way.
//! - [`SpendWriter`]: spend records written off the call path in batches; never blocks, sheds
//!   and counts when overloaded, retries a failing store, drains at shutdown.
//! - [`generate_key`], [`hash_key`], [`KeyHash`]: secrets come from the OS RNG and only their
//!   hashes are stored; hashes compare in constant time.
//! - [`ModelAliases`]: a key's `aliases` and a team's `model_aliases`, model names served by
//!   another model.
//! - [`DeploymentStore`]: deployments added through the admin API ([`StoredDeployment`]), with
//!   a revision number that tells replicas when the list changed.
//! - [`ResponseStore`]: responses of OpenAI's Responses API ([`StoredResponse`]) with the
//!   conversation that led to each, scoped to the key that created it.
//! - [`BudgetPeriod`]: LiteLLM's `budget_duration` (`30d`, `1mo`, `weekly`, ...) and the window
//!   it puts a moment in, computed alike by every replica.

mod account;
mod aliases;
mod counters;
mod deployments;
mod error;
mod key;
mod memory_counters;
mod model;
mod period;
mod postgres;
mod redis;
mod responses;
mod sql;
mod sql_counters;
mod sqlite;
mod store;
mod writer;

pub use account::{
    AccountFilter, AccountKind, AccountRecord, MemberRecord, MemberRole, UnknownRole, UserRole,
};
pub use aliases::ModelAliases;
pub use counters::{Budget, BudgetCounters, CounterKey, CounterScope, Reserve};
pub use deployments::{DeploymentStore, StoredDeployment};
pub use error::{BackendError, StoreError};
pub use key::{
    KeyHash, ParseKeyHashError, RandomnessError, abbreviate_key, generate_key, hash_key, new_key_id,
};
pub use memory_counters::MemoryCounters;
pub use model::{
    KeyFilter, KeyRecord, KeyUpdate, LATENCY_BOUNDS_MS, SpendBucket, SpendCursor, SpendFilter,
    SpendGroup, SpendRecord, SpendTotal,
};
pub use period::{BudgetPeriod, KeyDuration, ParsePeriodError};
pub use postgres::PostgresStore;
pub use redis::RedisCounters;
pub use responses::{ResponseStore, StoredResponse};
pub use sqlite::{ExclusiveUse, SqliteStore};
pub use store::Store;
pub use writer::{ShutdownReport, SpendWriter, SpendWriterConfig};
