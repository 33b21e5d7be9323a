//! The conformance suite every backend runs: one async function per case, each taking a fresh,
//! empty store, and [`conformance_tests!`](crate::conformance_tests) to expand them into one
//! `#[tokio::test]` per case in a backend's test binary:
//!
//! ```ignore
//! struct Sqlite { /* … */ }
//! impl reliquary_store::conformance::Fixture for Sqlite { /* … */ }
//! reliquary_store::conformance_tests!(Sqlite);
//! ```
//!
//! The cases panic on a failed expectation, like tests do.

use std::future::Future;
use std::sync::Arc;

use reliquary_types::{AccountId, DomainName, RepositoryName, Timestamp};

use crate::{
    DomainKey, NewDomain, NewRepository, Repository, RepositoryCursor, RepositoryFilter,
    RepositoryUpdate, ResourceKind, Store, StoreError, Tag, TaggedResource,
};

/// A fresh, empty store for one case, and its disposal.
pub trait Fixture: Send + Sized + 'static {
    /// Creates an empty, migrated store; panics if it cannot.
    fn setup() -> impl Future<Output = Self> + Send;
    fn store(&self) -> Arc<dyn Store>;
    /// Releases what `setup` created (files, databases); runs even when the case failed.
    fn teardown(self) -> impl Future<Output = ()> + Send;
}

/// Runs one case on a fresh fixture, tears the fixture down, then re-raises the case's panic.
pub async fn run_case<F, C, Fut>(case: C)
where
    F: Fixture,
    C: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let fixture = F::setup().await;
    let outcome = tokio::spawn(case(fixture.store())).await;
    fixture.teardown().await;
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("conformance case did not complete: {error}"),
        }
    }
}

