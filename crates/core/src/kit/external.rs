//! External connections: one streaming fetch behind a trait (implemented over HTTP by the `http`
//! crate), and a cache of the registries' documents per (connection, path) that revalidates
//! after a maximum age and keeps serving its copy while the registry is down.
//! Parsing a registry's documents belongs to the format that asked for them.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use reliquary_types::ExternalConnection;

/// What the external registry client returns.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    #[error("not found")]
    NotFound,
    #[error("external registry unavailable: {0}")]
    Unavailable(String),
}

/// What to fetch from the registry behind a connection.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A path under the connection's configured base URL, its segments already percent-encoded
    /// by the format (`react`, `%40types%2fnode`, `requests/`).
    Path(&'a str),
    /// An absolute URL a document of that registry named (a tarball, a distribution file).
    Url(&'a str),
}

/// One GET to an external registry.
#[derive(Debug, Clone, Copy)]
pub struct ExternalRequest<'a> {
    pub target: Target<'a>,
    pub accept: &'a str,
    /// Validators of a cached copy: the registry answers `NotModified` when they still hold.
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
}

/// A successful answer: the body streams.
pub struct ExternalResponse {
    pub not_modified: bool,
    /// The URL that answered (after redirects), to resolve relative links against.
    pub url: String,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

impl std::fmt::Debug for ExternalResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalResponse")
            .field("not_modified", &self.not_modified)
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// Reaches public registries (the external connections). Core decides when to ask and what to
/// keep; the implementation only moves bytes.
#[async_trait::async_trait]
pub trait ExternalRegistry: Send + Sync {
    /// One GET; 404 is `NotFound`, any other failure `Unavailable`.
    async fn get(
        &self,
        connection: ExternalConnection,
        request: ExternalRequest<'_>,
    ) -> Result<ExternalResponse, ExternalError>;
}

/// A registry client for servers without external connections configured.
#[derive(Debug, Default)]
pub struct NoExternalRegistry;

#[async_trait::async_trait]
impl ExternalRegistry for NoExternalRegistry {
    async fn get(
        &self,
        _: ExternalConnection,
        _: ExternalRequest<'_>,
    ) -> Result<ExternalResponse, ExternalError> {
        Err(ExternalError::Unavailable(
            "no external registry is configured".to_owned(),
        ))
    }
}

/// A registry document as fetched (or as cached).
#[derive(Clone)]
pub struct ExternalDocument {
    pub body: Bytes,
    pub content_type: String,
    /// The URL that answered, to resolve relative links against.
    pub url: String,
    /// What the format made of `body` ([`ExternalDocument::parsed`]), shared by every clone of
    /// this copy: a cached document is parsed once per fetch, not once per request.
    parsed: Arc<OnceLock<Arc<dyn Any + Send + Sync>>>,
}

/// What the cache counts for a document: its bytes, and about twice that again for the form the
/// format parses it into (a JSON tree is larger than its text).
const PARSED_WEIGHT: usize = 3;

impl ExternalDocument {
    /// A document as fetched, not parsed yet.
    #[must_use]
    pub fn new(body: Bytes, content_type: String, url: String) -> Self {
        Self {
            body,
            content_type,
            url,
            parsed: Arc::default(),
        }
    }

    /// The body parsed by `parse`, once for this copy of the document: later calls, on this
    /// copy or on clones of it (the cache hands out clones until the registry's copy changes),
    /// return the same value without parsing again. A parse error is not kept.
    ///
    /// # Errors
    /// `parse`'s.
    pub fn parsed<T, E>(&self, parse: impl FnOnce(&Self) -> Result<T, E>) -> Result<Arc<T>, E>
    where
        T: Any + Send + Sync,
    {
        if let Some(value) = self.ready::<T>() {
            return Ok(value);
        }
        let value = Arc::new(parse(self)?);
        // A racing request may have set it first: either value is the same document's.
        let _ = self
            .parsed
            .set(Arc::clone(&value) as Arc<dyn Any + Send + Sync>);
        Ok(value)
    }

    /// The parsed form, if this copy was parsed into a `T` already.
    #[must_use]
    pub fn ready<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.parsed
            .get()
            .and_then(|value| Arc::clone(value).downcast::<T>().ok())
    }

    fn weight(&self) -> usize {
        self.body.len() * PARSED_WEIGHT
    }
}

