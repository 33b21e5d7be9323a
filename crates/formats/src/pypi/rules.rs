//! PyPI's rules over the format kit: twine uploads into multi-file versions, the simple API
//! merged over the upstream graph, files resolved through upstreams and the `public:pypi`
//! external connection.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use reliquary_core::kit::{ExternalVersions, FormatRules, Ingest, Ingested, MergeSource, Staged};
use reliquary_core::time::iso8601;
use reliquary_core::{AssetDownload, Error, Result, Service};
use reliquary_store::{PublishAsset, RepositoryKey, ResourceKind, VersionWithAssets};
use reliquary_types::{
    Asset, ExternalConnection, PackageFormat, PackageKey, Timestamp, VersionMetadata, VersionStatus,
};

use super::{self as format, SimpleFile, UploadForm};

/// A wheel's core metadata is extracted at upload when the wheel is at most this large.
const MAX_WHEEL_FOR_METADATA: u64 = 64 * 1024 * 1024;
/// Largest project page read from an external index.
const MAX_REMOTE_PAGE_BYTES: u64 = 64 * 1024 * 1024;
/// What `pip` asks an index for, JSON first.
const PAGE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// PyPI's rules as the shared operations see them (the defaults).
#[derive(Debug, Clone, Copy, Default)]
pub struct PypiRules;

impl FormatRules for PypiRules {
    fn format(&self) -> PackageFormat {
        PackageFormat::Pypi
    }
}

/// A project page: its normalized name, versions and files, ready to render.
#[derive(Debug, Clone)]
pub struct ProjectPage {
    pub project: String,
    pub versions: Vec<String>,
    pub files: Vec<SimpleFile>,
}

fn pypi_key(project: &str) -> PackageKey {
    PackageKey {
        format: PackageFormat::Pypi,
        namespace: None,
        name: format::normalize(project),
    }
}

fn not_found(what: &str) -> Error {
    Error::not_found(
        ResourceKind::Package,
        what,
        format!("{what} is not in this index"),
    )
}

/// Whether a normalized name can be asked of an external index: PEP 508 names normalize to
/// ASCII letters, digits and single `-`; anything else never leaves the server.
fn askable(normalized: &str) -> bool {
    !normalized.is_empty()
        && normalized
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The files the external index lists for a project (cached by the kit); `Ok(None)` when it
/// does not know the project.
async fn remote_files(
    service: &Service,
    connection: ExternalConnection,
    project: &str,
) -> std::result::Result<Option<Arc<Vec<SimpleFile>>>, String> {
    if !askable(project) {
        return Ok(None);
    }
    let path = format!("{project}/");
    service
        .external_parsed(
            connection,
            &path,
            PAGE_ACCEPT,
            MAX_REMOTE_PAGE_BYTES,
            |page| {
                format::parse_project_page(&page.body, &page.content_type, &page.url)
                    .map_err(|e| e.to_string())
            },
        )
        .await
}

/// Where PyPI's merged listing and resolution read: stored files, and the external index.
struct Files<'a> {
    /// `{public-url}/pypi/d/{domain}-{owner}/{repo}` of the requested repository.
    base: &'a str,
}

impl Files<'_> {
    fn url(&self, project: &str, version: &str, filename: &str) -> String {
        format!("{}/files/{project}/{version}/{filename}", self.base)
    }
}

#[async_trait::async_trait]
impl MergeSource for Files<'_> {
    type Version = Vec<SimpleFile>;

    fn stored(&self, _: &RepositoryKey, stored: VersionWithAssets) -> Option<Vec<SimpleFile>> {
        let v = &stored.version;
        let yanked = match v.status {
            VersionStatus::Published => None,
            VersionStatus::Unlisted => Some(String::new()),
            _ => return None,
        };
        let requires_python = v
            .metadata
            .extra
            .as_ref()
            .and_then(|e| e.get("requires_python"))
            .and_then(|r| r.as_str())
            .map(str::to_owned);
        let metadata_hashes: BTreeMap<&str, &str> = stored
            .assets
            .iter()
            .filter_map(|a| {
                a.name
                    .strip_suffix(".metadata")
                    .map(|f| (f, a.hashes.sha256.as_str()))
            })
            .collect();
        let files = stored
            .assets
            .iter()
            .filter(|a| !a.name.ends_with(".metadata"))
            .map(|a| SimpleFile {
                filename: a.name.clone(),
                url: self.url(&v.package.name, &v.version, &a.name),
                sha256: a.hashes.sha256.clone(),
                requires_python: requires_python.clone(),
                yanked: yanked.clone(),
                metadata_sha256: metadata_hashes
                    .get(a.name.as_str())
                    .map(|h| (*h).to_owned()),
                size: a.size,
                upload_time: Some(iso8601(v.published)),
            })
            .collect();
        Some(files)
    }

    async fn external(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
    ) -> std::result::Result<Option<ExternalVersions<Vec<SimpleFile>>>, String> {
        let Some(files) = remote_files(service, connection, &key.name).await? else {
            return Ok(None);
        };
        let mut versions: BTreeMap<String, Vec<SimpleFile>> = BTreeMap::new();
        for file in files.iter() {
            let Some(version) = format::version_from_filename(&file.filename, &key.name) else {
                continue;
            };
            let url = self.url(&key.name, &version, &file.filename);
            versions.entry(version).or_default().push(SimpleFile {
                url,
                metadata_sha256: None,
                ..file.clone()
            });
        }
        Ok(Some(ExternalVersions {
            versions: versions.into_iter().collect(),
            dist_tags: Vec::new(),
        }))
    }
}

