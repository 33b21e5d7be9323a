//! The PyPI surface's rules: twine uploads into multi-file versions, the simple API merged over
//! the upstream graph, downloads with retention from upstreams and ingestion through the
//! `public:pypi` external connection. Parsing and rendering live in `reliquary_formats::pypi`.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{Stream, TryStreamExt as _};
use reliquary_blob::{BlobError, StagedBlob};
use reliquary_formats::pypi::{self as format, SimpleFile, UploadForm};
use reliquary_store::{IngestVersion, PublishAsset, RepositoryKey, ResourceKind, StoreError};
use reliquary_types::{
    Allow, ExternalConnection, PackageFormat, PackageKey, Timestamp, VersionMetadata, VersionStatus,
};

use crate::packages::{AssetDownload, blob_error, to_asset};
use crate::service::Service;
use crate::{Error, Result};

/// A wheel's core metadata is extracted at upload when the wheel is at most this large.
const MAX_WHEEL_FOR_METADATA: u64 = 64 * 1024 * 1024;
/// Largest file fetched from an external index.
const MAX_EXTERNAL_FILE: u64 = 1024 * 1024 * 1024;

/// An uploaded file, staged and hashed, not yet committed.
#[derive(Debug)]
pub struct StagedUpload {
    staged: StagedBlob,
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

impl Service {
    fn pypi_file_url(
        &self,
        repository: &RepositoryKey,
        project: &str,
        version: &str,
        filename: &str,
    ) -> String {
        format!(
            "{}/pypi/d/{}-{}/{}/files/{project}/{version}/{filename}",
            self.config().public_url,
            repository.domain.name,
            repository.domain.owner,
            repository.name,
        )
    }

    /// Streams an upload into a staging object.
    ///
    /// # Errors
    /// `QuotaExceeded` past the asset size limit; blob store failures.
    pub async fn stage_upload<S>(&self, body: S) -> Result<StagedUpload>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let limit = self.config().quotas.asset_size_bytes;
        let staged = self
            .blobs()
            .put_staged(body, limit)
            .await
            .map_err(|e| match e {
                BlobError::TooLarge { limit } => Error::quota(
                    ResourceKind::Asset,
                    "content",
                    format!("The file exceeds the asset size limit of {limit} bytes"),
                ),
                other => blob_error(other),
            })?;
        Ok(StagedUpload { staged })
    }

    /// Drops a staged upload that will not be published.
    pub async fn discard_upload(&self, upload: StagedUpload) {
        if let Err(e) = self.blobs().discard(&upload.staged).await {
            tracing::warn!(error = %e, "discarding a staged upload failed");
        }
    }

    /// Publishes a twine upload: checks the file name and every digest sent, commits the file
    /// as an asset of the (possibly new, possibly Published) version, and for wheels adds the
    /// PEP 658 `.metadata` file.
    ///
    /// # Errors
    /// `Validation` (name, digests), `Conflict` (different content under an existing file name,
    /// or the version exists upstream), `AccessDenied` (publish BLOCK).
    pub async fn pypi_publish(
        &self,
        repository: &RepositoryKey,
        form: &UploadForm,
        filename: &str,
        upload: StagedUpload,
        blake2_256: Option<&str>,
    ) -> Result<()> {
        let result = self
            .pypi_publish_staged(repository, form, filename, &upload, blake2_256)
            .await;
        if result.is_err() {
            self.discard_upload(upload).await;
        }
        result
    }

    async fn pypi_publish_staged(
        &self,
        repository: &RepositoryKey,
        form: &UploadForm,
        filename: &str,
        upload: &StagedUpload,
        blake2_256: Option<&str>,
    ) -> Result<()> {
        let kind = format::check_filename(filename, &form.name, &form.version)
            .map_err(|e| Error::validation(e.to_string()))?;
        let hashes = &upload.staged.hashes;
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
        let key = pypi_key(&form.name);
        let package = self.store().package(repository, &key).await?;
        if package
            .as_ref()
            .is_some_and(|p| p.origin.publish == Allow::Block)
        {
            return Err(Error::AccessDenied {
                message: format!(
                    "Publishing is blocked for package {} by its origin configuration",
                    key.name
                ),
            });
        }
        if package
            .as_ref()
            .is_some_and(|p| p.origin.upstream == Allow::Allow)
            && self
                .store()
                .version(repository, &key, &form.version)
                .await?
                .is_none()
            && self
                .version_in_upstream(repository, &key, &form.version)
                .await?
        {
            return Err(Error::conflict(
                ResourceKind::PackageVersion,
                form.version.as_str(),
                format!(
                    "{} {} exists in an upstream repository",
                    key.name, form.version
                ),
            ));
        }
        self.blobs()
            .commit(&upload.staged)
            .await
            .map_err(blob_error)?;
        let asset = to_asset(upload.staged.size, hashes, filename.to_owned());
        let metadata = format::version_metadata(form);
        self.pypi_add_asset(repository, &key, &form.version, asset, metadata.clone())
            .await?;
        if matches!(kind, format::DistKind::Wheel)
            && upload.staged.size <= MAX_WHEEL_FOR_METADATA
            && let Some(core_metadata) = self.wheel_core_metadata(&hashes.sha256).await?
        {
            let asset = self
                .store_bytes(Bytes::from(core_metadata), &format!("{filename}.metadata"))
                .await?;
            self.pypi_add_asset(repository, &key, &form.version, asset, metadata)
                .await?;
        }
        Ok(())
    }

