//! Content-addressed asset storage over [`object_store`] (local filesystem, S3, memory).
//!
//! An upload streams into a *staging object* (`staging/<uuid>`) while MD5, SHA-1, SHA-256 and
//! SHA-512 are computed in the same pass; [`BlobStore::commit`] then moves it to its content
//! address `blobs/<sha256[0..2]>/<sha256[2..4]>/<sha256>`. No asset is ever held whole in memory:
//! writes go through bounded multipart uploads, reads come back as a stream of chunks.
//!
//! # Crash safety
//! * A staging object only appears once its multipart upload completes (local filesystem: the
//!   parts go to a `staging/<uuid>#N` temporary file, fsynced and renamed on completion; S3: an
//!   object only exists after `CompleteMultipartUpload`). A crash mid-upload leaves at most a
//!   temporary file (local) or an incomplete multipart upload (S3), never a partial object.
//! * Commit is a rename (local filesystem: one atomic `rename(2)`, fsynced; S3 and memory: an
//!   atomic server-side copy followed by deleting the staging object). A content address therefore
//!   only ever holds complete content; a crash between copy and delete leaves a staging object that
//!   [`BlobStore::sweep_staging`] removes later.
//! * Staging leftovers (including local `#N` temporaries) are removed by
//!   [`BlobStore::sweep_staging`]. On S3, abandoned *incomplete multipart uploads* are invisible to
//!   listing: configure the bucket's `AbortIncompleteMultipartUpload` lifecycle rule.
//!
//! This is the only crate of the workspace that names `object_store`.

mod hashes;

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{GetOptions, GetResultPayload, ObjectStore, ObjectStoreExt, WriteMultipart};
use uuid::Uuid;

pub use hashes::{Hasher, Hashes, is_sha256_hex};

/// Default size of one multipart part. S3 requires at least 5 MiB for every part but the last.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploading concurrently; with the part being filled this bounds an upload's buffered
/// bytes to about `(MAX_INFLIGHT_PARTS + 1) * part_size`.
const MAX_INFLIGHT_PARTS: usize = 2;
/// Chunks at least this large are hashed on the blocking pool rather than on a runtime worker.
const OFFLOAD_HASH_BYTES: usize = 256 * 1024;
/// Chunk size when streaming a blob back from the local filesystem.
const FILE_READ_CHUNK: usize = 256 * 1024;
/// Bytes of a local blob read with its opening (most package files are smaller).
const LOCAL_FIRST_READ: usize = 64 * 1024;
/// Memory for small local blobs (at most [`LOCAL_FIRST_READ`] bytes each) served from memory.
const SMALL_BLOBS_BYTES: usize = 32 * 1024 * 1024;
/// Key probed by [`BlobStore::ping`]; it never exists, and "not found" proves reachability.
const PING_KEY: &str = ".reliquary-ping";

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob (or staging object) at that address.
    #[error("blob not found")]
    NotFound,
    /// The upload exceeded its size limit; nothing of it was kept.
    #[error("asset exceeds the size limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// A byte range that does not intersect the blob.
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// A `--blob-store` URL or S3 setting that cannot be used.
    #[error("invalid blob store configuration: {0}")]
    InvalidConfig(String),
    /// The backing store failed or could not be reached (disk, network, credentials).
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    /// Anything else that should not happen.
    #[error("blob store internal error: {0}")]
    Internal(String),
    /// Reading the upload body failed: the client's side (a broken or timed-out body), not the
    /// store's; nothing of it was kept.
    #[error("reading the upload failed: {0}")]
    Body(std::io::Error),
    /// A local filesystem operation of this crate failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

fn os_err(e: object_store::Error) -> BlobError {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => BlobError::NotFound,
        E::Generic { .. }
        | E::PermissionDenied { .. }
        | E::Unauthenticated { .. }
        | E::JoinError { .. } => BlobError::Unavailable(e.to_string()),
        other => BlobError::Internal(other.to_string()),
    }
}

fn join_err(e: tokio::task::JoinError) -> BlobError {
    BlobError::Internal(format!("background task failed: {e}"))
}

