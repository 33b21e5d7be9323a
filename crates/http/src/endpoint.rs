//! The format kit, HTTP half: what every package-format endpoint shares, written once.
//! - [`PackageRequest`], an extractor that authenticates the token (`Bearer`, Basic
//!   `aws:<token>` or bare), resolves the repository named in the path and splits the rest of
//!   the path into decoded segments (each raw segment decoded on its own, so an encoded `/` or
//!   `-` never moves the split);
//! - [`EndpointError`], one mapping of the core's errors to statuses, rendered in each client's
//!   dialect by its [`Dialect`];
//! - [`download`]: content type, length, ETag/304, single `Range`s and `HEAD`;
//! - request logging, once per request, by the router (`log_request`).
//!
//! A format implements [`FormatEndpoint`] (its name, rules and routes) in
//! `crates/formats/src/<name>/` and is registered by one line in `reliquary_formats::all`.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use reliquary_core::kit::{FormatRules, Rendered};
use reliquary_core::{AssetDownload, Caller, Error, Service};
use reliquary_store::RepositoryKey;

use crate::AppState;

/// How one package manager reads errors.
pub trait Dialect: Send + Sync + 'static {
    /// The endpoint's path segment (`npm` in `/npm/d/{domain}-{owner}/{repo}/…`).
    const NAME: &'static str;
    /// The `WWW-Authenticate` challenge sent with a 401, so the client sends its credentials.
    const CHALLENGE: &'static str;

    /// The body (and content type) of an error as this client shows it.
    fn render(status: StatusCode, message: &str) -> Response;
}

/// A package format's endpoint: registered once, in `reliquary_formats::all`.
pub trait FormatEndpoint: Send + Sync {
    /// The rules the core's shared operations consult.
    fn rules(&self) -> Arc<dyn FormatRules>;
    /// Its routes, absolute (`/npm/d/{domain_owner}/{repository}/{*rest}` …).
    fn router(&self) -> Router<AppState>;
}

/// An error of a package endpoint, rendered in `D`'s dialect.
pub struct EndpointError<D> {
    pub status: StatusCode,
    pub message: String,
    dialect: PhantomData<fn() -> D>,
}

impl<D> std::fmt::Debug for EndpointError<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointError")
            .field("status", &self.status)
            .field("message", &self.message)
            .finish()
    }
}

impl<D> EndpointError<D> {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            dialect: PhantomData,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl<D> From<Error> for EndpointError<D> {
    fn from(err: Error) -> Self {
        let status = match &err {
            Error::Validation { .. } => StatusCode::BAD_REQUEST,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::QuotaExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::AccessDenied { .. } => StatusCode::FORBIDDEN,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, err.to_string())
    }
}

impl<D: Dialect> IntoResponse for EndpointError<D> {
    fn into_response(self) -> Response {
        let mut response = D::render(self.status, &self.message);
        *response.status_mut() = self.status;
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(D::CHALLENGE),
            );
        }
        response
    }
}

/// An authenticated request to a repository's `D` endpoint.
pub struct PackageRequest<D> {
    pub service: Arc<Service>,
    pub caller: Caller,
    pub repository: RepositoryKey,
    /// The path after `/{format}/d/{domain}-{owner}/{repo}/`, each segment percent-decoded
    /// (empty segments dropped).
    pub segments: Vec<String>,
    format: &'static str,
    dialect: PhantomData<fn() -> D>,
}

impl<D: Dialect> FromRequestParts<AppState> for PackageRequest<D> {
    type Rejection = EndpointError<D>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.path();
        let mut segments = raw.split('/').skip(1).map(decode);
        let (Some(format), Some(d), Some(domain_owner), Some(repository)) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(EndpointError::not_found("Not found"));
        };
        if format != D::NAME || d != "d" {
            return Err(EndpointError::not_found("Not found"));
        }
        let token = token(&parts.headers);
        let (caller, repository) = state
            .service
            .endpoint_repository(&domain_owner, &repository, token.as_deref(), now_seconds())
            .await
            .map_err(|e| match e {
                Error::AccessDenied { message } => {
                    EndpointError::new(StatusCode::UNAUTHORIZED, message)
                }
                other => other.into(),
            })?;
        Ok(Self {
            service: Arc::clone(&state.service),
            caller,
            repository,
            segments: segments.filter(|s| !s.is_empty()).collect(),
            format: D::NAME,
            dialect: PhantomData,
        })
    }
}

impl<D> PackageRequest<D> {
    /// The document this request names in its `variant` (a media type, a packument shape),
    /// rendered by `render` unless a rendering is cached under the store's current change
    /// counter (`Service::rendered`).
    ///
    /// # Errors
    /// Whatever `render` returns.
    pub async fn rendered<F>(
        &self,
        variant: &str,
        render: F,
    ) -> Result<Arc<Rendered>, EndpointError<D>>
    where
        F: Future<Output = reliquary_core::Result<(Vec<u8>, &'static str)>>,
    {
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{variant}",
            self.repository.domain.owner,
            self.repository.domain.name,
            self.repository.name,
            self.format,
            self.segments.join("/"),
        );
        Ok(self.service.rendered(key, render).await?)
    }
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The token of a package-endpoint request: `Bearer T`, Basic `user:T`, or a bare `T`.
fn token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let scheme = |prefix: &str| {
        value
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .map(|_| value[prefix.len()..].trim())
    };
    if let Some(token) = scheme("Bearer ") {
        return Some(token.to_owned());
    }
    if let Some(basic) = scheme("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    (!value.is_empty()).then(|| value.to_owned())
}

/// Logs each package-endpoint request once: errors (5xx) at ERROR, the rest at DEBUG. Tokens
/// and `Authorization` are never logged.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let request_id = uuid::Uuid::new_v4().to_string();
    let response = next.run(request).await;
    let status = response.status();
    if status.is_server_error() {
        tracing::error!(request.id = %request_id, %method, %path, status = status.as_u16(), "package request failed");
    } else {
        tracing::debug!(request.id = %request_id, %method, %path, status = status.as_u16(), "package request");
    }
    response
}