    async fn pypi_add_asset(
        &self,
        repository: &RepositoryKey,
        key: &PackageKey,
        version: &str,
        asset: reliquary_types::Asset,
        metadata: VersionMetadata,
    ) -> Result<()> {
        let name = asset.name.clone();
        let publish = PublishAsset {
            repository: repository.clone(),
            package: key.clone(),
            version: version.to_owned(),
            asset,
            unfinished: false,
            metadata,
            now: Timestamp::now(),
            max_assets_per_version: self.config().quotas.assets_per_version,
            append_to_published: true,
        };
        match self.store().publish_asset(publish).await {
            Ok(_) => Ok(()),
            Err(StoreError::AlreadyExists { .. }) => Err(Error::conflict(
                ResourceKind::Asset,
                name.as_str(),
                format!(
                    "A different file named {name} already exists in {} {version}",
                    key.name
                ),
            )),
            Err(StoreError::InvalidState(_)) => Err(Error::conflict(
                ResourceKind::PackageVersion,
                version,
                format!(
                    "{} {version} does not accept new files in its current status",
                    key.name
                ),
            )),
            Err(StoreError::NotAllowed(_)) => Err(Error::AccessDenied {
                message: format!(
                    "Publishing is blocked for package {} by its origin configuration",
                    key.name
                ),
            }),
            Err(other) => Err(other.into()),
        }
    }