/// S3 connection settings (from `RELIQUARY_S3_*`). Unset credentials fall back to the ambient
/// AWS credential chain of the process (web identity, container or instance credentials).
#[derive(Clone, Default)]
pub struct S3Settings {
    /// Custom endpoint (MinIO, Garage, …), e.g. `http://127.0.0.1:9000`. `None` means AWS.
    pub endpoint: Option<String>,
    /// Region; defaults to `us-east-1`.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`.
    pub force_path_style: bool,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("force_path_style", &self.force_path_style)
            .finish()
    }
}

/// An upload written to a staging object and hashed, not yet at its content address.
#[derive(Debug, Clone)]
pub struct StagedBlob {
    pub size: u64,
    pub hashes: Hashes,
    id: Uuid,
    location: Path,
}

impl StagedBlob {
    /// The content address this upload will be committed under.
    pub fn sha256(&self) -> &str {
        &self.hashes.sha256
    }
}

/// A committed blob as seen by [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub sha256: String,
    pub size: u64,
    pub last_modified: SystemTime,
}

/// A blob being read: its metadata and a stream of its bytes (the requested range only).
pub struct BlobReader {
    /// Size of the whole blob.
    pub size: u64,
    /// The bytes this reader yields (the whole blob when no range was requested).
    pub range: Range<u64>,
    pub last_modified: SystemTime,
    stream: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl BlobReader {
    /// Number of bytes this reader yields.
    pub fn content_length(&self) -> u64 {
        self.range.end - self.range.start
    }

    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        self.stream
    }
}

impl Stream for BlobReader {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.poll_next_unpin(cx)
    }
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("size", &self.size)
            .field("range", &self.range)
            .field("last_modified", &self.last_modified)
            .finish_non_exhaustive()
    }
}

/// Content-addressed blob storage.
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Key prefix under which `blobs/` and `staging/` live (empty for local and memory stores).
    prefix: Path,
    /// Root directory when backed by the local filesystem: staging sweeps and mtime refreshes
    /// work on it directly.
    local_root: Option<PathBuf>,
    /// Multipart part size of uploads.
    part_size: usize,
    /// Small blobs read from the local filesystem, kept in memory (content-addressed: a blob's
    /// bytes never change, so nothing here is ever stale).
    small: Arc<SmallBlobs>,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStore")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix.as_ref())
            .field("part_size", &self.part_size)
            .finish()
    }
}