/// Expands into one `#[tokio::test]` per conformance case, each on a fresh `$fixture`
/// (a type implementing [`Fixture`]). The calling crate needs `tokio` (macros, multi-thread).
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:ty) => {
        $crate::conformance_tests!(@cases $fixture;
            ping_and_backend,
            domain_create_and_read,
            domain_create_existing_is_already_exists,
            domain_quota_per_account,
            domain_list_is_keyset_paginated,
            domain_delete,
            domain_delete_refuses_non_empty,
            repository_create_and_read,
            repository_create_errors,
            repository_quota_per_domain,
            repository_update_description,
            repository_update_replaces_upstreams_in_order,
            repository_update_refuses_missing_upstream,
            repository_update_refuses_self_upstream,
            repository_update_refuses_cycle,
            repository_update_missing_is_not_found,
            repository_delete,
            repository_delete_refuses_upstream,
            repository_list_filters,
            repository_list_prefix_is_literal,
            repository_list_is_keyset_paginated,
            external_connections,
            tags_upsert_and_remove,
            tags_limit_is_atomic,
            tags_of_missing_resource,
            tags_are_deleted_with_their_resource,
            signing_key_is_stable,
            concurrent_create_repository_same_name,
            concurrent_create_repository_respects_quota,
            concurrent_create_domain_respects_quota,
            concurrent_updates_never_make_a_cycle,
            concurrent_tagging_respects_limit,
            concurrent_signing_key,
        );
    };
    (@cases $fixture:ty; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::conformance::run_case::<$fixture, _, _>($crate::conformance::$case).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn account(id: &str) -> AccountId {
    AccountId::parse(id).expect("valid account id")
}

fn repo(name: &str) -> RepositoryName {
    RepositoryName::parse(name).expect("valid repository name")
}

fn repos(names: &[&str]) -> Vec<RepositoryName> {
    names.iter().map(|n| repo(n)).collect()
}

fn key(owner: &str, name: &str) -> DomainKey {
    DomainKey {
        owner: account(owner),
        name: DomainName::parse(name).expect("valid domain name"),
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

const OWNER: &str = "111111111111";
const OTHER: &str = "222222222222";
const ADMIN: &str = "333333333333";

fn new_domain(key: &DomainKey) -> NewDomain {
    NewDomain {
        key: key.clone(),
        encryption_key: format!("arn:aws:kms:us-east-1:{}:key/{}", key.owner, key.name),
        created: Timestamp(1_700_000_000_123),
        tags: Vec::new(),
        max_domains_per_account: 100,
    }
}

fn new_repository(domain: &DomainKey, name: &str, upstreams: &[&str]) -> NewRepository {
    NewRepository {
        domain: domain.clone(),
        name: repo(name),
        administrator_account: domain.owner.clone(),
        description: None,
        upstreams: repos(upstreams),
        created: Timestamp(1_700_000_000_456),
        tags: Vec::new(),
        max_repositories_per_domain: 1000,
    }
}

async fn make_domain(store: &dyn Store, key: &DomainKey) {
    store
        .create_domain(new_domain(key))
        .await
        .expect("create domain");
}

async fn make_repository(store: &dyn Store, domain: &DomainKey, name: &str, upstreams: &[&str]) {
    store
        .create_repository(new_repository(domain, name, upstreams))
        .await
        .expect("create repository");
}

async fn get_repository(store: &dyn Store, domain: &DomainKey, name: &str) -> Repository {
    store
        .repository(domain, &repo(name))
        .await
        .expect("read repository")
        .expect("repository exists")
}

async fn upstreams_of(store: &dyn Store, domain: &DomainKey, name: &str) -> Vec<String> {
    get_repository(store, domain, name)
        .await
        .upstreams
        .iter()
        .map(ToString::to_string)
        .collect()
}

async fn set_upstreams(
    store: &dyn Store,
    domain: &DomainKey,
    name: &str,
    upstreams: &[&str],
) -> crate::Result<Repository> {
    store
        .update_repository(
            domain,
            &repo(name),
            RepositoryUpdate {
                upstreams: Some(repos(upstreams)),
                ..RepositoryUpdate::default()
            },
        )
        .await
}

fn not_found(kind: ResourceKind, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_owned(),
    }
}

fn names(repositories: &[Repository]) -> Vec<String> {
    repositories.iter().map(|r| r.name.to_string()).collect()
}

fn domain_names(domains: &[crate::Domain]) -> Vec<String> {
    domains.iter().map(|d| d.key.name.to_string()).collect()
}

fn cursor_of(repository: &Repository) -> RepositoryCursor {
    RepositoryCursor {
        name: repository.name.to_string(),
        domain_owner: repository.domain.owner.to_string(),
        domain_name: repository.domain.name.to_string(),
    }
}

async fn join_all<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task completes"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cases

pub async fn ping_and_backend(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
    assert!(matches!(store.backend(), "sqlite" | "postgres"));
}

pub async fn domain_create_and_read(store: Arc<dyn Store>) {
    let k = key(OWNER, "my-domain");
    assert_eq!(store.domain(&k).await.expect("read"), None);
    let mut new = new_domain(&k);
    new.tags = vec![tag("team", "core"), tag("env", "prod")];
    let created = store.create_domain(new.clone()).await.expect("create");
    assert_eq!(created.key, k);
    assert_eq!(created.encryption_key, new.encryption_key);
    assert_eq!(created.created, new.created);
    assert_eq!(created.repository_count, 0);
    assert_eq!(created.asset_size_bytes, 0);
    assert_eq!(store.domain(&k).await.expect("read"), Some(created.clone()));
    assert_eq!(
        store
            .tags(&TaggedResource::Domain(k.clone()))
            .await
            .expect("tags"),
        vec![tag("env", "prod"), tag("team", "core")]
    );
    // Another owner's domain of the same name is a different domain.
    assert_eq!(
        store.domain(&key(OTHER, "my-domain")).await.expect("read"),
        None
    );

    make_repository(&*store, &k, "one", &[]).await;
    make_repository(&*store, &k, "two", &[]).await;
    let read = store.domain(&k).await.expect("read").expect("exists");
    assert_eq!(read.repository_count, 2);
    let listed = store.list_domains(&k.owner, None, 10).await.expect("list");
    assert_eq!(listed, vec![read]);
}

pub async fn domain_create_existing_is_already_exists(store: Arc<dyn Store>) {
    let k = key(OWNER, "dup");
    make_domain(&*store, &k).await;
    let mut again = new_domain(&k);
    again.encryption_key = "other".to_owned();
    assert_eq!(
        store.create_domain(again).await,
        Err(StoreError::AlreadyExists {
            kind: ResourceKind::Domain,
            id: "dup".to_owned()
        })
    );
    let read = store.domain(&k).await.expect("read").expect("exists");
    assert_ne!(read.encryption_key, "other");
    // The same name under another owner is fine.
    make_domain(&*store, &key(OTHER, "dup")).await;
}

pub async fn domain_quota_per_account(store: Arc<dyn Store>) {
    for name in ["q-one", "q-two"] {
        let mut new = new_domain(&key(OWNER, name));
        new.max_domains_per_account = 2;
        store.create_domain(new).await.expect("within quota");
    }
    let mut third = new_domain(&key(OWNER, "q-three"));
    third.max_domains_per_account = 2;
    third.tags = vec![tag("k", "v")];
    assert_eq!(
        store.create_domain(third).await,
        Err(StoreError::QuotaExceeded {
            kind: ResourceKind::Domain,
            limit: 2
        })
    );
    assert_eq!(
        store.domain(&key(OWNER, "q-three")).await.expect("read"),
        None
    );
    // The quota is per account.
    let mut other = new_domain(&key(OTHER, "q-three"));
    other.max_domains_per_account = 2;
    store.create_domain(other).await.expect("other account");
}

pub async fn domain_list_is_keyset_paginated(store: Arc<dyn Store>) {
    let owner = account(OWNER);
    for name in ["dc", "da", "de"] {
        make_domain(&*store, &key(OWNER, name)).await;
    }
    make_domain(&*store, &key(OTHER, "db")).await;

    let page = store.list_domains(&owner, None, 2).await.expect("list");
    assert_eq!(domain_names(&page), ["da", "dc"]);
    // Domains created between pages: one before the cursor, one after.
    make_domain(&*store, &key(OWNER, "db")).await;
    make_domain(&*store, &key(OWNER, "dd")).await;
    let page = store
        .list_domains(&owner, Some("dc"), 2)
        .await
        .expect("list");
    assert_eq!(domain_names(&page), ["dd", "de"]);
    let page = store
        .list_domains(&owner, Some("de"), 2)
        .await
        .expect("list");
    assert!(page.is_empty());
    // `after` need not be an existing name.
    let page = store
        .list_domains(&owner, Some("dbb"), 10)
        .await
        .expect("list");
    assert_eq!(domain_names(&page), ["dc", "dd", "de"]);
    let all = store.list_domains(&owner, None, 100).await.expect("list");
    assert_eq!(domain_names(&all), ["da", "db", "dc", "dd", "de"]);
    assert!(
        store
            .list_domains(&owner, None, 0)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .list_domains(&account(ADMIN), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn domain_delete(store: Arc<dyn Store>) {
    let k = key(OWNER, "gone");
    assert_eq!(
        store.delete_domain(&k).await,
        Err(not_found(ResourceKind::Domain, "gone"))
    );
    make_domain(&*store, &k).await;
    let before = store.domain(&k).await.expect("read").expect("exists");
    let deleted = store.delete_domain(&k).await.expect("delete");
    assert_eq!(deleted, before);
    assert_eq!(store.domain(&k).await.expect("read"), None);
    assert_eq!(
        store.delete_domain(&k).await,
        Err(not_found(ResourceKind::Domain, "gone"))
    );
    // The name is free again.
    make_domain(&*store, &k).await;
}

pub async fn domain_delete_refuses_non_empty(store: Arc<dyn Store>) {
    let k = key(OWNER, "full");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "r1", &[]).await;
    make_repository(&*store, &k, "r2", &[]).await;
    assert_eq!(
        store.delete_domain(&k).await,
        Err(StoreError::DomainNotEmpty {
            domain: "full".to_owned(),
            count: 2
        })
    );
    assert!(store.domain(&k).await.expect("read").is_some());
    store
        .delete_repository(&k, &repo("r1"))
        .await
        .expect("delete");
    store
        .delete_repository(&k, &repo("r2"))
        .await
        .expect("delete");
    let deleted = store.delete_domain(&k).await.expect("delete");
    assert_eq!(deleted.repository_count, 0);
}

pub async fn repository_create_and_read(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    assert_eq!(
        store.repository(&k, &repo("main")).await.expect("read"),
        None
    );
    // A missing domain reads as a missing repository.
    assert_eq!(
        store
            .repository(&key(OWNER, "nope"), &repo("main"))
            .await
            .expect("read"),
        None
    );
    for name in ["c-up", "a-up", "b-up"] {
        make_repository(&*store, &k, name, &[]).await;
    }
    let mut new = new_repository(&k, "main", &["c-up", "a-up", "b-up"]);
    new.administrator_account = account(ADMIN);
    new.description = Some("the main one".to_owned());
    new.tags = vec![tag("b", "2"), tag("a", "1")];
    let created = store.create_repository(new.clone()).await.expect("create");
    let expected = Repository {
        domain: k.clone(),
        name: repo("main"),
        administrator_account: account(ADMIN),
        description: Some("the main one".to_owned()),
        upstreams: repos(&["c-up", "a-up", "b-up"]),
        external_connections: Vec::new(),
        created: new.created,
    };
    assert_eq!(created, expected);
    assert_eq!(get_repository(&*store, &k, "main").await, expected);
    assert_eq!(
        store
            .tags(&TaggedResource::Repository(k.clone(), repo("main")))
            .await
            .expect("tags"),
        vec![tag("a", "1"), tag("b", "2")]
    );
    let domain = store.domain(&k).await.expect("read").expect("exists");
    assert_eq!(domain.repository_count, 4);
    // The same name in another domain is another repository.
    let other = key(OWNER, "dom-two");
    make_domain(&*store, &other).await;
    make_repository(&*store, &other, "main", &[]).await;
    assert!(
        get_repository(&*store, &other, "main")
            .await
            .upstreams
            .is_empty()
    );
}

pub async fn repository_create_errors(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    let missing = key(OWNER, "missing");
    assert_eq!(
        store
            .create_repository(new_repository(&missing, "repo", &[]))
            .await,
        Err(not_found(ResourceKind::Domain, "missing"))
    );
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "exists", &[]).await;
    assert_eq!(
        store
            .create_repository(new_repository(&k, "exists", &[]))
            .await,
        Err(StoreError::AlreadyExists {
            kind: ResourceKind::Repository,
            id: "exists".to_owned()
        })
    );
    assert_eq!(
        store
            .create_repository(new_repository(&k, "new", &["exists", "ghost"]))
            .await,
        Err(StoreError::UpstreamNotFound("ghost".to_owned()))
    );
    // An upstream must be in the same domain.
    let other = key(OWNER, "other");
    make_domain(&*store, &other).await;
    make_repository(&*store, &other, "elsewhere", &[]).await;
    assert_eq!(
        store
            .create_repository(new_repository(&k, "new", &["elsewhere"]))
            .await,
        Err(StoreError::UpstreamNotFound("elsewhere".to_owned()))
    );
    // Nothing was left behind by the failures.
    assert_eq!(
        store.repository(&k, &repo("new")).await.expect("read"),
        None
    );
    assert_eq!(
        store
            .domain(&k)
            .await
            .expect("read")
            .expect("exists")
            .repository_count,
        1
    );
    make_repository(&*store, &k, "new", &["exists"]).await;
}

pub async fn repository_quota_per_domain(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    let other = key(OWNER, "dom-two");
    make_domain(&*store, &k).await;
    make_domain(&*store, &other).await;
    for name in ["r1", "r2"] {
        let mut new = new_repository(&k, name, &[]);
        new.max_repositories_per_domain = 2;
        store.create_repository(new).await.expect("within quota");
    }
    let mut third = new_repository(&k, "r3", &[]);
    third.max_repositories_per_domain = 2;
    assert_eq!(
        store.create_repository(third.clone()).await,
        Err(StoreError::QuotaExceeded {
            kind: ResourceKind::Repository,
            limit: 2
        })
    );
    assert_eq!(store.repository(&k, &repo("r3")).await.expect("read"), None);
    // The quota is per domain.
    third.domain = other;
    store.create_repository(third).await.expect("other domain");
    // Deleting frees a slot.
    store
        .delete_repository(&k, &repo("r1"))
        .await
        .expect("delete");
    let mut again = new_repository(&k, "r3", &[]);
    again.max_repositories_per_domain = 2;
    store.create_repository(again).await.expect("slot freed");
}

pub async fn repository_update_description(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "up", &[]).await;
    make_repository(&*store, &k, "repo", &["up"]).await;
    let set = |description: Option<Option<&str>>| RepositoryUpdate {
        description: description.map(|d| d.map(str::to_owned)),
        upstreams: None,
    };
    let updated = store
        .update_repository(&k, &repo("repo"), set(Some(Some("hello"))))
        .await
        .expect("update");
    assert_eq!(updated.description.as_deref(), Some("hello"));
    assert_eq!(updated.upstreams, repos(&["up"]));
    assert_eq!(get_repository(&*store, &k, "repo").await, updated);
    // `None` leaves the description alone.
    let unchanged = store
        .update_repository(&k, &repo("repo"), set(None))
        .await
        .expect("update");
    assert_eq!(unchanged, updated);
    // `Some(None)` clears it.
    let cleared = store
        .update_repository(&k, &repo("repo"), set(Some(None)))
        .await
        .expect("update");
    assert_eq!(cleared.description, None);
    assert_eq!(cleared.upstreams, repos(&["up"]));
    assert_eq!(get_repository(&*store, &k, "repo").await.description, None);
}

pub async fn repository_update_replaces_upstreams_in_order(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    for name in ["u1", "u2", "u3", "u4"] {
        make_repository(&*store, &k, name, &[]).await;
    }
    make_repository(&*store, &k, "repo", &["u1", "u2"]).await;
    let updated = set_upstreams(&*store, &k, "repo", &["u4", "u1", "u3"])
        .await
        .expect("update");
    assert_eq!(updated.upstreams, repos(&["u4", "u1", "u3"]));
    assert_eq!(upstreams_of(&*store, &k, "repo").await, ["u4", "u1", "u3"]);
    // Also on the update of a description at the same time.
    let both = store
        .update_repository(
            &k,
            &repo("repo"),
            RepositoryUpdate {
                description: Some(Some("d".to_owned())),
                upstreams: Some(repos(&["u2"])),
            },
        )
        .await
        .expect("update");
    assert_eq!(both.upstreams, repos(&["u2"]));
    assert_eq!(both.description.as_deref(), Some("d"));
    // The former upstreams are no longer held as upstreams.
    store
        .delete_repository(&k, &repo("u4"))
        .await
        .expect("u4 is free");
    // An empty list clears them.
    let cleared = set_upstreams(&*store, &k, "repo", &[])
        .await
        .expect("update");
    assert!(cleared.upstreams.is_empty());
    assert!(upstreams_of(&*store, &k, "repo").await.is_empty());
}

pub async fn repository_update_refuses_missing_upstream(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    let other = key(OWNER, "other");
    make_domain(&*store, &k).await;
    make_domain(&*store, &other).await;
    make_repository(&*store, &k, "u1", &[]).await;
    make_repository(&*store, &other, "foreign", &[]).await;
    make_repository(&*store, &k, "repo", &["u1"]).await;
    assert_eq!(
        set_upstreams(&*store, &k, "repo", &["u1", "ghost"]).await,
        Err(StoreError::UpstreamNotFound("ghost".to_owned()))
    );
    assert_eq!(
        set_upstreams(&*store, &k, "repo", &["foreign"]).await,
        Err(StoreError::UpstreamNotFound("foreign".to_owned()))
    );
    // A refused update changes nothing, the description included.
    let refused = store
        .update_repository(
            &k,
            &repo("repo"),
            RepositoryUpdate {
                description: Some(Some("not applied".to_owned())),
                upstreams: Some(repos(&["ghost"])),
            },
        )
        .await;
    assert_eq!(
        refused,
        Err(StoreError::UpstreamNotFound("ghost".to_owned()))
    );
    let r = get_repository(&*store, &k, "repo").await;
    assert_eq!(r.upstreams, repos(&["u1"]));
    assert_eq!(r.description, None);
}

pub async fn repository_update_refuses_self_upstream(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "up", &[]).await;
    make_repository(&*store, &k, "repo", &["up"]).await;
    match set_upstreams(&*store, &k, "repo", &["up", "repo"]).await {
        Err(StoreError::UpstreamCycle(path)) => {
            assert!(path.iter().all(|n| n == "repo"), "{path:?}");
            assert!(path.len() >= 2, "{path:?}");
        }
        other => panic!("expected UpstreamCycle, got {other:?}"),
    }
    assert_eq!(upstreams_of(&*store, &k, "repo").await, ["up"]);
}

pub async fn repository_update_refuses_cycle(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "rc", &[]).await;
    make_repository(&*store, &k, "rb", &["rc"]).await;
    make_repository(&*store, &k, "ra", &["rb"]).await;
    make_repository(&*store, &k, "rx", &[]).await;
    // rc -> ra closes ra -> rb -> rc.
    match set_upstreams(&*store, &k, "rc", &["rx", "ra"]).await {
        Err(StoreError::UpstreamCycle(path)) => {
            assert_eq!(path.first(), path.last(), "{path:?}");
            for name in ["ra", "rb", "rc"] {
                assert!(path.iter().any(|n| n == name), "{path:?}");
            }
            assert!(!path.iter().any(|n| n == "rx"), "{path:?}");
        }
        other => panic!("expected UpstreamCycle, got {other:?}"),
    }
    // The graph is unchanged.
    assert!(upstreams_of(&*store, &k, "rc").await.is_empty());
    assert_eq!(upstreams_of(&*store, &k, "rb").await, ["rc"]);
    assert_eq!(upstreams_of(&*store, &k, "ra").await, ["rb"]);
    // Shared upstreams (a diamond) are not a cycle.
    make_repository(&*store, &k, "rd", &[]).await;
    set_upstreams(&*store, &k, "rc", &["rd"])
        .await
        .expect("acyclic");
    set_upstreams(&*store, &k, "rx", &["rd"])
        .await
        .expect("acyclic");
    set_upstreams(&*store, &k, "ra", &["rb", "rx"])
        .await
        .expect("diamond");
    // A longer cycle through the new edges is found too (d -> a -> x -> d, d -> a -> b -> c -> d).
    assert!(matches!(
        set_upstreams(&*store, &k, "rd", &["ra"]).await,
        Err(StoreError::UpstreamCycle(_))
    ));
    assert!(upstreams_of(&*store, &k, "rd").await.is_empty());
}