#[async_trait::async_trait]
impl Ingest for Files<'_> {
    async fn fetch(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
        filename: &str,
    ) -> Result<Option<Ingested>> {
        // A file is ingested only under the version its own name gives.
        if format::version_from_filename(filename, &key.name).as_deref() != Some(version) {
            return Ok(None);
        }
        let files = match remote_files(service, connection, &key.name).await {
            Ok(Some(files)) => files,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, project = %key.name, "external index unavailable");
                return Ok(None);
            }
        };
        let Some(file) = files.iter().find(|f| f.filename == filename) else {
            return Ok(None);
        };
        let Some(asset) = service
            .fetch_external_file(connection, &file.url, filename, |hashes| {
                file.sha256.is_empty() || file.sha256.eq_ignore_ascii_case(&hashes.sha256)
            })
            .await?
        else {
            return Ok(None);
        };
        let metadata = VersionMetadata {
            display_name: Some(key.name.clone()),
            extra: file
                .requires_python
                .as_ref()
                .map(|r| serde_json::json!({"requires_python": r})),
            ..VersionMetadata::default()
        };
        Ok(Some(Ingested {
            assets: vec![asset],
            metadata,
        }))
    }
}

/// Publishes a twine upload: checks the file name and every digest sent, commits the file as an
/// asset of the (possibly new, possibly Published) version, and for wheels adds the PEP 658
/// `.metadata` file. The staged upload is discarded when anything is refused.
///
/// # Errors
/// `Validation` (name, digests), `Conflict` (different content under an existing file name, or
/// the version exists upstream), `AccessDenied` (publish BLOCK).
pub async fn publish(
    service: &Service,
    repository: &RepositoryKey,
    form: &UploadForm,
    filename: &str,
    upload: Staged,
    blake2_256: Option<&str>,
) -> Result<()> {
    match check_upload(service, repository, form, filename, &upload, blake2_256).await {
        Ok(kind) => publish_checked(service, repository, form, filename, &upload, kind).await,
        Err(e) => {
            service.discard(upload).await;
            Err(e)
        }
    }
}

async fn check_upload(
    service: &Service,
    repository: &RepositoryKey,
    form: &UploadForm,
    filename: &str,
    upload: &Staged,
    blake2_256: Option<&str>,
) -> Result<format::DistKind> {
    let kind = format::check_filename(filename, &form.name, &form.version)
        .map_err(|e| Error::validation(e.to_string()))?;
    let hashes = upload.hashes();
    let mismatch = |which: &str| {
        Err(Error::validation(format!(
            "The {which} digest does not match the uploaded file"
        )))
    };
    if form
        .sha256_digest
        .as_deref()
        .is_some_and(|d| !d.eq_ignore_ascii_case(&hashes.sha256))
    {
        return mismatch("sha256");
    }
    if form
        .md5_digest
        .as_deref()
        .is_some_and(|d| !d.eq_ignore_ascii_case(&hashes.md5))
    {
        return mismatch("md5");
    }
    if let (Some(sent), Some(computed)) = (form.blake2_256_digest.as_deref(), blake2_256)
        && !sent.eq_ignore_ascii_case(computed)
    {
        return mismatch("blake2_256");
    }
    service
        .check_publish(repository, &pypi_key(&form.name), &form.version)
        .await?;
    Ok(kind)
}

