//! [`PackageStore`] on PostgreSQL: packages, versions, per-domain asset rows and dist-tags.
//!
//! Every write takes the domain's row lock first (as every other write inside a domain does), so
//! two processes never both create the same package, version or asset row, and an asset row is
//! never deleted as unreferenced while another transaction links it. A batch either commits whole
//! or is rolled back at its first error.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use reliquary_store::sql::{
    self, AssetRow, PACKAGE_COLUMNS, PackageLookup, PackageRow, VERSION_COLUMNS, VersionAssetRow,
    VersionRow, asset_size, metadata_json, namespace_of,
};
use reliquary_store::{
    CopyPlan, CopyVersions, IngestVersion, Package, PackageCursor, PackageFilter, PackageListing,
    PackageStore, PackageVersion, PublishAsset, Published, RepositoryKey, ResourceKind, Result,
    StoreError, VersionAction, VersionChange, VersionCursor, VersionFilter, VersionOrder,
    VersionWithAssets,
};
use reliquary_types::{
    Allow, Asset, OriginRestrictions, OriginType, PackageKey, VersionMetadata, VersionStatus,
    revision,
};
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, QueryBuilder};

use crate::{PostgresStore, db_err, domain_not_found, lock_domain, repository_not_found, retrying};

// ---------------------------------------------------------------------------------------------
// Queries

/// The ids of the repository's domain and of the repository; `NotFound` (domain, then
/// repository) otherwise.
async fn resolve_repository(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
) -> Result<(i64, i64)> {
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT d.id, r.id FROM domains d \
         LEFT JOIN repositories r ON r.domain_id = d.id AND r.name = $1 \
         WHERE d.owner = $2 AND d.name = $3",
    )
    .bind(repository.name.as_str())
    .bind(repository.domain.owner.as_str())
    .bind(repository.domain.name.as_str())
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    match row {
        None => Err(domain_not_found(&repository.domain)),
        Some((_, None)) => Err(repository_not_found(&repository.name)),
        Some((domain_id, Some(repository_id))) => Ok((domain_id, repository_id)),
    }
}

async fn find_package(
    conn: &mut PgConnection,
    repository_id: i64,
    key: &PackageKey,
) -> Result<Option<PackageRow>> {
    sqlx::query_as(&format!(
        "SELECT {PACKAGE_COLUMNS} FROM packages \
         WHERE repository_id = $1 AND format = $2 AND namespace = $3 AND name = $4"
    ))
    .bind(repository_id)
    .bind(key.format.as_str())
    .bind(namespace_of(key))
    .bind(&key.name)
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

/// The repository's id and its package row, in one query; `NotFound` (domain, then repository)
/// like [`resolve_repository`].
async fn lookup_package(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
    key: &PackageKey,
) -> Result<(i64, Option<PackageRow>)> {
    let found: Option<PackageLookup> = sqlx::query_as(
        "SELECT r.id AS repository_id, p.id, p.format, p.namespace, p.name, p.publish, \
         p.upstream FROM domains d \
         LEFT JOIN repositories r ON r.domain_id = d.id AND r.name = $1 \
         LEFT JOIN packages p ON p.repository_id = r.id AND p.format = $2 \
         AND p.namespace = $3 AND p.name = $4 \
         WHERE d.owner = $5 AND d.name = $6",
    )
    .bind(repository.name.as_str())
    .bind(key.format.as_str())
    .bind(namespace_of(key))
    .bind(&key.name)
    .bind(repository.domain.owner.as_str())
    .bind(repository.domain.name.as_str())
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    match found.map(PackageLookup::into_parts) {
        None => Err(domain_not_found(&repository.domain)),
        Some((None, _)) => Err(repository_not_found(&repository.name)),
        Some((Some(repository_id), package)) => Ok((repository_id, package)),
    }
}

async fn insert_package(
    conn: &mut PgConnection,
    repository_id: i64,
    key: &PackageKey,
    origin: OriginRestrictions,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO packages (repository_id, format, namespace, name, publish, upstream) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(repository_id)
    .bind(key.format.as_str())
    .bind(namespace_of(key))
    .bind(&key.name)
    .bind(origin.publish.as_str())
    .bind(origin.upstream.as_str())
    .fetch_one(conn)
    .await
    .map_err(db_err)
}

async fn find_version(
    conn: &mut PgConnection,
    package_id: i64,
    version: &str,
) -> Result<Option<VersionRow>> {
    sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM package_versions WHERE package_id = $1 AND version = $2"
    ))
    .bind(package_id)
    .bind(version)
    .fetch_optional(conn)
    .await
    .map_err(db_err)
}