pub async fn repository_update_missing_is_not_found(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    assert_eq!(
        set_upstreams(&*store, &k, "repo", &[]).await,
        Err(not_found(ResourceKind::Domain, "dom"))
    );
    make_domain(&*store, &k).await;
    assert_eq!(
        set_upstreams(&*store, &k, "repo", &[]).await,
        Err(not_found(ResourceKind::Repository, "repo"))
    );
    assert_eq!(
        store
            .update_repository(&k, &repo("repo"), RepositoryUpdate::default())
            .await,
        Err(not_found(ResourceKind::Repository, "repo"))
    );
}

pub async fn repository_delete(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    assert_eq!(
        store.delete_repository(&k, &repo("repo")).await,
        Err(not_found(ResourceKind::Domain, "dom"))
    );
    make_domain(&*store, &k).await;
    assert_eq!(
        store.delete_repository(&k, &repo("repo")).await,
        Err(not_found(ResourceKind::Repository, "repo"))
    );
    make_repository(&*store, &k, "up", &[]).await;
    let mut new = new_repository(&k, "repo", &["up"]);
    new.description = Some("bye".to_owned());
    new.tags = vec![tag("k", "v")];
    store.create_repository(new).await.expect("create");
    store
        .associate_external_connection(&k, &repo("repo"), "public:npmjs")
        .await
        .expect("associate");
    let before = get_repository(&*store, &k, "repo").await;
    let deleted = store
        .delete_repository(&k, &repo("repo"))
        .await
        .expect("delete");
    assert_eq!(deleted, before);
    assert_eq!(
        store.repository(&k, &repo("repo")).await.expect("read"),
        None
    );
    assert_eq!(
        store.delete_repository(&k, &repo("repo")).await,
        Err(not_found(ResourceKind::Repository, "repo"))
    );
    // Its upstream links went with it, so its former upstream can go too.
    store
        .delete_repository(&k, &repo("up"))
        .await
        .expect("delete upstream");
    assert_eq!(
        store
            .domain(&k)
            .await
            .expect("read")
            .expect("exists")
            .repository_count,
        0
    );
}

