//! The format kit's shared machinery (`reliquary_core::kit`) against a real SQLite store (in
//! memory) and an in-memory blob store: merged listings over the upstream graph, resolution with
//! retention and ingestion, the upstream BLOCK rule, the document cache and the publish
//! pre-checks. The external registry is a fake that serves documents and files from a map and
//! records every request; the format is a toy whose registry document is JSON
//! `{"versions": {"1.0.0": {"file": …, "url": …, "sha256": …}}, "dist_tags": {…}}`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use reliquary_core::kit::{
    ExternalError, ExternalRegistry, ExternalRequest, ExternalResponse, ExternalVersions, Ingest,
    Ingested, MergeSource, Merged, PublishCheck, Target,
};
use reliquary_core::{AssetDownload, BlobStore, Caller, Config, Error, Quotas, Result, Service};
use reliquary_store::{
    DomainKey, PublishAsset, RepositoryKey, VersionAction, VersionChange, VersionWithAssets,
};
use reliquary_store_sqlite::SqliteStore;
use reliquary_types::{
    AccountId, Allow, Asset, DomainName, ExternalConnection, OriginRestrictions, OriginType,
    PackageFormat, PackageKey, RepositoryName, Timestamp, VersionMetadata, VersionStatus,
};
use sha2::{Digest as _, Sha256};

/// The toy format's packages are Cargo packages, so `public:crates-io` is their connection.
const CONNECTION: ExternalConnection = ExternalConnection::CratesIo;
/// Where the fake registry lives: documents under it by path, files by absolute URL.
const REGISTRY: &str = "https://registry.test";
const JSON: &str = "application/json";
const PACKAGE: &str = "toy";

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The toy format's file of a version.
fn file_name(version: &str) -> String {
    format!("{PACKAGE}-{version}.crate")
}

fn file_url(version: &str) -> String {
    format!("{REGISTRY}/files/{}", file_name(version))
}

/// Repository names have at least two characters: the tests' `a` is `repo-a`.
fn repository_name(short: &str) -> RepositoryName {
    RepositoryName::parse(&format!("repo-{short}")).expect("repository name")
}

/// `a` for `repo-a`.
fn short_name(repository: &RepositoryKey) -> String {
    let name = repository.name.as_str();
    name.strip_prefix("repo-").unwrap_or(name).to_owned()
}

fn document_url() -> String {
    format!("{REGISTRY}/{PACKAGE}")
}

// ---- the fake external registry ---------------------------------------------------------------

/// One request the fake registry received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    /// The absolute URL asked for (a document's path joined to [`REGISTRY`]).
    url: String,
    if_none_match: Option<String>,
}

#[derive(Default)]
struct RegistryState {
    /// URL → (body, ETag).
    served: HashMap<String, (Bytes, String)>,
    /// URLs that answer as if the registry were unreachable.
    failing: HashSet<String>,
    /// Every URL answers as if the registry were unreachable.
    down: bool,
    requests: Vec<Recorded>,
}

/// Serves documents and files from a map, answers `not_modified` to a matching `If-None-Match`,
/// and records every request. No network.
#[derive(Default)]
struct FakeRegistry {
    state: Mutex<RegistryState>,
}

impl FakeRegistry {
    fn serve(&self, url: &str, body: &[u8]) {
        let etag = format!("\"{}\"", &sha256_hex(body)[..16]);
        self.lock()
            .served
            .insert(url.to_owned(), (Bytes::copy_from_slice(body), etag));
    }

    fn forget(&self, url: &str) {
        self.lock().served.remove(url);
    }

    fn fail(&self, url: &str) {
        self.lock().failing.insert(url.to_owned());
    }

    fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    fn urls(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.url).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryState> {
        self.state.lock().expect("fake registry state")
    }

    fn answer(
        &self,
        request: &ExternalRequest<'_>,
    ) -> std::result::Result<ExternalResponse, ExternalError> {
        let url = match request.target {
            Target::Path(path) => format!("{REGISTRY}/{path}"),
            Target::Url(url) => url.to_owned(),
        };
        let mut state = self.lock();
        state.requests.push(Recorded {
            url: url.clone(),
            if_none_match: request.if_none_match.map(str::to_owned),
        });
        if state.down || state.failing.contains(&url) {
            return Err(ExternalError::Unavailable(format!(
                "{url}: the fake registry is down"
            )));
        }
        let (body, etag) = state
            .served
            .get(&url)
            .cloned()
            .ok_or(ExternalError::NotFound)?;
        let not_modified = request.if_none_match == Some(etag.as_str());
        let body = if not_modified { Bytes::new() } else { body };
        Ok(ExternalResponse {
            not_modified,
            url,
            content_type: Some(JSON.to_owned()),
            etag: Some(etag),
            last_modified: None,
            body: futures::stream::iter([Ok(body)]).boxed(),
        })
    }
}

#[async_trait::async_trait]
impl ExternalRegistry for FakeRegistry {
    async fn get(
        &self,
        connection: ExternalConnection,
        request: ExternalRequest<'_>,
    ) -> std::result::Result<ExternalResponse, ExternalError> {
        assert_eq!(connection, CONNECTION, "only the toy format's connection");
        self.answer(&request)
    }
}

// ---- the toy format ---------------------------------------------------------------------------

