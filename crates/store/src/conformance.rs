//! The conformance suite every backend runs: one async function per case, each taking a fresh,
//! empty store, and [`conformance_tests!`](crate::conformance_tests) to expand them into one
//! `#[tokio::test]` per case in a backend's test binary:
//!
//! ```text
//! struct Sqlite { /* … */ }
//! impl reliquary_store::conformance::Fixture for Sqlite { /* … */ }
//! reliquary_store::conformance_tests!(Sqlite);
//! ```
//!
//! The cases panic on a failed expectation, like tests do.

use std::future::Future;
use std::sync::Arc;

use reliquary_types::{
    AccountId, Allow, Asset, AssetHashes, DomainName, OriginRestrictions, OriginType,
    PackageFormat, PackageKey, RepositoryName, Timestamp, VersionMetadata, VersionOrigin,
    VersionStatus, revision,
};

use crate::{
    CopyItem, CopyVersions, DomainKey, IngestVersion, NewDomain, NewRepository, Package,
    PackageCursor, PackageFilter, PackageVersion, PublishAsset, Published, Repository,
    RepositoryCursor, RepositoryFilter, RepositoryKey, RepositoryUpdate, ResourceKind, Store,
    StoreError, Tag, TaggedResource, VersionAction, VersionChange, VersionCursor, VersionFilter,
    VersionOrder,
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
            upstream_closure_of_a_chain,
            upstream_closure_of_a_diamond,
            upstream_closure_of_a_repository_without_upstreams,
            upstream_closure_of_a_missing_repository_is_empty,
            upstream_closure_stays_in_its_domain,
            upstream_closure_stops_at_the_search_limit,
            external_connections,
            tags_upsert_and_remove,
            tags_limit_is_atomic,
            tags_of_missing_resource,
            tags_are_deleted_with_their_resource,
            signing_key_is_stable,
            sweep_lease_is_exclusive,
            concurrent_create_repository_same_name,
            concurrent_create_repository_respects_quota,
            concurrent_create_domain_respects_quota,
            concurrent_updates_never_make_a_cycle,
            concurrent_tagging_respects_limit,
            concurrent_signing_key,
            publish_creates_package_and_version,
            publish_to_missing_repository_is_not_found,
            publish_several_assets_then_final,
            publish_identical_asset_is_idempotent,
            publish_different_content_is_already_exists,
            publish_new_asset_on_finished_version_is_invalid_state,
            publish_appends_to_published_version_when_allowed,
            publish_of_a_new_version_only_refuses_an_existing_one,
            publish_blocked_package_is_not_allowed,
            publish_asset_quota,
            revision_follows_assets_and_metadata,
            assets_are_stored_once_per_domain,
            package_list_filters,
            package_list_is_keyset_paginated,
            version_list_orders_and_filters,
            version_list_is_keyset_paginated,
            change_versions_applies_every_action,
            change_versions_is_all_or_nothing,
            dispose_releases_only_unreferenced_blobs,
            delete_package_removes_everything,
            origin_configuration_creates_and_updates,
            copy_versions_new_and_replace,
            copy_versions_preconditions,
            copy_versions_dist_tags_and_package_origin,
            copy_versions_from_several_sources_at_once,
            concurrent_publish_same_version,
            concurrent_copies_into_one_destination,
            repository_delete_with_packages,
            dist_tags_set_repoint_and_remove,
            package_listing_reads_versions_and_tags_at_once,
            dist_tags_go_with_their_version_and_package,
            update_version_metadata_changes_revision,
            ingest_creates_an_external_version,
            ingest_is_idempotent,
            ingest_adds_missing_assets_to_an_existing_version,
            ingest_keeps_an_existing_asset_of_the_same_name,
            ingest_blocked_upstream_is_not_allowed,
            ingest_shares_asset_rows_of_the_domain,
            concurrent_ingests_of_one_version,
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

pub async fn sweep_lease_is_exclusive(store: Arc<dyn Store>) {
    let first = store.try_sweep_lease().await.expect("lease");
    assert!(first.is_some(), "nobody sweeps yet");
    assert!(
        store.try_sweep_lease().await.expect("lease").is_none(),
        "one sweep at a time"
    );
    drop(first);
    // Released when dropped (PostgreSQL: once the server sees the session end).
    for _ in 0..100 {
        if let Some(lease) = store.try_sweep_lease().await.expect("lease") {
            drop(lease);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the lease was not released");
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

// ---------------------------------------------------------------------------------------------
// Upstream closure

/// The closure of `start` by repository name, sorted, after checking that each record is the one
/// `repository()` returns and that no repository comes twice.
async fn closure_names(store: &dyn Store, domain: &DomainKey, start: &str) -> Vec<String> {
    let closure = store
        .upstream_closure(&repository_key(domain, start))
        .await
        .expect("read upstream closure");
    for record in &closure {
        assert_eq!(&record.domain, domain, "{record:?} is of another domain");
        assert_eq!(
            record,
            &get_repository(store, domain, record.name.as_str()).await
        );
    }
    let mut names = names(&closure);
    names.sort();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "a repository came twice: {names:?}");
    names
}

pub async fn upstream_closure_of_a_chain(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "cc", &[]).await;
    make_repository(&*store, &k, "bb", &["cc"]).await;
    make_repository(&*store, &k, "aa", &["bb"]).await;
    // Downstream of `aa`, and beside the chain: neither is reachable from `aa`.
    make_repository(&*store, &k, "down", &["aa"]).await;
    make_repository(&*store, &k, "beside", &[]).await;
    store
        .associate_external_connection(&k, &repo("cc"), "public:npmjs")
        .await
        .expect("associate");
    assert_eq!(closure_names(&*store, &k, "aa").await, ["aa", "bb", "cc"]);
    assert_eq!(closure_names(&*store, &k, "bb").await, ["bb", "cc"]);
    assert_eq!(closure_names(&*store, &k, "cc").await, ["cc"]);
    assert_eq!(
        closure_names(&*store, &k, "down").await,
        ["aa", "bb", "cc", "down"]
    );
    // Records are read whole: the connection of `cc`, the upstreams of each.
    let closure = store
        .upstream_closure(&repository_key(&k, "aa"))
        .await
        .expect("read upstream closure");
    let c = closure
        .iter()
        .find(|r| r.name.as_str() == "cc")
        .expect("c is reached");
    assert_eq!(c.external_connections, ["public:npmjs"]);
    // Unlinking `bb` from `cc` shrinks the closure.
    set_upstreams(&*store, &k, "bb", &[])
        .await
        .expect("update upstreams");
    assert_eq!(closure_names(&*store, &k, "aa").await, ["aa", "bb"]);
}

pub async fn upstream_closure_of_a_diamond(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    // aa -> [cc, bb], bb -> dd, cc -> ee -> dd: `dd` is two links away one way, three the other.
    make_repository(&*store, &k, "dd", &[]).await;
    make_repository(&*store, &k, "ee", &["dd"]).await;
    make_repository(&*store, &k, "cc", &["ee"]).await;
    make_repository(&*store, &k, "bb", &["dd"]).await;
    let mut a = new_repository(&k, "aa", &["cc", "bb"]);
    a.administrator_account = account(ADMIN);
    a.description = Some("the top".to_owned());
    store.create_repository(a).await.expect("create");
    make_repository(&*store, &k, "unrelated", &["dd"]).await;
    store
        .associate_external_connection(&k, &repo("dd"), "public:pypi")
        .await
        .expect("associate");
    assert_eq!(
        closure_names(&*store, &k, "aa").await,
        ["aa", "bb", "cc", "dd", "ee"]
    );
    assert_eq!(closure_names(&*store, &k, "cc").await, ["cc", "dd", "ee"]);
    let closure = store
        .upstream_closure(&repository_key(&k, "aa"))
        .await
        .expect("read upstream closure");
    let top = closure
        .iter()
        .find(|r| r.name.as_str() == "aa")
        .expect("the start is in its closure");
    // Upstreams keep their list order, not the name order.
    assert_eq!(top.upstreams, repos(&["cc", "bb"]));
    assert_eq!(top.description.as_deref(), Some("the top"));
}

pub async fn upstream_closure_of_a_repository_without_upstreams(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "alone", &[]).await;
    make_repository(&*store, &k, "other", &[]).await;
    make_repository(&*store, &k, "down", &["alone"]).await;
    let closure = store
        .upstream_closure(&repository_key(&k, "alone"))
        .await
        .expect("read upstream closure");
    assert_eq!(closure, [get_repository(&*store, &k, "alone").await]);
}

pub async fn upstream_closure_of_a_missing_repository_is_empty(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    assert_eq!(
        store
            .upstream_closure(&repository_key(&k, "aa"))
            .await
            .expect("read upstream closure"),
        Vec::<Repository>::new()
    );
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "bb", &[]).await;
    make_repository(&*store, &k, "cc", &["bb"]).await;
    assert_eq!(
        store
            .upstream_closure(&repository_key(&k, "aa"))
            .await
            .expect("read upstream closure"),
        Vec::<Repository>::new()
    );
    // A repository of that name in another domain is not one of this domain.
    let other = key(OWNER, "dom-two");
    make_domain(&*store, &other).await;
    assert_eq!(
        store
            .upstream_closure(&repository_key(&other, "cc"))
            .await
            .expect("read upstream closure"),
        Vec::<Repository>::new()
    );
}

pub async fn upstream_closure_stays_in_its_domain(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    // Same names, another domain of the same owner and a domain of the same name of another owner.
    let sibling = key(OWNER, "dom-two");
    let namesake = key(OTHER, "dom");
    for domain in [&k, &sibling, &namesake] {
        make_domain(&*store, domain).await;
    }
    make_repository(&*store, &k, "bb", &[]).await;
    make_repository(&*store, &k, "aa", &["bb"]).await;
    for domain in [&sibling, &namesake] {
        make_repository(&*store, domain, "cc", &[]).await;
        make_repository(&*store, domain, "bb", &["cc"]).await;
        make_repository(&*store, domain, "aa", &["bb"]).await;
    }
    // closure_names checks that every record is of the start's domain.
    assert_eq!(closure_names(&*store, &k, "aa").await, ["aa", "bb"]);
    assert_eq!(closure_names(&*store, &k, "bb").await, ["bb"]);
    assert_eq!(
        closure_names(&*store, &namesake, "aa").await,
        ["aa", "bb", "cc"]
    );
    assert_eq!(closure_names(&*store, &sibling, "bb").await, ["bb", "cc"]);
}

