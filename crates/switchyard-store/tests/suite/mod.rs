//! The behaviour every backend must show, written once: store checks (keys, users, teams,
//! spend) and budget counter checks, each a public async function taking the backend as a
//! trait object. `store_tests!` and `counter_tests!` turn them into one test per check for a
//! backend; `run_store_suite` and `run_counters_suite` run them all on one backend.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::json;
use switchyard_store::{
    AccountFilter, AccountKind, AccountRecord, Budget, BudgetCounters, BudgetPeriod, CounterKey,
    CounterScope, KeyFilter, KeyHash, KeyRecord, KeyUpdate, MemberRecord, MemberRole, ModelAliases,
    Reserve, ResponseStore, SpendCursor, SpendFilter, SpendGroup, SpendRecord, SpendTotal, Store,
    StoreError, StoredResponse, UserRole, generate_key, hash_key,
};

/// One test per store check, for the backend `$open` (an expression evaluating to a future of
/// `Option<(Arc<impl Store>, Cleanup)>`; `None` skips).
#[allow(unused_macros)] // Not every backend runs both kinds of check.
macro_rules! store_tests {
    ($open:expr) => {
        $crate::suite::store_tests!(@each $open;
            key_round_trip,
            key_update_patch,
            key_block_and_delete,
            list_keys_filters,
            accounts_round_trip_and_delete,
            accounts_of_each_kind_stay_apart,
            members_join_change_role_and_leave,
            spend_insert_is_idempotent,
            spend_logs_filters_and_order,
            spend_totals_by_each_group,
            spend_pages_follow_their_cursor,
            spend_series_buckets_calls,
            spend_in_window_sums_one_owner,
        );
    };
    (@each $open:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let Some((store, cleanup)) = $open.await else { return };
                $crate::suite::$check(store).await;
                cleanup.run().await;
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use store_tests;

/// One test per budget counter check, for the backend `$open` (see `store_tests!`).
#[allow(unused_macros)] // Not every backend runs both kinds of check.
macro_rules! counter_tests {
    ($open:expr) => {
        $crate::suite::counter_tests!(@each $open;
            counters_sum_concurrent_charges,
            counters_keep_periods_and_scopes_apart,
            reservations_hold_a_budget_under_concurrency,
            reservations_are_all_or_nothing_and_report_missing_counters,
        );
    };
    (@each $open:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let Some((counters, cleanup)) = $open.await else { return };
                $crate::suite::$check(counters).await;
                cleanup.run().await;
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use counter_tests;

type CleanupFn = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Removes what a test created in a shared service (a Postgres schema, Redis keys): at the end
/// of the test, or, when the test panicked, on drop, on a runtime of its own.
pub struct Cleanup(Option<CleanupFn>);

impl Cleanup {
    /// Nothing to clean up.
    pub fn none() -> Self {
        Self(None)
    }

    /// Runs `cleanup` at the end.
    pub fn new<F, Fut>(cleanup: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(Some(Box::new(move || Box::pin(cleanup()))))
    }

    /// Cleans up now.
    pub async fn run(mut self) {
        if let Some(cleanup) = self.0.take() {
            cleanup().await;
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(cleanup) = self.0.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(cleanup());
                }
            })
            .join();
        }
    }
}

/// Every store check, in turn, on one store.
pub async fn run_store_suite(store: Arc<dyn Store>) {
    key_round_trip(Arc::clone(&store)).await;
    key_update_patch(Arc::clone(&store)).await;
    key_block_and_delete(Arc::clone(&store)).await;
    list_keys_filters(Arc::clone(&store)).await;
    accounts_round_trip_and_delete(Arc::clone(&store)).await;
    accounts_of_each_kind_stay_apart(Arc::clone(&store)).await;
    members_join_change_role_and_leave(Arc::clone(&store)).await;
    spend_insert_is_idempotent(Arc::clone(&store)).await;
    spend_logs_filters_and_order(Arc::clone(&store)).await;
    spend_totals_by_each_group(Arc::clone(&store)).await;
    spend_pages_follow_their_cursor(Arc::clone(&store)).await;
    spend_series_buckets_calls(Arc::clone(&store)).await;
    spend_in_window_sums_one_owner(store).await;
}

/// Every counter check, in turn, on one backend.
pub async fn run_counters_suite(counters: Arc<dyn BudgetCounters>) {
    counters_sum_concurrent_charges(Arc::clone(&counters)).await;
    counters_keep_periods_and_scopes_apart(Arc::clone(&counters)).await;
    reservations_hold_a_budget_under_concurrency(Arc::clone(&counters)).await;
    reservations_are_all_or_nothing_and_report_missing_counters(counters).await;
}

fn period(text: &str) -> BudgetPeriod {
    text.parse().expect("valid period")
}

fn full_key(id: &str, hash: KeyHash) -> KeyRecord {
    KeyRecord {
        id: id.to_owned(),
        key_hash: hash,
        alias: Some(format!("{id} alias")),
        models: vec!["gpt-4o".to_owned(), "claude-sonnet".to_owned()],
        aliases: [("gpt-4", "gpt-4o"), ("claude", "claude-sonnet")]
            .into_iter()
            .collect(),
        max_budget: Some(12.34),
        budget_duration: Some(period("30s")),
        rpm_limit: Some(600),
        tpm_limit: Some(u64::from(u32::MAX) * 4),
        expires_at: Some(1_900_000_000),
        metadata: json!({"owner": "ops", "tags": ["a", "b"], "nested": {"n": 1.5}}),
        user_id: Some(format!("{id}-user")),
        team_id: Some(format!("{id}-team")),
        organization_id: Some(format!("{id}-org")),
        key_name: Some("sk-...abcd".to_owned()),
        blocked: false,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_001,
    }
}

fn new_key(id: &str) -> KeyRecord {
    let (_, hash) = generate_key().expect("OS RNG");
    let mut key = KeyRecord::new(hash, 1_700_000_000).expect("OS RNG");
    key.id = id.to_owned();
    key
}

fn spend(request_id: &str, time_ms: i64) -> SpendRecord {
    SpendRecord {
        request_id: request_id.to_owned(),
        time_ms,
        key_id: None,
        key_alias: None,
        user_id: None,
        team_id: None,
        model_requested: "gpt-4o".to_owned(),
        model_group: Some("gpt-4o".to_owned()),
        deployment: Some("openai-east".to_owned()),
        provider: Some("openai".to_owned()),
        input_tokens: 100,
        output_tokens: 20,
        cached_tokens: 0,
        cost_usd: 0.001,
        cost_estimated: false,
        latency_ms: 250,
        status: 200,
        cache_hit: false,
        experiment: None,
        variant: None,
        end_user: None,
        organization_id: None,
        call_type: Some("acompletion".to_owned()),
    }
}

fn unix_now() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(elapsed.as_secs()).expect("before 2262")
}