pub async fn repository_delete_refuses_upstream(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "base", &[]).await;
    make_repository(&*store, &k, "zeta", &["base"]).await;
    make_repository(&*store, &k, "alpha", &["base"]).await;
    assert_eq!(
        store.delete_repository(&k, &repo("base")).await,
        Err(StoreError::RepositoryIsUpstream {
            repository: "base".to_owned(),
            downstreams: vec!["alpha".to_owned(), "zeta".to_owned()],
        })
    );
    assert!(
        store
            .repository(&k, &repo("base"))
            .await
            .expect("read")
            .is_some()
    );
    set_upstreams(&*store, &k, "alpha", &[])
        .await
        .expect("update");
    assert_eq!(
        store.delete_repository(&k, &repo("base")).await,
        Err(StoreError::RepositoryIsUpstream {
            repository: "base".to_owned(),
            downstreams: vec!["zeta".to_owned()],
        })
    );
    store
        .delete_repository(&k, &repo("zeta"))
        .await
        .expect("delete downstream");
    store
        .delete_repository(&k, &repo("base"))
        .await
        .expect("delete");
}

pub async fn repository_list_filters(store: Arc<dyn Store>) {
    let d1 = key(OWNER, "d1");
    let d2 = key(OWNER, "d2");
    let d3 = key(OTHER, "d1");
    for k in [&d1, &d2, &d3] {
        make_domain(&*store, k).await;
    }
    let mut administered = new_repository(&d2, "npm-admin", &[]);
    administered.administrator_account = account(ADMIN);
    store.create_repository(administered).await.expect("create");
    make_repository(&*store, &d1, "npm-store", &[]).await;
    make_repository(&*store, &d1, "pypi", &[]).await;
    make_repository(&*store, &d2, "npm-store", &[]).await;
    make_repository(&*store, &d3, "npm-store", &[]).await;
    make_repository(&*store, &d3, "maven", &[]).await;

    let list = |filter: RepositoryFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_repositories(&filter, None, 100)
                .await
                .expect("list")
                .iter()
                .map(|r| format!("{}/{}/{}", r.name, r.domain.owner, r.domain.name))
                .collect::<Vec<_>>()
        }
    };
    // No filter: everything, ordered by (name, domain owner, domain name).
    assert_eq!(
        list(RepositoryFilter::default()).await,
        [
            format!("maven/{OTHER}/d1"),
            format!("npm-admin/{OWNER}/d2"),
            format!("npm-store/{OWNER}/d1"),
            format!("npm-store/{OWNER}/d2"),
            format!("npm-store/{OTHER}/d1"),
            format!("pypi/{OWNER}/d1"),
        ]
    );
    assert_eq!(
        list(RepositoryFilter {
            domain: Some(d1.clone()),
            ..RepositoryFilter::default()
        })
        .await,
        [format!("npm-store/{OWNER}/d1"), format!("pypi/{OWNER}/d1")]
    );
    assert_eq!(
        list(RepositoryFilter {
            administrator: Some(account(OWNER)),
            ..RepositoryFilter::default()
        })
        .await,
        [
            format!("npm-store/{OWNER}/d1"),
            format!("npm-store/{OWNER}/d2"),
            format!("pypi/{OWNER}/d1"),
        ]
    );
    assert_eq!(
        list(RepositoryFilter {
            administrator: Some(account(ADMIN)),
            ..RepositoryFilter::default()
        })
        .await,
        [format!("npm-admin/{OWNER}/d2")]
    );
    assert_eq!(
        list(RepositoryFilter {
            name_prefix: Some("npm-".to_owned()),
            ..RepositoryFilter::default()
        })
        .await,
        [
            format!("npm-admin/{OWNER}/d2"),
            format!("npm-store/{OWNER}/d1"),
            format!("npm-store/{OWNER}/d2"),
            format!("npm-store/{OTHER}/d1"),
        ]
    );
    // All filters at once.
    assert_eq!(
        list(RepositoryFilter {
            domain: Some(d2.clone()),
            administrator: Some(account(OWNER)),
            name_prefix: Some("npm".to_owned()),
        })
        .await,
        [format!("npm-store/{OWNER}/d2")]
    );
    assert!(
        list(RepositoryFilter {
            domain: Some(key(ADMIN, "d1")),
            ..RepositoryFilter::default()
        })
        .await
        .is_empty()
    );
    assert!(
        list(RepositoryFilter {
            name_prefix: Some("zzz".to_owned()),
            ..RepositoryFilter::default()
        })
        .await
        .is_empty()
    );
    // Listed repositories carry their upstreams and connections.
    make_repository(&*store, &d1, "with-up", &["pypi", "npm-store"]).await;
    store
        .associate_external_connection(&d1, &repo("pypi"), "public:pypi")
        .await
        .expect("associate");
    let listed = store
        .list_repositories(
            &RepositoryFilter {
                domain: Some(d1.clone()),
                ..RepositoryFilter::default()
            },
            None,
            100,
        )
        .await
        .expect("list");
    assert_eq!(names(&listed), ["npm-store", "pypi", "with-up"]);
    assert_eq!(listed[1].external_connections, ["public:pypi"]);
    assert_eq!(listed[2].upstreams, repos(&["pypi", "npm-store"]));
    assert_eq!(listed[2], get_repository(&*store, &d1, "with-up").await);
}