pub async fn upstream_closure_stops_at_the_search_limit(store: Arc<dyn Store>) {
    let k = key(OWNER, "dom");
    make_domain(&*store, &k).await;
    // A chain two links longer than any upstream search goes: r00 -> r01 -> … -> r26.
    let chain: Vec<String> = (0..=crate::UPSTREAM_CLOSURE_DEPTH + 2)
        .map(|i| format!("r{i:02}"))
        .collect();
    for (i, name) in chain.iter().enumerate().rev() {
        let upstreams: Vec<&str> = chain.get(i + 1).map(String::as_str).into_iter().collect();
        make_repository(&*store, &k, name, &upstreams).await;
    }
    let closure = store
        .upstream_closure(&repository_key(&k, "r00"))
        .await
        .expect("read upstream closure");
    let mut reached = names(&closure);
    reached.sort();
    // Everything the search takes, nothing further.
    assert_eq!(reached, chain[..=crate::UPSTREAM_CLOSURE_DEPTH]);
    let graph = closure
        .iter()
        .map(|r| {
            (
                r.name.to_string(),
                r.upstreams.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        reliquary_types::search_order(&graph, "r00"),
        chain[..reliquary_types::MAX_SEARCHED_REPOSITORIES]
    );
}

/// The first half of a backend's own test of a cyclic upstream graph, which the store never
/// makes: creates `dom` with `aa -> bb -> cc` and returns it. The backend then links `cc -> aa` behind
/// the store's back and runs [`upstream_closure_survives_a_cycle`].
pub async fn upstream_chain_for_a_cycle(store: &dyn Store) -> DomainKey {
    let k = key(OWNER, "dom");
    make_domain(store, &k).await;
    make_repository(store, &k, "cc", &[]).await;
    make_repository(store, &k, "bb", &["cc"]).await;
    make_repository(store, &k, "aa", &["bb"]).await;
    k
}

/// The second half: with `cc -> aa` added, the closure of each is the three, each once.
pub async fn upstream_closure_survives_a_cycle(store: &dyn Store, domain: &DomainKey) {
    assert_eq!(upstreams_of(store, domain, "cc").await, ["aa"]);
    for start in ["aa", "bb", "cc"] {
        assert_eq!(
            closure_names(store, domain, start).await,
            ["aa", "bb", "cc"]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Package helpers

const T0: i64 = 1_700_000_100_000;

fn repository_key(domain: &DomainKey, name: &str) -> RepositoryKey {
    RepositoryKey {
        domain: domain.clone(),
        name: repo(name),
    }
}

fn package_key(format: PackageFormat, namespace: Option<&str>, name: &str) -> PackageKey {
    PackageKey {
        format,
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
    }
}

fn generic(name: &str) -> PackageKey {
    package_key(PackageFormat::Generic, Some("ns"), name)
}

/// An asset whose digests are derived from `content` (at most 32 bytes keeps them distinct).
fn asset(name: &str, content: &str) -> Asset {
    let hex: String = content.bytes().map(|b| format!("{b:02x}")).collect();
    Asset {
        name: name.to_owned(),
        size: content.len() as u64,
        hashes: AssetHashes {
            md5: format!("{hex:0<32}"),
            sha1: format!("{hex:0<40}"),
            sha256: format!("{hex:0<64}"),
            sha512: format!("{hex:0<128}"),
        },
    }
}

fn sha(content: &str) -> String {
    asset("x", content).hashes.sha256
}

fn publish_request(
    repository: &RepositoryKey,
    package: &PackageKey,
    version: &str,
    asset: Asset,
    unfinished: bool,
) -> PublishAsset {
    PublishAsset {
        repository: repository.clone(),
        package: package.clone(),
        version: version.to_owned(),
        asset,
        unfinished,
        metadata: VersionMetadata::default(),
        now: Timestamp(T0),
        max_assets_per_version: 150,
        append_to_published: false,
        new_version_only: false,
    }
}

async fn publish(
    store: &dyn Store,
    repository: &RepositoryKey,
    package: &PackageKey,
    version: &str,
    asset: Asset,
    unfinished: bool,
) -> Published {
    store
        .publish_asset(publish_request(
            repository, package, version, asset, unfinished,
        ))
        .await
        .expect("publish asset")
}

/// A domain `dom` with repositories `src` and `dst`.
async fn package_setup(store: &dyn Store) -> (DomainKey, RepositoryKey, RepositoryKey) {
    let k = key(OWNER, "dom");
    make_domain(store, &k).await;
    make_repository(store, &k, "src", &[]).await;
    make_repository(store, &k, "dst", &[]).await;
    (
        k.clone(),
        repository_key(&k, "src"),
        repository_key(&k, "dst"),
    )
}

async fn asset_bytes(store: &dyn Store, domain: &DomainKey) -> i64 {
    store
        .domain(domain)
        .await
        .expect("read domain")
        .expect("domain exists")
        .asset_size_bytes
}

async fn read_version(
    store: &dyn Store,
    repository: &RepositoryKey,
    package: &PackageKey,
    version: &str,
) -> Option<crate::VersionWithAssets> {
    store
        .version(repository, package, version)
        .await
        .expect("read version")
}

async fn existing_version(
    store: &dyn Store,
    repository: &RepositoryKey,
    package: &PackageKey,
    version: &str,
) -> crate::VersionWithAssets {
    read_version(store, repository, package, version)
        .await
        .expect("version exists")
}

fn change(version: &PackageVersion, action: VersionAction) -> VersionChange {
    VersionChange {
        version: version.version.clone(),
        expected_status: version.status,
        expected_revision: version.revision.clone(),
        action,
    }
}

fn copy_item(from: &RepositoryKey, version: &PackageVersion, replaces: Option<&str>) -> CopyItem {
    CopyItem {
        from: from.clone(),
        version: version.version.clone(),
        expected_revision: version.revision.clone(),
        replaces: replaces.map(str::to_owned),
    }
}

fn copy_request(
    destination: &RepositoryKey,
    package: &PackageKey,
    items: Vec<CopyItem>,
) -> CopyVersions {
    CopyVersions {
        destination: destination.clone(),
        package: package.clone(),
        items,
        new_package_origin: OriginRestrictions::PUBLISHED_FIRST,
        dist_tags: Vec::new(),
    }
}

async fn all_versions(
    store: &dyn Store,
    repository: &RepositoryKey,
    package: &PackageKey,
) -> Vec<PackageVersion> {
    store
        .list_versions(
            repository,
            package,
            &VersionFilter::default(),
            VersionOrder::Version,
            None,
            1000,
        )
        .await
        .expect("list versions")
}

fn version_names(versions: &[PackageVersion]) -> Vec<String> {
    versions.iter().map(|v| v.version.clone()).collect()
}

fn package_names(packages: &[Package]) -> Vec<String> {
    packages
        .iter()
        .map(|p| match &p.key.namespace {
            Some(ns) => format!("{}:{}/{}", p.key.format, ns, p.key.name),
            None => format!("{}:{}", p.key.format, p.key.name),
        })
        .collect()
}

async fn unreferenced(store: &dyn Store, contents: &[&str]) -> Vec<String> {
    let shas: Vec<String> = contents.iter().map(|c| sha(c)).collect();
    store
        .unreferenced_blobs(&shas)
        .await
        .expect("unreferenced blobs")
}

fn shas(contents: &[&str]) -> Vec<String> {
    contents.iter().map(|c| sha(c)).collect()
}

// ---------------------------------------------------------------------------------------------
// Package cases

pub async fn publish_creates_package_and_version(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("tool");
    assert_eq!(store.package(&src, &pkg).await.expect("read"), None);
    let metadata = VersionMetadata {
        summary: Some("a tool".to_owned()),
        ..VersionMetadata::default()
    };
    let mut request = publish_request(&src, &pkg, "1.0", asset("a.bin", "alpha"), true);
    request.metadata = metadata.clone();
    let published = store.publish_asset(request).await.expect("publish");
    assert_eq!(published.asset, asset("a.bin", "alpha"));
    let v = &published.version;
    assert_eq!(v.package, pkg);
    assert_eq!(v.version, "1.0");
    assert_eq!(v.status, VersionStatus::Unfinished);
    assert_eq!(v.published, Timestamp(T0));
    assert_eq!(v.metadata, metadata);
    assert_eq!(
        v.origin,
        VersionOrigin {
            origin_type: OriginType::Internal,
            repository: Some("src".to_owned()),
            external_connection: None,
        }
    );
    let package = store
        .package(&src, &pkg)
        .await
        .expect("read")
        .expect("package created");
    assert_eq!(package.key, pkg);
    assert_eq!(package.origin, OriginRestrictions::PUBLISHED_FIRST);
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(&stored.version, v);
    assert_eq!(stored.assets, vec![asset("a.bin", "alpha")]);

    // A package without namespace, published final in one call.
    let npm = package_key(PackageFormat::Npm, None, "left-pad");
    let published = publish(
        &*store,
        &src,
        &npm,
        "2.0.0",
        asset("package.tgz", "tgz"),
        false,
    )
    .await;
    assert_eq!(published.version.status, VersionStatus::Published);
    assert_eq!(published.version.package, npm);
    let package = store
        .package(&src, &npm)
        .await
        .expect("read")
        .expect("package created");
    assert_eq!(package.key.namespace, None);
    assert_eq!(
        existing_version(&*store, &src, &npm, "2.0.0").await.version,
        published.version
    );
    assert_eq!(read_version(&*store, &src, &npm, "9.9.9").await, None);
    // Packages are per repository.
    let dst = repository_key(&src.domain, "dst");
    assert_eq!(store.package(&dst, &npm).await.expect("read"), None);
}

pub async fn publish_to_missing_repository_is_not_found(store: Arc<dyn Store>) {
    let (k, _, _) = package_setup(&*store).await;
    let pkg = generic("tool");
    let missing_repo = repository_key(&k, "nope");
    assert_eq!(
        store
            .publish_asset(publish_request(
                &missing_repo,
                &pkg,
                "1",
                asset("a", "a"),
                false
            ))
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
    let missing_domain = repository_key(&key(OWNER, "other"), "src");
    assert_eq!(
        store
            .publish_asset(publish_request(
                &missing_domain,
                &pkg,
                "1",
                asset("a", "a"),
                false
            ))
            .await,
        Err(not_found(ResourceKind::Domain, "other"))
    );
    assert_eq!(
        store.package(&missing_repo, &pkg).await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
    assert_eq!(asset_bytes(&*store, &k).await, 0);
}

pub async fn publish_several_assets_then_final(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("multi");
    let first = publish(&*store, &src, &pkg, "1.0", asset("b.bin", "bravo"), true).await;
    assert_eq!(first.version.status, VersionStatus::Unfinished);
    let mut request = publish_request(&src, &pkg, "1.0", asset("a.bin", "alpha"), true);
    request.now = Timestamp(T0 + 5);
    let second = store.publish_asset(request).await.expect("publish");
    assert_eq!(second.version.status, VersionStatus::Unfinished);
    assert_ne!(second.version.revision, first.version.revision);
    let mut request = publish_request(&src, &pkg, "1.0", asset("c.bin", "charlie"), false);
    request.now = Timestamp(T0 + 9);
    let last = store.publish_asset(request).await.expect("publish");
    assert_eq!(last.version.status, VersionStatus::Published);
    // Published time is when the version was published.
    assert_eq!(last.version.published, Timestamp(T0 + 9));
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, last.version);
    assert_eq!(
        stored.assets,
        vec![
            asset("a.bin", "alpha"),
            asset("b.bin", "bravo"),
            asset("c.bin", "charlie")
        ]
    );
    assert_eq!(all_versions(&*store, &src, &pkg).await.len(), 1);
}

pub async fn publish_identical_asset_is_idempotent(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = generic("same");
    let first = publish(&*store, &src, &pkg, "1.0", asset("a.bin", "alpha"), true).await;
    let again = publish(&*store, &src, &pkg, "1.0", asset("a.bin", "alpha"), true).await;
    assert_eq!(again, first);
    let done = publish(&*store, &src, &pkg, "1.0", asset("a.bin", "alpha"), false).await;
    assert_eq!(done.version.status, VersionStatus::Published);
    assert_eq!(done.version.revision, first.version.revision);
    // Re-publishing the identical asset to the Published version is a successful no-op.
    for unfinished in [false, true] {
        let noop = publish(
            &*store,
            &src,
            &pkg,
            "1.0",
            asset("a.bin", "alpha"),
            unfinished,
        )
        .await;
        assert_eq!(noop, done);
    }
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.assets, vec![asset("a.bin", "alpha")]);
    assert_eq!(asset_bytes(&*store, &k).await, 5);
}

pub async fn publish_different_content_is_already_exists(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = generic("clash");
    let first = publish(&*store, &src, &pkg, "1.0", asset("a.bin", "alpha"), true).await;
    let clash = StoreError::AlreadyExists {
        kind: ResourceKind::Asset,
        id: "a.bin".to_owned(),
    };
    for unfinished in [true, false] {
        assert_eq!(
            store
                .publish_asset(publish_request(
                    &src,
                    &pkg,
                    "1.0",
                    asset("a.bin", "other"),
                    unfinished
                ))
                .await,
            Err(clash.clone())
        );
    }
    // Nothing changed, not even the status.
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, first.version);
    assert_eq!(stored.assets, vec![asset("a.bin", "alpha")]);
    assert_eq!(unreferenced(&*store, &["other"]).await, shas(&["other"]));
    publish(&*store, &src, &pkg, "1.0", asset("b.bin", "bravo"), false).await;
    assert_eq!(
        store
            .publish_asset(publish_request(
                &src,
                &pkg,
                "1.0",
                asset("a.bin", "other"),
                false
            ))
            .await,
        Err(clash)
    );
    assert_eq!(asset_bytes(&*store, &k).await, 10);
}

pub async fn publish_new_asset_on_finished_version_is_invalid_state(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("done");
    let done = publish(&*store, &src, &pkg, "1.0", asset("a.bin", "alpha"), false).await;
    for unfinished in [false, true] {
        let refused = store
            .publish_asset(publish_request(
                &src,
                &pkg,
                "1.0",
                asset("b.bin", "bravo"),
                unfinished,
            ))
            .await;
        assert!(
            matches!(refused, Err(StoreError::InvalidState(_))),
            "{refused:?}"
        );
    }
    // Also for an Archived version, even where Published versions take new assets.
    let archived = store
        .change_versions(
            &src,
            &pkg,
            &[change(
                &done.version,
                VersionAction::SetStatus(VersionStatus::Archived),
            )],
        )
        .await
        .expect("archive");
    for append_to_published in [false, true] {
        let mut request = publish_request(&src, &pkg, "1.0", asset("b.bin", "bravo"), true);
        request.append_to_published = append_to_published;
        let refused = store.publish_asset(request).await;
        assert!(
            matches!(refused, Err(StoreError::InvalidState(_))),
            "{refused:?}"
        );
    }
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, archived[0]);
    assert_eq!(stored.assets, vec![asset("a.bin", "alpha")]);
    assert_eq!(unreferenced(&*store, &["bravo"]).await, shas(&["bravo"]));
}

pub async fn publish_of_a_new_version_only_refuses_an_existing_one(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, None, "once");
    let first = {
        let mut request = publish_request(&src, &pkg, "1.0.0", asset("package.tgz", "t"), false);
        request.new_version_only = true;
        store.publish_asset(request).await.expect("first publish")
    };
    // The same bytes again: idempotent without the flag, refused with it, whatever the status.
    let mut again = publish_request(&src, &pkg, "1.0.0", asset("package.tgz", "t"), false);
    assert!(store.publish_asset(again.clone()).await.is_ok());
    again.new_version_only = true;
    let refused = store.publish_asset(again.clone()).await;
    assert!(
        matches!(
            refused,
            Err(StoreError::AlreadyExists {
                kind: ResourceKind::PackageVersion,
                ..
            })
        ),
        "{refused:?}"
    );
    store
        .change_versions(
            &src,
            &pkg,
            &[change(
                &first.version,
                VersionAction::SetStatus(VersionStatus::Unlisted),
            )],
        )
        .await
        .expect("unlist");
    assert!(matches!(
        store.publish_asset(again).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let stored = existing_version(&*store, &src, &pkg, "1.0.0").await;
    assert_eq!(stored.assets, vec![first.asset]);
}

pub async fn publish_appends_to_published_version_when_allowed(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Pypi, None, "growing");
    let sdist = publish(
        &*store,
        &src,
        &pkg,
        "1.0",
        asset("a.tar.gz", "sdist"),
        false,
    )
    .await;
    assert_eq!(sdist.version.status, VersionStatus::Published);
    let appending = |name: &str, content: &str, unfinished: bool| {
        let mut request = publish_request(&src, &pkg, "1.0", asset(name, content), unfinished);
        request.append_to_published = true;
        request.now = Timestamp(T0 + 7);
        request.max_assets_per_version = 2;
        request
    };
    // Without the flag a new asset is refused.
    let refused = store
        .publish_asset(publish_request(
            &src,
            &pkg,
            "1.0",
            asset("b.whl", "wheel"),
            false,
        ))
        .await;
    assert!(
        matches!(refused, Err(StoreError::InvalidState(_))),
        "{refused:?}"
    );
    assert_eq!(
        existing_version(&*store, &src, &pkg, "1.0").await.version,
        sdist.version
    );
    // With it, the asset is added and the revision follows; status and published time stay.
    let wheel = store
        .publish_asset(appending("b.whl", "wheel", false))
        .await
        .expect("append");
    assert_eq!(wheel.asset, asset("b.whl", "wheel"));
    assert_eq!(wheel.version.status, VersionStatus::Published);
    assert_eq!(wheel.version.published, sdist.version.published);
    assert_ne!(wheel.version.revision, sdist.version.revision);
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, wheel.version);
    assert_eq!(
        stored.assets,
        vec![asset("a.tar.gz", "sdist"), asset("b.whl", "wheel")]
    );
    assert_eq!(
        stored.version.revision,
        reliquary_types::revision(&stored.assets, &stored.version.metadata)
    );
    assert_eq!(
        asset_bytes(&*store, &k).await,
        ("sdist".len() + "wheel".len()) as i64
    );
    // The identical asset again is a no-op, other content under its name a clash …
    for unfinished in [false, true] {
        assert_eq!(
            store
                .publish_asset(appending("b.whl", "wheel", unfinished))
                .await
                .expect("identical"),
            wheel
        );
    }
    assert_eq!(
        store
            .publish_asset(appending("b.whl", "other", false))
            .await,
        Err(StoreError::AlreadyExists {
            kind: ResourceKind::Asset,
            id: "b.whl".to_owned(),
        })
    );
    // … and the asset quota still holds.
    assert_eq!(
        store.publish_asset(appending("c.whl", "third", true)).await,
        Err(StoreError::QuotaExceeded {
            kind: ResourceKind::Asset,
            limit: 2
        })
    );
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, wheel.version);
    assert_eq!(stored.assets.len(), 2);
    assert_eq!(
        unreferenced(&*store, &["other", "third"]).await,
        shas(&["other", "third"])
    );
}

pub async fn publish_blocked_package_is_not_allowed(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("blocked");
    store
        .put_origin_configuration(
            &src,
            &pkg,
            OriginRestrictions {
                publish: Allow::Block,
                upstream: Allow::Allow,
            },
        )
        .await
        .expect("put origin");
    let refused = store
        .publish_asset(publish_request(
            &src,
            &pkg,
            "1.0",
            asset("a.bin", "alpha"),
            false,
        ))
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotAllowed(_))),
        "{refused:?}"
    );
    assert_eq!(read_version(&*store, &src, &pkg, "1.0").await, None);
    assert_eq!(unreferenced(&*store, &["alpha"]).await, shas(&["alpha"]));
    // Unblocked, it publishes.
    store
        .put_origin_configuration(&src, &pkg, OriginRestrictions::PUBLISHED_FIRST)
        .await
        .expect("put origin");
    publish(&*store, &src, &pkg, "1.0", asset("a.bin", "alpha"), false).await;
}

