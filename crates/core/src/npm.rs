//! The npm registry surface's rules (`spec/digest.md` §4.3–4.5): publishing, packuments merged
//! across the upstream graph, tarball downloads with retention from upstreams and ingestion
//! through the `public:npmjs` external connection, dist-tags, deprecate and unpublish.
//! Parsing and rendering of npm documents live in `reliquary_formats::npm`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use reliquary_formats::npm::{self as format, PackumentVersion, PublishDocument};
use reliquary_store::{
    CopyItem, CopyVersions, IngestVersion, PackageVersion, PublishAsset, RepositoryKey,
    ResourceKind, StoreError, VersionFilter, VersionOrder, VersionWithAssets,
};
use reliquary_types::{
    Allow, Asset, ExternalConnection, OriginRestrictions, PackageFormat, PackageKey, Timestamp,
    VersionStatus,
};

use crate::packages::AssetDownload;
use crate::service::{Caller, Service};
use crate::{Error, Result};

/// npm versions have exactly one asset, under this name.
pub const NPM_ASSET: &str = "package.tgz";
/// Largest tarball accepted from a publish body or an external registry.
const MAX_TARBALL_BYTES: u64 = 256 * 1024 * 1024;

/// What the external registry client returns.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("not found")]
    NotFound,
    #[error("external registry unavailable: {0}")]
    Unavailable(String),
}

/// Fetches from public registries (the external connections). Implemented over HTTP by the
/// `http` crate; core only decides when to ask.
#[async_trait::async_trait]
pub trait ExternalRegistry: Send + Sync {
    /// The packument of `full_name` from the registry behind `connection`.
    async fn npm_packument(
        &self,
        connection: ExternalConnection,
        full_name: &str,
    ) -> std::result::Result<serde_json::Value, ExternalError>;
    /// A PyPI project page (PEP 691 JSON preferred) from the simple index behind `connection`:
    /// the body, its content type and its URL (to resolve relative links).
    async fn pypi_project_page(
        &self,
        connection: ExternalConnection,
        project: &str,
    ) -> std::result::Result<(Bytes, String, String), ExternalError>;
    /// A file (npm tarball, PyPI distribution) named by an absolute URL of that registry.
    async fn fetch(
        &self,
        connection: ExternalConnection,
        url: &str,
        max_bytes: u64,
    ) -> std::result::Result<Bytes, ExternalError>;
}

/// Which packument document to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packument {
    /// The whole document (`application/json`).
    Full,
    /// What `npm install` asks for (`application/vnd.npm.install-v1+json`).
    Abbreviated,
}

fn npm_not_found(full_name: &str) -> Error {
    Error::not_found(
        ResourceKind::Package,
        full_name,
        format!("{full_name} is not in this registry"),
    )
}

fn npm_key(scope: Option<&str>, name: &str) -> PackageKey {
    PackageKey {
        format: PackageFormat::Npm,
        namespace: scope.map(str::to_owned),
        name: name.to_owned(),
    }
}

/// One version visible to npm, from whichever repository of the graph holds it.
struct Visible {
    version: String,
    manifest: Option<serde_json::Value>,
    metadata: reliquary_types::VersionMetadata,
    published: Timestamp,
}

impl Service {
    fn tarball_url(
        &self,
        repository: &RepositoryKey,
        full_name: &str,
        name: &str,
        version: &str,
    ) -> String {
        format!(
            "{}/npm/d/{}-{}/{}/{full_name}/-/{}",
            self.config().public_url,
            repository.domain.name,
            repository.domain.owner,
            repository.name,
            format::tarball_filename(name, version)
        )
    }

    async fn npm_search_order(
        &self,
        repository: &RepositoryKey,
    ) -> Result<Vec<(RepositoryKey, Option<ExternalConnection>)>> {
        self.search_with_connections(repository, ExternalConnection::Npmjs)
            .await
    }

