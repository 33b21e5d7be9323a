//! `/npm/d/{domain}-{owner}/{repo}/…`: the npm registry API on the format kit. Errors are
//! `{"error": …}` with the status npm expects.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use reliquary_core::kit::FormatRules;
use reliquary_http::AppState;
use reliquary_http::endpoint::{
    self, Dialect, EndpointError, FormatEndpoint, PackageRequest, SmallBodyError,
};
use serde_json::json;

use super::receive::{self, Received};
use super::rules::{self, NpmRules, Packument};
use super::{self as format, ABBREVIATED_MEDIA_TYPE};

/// npm's endpoint and error dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Npm;

impl Dialect for Npm {
    const NAME: &'static str = "npm";
    const CHALLENGE: &'static str = "Bearer realm=\"reliquary\"";

    fn render(status: StatusCode, message: &str) -> Response {
        (status, json_body(&format::error_body(message))).into_response()
    }
}

impl FormatEndpoint for Npm {
    fn rules(&self) -> Arc<dyn FormatRules> {
        Arc::new(NpmRules)
    }

    fn router(&self) -> Router<AppState> {
        Router::new().route("/npm/d/{domain_owner}/{repository}/{*rest}", any(handle))
    }
}

type NpmError = EndpointError<Npm>;

fn json_body(value: &serde_json::Value) -> ([(header::HeaderName, &'static str); 1], Vec<u8>) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// `@scope/name` arrives as one segment (`@scope%2fname`) or two; both name the package.
fn split_name(segments: &[String]) -> Vec<&str> {
    segments.iter().flat_map(|s| s.split('/')).collect()
}

async fn handle(endpoint: PackageRequest<Npm>, request: Request) -> Result<Response, NpmError> {
    let segments = split_name(&endpoint.segments);
    let method = request.method().clone();
    let (service, repo) = (&*endpoint.service, &endpoint.repository);
    match segments.as_slice() {
        ["-", "ping"] => Ok(json_body(&json!({})).into_response()),
        ["-", "whoami"] => Ok(json_body(&json!({"username": "aws"})).into_response()),
        ["-", "package", rest @ ..] => dist_tags(&endpoint, &method, rest, request).await,
        _ => {
            let (name, remainder) = match segments.as_slice() {
                [scope, name, remainder @ ..] if scope.starts_with('@') => {
                    (format!("{scope}/{name}"), remainder)
                }
                [name, remainder @ ..] => ((*name).to_owned(), remainder),
                [] => return Err(NpmError::not_found("Not found")),
            };
            let (scope, unscoped) =
                format::parse_name(&name).map_err(|e| NpmError::bad_request(e.to_string()))?;
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
                    let (variant, content_type) = match shape {
                        Packument::Abbreviated => ("abbreviated", ABBREVIATED_MEDIA_TYPE),
                        Packument::Full => ("full", "application/json"),
                    };
                    let rendered = endpoint
                        .rendered(variant, async {
                            let document =
                                rules::npm_packument(service, repo, scope, &unscoped, shape)
                                    .await?;
                            Ok((
                                serde_json::to_vec(&document).unwrap_or_default(),
                                content_type,
                            ))
                        })
                        .await?;
                    Ok(endpoint::document(headers, &rendered))
                }
                (&Method::PUT, [] | ["-rev", _]) => {
                    // `npm unpublish pkg@v` names the revision it was shown in the URL too.
                    let url_rev = match remainder {
                        ["-rev", rev] => Some(*rev),
                        _ => None,
                    };
                    // The body streams: attachments into staging, the rest into a skeleton.
                    let body = request.into_body().into_data_stream();
                    let Received { skeleton, tarballs } = receive::receive(service, body).await?;
                    let document = match format::parse_publish(&skeleton) {
                        Ok(document) => document,
                        Err(e) => {
                            receive::discard(service, tarballs).await;
                            return Err(NpmError::bad_request(e.to_string()));
                        }
                    };
                    drop(skeleton);
                    rules::npm_put(
                        service, repo, scope, &unscoped, &document, url_rev, tarballs,
                    )
                    .await?;
                    Ok((
                        StatusCode::CREATED,
                        json_body(&json!({"ok": true, "id": name})),
                    )
                        .into_response())
                }
                (&Method::DELETE, ["-rev", rev]) => {
                    rules::npm_delete_package(service, repo, scope, &unscoped, rev).await?;
                    Ok(json_body(&json!({"ok": true})).into_response())
                }
                (&Method::GET | &Method::HEAD, ["-", file]) => {
                    let version = version_of(&unscoped, file)?;
                    let download =
                        rules::npm_tarball(service, repo, scope, &unscoped, &version).await?;
                    endpoint::download(service, &method, request.headers(), download).await
                }
                // npm unpublish removes the version with a PUT first; this DELETE of its tarball
                // then has nothing left to do.
                (&Method::DELETE, ["-", _file, "-rev", _]) => {
                    Ok(json_body(&json!({"ok": true})).into_response())
                }
                _ => Err(NpmError::not_found(format!(
                    "No npm route for {method} {}",
                    segments.join("/")
                ))),
            }
        }
    }
}

/// `name-1.2.3.tgz` → `1.2.3`.
fn version_of(name: &str, file: &str) -> Result<String, NpmError> {
    file.strip_prefix(&format!("{name}-"))
        .and_then(|v| v.strip_suffix(".tgz"))
        .map(str::to_owned)
        .ok_or_else(|| NpmError::not_found(format!("No tarball {file}")))
}

/// `/-/package/<name>/dist-tags[/<tag>]`.
async fn dist_tags(
    endpoint: &PackageRequest<Npm>,
    method: &Method,
    rest: &[&str],
    request: Request,
) -> Result<Response, NpmError> {
    let (service, repo) = (&*endpoint.service, &endpoint.repository);
    let (name, tail) = match rest {
        [scope, name, tail @ ..] if scope.starts_with('@') => (format!("{scope}/{name}"), tail),
        [name, tail @ ..] => ((*name).to_owned(), tail),
        [] => return Err(NpmError::not_found("Not found")),
    };
    let (scope, unscoped) =
        format::parse_name(&name).map_err(|e| NpmError::bad_request(e.to_string()))?;
    let scope = scope.as_deref();
    match (method, tail) {
        (&Method::GET, ["dist-tags"]) => Ok(json_body(
            &rules::npm_dist_tags(service, repo, scope, &unscoped).await?,
        )
        .into_response()),
        (&Method::PUT | &Method::POST, ["dist-tags", tag]) => {
            let body = endpoint::small_body(request.into_body(), 64 * 1024)
                .await
                .map_err(|e| match e {
                    SmallBodyError::TooLarge(limit) => {
                        NpmError::bad_request(format!("The body exceeds {limit} bytes"))
                    }
                    SmallBodyError::Broken(e) => {
                        NpmError::bad_request(format!("The request body could not be read: {e}"))
                    }
                })?;
            let version: String = serde_json::from_slice(&body).map_err(|_| {
                NpmError::bad_request("The body must be a JSON string naming a version")
            })?;
            rules::npm_set_dist_tag(service, repo, scope, &unscoped, tag, &version).await?;
            Ok((StatusCode::CREATED, json_body(&json!({"ok": true}))).into_response())
        }
        (&Method::DELETE, ["dist-tags", tag]) => {
            rules::npm_remove_dist_tag(service, repo, scope, &unscoped, tag).await?;
            Ok(json_body(&json!({"ok": true})).into_response())
        }
        _ => Err(NpmError::not_found("Not found")),
    }
}