pub async fn publish_asset_quota(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("many");
    let limited = |name: &str, content: &str| {
        let mut request = publish_request(&src, &pkg, "1.0", asset(name, content), true);
        request.max_assets_per_version = 2;
        request
    };
    store
        .publish_asset(limited("a", "alpha"))
        .await
        .expect("first");
    store
        .publish_asset(limited("b", "bravo"))
        .await
        .expect("second");
    assert_eq!(
        store.publish_asset(limited("c", "charlie")).await,
        Err(StoreError::QuotaExceeded {
            kind: ResourceKind::Asset,
            limit: 2
        })
    );
    // An identical asset is not a new one.
    store
        .publish_asset(limited("b", "bravo"))
        .await
        .expect("identical");
    assert_eq!(
        existing_version(&*store, &src, &pkg, "1.0")
            .await
            .assets
            .len(),
        2
    );
}

pub async fn revision_follows_assets_and_metadata(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("rev");
    let metadata = VersionMetadata {
        summary: Some("described".to_owned()),
        ..VersionMetadata::default()
    };
    let mut request = publish_request(&src, &pkg, "1.0", asset("a", "alpha"), true);
    request.metadata = metadata.clone();
    let one = store.publish_asset(request).await.expect("publish");
    assert_eq!(
        one.version.revision,
        revision(&[asset("a", "alpha")], &metadata)
    );
    // The version keeps the metadata it was created with.
    let mut request = publish_request(&src, &pkg, "1.0", asset("b", "bravo"), false);
    request.metadata = VersionMetadata::default();
    let two = store.publish_asset(request).await.expect("publish");
    assert_eq!(two.version.metadata, metadata);
    assert_eq!(
        two.version.revision,
        revision(&[asset("b", "bravo"), asset("a", "alpha")], &metadata)
    );
    assert_ne!(one.version.revision, two.version.revision);
    // The same content under another version has the same revision; statuses do not count.
    let mut request = publish_request(&src, &pkg, "2.0", asset("a", "alpha"), true);
    request.metadata = metadata.clone();
    store.publish_asset(request).await.expect("publish");
    let mut request = publish_request(&src, &pkg, "2.0", asset("b", "bravo"), true);
    request.metadata = metadata.clone();
    let other = store.publish_asset(request).await.expect("publish");
    assert_eq!(other.version.status, VersionStatus::Unfinished);
    assert_eq!(other.version.revision, two.version.revision);
    let unlisted = store
        .change_versions(
            &src,
            &pkg,
            &[change(
                &two.version,
                VersionAction::SetStatus(VersionStatus::Unlisted),
            )],
        )
        .await
        .expect("unlist");
    assert_eq!(unlisted[0].revision, two.version.revision);
}

pub async fn assets_are_stored_once_per_domain(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let content = "shared-content";
    let size = content.len() as i64;
    publish(
        &*store,
        &src,
        &generic("one"),
        "1.0",
        asset("a.bin", content),
        false,
    )
    .await;
    assert_eq!(asset_bytes(&*store, &k).await, size);
    // Same bytes under another name, version, package and repository: still one asset row.
    publish(
        &*store,
        &src,
        &generic("one"),
        "2.0",
        asset("b.bin", content),
        false,
    )
    .await;
    publish(
        &*store,
        &dst,
        &generic("two"),
        "1.0",
        asset("c.bin", content),
        false,
    )
    .await;
    assert_eq!(asset_bytes(&*store, &k).await, size);
    publish(
        &*store,
        &dst,
        &generic("two"),
        "2.0",
        asset("c.bin", "xyz"),
        false,
    )
    .await;
    assert_eq!(asset_bytes(&*store, &k).await, size + 3);
    // Another domain has its own rows.
    let other = key(OTHER, "dom");
    make_domain(&*store, &other).await;
    make_repository(&*store, &other, "far", &[]).await;
    publish(
        &*store,
        &repository_key(&other, "far"),
        &generic("one"),
        "1.0",
        asset("a.bin", content),
        false,
    )
    .await;
    assert_eq!(asset_bytes(&*store, &other).await, size);
    assert_eq!(asset_bytes(&*store, &k).await, size + 3);
    let listed = store
        .list_domains(&account(OWNER), None, 10)
        .await
        .expect("list");
    assert_eq!(listed[0].asset_size_bytes, size + 3);
}