/// Why [`small_body`] refused a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmallBodyError {
    /// More than the limit (bytes).
    TooLarge(usize),
    /// The body broke off or could not be read (the client's doing).
    Broken(String),
}

/// A small request body (a control-plane document, a sidecar, a dist-tag) read whole, at most
/// `limit` bytes; larger bodies stream instead, through the blob store's staging.
///
/// # Errors
/// [`SmallBodyError`].
pub async fn small_body(body: Body, limit: usize) -> Result<bytes::Bytes, SmallBodyError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|inner| inner.is::<http_body_util::LengthLimitError>());
        if too_large {
            SmallBodyError::TooLarge(limit)
        } else {
            SmallBodyError::Broken(e.to_string())
        }
    })
}

/// A rendered document with its strong ETag, or 304 when `If-None-Match` names it.
#[must_use]
pub fn document(headers: &HeaderMap, rendered: &Rendered) -> Response {
    let last_modified = httpdate::fmt_http_date(rendered.last_modified);
    // `If-None-Match` decides when sent (RFC 9110 §13.2.2); `If-Modified-Since` only without it.
    let unchanged = if headers.contains_key(header::IF_NONE_MATCH) {
        matches_etag(headers, &rendered.etag)
    } else {
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| since >= rendered.last_modified)
    };
    if unchanged {
        let mut response = not_modified(&rendered.etag);
        if let Ok(value) = HeaderValue::from_str(&last_modified) {
            response.headers_mut().insert(header::LAST_MODIFIED, value);
        }
        return response;
    }
    let mut response = Body::from(rendered.body.clone()).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    if let Ok(value) = HeaderValue::from_str(&rendered.etag) {
        response_headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&last_modified) {
        response_headers.insert(header::LAST_MODIFIED, value);
    }
    response
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|list| {
            list.split(',').map(str::trim).any(|candidate| {
                candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
            })
        })
}

fn not_modified(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The content type of a file by its name's extension (`application/octet-stream` otherwise).
fn content_type_of(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    let ends = |ext: &str| lower.ends_with(ext);
    if ends(".tgz") || ends(".tar.gz") || ends(".crate") || ends(".gem") {
        "application/gzip"
    } else if ends(".whl") || ends(".zip") || ends(".jar") || ends(".nupkg") {
        "application/zip"
    } else if ends(".json") {
        "application/json"
    } else if ends(".xml") || ends(".pom") {
        "application/xml"
    } else if ends(".metadata") || ends(".txt") || ends(".md5") || ends(".sha1") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// A single `bytes=` range of a file of `size` bytes: `Ok(None)` for no (or an ignorable)
/// Range header, `Err(())` when it cannot be satisfied.
fn requested_range(headers: &HeaderMap, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: served whole, as RFC 9110 allows.
        return Ok(None);
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let range = match (start.parse::<u64>().ok(), end.parse::<u64>().ok()) {
        (Some(start), Some(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Some(start), None) if end.is_empty() => start..size,
        (None, Some(suffix)) if start.is_empty() && suffix > 0 => size.saturating_sub(suffix)..size,
        _ => return Ok(None),
    };
    if range.start >= size {
        return Err(());
    }
    Ok(Some(range))
}

/// Serves an asset: content type, length, a strong ETag (its SHA-256) with 304s, a single
/// `Range` (206, or 416 when it cannot be satisfied), and `HEAD` without a body.
///
/// # Errors
/// Blob store failures.
pub async fn download<D: Dialect>(
    service: &Service,
    method: &Method,
    headers: &HeaderMap,
    download: AssetDownload,
) -> Result<Response, EndpointError<D>> {
    let AssetDownload { asset, body, .. } = download;
    let etag = format!("\"{}\"", asset.hashes.sha256);
    if matches_etag(headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let size = body.content_length();
    let (status, reader, content_range) = match requested_range(headers, size) {
        Ok(None) => (StatusCode::OK, body, None),
        Ok(Some(range)) => {
            drop(body);
            let content_range = format!("bytes {}-{}/{size}", range.start, range.end - 1);
            let reader = service.open_blob_range(&asset, range).await?;
            (StatusCode::PARTIAL_CONTENT, reader, Some(content_range))
        }
        Err(()) => {
            let mut response = D::render(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "The requested range is not satisfiable",
            );
            *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let length = reader.content_length();
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from_stream(reader.into_stream())
    };
    let mut response = (status, body).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type_of(&asset.name)),
    );
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    if let Some(content_range) = content_range
        && let Ok(value) = HeaderValue::from_str(&content_range)
    {
        response_headers.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::RANGE,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
        requested_range(&headers, size)
    }

    #[test]
    fn single_byte_ranges_follow_rfc_9110() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=50-500", 100), Ok(Some(50..100)));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
        assert_eq!(range("bytes=9-1", 100), Ok(None));
    }

    #[test]
    fn tokens_come_as_bearer_basic_or_bare() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
            );
            token(&headers)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("Basic YXdzOmFiYw==").as_deref(), Some("abc"));
        assert_eq!(with("abc").as_deref(), Some("abc"));
    }
}