/// What the toy format keeps of a version: where it came from and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// The repository's name, or the external connection's.
    from: String,
    files: Vec<String>,
}

/// The toy format's `MergeSource` and `Ingest`; records which repositories' versions it read.
#[derive(Default)]
struct Toy {
    visited: Mutex<Vec<String>>,
}

impl Toy {
    fn visited(&self) -> Vec<String> {
        self.visited.lock().expect("visited").clone()
    }
}

/// The registry's document of the package, through the kit's cache.
async fn toy_document(
    service: &Service,
    connection: ExternalConnection,
    key: &PackageKey,
) -> std::result::Result<Option<serde_json::Value>, String> {
    let Some(document) = service
        .external_document(connection, &key.name, JSON, 1 << 20)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&document.body)
        .map(Some)
        .map_err(|e| e.to_string())
}

#[async_trait::async_trait]
impl MergeSource for Toy {
    type Version = Seen;

    fn stored(&self, repository: &RepositoryKey, version: VersionWithAssets) -> Option<Seen> {
        let from = short_name(repository);
        {
            let mut visited = self.visited.lock().expect("visited");
            if visited.last() != Some(&from) {
                visited.push(from.clone());
            }
        }
        if !version.version.status.assets_downloadable() {
            return None;
        }
        Some(Seen {
            from,
            files: version.assets.into_iter().map(|a| a.name).collect(),
        })
    }

    async fn external(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
    ) -> std::result::Result<Option<ExternalVersions<Seen>>, String> {
        let Some(document) = toy_document(service, connection, key).await? else {
            return Ok(None);
        };
        let versions = document["versions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(version, entry)| {
                let files = entry["file"].as_str().map(str::to_owned).into_iter();
                let seen = Seen {
                    from: connection.name().to_owned(),
                    files: files.collect(),
                };
                (version.clone(), seen)
            })
            .collect();
        let dist_tags = document["dist_tags"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(tag, v)| Some((tag.clone(), v.as_str()?.to_owned())))
            .collect();
        Ok(Some(ExternalVersions {
            versions,
            dist_tags,
        }))
    }
}

#[async_trait::async_trait]
impl Ingest for Toy {
    async fn fetch(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
        asset: &str,
    ) -> Result<Option<Ingested>> {
        let Ok(Some(document)) = toy_document(service, connection, key).await else {
            return Ok(None);
        };
        let entry = &document["versions"][version];
        let (Some(file), Some(url), Some(sha256)) = (
            entry["file"].as_str(),
            entry["url"].as_str(),
            entry["sha256"].as_str(),
        ) else {
            return Ok(None);
        };
        if file != asset {
            return Ok(None);
        }
        let Some(asset) = service
            .fetch_external_file(connection, url, asset, |hashes| hashes.sha256 == sha256)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Ingested {
            assets: vec![asset],
            metadata: VersionMetadata::default(),
        }))
    }
}

// ---- the builder ------------------------------------------------------------------------------

/// A service over an in-memory SQLite store and blob store, one domain, the fake registry, and
/// helpers for the toy package `toy`.
struct TestKit {
    service: Service,
    registry: Arc<FakeRegistry>,
    blobs: BlobStore,
    caller: Caller,
    domain: DomainKey,
    package: PackageKey,
}

impl TestKit {
    /// Documents are served from the cache for an hour.
    async fn new() -> Self {
        Self::with_max_age(Duration::from_secs(3600)).await
    }

    async fn with_max_age(max_age: Duration) -> Self {
        let store = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite store");
        let blobs = BlobStore::memory();
        let registry = Arc::new(FakeRegistry::default());
        let config = Config {
            region: "us-west-2".to_owned(),
            public_url: "http://reliquary.test".to_owned(),
            quotas: Quotas::default(),
            external_document_max_age: max_age,
        };
        let service = Service::new(Arc::new(store), blobs.clone(), config)
            .await
            .expect("service")
            .with_external_registry(registry.clone());
        let caller = Caller {
            account: AccountId::parse("111122223333").expect("account"),
            access_key_id: "AKIDKITTEST".to_owned(),
        };
        let domain = service
            .create_domain(
                &caller,
                DomainName::parse("kit").expect("domain name"),
                None,
                Vec::new(),
            )
            .await
            .expect("create domain")
            .key;
        Self {
            service,
            registry,
            blobs,
            caller,
            domain,
            package: PackageKey {
                format: PackageFormat::Cargo,
                namespace: None,
                name: PACKAGE.to_owned(),
            },
        }
    }

    /// Creates the repository `repo-{name}` with these upstreams (which must exist already),
    /// named without the prefix.
    async fn repository(&self, name: &str, upstreams: &[&str]) -> RepositoryKey {
        let name = repository_name(name);
        let upstreams = upstreams.iter().map(|u| repository_name(u)).collect();
        self.service
            .create_repository(
                &self.caller,
                self.domain.name.clone(),
                None,
                name.clone(),
                None,
                upstreams,
                Vec::new(),
            )
            .await
            .expect("create repository");
        RepositoryKey {
            domain: self.domain.clone(),
            name,
        }
    }

    /// Creates a repository with upstreams and the toy format's external connection.
    async fn connected_repository(&self, name: &str, upstreams: &[&str]) -> RepositoryKey {
        let key = self.repository(name, upstreams).await;
        self.service
            .associate_external_connection(
                &self.caller,
                self.domain.name.clone(),
                None,
                &key.name,
                CONNECTION.name(),
            )
            .await
            .expect("associate the external connection");
        key
    }