    async fn wheel_core_metadata(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let reader = self.blobs().get(sha256, None).await.map_err(blob_error)?;
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

    /// The project page as the requested repository sees it: its own files, then each
    /// upstream's (and external connection's) for versions not seen yet.
    ///
    /// # Errors
    /// `NotFound` when no repository of the graph knows the project.
    pub async fn pypi_project_page(
        &self,
        repository: &RepositoryKey,
        project: &str,
    ) -> Result<ProjectPage> {
        let key = pypi_key(project);
        let mut versions: BTreeMap<String, Vec<SimpleFile>> = BTreeMap::new();
        let mut found = false;
        for stop in self
            .graph_listings(repository, &key, ExternalConnection::Pypi, None, true)
            .await?
        {
            if let Some(listing) = stop.listing {
                found = true;
                for full in listing.versions {
                    let v = &full.version;
                    let yanked = match v.status {
                        VersionStatus::Published => None,
                        VersionStatus::Unlisted => Some(String::new()),
                        _ => continue,
                    };
                    if versions.contains_key(&v.version) {
                        continue;
                    }
                    let requires_python = v
                        .metadata
                        .extra
                        .as_ref()
                        .and_then(|e| e.get("requires_python"))
                        .and_then(|r| r.as_str())
                        .map(str::to_owned);
                    let metadata_hashes: BTreeMap<&str, &str> = full
                        .assets
                        .iter()
                        .filter_map(|a| {
                            a.name
                                .strip_suffix(".metadata")
                                .map(|f| (f, a.hashes.sha256.as_str()))
                        })
                        .collect();
                    let files = full
                        .assets
                        .iter()
                        .filter(|a| !a.name.ends_with(".metadata"))
                        .map(|a| SimpleFile {
                            filename: a.name.clone(),
                            url: self.pypi_file_url(repository, &key.name, &v.version, &a.name),
                            sha256: a.hashes.sha256.clone(),
                            requires_python: requires_python.clone(),
                            yanked: yanked.clone(),
                            metadata_sha256: metadata_hashes
                                .get(a.name.as_str())
                                .map(|h| (*h).to_owned()),
                            size: a.size,
                            upload_time: Some(crate::npm::iso8601(v.published)),
                        })
                        .collect();
                    versions.insert(v.version.clone(), files);
                }
            }
            if let Some(connection) = stop.connection {
                match self.external_pypi_files(connection, &key.name).await {
                    Ok(Some(files)) => {
                        found = true;
                        let known: std::collections::BTreeSet<String> =
                            versions.keys().cloned().collect();
                        for file in files {
                            let Some(version) =
                                format::version_from_filename(&file.filename, &key.name)
                            else {
                                continue;
                            };
                            // A version stored in the graph so far hides the index's files of it.
                            if known.contains(&version) {
                                continue;
                            }
                            let url =
                                self.pypi_file_url(repository, &key.name, &version, &file.filename);
                            versions.entry(version).or_default().push(SimpleFile {
                                url,
                                metadata_sha256: None,
                                ..file
                            });
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, project = %key.name, "external index unavailable")
                    }
                }
            }
        }
        if !found {
            return Err(not_found(&key.name));
        }
        Ok(ProjectPage {
            project: key.name.clone(),
            versions: versions.keys().cloned().collect(),
            files: versions.into_values().flatten().collect(),
        })
    }

    /// The projects of the repository itself (PEP 503 root page).
    ///
    /// # Errors
    /// Store failures.
    pub async fn pypi_projects(&self, repository: &RepositoryKey) -> Result<Vec<String>> {
        let filter = reliquary_store::PackageFilter {
            format: Some(PackageFormat::Pypi),
            ..Default::default()
        };
        let mut names = Vec::new();
        let mut after = None;
        loop {
            let page = self
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

    async fn external_pypi_files(
        &self,
        connection: ExternalConnection,
        project: &str,
    ) -> std::result::Result<Option<Vec<SimpleFile>>, String> {
        match self
            .externals()
            .pypi_project_page(connection, project)
            .await
        {
            Ok((body, content_type, url)) => format::parse_project_page(&body, &content_type, &url)
                .map(Some)
                .map_err(|e| e.to_string()),
            Err(crate::ExternalError::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A file of a version: from the requested repository, else from the first upstream that
    /// has it (then retained), else through `public:pypi` (then stored and retained).
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn pypi_file(
        &self,
        repository: &RepositoryKey,
        project: &str,
        version: &str,
        filename: &str,
    ) -> Result<AssetDownload> {
        let key = pypi_key(project);
        let missing = || not_found(&format!("{}/{version}/{filename}", key.name));
        if let Some(found) = self.store().version(repository, &key, version).await?
            && found.assets.iter().any(|a| a.name == filename)
        {
            if !found.version.status.assets_downloadable() {
                return Err(missing());
            }
            return self.download(found.version, found.assets, filename).await;
        }
        let own = self.store().package(repository, &key).await?;
        let own_block = own
            .as_ref()
            .is_some_and(|p| p.origin.upstream == Allow::Block);
        for (index, (repo, connection)) in self
            .search_with_connections(repository, ExternalConnection::Pypi)
            .await?
            .into_iter()
            .enumerate()
        {
            if index > 0 && own_block {
                break;
            }
            if index > 0
                && let Some(found) = self.store().version(&repo, &key, version).await?
                && found.assets.iter().any(|a| a.name == filename)
            {
                if !found.version.status.assets_downloadable() {
                    continue;
                }
                let retained = if self
                    .store()
                    .version(repository, &key, version)
                    .await?
                    .is_none()
                {
                    self.retain(repository, &repo, &key, &found.version).await?
                } else {
                    found.version.clone()
                };
                return self.download(retained, found.assets, filename).await;
            }
            if let Some(connection) = connection
                && let Some(version_row) = self
                    .ingest_pypi(&repo, connection, &key, version, filename)
                    .await?
            {
                let assets = self
                    .store()
                    .version(&repo, &key, version)
                    .await?
                    .map(|v| v.assets)
                    .unwrap_or_default();
                let served = if repo == *repository
                    || self
                        .store()
                        .version(repository, &key, version)
                        .await?
                        .is_some()
                {
                    version_row
                } else {
                    self.retain(repository, &repo, &key, &version_row).await?
                };
                return self.download(served, assets, filename).await;
            }
        }
        Err(missing())
    }

    async fn ingest_pypi(
        &self,
        repository: &RepositoryKey,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
        filename: &str,
    ) -> Result<Option<reliquary_store::PackageVersion>> {
        let files = match self.external_pypi_files(connection, &key.name).await {
            Ok(Some(files)) => files,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, project = %key.name, "external index unavailable");
                return Ok(None);
            }
        };
        let Some(file) = files.into_iter().find(|f| f.filename == filename) else {
            return Ok(None);
        };
        let bytes = match self
            .externals()
            .fetch(connection, &file.url, MAX_EXTERNAL_FILE)
            .await
        {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, file = %filename, "external file unavailable");
                return Ok(None);
            }
        };
        let asset = self.store_bytes(bytes, filename).await?;
        if !file.sha256.is_empty() && !file.sha256.eq_ignore_ascii_case(&asset.hashes.sha256) {
            return Err(Error::conflict(
                ResourceKind::Asset,
                filename,
                format!("The external index's {filename} does not match its sha256"),
            ));
        }
        let metadata = VersionMetadata {
            display_name: Some(key.name.clone()),
            extra: file
                .requires_python
                .as_ref()
                .map(|r| serde_json::json!({"requires_python": r})),
            ..VersionMetadata::default()
        };
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
}