pub async fn package_list_filters(store: Arc<dyn Store>) {
    let (_, src, dst) = package_setup(&*store).await;
    let blocked = OriginRestrictions {
        publish: Allow::Block,
        upstream: Allow::Allow,
    };
    publish(
        &*store,
        &src,
        &package_key(PackageFormat::Npm, None, "alpha"),
        "1",
        asset("p", "1"),
        false,
    )
    .await;
    publish(
        &*store,
        &src,
        &package_key(PackageFormat::Npm, Some("scope"), "beta"),
        "1",
        asset("p", "2"),
        false,
    )
    .await;
    publish(
        &*store,
        &src,
        &package_key(PackageFormat::Generic, Some("ns"), "gax"),
        "1",
        asset("p", "3"),
        false,
    )
    .await;
    store
        .put_origin_configuration(
            &src,
            &package_key(PackageFormat::Generic, Some("ns"), "g_x"),
            blocked,
        )
        .await
        .expect("put origin");
    store
        .put_origin_configuration(
            &src,
            &package_key(PackageFormat::Pypi, None, "delta"),
            blocked,
        )
        .await
        .expect("put origin");
    publish(
        &*store,
        &src,
        &package_key(PackageFormat::Maven, Some("org.sc"), "epsilon"),
        "1",
        asset("p", "4"),
        false,
    )
    .await;
    // Another repository's packages never show.
    publish(
        &*store,
        &dst,
        &package_key(PackageFormat::Npm, None, "aardvark"),
        "1",
        asset("p", "5"),
        false,
    )
    .await;

    let list = |filter: PackageFilter| {
        let store = Arc::clone(&store);
        let src = src.clone();
        async move {
            package_names(
                &store
                    .list_packages(&src, &filter, None, 100)
                    .await
                    .expect("list"),
            )
        }
    };
    assert_eq!(
        list(PackageFilter::default()).await,
        [
            "generic:ns/g_x",
            "generic:ns/gax",
            "maven:org.sc/epsilon",
            "npm:alpha",
            "npm:scope/beta",
            "pypi:delta"
        ]
    );
    assert_eq!(
        list(PackageFilter {
            format: Some(PackageFormat::Npm),
            ..PackageFilter::default()
        })
        .await,
        ["npm:alpha", "npm:scope/beta"]
    );
    assert_eq!(
        list(PackageFilter {
            namespace_prefix: Some("sc".to_owned()),
            ..PackageFilter::default()
        })
        .await,
        ["npm:scope/beta"]
    );
    assert_eq!(
        list(PackageFilter {
            namespace_prefix: Some("org.".to_owned()),
            ..PackageFilter::default()
        })
        .await,
        ["maven:org.sc/epsilon"]
    );
    // Prefixes are literal: `_` and `%` match only themselves.
    assert_eq!(
        list(PackageFilter {
            name_prefix: Some("g_".to_owned()),
            ..PackageFilter::default()
        })
        .await,
        ["generic:ns/g_x"]
    );
    assert!(
        list(PackageFilter {
            name_prefix: Some("%".to_owned()),
            ..PackageFilter::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        list(PackageFilter {
            publish: Some(Allow::Block),
            ..PackageFilter::default()
        })
        .await,
        ["generic:ns/g_x", "pypi:delta"]
    );
    assert_eq!(
        list(PackageFilter {
            upstream: Some(Allow::Block),
            ..PackageFilter::default()
        })
        .await,
        [
            "generic:ns/gax",
            "maven:org.sc/epsilon",
            "npm:alpha",
            "npm:scope/beta"
        ]
    );
    assert_eq!(
        list(PackageFilter {
            format: Some(PackageFormat::Generic),
            namespace_prefix: Some("n".to_owned()),
            name_prefix: Some("ga".to_owned()),
            publish: Some(Allow::Allow),
            upstream: Some(Allow::Block),
        })
        .await,
        ["generic:ns/gax"]
    );
    let listed = store
        .list_packages(&src, &PackageFilter::default(), None, 100)
        .await
        .expect("list");
    assert_eq!(listed[0].origin, blocked);
    assert_eq!(listed[1].origin, OriginRestrictions::PUBLISHED_FIRST);
}

pub async fn package_list_is_keyset_paginated(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let origin = OriginRestrictions::PUBLISHED_FIRST;
    for (format, namespace, name) in [
        (PackageFormat::Npm, None, "b"),
        (PackageFormat::Npm, Some("s"), "a"),
        (PackageFormat::Generic, Some("ns"), "m"),
        (PackageFormat::Pypi, None, "z"),
        (PackageFormat::Npm, None, "d"),
    ] {
        store
            .put_origin_configuration(&src, &package_key(format, namespace, name), origin)
            .await
            .expect("create package");
    }
    let cursor = |p: &Package| PackageCursor {
        format: p.key.format,
        namespace: p.key.namespace.clone().unwrap_or_default(),
        name: p.key.name.clone(),
    };
    let filter = PackageFilter::default();
    let page = store
        .list_packages(&src, &filter, None, 2)
        .await
        .expect("page 1");
    assert_eq!(package_names(&page), ["generic:ns/m", "npm:b"]);
    // Inserted between pages: one before the cursor (never shown), one after (shown once).
    for (format, namespace, name) in [
        (PackageFormat::Npm, None, "a"),
        (PackageFormat::Npm, None, "c"),
    ] {
        store
            .put_origin_configuration(&src, &package_key(format, namespace, name), origin)
            .await
            .expect("create package");
    }
    let page = store
        .list_packages(&src, &filter, Some(&cursor(&page[1])), 2)
        .await
        .expect("page 2");
    assert_eq!(package_names(&page), ["npm:c", "npm:d"]);
    let page = store
        .list_packages(&src, &filter, Some(&cursor(&page[1])), 2)
        .await
        .expect("page 3");
    assert_eq!(package_names(&page), ["npm:s/a", "pypi:z"]);
    let page = store
        .list_packages(&src, &filter, Some(&cursor(&page[1])), 2)
        .await
        .expect("page 4");
    assert!(page.is_empty());
    // A cursor in the middle of a format continues with the next namespace.
    let page = store
        .list_packages(
            &src,
            &filter,
            Some(&PackageCursor {
                format: PackageFormat::Npm,
                namespace: String::new(),
                name: "zzz".to_owned(),
            }),
            10,
        )
        .await
        .expect("page");
    assert_eq!(package_names(&page), ["npm:s/a", "pypi:z"]);
}

/// Versions 0.9 (Unfinished), 1.0, 1.1, 10.0, 2.0 with distinct and tied published times.
async fn version_fixture(store: &dyn Store, src: &RepositoryKey, pkg: &PackageKey) {
    for (version, at, unfinished) in [
        ("1.0", 30, false),
        ("1.1", 10, false),
        ("2.0", 30, false),
        ("10.0", 20, false),
        ("0.9", 5, true),
    ] {
        let mut request = publish_request(src, pkg, version, asset("a", version), unfinished);
        request.now = Timestamp(T0 + at);
        store.publish_asset(request).await.expect("publish");
    }
}

pub async fn version_list_orders_and_filters(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("versions");
    version_fixture(&*store, &src, &pkg).await;
    let list = |filter: VersionFilter, order: VersionOrder| {
        let store = Arc::clone(&store);
        let src = src.clone();
        let pkg = pkg.clone();
        async move {
            version_names(
                &store
                    .list_versions(&src, &pkg, &filter, order, None, 100)
                    .await
                    .expect("list"),
            )
        }
    };
    assert_eq!(
        list(VersionFilter::default(), VersionOrder::Version).await,
        ["0.9", "1.0", "1.1", "10.0", "2.0"]
    );
    assert_eq!(
        list(
            VersionFilter::default(),
            VersionOrder::PublishedTimeDescending
        )
        .await,
        ["1.0", "2.0", "10.0", "1.1", "0.9"]
    );
    let published = VersionFilter {
        status: Some(VersionStatus::Published),
        ..VersionFilter::default()
    };
    assert_eq!(
        list(published, VersionOrder::Version).await,
        ["1.0", "1.1", "10.0", "2.0"]
    );
    let unfinished = VersionFilter {
        status: Some(VersionStatus::Unfinished),
        ..VersionFilter::default()
    };
    assert_eq!(list(unfinished, VersionOrder::Version).await, ["0.9"]);
    let internal = VersionFilter {
        origin_type: Some(OriginType::Internal),
        ..VersionFilter::default()
    };
    assert_eq!(list(internal, VersionOrder::Version).await.len(), 5);
    let external = VersionFilter {
        origin_type: Some(OriginType::External),
        ..VersionFilter::default()
    };
    assert!(list(external, VersionOrder::Version).await.is_empty());
    let archived_internal = VersionFilter {
        status: Some(VersionStatus::Archived),
        origin_type: Some(OriginType::Internal),
    };
    assert!(
        list(archived_internal, VersionOrder::Version)
            .await
            .is_empty()
    );
    // A package that does not exist has no versions.
    assert!(
        all_versions(&*store, &src, &generic("nothing"))
            .await
            .is_empty()
    );
    let versions = all_versions(&*store, &src, &pkg).await;
    assert_eq!(versions[1].published, Timestamp(T0 + 30));
    assert_eq!(versions[1].package, pkg);
}

pub async fn version_list_is_keyset_paginated(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = generic("versions");
    version_fixture(&*store, &src, &pkg).await;
    for (order, expected) in [
        (VersionOrder::Version, ["0.9", "1.0", "1.1", "10.0", "2.0"]),
        (
            VersionOrder::PublishedTimeDescending,
            ["1.0", "2.0", "10.0", "1.1", "0.9"],
        ),
    ] {
        let mut seen = Vec::new();
        let mut after: Option<VersionCursor> = None;
        loop {
            let page = store
                .list_versions(
                    &src,
                    &pkg,
                    &VersionFilter::default(),
                    order,
                    after.as_ref(),
                    2,
                )
                .await
                .expect("page");
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            after = Some(VersionCursor {
                published: last.published,
                version: last.version.clone(),
            });
            seen.extend(version_names(&page));
        }
        assert_eq!(seen, expected, "{order:?}");
    }
    // A version added between pages shows up once it sorts after the cursor.
    let first = store
        .list_versions(
            &src,
            &pkg,
            &VersionFilter::default(),
            VersionOrder::PublishedTimeDescending,
            None,
            2,
        )
        .await
        .expect("page");
    let mut request = publish_request(&src, &pkg, "3.0", asset("a", "3.0"), false);
    request.now = Timestamp(T0 + 25);
    store.publish_asset(request).await.expect("publish");
    let mut request = publish_request(&src, &pkg, "4.0", asset("a", "4.0"), false);
    request.now = Timestamp(T0 + 99);
    store.publish_asset(request).await.expect("publish");
    let cursor = VersionCursor {
        published: first[1].published,
        version: first[1].version.clone(),
    };
    let rest = store
        .list_versions(
            &src,
            &pkg,
            &VersionFilter::default(),
            VersionOrder::PublishedTimeDescending,
            Some(&cursor),
            10,
        )
        .await
        .expect("rest");
    assert_eq!(version_names(&rest), ["3.0", "10.0", "1.1", "0.9"]);
}

pub async fn change_versions_applies_every_action(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = generic("changing");
    let a = publish(&*store, &src, &pkg, "1.0", asset("a", "one"), false)
        .await
        .version;
    let b = publish(&*store, &src, &pkg, "1.1", asset("a", "two"), false)
        .await
        .version;
    let c = publish(&*store, &src, &pkg, "2.0", asset("a", "three"), false)
        .await
        .version;
    let before = asset_bytes(&*store, &k).await;
    let changed = store
        .change_versions(
            &src,
            &pkg,
            &[
                change(&a, VersionAction::SetStatus(VersionStatus::Archived)),
                change(&b, VersionAction::Dispose),
                change(&c, VersionAction::Delete),
            ],
        )
        .await
        .expect("change");
    let archived = PackageVersion {
        status: VersionStatus::Archived,
        ..a.clone()
    };
    let disposed = PackageVersion {
        status: VersionStatus::Disposed,
        ..b.clone()
    };
    assert_eq!(changed, vec![archived.clone(), disposed.clone(), c.clone()]);
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, archived);
    assert_eq!(stored.assets, vec![asset("a", "one")]);
    let stored = existing_version(&*store, &src, &pkg, "1.1").await;
    assert_eq!(stored.version, disposed);
    assert!(stored.assets.is_empty());
    assert_eq!(read_version(&*store, &src, &pkg, "2.0").await, None);
    assert_eq!(
        asset_bytes(&*store, &k).await,
        before - "two".len() as i64 - "three".len() as i64
    );
    // Archived back to Published keeps the revision; a disposed version can still be deleted.
    let restored = store
        .change_versions(
            &src,
            &pkg,
            &[
                change(
                    &archived,
                    VersionAction::SetStatus(VersionStatus::Published),
                ),
                change(&disposed, VersionAction::Delete),
            ],
        )
        .await
        .expect("change");
    assert_eq!(restored[0], a);
    assert_eq!(restored[1], disposed);
    assert_eq!(
        version_names(&all_versions(&*store, &src, &pkg).await),
        ["1.0"]
    );
    assert!(
        store
            .change_versions(&src, &pkg, &[])
            .await
            .expect("no-op")
            .is_empty()
    );
    // The deleted version can be published afresh.
    let again = publish(&*store, &src, &pkg, "2.0", asset("a", "four"), false).await;
    assert_eq!(again.version.status, VersionStatus::Published);
}

pub async fn change_versions_is_all_or_nothing(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = generic("atomic");
    let a = publish(&*store, &src, &pkg, "1.0", asset("a", "one"), false)
        .await
        .version;
    let b = publish(&*store, &src, &pkg, "1.1", asset("a", "two"), false)
        .await
        .version;
    let before = all_versions(&*store, &src, &pkg).await;
    let bytes = asset_bytes(&*store, &k).await;
    let stale_status = VersionChange {
        expected_status: VersionStatus::Unlisted,
        ..change(&b, VersionAction::Delete)
    };
    let stale_revision = VersionChange {
        expected_revision: "not-the-revision".to_owned(),
        ..change(&b, VersionAction::Dispose)
    };
    let missing = VersionChange {
        version: "9.9".to_owned(),
        ..change(&b, VersionAction::Delete)
    };
    for bad in [stale_status, stale_revision, missing] {
        for action in [
            VersionAction::SetStatus(VersionStatus::Archived),
            VersionAction::Dispose,
            VersionAction::Delete,
        ] {
            assert_eq!(
                store
                    .change_versions(&src, &pkg, &[change(&a, action), bad.clone()])
                    .await,
                Err(StoreError::Contention)
            );
        }
    }
    assert_eq!(all_versions(&*store, &src, &pkg).await, before);
    assert_eq!(
        existing_version(&*store, &src, &pkg, "1.0")
            .await
            .assets
            .len(),
        1
    );
    assert_eq!(asset_bytes(&*store, &k).await, bytes);
    // A package that does not exist: nothing matches what was expected.
    assert_eq!(
        store
            .change_versions(
                &src,
                &generic("ghost"),
                &[change(&a, VersionAction::Delete)]
            )
            .await,
        Err(StoreError::Contention)
    );
    assert_eq!(
        store
            .change_versions(
                &repository_key(&k, "nope"),
                &pkg,
                &[change(&a, VersionAction::Delete)]
            )
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
}

pub async fn dispose_releases_only_unreferenced_blobs(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = generic("blobs");
    let shared = publish(&*store, &src, &pkg, "1.0", asset("x", "shared"), false)
        .await
        .version;
    let own = publish(&*store, &src, &pkg, "2.0", asset("y", "own"), false)
        .await
        .version;
    let copy = publish(&*store, &dst, &pkg, "1.0", asset("x", "shared"), false)
        .await
        .version;
    let other = key(OTHER, "dom");
    make_domain(&*store, &other).await;
    make_repository(&*store, &other, "far", &[]).await;
    let elsewhere = repository_key(&other, "far");
    let far = publish(&*store, &elsewhere, &pkg, "1.0", asset("z", "far"), false)
        .await
        .version;
    assert_eq!(
        unreferenced(&*store, &["shared", "own", "far", "never"]).await,
        shas(&["never"])
    );
    store
        .change_versions(&src, &pkg, &[change(&shared, VersionAction::Dispose)])
        .await
        .expect("dispose");
    // Still referenced by dst.
    assert_eq!(
        unreferenced(&*store, &["shared", "own"]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        asset_bytes(&*store, &k).await,
        ("shared".len() + "own".len()) as i64
    );
    store
        .change_versions(&dst, &pkg, &[change(&copy, VersionAction::Dispose)])
        .await
        .expect("dispose");
    assert_eq!(
        unreferenced(&*store, &["shared", "own"]).await,
        shas(&["shared"])
    );
    assert_eq!(asset_bytes(&*store, &k).await, "own".len() as i64);
    store
        .change_versions(&src, &pkg, &[change(&own, VersionAction::Delete)])
        .await
        .expect("delete");
    assert_eq!(
        unreferenced(&*store, &["shared", "own", "far"]).await,
        shas(&["shared", "own"])
    );
    assert_eq!(asset_bytes(&*store, &k).await, 0);
    // The same blob published in another domain keeps it referenced there.
    publish(
        &*store,
        &elsewhere,
        &pkg,
        "2.0",
        asset("x", "shared"),
        false,
    )
    .await;
    assert_eq!(
        unreferenced(&*store, &["shared", "own"]).await,
        shas(&["own"])
    );
    store
        .change_versions(&elsewhere, &pkg, &[change(&far, VersionAction::Delete)])
        .await
        .expect("delete");
    assert_eq!(
        unreferenced(&*store, &["far", "far", "shared"]).await,
        shas(&["far"])
    );
    assert!(
        store
            .unreferenced_blobs(&[])
            .await
            .expect("empty")
            .is_empty()
    );
}

pub async fn delete_package_removes_everything(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, Some("scope"), "gone");
    let v1 = publish(
        &*store,
        &src,
        &pkg,
        "1.0.0",
        asset("package.tgz", "one"),
        false,
    )
    .await
    .version;
    publish(
        &*store,
        &src,
        &pkg,
        "2.0.0",
        asset("package.tgz", "two"),
        false,
    )
    .await;
    publish(
        &*store,
        &dst,
        &pkg,
        "1.0.0",
        asset("package.tgz", "one"),
        false,
    )
    .await;
    let mut copy = copy_request(&src, &pkg, Vec::new());
    copy.dist_tags = vec![("latest".to_owned(), "2.0.0".to_owned())];
    store.copy_versions(copy).await.expect("set dist tag");
    assert_eq!(store.dist_tags(&src, &pkg).await.expect("tags").len(), 1);
    let deleted = store.delete_package(&src, &pkg).await.expect("delete");
    assert_eq!(deleted.key, pkg);
    assert_eq!(deleted.origin, OriginRestrictions::PUBLISHED_FIRST);
    assert_eq!(store.package(&src, &pkg).await.expect("read"), None);
    assert_eq!(read_version(&*store, &src, &pkg, "1.0.0").await, None);
    assert!(all_versions(&*store, &src, &pkg).await.is_empty());
    assert!(store.dist_tags(&src, &pkg).await.expect("tags").is_empty());
    assert_eq!(
        store.delete_package(&src, &pkg).await,
        Err(not_found(ResourceKind::Package, "gone"))
    );
    // dst's copy of the package and its asset remain.
    assert_eq!(
        existing_version(&*store, &dst, &pkg, "1.0.0")
            .await
            .version
            .revision,
        v1.revision
    );
    assert_eq!(unreferenced(&*store, &["one", "two"]).await, shas(&["two"]));
    assert_eq!(asset_bytes(&*store, &k).await, 3);
    // The name can be used again, with fresh defaults.
    let again = publish(
        &*store,
        &src,
        &pkg,
        "1.0.0",
        asset("package.tgz", "three"),
        false,
    )
    .await;
    assert_eq!(again.version.status, VersionStatus::Published);
}

pub async fn origin_configuration_creates_and_updates(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Pypi, None, "configured");
    let open = OriginRestrictions {
        publish: Allow::Allow,
        upstream: Allow::Allow,
    };
    let created = store
        .put_origin_configuration(&src, &pkg, OriginRestrictions::INGESTED_FIRST)
        .await
        .expect("create");
    assert_eq!(
        created,
        Package {
            key: pkg.clone(),
            origin: OriginRestrictions::INGESTED_FIRST
        }
    );
    assert_eq!(
        store.package(&src, &pkg).await.expect("read"),
        Some(created)
    );
    assert!(all_versions(&*store, &src, &pkg).await.is_empty());
    let updated = store
        .put_origin_configuration(&src, &pkg, open)
        .await
        .expect("update");
    assert_eq!(updated.origin, open);
    // Publishing keeps an existing package's configuration.
    publish(&*store, &src, &pkg, "1.0", asset("a.whl", "wheel"), false).await;
    assert_eq!(
        store
            .package(&src, &pkg)
            .await
            .expect("read")
            .expect("exists")
            .origin,
        open
    );
    assert_eq!(
        store
            .put_origin_configuration(&repository_key(&k, "nope"), &pkg, open)
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
}

pub async fn copy_versions_new_and_replace(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, None, "lib");
    let mut request = publish_request(&src, &pkg, "1.0.0", asset("package.tgz", "one"), false);
    request.metadata = VersionMetadata {
        summary: Some("first".to_owned()),
        ..VersionMetadata::default()
    };
    request.now = Timestamp(T0 + 1);
    let one = store.publish_asset(request).await.expect("publish").version;
    let two = publish(
        &*store,
        &src,
        &pkg,
        "2.0.0",
        asset("package.tgz", "two"),
        false,
    )
    .await
    .version;
    let unlisted = store
        .change_versions(
            &src,
            &pkg,
            &[change(
                &two,
                VersionAction::SetStatus(VersionStatus::Unlisted),
            )],
        )
        .await
        .expect("unlist")
        .remove(0);
    let bytes = asset_bytes(&*store, &k).await;

    let written = store
        .copy_versions(copy_request(
            &dst,
            &pkg,
            vec![
                copy_item(&src, &one, None),
                copy_item(&src, &unlisted, None),
            ],
        ))
        .await
        .expect("copy");
    // Everything but the package's repository is the source's: status, revision, published time,
    // origin (still the source repository) and metadata.
    assert_eq!(written, vec![one.clone(), unlisted.clone()]);
    for (source, version) in [(&one, "1.0.0"), (&unlisted, "2.0.0")] {
        let copied = existing_version(&*store, &dst, &pkg, version).await;
        let original = existing_version(&*store, &src, &pkg, version).await;
        assert_eq!(&copied.version, source);
        assert_eq!(copied.assets, original.assets);
    }
    assert_eq!(copied_origin(&one), Some("src".to_owned()));
    // Metadata only: no new asset rows.
    assert_eq!(asset_bytes(&*store, &k).await, bytes);

    // Replace: dst has its own 3.0.0, overwritten by src's.
    let theirs = publish(
        &*store,
        &dst,
        &pkg,
        "3.0.0",
        asset("package.tgz", "mine"),
        false,
    )
    .await
    .version;
    let ours = publish(
        &*store,
        &src,
        &pkg,
        "3.0.0",
        asset("package.tgz", "three"),
        false,
    )
    .await
    .version;
    assert_ne!(theirs.revision, ours.revision);
    let written = store
        .copy_versions(copy_request(
            &dst,
            &pkg,
            vec![copy_item(&src, &ours, Some(&theirs.revision))],
        ))
        .await
        .expect("replace");
    assert_eq!(written, vec![ours.clone()]);
    let replaced = existing_version(&*store, &dst, &pkg, "3.0.0").await;
    assert_eq!(replaced.version, ours);
    assert_eq!(replaced.assets, vec![asset("package.tgz", "three")]);
    assert_eq!(
        version_names(&all_versions(&*store, &dst, &pkg).await),
        ["1.0.0", "2.0.0", "3.0.0"]
    );
    // The replaced version's own asset is released.
    assert_eq!(
        unreferenced(&*store, &["mine", "three"]).await,
        shas(&["mine"])
    );
    assert_eq!(asset_bytes(&*store, &k).await, bytes + "three".len() as i64);
}

/// Publishes each version with one asset `package.tgz` whose content is the version string.
async fn publish_tarballs(
    store: &dyn Store,
    repository: &RepositoryKey,
    package: &PackageKey,
    versions: &[&str],
) -> Vec<PackageVersion> {
    let mut published = Vec::with_capacity(versions.len());
    for version in versions {
        let tarball = asset("package.tgz", version);
        published.push(
            publish(store, repository, package, version, tarball, false)
                .await
                .version,
        );
    }
    published
}

fn copied_origin(version: &PackageVersion) -> Option<String> {
    version.origin.repository.clone()
}

pub async fn copy_versions_preconditions(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = generic("guarded");
    let good = publish(&*store, &src, &pkg, "1.0", asset("a", "good"), false)
        .await
        .version;
    let unfinished = publish(&*store, &src, &pkg, "2.0", asset("a", "unfinished"), true)
        .await
        .version;
    let disposed = publish(&*store, &src, &pkg, "3.0", asset("a", "disposed"), false)
        .await
        .version;
    let disposed = store
        .change_versions(&src, &pkg, &[change(&disposed, VersionAction::Dispose)])
        .await
        .expect("dispose")
        .remove(0);
    let archived = publish(&*store, &src, &pkg, "4.0", asset("a", "archived"), false)
        .await
        .version;
    let archived = store
        .change_versions(
            &src,
            &pkg,
            &[change(
                &archived,
                VersionAction::SetStatus(VersionStatus::Archived),
            )],
        )
        .await
        .expect("archive")
        .remove(0);
    let stale = CopyItem {
        expected_revision: "changed".to_owned(),
        ..copy_item(&src, &good, None)
    };
    let missing = CopyItem {
        version: "9.9".to_owned(),
        ..copy_item(&src, &good, None)
    };
    let replaces_absent = copy_item(&src, &good, Some(&good.revision));
    let from_missing_repository = copy_item(&repository_key(&k, "nope"), &good, None);
    for bad in [
        stale,
        missing,
        replaces_absent,
        from_missing_repository,
        copy_item(&src, &unfinished, None),
        copy_item(&src, &disposed, None),
    ] {
        assert_eq!(
            store
                .copy_versions(copy_request(
                    &dst,
                    &pkg,
                    vec![copy_item(&src, &archived, None), bad.clone()]
                ))
                .await,
            Err(StoreError::Contention),
            "{bad:?}"
        );
        // Nothing written, not even the package.
        assert_eq!(store.package(&dst, &pkg).await.expect("read"), None);
    }
    // An Archived version is copyable and stays Archived.
    let written = store
        .copy_versions(copy_request(
            &dst,
            &pkg,
            vec![copy_item(&src, &archived, None)],
        ))
        .await
        .expect("copy archived");
    assert_eq!(written, vec![archived.clone()]);
    // The destination version appeared (or changed) since it was read.
    let appeared = publish(&*store, &dst, &pkg, "1.0", asset("a", "theirs"), false)
        .await
        .version;
    assert_eq!(
        store
            .copy_versions(copy_request(&dst, &pkg, vec![copy_item(&src, &good, None)]))
            .await,
        Err(StoreError::Contention)
    );
    assert_eq!(
        store
            .copy_versions(copy_request(
                &dst,
                &pkg,
                vec![copy_item(&src, &good, Some("old"))]
            ))
            .await,
        Err(StoreError::Contention)
    );
    assert_eq!(
        existing_version(&*store, &dst, &pkg, "1.0").await.version,
        appeared
    );
    assert_eq!(
        store
            .copy_versions(copy_request(
                &repository_key(&k, "nope"),
                &pkg,
                vec![copy_item(&src, &good, None)]
            ))
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
}

/// includeFromUpstream: one copy reads versions from several repositories, and may create some
/// versions while it replaces others; the store writes them all in one transaction.
pub async fn copy_versions_from_several_sources_at_once(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    make_repository(&*store, &k, "up", &[]).await;
    let up = repository_key(&k, "up");
    let pkg = generic("multi");
    let mut own = Vec::new();
    for version in ["1", "2", "3"] {
        let content = format!("src-{version}");
        own.push(
            publish(&*store, &src, &pkg, version, asset("a", &content), false)
                .await
                .version,
        );
    }
    let upstream_only = publish(&*store, &up, &pkg, "4", asset("a", "up-4"), false)
        .await
        .version;
    let stale = publish(&*store, &dst, &pkg, "2", asset("a", "old-2"), false)
        .await
        .version;
    let items = vec![
        copy_item(&src, &own[0], None),
        copy_item(&src, &own[1], Some(&stale.revision)),
        copy_item(&up, &upstream_only, None),
        copy_item(&src, &own[2], None),
    ];
    let written = store
        .copy_versions(copy_request(&dst, &pkg, items.clone()))
        .await
        .expect("copy");
    assert_eq!(
        written,
        vec![
            own[0].clone(),
            own[1].clone(),
            upstream_only.clone(),
            own[2].clone()
        ]
    );
    for (version, content) in [
        ("1", "src-1"),
        ("2", "src-2"),
        ("3", "src-3"),
        ("4", "up-4"),
    ] {
        let copied = existing_version(&*store, &dst, &pkg, version).await;
        assert_eq!(copied.assets, vec![asset("a", content)], "{version}");
    }
    assert_eq!(
        existing_version(&*store, &dst, &pkg, "4").await.version,
        upstream_only
    );
    assert_eq!(unreferenced(&*store, &["old-2"]).await, shas(&["old-2"]));

    // A version named twice is refused whole.
    let twice = vec![
        copy_item(&src, &own[0], None),
        copy_item(&up, &upstream_only, None),
    ];
    let mut twice = copy_request(&repository_key(&k, "up"), &pkg, twice);
    twice.items.push(twice.items[0].clone());
    assert!(matches!(
        store.copy_versions(twice).await,
        Err(StoreError::InvalidState(_))
    ));
    assert_eq!(
        version_names(&all_versions(&*store, &up, &pkg).await),
        ["4"]
    );
}

pub async fn copy_versions_dist_tags_and_package_origin(store: Arc<dyn Store>) {
    let (_, src, dst) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, Some("scope"), "tagged");
    let one = publish(
        &*store,
        &src,
        &pkg,
        "1.0.0",
        asset("package.tgz", "one"),
        false,
    )
    .await
    .version;
    let two = publish(
        &*store,
        &src,
        &pkg,
        "1.0.1",
        asset("package.tgz", "two"),
        false,
    )
    .await
    .version;
    let custom = OriginRestrictions {
        publish: Allow::Block,
        upstream: Allow::Block,
    };
    let mut copy = copy_request(&dst, &pkg, vec![copy_item(&src, &one, None)]);
    copy.new_package_origin = custom;
    copy.dist_tags = vec![("latest".to_owned(), "1.0.0".to_owned())];
    store.copy_versions(copy).await.expect("copy");
    assert_eq!(
        store
            .package(&dst, &pkg)
            .await
            .expect("read")
            .expect("created")
            .origin,
        custom
    );
    assert_eq!(
        store.dist_tags(&dst, &pkg).await.expect("tags"),
        vec![("latest".to_owned(), "1.0.0".to_owned())]
    );
    // Into the existing package: its origin stays, tags are created or re-pointed.
    let mut copy = copy_request(&dst, &pkg, vec![copy_item(&src, &two, None)]);
    copy.new_package_origin = OriginRestrictions::INGESTED_FIRST;
    copy.dist_tags = vec![
        ("latest".to_owned(), "1.0.1".to_owned()),
        ("beta".to_owned(), "1.0.1".to_owned()),
    ];
    store.copy_versions(copy).await.expect("copy");
    assert_eq!(
        store
            .package(&dst, &pkg)
            .await
            .expect("read")
            .expect("exists")
            .origin,
        custom
    );
    assert_eq!(
        store.dist_tags(&dst, &pkg).await.expect("tags"),
        vec![
            ("beta".to_owned(), "1.0.1".to_owned()),
            ("latest".to_owned(), "1.0.1".to_owned())
        ]
    );
    // The source's tags are untouched.
    assert!(store.dist_tags(&src, &pkg).await.expect("tags").is_empty());
    // A failed copy sets no tags.
    let mut copy = copy_request(&dst, &pkg, vec![copy_item(&src, &two, None)]);
    copy.dist_tags = vec![("latest".to_owned(), "1.0.0".to_owned())];
    assert_eq!(store.copy_versions(copy).await, Err(StoreError::Contention));
    assert_eq!(
        store.dist_tags(&dst, &pkg).await.expect("tags")[1].1,
        "1.0.1"
    );
}

pub async fn concurrent_publish_same_version(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = generic("raced");
    let handles = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let request =
                publish_request(&src, &pkg, "1.0", asset("a.bin", "contested"), i % 2 == 0);
            tokio::spawn(async move { store.publish_asset(request).await })
        })
        .collect();
    let results = join_all(handles).await;
    for result in &results {
        assert!(
            matches!(result, Ok(_) | Err(StoreError::Contention)),
            "{result:?}"
        );
    }
    assert!(results.iter().any(Result::is_ok), "{results:?}");
    let packages = store
        .list_packages(&src, &PackageFilter::default(), None, 10)
        .await
        .expect("list");
    assert_eq!(packages.len(), 1);
    let versions = all_versions(&*store, &src, &pkg).await;
    assert_eq!(version_names(&versions), ["1.0"]);
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.assets, vec![asset("a.bin", "contested")]);
    let finished = results
        .iter()
        .any(|r| matches!(r, Ok(p) if p.version.status == VersionStatus::Published));
    if finished {
        assert_eq!(stored.version.status, VersionStatus::Published);
    }
    assert_eq!(asset_bytes(&*store, &k).await, "contested".len() as i64);
}

