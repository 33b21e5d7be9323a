//! `/pypi/d/{domain}-{owner}/{repo}/…`: twine's upload API, the simple API (PEP 503 HTML and
//! PEP 691 JSON) and file downloads. Errors are plain text with the status pip and twine show.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use blake2::Digest as _;
use futures::{StreamExt as _, TryStreamExt as _};
use reliquary_core::{Error, Service, StagedUpload};
use reliquary_formats::pypi as format;
use reliquary_store::RepositoryKey;

use crate::AppState;

type Blake2b256 = blake2::Blake2b<blake2::digest::consts::U32>;

pub(crate) struct PypiError {
    status: StatusCode,
    message: String,
}

impl PypiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<Error> for PypiError {
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

impl IntoResponse for PypiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("{}\n", self.message)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"reliquary\""),
            );
        }
        response
    }
}

pub(crate) async fn handle_root(
    State(state): State<AppState>,
    Path((domain_owner, repository)): Path<(String, String)>,
    request: Request,
) -> Response {
    respond(
        &state.service,
        &domain_owner,
        &repository,
        String::new(),
        request,
    )
    .await
}

pub(crate) async fn handle(
    State(state): State<AppState>,
    Path((domain_owner, repository, rest)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    respond(&state.service, &domain_owner, &repository, rest, request).await
}

async fn respond(
    service: &Service,
    domain_owner: &str,
    repository: &str,
    rest: String,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let result = serve(service, domain_owner, repository, &rest, request).await;
    let response = result.unwrap_or_else(IntoResponse::into_response);
    if response.status().is_server_error() {
        tracing::error!(%method, path = %rest, status = response.status().as_u16(), "pypi request failed");
    }
    response
}

async fn serve(
    service: &Service,
    domain_owner: &str,
    repository: &str,
    rest: &str,
    request: Request,
) -> Result<Response, PypiError> {
    let token = crate::npm::token(request.headers());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (_caller, repo) = service
        .endpoint_repository(domain_owner, repository, token.as_deref(), now)
        .await
        .map_err(|e| match e {
            Error::AccessDenied { message } => PypiError::new(StatusCode::UNAUTHORIZED, message),
            other => other.into(),
        })?;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::POST, [] | ["legacy"]) => upload(service, &repo, request).await,
        (&Method::GET | &Method::HEAD, ["simple"]) => {
            let accept = accept(&request);
            let projects = service.pypi_projects(&repo).await?;
            let media = format::negotiate(accept.as_deref());
            let body = if media.ends_with("json") {
                serde_json::to_string(&format::root_page_json(&projects)).unwrap_or_default()
            } else {
                format::root_page_html(&projects)
            };
            Ok(page(media, body))
        }
        (&Method::GET | &Method::HEAD, ["simple", project]) => {
            let accept = accept(&request);
            let page_data = service.pypi_project_page(&repo, project).await?;
            let media = format::negotiate(accept.as_deref());
            let body = if media.ends_with("json") {
                serde_json::to_string(&format::project_page_json(
                    &page_data.project,
                    &page_data.versions,
                    &page_data.files,
                ))
                .unwrap_or_default()
            } else {
                format::project_page_html(&page_data.project, &page_data.files)
            };
            Ok(page(media, body))
        }
        (&Method::GET | &Method::HEAD, ["files", project, version, filename]) => {
            let download = service.pypi_file(&repo, project, version, filename).await?;
            let length = download.body.content_length();
            let body = if method == Method::HEAD {
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
        _ => Err(PypiError::new(
            StatusCode::NOT_FOUND,
            format!("No PyPI route for {method} /{rest}"),
        )),
    }
}

fn accept(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn page(media: &'static str, body: String) -> Response {
    let content_type = if media == "text/html" {
        "text/html; charset=utf-8"
    } else {
        media
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// twine's `:action=file_upload`: text fields are collected, the `content` file streams into
/// staging while its BLAKE2b-256 is computed, then the core checks and publishes it.
async fn upload(
    service: &Service,
    repo: &RepositoryKey,
    request: Request,
) -> Result<Response, PypiError> {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            PypiError::new(
                StatusCode::BAD_REQUEST,
                "Expected a multipart/form-data upload",
            )
        })?;
    let mut multipart = multer::Multipart::new(request.into_body().into_data_stream(), boundary);
    let mut fields = Vec::new();
    let mut content: Option<(String, StagedUpload, String)> = None;
    let bad = |e: multer::Error| {
        PypiError::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid multipart body: {e}"),
        )
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                if let Some((_, staged, _)) = content.take() {
                    service.discard_upload(staged).await;
                }
                return Err(bad(e));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "content" && content.is_none() {
            let filename = field.file_name().unwrap_or_default().to_owned();
            let hasher = Arc::new(Mutex::new(Blake2b256::new()));
            let tap = Arc::clone(&hasher);
            let stream = field
                .map_ok(move |chunk| {
                    if let Ok(mut h) = tap.lock() {
                        h.update(&chunk);
                    }
                    chunk
                })
                .map_err(std::io::Error::other)
                .boxed();
            let staged = service.stage_upload(stream).await?;
            let digest = hasher
                .lock()
                .map(|h| hex::encode(h.clone().finalize()))
                .unwrap_or_default();
            content = Some((filename, staged, digest));
        } else {
            let value = field.text().await.map_err(bad)?;
            fields.push((name, value));
        }
    }
    let Some((filename, staged, blake2)) = content else {
        return Err(PypiError::new(
            StatusCode::BAD_REQUEST,
            "The upload has no content field",
        ));
    };
    let form = match format::parse_upload_form(&fields) {
        Ok(form) => form,
        Err(e) => {
            service.discard_upload(staged).await;
            return Err(PypiError::new(StatusCode::BAD_REQUEST, e.to_string()));
        }
    };
    service
        .pypi_publish(repo, &form, &filename, staged, Some(&blake2))
        .await?;
    Ok((StatusCode::OK, "OK\n").into_response())
}