pub async fn repository_list_prefix_is_literal(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    for name in ["a_b", "axb", "a_bc", "a.b", "aXb", "A_b", "a_"] {
        make_repository(&*store, &k, name, &[]).await;
    }
    let list = |prefix: &str| {
        let store = Arc::clone(&store);
        let filter = RepositoryFilter {
            name_prefix: Some(prefix.to_owned()),
            ..RepositoryFilter::default()
        };
        async move {
            names(
                &store
                    .list_repositories(&filter, None, 100)
                    .await
                    .expect("list"),
            )
        }
    };
    assert_eq!(list("a_").await, ["a_", "a_b", "a_bc"]);
    assert_eq!(list("a_b").await, ["a_b", "a_bc"]);
    assert_eq!(list("a.").await, ["a.b"]);
    // Byte order, case-sensitive.
    assert_eq!(list("A").await, ["A_b"]);
    assert_eq!(
        list("").await,
        ["A_b", "a.b", "aXb", "a_", "a_b", "a_bc", "axb"]
    );
}

pub async fn repository_list_is_keyset_paginated(store: Arc<dyn Store>) {
    let domains = [key(OWNER, "d1"), key(OWNER, "d2"), key(OTHER, "d1")];
    for k in &domains {
        make_domain(&*store, k).await;
    }
    // The same names in several domains, so the cursor's tie-breakers matter.
    for name in ["r10", "r20", "r30", "r40"] {
        for k in &domains {
            make_repository(&*store, k, name, &[]).await;
        }
    }
    let filter = RepositoryFilter::default();
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<RepositoryCursor> = None;
    const INSERTING_ROUNDS: usize = 5;
    let mut round = 0;
    loop {
        let page = store
            .list_repositories(&filter, after.as_ref(), 2)
            .await
            .expect("list");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(cursor_of(last));
        seen.extend(
            page.iter()
                .map(|r| format!("{}/{}/{}", r.name, r.domain.owner, r.domain.name)),
        );
        // Between the first pages, add one repository that sorts before the cursor (never to be
        // listed) and one after it (to be listed exactly once).
        if round < INSERTING_ROUNDS {
            round += 1;
            let k = &domains[round % domains.len()];
            make_repository(&*store, k, &format!("r0{round:02}"), &[]).await;
            make_repository(&*store, k, &format!("r99-{round:02}"), &[]).await;
        }
        assert!(seen.len() < 100, "pagination does not end");
    }
    let mut expected = Vec::new();
    for name in ["r10", "r20", "r30", "r40"] {
        for (owner, domain) in [(OWNER, "d1"), (OWNER, "d2"), (OTHER, "d1")] {
            expected.push(format!("{name}/{owner}/{domain}"));
        }
    }
    for r in 1..=round {
        let k = &domains[r % domains.len()];
        expected.push(format!("r99-{r:02}/{}/{}", k.owner, k.name));
    }
    expected.sort();
    assert_eq!(seen, expected);

    // A cursor between two repositories of the same name continues with the next domain.
    let page = store
        .list_repositories(
            &filter,
            Some(&RepositoryCursor {
                name: "r20".to_owned(),
                domain_owner: OWNER.to_owned(),
                domain_name: "d1".to_owned(),
            }),
            2,
        )
        .await
        .expect("list");
    let page: Vec<String> = page
        .iter()
        .map(|r| format!("{}/{}/{}", r.name, r.domain.owner, r.domain.name))
        .collect();
    assert_eq!(page, [format!("r20/{OWNER}/d2"), format!("r20/{OTHER}/d1")]);
    assert!(
        store
            .list_repositories(&filter, None, 0)
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn external_connections(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    assert_eq!(
        store
            .associate_external_connection(&k, &repo("repo"), "public:npmjs")
            .await,
        Err(not_found(ResourceKind::Domain, "dom"))
    );
    make_domain(&*store, &k).await;
    assert_eq!(
        store
            .associate_external_connection(&k, &repo("repo"), "public:npmjs")
            .await,
        Err(not_found(ResourceKind::Repository, "repo"))
    );
    assert_eq!(
        store
            .disassociate_external_connection(&k, &repo("repo"), "public:npmjs")
            .await,
        Err(not_found(ResourceKind::Repository, "repo"))
    );
    make_repository(&*store, &k, "repo", &[]).await;
    let with = store
        .associate_external_connection(&k, &repo("repo"), "public:npmjs")
        .await
        .expect("associate");
    assert_eq!(with.external_connections, ["public:npmjs"]);
    assert_eq!(get_repository(&*store, &k, "repo").await, with);
    for connection in ["public:pypi", "public:npmjs"] {
        assert_eq!(
            store
                .associate_external_connection(&k, &repo("repo"), connection)
                .await,
            Err(StoreError::ExternalConnectionExists(
                "public:npmjs".to_owned()
            ))
        );
    }
    assert_eq!(
        store
            .disassociate_external_connection(&k, &repo("repo"), "public:pypi")
            .await,
        Err(not_found(ResourceKind::Repository, "public:pypi"))
    );
    assert_eq!(
        get_repository(&*store, &k, "repo")
            .await
            .external_connections,
        ["public:npmjs"]
    );
    let without = store
        .disassociate_external_connection(&k, &repo("repo"), "public:npmjs")
        .await
        .expect("disassociate");
    assert!(without.external_connections.is_empty());
    assert_eq!(get_repository(&*store, &k, "repo").await, without);
    assert_eq!(
        store
            .disassociate_external_connection(&k, &repo("repo"), "public:npmjs")
            .await,
        Err(not_found(ResourceKind::Repository, "public:npmjs"))
    );
    // A connection can be associated again once removed.
    let again = store
        .associate_external_connection(&k, &repo("repo"), "public:pypi")
        .await
        .expect("associate");
    assert_eq!(again.external_connections, ["public:pypi"]);
}

pub async fn tags_upsert_and_remove(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "repo", &[]).await;
    for resource in [
        TaggedResource::Domain(k.clone()),
        TaggedResource::Repository(k.clone(), repo("repo")),
    ] {
        assert!(store.tags(&resource).await.expect("tags").is_empty());
        store
            .tag_resource(&resource, &[tag("zone", "a"), tag("app", "x")], 50)
            .await
            .expect("tag");
        store
            .tag_resource(&resource, &[tag("zone", "b"), tag("mid", "")], 50)
            .await
            .expect("tag");
        assert_eq!(
            store.tags(&resource).await.expect("tags"),
            [tag("app", "x"), tag("mid", ""), tag("zone", "b")]
        );
        store
            .tag_resource(&resource, &[], 50)
            .await
            .expect("no tags");
        store
            .untag_resource(&resource, &["app".to_owned(), "absent".to_owned()])
            .await
            .expect("untag");
        assert_eq!(
            store.tags(&resource).await.expect("tags"),
            [tag("mid", ""), tag("zone", "b")]
        );
        store
            .untag_resource(&resource, &[])
            .await
            .expect("untag nothing");
    }
    // Domain and repository tags are separate.
    store
        .untag_resource(
            &TaggedResource::Domain(k.clone()),
            &["mid".to_owned(), "zone".to_owned()],
        )
        .await
        .expect("untag");
    assert!(
        store
            .tags(&TaggedResource::Domain(k.clone()))
            .await
            .expect("tags")
            .is_empty()
    );
    assert_eq!(
        store
            .tags(&TaggedResource::Repository(k.clone(), repo("repo")))
            .await
            .expect("tags")
            .len(),
        2
    );
}

pub async fn tags_limit_is_atomic(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "repo", &[]).await;
    for resource in [
        TaggedResource::Domain(k.clone()),
        TaggedResource::Repository(k.clone(), repo("repo")),
    ] {
        store
            .tag_resource(&resource, &[tag("a", "1"), tag("b", "1")], 3)
            .await
            .expect("tag");
        // Overwriting an existing key does not count against the limit.
        store
            .tag_resource(&resource, &[tag("a", "2"), tag("c", "1")], 3)
            .await
            .expect("exactly at the limit");
        store
            .tag_resource(&resource, &[tag("a", "3"), tag("b", "3"), tag("c", "3")], 3)
            .await
            .expect("overwrite at the limit");
        assert_eq!(
            store
                .tag_resource(&resource, &[tag("a", "4"), tag("d", "4")], 3)
                .await,
            Err(StoreError::QuotaExceeded {
                kind: ResourceKind::Tag,
                limit: 3
            })
        );
        // Nothing changed, not even the overwrite.
        assert_eq!(
            store.tags(&resource).await.expect("tags"),
            [tag("a", "3"), tag("b", "3"), tag("c", "3")]
        );
        store
            .untag_resource(&resource, &["c".to_owned()])
            .await
            .expect("untag");
        store
            .tag_resource(&resource, &[tag("d", "4")], 3)
            .await
            .expect("room again");
    }
}

