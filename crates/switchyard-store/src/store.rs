//! [`Store`], the durable state behind the admin API and key authentication: keys, users,
//! teams and the spend log. One trait, one implementation per database.

use async_trait::async_trait;

use crate::counters::CounterScope;
use crate::error::StoreError;
use crate::key::KeyHash;
use crate::model::{
    KeyFilter, KeyRecord, KeyUpdate, SpendFilter, SpendGroup, SpendRecord, SpendTotal, TeamRecord,
    UserRecord,
};

/// Durable keys, users, teams and spend; shared as `Arc<dyn Store>`.
///
/// Lookups answer `Ok(None)` for a missing record; changes and deletions of a missing record
/// fail with [`StoreError::NotFound`]. Times are integer unix seconds, spend times unix
/// milliseconds.
#[async_trait]
pub trait Store: Send + Sync {
    /// Answers when the database does (for readiness checks).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new key. [`StoreError::Conflict`] if its id or hash is taken.
    async fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError>;

    /// The key whose secret hashes to `hash`.
    async fn key_by_hash(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, StoreError>;

    /// The key with public id `id`.
    async fn key_by_id(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// Applies `update` to key `id`, stamps `updated_at` with the current time, and returns the
    /// key as it now is.
    async fn update_key(&self, id: &str, update: &KeyUpdate) -> Result<KeyRecord, StoreError>;

    /// Deletes key `id`.
    async fn delete_key(&self, id: &str) -> Result<(), StoreError>;

    /// Keys matching `filter`, oldest first.
    async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError>;

    /// Creates or replaces user `user.id`; a replaced user keeps its `created_at`.
    async fn upsert_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    /// User `id`.
    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Deletes user `id` (not their keys).
    async fn delete_user(&self, id: &str) -> Result<(), StoreError>;

    /// Users by id, at most `limit` after skipping `offset`.
    async fn list_users(&self, limit: u32, offset: u32) -> Result<Vec<UserRecord>, StoreError>;

    /// Creates or replaces team `team.id`; a replaced team keeps its `created_at`.
    async fn upsert_team(&self, team: &TeamRecord) -> Result<(), StoreError>;

    /// Team `id`.
    async fn team(&self, id: &str) -> Result<Option<TeamRecord>, StoreError>;

    /// Deletes team `id` (not its keys).
    async fn delete_team(&self, id: &str) -> Result<(), StoreError>;

    /// Teams by id, at most `limit` after skipping `offset`.
    async fn list_teams(&self, limit: u32, offset: u32) -> Result<Vec<TeamRecord>, StoreError>;

    /// Appends spend records, ignoring any whose `request_id` is already stored, so a batch can
    /// be retried safely. Returns how many were new.
    async fn insert_spend(&self, records: &[SpendRecord]) -> Result<u64, StoreError>;

    /// Spend records matching `filter`, newest first.
    async fn spend_logs(&self, filter: &SpendFilter) -> Result<Vec<SpendRecord>, StoreError>;

    /// What the spend log holds for one budget's owner (`scope` and `id`: a key's public id, a
    /// user, a team or an end user) from `start_ms` (inclusive) to `end_ms` (exclusive, `None`
    /// for no end), in US dollars: what a lost budget counter is rebuilt from.
    async fn spend_in_window(
        &self,
        scope: CounterScope,
        id: &str,
        start_ms: i64,
        end_ms: Option<i64>,
    ) -> Result<f64, StoreError>;

    /// Spend from `start_ms` (inclusive) to `end_ms` (exclusive), added up by `group_by`,
    /// most expensive first.
    async fn spend_totals(
        &self,
        group_by: SpendGroup,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SpendTotal>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    // `Store` must stay usable as `Arc<dyn Store>`.
    fn _dyn_compatible(_: std::sync::Arc<dyn Store>) {}
}
