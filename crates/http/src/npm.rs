//! `/npm/d/{domain}-{owner}/{repo}/…`: the npm registry API over the core's npm rules.
//! Errors are `{"error": …}` with the status npm expects; tokens come from
//! GetAuthorizationToken as `Bearer`, Basic `aws:<token>` or the bare token.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use reliquary_core::{Error, Packument, Service};
use reliquary_formats::npm as format;
use reliquary_store::RepositoryKey;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::AppState;

/// npm publish bodies carry the tarball base64-encoded; cap them well above any sane package.
const MAX_PUBLISH_BYTES: usize = 400 * 1024 * 1024;

/// An error in npm's dialect.
pub(crate) struct NpmError {
    status: StatusCode,
    message: String,
}

impl NpmError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
}

impl From<Error> for NpmError {
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

impl IntoResponse for NpmError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, json_body(&format::error_body(&self.message))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"reliquary\""),
            );
        }
        response
    }
}

fn json_body(value: &serde_json::Value) -> ([(header::HeaderName, &'static str); 1], Vec<u8>) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// The token of a package-endpoint request: `Bearer T`, Basic `user:T`, or a bare `T`.
pub(crate) fn token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        return Some(token.trim().to_owned());
    }
    if let Some(basic) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    (!value.is_empty()).then(|| value.to_owned())
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) async fn handle(
    State(state): State<AppState>,
    Path((domain_owner, repository, _rest)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let result = serve(&state.service, &domain_owner, &repository, request).await;
    let response = result.unwrap_or_else(IntoResponse::into_response);
    let status = response.status();
    if status.is_server_error() {
        tracing::error!(request.id = %request_id, %method, %path, status = status.as_u16(), "npm request failed");
    } else {
        tracing::debug!(request.id = %request_id, %method, %path, status = status.as_u16(), "npm request");
    }
    response
}

async fn serve(
    service: &Service,
    domain_owner: &str,
    repository: &str,
    request: Request,
) -> Result<Response, NpmError> {
    let token = token(request.headers());
    let (_caller, repo) = service
        .endpoint_repository(domain_owner, repository, token.as_deref(), now_seconds())
        .await
        .map_err(|e| match e {
            Error::AccessDenied { message } => NpmError::unauthorized(message),
            other => other.into(),
        })?;
    let prefix_len = format!("/npm/d/{domain_owner}/{repository}/").len();
    let raw_rest = request
        .uri()
        .path()
        .get(prefix_len..)
        .unwrap_or("")
        .to_owned();
    let rest = percent_encoding::percent_decode_str(&raw_rest)
        .decode_utf8_lossy()
        .into_owned();
    let segments: Vec<&str> = rest.split('/').collect();
    let method = request.method().clone();
    match segments.as_slice() {
        ["-", "ping"] => Ok(json_body(&json!({})).into_response()),
        ["-", "whoami"] => Ok(json_body(&json!({"username": "aws"})).into_response()),
        ["-", "package", rest @ ..] => dist_tags(service, &repo, &method, rest, request).await,
        _ => {
            let (name, remainder) = match segments.as_slice() {
                [scope, name, remainder @ ..] if scope.starts_with('@') => {
                    (format!("{scope}/{name}"), remainder)
                }
                [name, remainder @ ..] => ((*name).to_owned(), remainder),
                [] => return Err(NpmError::new(StatusCode::NOT_FOUND, "Not found")),
            };
            let (scope, unscoped) = format::parse_name(&name)
                .map_err(|e| NpmError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
            let scope = scope.as_deref();
            match (&method, remainder) {
                (&Method::GET | &Method::HEAD, []) => {
                    let headers = request.headers();
                    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
                    let shape = if format::wants_abbreviated(accept) {
                        Packument::Abbreviated
                    } else {
                        Packument::Full
                    };
                    let mut document = service
                        .npm_packument(&repo, scope, &unscoped, shape)
                        .await?;
                    let content_type = match shape {
                        Packument::Abbreviated => "application/vnd.npm.install-v1+json",
                        Packument::Full => {
                            document["_rev"] = json!("1-0");
                            "application/json"
                        }
                    };
                    Ok(packument_response(
                        &document,
                        content_type,
                        headers.get(header::IF_NONE_MATCH),
                    ))
                }
                (&Method::PUT, [] | ["-rev", _]) => {
                    let body = axum::body::to_bytes(request.into_body(), MAX_PUBLISH_BYTES)
                        .await
                        .map_err(|_| {
                            NpmError::new(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                "The publish request is too large",
                            )
                        })?;
                    let document = format::parse_publish(&body)
                        .map_err(|e| NpmError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
                    service.npm_put(&repo, scope, &unscoped, &document).await?;
                    Ok((
                        StatusCode::CREATED,
                        json_body(&json!({"ok": true, "id": name})),
                    )
                        .into_response())
                }
                (&Method::DELETE, ["-rev", _]) => {
                    service.npm_delete_package(&repo, scope, &unscoped).await?;
                    Ok(json_body(&json!({"ok": true})).into_response())
                }
                (&Method::GET | &Method::HEAD, ["-", file]) => {
                    let version = version_of(&unscoped, file)?;
                    tarball(
                        service,
                        &repo,
                        scope,
                        &unscoped,
                        &version,
                        method == Method::HEAD,
                    )
                    .await
                }
                // npm unpublish removes the version with a PUT first; this DELETE of its tarball
                // then has nothing left to do.
                (&Method::DELETE, ["-", _file, "-rev", _]) => {
                    Ok(json_body(&json!({"ok": true})).into_response())
                }
                _ => Err(NpmError::new(
                    StatusCode::NOT_FOUND,
                    format!("No npm route for {method} {rest}"),
                )),
            }
        }
    }
}

/// A packument with a strong ETag (a hash of its bytes), or 304 Not Modified when the client's
/// `If-None-Match` names it: npm revalidates every cached packument this way on an install.
fn packument_response(
    document: &serde_json::Value,
    content_type: &'static str,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let body = serde_json::to_vec(document).unwrap_or_default();
    let digest = Sha256::digest(&body);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let not_modified = if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|list| {
            list.split(',').map(str::trim).any(|candidate| {
                candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
            })
        });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    response.headers_mut().insert(header::ETAG, etag_value);
    response
}

/// `name-1.2.3.tgz` → `1.2.3`.
fn version_of(name: &str, file: &str) -> Result<String, NpmError> {
    file.strip_prefix(&format!("{name}-"))
        .and_then(|v| v.strip_suffix(".tgz"))
        .map(str::to_owned)
        .ok_or_else(|| NpmError::new(StatusCode::NOT_FOUND, format!("No tarball {file}")))
}

async fn tarball(
    service: &Service,
    repo: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    version: &str,
    head: bool,
) -> Result<Response, NpmError> {
    let download = service.npm_tarball(repo, scope, name, version).await?;
    let length = download.body.content_length();
    let body = if head {
        Body::empty()
    } else {
        Body::from_stream(download.body.into_stream())
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}

/// `/-/package/<name>/dist-tags[/<tag>]`.
async fn dist_tags(
    service: &Service,
    repo: &RepositoryKey,
    method: &Method,
    rest: &[&str],
    request: Request,
) -> Result<Response, NpmError> {
    let (name, tail) = match rest {
        [scope, name, tail @ ..] if scope.starts_with('@') => (format!("{scope}/{name}"), tail),
        [name, tail @ ..] => ((*name).to_owned(), tail),
        [] => return Err(NpmError::new(StatusCode::NOT_FOUND, "Not found")),
    };
    let (scope, unscoped) = format::parse_name(&name)
        .map_err(|e| NpmError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let scope = scope.as_deref();
    match (method, tail) {
        (&Method::GET, ["dist-tags"]) => {
            Ok(json_body(&service.npm_dist_tags(repo, scope, &unscoped).await?).into_response())
        }
        (&Method::PUT | &Method::POST, ["dist-tags", tag]) => {
            let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
                .await
                .map_err(|_| NpmError::new(StatusCode::BAD_REQUEST, "Invalid body"))?;
            let version: String = serde_json::from_slice(&body).map_err(|_| {
                NpmError::new(
                    StatusCode::BAD_REQUEST,
                    "The body must be a JSON string naming a version",
                )
            })?;
            service
                .npm_set_dist_tag(repo, scope, &unscoped, tag, &version)
                .await?;
            Ok((StatusCode::CREATED, json_body(&json!({"ok": true}))).into_response())
        }
        (&Method::DELETE, ["dist-tags", tag]) => {
            service
                .npm_remove_dist_tag(repo, scope, &unscoped, tag)
                .await?;
            Ok(json_body(&json!({"ok": true})).into_response())
        }
        _ => Err(NpmError::new(StatusCode::NOT_FOUND, "Not found")),
    }
}
