//! Maven's rules over the format kit: files deployed one `PUT` at a time into a version that
//! stays Unfinished until a `maven-metadata.xml` naming it arrives, checksum sidecars checked
//! against the stored hashes, `maven-metadata.xml` generated from the repository's view (its
//! upstreams and external connections included), files resolved through upstreams (retained)
//! and the `public:maven-*` connections (ingested; SNAPSHOTs never).

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use reliquary_core::kit::{ExternalVersions, FormatRules, Ingest, Ingested, MergeSource, Staged};
use reliquary_core::{AssetDownload, Error, Result, Service};
use reliquary_store::{PublishAsset, RepositoryKey, ResourceKind, StoreError, VersionWithAssets};
use reliquary_types::{
    Asset, ExternalConnection, PackageFormat, PackageKey, Timestamp, VersionMetadata, VersionStatus,
};

use super::{
    self as format, Build, Checksum, MAX_METADATA_BYTES, MAX_POM_BYTES, METADATA, MavenError,
};

/// Maven's rules as the shared operations see them (the defaults).
#[derive(Debug, Clone, Copy, Default)]
pub struct MavenRules;

impl FormatRules for MavenRules {
    fn format(&self) -> PackageFormat {
        PackageFormat::Maven
    }
}

/// How many times a POM's metadata is written again when a concurrent deploy changed the
/// version in between.
const METADATA_ATTEMPTS: u32 = 4;

pub(super) fn maven_key(group: &str, artifact: &str) -> PackageKey {
    PackageKey {
        format: PackageFormat::Maven,
        namespace: Some(group.to_owned()),
        name: artifact.to_owned(),
    }
}

fn invalid(e: &MavenError) -> Error {
    Error::validation(e.to_string())
}

fn not_found(what: &str) -> Error {
    Error::not_found(
        ResourceKind::Package,
        what,
        format!("{what} is not in this repository"),
    )
}

/// `yyyyMMddHHmmss` (UTC) of a timestamp, as `lastUpdated` has it.
fn last_updated(at: Timestamp) -> String {
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.0) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "19700101000000".to_owned())
}

/// The directory of a version (or of the artifact, without one) in the repository layout.
fn directory(key: &PackageKey, version: Option<&str>) -> String {
    let group = key
        .namespace
        .as_deref()
        .unwrap_or_default()
        .replace('.', "/");
    match version {
        Some(version) => format!("{group}/{}/{version}", key.name),
        None => format!("{group}/{}", key.name),
    }
}

/// Whether a coordinate can be asked of an external repository: what a path segment may hold.
fn askable(key: &PackageKey) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            && !s.starts_with('.')
            && !s.contains("..")
    };
    ok(key.namespace.as_deref().unwrap_or_default()) && ok(&key.name)
}

/// The versions an external repository's artifact-level `maven-metadata.xml` lists (cached
/// and parsed once per fetched copy by the kit), SNAPSHOTs left out; `Ok(None)` when it does
/// not know the artifact.
async fn remote_versions(
    service: &Service,
    connection: ExternalConnection,
    key: &PackageKey,
) -> std::result::Result<Option<Arc<format::ArtifactMetadata>>, String> {
    if !askable(key) {
        return Ok(None);
    }
    let path = format!("{}/{METADATA}", directory(key, None));
    service
        .external_parsed(
            connection,
            &path,
            "application/xml",
            MAX_METADATA_BYTES,
            |document| {
                let mut parsed =
                    format::parse_metadata(&document.body).map_err(|e| e.to_string())?;
                parsed.versions.retain(|v| !format::is_snapshot(v));
                Ok(parsed)
            },
        )
        .await
}

/// The artifact-level listing: Published versions (their `lastUpdated`), then what external
/// repositories list.
struct Versions;

#[async_trait::async_trait]
impl MergeSource for Versions {
    type Version = Option<String>;

    fn stored(&self, _: &RepositoryKey, stored: VersionWithAssets) -> Option<Option<String>> {
        (stored.version.status == VersionStatus::Published)
            .then(|| Some(last_updated(stored.version.published)))
    }

