//! The package endpoints' read path without the database: which repository a path names, what
//! a download's version holds, and rendered documents, each cached under the store's change
//! counter (see `cache`). A read stamps itself with the counter *before* it reads, so a write
//! that commits meanwhile leaves it stamped with a value that has already moved.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reliquary_store::{RepositoryKey, VersionWithAssets};
use reliquary_types::PackageKey;
use sha2::{Digest as _, Sha256};

use super::cache::StampedCache;
use crate::Result;
use crate::service::Service;

/// Entries of each cache (a full cache starts over).
const ENTRIES: usize = 16_384;
/// The longest a repository or version is served from memory, even if no change was seen (a
/// safety net for a missed notification).
const SAFETY_AGE: Duration = Duration::from_secs(60);

/// A rendered document with its strong ETag.
#[derive(Debug)]
pub struct Rendered {
    pub body: Bytes,
    pub content_type: &'static str,
    /// `"<32 hex>"`: 128 bits of the SHA-256 of the body.
    pub etag: String,
}

pub(crate) struct HotPath {
    pub(crate) repositories: StampedCache<(String, String), RepositoryKey>,
    pub(crate) versions: StampedCache<(RepositoryKey, PackageKey, String), VersionWithAssets>,
    rendered: StampedCache<String, Arc<Rendered>>,
}

impl HotPath {
    /// `documents_max_age`: rendered documents may hold an external registry's versions, so
    /// they live no longer than the registry's cached documents.
    pub(crate) fn new(documents_max_age: Duration) -> Self {
        Self {
            repositories: StampedCache::new(ENTRIES, SAFETY_AGE),
            versions: StampedCache::new(ENTRIES, SAFETY_AGE),
            rendered: StampedCache::new(ENTRIES, documents_max_age.min(SAFETY_AGE)),
        }
    }
}

impl Service {
    /// A document of a package endpoint (a packument, a project page), rendered by `render`
    /// only when no rendering of `key` is cached under the current change counter. `key` names
    /// everything the document depends on besides the store (repository, package, shape).
    ///
    /// # Errors
    /// Whatever `render` returns.
    pub async fn rendered<F>(&self, key: String, render: F) -> Result<Arc<Rendered>>
    where
        F: Future<Output = Result<(Vec<u8>, &'static str)>>,
    {
        let stamp = self.store().changes();
        if let Some(hit) = self.hot.rendered.get(&key, stamp) {
            return Ok(hit);
        }
        let (body, content_type) = render.await?;
        let digest = Sha256::digest(&body);
        let rendered = Arc::new(Rendered {
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
            body: Bytes::from(body),
            content_type,
        });
        self.hot.rendered.insert(key, stamp, Arc::clone(&rendered));
        Ok(rendered)
    }
}