pub async fn tags_of_missing_resource(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    let domain = TaggedResource::Domain(k.clone());
    let repository = TaggedResource::Repository(k.clone(), repo("repo"));
    let missing_domain = not_found(ResourceKind::Domain, "dom");
    assert_eq!(store.tags(&domain).await, Err(missing_domain.clone()));
    assert_eq!(
        store.tag_resource(&domain, &[tag("a", "1")], 50).await,
        Err(missing_domain.clone())
    );
    assert_eq!(
        store.untag_resource(&domain, &["a".to_owned()]).await,
        Err(missing_domain.clone())
    );
    assert_eq!(store.tags(&repository).await, Err(missing_domain));
    make_domain(&*store, &k).await;
    let missing_repository = not_found(ResourceKind::Repository, "repo");
    assert_eq!(
        store.tags(&repository).await,
        Err(missing_repository.clone())
    );
    assert_eq!(
        store.tag_resource(&repository, &[tag("a", "1")], 50).await,
        Err(missing_repository.clone())
    );
    assert_eq!(
        store.untag_resource(&repository, &["a".to_owned()]).await,
        Err(missing_repository)
    );
}

pub async fn tags_are_deleted_with_their_resource(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    let mut new = new_domain(&k);
    new.tags = vec![tag("d", "1")];
    store.create_domain(new).await.expect("create");
    let mut r = new_repository(&k, "repo", &[]);
    r.tags = vec![tag("repo", "1")];
    store.create_repository(r).await.expect("create");
    let repository = TaggedResource::Repository(k.clone(), repo("repo"));
    store
        .delete_repository(&k, &repo("repo"))
        .await
        .expect("delete");
    assert_eq!(
        store.tags(&repository).await,
        Err(not_found(ResourceKind::Repository, "repo"))
    );
    make_repository(&*store, &k, "repo", &[]).await;
    assert!(store.tags(&repository).await.expect("tags").is_empty());
    store
        .delete_repository(&k, &repo("repo"))
        .await
        .expect("delete");

    let domain = TaggedResource::Domain(k.clone());
    store.delete_domain(&k).await.expect("delete");
    assert_eq!(
        store.tags(&domain).await,
        Err(not_found(ResourceKind::Domain, "dom"))
    );
    make_domain(&*store, &k).await;
    assert!(store.tags(&domain).await.expect("tags").is_empty());
}