async fn version_by_id(conn: &mut PgConnection, id: i64) -> Result<VersionRow> {
    sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM package_versions WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(conn)
    .await
    .map_err(db_err)
}

/// The version's assets, sorted by name.
async fn assets_of(conn: &mut PgConnection, version_id: i64) -> Result<Vec<Asset>> {
    let rows: Vec<AssetRow> = sqlx::query_as(
        "SELECT va.name, a.size, a.md5, a.sha1, a.sha256, a.sha512 \
         FROM version_assets va JOIN assets a ON a.id = va.asset_id \
         WHERE va.version_id = $1 ORDER BY va.name",
    )
    .bind(version_id)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    rows.into_iter().map(AssetRow::into_asset).collect()
}

/// The ids of the asset rows `version_id` references.
async fn asset_ids_of_version(conn: &mut PgConnection, version_id: i64) -> Result<Vec<i64>> {
    sqlx::query_scalar("SELECT asset_id FROM version_assets WHERE version_id = $1")
        .bind(version_id)
        .fetch_all(conn)
        .await
        .map_err(db_err)
}

/// Deletes those of the candidate asset rows no version references any more.
pub(crate) async fn remove_unreferenced_assets(
    conn: &mut PgConnection,
    candidates: &[i64],
) -> Result<()> {
    if candidates.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM assets a WHERE a.id = ANY($1) AND NOT EXISTS \
         (SELECT 1 FROM version_assets va WHERE va.asset_id = a.id)",
    )
    .bind(candidates)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Deletes the domain's asset rows no version references (all of them once it has no
/// repositories).
pub(crate) async fn remove_unreferenced_domain_assets(
    conn: &mut PgConnection,
    domain_id: i64,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM assets WHERE domain_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM version_assets va WHERE va.asset_id = assets.id)",
    )
    .bind(domain_id)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The ids of the asset rows the repository's versions reference, before it is deleted.
pub(crate) async fn asset_ids_of_repository(
    conn: &mut PgConnection,
    repository_id: i64,
) -> Result<Vec<i64>> {
    sqlx::query_scalar(
        "SELECT DISTINCT va.asset_id FROM version_assets va \
         JOIN package_versions v ON v.id = va.version_id \
         JOIN packages p ON p.id = v.package_id \
         WHERE p.repository_id = $1",
    )
    .bind(repository_id)
    .fetch_all(conn)
    .await
    .map_err(db_err)
}

/// The domain's asset row for this content, inserted if the domain has none yet.
async fn upsert_asset(conn: &mut PgConnection, domain_id: i64, asset: &Asset) -> Result<i64> {
    sqlx::query(
        "INSERT INTO assets (domain_id, sha256, size, md5, sha1, sha512) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (domain_id, sha256) DO NOTHING",
    )
    .bind(domain_id)
    .bind(&asset.hashes.sha256)
    .bind(asset_size(asset)?)
    .bind(&asset.hashes.md5)
    .bind(&asset.hashes.sha1)
    .bind(&asset.hashes.sha512)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    sqlx::query_scalar("SELECT id FROM assets WHERE domain_id = $1 AND sha256 = $2")
        .bind(domain_id)
        .bind(&asset.hashes.sha256)
        .fetch_one(conn)
        .await
        .map_err(db_err)
}

fn contention() -> StoreError {
    StoreError::Contention
}

// ---------------------------------------------------------------------------------------------
// Operations (each runs inside the caller's write transaction)