    async fn external(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
    ) -> std::result::Result<Option<ExternalVersions<Option<String>>>, String> {
        let Some(metadata) = remote_versions(service, connection, key).await? else {
            return Ok(None);
        };
        let updated = &metadata.last_updated;
        Ok(Some(ExternalVersions {
            versions: metadata
                .versions
                .iter()
                .map(|v| (v.clone(), updated.clone()))
                .collect(),
            dist_tags: Vec::new(),
        }))
    }
}

/// The artifact-level `maven-metadata.xml` as the repository sees the artifact: its own and
/// its upstreams' Published versions and those of external repositories, in Maven order.
///
/// # Errors
/// `NotFound` when no repository of the graph has a Published version of it.
pub async fn artifact_metadata(
    service: &Service,
    repository: &RepositoryKey,
    group: &str,
    artifact: &str,
) -> Result<Vec<u8>> {
    let key = maven_key(group, artifact);
    let missing = || not_found(&format!("{group}:{artifact}"));
    let merged = service
        .merged_listing(repository, &key, None, false, &Versions)
        .await?
        .filter(|m| !m.versions.is_empty());
    let Some(merged) = merged else {
        // `group/maven-metadata.xml` has the same path shape: a plugin group's document (plugin
        // prefixes), as the external repositories of the search order have it.
        let plugins = group_plugins(service, repository, &key).await?;
        if plugins.is_empty() {
            return Err(missing());
        }
        return Ok(format::render_group_metadata(&plugins).into_bytes());
    };
    let updated = merged
        .versions
        .values()
        .flatten()
        .max()
        .cloned()
        .unwrap_or_else(|| "19700101000000".to_owned());
    let mut versions: Vec<String> = merged.versions.into_keys().collect();
    versions.sort_by(|a, b| format::compare_versions(a, b));
    Ok(format::render_artifact_metadata(group, artifact, &versions, &updated).into_bytes())
}

/// The plugins the external repositories of the search order list for a group (the
/// group-level document at the path an artifact's would have), first prefix wins.
async fn group_plugins(
    service: &Service,
    repository: &RepositoryKey,
    key: &PackageKey,
) -> Result<Vec<format::Plugin>> {
    let mut plugins: Vec<format::Plugin> = Vec::new();
    for stop in service.search_order(repository, key).await? {
        let Some(connection) = stop.connection else {
            continue;
        };
        match remote_versions(service, connection, key).await {
            Ok(Some(metadata)) => {
                for plugin in &metadata.plugins {
                    if !plugins.iter().any(|p| p.prefix == plugin.prefix) {
                        plugins.push(plugin.clone());
                    }
                }
            }
            Ok(None) => {}
            Err(detail) => {
                tracing::warn!(error.detail = %detail, connection = connection.name(), "external repository unavailable");
            }
        }
    }
    Ok(plugins)
}

/// A SNAPSHOT version's file names, Published only; never from external repositories.
/// With the build a deployed version-level document named last, if any.
struct Builds;

#[async_trait::async_trait]
impl MergeSource for Builds {
    type Version = (Vec<String>, Option<Build>);

    fn stored(
        &self,
        _: &RepositoryKey,
        stored: VersionWithAssets,
    ) -> Option<(Vec<String>, Option<Build>)> {
        (stored.version.status == VersionStatus::Published).then(|| {
            (
                stored.assets.into_iter().map(|a| a.name).collect(),
                recorded_build(&stored.version.metadata),
            )
        })
    }

    async fn external(
        &self,
        _: &Service,
        _: ExternalConnection,
        _: &PackageKey,
    ) -> std::result::Result<Option<ExternalVersions<(Vec<String>, Option<Build>)>>, String> {
        Ok(None)
    }
}

/// Where a SNAPSHOT version keeps the build its last deployed version-level document named,
/// in `VersionMetadata::extra`.
const SNAPSHOT_BUILD: &str = "snapshotBuild";