pub async fn concurrent_copies_into_one_destination(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = generic("copied");
    let mut versions = Vec::new();
    for i in 0..4 {
        let content = format!("content-{i}");
        versions.push(
            publish(
                &*store,
                &src,
                &pkg,
                &format!("{i}.0"),
                asset("a", &content),
                false,
            )
            .await
            .version,
        );
    }
    let bytes = asset_bytes(&*store, &k).await;
    let handles = (0..12)
        .map(|i| {
            let store = Arc::clone(&store);
            let items = vec![
                copy_item(&src, &versions[i % 4], None),
                copy_item(&src, &versions[(i + 1) % 4], None),
            ];
            let copy = copy_request(&dst, &pkg, items);
            tokio::spawn(async move { store.copy_versions(copy).await })
        })
        .collect();
    let results = join_all(handles).await;
    let mut copied = std::collections::BTreeSet::new();
    for result in &results {
        match result {
            Ok(written) => {
                for version in written {
                    assert!(
                        copied.insert(version.version.clone()),
                        "copied twice: {results:?}"
                    );
                }
            }
            Err(e) => assert_eq!(e, &StoreError::Contention),
        }
    }
    assert!(!copied.is_empty());
    let stored = all_versions(&*store, &dst, &pkg).await;
    assert_eq!(
        version_names(&stored),
        copied.into_iter().collect::<Vec<_>>()
    );
    assert_eq!(
        store
            .list_packages(&dst, &PackageFilter::default(), None, 10)
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(asset_bytes(&*store, &k).await, bytes);
}

pub async fn repository_delete_with_packages(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = generic("doomed");
    let shared = publish(&*store, &src, &pkg, "1.0", asset("a", "shared"), false)
        .await
        .version;
    publish(&*store, &dst, &pkg, "2.0", asset("a", "dst-only"), true).await;
    store
        .copy_versions(copy_request(
            &dst,
            &pkg,
            vec![copy_item(&src, &shared, None)],
        ))
        .await
        .expect("copy");
    let deleted = store
        .delete_repository(&k, &repo("dst"))
        .await
        .expect("delete dst with packages");
    assert_eq!(deleted.name.as_str(), "dst");
    assert_eq!(asset_bytes(&*store, &k).await, "shared".len() as i64);
    assert_eq!(
        unreferenced(&*store, &["shared", "dst-only"]).await,
        shas(&["dst-only"])
    );
    assert_eq!(
        existing_version(&*store, &src, &pkg, "1.0").await.assets,
        vec![asset("a", "shared")]
    );
    assert_eq!(
        store.package(&dst, &pkg).await,
        Err(not_found(ResourceKind::Repository, "dst"))
    );
    store
        .delete_repository(&k, &repo("src"))
        .await
        .expect("delete src");
    assert_eq!(asset_bytes(&*store, &k).await, 0);
    assert_eq!(
        unreferenced(&*store, &["shared", "dst-only"]).await,
        shas(&["shared", "dst-only"])
    );
    store.delete_domain(&k).await.expect("delete domain");
    // A repository of the same name starts empty.
    make_domain(&*store, &k).await;
    make_repository(&*store, &k, "src", &[]).await;
    assert_eq!(store.package(&src, &pkg).await.expect("read"), None);
}

// ---------------------------------------------------------------------------------------------
// Dist-tags, metadata updates and ingestion

const CONNECTION: &str = "public:npmjs";

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(tag, version)| ((*tag).to_owned(), (*version).to_owned()))
        .collect()
}

