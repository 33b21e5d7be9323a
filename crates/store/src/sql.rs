//! Row types and their mappings shared by the SQL backends (`store-sqlite`, `store-postgres`):
//! both schemas store the same columns with the same Rust types, only the SQL dialect differs.

use std::collections::{BTreeMap, BTreeSet};

use reliquary_types::{
    AccountId, Allow, Asset, AssetHashes, DomainName, OriginRestrictions, OriginType,
    PackageFormat, PackageKey, RepositoryName, Timestamp, VersionMetadata, VersionOrigin,
    VersionStatus,
};

use crate::{
    DomainKey, Package, PackageListing, PackageVersion, Repository, Result, StoreError,
    UPSTREAM_CLOSURE_DEPTH, VersionWithAssets,
};

/// A stored value that does not parse: the database was changed behind the store's back.
pub fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("stored {what} is invalid: {e}"))
}

/// A repository's own columns. Select `r.id, d.owner AS domain_owner, d.name AS domain_name,
/// r.name, r.administrator_account, r.description, r.created_ms`.
#[derive(sqlx::FromRow)]
pub struct RepositoryRow {
    pub id: i64,
    pub domain_owner: String,
    pub domain_name: String,
    pub name: String,
    pub administrator_account: String,
    pub description: Option<String>,
    pub created_ms: i64,
}

impl RepositoryRow {
    /// The record, completed with its upstreams (names, in list order) and external connections.
    ///
    /// # Errors
    /// `Internal` for a stored name or account that does not parse.
    pub fn into_repository(
        self,
        upstreams: impl IntoIterator<Item = String>,
        external_connections: Vec<String>,
    ) -> Result<Repository> {
        Ok(Repository {
            domain: DomainKey {
                owner: AccountId::parse(&self.domain_owner)
                    .map_err(|e| corrupt("domain owner", e))?,
                name: DomainName::parse(&self.domain_name)
                    .map_err(|e| corrupt("domain name", e))?,
            },
            name: RepositoryName::parse(&self.name).map_err(|e| corrupt("repository name", e))?,
            administrator_account: AccountId::parse(&self.administrator_account)
                .map_err(|e| corrupt("administrator account", e))?,
            description: self.description,
            upstreams: upstreams
                .into_iter()
                .map(|n| RepositoryName::parse(&n).map_err(|e| corrupt("upstream name", e)))
                .collect::<Result<_>>()?,
            external_connections,
            created: Timestamp(self.created_ms),
        })
    }
}

/// The recursion limit of an upstream-closure query, as the integer it binds.
#[must_use]
pub fn upstream_closure_depth() -> i64 {
    i64::try_from(UPSTREAM_CLOSURE_DEPTH).unwrap_or(i64::MAX)
}

/// A row of an upstream-closure read: a repository of the closure with one of its upstreams
/// (`upstream_position`, `upstream`: null when it has none) and one of its external connections
/// (null when it has none), so a repository spans a row per pair of those (at least one). Rows
/// may come in any order.
#[derive(sqlx::FromRow)]
pub struct ClosureRow {
    #[sqlx(flatten)]
    pub repository: RepositoryRow,
    pub upstream_position: Option<i64>,
    pub upstream: Option<String>,
    pub external_connection: Option<String>,
}

