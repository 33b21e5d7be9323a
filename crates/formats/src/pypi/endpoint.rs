//! `/pypi/d/{domain}-{owner}/{repo}/…` on the format kit: twine's upload API, the simple API
//! (PEP 503 HTML and PEP 691 JSON) and file downloads. Errors are plain text with the status
//! pip and twine show.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use blake2::Digest as _;
use futures::{StreamExt as _, TryStreamExt as _};
use reliquary_core::Service;
use reliquary_core::kit::{FormatRules, Staged};
use reliquary_http::AppState;
use reliquary_http::endpoint::{self, Dialect, EndpointError, FormatEndpoint, PackageRequest};
use reliquary_store::RepositoryKey;

use super as format;
use super::rules::{self, PypiRules};

type Blake2b256 = blake2::Blake2b<blake2::digest::consts::U32>;

/// PyPI's endpoint and error dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pypi;

impl Dialect for Pypi {
    const NAME: &'static str = "pypi";
    const CHALLENGE: &'static str = "Basic realm=\"reliquary\"";

    fn render(status: StatusCode, message: &str) -> Response {
        (status, format!("{message}\n")).into_response()
    }
}

impl FormatEndpoint for Pypi {
    fn rules(&self) -> Arc<dyn FormatRules> {
        Arc::new(PypiRules)
    }

    fn router(&self) -> Router<AppState> {
        Router::new()
            .route("/pypi/d/{domain_owner}/{repository}", any(handle))
            .route("/pypi/d/{domain_owner}/{repository}/", any(handle))
            .route("/pypi/d/{domain_owner}/{repository}/{*rest}", any(handle))
    }
}

type PypiError = EndpointError<Pypi>;

async fn handle(endpoint: PackageRequest<Pypi>, request: Request) -> Result<Response, PypiError> {
    let (service, repo) = (&*endpoint.service, &endpoint.repository);
    let segments: Vec<&str> = endpoint.segments.iter().map(String::as_str).collect();
    let method = request.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::POST, [] | ["legacy"]) => upload(service, repo, request).await,
        (&Method::GET | &Method::HEAD, ["simple"]) => {
            let media = format::negotiate(accept(request.headers()));
            let rendered = endpoint
                .rendered(media, async {
                    let projects = rules::projects(service, repo).await?;
                    let body = if media.ends_with("json") {
                        serde_json::to_vec(&format::root_page_json(&projects)).unwrap_or_default()
                    } else {
                        format::root_page_html(&projects).into_bytes()
                    };
                    Ok((body, content_type(media)))
                })
                .await?;
            Ok(endpoint::document(request.headers(), &rendered))
        }
        (&Method::GET | &Method::HEAD, ["simple", project]) => {
            let media = format::negotiate(accept(request.headers()));
            let rendered = endpoint
                .rendered(media, async {
                    let page = rules::project_page(service, repo, project).await?;
                    let body = if media.ends_with("json") {
                        serde_json::to_vec(&format::project_page_json(
                            &page.project,
                            &page.versions,
                            &page.files,
                        ))
                        .unwrap_or_default()
                    } else {
                        format::project_page_html(&page.project, &page.files).into_bytes()
                    };
                    Ok((body, content_type(media)))
                })
                .await?;
            Ok(endpoint::document(request.headers(), &rendered))
        }
        (&Method::GET | &Method::HEAD, ["files", project, version, filename]) => {
            let download = rules::file(service, repo, project, version, filename).await?;
            endpoint::download(service, &method, request.headers(), download).await
        }
        _ => Err(PypiError::not_found(format!(
            "No PyPI route for {method} /{}",
            segments.join("/")
        ))),
    }
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

fn content_type(media: &'static str) -> &'static str {
    if media == "text/html" {
        "text/html; charset=utf-8"
    } else {
        media
    }
}

/// Largest text field of an upload form (a long description is the largest twine sends).
const MAX_FIELD_BYTES: u64 = 4 * 1024 * 1024;
/// All text fields of an upload form together.
const MAX_FORM_TEXT_BYTES: u64 = 8 * 1024 * 1024;
/// Fields of an upload form at most (twine sends one per classifier, dependency, …).
const MAX_FORM_FIELDS: usize = 1000;

/// twine's `:action=file_upload`: text fields are collected, the `content` file streams into
/// staging while its BLAKE2b-256 is computed, then the rules check and publish it.
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
        .ok_or_else(|| PypiError::bad_request("Expected a multipart/form-data upload"))?;
    // Only the file may be large: text fields (metadata) are bounded one by one, in number and
    // in total, so a form cannot make the server buffer more than MAX_FORM_TEXT_BYTES.
    let asset_limit = service.config().quotas.asset_size_bytes;
    let limits = multer::SizeLimit::new()
        .whole_stream(asset_limit.saturating_add(MAX_FORM_TEXT_BYTES))
        .per_field(MAX_FIELD_BYTES)
        .for_field("content", asset_limit);
    let mut multipart = multer::Multipart::with_constraints(
        request.into_body().into_data_stream(),
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let mut fields = Vec::new();
    let mut text_bytes = 0u64;
    let mut content: Option<(String, Staged, String)> = None;
    let bad = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { field_name, .. } => PypiError::bad_request(format!(
            "The form field {} exceeds {MAX_FIELD_BYTES} bytes",
            field_name.as_deref().unwrap_or("(unnamed)")
        )),
        e => PypiError::bad_request(format!("Invalid multipart body: {e}")),
    };
    loop {
        if fields.len() >= MAX_FORM_FIELDS {
            if let Some((_, staged, _)) = content.take() {
                service.discard(staged).await;
            }
            return Err(PypiError::bad_request(format!(
                "The form has more than {MAX_FORM_FIELDS} fields"
            )));
        }
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                if let Some((_, staged, _)) = content.take() {
                    service.discard(staged).await;
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
            let staged = service.stage(stream).await?;
            let digest = hasher
                .lock()
                .map(|h| hex::encode(h.clone().finalize()))
                .unwrap_or_default();
            content = Some((filename, staged, digest));
        } else {
            let value = match field.text().await {
                Ok(value) => value,
                Err(e) => {
                    if let Some((_, staged, _)) = content.take() {
                        service.discard(staged).await;
                    }
                    return Err(bad(e));
                }
            };
            text_bytes += value.len() as u64;
            if text_bytes > MAX_FORM_TEXT_BYTES {
                if let Some((_, staged, _)) = content.take() {
                    service.discard(staged).await;
                }
                return Err(PypiError::bad_request(format!(
                    "The form's text fields exceed {MAX_FORM_TEXT_BYTES} bytes in all"
                )));
            }
            fields.push((name, value));
        }
    }
    let Some((filename, staged, blake2)) = content else {
        return Err(PypiError::bad_request("The upload has no content field"));
    };
    let form = match format::parse_upload_form(&fields) {
        Ok(form) => form,
        Err(e) => {
            service.discard(staged).await;
            return Err(PypiError::bad_request(e.to_string()));
        }
    };
    rules::publish(service, repo, &form, &filename, staged, Some(&blake2)).await?;
    Ok((StatusCode::OK, "OK\n").into_response())
}