async fn tags_of(
    store: &dyn Store,
    repository: &RepositoryKey,
    package: &PackageKey,
) -> Vec<(String, String)> {
    store
        .dist_tags(repository, package)
        .await
        .expect("read dist tags")
}

async fn set_tag(
    store: &dyn Store,
    repository: &RepositoryKey,
    package: &PackageKey,
    tag: &str,
    version: &str,
) {
    store
        .set_dist_tag(repository, package, tag, version)
        .await
        .expect("set dist tag");
}

fn ingest_request(
    repository: &RepositoryKey,
    package: &PackageKey,
    version: &str,
    assets: Vec<Asset>,
) -> IngestVersion {
    IngestVersion {
        repository: repository.clone(),
        package: package.clone(),
        version: version.to_owned(),
        assets,
        metadata: VersionMetadata::default(),
        external_connection: CONNECTION.to_owned(),
        published: Timestamp(T0 + 5_000),
    }
}

pub async fn package_listing_reads_versions_and_tags_at_once(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, Some("scope"), "listed");
    let published = publish_tarballs(&*store, &src, &pkg, &["1.0.0", "2.0.0", "1.5.0"]).await;
    publish(
        &*store,
        &src,
        &pkg,
        "3.0.0",
        asset("package.tgz", "3"),
        true,
    )
    .await;
    publish(&*store, &src, &pkg, "3.0.0", asset("a.txt", "x"), true).await;
    set_tag(&*store, &src, &pkg, "next", "2.0.0").await;
    set_tag(&*store, &src, &pkg, "latest", "1.5.0").await;

    let listing = store
        .package_listing(&src, &pkg, Some(VersionStatus::Published), false)
        .await
        .expect("listing")
        .expect("package exists");
    assert_eq!(
        listing.package,
        store
            .package(&src, &pkg)
            .await
            .expect("read")
            .expect("exists")
    );
    let listed: Vec<PackageVersion> = listing.versions.iter().map(|v| v.version.clone()).collect();
    assert_eq!(version_names(&listed), ["1.0.0", "1.5.0", "2.0.0"]);
    assert_eq!(listed[0], published[0]);
    // Assets only when asked for.
    assert!(listing.versions.iter().all(|v| v.assets.is_empty()));
    assert_eq!(
        listing.dist_tags,
        tags(&[("latest", "1.5.0"), ("next", "2.0.0")])
    );
    let everything = store
        .package_listing(&src, &pkg, None, true)
        .await
        .expect("listing")
        .expect("package exists");
    for (listed, version) in everything
        .versions
        .iter()
        .zip(["1.0.0", "1.5.0", "2.0.0", "3.0.0"])
    {
        assert_eq!(listed.version.version, version);
        let expected = if version == "3.0.0" {
            vec![asset("a.txt", "x"), asset("package.tgz", "3")]
        } else {
            vec![asset("package.tgz", version)]
        };
        assert_eq!(listed.assets, expected, "{version}");
    }
    assert_eq!(everything.versions.len(), 4);

    assert_eq!(
        store.package_listing(&dst, &pkg, None, true).await,
        Ok(None)
    );
    assert_eq!(
        store
            .package_listing(&repository_key(&k, "nope"), &pkg, None, false)
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
    assert_eq!(
        store
            .package_listing(
                &repository_key(&key(OWNER, "nodomain"), "src"),
                &pkg,
                None,
                false
            )
            .await
            .map(|_| ())
            .map_err(|e| matches!(
                e,
                StoreError::NotFound {
                    kind: ResourceKind::Domain,
                    ..
                }
            )),
        Err(true)
    );
}