    /// Publishes `bytes` as the version's file. A package created this way has the origin
    /// configuration of a first publish: publish ALLOW, upstream BLOCK.
    async fn publish(&self, repository: &RepositoryKey, version: &str, bytes: &[u8]) -> Asset {
        self.publish_file(repository, version, &file_name(version), bytes)
            .await
            .expect("publish")
    }

    async fn publish_file(
        &self,
        repository: &RepositoryKey,
        version: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<Asset> {
        let asset = self
            .service
            .store_bytes(Bytes::copy_from_slice(bytes), name)
            .await?;
        let published = self
            .service
            .publish_asset(PublishAsset {
                repository: repository.clone(),
                package: self.package.clone(),
                version: version.to_owned(),
                asset,
                unfinished: false,
                metadata: VersionMetadata::default(),
                now: Timestamp::now(),
                max_assets_per_version: Quotas::default().assets_per_version,
                append_to_published: true,
                new_version_only: false,
            })
            .await?;
        Ok(published.asset)
    }

    /// Sets the package's origin configuration in `repository` (creating the package record).
    async fn origin(&self, repository: &RepositoryKey, publish: Allow, upstream: Allow) {
        self.service
            .store()
            .put_origin_configuration(
                repository,
                &self.package,
                OriginRestrictions { publish, upstream },
            )
            .await
            .expect("put origin configuration");
    }

    /// Lets the package in `repository` read from upstreams (a publish sets upstream BLOCK).
    async fn allow_upstreams(&self, repository: &RepositoryKey) {
        self.origin(repository, Allow::Allow, Allow::Allow).await;
    }

    async fn change(&self, repository: &RepositoryKey, version: &str, action: VersionAction) {
        let found = self
            .version(repository, version)
            .await
            .expect("the version to change");
        self.service
            .store()
            .change_versions(
                repository,
                &self.package,
                &[VersionChange {
                    version: version.to_owned(),
                    expected_status: found.version.status,
                    expected_revision: found.version.revision,
                    action,
                }],
            )
            .await
            .expect("change the version");
    }

    async fn set_dist_tag(&self, repository: &RepositoryKey, tag: &str, version: &str) {
        self.service
            .store()
            .set_dist_tag(repository, &self.package, tag, version)
            .await
            .expect("set dist-tag");
    }

    async fn version(
        &self,
        repository: &RepositoryKey,
        version: &str,
    ) -> Option<VersionWithAssets> {
        self.service
            .store()
            .version(repository, &self.package, version)
            .await
            .expect("read version")
    }

    /// Committed blobs in the blob store.
    async fn blob_count(&self) -> usize {
        let blobs: Vec<_> = self.blobs.list().try_collect().await.expect("list blobs");
        blobs.len()
    }

    /// Makes the registry list `versions` (each one file, with its true SHA-256) and `dist_tags`,
    /// and serve their files.
    fn registry_offers(&self, versions: &[(&str, &[u8])], dist_tags: &[(&str, &str)]) {
        let listed: serde_json::Map<String, serde_json::Value> = versions
            .iter()
            .map(|(version, bytes)| {
                self.registry.serve(&file_url(version), bytes);
                let entry = serde_json::json!({
                    "file": file_name(version),
                    "url": file_url(version),
                    "sha256": sha256_hex(bytes),
                });
                ((*version).to_owned(), entry)
            })
            .collect();
        let tags: BTreeMap<&str, &str> = dist_tags.iter().copied().collect();
        let document = serde_json::json!({"versions": listed, "dist_tags": tags});
        self.registry
            .serve(&document_url(), document.to_string().as_bytes());
    }

    async fn listing(&self, repository: &RepositoryKey, toy: &Toy) -> Option<Merged<Seen>> {
        self.service
            .merged_listing(repository, &self.package, None, true, toy)
            .await
            .expect("merged listing")
    }

    async fn resolve(&self, repository: &RepositoryKey, version: &str) -> Result<AssetDownload> {
        self.resolve_file(repository, version, &file_name(version))
            .await
    }

    async fn resolve_file(
        &self,
        repository: &RepositoryKey,
        version: &str,
        file: &str,
    ) -> Result<AssetDownload> {
        self.service
            .resolve_asset(repository, &self.package, version, file, &Toy::default())
            .await
    }

    async fn document(&self) -> std::result::Result<Option<Bytes>, ExternalError> {
        self.service
            .external_document(CONNECTION, PACKAGE, JSON, 1 << 20)
            .await
            .map(|d| d.map(|d| d.body))
    }
}

async fn bytes_of(download: AssetDownload) -> Vec<u8> {
    download
        .body
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .expect("read the download")
}

/// The error of a resolution that must fail.
fn refusal(resolved: Result<AssetDownload>) -> Error {
    match resolved {
        Ok(download) => panic!("expected an error, got {:?}", download.version),
        Err(e) => e,
    }
}

fn sources(merged: &Merged<Seen>) -> Vec<(&str, &str)> {
    merged
        .versions
        .iter()
        .map(|(version, seen)| (version.as_str(), seen.from.as_str()))
        .collect()
}

fn names(stops: &[RepositoryKey]) -> Vec<String> {
    stops.iter().map(short_name).collect()
}

// ---- merging ----------------------------------------------------------------------------------

#[tokio::test]
async fn the_search_order_is_the_repository_then_its_upstreams_depth_first_in_list_order() {
    let kit = TestKit::new().await;
    kit.repository("d", &[]).await;
    kit.repository("b", &["d"]).await;
    kit.connected_repository("c", &[]).await;
    let a = kit.repository("a", &["b", "c"]).await;

    let order = kit
        .service
        .search_order(&a, &kit.package)
        .await
        .expect("search order");
    let repositories: Vec<RepositoryKey> = order.iter().map(|s| s.repository.clone()).collect();
    assert_eq!(names(&repositories), ["a", "b", "d", "c"]);
    let connections: Vec<_> = order.iter().map(|s| s.connection).collect();
    assert_eq!(connections, [None, None, None, Some(CONNECTION)]);

    // A connection of another format is no connection for this package.
    let npm = PackageKey {
        format: PackageFormat::Npm,
        namespace: None,
        name: PACKAGE.to_owned(),
    };
    let order = kit
        .service
        .search_order(&a, &npm)
        .await
        .expect("search order");
    assert!(order.iter().all(|s| s.connection.is_none()));
}

#[tokio::test]
async fn a_merged_listing_takes_each_version_from_the_first_repository_of_the_search_order() {
    let kit = TestKit::new().await;
    let d = kit.repository("d", &[]).await;
    let b = kit.repository("b", &["d"]).await;
    let c = kit.repository("c", &[]).await;
    let a = kit.repository("a", &["b", "c"]).await;
    kit.publish(&a, "1.0.0", b"a 1").await;
    kit.allow_upstreams(&a).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    kit.publish(&b, "2.0.0", b"b 2").await;
    kit.publish(&d, "2.0.0", b"d 2").await;
    kit.publish(&d, "3.0.0", b"d 3").await;
    kit.publish(&c, "3.0.0", b"c 3").await;
    kit.publish(&c, "4.0.0", b"c 4").await;

    let toy = Toy::default();
    let merged = kit.listing(&a, &toy).await.expect("a listing");
    assert_eq!(toy.visited(), ["a", "b", "d", "c"]);
    assert_eq!(
        sources(&merged),
        [
            ("1.0.0", "a"),
            ("2.0.0", "b"),
            ("3.0.0", "d"),
            ("4.0.0", "c")
        ]
    );
    assert_eq!(merged.versions["1.0.0"].files, [file_name("1.0.0")]);
    let own = merged.own.expect("a's own package record");
    assert_eq!(own.origin.upstream, Allow::Allow);
}

#[tokio::test]
async fn external_versions_follow_the_stored_ones_of_the_repository_owning_the_connection() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    // b's package takes from its connection (a publish alone would block that).
    kit.allow_upstreams(&b).await;
    kit.registry_offers(&[("1.0.0", b"registry 1"), ("2.0.0", b"registry 2")], &[]);