    /// The packument of a package as the requested repository sees it: its own Published
    /// versions, then those of each upstream (and external connection) not seen yet; dist-tags
    /// merged with the upstream winning a conflict.
    ///
    /// # Errors
    /// `NotFound` when no repository of the graph knows the package.
    pub async fn npm_packument(
        &self,
        repository: &RepositoryKey,
        scope: Option<&str>,
        name: &str,
        shape: Packument,
    ) -> Result<serde_json::Value> {
        let key = npm_key(scope, name);
        let full_name = format::full_name(scope, name);
        let mut versions: BTreeMap<String, Visible> = BTreeMap::new();
        let mut tags: BTreeMap<String, String> = BTreeMap::new();
        let mut found = false;
        for stop in self
            .graph_listings(
                repository,
                &key,
                ExternalConnection::Npmjs,
                Some(VersionStatus::Published),
                false,
            )
            .await?
        {
            if let Some(listing) = stop.listing {
                found = true;
                for VersionWithAssets { version: v, .. } in listing.versions {
                    versions.entry(v.version.clone()).or_insert_with(|| {
                        let mut metadata = v.metadata;
                        Visible {
                            version: v.version,
                            manifest: metadata.extra.take(),
                            metadata,
                            published: v.published,
                        }
                    });
                }
                tags.extend(listing.dist_tags);
            }
            if let Some(connection) = stop.connection {
                match self.externals().npm_packument(connection, &full_name).await {
                    Ok(remote) => {
                        found = true;
                        merge_remote(&remote, &full_name, &mut versions, &mut tags);
                    }
                    Err(ExternalError::NotFound) => {}
                    Err(ExternalError::Unavailable(detail)) => {
                        tracing::warn!(error.detail = %detail, package = %full_name, "external registry unavailable");
                    }
                }
            }
        }
        if !found {
            return Err(npm_not_found(&full_name));
        }
        tags.retain(|_, v| versions.contains_key(v));
        if !tags.contains_key("latest")
            && let Some(newest) = versions.values().max_by_key(|v| v.published)
        {
            tags.insert("latest".to_owned(), newest.version.clone());
        }
        let rendered: Vec<(String, &Visible)> = versions
            .values()
            .map(|v| {
                (
                    self.tarball_url(repository, &full_name, name, &v.version),
                    v,
                )
            })
            .collect();
        let listing: Vec<PackumentVersion<'_>> = rendered
            .iter()
            .map(|(url, v)| {
                let dist = v.manifest.as_ref().and_then(|m| m.get("dist"));
                PackumentVersion {
                    version: &v.version,
                    manifest: v.manifest.as_ref(),
                    metadata: &v.metadata,
                    tarball_url: url.clone(),
                    shasum: dist
                        .and_then(|d| d.get("shasum"))
                        .and_then(|s| s.as_str())
                        .unwrap_or(""),
                    integrity: dist
                        .and_then(|d| d.get("integrity"))
                        .and_then(|s| s.as_str())
                        .unwrap_or("")
                        .to_owned(),
                    published: Some(iso8601(v.published)),
                }
            })
            .collect();
        Ok(match shape {
            Packument::Full => format::packument(&full_name, &listing, &tags),
            Packument::Abbreviated => format::abbreviated_packument(&full_name, &listing, &tags),
        })
    }