async fn publish_in(conn: &mut PgConnection, publish: &PublishAsset) -> Result<Published> {
    let (domain_id, repository_id) = resolve_repository(conn, &publish.repository).await?;
    let package_id = match find_package(conn, repository_id, &publish.package).await? {
        Some(row) if row.publish == Allow::Block.as_str() => {
            return Err(StoreError::NotAllowed(format!(
                "publishing is blocked by the origin configuration of package {}",
                publish.package
            )));
        }
        Some(row) => row.id,
        None => {
            insert_package(
                conn,
                repository_id,
                &publish.package,
                OriginRestrictions::PUBLISHED_FIRST,
            )
            .await?
        }
    };
    let row = match find_version(conn, package_id, &publish.version).await? {
        Some(_) if publish.new_version_only => {
            return Err(StoreError::AlreadyExists {
                kind: ResourceKind::PackageVersion,
                id: publish.version.clone(),
            });
        }
        Some(row) => row,
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO package_versions (package_id, version, status, revision, \
                 published_ms, origin_type, origin_repository, origin_external_connection, \
                 metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8) RETURNING id",
            )
            .bind(package_id)
            .bind(&publish.version)
            .bind(VersionStatus::Unfinished.as_str())
            .bind(revision(&[], &publish.metadata))
            .bind(publish.now.0)
            .bind(OriginType::Internal.as_str())
            .bind(publish.repository.name.as_str())
            .bind(metadata_json(&publish.metadata)?)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
            version_by_id(conn, id).await?
        }
    };
    let version = row.to_version(&publish.package)?;
    let mut assets = assets_of(conn, row.id).await?;
    let name = &publish.asset.name;
    match assets.iter().find(|a| &a.name == name) {
        Some(existing) if existing.hashes.sha256 != publish.asset.hashes.sha256 => {
            return Err(StoreError::AlreadyExists {
                kind: ResourceKind::Asset,
                id: name.clone(),
            });
        }
        Some(_) => {}
        None => {
            let open = version.status == VersionStatus::Unfinished
                || (version.status == VersionStatus::Published && publish.append_to_published);
            if !open {
                return Err(StoreError::InvalidState(format!(
                    "package version {} is {}: no assets can be added",
                    publish.version, version.status
                )));
            }
            if assets.len() >= publish.max_assets_per_version as usize {
                return Err(StoreError::QuotaExceeded {
                    kind: ResourceKind::Asset,
                    limit: publish.max_assets_per_version,
                });
            }
            let asset_id = upsert_asset(conn, domain_id, &publish.asset).await?;
            sqlx::query(
                "INSERT INTO version_assets (version_id, name, asset_id) VALUES ($1, $2, $3)",
            )
            .bind(row.id)
            .bind(name)
            .bind(asset_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
            assets = assets_of(conn, row.id).await?;
        }
    }
    let new_revision = revision(&assets, &version.metadata);
    let finishing = !publish.unfinished && version.status == VersionStatus::Unfinished;
    if finishing || new_revision != version.revision {
        let (status, published_ms) = if finishing {
            (VersionStatus::Published, publish.now.0)
        } else {
            (version.status, version.published.0)
        };
        sqlx::query(
            "UPDATE package_versions SET status = $1, revision = $2, published_ms = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(&new_revision)
        .bind(published_ms)
        .bind(row.id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    let version = version_by_id(conn, row.id)
        .await?
        .to_version(&publish.package)?;
    let asset = assets
        .into_iter()
        .find(|a| &a.name == name)
        .ok_or_else(|| StoreError::Internal("published asset vanished".to_owned()))?;
    Ok(Published { version, asset })
}

async fn change_in(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
    package: &PackageKey,
    changes: &[VersionChange],
) -> Result<Vec<PackageVersion>> {
    let (_, repository_id) = resolve_repository(conn, repository).await?;
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let package_row = find_package(conn, repository_id, package)
        .await?
        .ok_or_else(contention)?;
    // Check every precondition before writing anything.
    let mut rows = Vec::with_capacity(changes.len());
    for change in changes {
        let row = find_version(conn, package_row.id, &change.version)
            .await?
            .ok_or_else(contention)?;
        if row.status()? != change.expected_status || row.revision != change.expected_revision {
            return Err(StoreError::Contention);
        }
        rows.push(row);
    }
    let mut released = Vec::new();
    let mut out = Vec::with_capacity(changes.len());
    for (change, row) in changes.iter().zip(rows) {
        match change.action {
            VersionAction::SetStatus(status) => {
                set_status(conn, row.id, status).await?;
                out.push(version_by_id(conn, row.id).await?.to_version(package)?);
            }
            VersionAction::Dispose => {
                released.extend(asset_ids_of_version(conn, row.id).await?);
                sqlx::query("DELETE FROM version_assets WHERE version_id = $1")
                    .bind(row.id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                set_status(conn, row.id, VersionStatus::Disposed).await?;
                out.push(version_by_id(conn, row.id).await?.to_version(package)?);
            }
            VersionAction::Delete => {
                released.extend(asset_ids_of_version(conn, row.id).await?);
                let before = row.to_version(package)?;
                sqlx::query("DELETE FROM package_versions WHERE id = $1")
                    .bind(row.id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                // Tags pointing at the deleted version go with it.
                sqlx::query("DELETE FROM dist_tags WHERE package_id = $1 AND version = $2")
                    .bind(package_row.id)
                    .bind(&row.version)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                out.push(before);
            }
        }
    }
    remove_unreferenced_assets(conn, &released).await?;
    Ok(out)
}

async fn set_status(conn: &mut PgConnection, id: i64, status: VersionStatus) -> Result<()> {
    sqlx::query("UPDATE package_versions SET status = $1 WHERE id = $2")
        .bind(status.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn delete_package_in(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
    package: &PackageKey,
) -> Result<Package> {
    let (_, repository_id) = resolve_repository(conn, repository).await?;
    let row = find_package(conn, repository_id, package)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            kind: ResourceKind::Package,
            id: package.name.clone(),
        })?;
    let released: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT va.asset_id FROM version_assets va \
         JOIN package_versions v ON v.id = va.version_id WHERE v.package_id = $1",
    )
    .bind(row.id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let id = row.id;
    let deleted = row.into_package()?;
    sqlx::query("DELETE FROM packages WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    remove_unreferenced_assets(conn, &released).await?;
    Ok(deleted)
}

async fn put_origin_in(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
    package: &PackageKey,
    origin: OriginRestrictions,
) -> Result<Package> {
    let (_, repository_id) = resolve_repository(conn, repository).await?;
    sqlx::query(
        "INSERT INTO packages (repository_id, format, namespace, name, publish, upstream) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (repository_id, format, namespace, name) \
         DO UPDATE SET publish = excluded.publish, upstream = excluded.upstream",
    )
    .bind(repository_id)
    .bind(package.format.as_str())
    .bind(namespace_of(package))
    .bind(&package.name)
    .bind(origin.publish.as_str())
    .bind(origin.upstream.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    find_package(conn, repository_id, package)
        .await?
        .ok_or_else(|| StoreError::Internal("package vanished while writing".to_owned()))?
        .into_package()
}

/// The rows of the named versions of one package, by version string, in one query.
async fn versions_named(
    conn: &mut PgConnection,
    package_id: i64,
    versions: &[&str],
) -> Result<HashMap<String, VersionRow>> {
    let rows: Vec<VersionRow> = sqlx::query_as(&format!(
        "SELECT {VERSION_COLUMNS} FROM package_versions \
         WHERE package_id = $1 AND version = ANY($2)"
    ))
    .bind(package_id)
    .bind(versions)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|row| (row.version.clone(), row))
        .collect())
}

/// CopyPackageVersions in a constant number of statements, whatever the number of versions and
/// assets: the checks read every source and destination row in one query per repository, and
/// the writes are `INSERT … SELECT`s from the source rows.
async fn copy_in(conn: &mut PgConnection, copy: &CopyVersions) -> Result<Vec<PackageVersion>> {
    let (_, destination_id) = resolve_repository(conn, &copy.destination).await?;
    let destination_package = find_package(conn, destination_id, &copy.package).await?;
    let plan = CopyPlan::of(copy)?;

    // Check every precondition before writing anything.
    let mut sources = HashMap::with_capacity(copy.items.len());
    for (from, versions) in &plan.sources {
        let (_, source_id) = match resolve_repository(conn, from).await {
            Ok(ids) => ids,
            Err(StoreError::NotFound { .. }) => return Err(StoreError::Contention),
            Err(e) => return Err(e),
        };
        let source_package = find_package(conn, source_id, &copy.package)
            .await?
            .ok_or_else(contention)?;
        sources.extend(versions_named(conn, source_package.id, versions).await?);
    }
    let mut existing = match &destination_package {
        Some(package) => versions_named(conn, package.id, &plan.versions).await?,
        None => HashMap::new(),
    };
    let mut written = Vec::with_capacity(copy.items.len());
    let mut inserted = Vec::new();
    let mut overwritten = Vec::new();
    let mut replacements = Vec::new();
    let mut source_ids = HashMap::with_capacity(copy.items.len());
    for item in &copy.items {
        let source = sources.remove(&item.version).ok_or_else(contention)?;
        source_ids.insert(item.version.as_str(), source.id);
        if source.revision != item.expected_revision || !source.status()?.copyable() {
            return Err(StoreError::Contention);
        }
        match (&item.replaces, existing.remove(&item.version)) {
            (None, None) => inserted.push(source.id),
            // The source is the destination version itself: nothing to write.
            (Some(expected), Some(row)) if &row.revision == expected && row.id == source.id => {}
            (Some(expected), Some(row)) if &row.revision == expected => {
                overwritten.push(row.id);
                replacements.push(source.id);
            }
            _ => return Err(StoreError::Contention),
        }
        // The destination row is the source row under another package.
        written.push(source.to_version(&copy.package)?);
    }

    let package_id = match &destination_package {
        Some(row) => row.id,
        None => {
            insert_package(conn, destination_id, &copy.package, copy.new_package_origin).await?
        }
    };
    let mut released = Vec::new();
    if !overwritten.is_empty() {
        released = sqlx::query_scalar(
            "DELETE FROM version_assets WHERE version_id = ANY($1) RETURNING asset_id",
        )
        .bind(&overwritten)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE package_versions AS d SET status = s.status, revision = s.revision, \
             published_ms = s.published_ms, origin_type = s.origin_type, \
             origin_repository = s.origin_repository, \
             origin_external_connection = s.origin_external_connection, metadata = s.metadata \
             FROM package_versions AS s \
             WHERE d.package_id = $1 AND d.version = s.version AND s.id = ANY($2)",
        )
        .bind(package_id)
        .bind(&replacements)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    // (destination, source) version ids, then the same asset rows for each: one domain, so
    // nothing is added to `assets`.
    let mut targets = overwritten;
    let mut origins = replacements;
    if !inserted.is_empty() {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "INSERT INTO package_versions (package_id, version, status, revision, published_ms, \
             origin_type, origin_repository, origin_external_connection, metadata) \
             SELECT $1, version, status, revision, published_ms, origin_type, \
             origin_repository, origin_external_connection, metadata \
             FROM package_versions WHERE id = ANY($2) RETURNING id, version",
        )
        .bind(package_id)
        .bind(&inserted)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        for (id, version) in rows {
            let origin = source_ids.get(version.as_str()).copied().ok_or_else(|| {
                StoreError::Internal(format!("copied version {version} has no source row"))
            })?;
            targets.push(id);
            origins.push(origin);
        }
    }
    if !targets.is_empty() {
        // Pairs of ids rather than a join on the version string: the planner has no statistics
        // for rows this transaction just inserted.
        sqlx::query(
            "INSERT INTO version_assets (version_id, name, asset_id) \
             SELECT m.target, va.name, va.asset_id \
             FROM unnest($1::BIGINT[], $2::BIGINT[]) AS m (target, origin) \
             JOIN version_assets AS va ON va.version_id = m.origin",
        )
        .bind(&targets)
        .bind(&origins)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    for (tag, version) in &copy.dist_tags {
        sqlx::query(
            "INSERT INTO dist_tags (package_id, tag, version) VALUES ($1, $2, $3) \
             ON CONFLICT (package_id, tag) DO UPDATE SET version = excluded.version",
        )
        .bind(package_id)
        .bind(tag)
        .bind(version)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    remove_unreferenced_assets(conn, &released).await?;
    Ok(written)
}

async fn set_dist_tag_in(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
    package: &PackageKey,
    tag: &str,
    version: &str,
) -> Result<()> {
    let (_, repository_id) = resolve_repository(conn, repository).await?;
    let version_not_found = || StoreError::NotFound {
        kind: ResourceKind::PackageVersion,
        id: version.to_owned(),
    };
    let package_row = find_package(conn, repository_id, package)
        .await?
        .ok_or_else(version_not_found)?;
    if find_version(conn, package_row.id, version).await?.is_none() {
        return Err(version_not_found());
    }
    sqlx::query(
        "INSERT INTO dist_tags (package_id, tag, version) VALUES ($1, $2, $3) \
         ON CONFLICT (package_id, tag) DO UPDATE SET version = excluded.version",
    )
    .bind(package_row.id)
    .bind(tag)
    .bind(version)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn remove_dist_tag_in(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
    package: &PackageKey,
    tag: &str,
) -> Result<()> {
    let (_, repository_id) = resolve_repository(conn, repository).await?;
    let tag_not_found = || StoreError::NotFound {
        kind: ResourceKind::Tag,
        id: tag.to_owned(),
    };
    let package_row = find_package(conn, repository_id, package)
        .await?
        .ok_or_else(tag_not_found)?;
    let removed = sqlx::query("DELETE FROM dist_tags WHERE package_id = $1 AND tag = $2")
        .bind(package_row.id)
        .bind(tag)
        .execute(conn)
        .await
        .map_err(db_err)?
        .rows_affected();
    if removed == 0 {
        return Err(tag_not_found());
    }
    Ok(())
}

async fn update_metadata_in(
    conn: &mut PgConnection,
    repository: &RepositoryKey,
    package: &PackageKey,
    version: &str,
    expected_revision: &str,
    metadata: &VersionMetadata,
) -> Result<PackageVersion> {
    let (_, repository_id) = resolve_repository(conn, repository).await?;
    let package_row = find_package(conn, repository_id, package)
        .await?
        .ok_or_else(contention)?;
    let row = find_version(conn, package_row.id, version)
        .await?
        .ok_or_else(contention)?;
    if row.revision != expected_revision {
        return Err(StoreError::Contention);
    }
    let assets = assets_of(conn, row.id).await?;
    sqlx::query("UPDATE package_versions SET metadata = $1, revision = $2 WHERE id = $3")
        .bind(metadata_json(metadata)?)
        .bind(revision(&assets, metadata))
        .bind(row.id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    version_by_id(conn, row.id).await?.to_version(package)
}

/// Refuses an asset list naming one asset twice (it could not be stored).
fn check_distinct_names(assets: &[Asset]) -> Result<()> {
    let mut names = HashSet::new();
    match assets.iter().find(|a| !names.insert(a.name.as_str())) {
        Some(duplicate) => Err(StoreError::InvalidState(format!(
            "asset {} is listed more than once",
            duplicate.name
        ))),
        None => Ok(()),
    }
}

async fn ingest_in(conn: &mut PgConnection, ingest: &IngestVersion) -> Result<PackageVersion> {
    let (domain_id, repository_id) = resolve_repository(conn, &ingest.repository).await?;
    let package_id = match find_package(conn, repository_id, &ingest.package).await? {
        Some(row) if row.upstream == Allow::Block.as_str() => {
            return Err(StoreError::NotAllowed(format!(
                "ingesting from upstream is blocked by the origin configuration of package {}",
                ingest.package
            )));
        }
        Some(row) => row.id,
        None => {
            insert_package(
                conn,
                repository_id,
                &ingest.package,
                OriginRestrictions::INGESTED_FIRST,
            )
            .await?
        }
    };
    check_distinct_names(&ingest.assets)?;
    if let Some(existing) = find_version(conn, package_id, &ingest.version).await? {
        return ingest_into_existing(conn, domain_id, existing, ingest).await;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO package_versions (package_id, version, status, revision, \
         published_ms, origin_type, origin_repository, origin_external_connection, \
         metadata) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8) RETURNING id",
    )
    .bind(package_id)
    .bind(&ingest.version)
    .bind(VersionStatus::Published.as_str())
    .bind(revision(&ingest.assets, &ingest.metadata))
    .bind(ingest.published.0)
    .bind(OriginType::External.as_str())
    .bind(&ingest.external_connection)
    .bind(metadata_json(&ingest.metadata)?)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    for asset in &ingest.assets {
        let asset_id = upsert_asset(conn, domain_id, asset).await?;
        sqlx::query("INSERT INTO version_assets (version_id, name, asset_id) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&asset.name)
            .bind(asset_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    version_by_id(conn, id).await?.to_version(&ingest.package)
}

/// Adds to an existing version the ingested assets it does not have yet (by name: one it has is
/// left as it is, whatever its content) and recomputes its revision if any was added. A Disposed
/// version keeps no assets and is returned unchanged.
async fn ingest_into_existing(
    conn: &mut PgConnection,
    domain_id: i64,
    row: VersionRow,
    ingest: &IngestVersion,
) -> Result<PackageVersion> {
    let version = row.to_version(&ingest.package)?;
    if version.status == VersionStatus::Disposed {
        return Ok(version);
    }
    let present: HashSet<String> = assets_of(conn, row.id)
        .await?
        .into_iter()
        .map(|a| a.name)
        .collect();
    let mut added = false;
    for asset in ingest.assets.iter().filter(|a| !present.contains(&a.name)) {
        let asset_id = upsert_asset(conn, domain_id, asset).await?;
        sqlx::query("INSERT INTO version_assets (version_id, name, asset_id) VALUES ($1, $2, $3)")
            .bind(row.id)
            .bind(&asset.name)
            .bind(asset_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        added = true;
    }
    if !added {
        return Ok(version);
    }
    let assets = assets_of(conn, row.id).await?;
    sqlx::query("UPDATE package_versions SET revision = $1 WHERE id = $2")
        .bind(revision(&assets, &version.metadata))
        .bind(row.id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    version_by_id(conn, row.id)
        .await?
        .to_version(&ingest.package)
}

/// Pushes `AND <column> starts with <prefix>` (a literal prefix: `%` and `_` match themselves).
fn push_prefix(q: &mut QueryBuilder<'_, Postgres>, column: &str, prefix: &str) {
    q.push(format!(" AND left({column}, length("))
        .push_bind(prefix.to_owned())
        .push(")) = ")
        .push_bind(prefix.to_owned());
}

// ---------------------------------------------------------------------------------------------
// The trait

#[async_trait]
impl PackageStore for PostgresStore {
    async fn publish_asset(&self, publish: PublishAsset) -> Result<Published> {
        let publish = &publish;
        retrying(|| async move {
            let mut tx = self.write().await?;
            lock_domain(&mut tx, &publish.repository.domain).await?;
            let published = publish_in(&mut tx, publish).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(published)
        })
        .await
    }

    async fn package(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
    ) -> Result<Option<Package>> {
        let mut tx = self.read().await?;
        lookup_package(&mut tx, repository, package)
            .await?
            .1
            .map(PackageRow::into_package)
            .transpose()
    }

    async fn list_packages(
        &self,
        repository: &RepositoryKey,
        filter: &PackageFilter,
        after: Option<&PackageCursor>,
        limit: u32,
    ) -> Result<Vec<Package>> {
        let mut tx = self.read().await?;
        let (_, repository_id) = resolve_repository(&mut tx, repository).await?;
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages WHERE repository_id = "
        ));
        q.push_bind(repository_id);
        if let Some(format) = filter.format {
            q.push(" AND format = ").push_bind(format.as_str());
        }
        if let Some(prefix) = &filter.namespace_prefix {
            push_prefix(&mut q, "namespace", prefix);
        }
        if let Some(prefix) = &filter.name_prefix {
            push_prefix(&mut q, "name", prefix);
        }
        if let Some(publish) = filter.publish {
            q.push(" AND publish = ").push_bind(publish.as_str());
        }
        if let Some(upstream) = filter.upstream {
            q.push(" AND upstream = ").push_bind(upstream.as_str());
        }
        if let Some(cursor) = after {
            q.push(" AND (format, namespace, name) > (")
                .push_bind(cursor.format.as_str())
                .push(", ")
                .push_bind(cursor.namespace.clone())
                .push(", ")
                .push_bind(cursor.name.clone())
                .push(")");
        }
        q.push(" ORDER BY format, namespace, name LIMIT ")
            .push_bind(i64::from(limit));
        let rows: Vec<PackageRow> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(PackageRow::into_package).collect()
    }

    async fn version(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        version: &str,
    ) -> Result<Option<VersionWithAssets>> {
        let mut tx = self.read().await?;
        let (_, Some(package_row)) = lookup_package(&mut tx, repository, package).await? else {
            return Ok(None);
        };
        let Some(row) = find_version(&mut tx, package_row.id, version).await? else {
            return Ok(None);
        };
        let assets = assets_of(&mut tx, row.id).await?;
        Ok(Some(VersionWithAssets {
            version: row.to_version(package)?,
            assets,
        }))
    }

    async fn list_versions(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        filter: &VersionFilter,
        order: VersionOrder,
        after: Option<&VersionCursor>,
        limit: u32,
    ) -> Result<Vec<PackageVersion>> {
        let mut tx = self.read().await?;
        let (_, Some(package_row)) = lookup_package(&mut tx, repository, package).await? else {
            return Ok(Vec::new());
        };
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {VERSION_COLUMNS} FROM package_versions WHERE package_id = "
        ));
        q.push_bind(package_row.id);
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(origin_type) = filter.origin_type {
            q.push(" AND origin_type = ")
                .push_bind(origin_type.as_str());
        }
        match order {
            VersionOrder::Version => {
                if let Some(cursor) = after {
                    q.push(" AND version > ").push_bind(cursor.version.clone());
                }
                q.push(" ORDER BY version");
            }
            VersionOrder::PublishedTimeDescending => {
                if let Some(cursor) = after {
                    q.push(" AND (published_ms < ")
                        .push_bind(cursor.published.0)
                        .push(" OR (published_ms = ")
                        .push_bind(cursor.published.0)
                        .push(" AND version > ")
                        .push_bind(cursor.version.clone())
                        .push("))");
                }
                q.push(" ORDER BY published_ms DESC, version");
            }
        }
        q.push(" LIMIT ").push_bind(i64::from(limit));
        let rows: Vec<VersionRow> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        rows.iter().map(|row| row.to_version(package)).collect()
    }

    async fn change_versions(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        changes: &[VersionChange],
    ) -> Result<Vec<PackageVersion>> {
        // Not retried: a `Contention` here is mostly a precondition that no longer holds, which
        // only the caller can decide again.
        let mut tx = self.write().await?;
        lock_domain(&mut tx, &repository.domain).await?;
        let changed = change_in(&mut tx, repository, package, changes).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(changed)
    }

    async fn delete_package(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
    ) -> Result<Package> {
        retrying(|| async move {
            let mut tx = self.write().await?;
            lock_domain(&mut tx, &repository.domain).await?;
            let deleted = delete_package_in(&mut tx, repository, package).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(deleted)
        })
        .await
    }

    async fn put_origin_configuration(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        origin: OriginRestrictions,
    ) -> Result<Package> {
        retrying(|| async move {
            let mut tx = self.write().await?;
            lock_domain(&mut tx, &repository.domain).await?;
            let stored = put_origin_in(&mut tx, repository, package, origin).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(stored)
        })
        .await
    }

    async fn copy_versions(&self, copy: CopyVersions) -> Result<Vec<PackageVersion>> {
        // Not retried: see `change_versions`.
        let mut tx = self.write().await?;
        lock_domain(&mut tx, &copy.destination.domain).await?;
        let written = copy_in(&mut tx, &copy).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(written)
    }

    async fn package_listing(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        status: Option<VersionStatus>,
        with_assets: bool,
    ) -> Result<Option<PackageListing>> {
        let mut tx = self.read().await?;
        let (_, Some(package_row)) = lookup_package(&mut tx, repository, package).await? else {
            return Ok(None);
        };
        let rows: Vec<VersionRow> = sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM package_versions \
             WHERE package_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY version"
        ))
        .bind(package_row.id)
        .bind(status.map(VersionStatus::as_str))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let dist_tags =
            sqlx::query_as("SELECT tag, version FROM dist_tags WHERE package_id = $1 ORDER BY tag")
                .bind(package_row.id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        let assets: Vec<VersionAssetRow> = if with_assets {
            sqlx::query_as(
                "SELECT va.version_id, va.name, a.size, a.md5, a.sha1, a.sha256, a.sha512 \
                 FROM package_versions v JOIN version_assets va ON va.version_id = v.id \
                 JOIN assets a ON a.id = va.asset_id \
                 WHERE v.package_id = $1 AND ($2 IS NULL OR v.status = $2) \
                 ORDER BY va.version_id, va.name",
            )
            .bind(package_row.id)
            .bind(status.map(VersionStatus::as_str))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
        } else {
            Vec::new()
        };
        sql::package_listing(package, package_row, &rows, assets, dist_tags).map(Some)
    }

    async fn dist_tags(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
    ) -> Result<Vec<(String, String)>> {
        let mut tx = self.read().await?;
        let (_, Some(package_row)) = lookup_package(&mut tx, repository, package).await? else {
            return Ok(Vec::new());
        };
        sqlx::query_as("SELECT tag, version FROM dist_tags WHERE package_id = $1 ORDER BY tag")
            .bind(package_row.id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)
    }

    async fn set_dist_tag(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        tag: &str,
        version: &str,
    ) -> Result<()> {
        retrying(|| async move {
            let mut tx = self.write().await?;
            lock_domain(&mut tx, &repository.domain).await?;
            set_dist_tag_in(&mut tx, repository, package, tag, version).await?;
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn remove_dist_tag(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        tag: &str,
    ) -> Result<()> {
        retrying(|| async move {
            let mut tx = self.write().await?;
            lock_domain(&mut tx, &repository.domain).await?;
            remove_dist_tag_in(&mut tx, repository, package, tag).await?;
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn update_version_metadata(
        &self,
        repository: &RepositoryKey,
        package: &PackageKey,
        version: &str,
        expected_revision: &str,
        metadata: VersionMetadata,
    ) -> Result<PackageVersion> {
        // Not retried: see `change_versions`.
        let mut tx = self.write().await?;
        lock_domain(&mut tx, &repository.domain).await?;
        let updated = update_metadata_in(
            &mut tx,
            repository,
            package,
            version,
            expected_revision,
            &metadata,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn ingest_version(&self, ingest: IngestVersion) -> Result<PackageVersion> {
        let ingest = &ingest;
        retrying(|| async move {
            let mut tx = self.write().await?;
            lock_domain(&mut tx, &ingest.repository.domain).await?;
            let ingested = ingest_in(&mut tx, ingest).await?;
            tx.commit().await.map_err(db_err)?;
            Ok(ingested)
        })
        .await
    }

    async fn unreferenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>> {
        let mut tx = self.read().await?;
        let referenced: HashSet<String> =
            sqlx::query_scalar("SELECT DISTINCT sha256 FROM assets WHERE sha256 = ANY($1)")
                .bind(sha256s)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .into_iter()
                .collect();
        let mut seen = HashSet::new();
        Ok(sha256s
            .iter()
            .filter(|s| !referenced.contains(*s) && seen.insert(s.as_str()))
            .cloned()
            .collect())
    }
}