/// The records of an upstream closure from its rows, each repository once (ordered by id).
///
/// # Errors
/// `Internal` for a stored value that does not parse.
pub fn closure_repositories(rows: Vec<ClosureRow>) -> Result<Vec<Repository>> {
    struct Parts {
        row: RepositoryRow,
        upstreams: BTreeMap<i64, String>,
        connections: BTreeSet<String>,
    }
    let mut by_id: BTreeMap<i64, Parts> = BTreeMap::new();
    for ClosureRow {
        repository,
        upstream_position,
        upstream,
        external_connection,
    } in rows
    {
        let parts = by_id.entry(repository.id).or_insert_with(|| Parts {
            row: repository,
            upstreams: BTreeMap::new(),
            connections: BTreeSet::new(),
        });
        if let (Some(position), Some(upstream)) = (upstream_position, upstream) {
            parts.upstreams.insert(position, upstream);
        }
        if let Some(connection) = external_connection {
            parts.connections.insert(connection);
        }
    }
    by_id
        .into_values()
        .map(|parts| {
            parts.row.into_repository(
                parts.upstreams.into_values(),
                parts.connections.into_iter().collect(),
            )
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub struct PackageRow {
    pub id: i64,
    pub format: String,
    pub namespace: String,
    pub name: String,
    pub publish: String,
    pub upstream: String,
}

impl PackageRow {
    pub fn into_package(self) -> Result<Package> {
        let format = PackageFormat::parse(&self.format)
            .ok_or_else(|| corrupt("package format", &self.format))?;
        Ok(Package {
            key: PackageKey {
                format,
                namespace: (!self.namespace.is_empty()).then_some(self.namespace),
                name: self.name,
            },
            origin: OriginRestrictions {
                publish: parse_allow(&self.publish)?,
                upstream: parse_allow(&self.upstream)?,
            },
        })
    }
}

pub fn parse_allow(value: &str) -> Result<Allow> {
    Allow::parse(value).ok_or_else(|| corrupt("origin restriction", value))
}

pub const PACKAGE_COLUMNS: &str = "id, format, namespace, name, publish, upstream";

#[derive(sqlx::FromRow)]
pub struct VersionRow {
    pub id: i64,
    pub version: String,
    pub status: String,
    pub revision: String,
    pub published_ms: i64,
    pub origin_type: String,
    pub origin_repository: Option<String>,
    pub origin_external_connection: Option<String>,
    pub metadata: String,
}

impl VersionRow {
    pub fn status(&self) -> Result<VersionStatus> {
        VersionStatus::parse(&self.status).ok_or_else(|| corrupt("version status", &self.status))
    }

    pub fn to_version(&self, package: &PackageKey) -> Result<PackageVersion> {
        Ok(PackageVersion {
            package: package.clone(),
            version: self.version.clone(),
            status: self.status()?,
            revision: self.revision.clone(),
            published: Timestamp(self.published_ms),
            origin: VersionOrigin {
                origin_type: OriginType::parse(&self.origin_type)
                    .ok_or_else(|| corrupt("origin type", &self.origin_type))?,
                repository: self.origin_repository.clone(),
                external_connection: self.origin_external_connection.clone(),
            },
            metadata: serde_json::from_str(&self.metadata)
                .map_err(|e| corrupt("version metadata", e))?,
        })
    }
}

pub const VERSION_COLUMNS: &str = "id, version, status, revision, published_ms, origin_type, \
     origin_repository, origin_external_connection, metadata";

#[derive(sqlx::FromRow)]
pub struct AssetRow {
    pub name: String,
    pub size: i64,
    md5: String,
    sha1: String,
    sha256: String,
    sha512: String,
}

impl AssetRow {
    pub fn into_asset(self) -> Result<Asset> {
        Ok(Asset {
            name: self.name,
            size: u64::try_from(self.size).map_err(|e| corrupt("asset size", e))?,
            hashes: AssetHashes {
                md5: self.md5,
                sha1: self.sha1,
                sha256: self.sha256,
                sha512: self.sha512,
            },
        })
    }
}

/// An asset of one of several versions.
#[derive(sqlx::FromRow)]
pub struct VersionAssetRow {
    pub version_id: i64,
    #[sqlx(flatten)]
    pub asset: AssetRow,
}

/// A row of the joined domain → repository → package lookup: the repository's id (absent when
/// the domain has no such repository) and the package's columns (absent when it has no such
/// package). Select `r.id AS repository_id` and the package columns prefixed `p.`.
#[derive(sqlx::FromRow)]
pub struct PackageLookup {
    pub repository_id: Option<i64>,
    pub id: Option<i64>,
    pub format: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub publish: Option<String>,
    pub upstream: Option<String>,
}

impl PackageLookup {
    /// The repository's id (if it exists) and the package row (if that exists too).
    #[must_use]
    pub fn into_parts(self) -> (Option<i64>, Option<PackageRow>) {
        let package = match (
            self.id,
            self.format,
            self.namespace,
            self.name,
            self.publish,
            self.upstream,
        ) {
            (
                Some(id),
                Some(format),
                Some(namespace),
                Some(name),
                Some(publish),
                Some(upstream),
            ) => Some(PackageRow {
                id,
                format,
                namespace,
                name,
                publish,
                upstream,
            }),
            _ => None,
        };
        (self.repository_id, package)
    }
}

pub fn namespace_of(key: &PackageKey) -> &str {
    key.namespace.as_deref().unwrap_or("")
}

pub fn metadata_json(metadata: &VersionMetadata) -> Result<String> {
    serde_json::to_string(metadata)
        .map_err(|e| StoreError::Internal(format!("cannot encode version metadata: {e}")))
}

pub fn asset_size(asset: &Asset) -> Result<i64> {
    i64::try_from(asset.size)
        .map_err(|_| StoreError::Internal(format!("asset size {} out of range", asset.size)))
}

/// A [`PackageListing`] from its rows: the version rows in order, the asset rows of any of them
/// (ordered by name within a version; none when assets were not asked for) and the dist-tags.
///
/// # Errors
/// `Internal` for a stored value that does not parse.
pub fn package_listing(
    key: &PackageKey,
    package: PackageRow,
    versions: &[VersionRow],
    assets: Vec<VersionAssetRow>,
    dist_tags: Vec<(String, String)>,
) -> Result<PackageListing> {
    let mut by_version: std::collections::HashMap<i64, Vec<Asset>> =
        std::collections::HashMap::new();
    for row in assets {
        by_version
            .entry(row.version_id)
            .or_default()
            .push(row.asset.into_asset()?);
    }
    Ok(PackageListing {
        versions: versions
            .iter()
            .map(|row| {
                Ok(VersionWithAssets {
                    version: row.to_version(key)?,
                    assets: by_version.remove(&row.id).unwrap_or_default(),
                })
            })
            .collect::<Result<_>>()?,
        package: package.into_package()?,
        dist_tags,
    })
}

/// A write transaction that, once committed, moves the store's change counter
/// ([`crate::Store::changes`]): every write of a backend goes through one, so no cache keyed on
/// the counter outlives a change. It derefs to the connection, as a sqlx transaction does.
pub struct WriteTx<DB: sqlx::Database> {
    tx: sqlx::Transaction<'static, DB>,
    changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    #[must_use]
    pub fn new(
        tx: sqlx::Transaction<'static, DB>,
        changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        Self { tx, changes }
    }

    /// Commits, then moves the change counter (after: a reader that saw the old value and
    /// cached what it read is invalidated; one that sees the new value reads the new rows).
    ///
    /// # Errors
    /// The commit fails (nothing changed; the counter does not move).
    pub async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.tx.commit().await?;
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}