    /// A tarball: from the requested repository, else from the first upstream that has it (then
    /// retained in the requested repository), else through an external connection (then stored
    /// in the repository owning the connection and retained in the requested one).
    ///
    /// # Errors
    /// `NotFound` when nothing in the graph has a downloadable version.
    pub async fn npm_tarball(
        &self,
        repository: &RepositoryKey,
        scope: Option<&str>,
        name: &str,
        version: &str,
    ) -> Result<AssetDownload> {
        let key = npm_key(scope, name);
        let full_name = format::full_name(scope, name);
        let missing = || npm_not_found(&format!("{full_name}@{version}"));
        if let Some(found) = self.store().version(repository, &key, version).await? {
            if !found.version.status.assets_downloadable() {
                return Err(missing());
            }
            return self.download(found.version, found.assets, NPM_ASSET).await;
        }
        let own = self.store().package(repository, &key).await?;
        if own
            .as_ref()
            .is_some_and(|p| p.origin.upstream == Allow::Block)
        {
            return Err(missing());
        }
        let search = self.npm_search_order(repository).await?;
        let own_connection = search.first().and_then(|(_, connection)| *connection);
        for (repo, connection) in search.into_iter().skip(1) {
            if let Some(found) = self.store().version(&repo, &key, version).await? {
                if !found.version.status.assets_downloadable() {
                    continue;
                }
                let retained = self.retain(repository, &repo, &key, &found.version).await?;
                return self.download(retained, found.assets, NPM_ASSET).await;
            }
            if let Some(connection) = connection
                && let Some(ingested) = self.ingest_npm(&repo, connection, &key, version).await?
            {
                let assets = self
                    .store()
                    .version(&repo, &key, version)
                    .await?
                    .map(|v| v.assets)
                    .unwrap_or_default();
                let served = if repo == *repository {
                    ingested
                } else {
                    self.retain(repository, &repo, &key, &ingested).await?
                };
                return self.download(served, assets, NPM_ASSET).await;
            }
        }
        // The requested repository itself may own the external connection.
        if let Some(connection) = own_connection
            && let Some(ingested) = self
                .ingest_npm(repository, connection, &key, version)
                .await?
        {
            let assets = self
                .store()
                .version(repository, &key, version)
                .await?
                .map(|v| v.assets)
                .unwrap_or_default();
            return self.download(ingested, assets, NPM_ASSET).await;
        }
        Err(missing())
    }

    pub(crate) async fn download(
        &self,
        version: PackageVersion,
        assets: Vec<Asset>,
        name: &str,
    ) -> Result<AssetDownload> {
        let asset = assets.into_iter().find(|a| a.name == name).ok_or_else(|| {
            Error::not_found(ResourceKind::Asset, name, format!("Asset {name} not found"))
        })?;
        let body = self.open_blob(&asset).await?;
        Ok(AssetDownload {
            version,
            asset,
            body,
        })
    }

    /// Keeps a version served from `from` in `repository` (a reference, no bytes copied).
    pub(crate) async fn retain(
        &self,
        repository: &RepositoryKey,
        from: &RepositoryKey,
        key: &PackageKey,
        version: &PackageVersion,
    ) -> Result<PackageVersion> {
        let copy = CopyVersions {
            destination: repository.clone(),
            package: key.clone(),
            items: vec![CopyItem {
                from: from.clone(),
                version: version.version.clone(),
                expected_revision: version.revision.clone(),
                replaces: None,
            }],
            new_package_origin: OriginRestrictions::INGESTED_FIRST,
            dist_tags: Vec::new(),
        };
        match self.store().copy_versions(copy).await {
            Ok(mut written) => Ok(written.pop().unwrap_or_else(|| version.clone())),
            // A concurrent request retained it first, or the upstream changed: serve what is there.
            Err(StoreError::Contention) => Ok(self
                .store()
                .version(repository, key, &version.version)
                .await?
                .map_or_else(|| version.clone(), |v| v.version)),
            Err(other) => Err(other.into()),
        }
    }

