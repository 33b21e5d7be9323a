//! Packages, versions and assets: generic publishing, reads, the version lifecycle and
//! CopyPackageVersions (`spec/digest.md` §3, §4.5–4.9).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use reliquary_store::{
    CopyItem, CopyVersions, DomainKey, Package, PackageCursor, PackageFilter, PackageVersion,
    PublishAsset, RepositoryKey, ResourceKind, StoreError, VersionAction, VersionChange,
    VersionCursor, VersionFilter, VersionOrder, VersionWithAssets,
};
use reliquary_types::{
    Asset, OriginRestrictions, PackageFormat, PackageKey, RepositoryName, Timestamp,
    VersionMetadata, VersionStatus,
};

use crate::kit::{AssetDownload, backoff, blob_error, publish_blocked, repository_key_of};
use crate::service::{Caller, Page, Service, page_size};
use crate::{Error, Result};

/// At most this many versions in one batch request (`PackageVersionList.max`).
pub const MAX_BATCH_VERSIONS: usize = 100;
/// How often a batch write is decided again when a concurrent writer changed its versions.
const CONTENTION_ATTEMPTS: u32 = 8;

/// A package in a repository, as a request names it.
#[derive(Debug, Clone)]
pub struct PackageRef {
    pub domain: reliquary_types::DomainName,
    pub domain_owner: Option<reliquary_types::AccountId>,
    pub repository: RepositoryName,
    pub package: PackageKey,
}

/// One version's failure in a batch operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCode {
    AlreadyExists,
    MismatchedRevision,
    MismatchedStatus,
    NotAllowed,
    NotFound,
    Skipped,
}

impl FailureCode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::MismatchedRevision => "MISMATCHED_REVISION",
            Self::MismatchedStatus => "MISMATCHED_STATUS",
            Self::NotAllowed => "NOT_ALLOWED",
            Self::NotFound => "NOT_FOUND",
            Self::Skipped => "SKIPPED",
        }
    }
}

/// The result of a batch operation: every requested version is in exactly one map, except
/// versions a copy found already identical in the destination, which are in neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// version → (revision, status); status `None` means Deleted.
    pub successful: BTreeMap<String, (String, Option<VersionStatus>)>,
    pub failed: BTreeMap<String, (FailureCode, String)>,
}

impl BatchOutcome {
    /// All or nothing: the failures, and every other requested version SKIPPED.
    fn refused(requested: &[String], failures: BTreeMap<String, (FailureCode, String)>) -> Self {
        let mut failed = failures;
        for version in requested {
            failed.entry(version.clone()).or_insert_with(|| {
                (
                    FailureCode::Skipped,
                    format!("Version {version} was skipped"),
                )
            });
        }
        Self {
            successful: BTreeMap::new(),
            failed,
        }
    }
}

/// Which versions a batch names: plain versions, or versions with the revision each must have.
#[derive(Debug, Clone)]
pub struct VersionSelection {
    pub versions: Vec<String>,
    pub revisions: BTreeMap<String, String>,
}

/// ListPackageVersions: the page plus the package-level fields of the result.
#[derive(Debug, Clone)]
pub struct VersionListing {
    pub page: Page<PackageVersion>,
    pub default_display_version: Option<String>,
}

/// The request of CopyPackageVersions.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    pub domain: reliquary_types::DomainName,
    pub domain_owner: Option<reliquary_types::AccountId>,
    pub source: RepositoryName,
    pub destination: RepositoryName,
    pub package: PackageKey,
    pub versions: Option<Vec<String>>,
    pub version_revisions: Option<BTreeMap<String, String>>,
    pub allow_overwrite: bool,
    pub include_from_upstream: bool,
}