    let merged = kit.listing(&a, &Toy::default()).await.expect("listing");
    assert_eq!(
        sources(&merged),
        [("1.0.0", "b"), ("2.0.0", CONNECTION.name())]
    );
    assert!(merged.own.is_none(), "a has no record of the package");
    // Listing fetches the document, never a file.
    assert_eq!(kit.registry.urls(), [document_url()]);
}

#[tokio::test]
async fn dist_tags_merge_with_the_upstream_winning() {
    let kit = TestKit::new().await;
    let b = kit.repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&a, "1.0.0", b"a 1").await;
    kit.allow_upstreams(&a).await;
    kit.set_dist_tag(&a, "latest", "1.0.0").await;
    kit.set_dist_tag(&a, "beta", "1.0.0").await;
    kit.publish(&b, "2.0.0", b"b 2").await;
    kit.set_dist_tag(&b, "latest", "2.0.0").await;

    let merged = kit.listing(&a, &Toy::default()).await.expect("listing");
    let tags: Vec<(&str, &str)> = merged
        .dist_tags
        .iter()
        .map(|(t, v)| (t.as_str(), v.as_str()))
        .collect();
    assert_eq!(tags, [("beta", "1.0.0"), ("latest", "2.0.0")]);
}

#[tokio::test]
async fn a_package_no_repository_or_registry_knows_is_none() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    // Another package exists, and the registry answers 404 for this one.
    let other = PackageKey {
        name: "other".to_owned(),
        ..kit.package.clone()
    };
    let asset = kit
        .service
        .store_bytes(Bytes::from_static(b"x"), "x")
        .await
        .expect("bytes");
    kit.service
        .publish_asset(PublishAsset {
            repository: b.clone(),
            package: other,
            version: "1.0.0".to_owned(),
            asset,
            unfinished: false,
            metadata: VersionMetadata::default(),
            now: Timestamp::now(),
            max_assets_per_version: 10,
            append_to_published: false,
            new_version_only: false,
        })
        .await
        .expect("publish another package");

    assert!(kit.listing(&a, &Toy::default()).await.is_none());
    assert_eq!(kit.registry.urls(), [document_url()]);
}

#[tokio::test]
async fn a_merged_listing_goes_on_without_a_registry_that_is_unavailable() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    kit.allow_upstreams(&b).await;
    kit.registry.set_down(true);

    let merged = kit.listing(&a, &Toy::default()).await.expect("listing");
    assert_eq!(sources(&merged), [("1.0.0", "b")]);
    assert_eq!(kit.registry.urls(), [document_url()]);
}