fn ids(records: &[SpendRecord]) -> Vec<&str> {
    records
        .iter()
        .map(|record| record.request_id.as_str())
        .collect()
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: {actual} != {expected}"
    );
}

/// A key comes back as stored, by id and by the hash of its secret; ids and hashes are unique.
pub async fn key_round_trip(store: Arc<dyn Store>) {
    let (secret, hash) = generate_key().expect("OS RNG");
    let key = full_key("key-roundtrip", hash);
    store.create_key(&key).await.expect("create");

    assert_eq!(
        store.key_by_id(&key.id).await.expect("by id"),
        Some(key.clone())
    );
    assert_eq!(
        store
            .key_by_hash(&hash_key(&secret))
            .await
            .expect("by hash"),
        Some(key.clone())
    );
    assert_eq!(
        store
            .key_by_hash(&hash_key("sk-someone-else"))
            .await
            .expect("by hash"),
        None
    );
    assert_eq!(store.key_by_id("key-missing").await.expect("by id"), None);

    assert!(matches!(
        store.create_key(&key).await,
        Err(StoreError::Conflict("key"))
    ));
    let mut same_secret = full_key("key-roundtrip-2", hash);
    same_secret.alias = None;
    assert!(matches!(
        store.create_key(&same_secret).await,
        Err(StoreError::Conflict("key"))
    ));

    // The smallest key: no limits, no owner, empty lists.
    let bare = new_key("key-roundtrip-bare");
    store.create_key(&bare).await.expect("create");
    let read = store
        .key_by_hash(&bare.key_hash)
        .await
        .expect("by hash")
        .expect("stored");
    assert_eq!(read, bare);
    assert!(read.models.is_empty());
    assert!(read.aliases.is_empty());
    assert_eq!(read.metadata, json!({}));

    // Each calendar period kind survives the round trip.
    for (n, text) in ["monthly", "weekly", "3mo", "90s"].iter().enumerate() {
        let mut key = new_key(&format!("key-roundtrip-period-{n}"));
        key.budget_duration = Some(period(text));
        store.create_key(&key).await.expect("create");
        let read = store
            .key_by_id(&key.id)
            .await
            .expect("by id")
            .expect("stored");
        assert_eq!(read.budget_duration, Some(period(text)));
    }
}

/// An update changes exactly the fields it names, clears the ones set to `Some(None)`, stamps
/// `updated_at`, and can move a key to a new secret.
pub async fn key_update_patch(store: Arc<dyn Store>) {
    let (_, hash) = generate_key().expect("OS RNG");
    let key = full_key("key-update", hash);
    store.create_key(&key).await.expect("create");

    let update = KeyUpdate {
        alias: Some(Some("renamed".to_owned())),
        max_budget: Some(None),
        budget_duration: Some(Some(period("weekly"))),
        rpm_limit: Some(Some(10)),
        team_id: Some(None),
        metadata: Some(json!({"replaced": true})),
        models: Some(Vec::new()),
        aliases: Some([("fast", "gpt-4o-mini")].into_iter().collect()),
        ..KeyUpdate::default()
    };
    let updated = store.update_key(&key.id, &update).await.expect("update");
    let expected = KeyRecord {
        alias: Some("renamed".to_owned()),
        max_budget: None,
        budget_duration: Some(period("weekly")),
        rpm_limit: Some(10),
        team_id: None,
        metadata: json!({"replaced": true}),
        models: Vec::new(),
        aliases: [("fast", "gpt-4o-mini")].into_iter().collect(),
        updated_at: updated.updated_at,
        ..key.clone()
    };
    assert_eq!(updated, expected);
    assert!(
        updated.updated_at > key.updated_at,
        "updated_at stamped with the current time"
    );
    assert_eq!(
        store.key_by_id(&key.id).await.expect("by id"),
        Some(updated.clone())
    );

    // Nothing to change: only `updated_at` may move.
    let untouched = store
        .update_key(&key.id, &KeyUpdate::default())
        .await
        .expect("update");
    assert_eq!(
        KeyRecord {
            updated_at: 0,
            ..untouched
        },
        KeyRecord {
            updated_at: 0,
            ..updated.clone()
        }
    );

    // Aliases clear to none.
    let cleared = store
        .update_key(
            &key.id,
            &KeyUpdate {
                aliases: Some(ModelAliases::new()),
                ..KeyUpdate::default()
            },
        )
        .await
        .expect("update");
    assert!(cleared.aliases.is_empty());
    assert_eq!(cleared.models, updated.models, "nothing else changed");

    // A new secret: the old one no longer finds the key.
    let (new_secret, new_hash) = generate_key().expect("OS RNG");
    let rotate = KeyUpdate {
        key_hash: Some(new_hash),
        ..KeyUpdate::default()
    };
    store.update_key(&key.id, &rotate).await.expect("rotate");
    assert_eq!(store.key_by_hash(&hash).await.expect("by hash"), None);
    let found = store
        .key_by_hash(&hash_key(&new_secret))
        .await
        .expect("by hash");
    assert_eq!(found.map(|key| key.id), Some(key.id.clone()));

    // Another key's secret is refused.
    let other = new_key("key-update-other");
    store.create_key(&other).await.expect("create");
    let steal = KeyUpdate {
        key_hash: Some(other.key_hash),
        ..KeyUpdate::default()
    };
    assert!(matches!(
        store.update_key(&key.id, &steal).await,
        Err(StoreError::Conflict("key"))
    ));

    assert!(matches!(
        store.update_key("key-missing", &update).await,
        Err(StoreError::NotFound("key"))
    ));
}

/// A blocked key is still found (so it can be refused); a deleted one is gone.
pub async fn key_block_and_delete(store: Arc<dyn Store>) {
    let key = new_key("key-block");
    store.create_key(&key).await.expect("create");

    let block = KeyUpdate {
        blocked: Some(true),
        ..KeyUpdate::default()
    };
    assert!(
        store
            .update_key(&key.id, &block)
            .await
            .expect("block")
            .blocked
    );
    let found = store
        .key_by_hash(&key.key_hash)
        .await
        .expect("by hash")
        .expect("still there");
    assert!(found.blocked);
    let unblock = KeyUpdate {
        blocked: Some(false),
        ..KeyUpdate::default()
    };
    assert!(
        !store
            .update_key(&key.id, &unblock)
            .await
            .expect("unblock")
            .blocked
    );

    store.delete_key(&key.id).await.expect("delete");
    assert_eq!(store.key_by_id(&key.id).await.expect("by id"), None);
    assert_eq!(
        store.key_by_hash(&key.key_hash).await.expect("by hash"),
        None
    );
    assert!(matches!(
        store.delete_key(&key.id).await,
        Err(StoreError::NotFound("key"))
    ));
    assert!(matches!(
        store.update_key(&key.id, &block).await,
        Err(StoreError::NotFound("key"))
    ));
}

