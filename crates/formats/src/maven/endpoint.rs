//! `/maven/d/{domain}-{owner}/{repo}/…` on the format kit: the Maven repository layout.
//! `PUT` deploys files, checksum sidecars (checked, not stored) and `maven-metadata.xml`
//! (checked, finishes versions, not stored); `GET`/`HEAD` serve files, their checksums from
//! the stored hashes, and generated `maven-metadata.xml` documents with theirs. Errors are
//! plain text with the status Maven shows.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use futures::{StreamExt as _, TryStreamExt as _};
use reliquary_core::kit::FormatRules;
use reliquary_http::AppState;
use reliquary_http::endpoint::{
    self, Dialect, EndpointError, FormatEndpoint, PackageRequest, SmallBodyError,
};

use super::rules::{self, Coordinates, MavenRules};
use super::{Checksum, MAX_METADATA_BYTES, MavenPath};

/// Largest checksum sidecar body read.
const MAX_SIDECAR_BYTES: usize = 4096;

/// Maven's endpoint and error dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Maven;

impl Dialect for Maven {
    const NAME: &'static str = "maven";
    const CHALLENGE: &'static str = "Basic realm=\"reliquary\"";

    fn render(status: StatusCode, message: &str) -> Response {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{message}\n"),
        )
            .into_response()
    }
}

impl FormatEndpoint for Maven {
    fn rules(&self) -> Arc<dyn FormatRules> {
        Arc::new(MavenRules)
    }

    fn router(&self) -> Router<AppState> {
        Router::new()
            .route("/maven/d/{domain_owner}/{repository}", any(handle))
            .route("/maven/d/{domain_owner}/{repository}/", any(handle))
            .route("/maven/d/{domain_owner}/{repository}/{*rest}", any(handle))
    }
}

type MavenError = EndpointError<Maven>;

const TEXT: &str = "text/plain; charset=utf-8";

fn created() -> Response {
    StatusCode::CREATED.into_response()
}

/// A small body (a sidecar, a `maven-metadata.xml`) read whole: 413 past `limit`, 400 when it
/// breaks off.
async fn read_body(request: Request, limit: usize) -> Result<bytes::Bytes, MavenError> {
    endpoint::small_body(request.into_body(), limit)
        .await
        .map_err(|e| match e {
            SmallBodyError::TooLarge(limit) => MavenError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The body exceeds {limit} bytes"),
            ),
            SmallBodyError::Broken(e) => {
                MavenError::bad_request(format!("The request body could not be read: {e}"))
            }
        })
}

async fn handle(endpoint: PackageRequest<Maven>, request: Request) -> Result<Response, MavenError> {
    let (service, repo) = (&*endpoint.service, &endpoint.repository);
    let method = request.method().clone();
    let path = MavenPath::parse(request.uri().path(), &endpoint.segments)
        .map_err(|e| MavenError::bad_request(e.to_string()))?;
    let metadata_limit = usize::try_from(MAX_METADATA_BYTES).unwrap_or(usize::MAX);
    match (&method, path) {
        (
            &Method::GET | &Method::HEAD,
            MavenPath::ArtifactMetadata {
                group,
                artifact,
                checksum,
            },
        ) => {
            let rendered = endpoint
                .rendered("xml", async {
                    let body = rules::artifact_metadata(service, repo, &group, &artifact).await?;
                    Ok(digest_or_document(body, checksum))
                })
                .await?;
            Ok(endpoint::document(request.headers(), &rendered))
        }
        (
            &Method::GET | &Method::HEAD,
            MavenPath::VersionMetadata {
                group,
                artifact,
                version,
                checksum,
            },
        ) => {
            let rendered = endpoint
                .rendered("xml", async {
                    let body =
                        rules::version_metadata(service, repo, &group, &artifact, &version).await?;
                    Ok(digest_or_document(body, checksum))
                })
                .await?;
            Ok(endpoint::document(request.headers(), &rendered))
        }
        (
            &Method::GET | &Method::HEAD,
            MavenPath::File {
                group,
                artifact,
                version,
                file,
                checksum,
            },
        ) => {
            let download = rules::file(service, repo, &group, &artifact, &version, &file).await?;
            match checksum {
                None => endpoint::download(service, &method, request.headers(), download).await,
                Some(checksum) => {
                    let digest = checksum.of(&download.asset.hashes).to_owned();
                    drop(download);
                    Ok(text(&method, digest))
                }
            }
        }
        (
            &Method::PUT,
            MavenPath::File {
                group,
                artifact,
                version,
                file,
                checksum,
            },
        ) => {
            let at = Coordinates {
                group: &group,
                artifact: &artifact,
                version: &version,
            };
            match checksum {
                None => {
                    let body = request
                        .into_body()
                        .into_data_stream()
                        .map_err(std::io::Error::other)
                        .boxed();
                    let staged = service.stage(body).await?;
                    rules::deploy_file(service, repo, &at, &file, staged).await?;
                }
                Some(checksum) => {
                    let body = read_body(request, MAX_SIDECAR_BYTES).await?;
                    rules::check_sidecar(service, repo, &at, &file, checksum, &body).await?;
                }
            }
            Ok(created())
        }
        (
            &Method::PUT,
            MavenPath::ArtifactMetadata {
                group,
                artifact,
                checksum,
            },
        ) => {
            if let Some(checksum) = checksum {
                return metadata_sidecar(request, checksum).await;
            }
            let body = read_body(request, metadata_limit).await?;
            rules::deploy_metadata(service, repo, &group, &artifact, None, body).await?;
            Ok(created())
        }
        (
            &Method::PUT,
            MavenPath::VersionMetadata {
                group,
                artifact,
                version,
                checksum,
            },
        ) => {
            if let Some(checksum) = checksum {
                return metadata_sidecar(request, checksum).await;
            }
            let body = read_body(request, metadata_limit).await?;
            rules::deploy_metadata(service, repo, &group, &artifact, Some(&version), body).await?;
            Ok(created())
        }
        (method, _) => Err(MavenError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not supported on a Maven repository path"),
        )),
    }
}

/// A rendered `maven-metadata.xml`, or the digest of it a checksum path names.
fn digest_or_document(body: Vec<u8>, checksum: Option<Checksum>) -> (Vec<u8>, &'static str) {
    match checksum {
        None => (body, "application/xml"),
        Some(checksum) => (checksum.digest(&body).into_bytes(), TEXT),
    }
}

/// A checksum of an uploaded `maven-metadata.xml`: the document is generated, not stored, so
/// there is nothing to compare it with; it must still be a digest.
async fn metadata_sidecar(request: Request, checksum: Checksum) -> Result<Response, MavenError> {
    let body = read_body(request, MAX_SIDECAR_BYTES).await?;
    if checksum.parse_body(&body).is_none() {
        return Err(MavenError::bad_request(format!(
            "The body is not a {}-character hex digest",
            checksum.hex_len()
        )));
    }
    Ok(created())
}

fn text(method: &Method, value: String) -> Response {
    let length = value.len();
    let body = if *method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(value)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}