async fn publish_checked(
    service: &Service,
    repository: &RepositoryKey,
    form: &UploadForm,
    filename: &str,
    upload: &Staged,
    kind: format::DistKind,
) -> Result<()> {
    let key = pypi_key(&form.name);
    let asset = service.commit(upload, filename).await?;
    let metadata = format::version_metadata(form);
    add_file(
        service,
        repository,
        &key,
        &form.version,
        asset.clone(),
        metadata.clone(),
    )
    .await?;
    if matches!(kind, format::DistKind::Wheel)
        && upload.size() <= MAX_WHEEL_FOR_METADATA
        && let Some(core_metadata) = wheel_core_metadata(service, &asset).await?
    {
        let asset = service
            .store_bytes(Bytes::from(core_metadata), &format!("{filename}.metadata"))
            .await?;
        add_file(service, repository, &key, &form.version, asset, metadata).await?;
    }
    Ok(())
}

async fn add_file(
    service: &Service,
    repository: &RepositoryKey,
    key: &PackageKey,
    version: &str,
    asset: Asset,
    metadata: VersionMetadata,
) -> Result<()> {
    service
        .publish_asset(PublishAsset {
            repository: repository.clone(),
            package: key.clone(),
            version: version.to_owned(),
            asset,
            unfinished: false,
            metadata,
            now: Timestamp::now(),
            max_assets_per_version: service.config().quotas.assets_per_version,
            append_to_published: true,
            new_version_only: false,
        })
        .await?;
    Ok(())
}

async fn wheel_core_metadata(service: &Service, wheel: &Asset) -> Result<Option<Vec<u8>>> {
    let reader = service.open_blob(wheel).await?;
    let bytes: Vec<u8> = reader
        .into_stream()
        .try_fold(Vec::new(), |mut all, chunk| async move {
            all.extend_from_slice(&chunk);
            Ok(all)
        })
        .await
        .map_err(|e| Error::Internal {
            message: format!("reading a wheel: {e}"),
        })?;
    Ok(format::wheel_metadata(&bytes).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no core metadata extracted from a wheel");
        None
    }))
}

/// The project page as the requested repository sees it: its own files, then each upstream's
/// (and external index's) for versions not seen yet.
///
/// # Errors
/// `NotFound` when no repository of the graph knows the project.
pub async fn project_page(
    service: &Service,
    repository: &RepositoryKey,
    project: &str,
) -> Result<ProjectPage> {
    let key = pypi_key(project);
    let base = service.endpoint_base("pypi", repository);
    let source = Files { base: &base };
    let Some(merged) = service
        .merged_listing(repository, &key, None, true, &source)
        .await?
    else {
        return Err(not_found(&key.name));
    };
    Ok(ProjectPage {
        project: key.name.clone(),
        versions: merged.versions.keys().cloned().collect(),
        files: merged.versions.into_values().flatten().collect(),
    })
}

/// The projects of the repository itself (PEP 503 root page).
///
/// # Errors
/// Store failures.
pub async fn projects(service: &Service, repository: &RepositoryKey) -> Result<Vec<String>> {
    let filter = reliquary_store::PackageFilter {
        format: Some(PackageFormat::Pypi),
        ..Default::default()
    };
    let mut names = Vec::new();
    let mut after = None;
    loop {
        let page = service
            .store()
            .list_packages(repository, &filter, after.as_ref(), 1000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(reliquary_store::PackageCursor {
            format: last.key.format,
            namespace: String::new(),
            name: last.key.name.clone(),
        });
        names.extend(page.into_iter().map(|p| p.key.name));
    }
    Ok(names)
}

/// A file of a version, resolved by the kit: this repository, its upstreams (retained), then
/// `public:pypi` (ingested).
///
/// # Errors
/// `NotFound`.
pub async fn file(
    service: &Service,
    repository: &RepositoryKey,
    project: &str,
    version: &str,
    filename: &str,
) -> Result<AssetDownload> {
    let key = pypi_key(project);
    let base = service.endpoint_base("pypi", repository);
    let source = Files { base: &base };
    service
        .resolve_asset(repository, &key, version, filename, &source)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => not_found(&format!("{}/{version}/{filename}", key.name)),
            other => other,
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_normalized_names_are_asked_of_an_external_index() {
        for ok in ["requests", "zope-interface", "a1"] {
            assert!(super::askable(ok), "{ok}");
        }
        for bad in ["", "%2e%2e", "a?delete=all", "a#b", "a\\b", "a/b", "A"] {
            assert!(!super::askable(bad), "{bad}");
        }
    }
}