fn recorded_build(metadata: &VersionMetadata) -> Option<Build> {
    let build = metadata.extra.as_ref()?.get(SNAPSHOT_BUILD)?;
    Some(Build {
        number: u32::try_from(build.get("buildNumber")?.as_u64()?).ok()?,
        timestamp: build.get("timestamp")?.as_str()?.to_owned(),
    })
}

fn with_recorded_build(metadata: &VersionMetadata, build: &Build) -> VersionMetadata {
    let mut extra = match &metadata.extra {
        Some(serde_json::Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };
    extra.insert(
        SNAPSHOT_BUILD.to_owned(),
        serde_json::json!({"timestamp": build.timestamp, "buildNumber": build.number}),
    );
    VersionMetadata {
        extra: Some(serde_json::Value::Object(extra)),
        ..metadata.clone()
    }
}

/// The SNAPSHOT-version-level `maven-metadata.xml`: the newest timestamped build among the
/// version's files and each file of that build.
///
/// # Errors
/// `NotFound` when the repository's view has no Published SNAPSHOT build of it.
pub async fn version_metadata(
    service: &Service,
    repository: &RepositoryKey,
    group: &str,
    artifact: &str,
    version: &str,
) -> Result<Vec<u8>> {
    let key = maven_key(group, artifact);
    let (newest, files) = newest_build(service, repository, &key, version)
        .await?
        .ok_or_else(|| not_found(&format!("{group}:{artifact}:{version}")))?;
    Ok(format::render_version_metadata(group, artifact, version, &newest, &files).into_bytes())
}

/// The current build of a SNAPSHOT in the repository's view (Published only): the one its
/// last deployed version-level document named, else the newest; and that build's files.
async fn newest_build(
    service: &Service,
    repository: &RepositoryKey,
    key: &PackageKey,
    version: &str,
) -> Result<Option<(Build, Vec<format::SnapshotFile>)>> {
    let Some(mut merged) = service
        .merged_listing(repository, key, None, true, &Builds)
        .await?
    else {
        return Ok(None);
    };
    let Some((names, recorded)) = merged.versions.remove(version) else {
        return Ok(None);
    };
    let builds: Vec<(Build, &str)> = names
        .iter()
        .filter_map(|name| format::snapshot_build(name, &key.name, version))
        .collect();
    // The build the last deployed version-level document named (a build being deployed is
    // not served before its document arrives); without one, the highest build.
    let newest = match recorded {
        Some(build) if builds.iter().any(|(b, _)| *b == build) => build,
        _ => match builds.iter().map(|(b, _)| b).max() {
            Some(build) => build.clone(),
            None => return Ok(None),
        },
    };
    let files = builds
        .iter()
        .filter(|(b, _)| *b == newest)
        .map(|(_, tail)| format::xml::classifier_and_extension(tail))
        .collect();
    Ok(Some((newest, files)))
}

/// Where files come from when neither the repository nor its upstreams have them.
struct Files;

#[async_trait::async_trait]
impl Ingest for Files {
    async fn fetch(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
        asset: &str,
    ) -> Result<Option<Ingested>> {
        if format::is_snapshot(version) || !askable(key) {
            return Ok(None);
        }
        // The file's SHA-1 sidecar gives the digest its bytes must have, and the URL that
        // answered for it the file's own.
        let path = format!("{}/{asset}.sha1", directory(key, Some(version)));
        let sidecar = match service
            .external_document(connection, &path, "text/plain", 1024)
            .await
        {
            Ok(Some(document)) => document,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, package = %key, "external repository unavailable");
                return Ok(None);
            }
        };
        let Some(expected) = Checksum::Sha1.parse_body(&sidecar.body) else {
            tracing::warn!(package = %key, asset, "external checksum sidecar is not a SHA-1");
            return Ok(None);
        };
        let Some(url) = sidecar.url.strip_suffix(".sha1") else {
            return Ok(None);
        };
        let Some(fetched) = service
            .fetch_external_file(connection, url, asset, |hashes| hashes.sha1 == expected)
            .await?
        else {
            return Ok(None);
        };
        let metadata = if asset.ends_with(".pom") {
            match read_pom(service, &fetched).await {
                Ok(pom) => pom.metadata,
                Err(e) => {
                    tracing::warn!(error = %e, package = %key, "external POM not read");
                    default_metadata(key)
                }
            }
        } else {
            default_metadata(key)
        };
        Ok(Some(Ingested {
            assets: vec![fetched],
            metadata,
        }))
    }
}

