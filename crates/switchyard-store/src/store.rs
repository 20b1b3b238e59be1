//! [`Store`], the durable state behind the admin API and key authentication: keys, accounts
//! (users, teams, organizations) with their members, and the spend log. One trait, one
//! implementation per database.

use async_trait::async_trait;

use crate::account::{AccountFilter, AccountKind, AccountRecord, MemberRecord};
use crate::counters::CounterScope;
use crate::error::StoreError;
use crate::key::KeyHash;
use crate::model::{
    KeyFilter, KeyRecord, KeyUpdate, SpendBucket, SpendFilter, SpendGroup, SpendRecord, SpendTotal,
};

/// Durable keys, accounts and spend; shared as `Arc<dyn Store>`.
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

    /// How many keys match `filter`, whatever its `limit` and `offset`.
    async fn count_keys(&self, filter: &KeyFilter) -> Result<u64, StoreError>;

    /// Creates or replaces the account `account.kind`/`account.id`; a replaced account keeps
    /// its `created_at`.
    async fn upsert_account(&self, account: &AccountRecord) -> Result<(), StoreError>;

    /// The `kind` account `id`.
    async fn account(
        &self,
        kind: AccountKind,
        id: &str,
    ) -> Result<Option<AccountRecord>, StoreError>;

    /// Deletes the `kind` account `id` (not its keys) with its memberships: a team's or an
    /// organization's members, or a user's places in teams and organizations.
    async fn delete_account(&self, kind: AccountKind, id: &str) -> Result<(), StoreError>;

    /// Accounts matching `filter`, by id.
    async fn list_accounts(&self, filter: &AccountFilter)
    -> Result<Vec<AccountRecord>, StoreError>;

    /// How many accounts match `filter`, whatever its `limit` and `offset`.
    async fn count_accounts(&self, filter: &AccountFilter) -> Result<u64, StoreError>;

    /// Adds a member, or changes the role of one already there (keeping `created_at`).
    async fn set_member(&self, member: &MemberRecord) -> Result<(), StoreError>;

    /// Removes `user_id` from the `kind` account `account_id`; [`StoreError::NotFound`] if not
    /// a member.
    async fn remove_member(
        &self,
        kind: AccountKind,
        account_id: &str,
        user_id: &str,
    ) -> Result<(), StoreError>;

    /// The members of the `kind` account `account_id`, by user id.
    async fn members(
        &self,
        kind: AccountKind,
        account_id: &str,
    ) -> Result<Vec<MemberRecord>, StoreError>;

    /// Every team and organization `user_id` is a member of.
    async fn memberships(&self, user_id: &str) -> Result<Vec<MemberRecord>, StoreError>;

    /// Appends spend records, ignoring any whose `request_id` is already stored, so a batch can
    /// be retried safely. Returns how many were new.
    async fn insert_spend(&self, records: &[SpendRecord]) -> Result<u64, StoreError>;

    /// Spend records matching `filter`, newest first.
    async fn spend_logs(&self, filter: &SpendFilter) -> Result<Vec<SpendRecord>, StoreError>;

    /// What the spend log holds for one budget's owner (`scope` and `id`: a key's public id, a
    /// user, a team, an end user or an organization) from `start_ms` (inclusive) to `end_ms` (exclusive, `None`
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

    /// Calls from `start_ms` (inclusive) to `end_ms` (exclusive) in buckets of `bucket_ms`,
    /// per model group and deployment, oldest first: what the admin UI's overview charts.
    async fn spend_series(
        &self,
        start_ms: i64,
        end_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<SpendBucket>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    // `Store` must stay usable as `Arc<dyn Store>`.
    fn _dyn_compatible(_: std::sync::Arc<dyn Store>) {}
}
