//! Resolving an asset for a package endpoint (`spec/digest.md` §4.3–4.4): the requested
//! repository itself, then its upstreams depth-first (a version served from an upstream is
//! retained in the requested repository, a reference and no bytes), then an external connection
//! (what is fetched is ingested into the repository owning the connection, and retained in the
//! requested one). Files from external registries stream through the blob store's staging path.

use std::io::Read;
use std::sync::Arc;

use bytes::{Buf as _, Bytes};
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use reliquary_blob::{BlobError, BlobReader, Hashes, StagedBlob};
use reliquary_store::{
    CopyItem, CopyVersions, IngestVersion, PackageVersion, RepositoryKey, ResourceKind, StoreError,
    VersionWithAssets,
};
use reliquary_types::{
    Allow, Asset, AssetHashes, ExternalConnection, OriginRestrictions, OriginType, PackageKey,
    Timestamp, VersionMetadata, VersionStatus,
};

use super::external::{ExternalError, ExternalRequest, Target};
use crate::service::Service;
use crate::{Error, Result};

/// A download: the version it belongs to, the asset, and its bytes.
pub struct AssetDownload {
    pub version: PackageVersion,
    pub asset: Asset,
    pub body: BlobReader,
}

/// Bytes streamed into the blob store's staging area and hashed, not committed yet.
#[derive(Debug)]
pub struct Staged {
    blob: StagedBlob,
}

impl Staged {
    #[must_use]
    pub fn hashes(&self) -> &Hashes {
        &self.blob.hashes
    }

    #[must_use]
    pub fn size(&self) -> u64 {
        self.blob.size
    }
}

/// Chunks of a staged upload buffered ahead of [`Service::inspect_staged`]'s reader.
const STAGED_READ_AHEAD: usize = 2;
/// How much of a blob [`Service::inspect_blob_seekable`] reads per request to the blob store.
pub const SEEKABLE_WINDOW: usize = 64 * 1024;
/// Registry documents at least this large are parsed on the blocking pool.
const PARSE_OFF_WORKER_BYTES: usize = 256 * 1024;

/// A synchronous reader over chunks sent from an async task (on the blocking pool only).
struct ChannelReader {
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.chunk.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        self.chunk.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

/// What a format fetched from its registry for one version, its blobs committed.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub assets: Vec<Asset>,
    pub metadata: VersionMetadata,
}

/// How a format fetches a version from the registry behind an external connection.
#[async_trait::async_trait]
pub trait Ingest: Sync {
    /// The version's asset `asset` (and whatever else of the version the format keeps with it),
    /// fetched and committed with [`Service::fetch_external_file`]; `Ok(None)` when the registry
    /// has no such file. A format refuses a file whose bytes disagree with the registry's
    /// document (a `Conflict`).
    ///
    /// # Errors
    /// Store and blob failures, mismatched digests.
    async fn fetch(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
        asset: &str,
    ) -> Result<Option<Ingested>>;
}

pub(crate) fn blob_error(err: BlobError) -> Error {
    match err {
        // A client's broken body (cut off, timed out, malformed chunking) is its error: 400.
        BlobError::Body(e) => {
            tracing::info!(error.detail = %e, "the request body could not be read");
            Error::validation(format!("The request body could not be read: {e}"))
        }
        BlobError::Unavailable(detail) => {
            tracing::error!(error.detail = %detail, "blob store unavailable");
            Error::Unavailable {
                message: "The blob store is unavailable".to_owned(),
            }
        }
        other => {
            tracing::error!(error.detail = %other, "blob store error");
            Error::Internal {
                message: "Internal error".to_owned(),
            }
        }
    }
}

pub(crate) fn to_asset(size: u64, hashes: &Hashes, name: String) -> Asset {
    Asset {
        name,
        size,
        hashes: AssetHashes {
            md5: hashes.md5.clone(),
            sha1: hashes.sha1.clone(),
            sha256: hashes.sha256.clone(),
            sha512: hashes.sha512.clone(),
        },
    }
}

fn asset_not_found(what: &str) -> Error {
    Error::not_found(ResourceKind::Asset, what, format!("{what} not found"))
}