fn default_metadata(key: &PackageKey) -> VersionMetadata {
    VersionMetadata {
        display_name: Some(key.name.clone()),
        ..VersionMetadata::default()
    }
}

async fn read_pom(service: &Service, asset: &Asset) -> Result<format::Pom> {
    if asset.size > MAX_POM_BYTES {
        return Err(Error::validation("The POM is too large to read"));
    }
    let bytes: Vec<u8> = service
        .open_blob(asset)
        .await?
        .into_stream()
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .map_err(|e| Error::Internal {
            message: format!("reading a POM: {e}"),
        })?;
    tokio::task::spawn_blocking(move || format::parse_pom(&bytes))
        .await
        .map_err(|e| Error::Internal {
            message: format!("parsing a POM: {e}"),
        })?
        .map_err(|e| invalid(&e))
}

/// A file of a version, resolved by the kit: this repository, its upstreams (retained), then
/// its external connection (ingested).
///
/// # Errors
/// `NotFound`.
pub async fn file(
    service: &Service,
    repository: &RepositoryKey,
    group: &str,
    artifact: &str,
    version: &str,
    file: &str,
) -> Result<AssetDownload> {
    let key = maven_key(group, artifact);
    let missing = || not_found(&format!("{}/{file}", directory(&key, Some(version))));
    match service
        .resolve_asset(repository, &key, version, file, &Files)
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => return other,
    }
    // `lib-1.0-SNAPSHOT.jar` (what a client asks without version-level metadata) is the newest
    // build's `lib-1.0-20261129.101500-3.jar`.
    let Some(tail) = file
        .strip_prefix(artifact)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_prefix(version))
        .filter(|_| format::is_snapshot(version))
    else {
        return Err(missing());
    };
    let (build, _) = newest_build(service, repository, &key, version)
        .await?
        .ok_or_else(missing)?;
    let timestamped = format!("{artifact}-{}{tail}", build.version(version));
    service
        .resolve_asset(repository, &key, version, &timestamped, &Files)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => missing(),
            other => other,
        })
}

/// Coordinates a deployed file belongs to.
pub struct Coordinates<'a> {
    pub group: &'a str,
    pub artifact: &'a str,
    pub version: &'a str,
}

/// Publishes one deployed file as an asset of its version (created Unfinished): a POM
/// (`artifact-version.pom`) must be a POM of these coordinates, and its description fields
/// and dependencies become the version's metadata. The staged upload is discarded when
/// anything is refused.
///
/// # Errors
/// `Validation` (a POM that is not one, or of other coordinates), `Conflict` (different
/// content under an existing name, the version exists upstream), `AccessDenied` (publish
/// BLOCK), `QuotaExceeded`.
pub async fn deploy_file(
    service: &Service,
    repository: &RepositoryKey,
    at: &Coordinates<'_>,
    file: &str,
    upload: Staged,
) -> Result<()> {
    let key = maven_key(at.group, at.artifact);
    let checked = async {
        service.check_publish(repository, &key, at.version).await?;
        if is_pom(file, at) {
            check_pom(service, &upload, at).await.map(Some)
        } else {
            Ok(None)
        }
    }
    .await;
    let pom = match checked {
        Ok(pom) => pom,
        Err(e) => {
            service.discard(upload).await;
            return Err(e);
        }
    };
    let asset = service.commit(&upload, file).await?;
    let metadata = pom.clone().unwrap_or_else(|| default_metadata(&key));
    let published = service
        .publish_asset(PublishAsset {
            repository: repository.clone(),
            package: key.clone(),
            version: at.version.to_owned(),
            asset,
            unfinished: true,
            metadata,
            now: Timestamp::now(),
            max_assets_per_version: service.config().quotas.assets_per_version,
            append_to_published: true,
            new_version_only: false,
        })
        .await?;
    if let Some(metadata) = pom
        && published.version.metadata != metadata
    {
        // The POM's fields; what the server keeps in `extra` (the SNAPSHOT build) stays.
        let from_pom = |current: &VersionMetadata| VersionMetadata {
            extra: current.extra.clone(),
            ..metadata.clone()
        };
        set_metadata(service, repository, &key, at.version, from_pom).await?;
    }
    Ok(())
}