impl std::fmt::Debug for ExternalDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalDocument")
            .field("bytes", &self.body.len())
            .field("content_type", &self.content_type)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

struct Cached {
    document: ExternalDocument,
    etag: Option<String>,
    last_modified: Option<String>,
    checked: Instant,
}

type CacheKey = (ExternalConnection, String, String);

/// Registry documents per (connection, path, accept), bounded in bytes (oldest checked first out).
pub(crate) struct DocumentCache {
    max_age: Duration,
    max_bytes: usize,
    entries: Mutex<HashMap<CacheKey, Cached>>,
}

impl DocumentCache {
    pub(crate) fn new(max_age: Duration, max_bytes: usize) -> Self {
        Self {
            max_age,
            max_bytes,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lookup(
        &self,
        key: &CacheKey,
    ) -> Option<(ExternalDocument, bool, Option<String>, Option<String>)> {
        let entries = self.entries.lock().ok()?;
        let cached = entries.get(key)?;
        Some((
            cached.document.clone(),
            cached.checked.elapsed() < self.max_age,
            cached.etag.clone(),
            cached.last_modified.clone(),
        ))
    }

    fn touch(&self, key: &CacheKey) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some(cached) = entries.get_mut(key)
        {
            cached.checked = Instant::now();
        }
    }

    fn forget(&self, key: &CacheKey) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    fn store(&self, key: CacheKey, cached: Cached) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.insert(key, cached);
        let mut total: usize = entries.values().map(|c| c.document.weight()).sum();
        while total > self.max_bytes {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, c)| c.checked)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(removed) = entries.remove(&oldest) {
                total -= removed.document.weight();
            }
        }
    }

    /// The document at `path` of the registry behind `connection`: from the cache while it is
    /// younger than the maximum age, else revalidated (`If-None-Match`/`If-Modified-Since`) or
    /// fetched; the cached copy when the registry is unreachable. `Ok(None)` when the registry
    /// does not have it.
    pub(crate) async fn get(
        &self,
        registry: &dyn ExternalRegistry,
        connection: ExternalConnection,
        path: &str,
        accept: &str,
        max_bytes: u64,
    ) -> Result<Option<ExternalDocument>, ExternalError> {
        let key = (connection, path.to_owned(), accept.to_owned());
        let cached = self.lookup(&key);
        if let Some((document, true, _, _)) = &cached {
            return Ok(Some(document.clone()));
        }
        let (etag, last_modified) = cached
            .as_ref()
            .map(|(_, _, e, l)| (e.clone(), l.clone()))
            .unwrap_or_default();
        let request = ExternalRequest {
            target: Target::Path(path),
            accept,
            if_none_match: etag.as_deref(),
            if_modified_since: last_modified.as_deref(),
        };
        let answer = match registry.get(connection, request).await {
            Ok(response) if response.not_modified && cached.is_some() => {
                self.touch(&key);
                return Ok(cached.map(|(document, ..)| document));
            }
            Ok(response) => read_document(response, max_bytes).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok((document, etag, last_modified)) => {
                let cached = Cached {
                    document: document.clone(),
                    etag,
                    last_modified,
                    checked: Instant::now(),
                };
                self.store(key, cached);
                Ok(Some(document))
            }
            Err(ExternalError::NotFound) => {
                self.forget(&key);
                Ok(None)
            }
            Err(ExternalError::Unavailable(detail)) => match cached {
                Some((document, ..)) => {
                    tracing::warn!(error.detail = %detail, connection = connection.name(), path, "external registry unavailable; serving the cached document");
                    Ok(Some(document))
                }
                None => Err(ExternalError::Unavailable(detail)),
            },
        }
    }
}

async fn read_document(
    response: ExternalResponse,
    max_bytes: u64,
) -> Result<(ExternalDocument, Option<String>, Option<String>), ExternalError> {
    let ExternalResponse {
        url,
        content_type,
        etag,
        last_modified,
        mut body,
        ..
    } = response;
    let mut bytes = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ExternalError::Unavailable(e.to_string()))?;
        if (bytes.len() + chunk.len()) as u64 > max_bytes {
            return Err(ExternalError::Unavailable(format!(
                "{url} is larger than {max_bytes} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let document = ExternalDocument::new(bytes.freeze(), content_type.unwrap_or_default(), url);
    Ok((document, etag, last_modified))
}