/// Checks the namespace rule of each format (`docs/compatibility.md`): required for maven,
/// swift and generic; absent for pypi, nuget, ruby and cargo; optional for npm.
///
/// # Errors
/// `Validation` when the rule is broken.
pub fn check_namespace(format: PackageFormat, namespace: Option<&str>) -> Result<()> {
    match (format, namespace) {
        (PackageFormat::Maven | PackageFormat::Swift | PackageFormat::Generic, None) => Err(
            Error::validation(format!("A namespace is required for {format} packages")),
        ),
        (
            PackageFormat::Pypi | PackageFormat::Nuget | PackageFormat::Ruby | PackageFormat::Cargo,
            Some(ns),
        ) => Err(Error::validation(format!(
            "{format} packages have no namespace, got namespace {ns}"
        ))),
        _ => Ok(()),
    }
}

/// Generic asset names (`spec/digest.md` §4.9): Unicode letters and numbers, the punctuation
/// `~!@^&()-_+[]{};,.`, and single inner spaces; never `.` or `..`.
///
/// # Errors
/// `Validation` naming the rule.
pub fn check_generic_asset_name(name: &str) -> Result<()> {
    const PUNCTUATION: &str = "~!@^&()-_+[]{};,.";
    let invalid = |why: &str| {
        Err(Error::validation(format!(
            "Invalid generic asset name {name:?}: {why}"
        )))
    };
    if name == "." || name == ".." {
        return invalid("'.' and '..' are reserved");
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
        return invalid("spaces may not lead, trail or repeat");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == ' ' || PUNCTUATION.contains(*c)))
    {
        return invalid(&format!("the character {c:?} is not allowed"));
    }
    Ok(())
}

fn version_not_found(package: &PackageKey, version: &str) -> Error {
    Error::not_found(
        ResourceKind::PackageVersion,
        version,
        format!(
            "Package version {version} of package {} not found",
            package.name
        ),
    )
}

fn package_not_found(package: &PackageKey) -> Error {
    Error::not_found(
        ResourceKind::Package,
        package.name.clone(),
        format!("Package {} not found", package.name),
    )
}

fn contention() -> Error {
    Error::Conflict {
        resource_type: Some(ResourceKind::Package.as_str()),
        resource_id: None,
        message: "The package was changed concurrently by other requests; retry the request"
            .to_owned(),
    }
}

impl Service {
    /// The repository a package request names; `NotFound` for the domain or repository.
    pub(crate) async fn repository_key(
        &self,
        caller: &Caller,
        domain: reliquary_types::DomainName,
        owner: Option<reliquary_types::AccountId>,
        name: &RepositoryName,
    ) -> Result<RepositoryKey> {
        let domain = DomainKey {
            owner: owner.unwrap_or_else(|| caller.account.clone()),
            name: domain,
        };
        self.describe_repository_by_key(&domain, name).await?;
        Ok(RepositoryKey {
            domain,
            name: name.clone(),
        })
    }

    async fn package_ref(&self, caller: &Caller, package: &PackageRef) -> Result<RepositoryKey> {
        check_namespace(package.package.format, package.package.namespace.as_deref())?;
        self.repository_key(
            caller,
            package.domain.clone(),
            package.domain_owner.clone(),
            &package.repository,
        )
        .await
    }

    async fn existing_version(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        version: &str,
    ) -> Result<VersionWithAssets> {
        self.store()
            .version(repository, package, version)
            .await?
            .ok_or_else(|| version_not_found(package, version))
    }

    // ---- publishing ----------------------------------------------------------------------------