/// The main POM of the version (not `-classifier.pom` files).
fn is_pom(file: &str, at: &Coordinates<'_>) -> bool {
    let Some(rest) = file
        .strip_prefix(at.artifact)
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    if rest.strip_prefix(at.version) == Some(".pom") {
        return true;
    }
    format::snapshot_build(file, at.artifact, at.version).is_some_and(|(_, tail)| tail == ".pom")
}

async fn check_pom(
    service: &Service,
    upload: &Staged,
    at: &Coordinates<'_>,
) -> Result<VersionMetadata> {
    if upload.size() > MAX_POM_BYTES {
        return Err(Error::validation(format!(
            "The POM exceeds {MAX_POM_BYTES} bytes"
        )));
    }
    let pom = service
        .inspect_staged(upload, |reader| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(reader, MAX_POM_BYTES + 1),
                &mut bytes,
            )
            .map_err(|e| MavenError::InvalidDocument {
                document: "POM",
                reason: e.to_string(),
            })?;
            format::parse_pom(&bytes)
        })
        .await?
        .map_err(|e| invalid(&e))?;
    let matches =
        |found: Option<&str>, wanted: &str| found.is_some_and(|f| f == wanted || f.contains("${"));
    if !matches(pom.group.as_deref(), at.group)
        || pom.artifact.as_deref() != Some(at.artifact)
        || !matches(pom.version.as_deref(), at.version)
    {
        return Err(invalid(&MavenError::Mismatch(format!(
            "The POM's coordinates {}:{}:{} do not match the path's {}:{}:{}",
            pom.group.as_deref().unwrap_or("?"),
            pom.artifact.as_deref().unwrap_or("?"),
            pom.version.as_deref().unwrap_or("?"),
            at.group,
            at.artifact,
            at.version
        ))));
    }
    Ok(pom.metadata)
}