    /// Fetches a version from the external registry and stores it in `repository` (the one
    /// owning the connection). `None` when the registry does not have it.
    async fn ingest_npm(
        &self,
        repository: &RepositoryKey,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
    ) -> Result<Option<PackageVersion>> {
        let full_name = format::full_name(key.namespace.as_deref(), &key.name);
        let remote = match self.externals().npm_packument(connection, &full_name).await {
            Ok(remote) => remote,
            Err(ExternalError::NotFound) => return Ok(None),
            Err(ExternalError::Unavailable(detail)) => {
                tracing::warn!(error.detail = %detail, package = %full_name, "external registry unavailable");
                return Ok(None);
            }
        };
        let Some(manifest) = remote.get("versions").and_then(|v| v.get(version)).cloned() else {
            return Ok(None);
        };
        let Some(url) = manifest
            .get("dist")
            .and_then(|d| d.get("tarball"))
            .and_then(|t| t.as_str())
        else {
            return Ok(None);
        };
        let tarball = match self
            .externals()
            .fetch(connection, url, MAX_TARBALL_BYTES)
            .await
        {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error.detail = %e, package = %full_name, "external tarball unavailable");
                return Ok(None);
            }
        };
        let asset = self.store_bytes(tarball, NPM_ASSET).await?;
        if !dist_matches(&manifest, &asset) {
            return Err(Error::conflict(
                ResourceKind::Asset,
                NPM_ASSET,
                format!(
                    "The external registry's tarball of {full_name}@{version} does not match its integrity"
                ),
            ));
        }
        let metadata = format::version_metadata(&manifest, &full_name);
        let ingest = IngestVersion {
            repository: repository.clone(),
            package: key.clone(),
            version: version.to_owned(),
            assets: vec![asset],
            metadata,
            external_connection: connection.name().to_owned(),
            published: Timestamp::now(),
        };
        match self.store().ingest_version(ingest).await {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NotAllowed(_)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Publishes the versions of an npm PUT that carry a tarball, or applies a metadata-only
    /// PUT (deprecate, unpublish of single versions).
    ///
    /// # Errors
    /// `Validation` (document, integrity), `Conflict` (the version exists here or in a reachable
    /// upstream), `AccessDenied` (publish BLOCK).
    pub async fn npm_put(
        &self,
        repository: &RepositoryKey,
        scope: Option<&str>,
        name: &str,
        document: &PublishDocument,
    ) -> Result<()> {
        let key = npm_key(scope, name);
        let full_name = format::full_name(scope, name);
        if document.name != full_name {
            return Err(Error::validation(format!(
                "The document names {} but the request path names {full_name}",
                document.name
            )));
        }
        if document.attachments.is_empty() {
            return self.npm_update(repository, &key, document).await;
        }
        let package = self.store().package(repository, &key).await?;
        if package
            .as_ref()
            .is_some_and(|p| p.origin.publish == Allow::Block)
        {
            return Err(Error::AccessDenied {
                message: format!(
                    "Publishing is blocked for package {full_name} by its origin configuration"
                ),
            });
        }
        let upstream_allowed = package
            .as_ref()
            .is_some_and(|p| p.origin.upstream == Allow::Allow);
        let mut published = Vec::new();
        for version in document.versions.keys() {
            let Ok(tarball) = format::verify_version(document, version) else {
                // Versions without an attachment in a publish body are the existing ones npm echoes.
                if document
                    .attachments
                    .keys()
                    .any(|a| a.ends_with(&format!("-{version}.tgz")))
                {
                    format::verify_version(document, version)
                        .map_err(|e| Error::validation(e.to_string()))?;
                }
                continue;
            };
            if self
                .store()
                .version(repository, &key, version)
                .await?
                .is_some()
            {
                return Err(Error::conflict(
                    ResourceKind::PackageVersion,
                    version.as_str(),
                    format!(
                        "{full_name}@{version} already exists; versions cannot be published over"
                    ),
                ));
            }
            if upstream_allowed && self.version_in_upstream(repository, &key, version).await? {
                return Err(Error::conflict(
                    ResourceKind::PackageVersion,
                    version.as_str(),
                    format!("{full_name}@{version} exists in an upstream repository"),
                ));
            }
            let manifest = &document.versions[version];
            let asset = self
                .store_bytes(Bytes::copy_from_slice(tarball), NPM_ASSET)
                .await?;
            let publish = PublishAsset {
                repository: repository.clone(),
                package: key.clone(),
                version: version.clone(),
                asset,
                unfinished: false,
                metadata: format::version_metadata(manifest, &full_name),
                now: Timestamp::now(),
                max_assets_per_version: 1,
                append_to_published: false,
            };
            match self.store().publish_asset(publish).await {
                Ok(_) => published.push(version.clone()),
                Err(StoreError::NotAllowed(_)) => {
                    return Err(Error::AccessDenied {
                        message: format!(
                            "Publishing is blocked for package {full_name} by its origin configuration"
                        ),
                    });
                }
                Err(
                    StoreError::AlreadyExists { .. }
                    | StoreError::InvalidState(_)
                    | StoreError::Contention,
                ) => {
                    return Err(Error::conflict(
                        ResourceKind::PackageVersion,
                        version.as_str(),
                        format!("{full_name}@{version} already exists"),
                    ));
                }
                Err(other) => return Err(other.into()),
            }
        }
        if published.is_empty() {
            return Err(Error::validation(
                "The publish document has no version with a tarball",
            ));
        }
        for (tag, version) in &document.dist_tags {
            if published.contains(version) {
                self.store()
                    .set_dist_tag(repository, &key, tag, version)
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether a version is in an upstream of `repository` (retained or published there).
    pub(crate) async fn version_in_upstream(
        &self,
        repository: &RepositoryKey,
        key: &PackageKey,
        version: &str,
    ) -> Result<bool> {
        for (repo, _) in self.npm_search_order(repository).await?.into_iter().skip(1) {
            if self.store().version(&repo, key, version).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A PUT without tarballs: versions missing from the document are unpublished, versions whose
    /// `deprecated` changed are updated, and dist-tags of remaining versions are applied.
    async fn npm_update(
        &self,
        repository: &RepositoryKey,
        key: &PackageKey,
        document: &PublishDocument,
    ) -> Result<()> {
        let full_name = format::full_name(key.namespace.as_deref(), &key.name);
        if self.store().package(repository, key).await?.is_none() {
            return Err(npm_not_found(&full_name));
        }
        let stored = self
            .store()
            .list_versions(
                repository,
                key,
                &VersionFilter::default(),
                VersionOrder::Version,
                None,
                u32::MAX,
            )
            .await?;
        let mut removed = Vec::new();
        for version in &stored {
            let Some(manifest) = document.versions.get(&version.version) else {
                removed.push(version.clone());
                continue;
            };
            let wanted = manifest.get("deprecated").cloned();
            let current = version
                .metadata
                .extra
                .as_ref()
                .and_then(|m| m.get("deprecated"))
                .cloned();
            if wanted != current {
                let mut metadata = version.metadata.clone();
                let mut extra = metadata
                    .extra
                    .take()
                    .unwrap_or_else(|| serde_json::json!({}));
                if let Some(object) = extra.as_object_mut() {
                    match wanted {
                        Some(message) if message.as_str().is_some_and(|m| !m.is_empty()) => {
                            object.insert("deprecated".to_owned(), message);
                        }
                        _ => {
                            object.remove("deprecated");
                        }
                    }
                }
                metadata.extra = Some(extra);
                self.store()
                    .update_version_metadata(
                        repository,
                        key,
                        &version.version,
                        &version.revision,
                        metadata,
                    )
                    .await
                    .map_err(|e| match e {
                        StoreError::Contention => Error::conflict(
                            ResourceKind::PackageVersion,
                            version.version.as_str(),
                            "The version changed concurrently; retry",
                        ),
                        other => other.into(),
                    })?;
            }
        }
        if !removed.is_empty() {
            let changes: Vec<reliquary_store::VersionChange> = removed
                .iter()
                .map(|v| reliquary_store::VersionChange {
                    version: v.version.clone(),
                    expected_status: v.status,
                    expected_revision: v.revision.clone(),
                    action: reliquary_store::VersionAction::Delete,
                })
                .collect();
            self.store()
                .change_versions(repository, key, &changes)
                .await
                .map_err(|e| match e {
                    StoreError::Contention => Error::conflict(
                        ResourceKind::Package,
                        full_name.as_str(),
                        "The package changed concurrently; retry",
                    ),
                    other => other.into(),
                })?;
        }
        let remaining: BTreeSet<&str> = stored
            .iter()
            .filter(|v| !removed.contains(v))
            .map(|v| v.version.as_str())
            .collect();
        for (tag, version) in &document.dist_tags {
            if remaining.contains(version.as_str()) {
                self.store()
                    .set_dist_tag(repository, key, tag, version)
                    .await?;
            }
        }
        Ok(())
    }

    /// `npm unpublish pkg --force`: the package and all its versions.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn npm_delete_package(
        &self,
        repository: &RepositoryKey,
        scope: Option<&str>,
        name: &str,
    ) -> Result<()> {
        let key = npm_key(scope, name);
        self.store()
            .delete_package(repository, &key)
            .await
            .map_err(|e| match e {
                StoreError::NotFound {
                    kind: ResourceKind::Package,
                    ..
                } => npm_not_found(&format::full_name(scope, name)),
                other => other.into(),
            })?;
        Ok(())
    }

    /// The dist-tags npm sees (merged across the graph, as in the packument).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn npm_dist_tags(
        &self,
        repository: &RepositoryKey,
        scope: Option<&str>,
        name: &str,
    ) -> Result<serde_json::Value> {
        let packument = self
            .npm_packument(repository, scope, name, Packument::Abbreviated)
            .await?;
        Ok(packument
            .get("dist-tags")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({})))
    }

    /// # Errors
    /// `NotFound` when the version is not in this repository.
    pub async fn npm_set_dist_tag(
        &self,
        repository: &RepositoryKey,
        scope: Option<&str>,
        name: &str,
        tag: &str,
        version: &str,
    ) -> Result<()> {
        Ok(self
            .store()
            .set_dist_tag(repository, &npm_key(scope, name), tag, version)
            .await?)
    }

    /// # Errors
    /// `NotFound` when the tag does not exist.
    pub async fn npm_remove_dist_tag(
        &self,
        repository: &RepositoryKey,
        scope: Option<&str>,
        name: &str,
        tag: &str,
    ) -> Result<()> {
        Ok(self
            .store()
            .remove_dist_tag(repository, &npm_key(scope, name), tag)
            .await?)
    }

    /// Authenticates a package-endpoint request: the token must be valid, unexpired and
    /// scoped to the domain named in the path; the repository must exist.
    ///
    /// # Errors
    /// `AccessDenied` for any token problem (rendered 401 by the endpoints), `NotFound`.
    pub async fn endpoint_repository(
        &self,
        domain_and_owner: &str,
        repository: &str,
        token: Option<&str>,
        now_seconds: i64,
    ) -> Result<(Caller, RepositoryKey)> {
        let denied = |why: &str| Error::AccessDenied {
            message: why.to_owned(),
        };
        let token = token.ok_or_else(|| denied("An authorization token is required"))?;
        let claims = self
            .verify_token(token, now_seconds)
            .map_err(|e| denied(&e.to_string()))?;
        let (domain, owner) = domain_and_owner
            .rsplit_once('-')
            .ok_or_else(|| Error::validation(format!("Invalid domain path {domain_and_owner}")))?;
        if claims.domain != domain || claims.domain_owner != owner {
            return Err(denied("The token is not valid for this domain"));
        }
        let parse = || {
            Error::validation(format!(
                "Invalid repository path {domain_and_owner}/{repository}"
            ))
        };
        let account = reliquary_types::AccountId::parse(&claims.account).map_err(|_| parse())?;
        let caller = Caller {
            account,
            access_key_id: claims.principal,
        };
        let domain = reliquary_types::DomainName::parse(domain).map_err(|_| parse())?;
        let owner = reliquary_types::AccountId::parse(owner).map_err(|_| parse())?;
        let name = reliquary_types::RepositoryName::parse(repository).map_err(|_| parse())?;
        let key = self
            .repository_key(&caller, domain, Some(owner), &name)
            .await?;
        Ok((caller, key))
    }
}

/// Whether a manifest's `dist.shasum` / `dist.integrity` (those present) describe `asset`.
fn dist_matches(manifest: &serde_json::Value, asset: &Asset) -> bool {
    let dist = manifest.get("dist");
    let field = |name: &str| dist.and_then(|d| d.get(name)).and_then(|v| v.as_str());
    let shasum_ok = field("shasum").is_none_or(|s| s.eq_ignore_ascii_case(&asset.hashes.sha1));
    let integrity_ok = field("integrity")
        .filter(|i| i.starts_with("sha512-"))
        .is_none_or(|i| i == format::integrity_from_sha512_hex(&asset.hashes.sha512));
    shasum_ok && integrity_ok
}

/// A registry client for servers without external connections configured.
#[derive(Debug, Default)]
pub struct NoExternalRegistry;

#[async_trait::async_trait]
impl ExternalRegistry for NoExternalRegistry {
    async fn npm_packument(
        &self,
        _: ExternalConnection,
        _: &str,
    ) -> std::result::Result<serde_json::Value, ExternalError> {
        Err(ExternalError::Unavailable(
            "no external registry is configured".to_owned(),
        ))
    }

    async fn pypi_project_page(
        &self,
        _: ExternalConnection,
        _: &str,
    ) -> std::result::Result<(Bytes, String, String), ExternalError> {
        Err(ExternalError::Unavailable(
            "no external registry is configured".to_owned(),
        ))
    }

    async fn fetch(
        &self,
        _: ExternalConnection,
        _: &str,
        _: u64,
    ) -> std::result::Result<Bytes, ExternalError> {
        Err(ExternalError::Unavailable(
            "no external registry is configured".to_owned(),
        ))
    }
}

/// Adds a remote packument's versions not seen yet; its dist-tags win over the downstream's.
fn merge_remote(
    remote: &serde_json::Value,
    full_name: &str,
    versions: &mut BTreeMap<String, Visible>,
    tags: &mut BTreeMap<String, String>,
) {
    if let Some(remote_versions) = remote.get("versions").and_then(|v| v.as_object()) {
        let times = remote.get("time");
        for (version, manifest) in remote_versions {
            if versions.contains_key(version) {
                continue;
            }
            let published = times
                .and_then(|t| t.get(version))
                .and_then(|t| t.as_str())
                .and_then(parse_iso8601)
                .unwrap_or(Timestamp(0));
            versions.insert(
                version.clone(),
                Visible {
                    version: version.clone(),
                    manifest: Some(manifest.clone()),
                    metadata: format::version_metadata(manifest, full_name),
                    published,
                },
            );
        }
    }
    if let Some(remote_tags) = remote.get("dist-tags").and_then(|t| t.as_object()) {
        for (tag, version) in remote_tags {
            if let Some(version) = version.as_str() {
                tags.insert(tag.clone(), version.to_owned());
            }
        }
    }
}

/// `2026-11-26T09:00:00.000Z`.
pub(crate) fn iso8601(at: Timestamp) -> String {
    let seconds = at.0.div_euclid(1000);
    let millis = at.0.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn parse_iso8601(text: &str) -> Option<Timestamp> {
    let date = text.get(0..10)?;
    let mut parts = date.split('-').map(str::parse::<i64>);
    let (y, m, d) = (
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    let time = text.get(11..19)?;
    let mut hms = time.split(':').map(str::parse::<i64>);
    let (h, mi, s) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    Some(Timestamp(
        (days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000,
    ))
}

// Howard Hinnant's civil-calendar algorithms (public-domain arithmetic).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_iso8601() {
        let at = Timestamp(1_795_683_956_934);
        let text = iso8601(at);
        assert_eq!(text, "2026-11-26T09:05:56.934Z");
        assert_eq!(parse_iso8601(&text), Some(Timestamp(1_795_683_956_000)));
        assert_eq!(iso8601(Timestamp(0)), "1970-01-01T00:00:00.000Z");
    }
}
