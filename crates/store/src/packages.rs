//! Packages, versions, assets and npm dist-tags.
//!
//! Reads return what is stored. Batch writes are compare-and-set: core reads the versions,
//! decides with its rules, and passes what it saw (status and revision of each version) as the
//! precondition; the store applies every change in one transaction or, if any row no longer
//! matches, none of them and returns `StoreError::Contention` so core can decide again.

use async_trait::async_trait;
use reliquary_types::{
    Allow, Asset, OriginRestrictions, OriginType, PackageFormat, PackageKey, Timestamp,
    VersionMetadata, VersionOrigin, VersionStatus,
};

use crate::{RepositoryKey, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub key: PackageKey,
    pub origin: OriginRestrictions,
}

/// A stored version (`Deleted` versions have no row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageVersion {
    pub package: PackageKey,
    pub version: String,
    pub status: VersionStatus,
    pub revision: String,
    /// When the version was first published (or, while Unfinished, created).
    pub published: Timestamp,
    pub origin: VersionOrigin,
    pub metadata: VersionMetadata,
}

/// A version with its assets, sorted by name (none once Disposed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionWithAssets {
    pub version: PackageVersion,
    pub assets: Vec<Asset>,
}

/// One repository's view of a package, as the format endpoints render it (an npm packument, a
/// PyPI project page): read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageListing {
    pub package: Package,
    /// Those with the requested status (all if none was given), ordered by version string;
    /// each with its assets (sorted by name) if they were asked for, else with none.
    pub versions: Vec<VersionWithAssets>,
    /// npm dist-tags, ordered by tag.
    pub dist_tags: Vec<(String, String)>,
}

/// One asset uploaded into a version (PublishPackageVersion, and native publishes later).
#[derive(Debug, Clone)]
pub struct PublishAsset {
    pub repository: RepositoryKey,
    pub package: PackageKey,
    pub version: String,
    /// Its blob is already committed under `asset.hashes.sha256`.
    pub asset: Asset,
    /// Keep (or create) the version Unfinished so more assets can follow; otherwise the version
    /// ends Published.
    pub unfinished: bool,
    /// Metadata of a version this call creates (an existing version keeps its own).
    pub metadata: VersionMetadata,
    pub now: Timestamp,
    /// Refuse with `QuotaExceeded{kind: Asset}` past this many assets in the version.
    pub max_assets_per_version: u32,
    /// Formats whose versions gain files over time (PyPI: an sdist, then wheels) may add a new
    /// asset to a Published version; for others that is `InvalidState`.
    pub append_to_published: bool,
    /// The version must not exist yet, whatever its status (npm: a version is published exactly
    /// once, even when concurrent publishes send the same tarball): else
    /// `AlreadyExists{PackageVersion}`.
    pub new_version_only: bool,
}

/// The result of [`PackageStore::publish_asset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub version: PackageVersion,
    pub asset: Asset,
}

/// Which packages ListPackages returns.
#[derive(Debug, Clone, Default)]
pub struct PackageFilter {
    pub format: Option<PackageFormat>,
    /// A prefix of the namespace (the model's `namespace` filter is a prefix).
    pub namespace_prefix: Option<String>,
    pub name_prefix: Option<String>,
    pub publish: Option<Allow>,
    pub upstream: Option<Allow>,
}

/// Keyset position in a package listing ordered by (format, namespace ("" for none), name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageCursor {
    pub format: PackageFormat,
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionOrder {
    /// By version string (byte order), ascending.
    #[default]
    Version,
    /// Newest first, ties by version string ascending.
    PublishedTimeDescending,
}

#[derive(Debug, Clone, Default)]
pub struct VersionFilter {
    pub status: Option<VersionStatus>,
    pub origin_type: Option<OriginType>,
}

/// Keyset position in a version listing: the last version returned (and its published time,
/// used by `PublishedTimeDescending`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCursor {
    pub published: Timestamp,
    pub version: String,
}

/// What a batch change does to one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionAction {
    /// UpdatePackageVersionsStatus.
    SetStatus(VersionStatus),
    /// DisposePackageVersions: status Disposed, asset references dropped.
    Dispose,
    /// DeletePackageVersions: the row and its asset references removed.
    Delete,
}

/// One version of a batch change, with what core saw when it decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChange {
    pub version: String,
    pub expected_status: VersionStatus,
    pub expected_revision: String,
    pub action: VersionAction,
}

/// One version of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyItem {
    /// Where the version is read: the source repository or (includeFromUpstream) an upstream.
    pub from: RepositoryKey,
    pub version: String,
    /// The source version must still have this revision and a copyable status.
    pub expected_revision: String,
    /// The destination must still hold: `None` no such version, `Some(r)` a version with
    /// revision `r`, which is then replaced (allowOverwrite).
    pub replaces: Option<String>,
}

/// CopyPackageVersions as one transaction: rows referencing the same assets, no bytes copied.
#[derive(Debug, Clone)]
pub struct CopyVersions {
    pub destination: RepositoryKey,
    pub package: PackageKey,
    pub items: Vec<CopyItem>,
    /// Origin configuration of the destination package if the copy creates it.
    pub new_package_origin: OriginRestrictions,
    /// npm dist-tags to set (create or re-point) on the destination package: (tag, version).
    pub dist_tags: Vec<(String, String)>,
}

/// The reads a backend makes to check a [`CopyVersions`]: the versions to read from each
/// source repository (one, or several with includeFromUpstream), and every version named.
#[derive(Debug)]
pub struct CopyPlan<'a> {
    pub sources: Vec<(&'a RepositoryKey, Vec<&'a str>)>,
    pub versions: Vec<&'a str>,
}