/// Replaces a version's metadata by `change(current)`, again when a concurrent deploy changed
/// the version in between.
async fn set_metadata(
    service: &Service,
    repository: &RepositoryKey,
    key: &PackageKey,
    version: &str,
    change: impl Fn(&VersionMetadata) -> VersionMetadata,
) -> Result<()> {
    for _ in 0..METADATA_ATTEMPTS {
        let Some(current) = service.store().version(repository, key, version).await? else {
            return Ok(());
        };
        let metadata = change(&current.version.metadata);
        if current.version.metadata == metadata {
            return Ok(());
        }
        match service
            .store()
            .update_version_metadata(
                repository,
                key,
                version,
                &current.version.revision,
                metadata,
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::Contention) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Err(Error::Conflict {
        resource_type: Some(ResourceKind::PackageVersion.as_str()),
        resource_id: Some(version.to_owned()),
        message: "The version was changed concurrently by other requests; retry the request"
            .to_owned(),
    })
}

/// A deployed checksum sidecar: its digest must be the stored file's. Nothing is stored.
///
/// # Errors
/// `Validation` (not a digest, or not the file's), `NotFound` (no such file deployed).
pub async fn check_sidecar(
    service: &Service,
    repository: &RepositoryKey,
    at: &Coordinates<'_>,
    file: &str,
    checksum: Checksum,
    body: &[u8],
) -> Result<()> {
    let sent = checksum.parse_body(body).ok_or_else(|| {
        Error::validation(format!(
            "The {file}{} body is not a {}-character hex digest",
            checksum.suffix(),
            checksum.hex_len()
        ))
    })?;
    let key = maven_key(at.group, at.artifact);
    let asset = service
        .store()
        .version(repository, &key, at.version)
        .await?
        .and_then(|v| v.assets.into_iter().find(|a| a.name == file))
        .ok_or_else(|| {
            Error::not_found(
                ResourceKind::Asset,
                file,
                format!("{file} has not been deployed; deploy it before its checksum"),
            )
        })?;
    if checksum.of(&asset.hashes) != sent {
        return Err(Error::validation(format!(
            "The {} checksum sent for {file} does not match the deployed file",
            &checksum.suffix()[1..]
        )));
    }
    Ok(())
}

/// A deployed `maven-metadata.xml` (artifact level, or a SNAPSHOT version's): it must be a
/// metadata document of these coordinates. It is not stored (the server generates its own);
/// each Unfinished version of this repository that it names becomes Published.
///
/// # Errors
/// `Validation` (not a metadata document, other coordinates), store failures.
pub async fn deploy_metadata(
    service: &Service,
    repository: &RepositoryKey,
    group: &str,
    artifact: &str,
    version: Option<&str>,
    body: Bytes,
) -> Result<()> {
    let parsed = tokio::task::spawn_blocking(move || format::parse_metadata(&body))
        .await
        .map_err(|e| Error::Internal {
            message: format!("parsing maven-metadata.xml: {e}"),
        })?
        .map_err(|e| invalid(&e))?;
    let differs = |found: Option<&str>, wanted: &str| found.is_some_and(|f| f != wanted);
    if differs(parsed.group.as_deref(), group)
        || differs(parsed.artifact.as_deref(), artifact)
        || version.is_some_and(|v| differs(parsed.version.as_deref(), v))
    {
        return Err(invalid(&MavenError::Mismatch(format!(
            "The maven-metadata.xml names {}:{}, not the path's {group}:{artifact}",
            parsed.group.as_deref().unwrap_or("?"),
            parsed.artifact.as_deref().unwrap_or("?"),
        ))));
    }
    let key = maven_key(group, artifact);
    if let (Some(version), Some(build)) = (version, &parsed.snapshot) {
        // Record the build first: once the version is Published, this build is what it serves.
        set_metadata(service, repository, &key, version, |current| {
            with_recorded_build(current, build)
        })
        .await?;
    }
    let mut named: BTreeSet<String> = parsed.versions.into_iter().collect();
    named.extend(parsed.version);
    named.extend(version.map(str::to_owned));
    // One read of the package's Unfinished versions, however many versions the document names.
    let Some(unfinished) = service
        .store()
        .package_listing(repository, &key, Some(VersionStatus::Unfinished), true)
        .await?
    else {
        return Ok(());
    };
    for found in unfinished.versions {
        let name = found.version.version;
        if !named.contains(&name) {
            continue;
        }
        let Some(asset) = found.assets.into_iter().next() else {
            continue;
        };
        // Publishing one of its assets again, without `unfinished`, finishes the version.
        service
            .publish_asset(PublishAsset {
                repository: repository.clone(),
                package: key.clone(),
                version: name.clone(),
                asset,
                unfinished: false,
                metadata: default_metadata(&key),
                now: Timestamp::now(),
                max_assets_per_version: service.config().quotas.assets_per_version,
                append_to_published: true,
                new_version_only: false,
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_updated_is_fourteen_digits_utc() {
        assert_eq!(last_updated(Timestamp(0)), "19700101000000");
        assert_eq!(last_updated(Timestamp(1_795_910_400_000)), "20261129000000");
    }

    #[test]
    fn only_layout_safe_coordinates_are_asked_of_an_external_repository() {
        assert!(askable(&maven_key("com.google.guava", "guava")));
        for (group, artifact) in [
            ("", "a"),
            ("a/b", "c"),
            ("..", "a"),
            ("a", "b?c"),
            ("a", ""),
        ] {
            assert!(!askable(&maven_key(group, artifact)), "{group}:{artifact}");
        }
    }
}