// ---- resolution and retention -----------------------------------------------------------------

#[tokio::test]
async fn an_own_asset_is_served_without_retention_or_requests() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    kit.publish(&a, "1.0.0", b"a 1").await;
    kit.allow_upstreams(&a).await;
    let before = kit.version(&a, "1.0.0").await.expect("a's version");

    let download = kit.resolve(&a, "1.0.0").await.expect("resolve");
    assert_eq!(download.version, before.version);
    assert_eq!(bytes_of(download).await, b"a 1");
    assert_eq!(kit.version(&a, "1.0.0").await, Some(before));
    assert!(kit.registry.requests().is_empty());
}

#[tokio::test]
async fn an_upstream_asset_is_retained_in_the_requested_repository_only_with_no_bytes_copied() {
    let kit = TestKit::new().await;
    let c = kit.repository("c", &[]).await;
    let b = kit.repository("b", &["c"]).await;
    let a = kit.repository("a", &["b"]).await;
    let published = kit.publish(&c, "1.0.0", b"c 1").await;
    let source = kit.version(&c, "1.0.0").await.expect("c's version");
    assert_eq!(kit.blob_count().await, 1);

    let download = kit.resolve(&a, "1.0.0").await.expect("resolve");
    assert_eq!(download.asset, published);
    assert_eq!(bytes_of(download).await, b"c 1");

    let retained = kit.version(&a, "1.0.0").await.expect("retained in a");
    assert_eq!(retained.assets, source.assets);
    assert_eq!(retained.version.revision, source.version.revision);
    assert_eq!(retained.version.status, VersionStatus::Published);
    assert_eq!(retained.version.origin.origin_type, OriginType::Internal);
    assert_eq!(
        retained.version.origin.repository.as_deref(),
        Some("repo-c")
    );
    let package = kit
        .service
        .store()
        .package(&a, &kit.package)
        .await
        .expect("read package")
        .expect("a's package record");
    assert_eq!(package.origin, OriginRestrictions::INGESTED_FIRST);
    assert!(kit.version(&b, "1.0.0").await.is_none(), "not in b");
    assert_eq!(kit.blob_count().await, 1, "no bytes copied");

    // Now a serves its own copy, even once the upstream has lost it.
    kit.change(&c, "1.0.0", VersionAction::Delete).await;
    let download = kit.resolve(&a, "1.0.0").await.expect("resolve again");
    assert_eq!(bytes_of(download).await, b"c 1");
}

#[tokio::test]
async fn archived_and_disposed_upstream_versions_are_skipped() {
    let kit = TestKit::new().await;
    let b = kit.repository("b", &[]).await;
    let c = kit.repository("c", &[]).await;
    let d = kit.repository("d", &[]).await;
    let a = kit.repository("a", &["b", "c", "d"]).await;
    let only_skipped = kit.repository("e", &["b", "c"]).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    kit.change(
        &b,
        "1.0.0",
        VersionAction::SetStatus(VersionStatus::Archived),
    )
    .await;
    kit.publish(&c, "1.0.0", b"c 1").await;
    kit.change(&c, "1.0.0", VersionAction::Dispose).await;
    kit.publish(&d, "1.0.0", b"d 1").await;

    let download = kit.resolve(&a, "1.0.0").await.expect("resolve");
    assert_eq!(bytes_of(download).await, b"d 1");
    let retained = kit.version(&a, "1.0.0").await.expect("retained in a");
    assert_eq!(
        retained.version.origin.repository.as_deref(),
        Some("repo-d")
    );

    let refused = refusal(kit.resolve(&only_skipped, "1.0.0").await);
    assert!(matches!(refused, Error::NotFound { .. }), "{refused:?}");
    assert!(kit.version(&only_skipped, "1.0.0").await.is_none());
}

#[tokio::test]
async fn a_version_here_without_the_asked_file_is_served_from_upstream_without_retaining_it_again()
{
    let kit = TestKit::new().await;
    let b = kit.repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&a, "1.0.0", b"a 1").await;
    kit.allow_upstreams(&a).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    kit.publish_file(&b, "1.0.0", "toy-1.0.0.sig", b"b signature")
        .await
        .expect("publish a second file");
    let before = kit.version(&a, "1.0.0").await.expect("a's version");
    let upstream = kit.version(&b, "1.0.0").await.expect("b's version");

    let download = kit
        .resolve_file(&a, "1.0.0", "toy-1.0.0.sig")
        .await
        .expect("resolve");
    assert_eq!(download.version, upstream.version, "served as b's version");
    assert_eq!(bytes_of(download).await, b"b signature");
    assert_eq!(kit.version(&a, "1.0.0").await, Some(before), "a unchanged");
}