    /// PublishPackageVersion (generic): streams the body into the blob store while hashing,
    /// checks it against `sha256`, commits the blob, then the metadata.
    ///
    /// # Errors
    /// `Validation` (format, namespace, asset name, hash mismatch), `NotFound`, `Conflict`,
    /// `AccessDenied` (publish BLOCK), `QuotaExceeded` (asset count or size).
    #[expect(clippy::too_many_arguments, reason = "one argument per request member")]
    pub async fn publish_generic<S>(
        &self,
        caller: &Caller,
        package: &PackageRef,
        version: &str,
        asset_name: &str,
        sha256: &str,
        unfinished: bool,
        body: S,
    ) -> Result<(PackageVersion, Asset)>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        if package.package.format != PackageFormat::Generic {
            return Err(Error::validation(
                "PublishPackageVersion supports only the generic format",
            ));
        }
        check_generic_asset_name(asset_name)?;
        let repository = self.package_ref(caller, package).await?;
        if let Some(existing) = self.store().package(&repository, &package.package).await?
            && existing.origin.publish == reliquary_types::Allow::Block
        {
            return Err(publish_blocked(&package.package));
        }
        let staged = self.stage(body).await.map_err(|e| match e {
            Error::QuotaExceeded { message, .. } => Error::QuotaExceeded {
                resource_type: Some(ResourceKind::Asset.as_str()),
                resource_id: Some(asset_name.to_owned()),
                message,
            },
            other => other,
        })?;
        if staged.hashes().sha256 != sha256 {
            let computed = staged.hashes().sha256.clone();
            self.discard(staged).await;
            return Err(Error::validation(format!(
                "The SHA-256 of the asset content ({computed}) does not match x-amz-content-sha256 ({sha256})"
            )));
        }
        let asset = self.commit(&staged, asset_name).await?;
        let metadata = VersionMetadata {
            display_name: Some(package.package.name.clone()),
            ..VersionMetadata::default()
        };
        let published = self
            .publish_asset(PublishAsset {
                repository,
                package: package.package.clone(),
                version: version.to_owned(),
                asset,
                unfinished,
                metadata,
                now: Timestamp::now(),
                max_assets_per_version: self.config().quotas.assets_per_version,
                append_to_published: false,
                new_version_only: false,
            })
            .await?;
        Ok((published.version, published.asset))
    }

    // ---- reads -----------------------------------------------------------------------------------

    /// # Errors
    /// `NotFound`, `Validation`.
    pub async fn describe_package(&self, caller: &Caller, package: &PackageRef) -> Result<Package> {
        let repository = self.package_ref(caller, package).await?;
        self.store()
            .package(&repository, &package.package)
            .await?
            .ok_or_else(|| package_not_found(&package.package))
    }

    /// # Errors
    /// `NotFound` (domain, repository), `Validation` (token).
    #[expect(clippy::too_many_arguments, reason = "one argument per request member")]
    pub async fn list_packages(
        &self,
        caller: &Caller,
        domain: reliquary_types::DomainName,
        owner: Option<reliquary_types::AccountId>,
        repository: &RepositoryName,
        filter: PackageFilter,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> Result<Page<Package>> {
        const OP: &str = "ListPackages";
        let repository = self
            .repository_key(caller, domain, owner, repository)
            .await?;
        let after: Option<(String, String, String)> =
            next_token.map(|t| self.pages().decode(OP, t)).transpose()?;
        let after = after
            .map(|(format, namespace, name)| {
                let format = PackageFormat::parse(&format)
                    .ok_or_else(|| Error::validation("Invalid pagination token"))?;
                Ok::<_, Error>(PackageCursor {
                    format,
                    namespace,
                    name,
                })
            })
            .transpose()?;
        let limit = page_size(max_results);
        let mut items = self
            .store()
            .list_packages(&repository, &filter, after.as_ref(), limit + 1)
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|p| {
                let key = &p.key;
                self.pages().encode(
                    OP,
                    &(
                        key.format.as_str(),
                        key.namespace.as_deref().unwrap_or(""),
                        &key.name,
                    ),
                )
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// # Errors
    /// `NotFound` (domain, repository, package), `Validation`.
    pub async fn list_versions(
        &self,
        caller: &Caller,
        package: &PackageRef,
        filter: VersionFilter,
        order: VersionOrder,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> Result<VersionListing> {
        const OP: &str = "ListPackageVersions";
        let repository = self.package_ref(caller, package).await?;
        let key = &package.package;
        if self.store().package(&repository, key).await?.is_none() {
            return Err(package_not_found(key));
        }
        let after: Option<(i64, String)> =
            next_token.map(|t| self.pages().decode(OP, t)).transpose()?;
        let after = after.map(|(published, version)| VersionCursor {
            published: Timestamp(published),
            version,
        });
        let limit = page_size(max_results);
        let mut items = self
            .store()
            .list_versions(&repository, key, &filter, order, after.as_ref(), limit + 1)
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|v| self.pages().encode(OP, &(v.published.0, &v.version)))
        } else {
            None
        };
        let default_display_version = self.default_display_version(&repository, key).await?;
        Ok(VersionListing {
            page: Page { items, next },
            default_display_version,
        })
    }

    /// Formats with dist-tags: the `latest` tag; otherwise the most recently published Published version.
    async fn default_display_version(
        &self,
        repository: &RepositoryKey,
        key: &PackageKey,
    ) -> Result<Option<String>> {
        if self.has_dist_tags(key.format)
            && let Some((_, version)) = self
                .store()
                .dist_tags(repository, key)
                .await?
                .into_iter()
                .find(|(tag, _)| tag == "latest")
        {
            return Ok(Some(version));
        }
        let filter = VersionFilter {
            status: Some(VersionStatus::Published),
            origin_type: None,
        };
        let newest = self
            .store()
            .list_versions(
                repository,
                key,
                &filter,
                VersionOrder::PublishedTimeDescending,
                None,
                1,
            )
            .await?;
        Ok(newest.into_iter().next().map(|v| v.version))
    }

    /// # Errors
    /// `NotFound`, `Validation`.
    pub async fn describe_version(
        &self,
        caller: &Caller,
        package: &PackageRef,
        version: &str,
    ) -> Result<VersionWithAssets> {
        let repository = self.package_ref(caller, package).await?;
        self.existing_version(&repository, &package.package, version)
            .await
    }

    /// ListPackageVersionAssets: the version and one page of its assets (by name).
    ///
    /// # Errors
    /// `NotFound`, `Validation`.
    pub async fn list_assets(
        &self,
        caller: &Caller,
        package: &PackageRef,
        version: &str,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> Result<(PackageVersion, Page<Asset>)> {
        const OP: &str = "ListPackageVersionAssets";
        let found = self.describe_version(caller, package, version).await?;
        let after: Option<String> = next_token.map(|t| self.pages().decode(OP, t)).transpose()?;
        let limit = page_size(max_results) as usize;
        let mut items: Vec<Asset> = found
            .assets
            .into_iter()
            .filter(|a| after.as_deref().is_none_or(|after| a.name.as_str() > after))
            .take(limit + 1)
            .collect();
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|a| self.pages().encode(OP, &a.name))
        } else {
            None
        };
        Ok((found.version, Page { items, next }))
    }

    /// GetPackageVersionAsset: streams one asset of a Published or Unlisted version.
    ///
    /// # Errors
    /// `NotFound` (version, asset, or a `revision` that is not current), `Conflict` (the
    /// version's status makes its assets unavailable), `Validation`.
    pub async fn get_asset(
        &self,
        caller: &Caller,
        package: &PackageRef,
        version: &str,
        asset_name: &str,
        revision: Option<&str>,
    ) -> Result<AssetDownload> {
        let found = self.describe_version(caller, package, version).await?;
        if let Some(revision) = revision
            && revision != found.version.revision
        {
            return Err(Error::not_found(
                ResourceKind::PackageVersion,
                version,
                format!("Package version {version} has no revision {revision}"),
            ));
        }
        if !found.version.status.assets_downloadable() {
            return Err(Error::conflict(
                ResourceKind::PackageVersion,
                version,
                format!(
                    "Assets of a package version in status {} cannot be downloaded",
                    found.version.status
                ),
            ));
        }
        let asset = found
            .assets
            .into_iter()
            .find(|a| a.name == asset_name)
            .ok_or_else(|| {
                Error::not_found(
                    ResourceKind::Asset,
                    asset_name,
                    format!("Asset {asset_name} not found in version {version}"),
                )
            })?;
        let body = self.open_blob(&asset).await?;
        Ok(AssetDownload {
            version: found.version,
            asset,
            body,
        })
    }

    // ---- origin configuration ---------------------------------------------------------------------

    /// # Errors
    /// `NotFound` (domain, repository), `Validation`.
    pub async fn put_origin_configuration(
        &self,
        caller: &Caller,
        package: &PackageRef,
        origin: OriginRestrictions,
    ) -> Result<Package> {
        let repository = self.package_ref(caller, package).await?;
        Ok(self
            .store()
            .put_origin_configuration(&repository, &package.package, origin)
            .await?)
    }

    /// # Errors
    /// `NotFound`, `Validation`.
    pub async fn delete_package(&self, caller: &Caller, package: &PackageRef) -> Result<Package> {
        let repository = self.package_ref(caller, package).await?;
        self.store()
            .delete_package(&repository, &package.package)
            .await
            .map_err(|e| match e {
                StoreError::NotFound {
                    kind: ResourceKind::Package,
                    ..
                } => package_not_found(&package.package),
                other => other.into(),
            })
    }

    // ---- the batch lifecycle operations ---------------------------------------------------------

    /// Reads every requested version, decides with `decide`, and applies all changes in one
    /// store transaction, deciding again if a concurrent writer changed a version in between.
    async fn batch_change<F>(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        selection: &VersionSelection,
        expected_status: Option<VersionStatus>,
        decide: F,
    ) -> Result<BatchOutcome>
    where
        F: Fn(&PackageVersion) -> std::result::Result<Option<VersionAction>, (FailureCode, String)>,
    {
        let requested = &selection.versions;
        for attempt in 0..CONTENTION_ATTEMPTS {
            let mut failures = BTreeMap::new();
            let mut changes = Vec::new();
            let mut unchanged = Vec::new();
            let mut stored = self.version_map(repository, package, requested).await?;
            for version in requested {
                let Some(current) = stored.remove(version) else {
                    failures.insert(
                        version.clone(),
                        (
                            FailureCode::NotFound,
                            format!("Could not find version {version}"),
                        ),
                    );
                    continue;
                };
                if let Some(expected) = expected_status
                    && expected != current.status
                {
                    let message = format!(
                        "current status: {}, expected status: {expected}",
                        current.status
                    );
                    failures.insert(version.clone(), (FailureCode::MismatchedStatus, message));
                    continue;
                }
                if let Some(expected) = selection.revisions.get(version)
                    && *expected != current.revision
                {
                    let message = format!(
                        "current revision: {}, expected revision: {expected}",
                        current.revision
                    );
                    failures.insert(version.clone(), (FailureCode::MismatchedRevision, message));
                    continue;
                }
                match decide(&current) {
                    Ok(Some(action)) => changes.push(VersionChange {
                        version: version.clone(),
                        expected_status: current.status,
                        expected_revision: current.revision.clone(),
                        action,
                    }),
                    Ok(None) => unchanged.push(current),
                    Err(failure) => {
                        failures.insert(version.clone(), failure);
                    }
                }
            }
            if !failures.is_empty() {
                return Ok(BatchOutcome::refused(requested, failures));
            }
            let actions: BTreeMap<String, VersionAction> = changes
                .iter()
                .map(|c| (c.version.clone(), c.action))
                .collect();
            match self
                .store()
                .change_versions(repository, package, &changes)
                .await
            {
                Ok(after) => {
                    let mut outcome = BatchOutcome::default();
                    for version in after.into_iter().chain(unchanged) {
                        let status = match actions.get(&version.version) {
                            Some(VersionAction::Delete) => None,
                            _ => Some(version.status),
                        };
                        outcome
                            .successful
                            .insert(version.version.clone(), (version.revision, status));
                    }
                    return Ok(outcome);
                }
                Err(StoreError::Contention) => backoff(attempt + 1).await,
                Err(other) => return Err(other.into()),
            }
        }
        Err(contention())
    }

    async fn batch_target(
        &self,
        caller: &Caller,
        package: &PackageRef,
        selection: &VersionSelection,
    ) -> Result<RepositoryKey> {
        check_selection(selection)?;
        self.package_ref(caller, package).await
    }

    /// UpdatePackageVersionsStatus.
    ///
    /// # Errors
    /// `Validation` (target status, sizes), `NotFound` (domain, repository).
    pub async fn update_versions_status(
        &self,
        caller: &Caller,
        package: &PackageRef,
        selection: &VersionSelection,
        expected_status: Option<VersionStatus>,
        target: VersionStatus,
    ) -> Result<BatchOutcome> {
        if !matches!(
            target,
            VersionStatus::Published | VersionStatus::Unlisted | VersionStatus::Archived
        ) {
            return Err(Error::validation(format!(
                "targetStatus {target} is not allowed; use Published, Unlisted or Archived (DisposePackageVersions disposes)"
            )));
        }
        let repository = self.batch_target(caller, package, selection).await?;
        self.batch_change(
            &repository,
            &package.package,
            selection,
            expected_status,
            |current| {
                if !current.status.can_update_to(target) {
                    return Err((
                        FailureCode::NotAllowed,
                        format!(
                            "A package version in status {} cannot be set to {target}",
                            current.status
                        ),
                    ));
                }
                Ok((current.status != target).then_some(VersionAction::SetStatus(target)))
            },
        )
        .await
    }

    /// DisposePackageVersions.
    ///
    /// # Errors
    /// `Validation`, `NotFound` (domain, repository).
    pub async fn dispose_versions(
        &self,
        caller: &Caller,
        package: &PackageRef,
        selection: &VersionSelection,
        expected_status: Option<VersionStatus>,
    ) -> Result<BatchOutcome> {
        let repository = self.batch_target(caller, package, selection).await?;
        self.batch_change(
            &repository,
            &package.package,
            selection,
            expected_status,
            |current| {
                Ok((current.status != VersionStatus::Disposed).then_some(VersionAction::Dispose))
            },
        )
        .await
    }

    /// DeletePackageVersions.
    ///
    /// # Errors
    /// `Validation`, `NotFound` (domain, repository).
    pub async fn delete_versions(
        &self,
        caller: &Caller,
        package: &PackageRef,
        selection: &VersionSelection,
        expected_status: Option<VersionStatus>,
    ) -> Result<BatchOutcome> {
        let repository = self.batch_target(caller, package, selection).await?;
        self.batch_change(
            &repository,
            &package.package,
            selection,
            expected_status,
            |_| Ok(Some(VersionAction::Delete)),
        )
        .await
    }

    // ---- CopyPackageVersions ------------------------------------------------------------------------

    /// CopyPackageVersions: all or nothing, metadata only (`spec/digest.md` §3).
    ///
    /// # Errors
    /// `Validation` (versions XOR versionRevisions, sizes, same repository, namespace),
    /// `NotFound` (domain, either repository), `Conflict` when concurrent writers keep changing
    /// the versions involved.
    pub async fn copy_versions(
        &self,
        caller: &Caller,
        request: CopyRequest,
    ) -> Result<BatchOutcome> {
        let selection = match (request.versions, request.version_revisions) {
            (Some(versions), None) => VersionSelection {
                versions,
                revisions: BTreeMap::new(),
            },
            (None, Some(revisions)) => VersionSelection {
                versions: revisions.keys().cloned().collect(),
                revisions,
            },
            _ => {
                return Err(Error::validation(
                    "Specify either versions or versionRevisions, not both and not neither",
                ));
            }
        };
        check_selection(&selection)?;
        check_namespace(request.package.format, request.package.namespace.as_deref())?;
        if request.source == request.destination {
            return Err(Error::validation(
                "The source and destination repositories must differ",
            ));
        }
        let source = self
            .repository_key(
                caller,
                request.domain.clone(),
                request.domain_owner.clone(),
                &request.source,
            )
            .await?;
        let destination = self
            .repository_key(
                caller,
                request.domain,
                request.domain_owner,
                &request.destination,
            )
            .await?;
        let search: Vec<RepositoryKey> = if request.include_from_upstream {
            self.upstream_graph(&source)
                .await?
                .iter()
                .map(repository_key_of)
                .collect::<Vec<_>>()
        } else {
            vec![source.clone()]
        };
        let package = &request.package;
        let requested = &selection.versions;
        for attempt in 0..CONTENTION_ATTEMPTS {
            let mut failures = BTreeMap::new();
            let mut items = Vec::new();
            let mut source_package: Option<Package> = None;
            let mut sources = Vec::with_capacity(search.len());
            for repository in &search {
                sources.push((
                    repository,
                    self.version_map(repository, package, requested).await?,
                ));
            }
            let mut existing = self.version_map(&destination, package, requested).await?;
            for version in requested {
                let found = sources.iter_mut().find_map(|(repository, versions)| {
                    versions.remove(version).map(|v| ((*repository).clone(), v))
                });
                let Some((from, current)) = found else {
                    failures.insert(
                        version.clone(),
                        (
                            FailureCode::NotFound,
                            format!("Could not find version {version}"),
                        ),
                    );
                    continue;
                };
                if !current.status.copyable() {
                    let message = format!(
                        "A package version in status {} cannot be copied",
                        current.status
                    );
                    failures.insert(version.clone(), (FailureCode::NotAllowed, message));
                    continue;
                }
                if let Some(expected) = selection.revisions.get(version)
                    && *expected != current.revision
                {
                    let message = format!(
                        "current revision: {}, expected revision: {expected}",
                        current.revision
                    );
                    failures.insert(version.clone(), (FailureCode::MismatchedRevision, message));
                    continue;
                }
                let replaces = match existing.remove(version) {
                    None => None,
                    Some(existing) if existing.revision == current.revision => continue,
                    Some(existing) if request.allow_overwrite => Some(existing.revision),
                    Some(_) => {
                        failures.insert(
                            version.clone(),
                            (
                                FailureCode::AlreadyExists,
                                format!("Version {version} already exists"),
                            ),
                        );
                        continue;
                    }
                };
                if source_package.is_none() && from == source {
                    source_package = self.store().package(&source, package).await?;
                }
                items.push(CopyItem {
                    from,
                    version: version.clone(),
                    expected_revision: current.revision,
                    replaces,
                });
            }
            if !failures.is_empty() {
                return Ok(BatchOutcome::refused(requested, failures));
            }
            if items.is_empty() {
                return Ok(BatchOutcome::default());
            }
            let copied: BTreeSet<&str> = items.iter().map(|i| i.version.as_str()).collect();
            let dist_tags = if self.has_dist_tags(package.format) {
                self.store()
                    .dist_tags(&source, package)
                    .await?
                    .into_iter()
                    .filter(|(_, version)| copied.contains(version.as_str()))
                    .collect()
            } else {
                Vec::new()
            };
            let copy = CopyVersions {
                destination: destination.clone(),
                package: package.clone(),
                items: items.clone(),
                new_package_origin: source_package
                    .map_or(OriginRestrictions::PUBLISHED_FIRST, |p| p.origin),
                dist_tags,
            };
            match self.store().copy_versions(copy).await {
                Ok(written) => {
                    let mut outcome = BatchOutcome::default();
                    for version in written {
                        outcome
                            .successful
                            .insert(version.version, (version.revision, Some(version.status)));
                    }
                    return Ok(outcome);
                }
                Err(StoreError::Contention) => backoff(attempt + 1).await,
                Err(other) => return Err(other.into()),
            }
        }
        Err(contention())
    }

    /// The stored state (status, revision) of the requested versions of a package, read in one
    /// listing when more than a few are asked for: a batch costs a constant number of queries.
    async fn version_map(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        requested: &[String],
    ) -> Result<BTreeMap<String, PackageVersion>> {
        let mut map = BTreeMap::new();
        if requested.len() <= 2 {
            for version in requested {
                if let Some(found) = self.store().version(repository, package, version).await? {
                    map.insert(version.clone(), found.version);
                }
            }
            return Ok(map);
        }
        let wanted: BTreeSet<&str> = requested.iter().map(String::as_str).collect();
        let all = self
            .store()
            .list_versions(
                repository,
                package,
                &VersionFilter::default(),
                VersionOrder::Version,
                None,
                u32::MAX,
            )
            .await?;
        for version in all {
            if wanted.contains(version.version.as_str()) {
                map.insert(version.version.clone(), version);
            }
        }
        Ok(map)
    }

    // ---- garbage ------------------------------------------------------------------------------------

    /// One garbage sweep: deletes committed blobs that no asset row references and that were
    /// last modified more than `grace` ago, and staging objects older than `grace`.
    /// Returns the number of blobs removed, or `None` when another sweep (on any node sharing
    /// the database) is running: one sweep at a time, cluster-wide.
    ///
    /// # Errors
    /// The store or blob store fails.
    pub async fn sweep_garbage(&self, grace: Duration) -> Result<Option<u64>> {
        let Some(_lease) = self.store().try_sweep_lease().await? else {
            return Ok(None);
        };
        self.sweep_under_lease(grace).await.map(Some)
    }

    async fn sweep_under_lease(&self, grace: Duration) -> Result<u64> {
        let cutoff = std::time::SystemTime::now() - grace;
        self.blobs()
            .sweep_staging(grace)
            .await
            .map_err(blob_error)?;
        let mut listing = self
            .blobs()
            .list()
            .try_filter(|b| futures::future::ready(b.last_modified <= cutoff))
            .boxed();
        let mut removed = 0;
        let mut batch = Vec::new();
        loop {
            let next = listing.next().await.transpose().map_err(blob_error)?;
            if let Some(blob) = &next {
                batch.push(blob.sha256.clone());
            }
            if batch.len() >= 500 || (next.is_none() && !batch.is_empty()) {
                for sha256 in self.store().unreferenced_blobs(&batch).await? {
                    if self
                        .blobs()
                        .delete_if_unmodified_since(&sha256, cutoff)
                        .await
                        .map_err(blob_error)?
                    {
                        removed += 1;
                    }
                }
                batch.clear();
            }
            if next.is_none() {
                return Ok(removed);
            }
        }
    }
}