impl<'a> CopyPlan<'a> {
    /// # Errors
    /// `InvalidState` for a source in another domain or a version named twice.
    pub fn of(copy: &'a CopyVersions) -> Result<Self> {
        let mut sources: Vec<(&RepositoryKey, Vec<&str>)> = Vec::new();
        let mut versions = Vec::with_capacity(copy.items.len());
        let mut seen = std::collections::HashSet::with_capacity(copy.items.len());
        for item in &copy.items {
            if item.from.domain != copy.destination.domain {
                return Err(crate::StoreError::InvalidState(
                    "versions can only be copied within one domain".to_owned(),
                ));
            }
            if !seen.insert(item.version.as_str()) {
                return Err(crate::StoreError::InvalidState(format!(
                    "version {} is copied twice",
                    item.version
                )));
            }
            versions.push(item.version.as_str());
            match sources.iter_mut().find(|(from, _)| **from == item.from) {
                Some((_, named)) => named.push(item.version.as_str()),
                None => sources.push((&item.from, vec![item.version.as_str()])),
            }
        }
        Ok(Self { sources, versions })
    }
}

/// A version fetched from a public registry through an external connection (origin EXTERNAL).
#[derive(Debug, Clone)]
pub struct IngestVersion {
    /// The repository that owns the external connection.
    pub repository: RepositoryKey,
    pub package: PackageKey,
    pub version: String,
    /// Blobs already committed.
    pub assets: Vec<Asset>,
    pub metadata: VersionMetadata,
    /// The external connection's name (`public:npmjs` …).
    pub external_connection: String,
    pub published: Timestamp,
}

#[async_trait]
pub trait PackageStore: Send + Sync {
    /// Adds one asset to a version, creating the package (origin `PUBLISHED_FIRST`) and the
    /// version (Unfinished) as needed, then recomputes the revision. Errors:
    /// `NotFound` (domain/repository); `NotAllowed` if the package's publish restriction is
    /// BLOCK; `AlreadyExists{kind: Asset}` for a different asset under an existing name (an
    /// identical one is a no-op); `InvalidState` if the asset is new and the version is neither
    /// Unfinished nor (with `append_to_published`) Published; `QuotaExceeded{kind: Asset}`.
    async fn publish_asset(&self, publish: PublishAsset) -> Result<Published>;

    async fn package(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
    ) -> Result<Option<Package>>;

    /// Ordered by (format, namespace, name), strictly after `after`, at most `limit`.
    async fn list_packages(
        &self,
        repository: &RepositoryKey,
        filter: &PackageFilter,
        after: Option<&PackageCursor>,
        limit: u32,
    ) -> Result<Vec<Package>>;

    async fn version(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        version: &str,
    ) -> Result<Option<VersionWithAssets>>;

    /// The package's versions (without assets) in `order`, strictly after `after`, at most `limit`.
    async fn list_versions(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        filter: &VersionFilter,
        order: VersionOrder,
        after: Option<&VersionCursor>,
        limit: u32,
    ) -> Result<Vec<PackageVersion>>;

    /// Applies every change or none: `Contention` if any version's status or revision differs
    /// from what is expected (or it is gone). Returns the versions as they are afterwards
    /// (deleted ones as they were). Asset rows no version references any more are removed.
    async fn change_versions(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        changes: &[VersionChange],
    ) -> Result<Vec<PackageVersion>>;

    /// Deletes the package with all its versions and tags. `NotFound{kind: Package}`.
    async fn delete_package(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
    ) -> Result<Package>;

    /// Sets the origin restrictions, creating an empty package record if needed.
    async fn put_origin_configuration(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        origin: OriginRestrictions,
    ) -> Result<Package>;

    /// Copies versions (see [`CopyVersions`]); `Contention` if any precondition no longer holds.
    /// Each copied version keeps the source's status, revision, origin, metadata, published
    /// time and asset references. Returns the destination versions written.
    async fn copy_versions(&self, copy: CopyVersions) -> Result<Vec<PackageVersion>>;

    /// The package with its versions (of `status`, or all; with their assets if `with_assets`)
    /// and dist-tags, in one read; `None` if the repository has no such package. `NotFound`
    /// (domain, repository).
    async fn package_listing(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        status: Option<VersionStatus>,
        with_assets: bool,
    ) -> Result<Option<PackageListing>>;

    /// npm dist-tags of the package, ordered by tag.
    async fn dist_tags(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
    ) -> Result<Vec<(String, String)>>;

    /// Sets (creates or re-points) an npm dist-tag. `NotFound{kind: PackageVersion}` unless the
    /// version exists in the repository.
    async fn set_dist_tag(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        tag: &str,
        version: &str,
    ) -> Result<()>;

    /// Removes a dist-tag; `NotFound{kind: Tag}` if the package has no such tag.
    async fn remove_dist_tag(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        tag: &str,
    ) -> Result<()>;

    /// Replaces a version's metadata (npm deprecate) and recomputes its revision.
    /// `Contention` unless the version still has `expected_revision`.
    async fn update_version_metadata(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        version: &str,
        expected_revision: &str,
        metadata: VersionMetadata,
    ) -> Result<PackageVersion>;

    /// Stores a version ingested from an external connection: Published, origin EXTERNAL with
    /// the connection's name, revision from its assets and metadata. Creates the package with
    /// `OriginRestrictions::INGESTED_FIRST`; `NotAllowed` if the package's upstream restriction
    /// is BLOCK. If the version already exists, the assets it does not have yet are added to it
    /// (PyPI files fetched one by one) and its revision recomputed; assets it has are left as
    /// they are; it is returned.
    async fn ingest_version(&self, ingest: IngestVersion) -> Result<PackageVersion>;

    /// Of `sha256s`, those no asset row of any domain references (garbage-sweep candidates).
    async fn unreferenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>>;
}