#[tokio::test]
async fn a_retained_copy_without_the_asked_file_is_retained_again_when_the_upstream_holds_it_all() {
    let kit = TestKit::new().await;
    let b = kit.repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish_file(&b, "1.0.0", "toy-1.0.0.pom", b"b pom")
        .await
        .expect("publish the first file");
    // The first file retains b's version in a.
    kit.resolve_file(&a, "1.0.0", "toy-1.0.0.pom")
        .await
        .expect("resolve the first file");
    let retained = kit.version(&a, "1.0.0").await.expect("retained in a");
    assert_eq!(retained.assets.len(), 1);
    // b's version gains a file (Maven: the jar after the POM); asked through a, it is served and
    // a's copy now holds both files.
    kit.publish_file(&b, "1.0.0", "toy-1.0.0.jar", b"b jar")
        .await
        .expect("publish a second file");
    let download = kit
        .resolve_file(&a, "1.0.0", "toy-1.0.0.jar")
        .await
        .expect("resolve the second file");
    assert_eq!(bytes_of(download).await, b"b jar");
    let refreshed = kit.version(&a, "1.0.0").await.expect("still in a");
    let names: Vec<&str> = refreshed.assets.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["toy-1.0.0.jar", "toy-1.0.0.pom"]);
    assert_ne!(refreshed.version.revision, retained.version.revision);
}

#[tokio::test]
async fn a_retained_copy_whose_metadata_was_edited_here_is_not_replaced() {
    let kit = TestKit::new().await;
    let b = kit.repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish_file(&b, "1.0.0", "toy-1.0.0.pom", b"b pom")
        .await
        .expect("publish the first file");
    kit.resolve_file(&a, "1.0.0", "toy-1.0.0.pom")
        .await
        .expect("resolve the first file");
    let retained = kit.version(&a, "1.0.0").await.expect("retained in a");
    let edited = VersionMetadata {
        summary: Some("deprecated here".to_owned()),
        ..retained.version.metadata.clone()
    };
    kit.service
        .store()
        .update_version_metadata(
            &a,
            &kit.package,
            "1.0.0",
            &retained.version.revision,
            edited,
        )
        .await
        .expect("edit a's copy");
    let before = kit.version(&a, "1.0.0").await.expect("edited");
    kit.publish_file(&b, "1.0.0", "toy-1.0.0.jar", b"b jar")
        .await
        .expect("publish a second file");
    let download = kit
        .resolve_file(&a, "1.0.0", "toy-1.0.0.jar")
        .await
        .expect("served from b");
    assert_eq!(bytes_of(download).await, b"b jar");
    assert_eq!(
        kit.version(&a, "1.0.0").await,
        Some(before),
        "a's edited copy kept"
    );
}

// ---- ingestion --------------------------------------------------------------------------------

#[tokio::test]
async fn a_fetched_file_is_ingested_where_the_connection_is_and_retained_where_it_was_asked() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);

    let download = kit.resolve(&a, "1.0.0").await.expect("resolve");
    assert_eq!(download.asset.hashes.sha256, sha256_hex(b"registry 1"));
    assert_eq!(bytes_of(download).await, b"registry 1");
    assert_eq!(kit.registry.urls(), [document_url(), file_url("1.0.0")]);

    let ingested = kit.version(&b, "1.0.0").await.expect("ingested into b");
    assert_eq!(ingested.version.origin.origin_type, OriginType::External);
    assert_eq!(
        ingested.version.origin.external_connection.as_deref(),
        Some(CONNECTION.name())
    );
    let retained = kit.version(&a, "1.0.0").await.expect("retained in a");
    assert_eq!(retained.version.origin, ingested.version.origin);
    assert_eq!(retained.assets, ingested.assets);
    assert_eq!(kit.blob_count().await, 1);
    for repository in [&a, &b] {
        let package = kit
            .service
            .store()
            .package(repository, &kit.package)
            .await
            .expect("read package")
            .expect("package record");
        assert_eq!(package.origin, OriginRestrictions::INGESTED_FIRST);
    }

    // Served from a's copy from now on, even with the registry down: no further request.
    kit.registry.set_down(true);
    let download = kit.resolve(&a, "1.0.0").await.expect("resolve again");
    assert_eq!(bytes_of(download).await, b"registry 1");
    assert_eq!(kit.registry.requests().len(), 2);
}

#[tokio::test]
async fn a_file_fetched_for_the_repository_owning_the_connection_is_ingested_there() {
    let kit = TestKit::new().await;
    let a = kit.connected_repository("a", &[]).await;
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);

    let download = kit.resolve(&a, "1.0.0").await.expect("resolve");
    assert_eq!(bytes_of(download).await, b"registry 1");
    let ingested = kit.version(&a, "1.0.0").await.expect("ingested into a");
    assert_eq!(ingested.version.origin.origin_type, OriginType::External);
}

#[tokio::test]
async fn a_digest_mismatch_is_a_conflict_and_leaves_no_version_and_no_blob() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.registry.serve(&file_url("1.0.0"), b"tampered");
    let document = serde_json::json!({"versions": {"1.0.0": {
        "file": file_name("1.0.0"),
        "url": file_url("1.0.0"),
        "sha256": sha256_hex(b"what the index promised"),
    }}});
    kit.registry
        .serve(&document_url(), document.to_string().as_bytes());

    let refused = refusal(kit.resolve(&a, "1.0.0").await);
    assert!(matches!(refused, Error::Conflict { .. }), "{refused:?}");
    assert!(kit.version(&a, "1.0.0").await.is_none());
    assert!(kit.version(&b, "1.0.0").await.is_none());
    assert_eq!(kit.blob_count().await, 0, "nothing committed");
    let left_staged = kit
        .blobs
        .sweep_staging(Duration::ZERO)
        .await
        .expect("sweep staging");
    assert_eq!(left_staged, 0, "the staged bytes were discarded");
}