fn check_selection(selection: &VersionSelection) -> Result<()> {
    if selection.versions.is_empty() {
        return Err(Error::validation("At least one version is required"));
    }
    if selection.versions.len() > MAX_BATCH_VERSIONS
        || selection.revisions.len() > MAX_BATCH_VERSIONS
    {
        return Err(Error::validation(format!(
            "At most {MAX_BATCH_VERSIONS} versions can be given in one request"
        )));
    }
    if let Some(extra) = selection
        .revisions
        .keys()
        .find(|v| !selection.versions.contains(v))
    {
        return Err(Error::validation(format!(
            "versionRevisions names version {extra}, which is not in versions"
        )));
    }
    let unique: BTreeSet<&String> = selection.versions.iter().collect();
    if unique.len() != selection.versions.len() {
        return Err(Error::validation("A version is listed more than once"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_asset_names_follow_the_documented_rules() {
        for ok in ["a.txt", "my asset (1).tar.gz", "été", "x~!@^&()-_+[]{};,.y"] {
            assert!(check_generic_asset_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            ".", "..", " lead", "trail ", "a  b", "a*b", "a/b", "a\\b", "a:b",
        ] {
            assert!(check_generic_asset_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespace_rules_per_format() {
        assert!(check_namespace(PackageFormat::Generic, None).is_err());
        assert!(check_namespace(PackageFormat::Maven, Some("com.x")).is_ok());
        assert!(check_namespace(PackageFormat::Pypi, Some("x")).is_err());
        assert!(check_namespace(PackageFormat::Npm, None).is_ok());
        assert!(check_namespace(PackageFormat::Npm, Some("types")).is_ok());
    }

    #[test]
    fn a_refused_batch_skips_every_other_version() {
        let failures =
            BTreeMap::from([("5.6.7".to_owned(), (FailureCode::NotFound, "x".to_owned()))]);
        let outcome = BatchOutcome::refused(&["0.2.0".to_owned(), "5.6.7".to_owned()], failures);
        assert!(outcome.successful.is_empty());
        assert_eq!(
            outcome.failed["0.2.0"],
            (FailureCode::Skipped, "Version 0.2.0 was skipped".to_owned())
        );
        assert_eq!(outcome.failed["5.6.7"].0, FailureCode::NotFound);
    }
}