pub async fn dist_tags_set_repoint_and_remove(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, Some("scope"), "tagged");
    publish_tarballs(&*store, &src, &pkg, &["1.0.0", "1.0.1"]).await;
    publish(
        &*store,
        &src,
        &pkg,
        "2.0.0-rc",
        asset("package.tgz", "rc"),
        true,
    )
    .await;
    assert!(tags_of(&*store, &src, &pkg).await.is_empty());

    set_tag(&*store, &src, &pkg, "latest", "1.0.0").await;
    assert_eq!(
        tags_of(&*store, &src, &pkg).await,
        tags(&[("latest", "1.0.0")])
    );
    // Re-pointed, and more tags, listed by tag; any status will do.
    set_tag(&*store, &src, &pkg, "latest", "1.0.1").await;
    set_tag(&*store, &src, &pkg, "beta", "1.0.0").await;
    set_tag(&*store, &src, &pkg, "next", "2.0.0-rc").await;
    // Setting a tag to where it already points is a no-op.
    set_tag(&*store, &src, &pkg, "beta", "1.0.0").await;
    let expected = tags(&[("beta", "1.0.0"), ("latest", "1.0.1"), ("next", "2.0.0-rc")]);
    assert_eq!(tags_of(&*store, &src, &pkg).await, expected);

    // The version must exist in this repository's package.
    let version_missing = |version: &str| Err(not_found(ResourceKind::PackageVersion, version));
    assert_eq!(
        store.set_dist_tag(&src, &pkg, "latest", "9.9.9").await,
        version_missing("9.9.9")
    );
    assert_eq!(
        store.set_dist_tag(&dst, &pkg, "latest", "1.0.0").await,
        version_missing("1.0.0")
    );
    let other = package_key(PackageFormat::Npm, Some("scope"), "other");
    assert_eq!(
        store.set_dist_tag(&src, &other, "latest", "1.0.0").await,
        version_missing("1.0.0")
    );
    assert_eq!(
        store
            .set_dist_tag(&repository_key(&k, "nope"), &pkg, "latest", "1.0.0")
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
    assert_eq!(tags_of(&*store, &src, &pkg).await, expected);
    assert!(tags_of(&*store, &dst, &pkg).await.is_empty());
    assert_eq!(store.package(&src, &other).await.expect("read"), None);

    store
        .remove_dist_tag(&src, &pkg, "beta")
        .await
        .expect("remove");
    assert_eq!(
        tags_of(&*store, &src, &pkg).await,
        tags(&[("latest", "1.0.1"), ("next", "2.0.0-rc")])
    );
    let tag_missing = |tag: &str| Err(not_found(ResourceKind::Tag, tag));
    assert_eq!(
        store.remove_dist_tag(&src, &pkg, "beta").await,
        tag_missing("beta")
    );
    assert_eq!(
        store.remove_dist_tag(&dst, &pkg, "latest").await,
        tag_missing("latest")
    );
    assert_eq!(
        store.remove_dist_tag(&src, &other, "latest").await,
        tag_missing("latest")
    );
    assert_eq!(
        store
            .remove_dist_tag(&repository_key(&k, "nope"), &pkg, "latest")
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
    // The tagged versions are untouched.
    assert_eq!(all_versions(&*store, &src, &pkg).await.len(), 3);
}

pub async fn dist_tags_go_with_their_version_and_package(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, None, "lib");
    let neighbour = package_key(PackageFormat::Npm, None, "neighbour");
    let versions = publish_tarballs(&*store, &src, &pkg, &["1.0.0", "1.0.1", "2.0.0"]).await;
    publish(
        &*store,
        &src,
        &neighbour,
        "1.0.1",
        asset("package.tgz", "n"),
        false,
    )
    .await;
    set_tag(&*store, &src, &pkg, "latest", "1.0.1").await;
    set_tag(&*store, &src, &pkg, "next", "1.0.1").await;
    set_tag(&*store, &src, &pkg, "stable", "1.0.0").await;
    set_tag(&*store, &src, &pkg, "future", "2.0.0").await;
    set_tag(&*store, &src, &neighbour, "latest", "1.0.1").await;

    // A batch that fails removes no tag.
    let stale = VersionChange {
        expected_revision: "stale".to_owned(),
        ..change(&versions[2], VersionAction::Delete)
    };
    assert_eq!(
        store
            .change_versions(
                &src,
                &pkg,
                &[change(&versions[1], VersionAction::Delete), stale]
            )
            .await,
        Err(StoreError::Contention)
    );
    assert_eq!(tags_of(&*store, &src, &pkg).await.len(), 4);

    // Deleting a version removes the tags pointing at it; other changes keep them.
    store
        .change_versions(
            &src,
            &pkg,
            &[
                change(&versions[1], VersionAction::Delete),
                change(&versions[0], VersionAction::Dispose),
                change(
                    &versions[2],
                    VersionAction::SetStatus(VersionStatus::Archived),
                ),
            ],
        )
        .await
        .expect("change");
    assert_eq!(
        tags_of(&*store, &src, &pkg).await,
        tags(&[("future", "2.0.0"), ("stable", "1.0.0")])
    );
    // The same version string of another package keeps its tag.
    assert_eq!(
        tags_of(&*store, &src, &neighbour).await,
        tags(&[("latest", "1.0.1")])
    );
    // A version published again under the deleted string starts untagged.
    publish(
        &*store,
        &src,
        &pkg,
        "1.0.1",
        asset("package.tgz", "again"),
        false,
    )
    .await;
    assert_eq!(tags_of(&*store, &src, &pkg).await.len(), 2);

    // Deleting the package removes all its tags; a package of the same name starts with none.
    store.delete_package(&src, &pkg).await.expect("delete");
    assert!(tags_of(&*store, &src, &pkg).await.is_empty());
    assert_eq!(
        store.remove_dist_tag(&src, &pkg, "future").await,
        Err(not_found(ResourceKind::Tag, "future"))
    );
    publish(
        &*store,
        &src,
        &pkg,
        "2.0.0",
        asset("package.tgz", "2.0.0"),
        false,
    )
    .await;
    assert!(tags_of(&*store, &src, &pkg).await.is_empty());
    assert_eq!(
        tags_of(&*store, &src, &neighbour).await,
        tags(&[("latest", "1.0.1")])
    );
}

pub async fn update_version_metadata_changes_revision(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, None, "deprecated");
    publish(&*store, &src, &pkg, "1.0.0", asset("a.tgz", "alpha"), true).await;
    let original = publish(&*store, &src, &pkg, "1.0.0", asset("b.tgz", "bravo"), false)
        .await
        .version;
    let assets = vec![asset("a.tgz", "alpha"), asset("b.tgz", "bravo")];
    let deprecated = VersionMetadata {
        summary: Some("do not use".to_owned()),
        ..VersionMetadata::default()
    };
    let updated = store
        .update_version_metadata(&src, &pkg, "1.0.0", &original.revision, deprecated.clone())
        .await
        .expect("update metadata");
    assert_eq!(
        updated,
        PackageVersion {
            revision: revision(&assets, &deprecated),
            metadata: deprecated.clone(),
            ..original.clone()
        }
    );
    assert_ne!(updated.revision, original.revision);
    let stored = existing_version(&*store, &src, &pkg, "1.0.0").await;
    assert_eq!(stored.version, updated);
    assert_eq!(stored.assets, assets);

    // The revision core saw is stale now: nothing changes.
    let other = VersionMetadata {
        summary: Some("something else".to_owned()),
        ..VersionMetadata::default()
    };
    assert_eq!(
        store
            .update_version_metadata(&src, &pkg, "1.0.0", &original.revision, other.clone())
            .await,
        Err(StoreError::Contention)
    );
    assert_eq!(
        existing_version(&*store, &src, &pkg, "1.0.0").await.version,
        updated
    );
    // A missing version, package or repository's version is contention too (it is gone).
    for (repository, version) in [(&src, "9.9.9"), (&dst, "1.0.0")] {
        assert_eq!(
            store
                .update_version_metadata(
                    repository,
                    &pkg,
                    version,
                    &updated.revision,
                    other.clone()
                )
                .await,
            Err(StoreError::Contention)
        );
    }
    assert_eq!(
        store
            .update_version_metadata(
                &repository_key(&k, "nope"),
                &pkg,
                "1.0.0",
                &updated.revision,
                other.clone()
            )
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
    // Back to the original metadata, back to the original revision; copies see the new one.
    let restored = store
        .update_version_metadata(
            &src,
            &pkg,
            "1.0.0",
            &updated.revision,
            VersionMetadata::default(),
        )
        .await
        .expect("restore metadata");
    assert_eq!(restored, original);
    let updated = store
        .update_version_metadata(&src, &pkg, "1.0.0", &restored.revision, deprecated.clone())
        .await
        .expect("update metadata");
    let copied = store
        .copy_versions(copy_request(
            &dst,
            &pkg,
            vec![copy_item(&src, &updated, None)],
        ))
        .await
        .expect("copy");
    assert_eq!(copied[0].metadata, deprecated);
    assert_eq!(copied[0].revision, updated.revision);
}

pub async fn ingest_creates_an_external_version(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, Some("types"), "node");
    let metadata = VersionMetadata {
        summary: Some("from the public registry".to_owned()),
        ..VersionMetadata::default()
    };
    let assets = vec![
        asset("package.tgz", "remote-tgz"),
        asset("extra", "remote-x"),
    ];
    let mut request = ingest_request(&src, &pkg, "20.1.0", assets.clone());
    request.metadata = metadata.clone();
    let ingested = store.ingest_version(request).await.expect("ingest");
    assert_eq!(
        ingested,
        PackageVersion {
            package: pkg.clone(),
            version: "20.1.0".to_owned(),
            status: VersionStatus::Published,
            revision: revision(&assets, &metadata),
            published: Timestamp(T0 + 5_000),
            origin: VersionOrigin {
                origin_type: OriginType::External,
                repository: None,
                external_connection: Some(CONNECTION.to_owned()),
            },
            metadata,
        }
    );
    assert_eq!(
        store.package(&src, &pkg).await.expect("read"),
        Some(Package {
            key: pkg.clone(),
            origin: OriginRestrictions::INGESTED_FIRST
        })
    );
    let stored = existing_version(&*store, &src, &pkg, "20.1.0").await;
    assert_eq!(stored.version, ingested);
    // Sorted by name.
    assert_eq!(
        stored.assets,
        vec![
            asset("extra", "remote-x"),
            asset("package.tgz", "remote-tgz")
        ]
    );
    assert_eq!(
        asset_bytes(&*store, &k).await,
        ("remote-tgz".len() + "remote-x".len()) as i64
    );
    let external = store
        .list_versions(
            &src,
            &pkg,
            &VersionFilter {
                status: None,
                origin_type: Some(OriginType::External),
            },
            VersionOrder::Version,
            None,
            10,
        )
        .await
        .expect("list");
    assert_eq!(external, vec![ingested]);

    // The package it created refuses publishing.
    let refused = store
        .publish_asset(publish_request(
            &src,
            &pkg,
            "19.0.0",
            asset("package.tgz", "local"),
            false,
        ))
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotAllowed(_))),
        "{refused:?}"
    );

    // A package published first blocks ingestion by default; opened, it ingests and keeps its
    // configuration.
    let lib = package_key(PackageFormat::Npm, None, "local-first");
    publish(
        &*store,
        &src,
        &lib,
        "1.0.0",
        asset("package.tgz", "lib"),
        false,
    )
    .await;
    let old = || ingest_request(&src, &lib, "0.9.0", vec![asset("package.tgz", "old")]);
    let refused = store.ingest_version(old()).await;
    assert!(
        matches!(refused, Err(StoreError::NotAllowed(_))),
        "{refused:?}"
    );
    let open = OriginRestrictions {
        publish: Allow::Allow,
        upstream: Allow::Allow,
    };
    store
        .put_origin_configuration(&src, &lib, open)
        .await
        .expect("put origin");
    store
        .ingest_version(old())
        .await
        .expect("ingest into an existing package");
    assert_eq!(
        store
            .package(&src, &lib)
            .await
            .expect("read")
            .expect("exists")
            .origin,
        open
    );
    // A version with no assets, and refusals.
    let bare = store
        .ingest_version(ingest_request(&src, &lib, "0.1.0", Vec::new()))
        .await
        .expect("ingest without assets");
    assert_eq!(bare.revision, revision(&[], &VersionMetadata::default()));
    assert!(
        existing_version(&*store, &src, &lib, "0.1.0")
            .await
            .assets
            .is_empty()
    );
    assert_eq!(
        store
            .ingest_version(ingest_request(
                &repository_key(&k, "nope"),
                &pkg,
                "1.0.0",
                Vec::new()
            ))
            .await,
        Err(not_found(ResourceKind::Repository, "nope"))
    );
    let twice = vec![asset("package.tgz", "one"), asset("package.tgz", "two")];
    let refused = store
        .ingest_version(ingest_request(&src, &lib, "0.2.0", twice))
        .await;
    assert!(
        matches!(refused, Err(StoreError::InvalidState(_))),
        "{refused:?}"
    );
    assert_eq!(read_version(&*store, &src, &lib, "0.2.0").await, None);
    assert_eq!(
        unreferenced(&*store, &["one", "two"]).await,
        shas(&["one", "two"])
    );
}