impl BlobStore {
    /// A store held in process memory (tests, `memory://`).
    pub fn memory() -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            prefix: Path::default(),
            local_root: None,
            part_size: DEFAULT_PART_SIZE,
            small: Arc::default(),
        }
    }

    /// Sets the multipart part size of uploads (default [`DEFAULT_PART_SIZE`]). An upload buffers
    /// at most about three parts. S3 rejects parts under 5 MiB (other than the last).
    #[must_use]
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(1);
        self
    }

    /// A store in the directory `root`, created if missing. Writes are fsynced.
    pub fn local(root: &FsPath) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)?;
        let root = std::fs::canonicalize(root)?;
        let fs = LocalFileSystem::new_with_prefix(&root)
            .map_err(os_err)?
            .with_fsync(true);
        Ok(Self {
            store: Arc::new(fs),
            prefix: Path::default(),
            local_root: Some(root),
            small: Arc::default(),
            part_size: DEFAULT_PART_SIZE,
        })
    }

    /// Opens the store named by a `--blob-store` URL: `file:///abs/path` (or a bare absolute
    /// path), `s3://bucket[/prefix]` or `memory://`.
    pub fn from_url(url: &str, s3: &S3Settings) -> Result<Self, BlobError> {
        if url == "memory://" || url == "memory:" {
            return Ok(Self::memory());
        }
        if let Some(rest) = url.strip_prefix("file://") {
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            if !rest.starts_with('/') {
                return Err(BlobError::InvalidConfig(format!(
                    "{url}: a file:// URL must name an absolute path (file:///path)"
                )));
            }
            let decoded = percent_encoding::percent_decode_str(rest)
                .decode_utf8()
                .map_err(|e| BlobError::InvalidConfig(format!("{url}: {e}")))?;
            return Self::local(FsPath::new(decoded.as_ref()));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(BlobError::InvalidConfig(format!(
                    "{url}: missing bucket name"
                )));
            }
            return Self::s3(bucket, prefix.trim_matches('/'), s3);
        }
        if url.starts_with('/') {
            return Self::local(FsPath::new(url));
        }
        Err(BlobError::InvalidConfig(format!(
            "{url}: expected file:///path, s3://bucket/prefix or memory://"
        )))
    }

    fn s3(bucket: &str, prefix: &str, s3: &S3Settings) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(s3.region.as_deref().unwrap_or("us-east-1"));
        match &s3.endpoint {
            Some(endpoint) => {
                let endpoint = endpoint.trim_end_matches('/');
                builder = builder.with_allow_http(endpoint.starts_with("http://"));
                if s3.force_path_style {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_virtual_hosted_style_request(false);
                } else {
                    // object_store expects a virtual-hosted endpoint to already name the bucket.
                    let (scheme, host) = endpoint.split_once("://").ok_or_else(|| {
                        BlobError::InvalidConfig(format!(
                            "S3 endpoint {endpoint}: expected http:// or https://"
                        ))
                    })?;
                    builder = builder
                        .with_endpoint(format!("{scheme}://{bucket}.{host}"))
                        .with_virtual_hosted_style_request(true);
                }
            }
            None => {
                builder = builder.with_virtual_hosted_style_request(!s3.force_path_style);
            }
        }
        match (&s3.access_key_id, &s3.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            (None, None) => {}
            _ => {
                return Err(BlobError::InvalidConfig(
                    "S3 access key id and secret access key must be set together".into(),
                ));
            }
        }
        let store = builder
            .build()
            .map_err(|e| BlobError::InvalidConfig(e.to_string()))?;
        let prefix = Path::parse(prefix)
            .map_err(|e| BlobError::InvalidConfig(format!("S3 key prefix {prefix:?}: {e}")))?;
        Ok(Self {
            store: Arc::new(store),
            prefix,
            local_root: None,
            part_size: DEFAULT_PART_SIZE,
            small: Arc::default(),
        })
    }

    fn key(&self, parts: &[&str]) -> Path {
        parts
            .iter()
            .fold(self.prefix.clone(), |path, part| path.join(*part))
    }

    fn blob_path(&self, sha256: &str) -> Path {
        self.key(&["blobs", &sha256[0..2], &sha256[2..4], sha256])
    }

    fn staging_path(&self, id: &Uuid) -> Path {
        self.key(&["staging", &id.to_string()])
    }

    /// Streams `body` into a staging object while computing MD5, SHA-1, SHA-256 and SHA-512 in one
    /// pass and counting bytes. Fails with `TooLarge` (and removes the staging object) past
    /// `max_size`. Buffers at most about three multipart parts (24 MiB by default) plus one body
    /// chunk, whatever the body's size.
    pub async fn put_staged<S>(&self, mut body: S, max_size: u64) -> Result<StagedBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        let id = Uuid::new_v4();
        let location = self.staging_path(&id);
        let upload = self.store.put_multipart(&location).await.map_err(os_err)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let mut hasher = Hasher::new();
        let mut size: u64 = 0;

        let streamed: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(BlobError::Body)?;
                if chunk.is_empty() {
                    continue;
                }
                size = size
                    .checked_add(chunk.len() as u64)
                    .filter(|total| *total <= max_size)
                    .ok_or(BlobError::TooLarge { limit: max_size })?;
                hasher = hash_chunk(std::mem::take(&mut hasher), chunk.clone()).await?;
                writer
                    .wait_for_capacity(MAX_INFLIGHT_PARTS)
                    .await
                    .map_err(os_err)?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;

        if let Err(e) = streamed {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(staging = %location, error = %abort, "aborting a failed upload failed");
            }
            return Err(e);
        }
        // `finish` aborts the upload itself when completing it fails.
        writer.finish().await.map_err(os_err)?;
        Ok(StagedBlob {
            size,
            hashes: hasher.finish(),
            id,
            location,
        })
    }

    /// Moves a staged object to its content address
    /// (`blobs/<sha256[0..2]>/<sha256[2..4]>/<sha256>`). If the content is already there, it is
    /// replaced by the (identical) staged copy, which refreshes its modification time, so a
    /// concurrent garbage sweep with a grace period cannot delete it between this commit and the
    /// metadata row that will reference it; the staging object is gone afterwards.
    ///
    /// Idempotent: committing an already committed `StagedBlob` again succeeds while its blob
    /// exists.
    pub async fn commit(&self, staged: &StagedBlob) -> Result<(), BlobError> {
        let target = self.blob_path(&staged.hashes.sha256);
        let moved = match &self.local_root {
            Some(root) => {
                // The staging file's mtime is that of its last write; make it "now" so the
                // renamed blob carries the commit time.
                let file = root.join("staging").join(staged.id.to_string());
                let touched = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(file)?
                        .set_modified(SystemTime::now())
                })
                .await
                .map_err(join_err)?;
                match touched {
                    // One atomic rename(2) (fsynced), replacing any existing copy.
                    Ok(()) => self
                        .store
                        .rename(&staged.location, &target)
                        .await
                        .map_err(os_err),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound),
                    Err(e) => Err(e.into()),
                }
            }
            None => match self.store.copy(&staged.location, &target).await {
                // The server-side copy is atomic and stamps a fresh modification time.
                Ok(()) => {
                    if let Err(e) = self.store.delete(&staged.location).await {
                        // The blob is committed; the leftover is swept by `sweep_staging`.
                        tracing::warn!(staging = %staged.location, error = %e,
                            "could not delete a committed staging object");
                    }
                    Ok(())
                }
                Err(e) => Err(os_err(e)),
            },
        };
        match moved {
            // Already moved by an earlier commit of this same upload.
            Err(BlobError::NotFound) if self.exists(&staged.hashes.sha256).await? => Ok(()),
            other => other,
        }
    }

    /// Deletes a staged object that will not be committed. Succeeds if it is already gone.
    pub async fn discard(&self, staged: &StagedBlob) -> Result<(), BlobError> {
        ignore_not_found(self.store.delete(&staged.location).await)
    }

    /// Whether a blob exists at this address (a malformed address names no blob).
    pub async fn exists(&self, sha256: &str) -> Result<bool, BlobError> {
        if !is_sha256_hex(sha256) {
            return Ok(false);
        }
        match self.store.head(&self.blob_path(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(os_err(e)),
        }
    }

    /// Streams the blob, or the part of it in `range` (clamped to the blob's end, as HTTP does).
    /// A range starting at or past the end, or an empty one, is `RangeNotSatisfiable`.
    pub async fn get(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> Result<BlobReader, BlobError> {
        if !is_sha256_hex(sha256) {
            return Err(BlobError::NotFound);
        }
        if let Some(root) = &self.local_root {
            if let Some((bytes, last_modified)) = self.small.get(sha256) {
                return small_reader(bytes, last_modified, range);
            }
            let file = root.join(self.blob_path(sha256).as_ref());
            let (reader, whole) = read_local(file, range).await?;
            if let Some(bytes) = whole {
                self.small.insert(sha256, bytes, reader.last_modified);
            }
            return Ok(reader);
        }
        self.read(self.blob_path(sha256), range).await
    }

    /// Streams a staged upload that is not committed yet (to inspect it before deciding to commit
    /// or discard it). `NotFound` once it is committed or discarded.
    pub async fn get_staged(&self, staged: &StagedBlob) -> Result<BlobReader, BlobError> {
        self.read(staged.location.clone(), None).await
    }

    async fn read(
        &self,
        location: Path,
        range: Option<Range<u64>>,
    ) -> Result<BlobReader, BlobError> {
        let options = match range {
            None => GetOptions::default(),
            Some(range) => {
                let size = self.store.head(&location).await.map_err(os_err)?.size;
                if range.start >= range.end || range.start >= size {
                    return Err(BlobError::RangeNotSatisfiable { size });
                }
                GetOptions::default().with_range(Some(range.start..range.end.min(size)))
            }
        };
        let result = self
            .store
            .get_opts(&location, options)
            .await
            .map_err(os_err)?;
        let range = result.range.clone();
        let stream = match result.payload {
            GetResultPayload::File(file, _) => file_stream(file, range.clone()),
            GetResultPayload::Stream(s) => s.map_err(std::io::Error::other).boxed(),
        };
        Ok(BlobReader {
            size: result.meta.size,
            range,
            last_modified: result.meta.last_modified.into(),
            stream,
        })
    }

    /// Deletes a blob. Succeeds if it is already gone (a malformed address names no blob).
    pub async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        if !is_sha256_hex(sha256) {
            return Ok(());
        }
        self.small.remove(sha256);
        ignore_not_found(self.store.delete(&self.blob_path(sha256)).await)
    }

    /// Deletes a blob only if it was last modified at or before `cutoff`; returns whether it did.
    ///
    /// For the garbage sweep: re-checking the modification time right before deleting narrows the
    /// window in which a concurrent [`commit`](Self::commit) of the same content (which refreshes
    /// it) could lose its blob to a sweep that listed the old copy.
    pub async fn delete_if_unmodified_since(
        &self,
        sha256: &str,
        cutoff: SystemTime,
    ) -> Result<bool, BlobError> {
        if !is_sha256_hex(sha256) {
            return Ok(false);
        }
        let location = self.blob_path(sha256);
        let meta = match self.store.head(&location).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(os_err(e)),
        };
        if SystemTime::from(meta.last_modified) > cutoff {
            return Ok(false);
        }
        self.small.remove(sha256);
        ignore_not_found(self.store.delete(&location).await)?;
        Ok(true)
    }

    /// Every committed blob with its size and last-modified time, for the garbage sweep.
    /// Order is unspecified.
    pub fn list(&self) -> impl Stream<Item = Result<BlobInfo, BlobError>> + Send + 'static + use<> {
        let prefix = self.key(&["blobs"]);
        self.store
            .list(Some(&prefix))
            .filter_map(|entry| async move {
                match entry {
                    Ok(meta) => {
                        let sha256 = meta.location.filename().filter(|n| is_sha256_hex(n))?;
                        Some(Ok(BlobInfo {
                            sha256: sha256.to_owned(),
                            size: meta.size,
                            last_modified: meta.last_modified.into(),
                        }))
                    }
                    Err(e) => Some(Err(os_err(e))),
                }
            })
    }

    /// Removes staging objects last written more than `older_than` ago (left by crashes or
    /// abandoned uploads). Returns how many it removed. An upload whose last write is older than
    /// `older_than` counts as abandoned, so choose it well above the longest upload stall.
    pub async fn sweep_staging(&self, older_than: Duration) -> Result<u64, BlobError> {
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if let Some(root) = &self.local_root {
            // Scan the directory itself: object_store hides the `#N` temporaries that an
            // interrupted multipart upload leaves behind.
            let dir = root.join("staging");
            return tokio::task::spawn_blocking(move || sweep_dir(&dir, cutoff))
                .await
                .map_err(join_err)?;
        }
        let prefix = self.key(&["staging"]);
        let mut entries = self.store.list(Some(&prefix));
        let mut removed = 0;
        while let Some(meta) = entries.try_next().await.map_err(os_err)? {
            if SystemTime::from(meta.last_modified) < cutoff {
                ignore_not_found(self.store.delete(&meta.location).await)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Checks that the backing store answers (for `/health`).
    pub async fn ping(&self) -> Result<(), BlobError> {
        if let Some(root) = &self.local_root {
            let meta = tokio::fs::metadata(root)
                .await
                .map_err(|e| BlobError::Unavailable(format!("{}: {e}", root.display())))?;
            if !meta.is_dir() {
                return Err(BlobError::Unavailable(format!(
                    "{} is not a directory",
                    root.display()
                )));
            }
            return Ok(());
        }
        match self.store.head(&self.key(&[PING_KEY])).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Unavailable(e.to_string())),
        }
    }
}