pub async fn signing_key_is_stable(store: Arc<dyn Store>) {
    let first = store
        .signing_key("auth-token", b"first candidate")
        .await
        .expect("key");
    assert_eq!(first, b"first candidate");
    let second = store
        .signing_key("auth-token", b"second candidate")
        .await
        .expect("key");
    assert_eq!(second, first);
    // Purposes are independent; arbitrary bytes survive.
    let binary: Vec<u8> = (0..=255).collect();
    assert_eq!(
        store.signing_key("other", &binary).await.expect("key"),
        binary
    );
    assert_eq!(
        store
            .signing_key("auth-token", b"third")
            .await
            .expect("key"),
        first
    );
}

pub async fn concurrent_create_repository_same_name(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    let handles = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let mut new = new_repository(&k, "contested", &[]);
            new.description = Some(format!("writer {i}"));
            tokio::spawn(async move { store.create_repository(new).await })
        })
        .collect();
    let results = join_all(handles).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    for result in &results {
        if let Err(e) = result {
            assert_eq!(
                e,
                &StoreError::AlreadyExists {
                    kind: ResourceKind::Repository,
                    id: "contested".to_owned()
                }
            );
        }
    }
    let domain = store.domain(&k).await.expect("read").expect("exists");
    assert_eq!(domain.repository_count, 1);
}

