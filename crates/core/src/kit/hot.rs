//! The package endpoints' read path without the database: which repository a path names, what
//! a download's version holds, and rendered documents, each cached under the store's change
//! counter (see `cache`). A read stamps itself with the counter *before* it reads, so a write
//! that commits meanwhile leaves it stamped with a value that has already moved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// `Last-Modified`, whole seconds: unchanged while the body is the same, and on this node
    /// strictly later for every new body, so `If-Modified-Since` with a value this node sent is
    /// answered 304 only for the very body it was sent with.
    pub last_modified: SystemTime,
}

pub(crate) struct HotPath {
    pub(crate) repositories: StampedCache<(String, String), RepositoryKey>,
    pub(crate) versions: StampedCache<(RepositoryKey, PackageKey, String), VersionWithAssets>,
    rendered: StampedCache<String, Arc<Rendered>>,
    modified: Mutex<LastModified>,
}

impl HotPath {
    /// `documents_max_age`: rendered documents may hold an external registry's versions, so
    /// they live no longer than the registry's cached documents.
    pub(crate) fn new(documents_max_age: Duration) -> Self {
        Self {
            repositories: StampedCache::new(ENTRIES, SAFETY_AGE),
            versions: StampedCache::new(ENTRIES, SAFETY_AGE),
            rendered: StampedCache::new(ENTRIES, documents_max_age.min(SAFETY_AGE)),
            modified: Mutex::new(LastModified::default()),
        }
    }

    /// The `Last-Modified` second of `key` rendered with `etag`: the previous one if the body is
    /// the same, else the current second rounded up and after the previous one. When the map
    /// starts over (it is bounded), keys it forgot get times after every second handed out
    /// before, so a forgotten time never comes back as an earlier one.
    fn last_modified(&self, key: &str, etag: &str) -> SystemTime {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        let Ok(mut guard) = self.modified.lock() else {
            return UNIX_EPOCH + Duration::from_secs(now);
        };
        let LastModified {
            by_key,
            latest,
            floor,
        } = &mut *guard;
        let seconds = match by_key.get(key) {
            Some((same, at)) if same == etag => *at,
            Some((_, at)) => now.max(at + 1),
            None => now.max(*floor),
        };
        *latest = (*latest).max(seconds);
        if by_key.len() >= ENTRIES * 4 {
            by_key.clear();
            *floor = *latest + 1;
        }
        by_key.insert(key.to_owned(), (etag.to_owned(), seconds));
        UNIX_EPOCH + Duration::from_secs(seconds)
    }
}

/// What [`HotPath::last_modified`] remembers.
#[derive(Default)]
struct LastModified {
    /// Per document key: the ETag and `Last-Modified` (epoch seconds) it was last rendered with;
    /// outlives the rendered cache's invalidations.
    by_key: HashMap<String, (String, u64)>,
    /// The latest second handed out.
    latest: u64,
    /// Keys not in `by_key` get no earlier second than this (after the map started over).
    floor: u64,
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
        let etag = format!("\"{}\"", hex::encode(&digest[..16]));
        let rendered = Arc::new(Rendered {
            last_modified: self.hot.last_modified(&key, &etag),
            etag,
            body: Bytes::from(body),
            content_type,
        });
        self.hot.rendered.insert(key, stamp, Arc::clone(&rendered));
        Ok(rendered)
    }
}