#[tokio::test]
async fn an_unavailable_registry_is_not_found_rather_than_an_error() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;

    // Entirely down: the document cannot be read.
    kit.registry.set_down(true);
    let refused = refusal(kit.resolve(&a, "1.0.0").await);
    assert!(matches!(refused, Error::NotFound { .. }), "{refused:?}");

    // The document is read, but its file cannot be fetched.
    kit.registry.set_down(false);
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);
    kit.registry.fail(&file_url("1.0.0"));
    let refused = refusal(kit.resolve(&a, "1.0.0").await);
    assert!(matches!(refused, Error::NotFound { .. }), "{refused:?}");
    assert_eq!(
        kit.registry.urls(),
        [document_url(), document_url(), file_url("1.0.0")]
    );
    assert!(kit.version(&a, "1.0.0").await.is_none());
    assert!(kit.version(&b, "1.0.0").await.is_none());
    assert_eq!(kit.blob_count().await, 0);
}

// ---- upstream BLOCK ---------------------------------------------------------------------------

#[tokio::test]
async fn upstream_block_lists_only_own_versions_and_serves_and_fetches_nothing_else() {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.connected_repository("a", &["b"]).await;
    kit.publish(&a, "1.0.0", b"a 1").await;
    kit.origin(&a, Allow::Allow, Allow::Block).await;
    kit.publish(&b, "2.0.0", b"b 2").await;
    kit.registry_offers(&[("3.0.0", b"registry 3")], &[("latest", "3.0.0")]);

    let toy = Toy::default();
    let merged = kit.listing(&a, &toy).await.expect("listing");
    assert_eq!(sources(&merged), [("1.0.0", "a")]);
    assert!(merged.dist_tags.is_empty());
    assert_eq!(toy.visited(), ["a"]);

    for version in ["2.0.0", "3.0.0"] {
        let refused = refusal(kit.resolve(&a, version).await);
        assert!(
            matches!(refused, Error::NotFound { .. }),
            "{version}: {refused:?}"
        );
        assert!(kit.version(&a, version).await.is_none(), "{version}");
    }
    let own = kit.resolve(&a, "1.0.0").await.expect("own version");
    assert_eq!(bytes_of(own).await, b"a 1");

    assert!(
        kit.registry.requests().is_empty(),
        "nothing fetched, not even a document"
    );
    assert!(kit.version(&b, "3.0.0").await.is_none());
}

#[tokio::test]
async fn an_upstream_whose_package_blocks_upstreams_neither_lists_nor_fetches_through_its_connection()
 {
    let kit = TestKit::new().await;
    let b = kit.connected_repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    kit.origin(&b, Allow::Allow, Allow::Block).await;
    kit.registry_offers(&[("2.0.0", b"registry 2")], &[("latest", "2.0.0")]);

    // The store refuses to ingest into b's package, so its registry's versions are not offered.
    let merged = kit.listing(&a, &Toy::default()).await.expect("listing");
    assert_eq!(sources(&merged), [("1.0.0", "b")]);
    assert!(merged.dist_tags.is_empty());
    let refused = refusal(kit.resolve(&a, "2.0.0").await);
    assert!(matches!(refused, Error::NotFound { .. }), "{refused:?}");
    let fetched = kit.registry.urls();
    assert!(fetched.is_empty(), "nothing fetched: {fetched:?}");
    assert_eq!(kit.blob_count().await, 1, "no blob committed for nothing");
}

// ---- the document cache -----------------------------------------------------------------------

#[tokio::test]
async fn a_second_document_read_within_the_max_age_makes_no_request() {
    let kit = TestKit::new().await;
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);

    let first = kit.document().await.expect("first read").expect("document");
    let second = kit
        .document()
        .await
        .expect("second read")
        .expect("document");
    assert_eq!(first, second);
    assert_eq!(kit.registry.urls(), [document_url()]);
}

#[tokio::test]
async fn after_the_max_age_a_document_is_revalidated_with_if_none_match() {
    let max_age = Duration::from_millis(20);
    let kit = TestKit::with_max_age(max_age).await;
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);

    let first = kit.document().await.expect("first read").expect("document");
    tokio::time::sleep(max_age + Duration::from_millis(5)).await;
    let second = kit
        .document()
        .await
        .expect("second read")
        .expect("document");
    assert_eq!(first, second);

    let requests = kit.registry.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].if_none_match, None);
    let etag = format!("\"{}\"", &sha256_hex(&first)[..16]);
    assert_eq!(requests[1].if_none_match, Some(etag), "revalidated");
}

#[tokio::test]
async fn a_cached_document_is_served_while_the_registry_is_unavailable() {
    let max_age = Duration::from_millis(20);
    let kit = TestKit::with_max_age(max_age).await;
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);

    let first = kit.document().await.expect("first read").expect("document");
    kit.registry.set_down(true);
    tokio::time::sleep(max_age + Duration::from_millis(5)).await;
    let second = kit
        .document()
        .await
        .expect("read while down")
        .expect("document");
    assert_eq!(first, second);
    assert_eq!(kit.registry.requests().len(), 2, "the registry was asked");

    // What was never cached is an error while the registry is down.
    let other = kit
        .service
        .external_document(CONNECTION, "other", JSON, 1 << 20)
        .await;
    assert!(
        matches!(other, Err(ExternalError::Unavailable(_))),
        "{other:?}"
    );
}