pub async fn concurrent_create_repository_respects_quota(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    let handles = (0..12)
        .map(|i| {
            let store = Arc::clone(&store);
            let mut new = new_repository(&k, &format!("r{i:02}"), &[]);
            new.max_repositories_per_domain = 5;
            tokio::spawn(async move { store.create_repository(new).await })
        })
        .collect();
    let results = join_all(handles).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        5,
        "{results:?}"
    );
    for result in &results {
        if let Err(e) = result {
            assert_eq!(
                e,
                &StoreError::QuotaExceeded {
                    kind: ResourceKind::Repository,
                    limit: 5
                }
            );
        }
    }
    let domain = store.domain(&k).await.expect("read").expect("exists");
    assert_eq!(domain.repository_count, 5);
}

pub async fn concurrent_create_domain_respects_quota(store: Arc<dyn Store>) {
    let handles = (0..12)
        .map(|i| {
            let store = Arc::clone(&store);
            let mut new = new_domain(&key(OWNER, &format!("d{i:02}")));
            new.max_domains_per_account = 4;
            tokio::spawn(async move { store.create_domain(new).await })
        })
        .collect();
    let results = join_all(handles).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        4,
        "{results:?}"
    );
    for result in &results {
        if let Err(e) = result {
            assert_eq!(
                e,
                &StoreError::QuotaExceeded {
                    kind: ResourceKind::Domain,
                    limit: 4
                }
            );
        }
    }
    let listed = store
        .list_domains(&account(OWNER), None, 100)
        .await
        .expect("list");
    assert_eq!(listed.len(), 4);
}

pub async fn concurrent_updates_never_make_a_cycle(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    let ring = ["n0", "n1", "n2", "n3", "n4", "n5"];
    for name in ring {
        make_repository(&*store, &k, name, &[]).await;
    }
    // Each update alone is acyclic; all of them together would close a ring.
    let handles = (0..ring.len())
        .map(|i| {
            let store = Arc::clone(&store);
            let k = k.clone();
            let from = ring[i];
            let to = ring[(i + 1) % ring.len()];
            tokio::spawn(async move { set_upstreams(&*store, &k, from, &[to]).await })
        })
        .collect();
    let results = join_all(handles).await;
    let applied = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(applied, ring.len() - 1, "{results:?}");
    for result in &results {
        if let Err(e) = result {
            assert!(matches!(e, StoreError::UpstreamCycle(_)), "{e:?}");
        }
    }
    let mut graph = std::collections::BTreeMap::new();
    for name in ring {
        graph.insert(name.to_owned(), upstreams_of(&*store, &k, name).await);
    }
    for name in ring {
        assert_eq!(reliquary_types::find_cycle(&graph, name), None, "{graph:?}");
    }
}

pub async fn concurrent_tagging_respects_limit(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    let resource = TaggedResource::Domain(k.clone());
    let handles = (0..10)
        .map(|i| {
            let store = Arc::clone(&store);
            let resource = resource.clone();
            tokio::spawn(async move {
                store
                    .tag_resource(
                        &resource,
                        &[tag(&format!("k{i}a"), "v"), tag(&format!("k{i}b"), "v")],
                        7,
                    )
                    .await
            })
        })
        .collect();
    let results = join_all(handles).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        3,
        "{results:?}"
    );
    for result in &results {
        if let Err(e) = result {
            assert_eq!(
                e,
                &StoreError::QuotaExceeded {
                    kind: ResourceKind::Tag,
                    limit: 7
                }
            );
        }
    }
    assert_eq!(store.tags(&resource).await.expect("tags").len(), 6);
}

pub async fn concurrent_signing_key(store: Arc<dyn Store>) {
    let handles = (0..10_u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.signing_key("auth-token", &[i; 32]).await })
        })
        .collect();
    let keys: Vec<Vec<u8>> = join_all(handles)
        .await
        .into_iter()
        .map(|k| k.expect("key"))
        .collect();
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
    assert_eq!(
        store
            .signing_key("auth-token", b"later")
            .await
            .expect("key"),
        keys[0]
    );
}