pub async fn ingest_is_idempotent(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, None, "twice");
    let first = store
        .ingest_version(ingest_request(
            &src,
            &pkg,
            "1.0.0",
            vec![asset("package.tgz", "first")],
        ))
        .await
        .expect("ingest");
    let bytes = asset_bytes(&*store, &k).await;
    // A second ingest (other content under the same asset name, other metadata, connection and
    // time) adds nothing and returns the stored version.
    let mut again = ingest_request(&src, &pkg, "1.0.0", vec![asset("package.tgz", "second")]);
    again.metadata.summary = Some("different".to_owned());
    again.external_connection = "public:other".to_owned();
    again.published = Timestamp(T0 + 9_000);
    assert_eq!(
        store.ingest_version(again).await.expect("ingest again"),
        first
    );
    let stored = existing_version(&*store, &src, &pkg, "1.0.0").await;
    assert_eq!(stored.version, first);
    assert_eq!(stored.assets, vec![asset("package.tgz", "first")]);
    assert_eq!(asset_bytes(&*store, &k).await, bytes);
    assert_eq!(unreferenced(&*store, &["second"]).await, shas(&["second"]));
    // Whatever its status or origin, an existing version with every asset named is returned as
    // it is.
    let archived = store
        .change_versions(
            &src,
            &pkg,
            &[change(
                &first,
                VersionAction::SetStatus(VersionStatus::Archived),
            )],
        )
        .await
        .expect("archive")
        .remove(0);
    assert_eq!(
        store
            .ingest_version(ingest_request(
                &src,
                &pkg,
                "1.0.0",
                vec![asset("package.tgz", "first")]
            ))
            .await
            .expect("ingest again"),
        archived
    );
    let open = OriginRestrictions {
        publish: Allow::Allow,
        upstream: Allow::Allow,
    };
    store
        .put_origin_configuration(&src, &pkg, open)
        .await
        .expect("put origin");
    let local = publish(
        &*store,
        &src,
        &pkg,
        "2.0.0",
        asset("package.tgz", "local"),
        true,
    )
    .await
    .version;
    assert_eq!(
        store
            .ingest_version(ingest_request(
                &src,
                &pkg,
                "2.0.0",
                vec![asset("package.tgz", "x")]
            ))
            .await
            .expect("ingest over a local version"),
        local
    );
    assert_eq!(
        version_names(&all_versions(&*store, &src, &pkg).await),
        ["1.0.0", "2.0.0"]
    );
}

pub async fn ingest_adds_missing_assets_to_an_existing_version(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Pypi, None, "fetched");
    let first = store
        .ingest_version(ingest_request(
            &src,
            &pkg,
            "1.0",
            vec![asset("a.tar.gz", "sdist")],
        ))
        .await
        .expect("ingest");
    // The next file of the version, fetched later (with other metadata, connection and time,
    // which the stored version keeps).
    let mut later = ingest_request(&src, &pkg, "1.0", vec![asset("b.whl", "wheel")]);
    later.metadata.summary = Some("different".to_owned());
    later.external_connection = "public:other".to_owned();
    later.published = Timestamp(T0 + 9_000);
    let second = store.ingest_version(later).await.expect("ingest again");
    assert_ne!(second.revision, first.revision);
    assert_eq!(
        PackageVersion {
            revision: first.revision.clone(),
            ..second.clone()
        },
        first
    );
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, second);
    assert_eq!(
        stored.assets,
        vec![asset("a.tar.gz", "sdist"), asset("b.whl", "wheel")]
    );
    assert_eq!(
        second.revision,
        reliquary_types::revision(&stored.assets, &stored.version.metadata)
    );
    assert_eq!(
        asset_bytes(&*store, &k).await,
        ("sdist".len() + "wheel".len()) as i64
    );
    assert!(unreferenced(&*store, &["sdist", "wheel"]).await.is_empty());
    // Both again: nothing to add, nothing changes.
    assert_eq!(
        store
            .ingest_version(ingest_request(
                &src,
                &pkg,
                "1.0",
                vec![asset("b.whl", "wheel"), asset("a.tar.gz", "sdist")],
            ))
            .await
            .expect("ingest both"),
        second
    );
    // A Disposed version keeps no assets: it is returned unchanged.
    let disposed = store
        .change_versions(&src, &pkg, &[change(&second, VersionAction::Dispose)])
        .await
        .expect("dispose")
        .remove(0);
    assert_eq!(
        store
            .ingest_version(ingest_request(
                &src,
                &pkg,
                "1.0",
                vec![asset("c.whl", "late")],
            ))
            .await
            .expect("ingest into a disposed version"),
        disposed
    );
    assert!(
        existing_version(&*store, &src, &pkg, "1.0")
            .await
            .assets
            .is_empty()
    );
    assert_eq!(unreferenced(&*store, &["late"]).await, shas(&["late"]));
}

pub async fn ingest_keeps_an_existing_asset_of_the_same_name(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Pypi, None, "kept");
    let first = store
        .ingest_version(ingest_request(
            &src,
            &pkg,
            "1.0",
            vec![asset("a.tar.gz", "original")],
        ))
        .await
        .expect("ingest");
    // The same name with other content: the stored asset stays, and so does the version.
    assert_eq!(
        store
            .ingest_version(ingest_request(
                &src,
                &pkg,
                "1.0",
                vec![asset("a.tar.gz", "replaced")],
            ))
            .await
            .expect("ingest again"),
        first
    );
    // Alongside a new name, only the new asset is added.
    let grown = store
        .ingest_version(ingest_request(
            &src,
            &pkg,
            "1.0",
            vec![asset("a.tar.gz", "replaced"), asset("b.whl", "wheel")],
        ))
        .await
        .expect("ingest with a new asset");
    assert_ne!(grown.revision, first.revision);
    let stored = existing_version(&*store, &src, &pkg, "1.0").await;
    assert_eq!(stored.version, grown);
    assert_eq!(
        stored.assets,
        vec![asset("a.tar.gz", "original"), asset("b.whl", "wheel")]
    );
    assert_eq!(
        asset_bytes(&*store, &k).await,
        ("original".len() + "wheel".len()) as i64
    );
    assert_eq!(
        unreferenced(&*store, &["replaced", "original"]).await,
        shas(&["replaced"])
    );
}

pub async fn ingest_blocked_upstream_is_not_allowed(store: Arc<dyn Store>) {
    let (_, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Pypi, None, "internal-only");
    let no_upstream = OriginRestrictions {
        publish: Allow::Allow,
        upstream: Allow::Block,
    };
    store
        .put_origin_configuration(&src, &pkg, no_upstream)
        .await
        .expect("put origin");
    let refused = store
        .ingest_version(ingest_request(
            &src,
            &pkg,
            "1.0",
            vec![asset("a.whl", "remote")],
        ))
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotAllowed(_))),
        "{refused:?}"
    );
    assert_eq!(read_version(&*store, &src, &pkg, "1.0").await, None);
    assert_eq!(unreferenced(&*store, &["remote"]).await, shas(&["remote"]));
    assert_eq!(
        store
            .package(&src, &pkg)
            .await
            .expect("read")
            .expect("exists")
            .origin,
        no_upstream
    );
    // Publishing is still allowed; unblocked, it ingests.
    publish(&*store, &src, &pkg, "0.9", asset("a.whl", "local"), false).await;
    store
        .put_origin_configuration(&src, &pkg, OriginRestrictions::INGESTED_FIRST)
        .await
        .expect("put origin");
    let ingested = store
        .ingest_version(ingest_request(
            &src,
            &pkg,
            "1.0",
            vec![asset("a.whl", "remote")],
        ))
        .await
        .expect("ingest");
    assert_eq!(ingested.origin.origin_type, OriginType::External);
}

pub async fn ingest_shares_asset_rows_of_the_domain(store: Arc<dyn Store>) {
    let (k, src, dst) = package_setup(&*store).await;
    let local = generic("local");
    let remote = package_key(PackageFormat::Npm, None, "remote");
    let content = "shared-bytes";
    let size = content.len() as i64;
    let published = publish(&*store, &src, &local, "1.0", asset("a.bin", content), false)
        .await
        .version;
    assert_eq!(asset_bytes(&*store, &k).await, size);
    // The same bytes under another name, package and repository: still one asset row.
    let ingested = store
        .ingest_version(ingest_request(
            &dst,
            &remote,
            "1.0.0",
            vec![asset("package.tgz", content), asset("readme", "new")],
        ))
        .await
        .expect("ingest");
    assert_eq!(asset_bytes(&*store, &k).await, size + 3);
    assert_eq!(
        existing_version(&*store, &dst, &remote, "1.0.0")
            .await
            .assets,
        vec![asset("package.tgz", content), asset("readme", "new")]
    );
    // Deleting the published version keeps the row the ingested one still references …
    store
        .change_versions(&src, &local, &[change(&published, VersionAction::Delete)])
        .await
        .expect("delete");
    assert_eq!(asset_bytes(&*store, &k).await, size + 3);
    assert!(unreferenced(&*store, &[content, "new"]).await.is_empty());
    // … and deleting the ingested one releases both.
    store
        .change_versions(&dst, &remote, &[change(&ingested, VersionAction::Delete)])
        .await
        .expect("delete");
    assert_eq!(asset_bytes(&*store, &k).await, 0);
    assert_eq!(
        unreferenced(&*store, &[content, "new"]).await,
        shas(&[content, "new"])
    );
}

pub async fn concurrent_ingests_of_one_version(store: Arc<dyn Store>) {
    let (k, src, _) = package_setup(&*store).await;
    let pkg = package_key(PackageFormat::Npm, None, "popular");
    let handles = (0..12)
        .map(|i| {
            let store = Arc::clone(&store);
            let mut request =
                ingest_request(&src, &pkg, "1.0.0", vec![asset("package.tgz", "popular")]);
            request.published = Timestamp(T0 + i);
            tokio::spawn(async move { store.ingest_version(request).await })
        })
        .collect();
    let results = join_all(handles).await;
    let stored = existing_version(&*store, &src, &pkg, "1.0.0").await;
    for result in &results {
        match result {
            Ok(version) => assert_eq!(version, &stored.version),
            Err(e) => assert_eq!(e, &StoreError::Contention),
        }
    }
    assert!(results.iter().any(Result::is_ok), "{results:?}");
    assert_eq!(stored.assets, vec![asset("package.tgz", "popular")]);
    assert_eq!(
        store
            .list_packages(&src, &PackageFilter::default(), None, 10)
            .await
            .expect("list")
            .len(),
        1
    );
    assert_eq!(asset_bytes(&*store, &k).await, "popular".len() as i64);
}