fn ignore_not_found(result: object_store::Result<()>) -> Result<(), BlobError> {
    match result {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(os_err(e)),
    }
}

/// Feeds a chunk to the hasher, on the blocking pool when it is large enough to stall a worker.
async fn hash_chunk(mut hasher: Hasher, chunk: Bytes) -> Result<Hasher, BlobError> {
    if chunk.len() < OFFLOAD_HASH_BYTES {
        hasher.update(&chunk);
        return Ok(hasher);
    }
    tokio::task::spawn_blocking(move || {
        hasher.update(&chunk);
        hasher
    })
    .await
    .map_err(join_err)
}

/// A local blob: opened, measured and its first [`LOCAL_FIRST_READ`] bytes read in one hand-off
/// to the blocking pool (a small package file is served with no second one); the rest, if any,
/// streams as [`file_stream`] reads it. The same answers as `object_store`'s local reads: a
/// missing file is `NotFound`, a range is clamped to the end and one starting at or past it is
/// `RangeNotSatisfiable`.
async fn read_local(
    file: PathBuf,
    range: Option<Range<u64>>,
) -> Result<(BlobReader, Option<Bytes>), BlobError> {
    // Allocated on the runtime worker, as in `file_stream`.
    let mut first = vec![0u8; LOCAL_FIRST_READ];
    let opened = tokio::task::spawn_blocking(move || -> Result<_, BlobError> {
        let mut handle = match std::fs::File::open(&file) {
            Ok(handle) => handle,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let meta = handle.metadata()?;
        let size = meta.len();
        let range = match range {
            None => 0..size,
            Some(range) if range.start >= range.end || range.start >= size => {
                return Err(BlobError::RangeNotSatisfiable { size });
            }
            Some(range) => range.start..range.end.min(size),
        };
        let want = usize::try_from(range.end - range.start)
            .unwrap_or(usize::MAX)
            .min(first.len());
        if range.start > 0 {
            handle.seek(SeekFrom::Start(range.start))?;
        }
        handle.read_exact(&mut first[..want])?;
        first.truncate(want);
        Ok((handle, size, range, meta.modified()?, first))
    })
    .await
    .map_err(join_err)??;
    let (handle, size, range, last_modified, first) = opened;
    let rest = range.start + first.len() as u64..range.end;
    let first = Bytes::from(first);
    let whole = (range == (0..size) && rest.is_empty()).then(|| first.clone());
    let head = stream::iter((!first.is_empty()).then(|| Ok(first)));
    let stream = if rest.is_empty() {
        head.boxed()
    } else {
        head.chain(file_stream(handle, rest)).boxed()
    };
    let reader = BlobReader {
        size,
        range,
        last_modified,
        stream,
    };
    Ok((reader, whole))
}

/// A reader over a small blob held in memory, with `get`'s range rules.
fn small_reader(
    bytes: Bytes,
    last_modified: SystemTime,
    range: Option<Range<u64>>,
) -> Result<BlobReader, BlobError> {
    let size = bytes.len() as u64;
    let range = match range {
        None => 0..size,
        Some(range) if range.start >= range.end || range.start >= size => {
            return Err(BlobError::RangeNotSatisfiable { size });
        }
        Some(range) => range.start..range.end.min(size),
    };
    let at = |offset: u64| usize::try_from(offset).unwrap_or(usize::MAX);
    let part = bytes.slice(at(range.start)..at(range.end));
    Ok(BlobReader {
        size,
        range,
        last_modified,
        stream: stream::iter((!part.is_empty()).then(|| Ok(part))).boxed(),
    })
}

/// Small blobs in memory, up to [`SMALL_BLOBS_BYTES`] in all (a full cache starts over).
#[derive(Default)]
struct SmallBlobs {
    /// SHA-256 → (bytes, last modified), and the bytes held in all.
    entries: std::sync::Mutex<(SmallBlobMap, usize)>,
}

type SmallBlobMap = std::collections::HashMap<String, (Bytes, SystemTime)>;

impl SmallBlobs {
    fn get(&self, sha256: &str) -> Option<(Bytes, SystemTime)> {
        let entries = self.entries.lock().ok()?;
        entries.0.get(sha256).cloned()
    }

    fn insert(&self, sha256: &str, bytes: Bytes, last_modified: SystemTime) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let (map, total) = &mut *entries;
        if *total + bytes.len() > SMALL_BLOBS_BYTES {
            map.clear();
            *total = 0;
        }
        *total += bytes.len();
        if let Some((old, _)) = map.insert(sha256.to_owned(), (bytes, last_modified)) {
            *total -= old.len();
        }
    }

    fn remove(&self, sha256: &str) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some((old, _)) = entries.0.remove(sha256)
        {
            entries.1 -= old.len();
        }
    }
}