impl Service {
    /// Streams bytes into a staging object while hashing them; nothing is referenced yet.
    ///
    /// # Errors
    /// `QuotaExceeded` past the asset size limit; blob store failures.
    pub async fn stage<S>(&self, body: S) -> Result<Staged>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        self.stage_limited(body, self.config().quotas.asset_size_bytes)
            .await
    }

    async fn stage_limited<S>(&self, body: S, limit: u64) -> Result<Staged>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let blob = self
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
        Ok(Staged { blob })
    }

    /// Commits a staged blob under its SHA-256: the asset a version may now reference.
    ///
    /// # Errors
    /// Blob store failures.
    pub async fn commit(&self, staged: &Staged, name: &str) -> Result<Asset> {
        self.blobs()
            .commit(&staged.blob)
            .await
            .map_err(blob_error)?;
        Ok(to_asset(
            staged.blob.size,
            &staged.blob.hashes,
            name.to_owned(),
        ))
    }

    /// Drops a staged blob that will not be committed.
    pub async fn discard(&self, staged: Staged) {
        if let Err(e) = self.blobs().discard(&staged.blob).await {
            tracing::warn!(error = %e, "discarding a staged upload failed");
        }
    }

    /// Runs `inspect` on the blocking pool with a synchronous reader over a staged upload (to
    /// look inside an archive before committing it). The bytes stream from the blob store through
    /// a channel of a few chunks, never whole in memory; `inspect` may stop reading early.
    ///
    /// # Errors
    /// Blob store failures (reading the staged bytes failed), a panic of `inspect`.
    pub async fn inspect_staged<T, F>(&self, staged: &Staged, inspect: F) -> Result<T>
    where
        F: FnOnce(&mut dyn Read) -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut body = self
            .blobs()
            .get_staged(&staged.blob)
            .await
            .map_err(blob_error)?
            .into_stream();
        let (sender, chunks) = tokio::sync::mpsc::channel(STAGED_READ_AHEAD);
        let task = tokio::task::spawn_blocking(move || {
            inspect(&mut ChannelReader {
                chunks,
                chunk: Bytes::new(),
            })
        });
        let pump = async move {
            while let Some(item) = body.next().await {
                match item {
                    // A closed channel: `inspect` has read what it needed.
                    Ok(chunk) => {
                        if sender.send(Ok(chunk)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let told = std::io::Error::other("the staged upload could not be read");
                        let _ = sender.send(Err(told)).await;
                        return Err(e);
                    }
                }
            }
            Ok(())
        };
        let (pumped, inspected) = tokio::join!(pump, task);
        pumped.map_err(|e| blob_error(BlobError::Io(e)))?;
        inspected.map_err(|e| {
            tracing::error!(error.detail = %e, "inspecting a staged upload failed");
            Error::Internal {
                message: "Internal error".to_owned(),
            }
        })
    }

    /// Stores bytes already in memory (a wheel's extracted metadata) as a committed blob.
    ///
    /// # Errors
    /// `QuotaExceeded`, blob store failures.
    pub async fn store_bytes(&self, bytes: Bytes, name: &str) -> Result<Asset> {
        let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes)]);
        let staged = self.stage(body).await?;
        self.commit(&staged, name).await
    }

    /// Opens a referenced blob for streaming.
    ///
    /// # Errors
    /// Blob store failures (a missing referenced blob is an internal error).
    pub async fn open_blob(&self, asset: &Asset) -> Result<BlobReader> {
        self.blobs()
            .get(&asset.hashes.sha256, None)
            .await
            .map_err(|e| match e {
                BlobError::NotFound => {
                    tracing::error!(asset.sha256 = %asset.hashes.sha256, "referenced blob is missing");
                    Error::Internal {
                        message: "Internal error".to_owned(),
                    }
                }
                other => blob_error(other),
            })
    }

    /// Part of a referenced blob (an HTTP `Range`), clamped to its end.
    ///
    /// # Errors
    /// `Validation` for a range that starts at or past the end; blob store failures.
    pub async fn open_blob_range(
        &self,
        asset: &Asset,
        range: std::ops::Range<u64>,
    ) -> Result<BlobReader> {
        self.blobs()
            .get(&asset.hashes.sha256, Some(range))
            .await
            .map_err(|e| match e {
                BlobError::RangeNotSatisfiable { size } => Error::validation(format!(
                    "The range is not satisfiable for an asset of {size} bytes"
                )),
                other => blob_error(other),
            })
    }

    /// Reads a committed blob with random access, on a blocking thread: for archives whose index
    /// sits at the end (zip). `inspect` gets a reader that asks the blob store for one window of
    /// [`SEEKABLE_WINDOW`] bytes at a time, so memory stays at one window whatever the blob's
    /// size; what `inspect` does with the bytes (entry counts, inflated sizes) it must bound.
    ///
    /// # Errors
    /// A panic of `inspect`. Blob store failures reach `inspect` as I/O errors of its reads.
    pub async fn inspect_blob_seekable<T, F>(&self, asset: &Asset, inspect: F) -> Result<T>
    where
        F: FnOnce(&mut dyn SeekableRead) -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut reader = BlobWindows {
            runtime: tokio::runtime::Handle::current(),
            blobs: self.blobs().clone(),
            sha256: asset.hashes.sha256.clone(),
            size: asset.size,
            position: 0,
            window_start: 0,
            window: Bytes::new(),
        };
        tokio::task::spawn_blocking(move || inspect(&mut reader))
            .await
            .map_err(|e| {
                tracing::error!(error.detail = %e, "inspecting a blob failed");
                Error::Internal {
                    message: "Internal error".to_owned(),
                }
            })
    }

    /// A version's asset as a download.
    ///
    /// # Errors
    /// `NotFound` when the version has no asset of that name.
    pub async fn download(
        &self,
        version: PackageVersion,
        assets: Vec<Asset>,
        name: &str,
    ) -> Result<AssetDownload> {
        let asset = assets
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| asset_not_found(name))?;
        let body = self.open_blob(&asset).await?;
        Ok(AssetDownload {
            version,
            asset,
            body,
        })
    }

    /// A registry document through the per-(connection, path) cache.
    ///
    /// # Errors
    /// The registry is unreachable and nothing is cached.
    pub async fn external_document(
        &self,
        connection: ExternalConnection,
        path: &str,
        accept: &str,
        max_bytes: u64,
    ) -> std::result::Result<Option<super::ExternalDocument>, ExternalError> {
        self.documents()
            .get(self.externals(), connection, path, accept, max_bytes)
            .await
    }

    /// A registry document (through [`Service::external_document`]'s cache) parsed by `parse`,
    /// once per fetched copy: the parsed form is kept with the cached document, so requests
    /// between two revalidations share it. Large documents are parsed on the blocking pool.
    /// `Ok(None)` when the registry does not have it.
    ///
    /// # Errors
    /// The registry is unreachable and nothing is cached, or `parse`'s error.
    pub async fn external_parsed<T, F>(
        &self,
        connection: ExternalConnection,
        path: &str,
        accept: &str,
        max_bytes: u64,
        parse: F,
    ) -> std::result::Result<Option<Arc<T>>, String>
    where
        T: std::any::Any + Send + Sync,
        F: FnOnce(&super::ExternalDocument) -> std::result::Result<T, String> + Send + 'static,
    {
        let Some(document) = self
            .external_document(connection, path, accept, max_bytes)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        if let Some(parsed) = document.ready::<T>() {
            return Ok(Some(parsed));
        }
        let parsed = if document.body.len() < PARSE_OFF_WORKER_BYTES {
            document.parsed(parse)
        } else {
            tokio::task::spawn_blocking(move || document.parsed(parse))
                .await
                .map_err(|e| e.to_string())?
        };
        parsed.map(Some)
    }

    /// Streams a file named by a registry document into the blob store: staged and hashed,
    /// committed only when `verify` accepts its hashes. `Ok(None)` when the registry is
    /// unreachable or does not have it.
    ///
    /// # Errors
    /// `Conflict` when `verify` refuses the bytes; blob store failures.
    pub async fn fetch_external_file(
        &self,
        connection: ExternalConnection,
        url: &str,
        name: &str,
        verify: impl FnOnce(&Hashes) -> bool + Send,
    ) -> Result<Option<Asset>> {
        let request = ExternalRequest {
            target: Target::Url(url),
            accept: "*/*",
            if_none_match: None,
            if_modified_since: None,
        };
        let response = match self.externals().get(connection, request).await {
            Ok(response) => response,
            Err(ExternalError::NotFound) => return Ok(None),
            Err(ExternalError::Unavailable(detail)) => {
                tracing::warn!(error.detail = %detail, url, "external file unavailable");
                return Ok(None);
            }
        };
        let staged = match self
            .stage_limited(
                response.body.map_err(std::io::Error::other),
                self.config().quotas.asset_size_bytes,
            )
            .await
        {
            Ok(staged) => staged,
            Err(e @ Error::QuotaExceeded { .. }) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, url, "external file could not be read");
                return Ok(None);
            }
        };
        if !verify(staged.hashes()) {
            self.discard(staged).await;
            return Err(Error::conflict(
                ResourceKind::Asset,
                name,
                format!("The external registry's {name} does not match the digest its index gives"),
            ));
        }
        let asset = self.commit(&staged, name).await?;
        Ok(Some(asset))
    }

    /// Keeps a version served from `from` in `repository` (a reference, no bytes copied).
    ///
    /// # Errors
    /// Store failures.
    pub async fn retain(
        &self,
        repository: &RepositoryKey,
        from: &RepositoryKey,
        key: &PackageKey,
        version: &PackageVersion,
        replaces: Option<String>,
    ) -> Result<PackageVersion> {
        let copy = CopyVersions {
            destination: repository.clone(),
            package: key.clone(),
            items: vec![CopyItem {
                from: from.clone(),
                version: version.version.clone(),
                expected_revision: version.revision.clone(),
                replaces,
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

    /// Ingests a version fetched by `ingest` into `repository` (the one owning `connection`).
    async fn ingest(
        &self,
        repository: &RepositoryKey,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
        asset: &str,
        ingest: &dyn Ingest,
    ) -> Result<Option<(PackageVersion, Vec<Asset>)>> {
        // The store refuses to ingest into a package that blocks upstreams: fetch nothing for
        // it (not even the registry's document), rather than download bytes on every request
        // only to have them refused.
        if self
            .store()
            .package(repository, key)
            .await?
            .is_some_and(|p| p.origin.upstream == Allow::Block)
        {
            return Ok(None);
        }
        let Some(fetched) = ingest.fetch(self, connection, key, version, asset).await? else {
            return Ok(None);
        };
        let assets = fetched.assets.clone();
        let ingest = IngestVersion {
            repository: repository.clone(),
            package: key.clone(),
            version: version.to_owned(),
            assets: fetched.assets,
            metadata: fetched.metadata,
            external_connection: connection.name().to_owned(),
            published: Timestamp::now(),
        };
        match self.store().ingest_version(ingest).await {
            Ok(v) => {
                let assets = match self.store().version(repository, key, version).await? {
                    Some(stored) => stored.assets,
                    None => assets,
                };
                Ok(Some((v, assets)))
            }
            Err(StoreError::NotAllowed(_)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// The asset `asset` of `version` as `start` serves it: its own, else the first upstream's
    /// (retained in `start`), else fetched through an external connection (ingested into the
    /// repository owning it and retained in `start`). An upstream BLOCK on `start`'s package
    /// limits the search to `start` itself.
    ///
    /// # Errors
    /// `NotFound` when nothing in the graph has a downloadable copy.
    pub async fn resolve_asset(
        &self,
        start: &RepositoryKey,
        key: &PackageKey,
        version: &str,
        asset: &str,
        ingest: &dyn Ingest,
    ) -> Result<AssetDownload> {
        let missing = || asset_not_found(&format!("{key} {version} {asset}"));
        let cache_key = (start.clone(), key.clone(), version.to_owned());
        let stamp = self.store().changes();
        if let Some(hit) = self.hot.versions.get(&cache_key, stamp)
            && hit.assets.iter().any(|a| a.name == asset)
        {
            return self.download(hit.version, hit.assets, asset).await;
        }
        let keep = match self.store().version(start, key, version).await? {
            Some(found) if found.assets.iter().any(|a| a.name == asset) => {
                if !found.version.status.assets_downloadable() {
                    return Err(missing());
                }
                self.hot.versions.insert(cache_key, stamp, found.clone());
                return self.download(found.version, found.assets, asset).await;
            }
            None => Keep::New,
            // A retained version without that file (Maven retains the POM before the jar, PyPI
            // versions gain files) is retained again once the upstream's copy holds everything
            // it holds and the file; one published here, or whose status was changed, is not.
            Some(own)
                if own.version.status == VersionStatus::Published
                    && !published_here(&own.version, start) =>
            {
                Keep::Refresh(Box::new(own))
            }
            Some(_) => Keep::No,
        };
        let package = self.store().package(start, key).await?;
        if package.is_some_and(|p| p.origin.upstream == Allow::Block) {
            return Err(missing());
        }
        for (index, stop) in self.search_order(start, key).await?.into_iter().enumerate() {
            if index > 0
                && let Some(found) = self.store().version(&stop.repository, key, version).await?
                && found.assets.iter().any(|a| a.name == asset)
            {
                if !found.version.status.assets_downloadable() {
                    continue;
                }
                let served = match keep.replaces(&found.version, &found.assets) {
                    Some(replaces) => {
                        self.retain(start, &stop.repository, key, &found.version, replaces)
                            .await?
                    }
                    None => found.version,
                };
                return self.download(served, found.assets, asset).await;
            }
            if let Some(connection) = stop.connection
                && let Some((ingested, assets)) = self
                    .ingest(&stop.repository, connection, key, version, asset, ingest)
                    .await?
            {
                let served = match keep.replaces(&ingested, &assets) {
                    Some(replaces) if index > 0 => {
                        self.retain(start, &stop.repository, key, &ingested, replaces)
                            .await?
                    }
                    _ => ingested,
                };
                return self.download(served, assets, asset).await;
            }
        }
        Err(missing())
    }
}

/// Whether [`Service::resolve_asset`] retains what it serves from an upstream in the requested
/// repository.
enum Keep {
    /// The repository has no such version: retain it.
    New,
    /// It has a retained copy without the file: retain the upstream's again (replacing that
    /// revision) if it holds every file of the copy, with the same bytes, and the same metadata
    /// (a copy whose metadata was edited here, an npm deprecation say, is kept as it is).
    Refresh(Box<VersionWithAssets>),
    /// Serve without retaining.
    No,
}

impl Keep {
    /// `Some(replaces)` to retain `version`, holding `assets`.
    fn replaces(&self, version: &PackageVersion, assets: &[Asset]) -> Option<Option<String>> {
        match self {
            Self::New => Some(None),
            Self::Refresh(own) => (own.version.metadata == version.metadata
                && own.assets.iter().all(|mine| assets.contains(mine)))
            .then(|| Some(own.version.revision.clone())),
            Self::No => None,
        }
    }
}

/// Whether `version` was published in `repository` itself (not retained from an upstream).
fn published_here(version: &PackageVersion, repository: &RepositoryKey) -> bool {
    version.origin.origin_type == OriginType::Internal
        && version.origin.repository.as_deref() == Some(repository.name.as_str())
}

/// `Read + Seek`, for [`Service::inspect_blob_seekable`].
pub trait SeekableRead: Read + std::io::Seek {}

impl<T: Read + std::io::Seek> SeekableRead for T {}

/// A blob read window by window with ranged reads; lives on a blocking thread.
struct BlobWindows {
    runtime: tokio::runtime::Handle,
    blobs: reliquary_blob::BlobStore,
    sha256: String,
    size: u64,
    position: u64,
    window_start: u64,
    window: Bytes,
}

impl BlobWindows {
    fn fill(&mut self) -> std::io::Result<()> {
        let end = self
            .position
            .saturating_add(SEEKABLE_WINDOW as u64)
            .min(self.size);
        let (blobs, sha256, range) = (&self.blobs, &self.sha256, self.position..end);
        let window = self.runtime.block_on(async move {
            let reader = blobs
                .get(sha256, Some(range))
                .await
                .map_err(std::io::Error::other)?;
            let mut window = bytes::BytesMut::new();
            let mut stream = reader.into_stream();
            while let Some(chunk) = stream.next().await {
                window.extend_from_slice(&chunk?);
            }
            Ok::<_, std::io::Error>(window.freeze())
        })?;
        self.window_start = self.position;
        self.window = window;
        Ok(())
    }
}

impl Read for BlobWindows {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.position >= self.size {
            return Ok(0);
        }
        let in_window = self.position >= self.window_start
            && self.position < self.window_start + self.window.len() as u64;
        if !in_window {
            self.fill()?;
            if self.window.is_empty() {
                return Ok(0);
            }
        }
        let offset = usize::try_from(self.position - self.window_start).unwrap_or(usize::MAX);
        let available = &self.window[offset.min(self.window.len())..];
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for BlobWindows {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            std::io::SeekFrom::Start(offset) => Some(offset),
            std::io::SeekFrom::End(delta) => self.size.checked_add_signed(delta),
            std::io::SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the blob",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}