/// Keys list oldest first, filtered by owner and team, paged.
pub async fn list_keys_filters(store: Arc<dyn Store>) {
    let owners = [
        ("list-u1", Some("list-t1")),
        ("list-u1", Some("list-t1")),
        ("list-u1", None),
        ("list-u2", Some("list-t1")),
        ("list-u2", Some("list-t2")),
    ];
    let mut created = Vec::new();
    // Created newest-id-first, so the order below comes from `created_at`, not from ids.
    for (n, (user, team)) in owners.iter().enumerate().rev() {
        let mut key = new_key(&format!("key-list-{}", 9 - n));
        key.user_id = Some((*user).to_owned());
        key.team_id = team.map(str::to_owned);
        key.created_at = 1_700_000_000 + n as i64;
        store.create_key(&key).await.expect("create");
        created.push(key);
    }
    created.reverse();
    let id = |n: usize| created[n].id.clone();

    let list = |user: Option<&str>, team: Option<&str>, limit: u32, offset: u32| {
        let store = Arc::clone(&store);
        let filter = KeyFilter {
            user_id: user.map(str::to_owned),
            team_id: team.map(str::to_owned),
            limit,
            offset,
            ..KeyFilter::default()
        };
        async move {
            let keys = store.list_keys(&filter).await.expect("list");
            keys.into_iter().map(|key| key.id).collect::<Vec<_>>()
        }
    };

    let all = list(None, None, 1_000, 0).await;
    let ours: Vec<_> = all
        .into_iter()
        .filter(|id| id.starts_with("key-list-"))
        .collect();
    assert_eq!(ours, (0..5).map(id).collect::<Vec<_>>());
    assert_eq!(
        list(Some("list-u1"), None, 100, 0).await,
        [id(0), id(1), id(2)]
    );
    assert_eq!(
        list(None, Some("list-t1"), 100, 0).await,
        [id(0), id(1), id(3)]
    );
    assert_eq!(
        list(Some("list-u2"), Some("list-t1"), 100, 0).await,
        [id(3)]
    );
    assert_eq!(list(Some("list-u1"), None, 2, 1).await, [id(1), id(2)]);
    assert_eq!(
        list(Some("list-u1"), None, 100, 3).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(Some("list-nobody"), None, 100, 0).await,
        Vec::<String>::new()
    );

    let full = store
        .list_keys(&KeyFilter {
            user_id: Some("list-u2".to_owned()),
            ..KeyFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(full, [created[3].clone(), created[4].clone()]);

    // Counts ignore paging; keys of an organization of their own are found by it.
    let count = |filter: KeyFilter| {
        let store = Arc::clone(&store);
        async move { store.count_keys(&filter).await.expect("count") }
    };
    let of_u1 = KeyFilter {
        user_id: Some("list-u1".to_owned()),
        limit: 1,
        offset: 1,
        ..KeyFilter::default()
    };
    assert_eq!(count(of_u1).await, 3);
    let mut in_org = new_key("key-list-org");
    in_org.organization_id = Some("list-org".to_owned());
    store.create_key(&in_org).await.expect("create");
    let of_org = KeyFilter {
        organization_id: Some("list-org".to_owned()),
        ..KeyFilter::default()
    };
    assert_eq!(count(of_org.clone()).await, 1);
    assert_eq!(
        store.list_keys(&of_org).await.expect("list")[0].id,
        "key-list-org"
    );
}

fn account(kind: AccountKind, id: &str, created_at: i64) -> AccountRecord {
    AccountRecord {
        alias: Some(format!("{id} alias")),
        max_budget: Some(50.0),
        budget_duration: Some(period("monthly")),
        rpm_limit: Some(100),
        tpm_limit: Some(10_000),
        models: vec!["gpt-4o-mini".to_owned()],
        model_aliases: [("gpt-4", "gpt-4o-mini")].into_iter().collect(),
        metadata: json!({"cost_center": 42, "nested": {"n": 1.5}}),
        ..AccountRecord::new(kind, id, created_at)
    }
}

/// Accounts round trip with every field; an upsert replaces all but `created_at`; listing
/// pages by id and filters teams by organization; deleting twice is `NotFound`.
pub async fn accounts_round_trip_and_delete(store: Arc<dyn Store>) {
    let alice = AccountRecord {
        user_role: Some(UserRole::InternalUserViewer),
        user_email: Some("alice@example.com".to_owned()),
        ..account(AccountKind::User, "user-alice", 1_700_000_000)
    };
    store.upsert_account(&alice).await.expect("upsert");
    assert_eq!(
        store
            .account(AccountKind::User, &alice.id)
            .await
            .expect("read"),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .account(AccountKind::User, "user-nobody")
            .await
            .expect("read"),
        None
    );

    let changed = AccountRecord {
        alias: None,
        max_budget: None,
        budget_duration: None,
        rpm_limit: None,
        models: Vec::new(),
        model_aliases: [("fast", "gpt-4o-mini"), ("smart", "gpt-4o")]
            .into_iter()
            .collect(),
        blocked: true,
        metadata: json!({}),
        user_role: Some(UserRole::ProxyAdmin),
        user_email: None,
        created_at: 1_800_000_000,
        updated_at: 1_800_000_005,
        ..alice.clone()
    };
    store.upsert_account(&changed).await.expect("upsert again");
    let read = store
        .account(AccountKind::User, &alice.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        read,
        AccountRecord {
            created_at: alice.created_at,
            ..changed
        }
    );

    for (id, organization) in [
        ("team-red", Some("org-a")),
        ("team-blue", Some("org-b")),
        ("team-grey", None),
    ] {
        let team = AccountRecord {
            organization_id: organization.map(str::to_owned),
            ..account(AccountKind::Team, id, 1)
        };
        store.upsert_account(&team).await.expect("upsert team");
    }
    let page = |filter: AccountFilter| {
        let store = Arc::clone(&store);
        async move {
            let accounts = store.list_accounts(&filter).await.expect("list");
            accounts.into_iter().map(|a| a.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        page(AccountFilter::of(AccountKind::Team)).await,
        ["team-blue", "team-grey", "team-red"]
    );
    assert_eq!(
        page(AccountFilter {
            limit: 1,
            offset: 1,
            ..AccountFilter::of(AccountKind::Team)
        })
        .await,
        ["team-grey"]
    );
    assert_eq!(
        page(AccountFilter {
            organization_id: Some("org-a".to_owned()),
            ..AccountFilter::of(AccountKind::Team)
        })
        .await,
        ["team-red"]
    );
    let teams = AccountFilter {
        limit: 1,
        ..AccountFilter::of(AccountKind::Team)
    };
    assert_eq!(store.count_accounts(&teams).await.expect("count"), 3);

    store
        .delete_account(AccountKind::Team, "team-red")
        .await
        .expect("delete");
    assert_eq!(
        store
            .account(AccountKind::Team, "team-red")
            .await
            .expect("read"),
        None
    );
    assert!(matches!(
        store.delete_account(AccountKind::Team, "team-red").await,
        Err(StoreError::NotFound("team"))
    ));
}

/// A user, a team and an organization may share an id without meeting.
pub async fn accounts_of_each_kind_stay_apart(store: Arc<dyn Store>) {
    for kind in [
        AccountKind::User,
        AccountKind::Team,
        AccountKind::Organization,
    ] {
        let record = AccountRecord {
            alias: Some(kind.as_str().to_owned()),
            ..account(kind, "shared-id", 10)
        };
        store.upsert_account(&record).await.expect("upsert");
    }
    for kind in [
        AccountKind::User,
        AccountKind::Team,
        AccountKind::Organization,
    ] {
        let read = store
            .account(kind, "shared-id")
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(read.kind, kind);
        assert_eq!(read.alias.as_deref(), Some(kind.as_str()));
    }
    store
        .delete_account(AccountKind::Organization, "shared-id")
        .await
        .expect("delete");
    assert!(
        store
            .account(AccountKind::User, "shared-id")
            .await
            .expect("read")
            .is_some()
    );
    assert!(
        store
            .account(AccountKind::Team, "shared-id")
            .await
            .expect("read")
            .is_some()
    );
    let organizations = store
        .list_accounts(&AccountFilter::of(AccountKind::Organization))
        .await
        .expect("list");
    assert!(organizations.iter().all(|o| o.id != "shared-id"));
}

/// Members join with a role, change it by joining again (keeping when they joined), and
/// leave; deleting a team drops its members, deleting a user drops their memberships.
pub async fn members_join_change_role_and_leave(store: Arc<dyn Store>) {
    let member = |kind, account: &str, user: &str, role, at| MemberRecord {
        kind,
        account_id: account.to_owned(),
        user_id: user.to_owned(),
        role,
        created_at: at,
    };
    for record in [
        member(AccountKind::Team, "m-team", "m-ana", MemberRole::Admin, 1),
        member(AccountKind::Team, "m-team", "m-bo", MemberRole::User, 2),
        member(AccountKind::Team, "m-other", "m-ana", MemberRole::User, 3),
        member(
            AccountKind::Organization,
            "m-org",
            "m-ana",
            MemberRole::OrgAdmin,
            4,
        ),
    ] {
        store.set_member(&record).await.expect("join");
    }
    let roles = |members: Vec<MemberRecord>| {
        members
            .into_iter()
            .map(|m| (m.account_id, m.user_id, m.role))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        roles(
            store
                .members(AccountKind::Team, "m-team")
                .await
                .expect("members")
        ),
        [
            ("m-team".to_owned(), "m-ana".to_owned(), MemberRole::Admin),
            ("m-team".to_owned(), "m-bo".to_owned(), MemberRole::User),
        ]
    );
    // A team and an organization of the same id are different accounts.
    assert!(
        store
            .members(AccountKind::Organization, "m-team")
            .await
            .expect("members")
            .is_empty()
    );

    store
        .set_member(&member(
            AccountKind::Team,
            "m-team",
            "m-bo",
            MemberRole::Admin,
            99,
        ))
        .await
        .expect("change role");
    let bo = store
        .members(AccountKind::Team, "m-team")
        .await
        .expect("members");
    assert_eq!(bo[1].role, MemberRole::Admin);
    assert_eq!(
        bo[1].created_at, 2,
        "joining again keeps when the member joined"
    );

    assert_eq!(
        roles(store.memberships("m-ana").await.expect("memberships")),
        [
            ("m-org".to_owned(), "m-ana".to_owned(), MemberRole::OrgAdmin),
            ("m-other".to_owned(), "m-ana".to_owned(), MemberRole::User),
            ("m-team".to_owned(), "m-ana".to_owned(), MemberRole::Admin),
        ]
    );

    store
        .remove_member(AccountKind::Team, "m-team", "m-bo")
        .await
        .expect("leave");
    assert!(matches!(
        store
            .remove_member(AccountKind::Team, "m-team", "m-bo")
            .await,
        Err(StoreError::NotFound("member"))
    ));

    store
        .upsert_account(&account(AccountKind::Team, "m-team", 1))
        .await
        .expect("team");
    store
        .delete_account(AccountKind::Team, "m-team")
        .await
        .expect("delete team");
    assert!(
        store
            .members(AccountKind::Team, "m-team")
            .await
            .expect("members")
            .is_empty()
    );
    store
        .upsert_account(&account(AccountKind::User, "m-ana", 1))
        .await
        .expect("user");
    store
        .delete_account(AccountKind::User, "m-ana")
        .await
        .expect("delete user");
    assert!(
        store
            .memberships("m-ana")
            .await
            .expect("memberships")
            .is_empty()
    );
}

/// Spend inserts ignore request ids already stored (or repeated in the batch), every field
/// reads back as written, and large batches are split.
pub async fn spend_insert_is_idempotent(store: Arc<dyn Store>) {
    let mut first = SpendRecord {
        key_id: Some("key-spend-idem".to_owned()),
        key_alias: Some("ci".to_owned()),
        user_id: Some("spend-user".to_owned()),
        team_id: Some("spend-team".to_owned()),
        model_requested: "smart".to_owned(),
        model_group: Some("smart-group".to_owned()),
        input_tokens: u64::from(u32::MAX) + 7,
        output_tokens: 12_345,
        cached_tokens: 99,
        cost_usd: 0.123_456_789_012_345,
        cost_estimated: true,
        latency_ms: 1_234,
        status: 429,
        cache_hit: true,
        experiment: Some("exp".to_owned()),
        variant: Some("b".to_owned()),
        end_user: Some("customer-1".to_owned()),
        organization_id: Some("spend-org".to_owned()),
        call_type: Some("aembedding".to_owned()),
        ..spend("idem-1", 1_000)
    };
    let records: Vec<_> = (1..=3)
        .map(|n| SpendRecord {
            request_id: format!("idem-{n}"),
            time_ms: 1_000 + n,
            ..first.clone()
        })
        .collect();
    first = records[0].clone();
    assert_eq!(store.insert_spend(&records).await.expect("insert"), 3);
    assert_eq!(store.insert_spend(&[]).await.expect("insert nothing"), 0);

    // The same batch again, plus one new record: only that one is added.
    let mut again = records.clone();
    again.push(SpendRecord {
        request_id: "idem-4".to_owned(),
        ..first.clone()
    });
    assert_eq!(store.insert_spend(&again).await.expect("retry"), 1);
    // A batch that repeats an id within itself.
    let twice = SpendRecord {
        request_id: "idem-5".to_owned(),
        ..first.clone()
    };
    assert_eq!(
        store
            .insert_spend(&[twice.clone(), twice])
            .await
            .expect("insert"),
        1
    );

    let filter = SpendFilter {
        key_id: Some("key-spend-idem".to_owned()),
        ..SpendFilter::default()
    };
    let logs = store.spend_logs(&filter).await.expect("logs");
    assert_eq!(
        ids(&logs),
        ["idem-3", "idem-2", "idem-5", "idem-4", "idem-1"]
    );
    assert_eq!(logs[4], first, "every field reads back as written");

    // More rows than one INSERT carries.
    let many: Vec<_> = (0..1_203)
        .map(|n| SpendRecord {
            request_id: format!("bulk-{n:05}"),
            key_id: Some("key-spend-bulk".to_owned()),
            ..spend("", 5_000 + n)
        })
        .collect();
    assert_eq!(store.insert_spend(&many).await.expect("bulk"), 1_203);
    assert_eq!(store.insert_spend(&many).await.expect("bulk again"), 0);
    let filter = SpendFilter {
        key_id: Some("key-spend-bulk".to_owned()),
        limit: 5_000,
        ..SpendFilter::default()
    };
    assert_eq!(store.spend_logs(&filter).await.expect("logs").len(), 1_203);
}

/// Spend logs filter by key, user, team, model (requested or group) and time, newest first.
pub async fn spend_logs_filters_and_order(store: Arc<dyn Store>) {
    const BASE: i64 = 2_000_000_000_000;
    let record =
        |id: &str, at: i64, key: &str, user: &str, team: Option<&str>, model: &str| SpendRecord {
            key_id: Some(key.to_owned()),
            user_id: Some(user.to_owned()),
            team_id: team.map(str::to_owned),
            model_requested: model.to_owned(),
            model_group: Some(format!("{model}-group")),
            ..spend(id, BASE + at)
        };
    let records = [
        record(
            "logs-a",
            0,
            "logs-k1",
            "logs-u1",
            Some("logs-t1"),
            "logs-m1",
        ),
        record(
            "logs-b",
            10,
            "logs-k1",
            "logs-u1",
            Some("logs-t1"),
            "logs-m2",
        ),
        record("logs-c", 20, "logs-k2", "logs-u1", None, "logs-m1"),
        record(
            "logs-d",
            30,
            "logs-k3",
            "logs-u2",
            Some("logs-t1"),
            "logs-m1",
        ),
        // Same time as `logs-d`: ties break by request id, descending.
        record(
            "logs-e",
            30,
            "logs-k3",
            "logs-u2",
            Some("logs-t2"),
            "logs-m2",
        ),
    ];
    store.insert_spend(&records).await.expect("insert");

    let logs = |filter: SpendFilter| {
        let store = Arc::clone(&store);
        async move {
            let filter = SpendFilter {
                start_ms: filter.start_ms.or(Some(BASE)),
                end_ms: filter.end_ms.or(Some(BASE + 1_000)),
                ..filter
            };
            let records = store.spend_logs(&filter).await.expect("logs");
            records
                .into_iter()
                .map(|record| record.request_id)
                .collect::<Vec<_>>()
        }
    };
    let some = |text: &str| Some(text.to_owned());

    assert_eq!(
        logs(SpendFilter::default()).await,
        ["logs-e", "logs-d", "logs-c", "logs-b", "logs-a"]
    );
    assert_eq!(
        logs(SpendFilter {
            key_id: some("logs-k1"),
            ..Default::default()
        })
        .await,
        ["logs-b", "logs-a"]
    );
    assert_eq!(
        logs(SpendFilter {
            user_id: some("logs-u1"),
            ..Default::default()
        })
        .await,
        ["logs-c", "logs-b", "logs-a"]
    );
    assert_eq!(
        logs(SpendFilter {
            team_id: some("logs-t1"),
            ..Default::default()
        })
        .await,
        ["logs-d", "logs-b", "logs-a"]
    );
    // By requested model, and by the group that served it.
    assert_eq!(
        logs(SpendFilter {
            model: some("logs-m2"),
            ..Default::default()
        })
        .await,
        ["logs-e", "logs-b"]
    );
    assert_eq!(
        logs(SpendFilter {
            model: some("logs-m2-group"),
            ..Default::default()
        })
        .await,
        ["logs-e", "logs-b"]
    );
    // Start inclusive, end exclusive.
    assert_eq!(
        logs(SpendFilter {
            start_ms: Some(BASE + 10),
            end_ms: Some(BASE + 30),
            ..Default::default()
        })
        .await,
        ["logs-c", "logs-b"]
    );
    assert_eq!(
        logs(SpendFilter {
            limit: 2,
            ..Default::default()
        })
        .await,
        ["logs-e", "logs-d"]
    );
    assert_eq!(
        logs(SpendFilter {
            user_id: some("logs-u1"),
            team_id: some("logs-t1"),
            model: some("logs-m1"),
            ..Default::default()
        })
        .await,
        ["logs-a"]
    );
    assert_eq!(
        logs(SpendFilter {
            key_id: some("logs-nobody"),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    // One call by its id (LiteLLM's `/spend/logs?request_id=`).
    assert_eq!(
        logs(SpendFilter {
            request_id: some("logs-c"),
            ..Default::default()
        })
        .await,
        ["logs-c"]
    );
}

/// Keyset paging: each page starts after the previous page's last record, records sharing a
/// millisecond included, so the pages together are the whole log in order, each record once.
pub async fn spend_pages_follow_their_cursor(store: Arc<dyn Store>) {
    const BASE: i64 = 4_000_000_000_000;
    // Seven records, three of them in one millisecond: a page may end inside a millisecond.
    let records: Vec<SpendRecord> = [
        (0, "pages-a"),
        (5, "pages-b"),
        (5, "pages-c"),
        (5, "pages-d"),
        (9, "pages-e"),
        (12, "pages-f"),
        (20, "pages-g"),
    ]
    .into_iter()
    .map(|(at, id)| spend(id, BASE + at))
    .collect();
    store.insert_spend(&records).await.expect("insert");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .spend_logs(&SpendFilter {
                start_ms: Some(BASE),
                end_ms: Some(BASE + 100),
                after: after.clone(),
                limit: 2,
                ..Default::default()
            })
            .await
            .expect("page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(SpendCursor::after(last));
        seen.extend(page.iter().map(|r| r.request_id.clone()));
    }
    assert_eq!(
        seen,
        [
            "pages-g", "pages-f", "pages-e", "pages-d", "pages-c", "pages-b", "pages-a"
        ]
    );
    let cursor: SpendCursor = "4000000000005.pages-c".parse().expect("cursor");
    assert_eq!(cursor.to_string(), "4000000000005.pages-c");
    assert!("pages-c".parse::<SpendCursor>().is_err());
    assert!("x.pages-c".parse::<SpendCursor>().is_err());
}

/// Calls counted per time bucket, model and deployment, with failures, tokens, cost and the
/// latency buckets they fell in; calls outside the range left out.
pub async fn spend_series_buckets_calls(store: Arc<dyn Store>) {
    const BASE: i64 = 5_000_000_000_000;
    let call = |id: &str, at: i64, model: &str, latency_ms: u64, status: u16| SpendRecord {
        model_group: Some(model.to_owned()),
        latency_ms,
        status,
        cost_usd: 0.5,
        ..spend(id, BASE + at)
    };
    let records = [
        call("series-a", 0, "series-m1", 20, 200),
        call("series-b", 500, "series-m1", 300, 200),
        call("series-c", 999, "series-m1", 90_000, 500),
        call("series-d", 100, "series-m2", 40, 200),
        call("series-e", 1_000, "series-m1", 20, 429),
        call("series-out", 2_000, "series-m1", 20, 200),
    ];
    store.insert_spend(&records).await.expect("insert");
    let series = store
        .spend_series(BASE, BASE + 2_000, 1_000)
        .await
        .expect("series");
    assert_eq!(series.len(), 3, "{series:?}");
    let first = &series[0];
    assert_eq!((first.start_ms, first.model.as_str()), (BASE, "series-m1"));
    assert_eq!(first.deployment.as_deref(), Some("openai-east"));
    assert_eq!((first.requests, first.errors), (3, 1));
    assert_eq!((first.input_tokens, first.output_tokens), (300, 60));
    assert!((first.cost_usd - 1.5).abs() < 1e-9);
    let bounds = switchyard_store::LATENCY_BOUNDS_MS;
    assert_eq!(first.latency_counts.len(), bounds.len() + 1);
    assert_eq!(
        first.latency_counts[0], 1,
        "20 ms is within the first bound"
    );
    assert_eq!(
        first.latency_counts[bounds.iter().position(|b| *b == 500).expect("500")],
        1
    );
    assert_eq!(
        first.latency_counts[bounds.iter().position(|b| *b == 120_000).expect("120000")],
        1
    );
    assert_eq!(
        (series[1].model.as_str(), series[1].requests),
        ("series-m2", 1)
    );
    assert_eq!(
        (series[2].start_ms, series[2].requests, series[2].errors),
        (BASE + 1_000, 1, 1)
    );
}

/// Spend adds up by key, user, team and model over a time range, most expensive first, with
/// calls lacking the grouping field under `None`.
pub async fn spend_totals_by_each_group(store: Arc<dyn Store>) {
    const BASE: i64 = 3_000_000_000_000;
    let record = |id: &str, at: i64, key: Option<&str>, user: Option<&str>, team: Option<&str>| {
        SpendRecord {
            key_id: key.map(str::to_owned),
            user_id: user.map(str::to_owned),
            team_id: team.map(str::to_owned),
            ..spend(id, BASE + at)
        }
    };
    let records = [
        SpendRecord {
            model_group: Some("totals-m1".to_owned()),
            input_tokens: 100,
            output_tokens: 10,
            cost_usd: 1.0,
            ..record(
                "totals-1",
                0,
                Some("totals-k1"),
                Some("totals-u1"),
                Some("totals-t1"),
            )
        },
        SpendRecord {
            model_group: Some("totals-m1".to_owned()),
            input_tokens: 200,
            output_tokens: 20,
            cost_usd: 1.0,
            ..record(
                "totals-2",
                1,
                Some("totals-k1"),
                Some("totals-u1"),
                Some("totals-t1"),
            )
        },
        SpendRecord {
            model_requested: "totals-alias".to_owned(),
            model_group: Some("totals-m2".to_owned()),
            input_tokens: 50,
            output_tokens: 5,
            cost_usd: 0.5,
            ..record(
                "totals-3",
                2,
                Some("totals-k2"),
                Some("totals-u1"),
                Some("totals-t2"),
            )
        },
        // No key, no group: grouped under `None`, and under the requested model.
        SpendRecord {
            model_requested: "totals-m3".to_owned(),
            model_group: None,
            input_tokens: 1,
            output_tokens: 1,
            cost_usd: 0.25,
            ..record("totals-4", 3, None, None, None)
        },
        // Outside the range.
        SpendRecord {
            cost_usd: 100.0,
            ..record("totals-early", -1, Some("totals-k1"), None, None)
        },
        SpendRecord {
            cost_usd: 100.0,
            ..record("totals-late", 1_000, Some("totals-k1"), None, None)
        },
    ];
    store.insert_spend(&records).await.expect("insert");

    let totals = |group: SpendGroup| {
        let store = Arc::clone(&store);
        async move {
            store
                .spend_totals(group, BASE, BASE + 1_000)
                .await
                .expect("totals")
        }
    };
    let check = |actual: Vec<SpendTotal>, expected: &[(Option<&str>, u64, u64, u64, f64)]| {
        let shape: Vec<_> = actual
            .iter()
            .map(|total| {
                (
                    total.group.as_deref(),
                    total.requests,
                    total.input_tokens,
                    total.output_tokens,
                )
            })
            .collect();
        let expected_shape: Vec<_> = expected
            .iter()
            .map(|&(group, requests, input, output, _)| (group, requests, input, output))
            .collect();
        assert_eq!(shape, expected_shape);
        for (total, &(_, _, _, _, cost)) in actual.iter().zip(expected) {
            assert_close(total.cost_usd, cost, "cost");
        }
    };

    check(
        totals(SpendGroup::Key).await,
        &[
            (Some("totals-k1"), 2, 300, 30, 2.0),
            (Some("totals-k2"), 1, 50, 5, 0.5),
            (None, 1, 1, 1, 0.25),
        ],
    );
    check(
        totals(SpendGroup::User).await,
        &[(Some("totals-u1"), 3, 350, 35, 2.5), (None, 1, 1, 1, 0.25)],
    );
    check(
        totals(SpendGroup::Team).await,
        &[
            (Some("totals-t1"), 2, 300, 30, 2.0),
            (Some("totals-t2"), 1, 50, 5, 0.5),
            (None, 1, 1, 1, 0.25),
        ],
    );
    check(
        totals(SpendGroup::Model).await,
        &[
            (Some("totals-m1"), 2, 300, 30, 2.0),
            (Some("totals-m2"), 1, 50, 5, 0.5),
            (Some("totals-m3"), 1, 1, 1, 0.25),
        ],
    );
    assert!(
        store
            .spend_totals(SpendGroup::Key, BASE + 5_000, BASE + 6_000)
            .await
            .expect("totals")
            .is_empty()
    );
}

/// 50 concurrent charges to the same three counters add up exactly.
pub async fn counters_sum_concurrent_charges(counters: Arc<dyn BudgetCounters>) {
    // Redis expires counters of windows long past: charge the current ones.
    let now = unix_now();
    let keys = vec![
        CounterKey::new(CounterScope::Key, "conc-key", Some(period("1d")), now),
        CounterKey::new(
            CounterScope::User,
            "conc-user",
            Some(period("monthly")),
            now,
        ),
        CounterKey::new(CounterScope::Team, "conc-team", None, now),
    ];
    for key in &keys {
        counters.seed(key, 0.0).await.expect("seed");
    }
    let keys = Arc::new(keys);
    let mut tasks = Vec::new();
    for n in 1..=50u32 {
        let counters = Arc::clone(&counters);
        let keys = Arc::clone(&keys);
        tasks.push(tokio::spawn(async move {
            counters
                .charge(&keys, f64::from(n) * 0.01)
                .await
                .expect("charge");
        }));
    }
    for task in tasks {
        task.await.expect("charge task");
    }
    let expected = 0.01 * f64::from((1..=50).sum::<u32>());
    let spent = counters.spent(&keys).await.expect("spent");
    assert_eq!(spent.len(), 3);
    for (n, spent) in spent.into_iter().enumerate() {
        assert_close(spent, expected, &format!("counter {n}"));
    }
}

/// Windows, scopes and ids each have their own counter; reading an unknown counter gives 0;
/// a charge counts each distinct counter once and leaves a missing counter missing; a seed
/// never overwrites; refunds subtract; NaN is refused.
pub async fn counters_keep_periods_and_scopes_apart(counters: Arc<dyn BudgetCounters>) {
    let now = unix_now();
    let daily = Some(period("1d"));
    let today = CounterKey::new(CounterScope::Key, "apart", daily, now);
    let yesterday = CounterKey::new(CounterScope::Key, "apart", daily, now - 86_400);
    let as_user = CounterKey::new(CounterScope::User, "apart", daily, now);
    let other_id = CounterKey::new(CounterScope::Key, "apart-2", daily, now);
    let this_month = CounterKey::new(CounterScope::Key, "apart", Some(period("1mo")), now);
    let next_month = CounterKey::new(
        CounterScope::Key,
        "apart",
        Some(period("1mo")),
        now + 32 * 86_400,
    );
    assert_ne!(this_month.period_start, next_month.period_start);
    for key in [&today, &yesterday, &as_user, &this_month] {
        counters.seed(key, 0.0).await.expect("seed");
    }
    // A second seed of an existing counter changes nothing.
    counters.seed(&today, 100.0).await.expect("seed again");
    // A charge does not create `other_id`: it stays missing, to be rebuilt from the log.
    counters
        .charge(std::slice::from_ref(&other_id), 3.0)
        .await
        .expect("charge a missing counter");

    counters
        .charge(std::slice::from_ref(&today), 1.5)
        .await
        .expect("charge");
    counters
        .charge(&[yesterday.clone(), today.clone(), yesterday.clone()], 0.25)
        .await
        .expect("charge");
    counters
        .charge(std::slice::from_ref(&as_user), 4.0)
        .await
        .expect("charge");
    counters
        .charge(std::slice::from_ref(&this_month), 7.0)
        .await
        .expect("charge");
    counters.charge(&[], 99.0).await.expect("charge nothing");

    let spent = counters
        .spent(&[
            today.clone(),
            yesterday.clone(),
            as_user.clone(),
            other_id.clone(),
            this_month.clone(),
            next_month.clone(),
        ])
        .await
        .expect("spent");
    let expected = [1.75, 0.25, 4.0, 0.0, 7.0, 0.0];
    assert_eq!(spent.len(), expected.len());
    for (n, (spent, expected)) in spent.into_iter().zip(expected).enumerate() {
        assert_close(spent, expected, &format!("counter {n}"));
    }

    // A refund.
    counters
        .charge(std::slice::from_ref(&today), -0.75)
        .await
        .expect("refund");
    let spent = counters
        .spent(std::slice::from_ref(&today))
        .await
        .expect("spent");
    assert_close(spent[0], 1.0, "after refund");

    assert!(matches!(
        counters
            .charge(std::slice::from_ref(&today), f64::NAN)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        counters
            .charge(std::slice::from_ref(&today), f64::INFINITY)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(counters.spent(&[]).await.expect("spent nothing").is_empty());
}

/// 50 concurrent reservations of $0.019 against a $0.05 budget: exactly three are held (each
/// checks the counter as the previous ones left it), and the counter holds their sum.
pub async fn reservations_hold_a_budget_under_concurrency(counters: Arc<dyn BudgetCounters>) {
    let now = unix_now();
    let key = CounterKey::new(CounterScope::Key, "race-key", Some(period("1d")), now);
    let team = CounterKey::new(CounterScope::Team, "race-team", None, now);
    counters.seed(&key, 0.0).await.expect("seed");
    counters.seed(&team, 0.0).await.expect("seed");
    let budgets = Arc::new(vec![
        Budget {
            key: key.clone(),
            max_usd: 0.05,
        },
        Budget {
            key: team.clone(),
            max_usd: 100.0,
        },
    ]);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let counters = Arc::clone(&counters);
        let budgets = Arc::clone(&budgets);
        tasks.push(tokio::spawn(async move {
            counters.reserve(&budgets, 0.019).await.expect("reserve")
        }));
    }
    let mut held = 0;
    for task in tasks {
        match task.await.expect("reserve task") {
            Reserve::Held(now) => {
                assert!(now[0] <= 0.05 + 0.019 + 1e-9, "the key holds {}", now[0]);
                held += 1;
            }
            Reserve::Exceeded { index, spent } => {
                assert_eq!(index, 0, "only the key's budget is small");
                assert!(spent >= 0.05, "refused below the budget: {spent}");
            }
            Reserve::Missing(missing) => panic!("seeded counters missing: {missing:?}"),
        }
    }
    assert_eq!(held, 3, "0, 0.019 and 0.038 are below 0.05; 0.057 is not");
    let spent = counters.spent(&[key, team]).await.expect("spent");
    assert_close(spent[0], 3.0 * 0.019, "key after the race");
    assert_close(spent[1], 3.0 * 0.019, "team after the race");
}

/// A reservation that one budget refuses, or that finds a counter missing, changes no counter;
/// the missing ones are named; once seeded, the same reservation is held.
pub async fn reservations_are_all_or_nothing_and_report_missing_counters(
    counters: Arc<dyn BudgetCounters>,
) {
    let now = unix_now();
    let key = CounterKey::new(CounterScope::Key, "whole-key", None, now);
    let user = CounterKey::new(CounterScope::User, "whole-user", Some(period("1d")), now);
    let end_user = CounterKey::new(CounterScope::EndUser, "whole-customer", None, now);
    let budgets = [
        Budget {
            key: key.clone(),
            max_usd: 10.0,
        },
        Budget {
            key: user.clone(),
            max_usd: 1.0,
        },
        Budget {
            key: end_user.clone(),
            max_usd: 10.0,
        },
    ];
    counters.seed(&user, 0.0).await.expect("seed");
    assert_eq!(
        counters.reserve(&budgets, 0.5).await.expect("reserve"),
        Reserve::Missing(vec![0, 2])
    );
    counters.seed(&key, 2.0).await.expect("seed");
    counters.seed(&end_user, 0.0).await.expect("seed");
    match counters.reserve(&budgets, 0.5).await.expect("reserve") {
        Reserve::Held(now) => {
            assert_eq!(now.len(), 3);
            assert_close(now[0], 2.5, "key after the first reservation");
            assert_close(now[1], 0.5, "user after the first reservation");
            assert_close(now[2], 0.5, "end user after the first reservation");
        }
        other => panic!("expected a reservation: {other:?}"),
    }
    assert!(matches!(
        counters.reserve(&budgets, 0.5).await.expect("reserve"),
        Reserve::Held(_)
    ));
    match counters.reserve(&budgets, 0.5).await.expect("reserve") {
        Reserve::Exceeded { index, spent } => {
            assert_eq!(index, 1, "the user's $1 is reached");
            assert_close(spent, 1.0, "the user's counter");
        }
        other => panic!("expected the user's budget to refuse: {other:?}"),
    }
    let spent = counters.spent(&[key, user, end_user]).await.expect("spent");
    assert_close(
        spent[0],
        3.0,
        "key: seeded 2 plus two reservations, not three",
    );
    assert_close(spent[1], 1.0, "user");
    assert_close(spent[2], 1.0, "end user");
    assert!(matches!(
        counters.reserve(&budgets, f64::NAN).await,
        Err(StoreError::Invalid(_))
    ));
}

/// What a lost budget counter is rebuilt from: one owner's spend in a window, by scope, the
/// window's start inclusive and end exclusive; 0 for an owner with no spend.
pub async fn spend_in_window_sums_one_owner(store: Arc<dyn Store>) {
    const BASE: i64 = 3_100_000_000_000;
    let owned = |id: &str, at: i64, cost: f64| SpendRecord {
        key_id: Some("window-k".to_owned()),
        user_id: Some("window-u".to_owned()),
        team_id: Some("window-t".to_owned()),
        end_user: Some("window-customer".to_owned()),
        organization_id: Some("window-org".to_owned()),
        cost_usd: cost,
        ..spend(id, BASE + at)
    };
    let records = [
        owned("window-1", 0, 1.0),
        owned("window-2", 500, 2.0),
        owned("window-3", 1_000, 4.0),
        SpendRecord {
            key_id: Some("window-other".to_owned()),
            ..owned("window-4", 10, 8.0)
        },
    ];
    store.insert_spend(&records).await.expect("insert");
    let sum = |scope, id: &'static str, end| {
        let store = Arc::clone(&store);
        async move {
            store
                .spend_in_window(scope, id, BASE, end)
                .await
                .expect("spend in window")
        }
    };
    assert_close(
        sum(CounterScope::Key, "window-k", Some(BASE + 1_000)).await,
        3.0,
        "key",
    );
    assert_close(
        sum(CounterScope::Key, "window-k", None).await,
        7.0,
        "key, no end",
    );
    assert_close(
        sum(CounterScope::User, "window-u", None).await,
        15.0,
        "user",
    );
    assert_close(
        sum(CounterScope::Team, "window-t", Some(BASE + 11)).await,
        9.0,
        "team",
    );
    assert_close(
        sum(CounterScope::EndUser, "window-customer", Some(BASE + 600)).await,
        11.0,
        "end user",
    );
    assert_close(
        sum(CounterScope::Organization, "window-org", None).await,
        15.0,
        "organization",
    );
    assert_close(
        sum(CounterScope::Key, "window-nobody", None).await,
        0.0,
        "nobody",
    );
}

/// A stored response is read and deleted by the key that created it only; another key's
/// attempts find nothing.
pub async fn responses_are_scoped_to_their_key(store: Arc<dyn ResponseStore>) {
    let response = |id: &str, key_id: &str| StoredResponse {
        id: id.to_owned(),
        key_id: key_id.to_owned(),
        response: format!(r#"{{"id":"{id}","object":"response"}}"#),
        conversation: r#"[{"role":"user","content":"hi"}]"#.to_owned(),
        created_at: 10,
        deployment: None,
    };
    store
        .save_response(&response("resp_1", "k1"))
        .await
        .expect("save");
    assert!(matches!(
        store.save_response(&response("resp_1", "k1")).await,
        Err(StoreError::Conflict("response"))
    ));
    assert_eq!(
        store.response("k1", "resp_1").await.expect("read"),
        Some(response("resp_1", "k1"))
    );
    assert_eq!(store.response("k2", "resp_1").await.expect("read"), None);
    assert!(matches!(
        store.delete_response("k2", "resp_1").await,
        Err(StoreError::NotFound("response"))
    ));
    store.delete_response("k1", "resp_1").await.expect("delete");
    assert_eq!(store.response("k1", "resp_1").await.expect("read"), None);
    // One held upstream reads back with its deployment.
    let upstream = StoredResponse {
        deployment: Some("gpt-5-east".to_owned()),
        ..response("resp_up", "k1")
    };
    store.save_response(&upstream).await.expect("save");
    assert_eq!(
        store.response("k1", "resp_up").await.expect("read"),
        Some(upstream)
    );
    assert!(matches!(
        store.delete_response("k1", "resp_1").await,
        Err(StoreError::NotFound("response"))
    ));
}