/// Streams `range` of a local file in `FILE_READ_CHUNK` pieces read on the blocking pool.
fn file_stream(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    struct State {
        file: std::fs::File,
        pos: u64,
        end: u64,
        positioned: bool,
    }
    let state = State {
        file,
        pos: range.start,
        end: range.end,
        positioned: false,
    };
    stream::try_unfold(state, |mut state| async move {
        if state.pos >= state.end {
            return Ok(None);
        }
        let want = usize::try_from(state.end - state.pos)
            .unwrap_or(usize::MAX)
            .min(FILE_READ_CHUNK);
        // The buffer is allocated here, on the runtime worker, not on the blocking thread: memory
        // a thread allocates stays in that thread's allocator heap, and with up to 32 blocking
        // threads each holding its own freed read buffers 64 concurrent downloads grew RSS by
        // ~140 MiB. The runtime's few workers allocate (and hyper frees) every buffer.
        let mut buf = vec![0u8; want];
        tokio::task::spawn_blocking(move || {
            if !state.positioned {
                state.file.seek(SeekFrom::Start(state.pos))?;
                state.positioned = true;
            }
            state.file.read_exact(&mut buf)?;
            state.pos += want as u64;
            Ok(Some((Bytes::from(buf), state)))
        })
        .await
        .map_err(std::io::Error::other)?
    })
    .boxed()
}