#[tokio::test]
async fn a_document_the_registry_no_longer_has_is_forgotten() {
    let max_age = Duration::from_millis(20);
    let kit = TestKit::with_max_age(max_age).await;
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);
    kit.document().await.expect("first read").expect("document");

    kit.registry.forget(&document_url());
    tokio::time::sleep(max_age + Duration::from_millis(5)).await;
    assert_eq!(kit.document().await.expect("second read"), None);
    // Not served from the cache later, even with the registry down.
    kit.registry.set_down(true);
    assert!(kit.document().await.is_err());
}

#[tokio::test]
async fn a_document_is_parsed_once_per_fetched_copy() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let max_age = Duration::from_millis(20);
    let kit = TestKit::with_max_age(max_age).await;
    kit.registry_offers(&[("1.0.0", b"registry 1")], &[]);
    let parses = Arc::new(AtomicUsize::new(0));
    let parsed = || {
        let parses = Arc::clone(&parses);
        kit.service
            .external_parsed(CONNECTION, PACKAGE, JSON, 1 << 20, move |d| {
                parses.fetch_add(1, Ordering::SeqCst);
                Ok(d.body.len())
            })
    };

    let first = parsed().await.expect("read").expect("document");
    let second = parsed().await.expect("read").expect("document");
    assert!(Arc::ptr_eq(&first, &second), "one parse shared");
    // Revalidated and unchanged (304): still the same parse.
    tokio::time::sleep(max_age + Duration::from_millis(5)).await;
    parsed().await.expect("read").expect("document");
    assert_eq!(parses.load(Ordering::SeqCst), 1);
    // A new copy of the document is parsed again.
    kit.registry_offers(&[("1.0.0", b"registry 1"), ("2.0.0", b"registry 2")], &[]);
    tokio::time::sleep(max_age + Duration::from_millis(5)).await;
    let changed = parsed().await.expect("read").expect("document");
    assert_eq!(parses.load(Ordering::SeqCst), 2);
    assert_ne!(*changed, *first);
}

// ---- publish pre-checks -----------------------------------------------------------------------

#[tokio::test]
async fn publishing_under_publish_block_is_access_denied() {
    let kit = TestKit::new().await;
    let a = kit.repository("a", &[]).await;
    kit.origin(&a, Allow::Block, Allow::Allow).await;

    let refused = kit.service.check_publish(&a, &kit.package, "1.0.0").await;
    let Err(Error::AccessDenied { message }) = refused else {
        panic!("expected AccessDenied, got {refused:?}");
    };
    assert!(message.contains("Publishing is blocked"), "{message}");

    // The store's refusal of the publish itself reads the same.
    let refused = kit
        .publish_file(&a, "1.0.0", &file_name("1.0.0"), b"a 1")
        .await;
    let Err(Error::AccessDenied { message }) = refused else {
        panic!("expected AccessDenied, got {refused:?}");
    };
    assert!(message.contains("Publishing is blocked"), "{message}");
    assert!(kit.version(&a, "1.0.0").await.is_none());
}

#[tokio::test]
async fn publishing_a_version_an_upstream_has_is_a_conflict_while_upstreams_are_allowed() {
    let kit = TestKit::new().await;
    let c = kit.repository("c", &[]).await;
    kit.repository("b", &["c"]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&c, "1.0.0", b"c 1").await;
    kit.allow_upstreams(&a).await;

    let refused = kit.service.check_publish(&a, &kit.package, "1.0.0").await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "{refused:?}"
    );
    // A version no upstream has is fine.
    let check = kit
        .service
        .check_publish(&a, &kit.package, "2.0.0")
        .await
        .expect("check 2.0.0");
    assert_eq!(check, PublishCheck { exists: false });
}

#[tokio::test]
async fn with_upstream_block_a_version_an_upstream_has_may_be_published() {
    let kit = TestKit::new().await;
    let b = kit.repository("b", &[]).await;
    let a = kit.repository("a", &["b"]).await;
    kit.publish(&b, "1.0.0", b"b 1").await;
    kit.origin(&a, Allow::Allow, Allow::Block).await;

    let check = kit
        .service
        .check_publish(&a, &kit.package, "1.0.0")
        .await
        .expect("check");
    assert_eq!(check, PublishCheck { exists: false });
    kit.publish(&a, "1.0.0", b"a 1").await;
    let check = kit
        .service
        .check_publish(&a, &kit.package, "1.0.0")
        .await
        .expect("check again");
    assert_eq!(check, PublishCheck { exists: true });
    let own = kit.version(&a, "1.0.0").await.expect("a's version");
    assert_eq!(own.version.origin.repository.as_deref(), Some("repo-a"));
}

#[tokio::test]
async fn publishing_different_bytes_under_an_existing_file_name_is_a_conflict() {
    let kit = TestKit::new().await;
    let a = kit.repository("a", &[]).await;
    kit.publish(&a, "1.0.0", b"a 1").await;

    // The same bytes again are accepted.
    kit.publish(&a, "1.0.0", b"a 1").await;
    let refused = kit
        .publish_file(&a, "1.0.0", &file_name("1.0.0"), b"other bytes")
        .await;
    assert!(
        matches!(refused, Err(Error::Conflict { .. })),
        "{refused:?}"
    );
}