/// Removes regular files in `dir` modified before `cutoff`.
fn sweep_dir(dir: &FsPath, cutoff: SystemTime) -> Result<u64, BlobError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        if !meta.is_file() || meta.modified()? >= cutoff {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> S3Settings {
        S3Settings {
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: None,
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("secret".into()),
            force_path_style: true,
        }
    }

    #[test]
    fn content_address_layout() {
        let store = BlobStore::memory();
        let sha = Hashes::of(b"abc").sha256;
        assert_eq!(store.blob_path(&sha).as_ref(), format!("blobs/ba/78/{sha}"));
    }

    #[test]
    fn s3_url_with_prefix() -> Result<(), BlobError> {
        let store = BlobStore::from_url("s3://bucket/some/prefix/", &settings())?;
        assert_eq!(store.prefix.as_ref(), "some/prefix");
        assert!(store.local_root.is_none());
        let sha = Hashes::of(b"").sha256;
        assert_eq!(
            store.blob_path(&sha).as_ref(),
            format!("some/prefix/blobs/e3/b0/{sha}")
        );
        let bare = BlobStore::from_url(
            "s3://bucket",
            &S3Settings {
                force_path_style: false,
                ..settings()
            },
        )?;
        assert_eq!(bare.prefix.as_ref(), "");
        Ok(())
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for url in [
            "ftp://x",
            "s3://",
            "s3:///prefix",
            "file://relative/path",
            "relative",
        ] {
            assert!(
                matches!(
                    BlobStore::from_url(url, &S3Settings::default()),
                    Err(BlobError::InvalidConfig(_))
                ),
                "{url}"
            );
        }
        let half_credentials = S3Settings {
            secret_access_key: None,
            ..settings()
        };
        assert!(matches!(
            BlobStore::from_url("s3://bucket", &half_credentials),
            Err(BlobError::InvalidConfig(_))
        ));
    }

    #[test]
    fn secret_is_not_debug_printed() {
        let printed = format!("{:?}", settings());
        assert!(!printed.contains("secret\""), "{printed}");
        assert!(printed.contains("<redacted>"));
    }
}
