//! `/cargo/d/{domain}-{owner}/{repo}/…` on the format kit: a sparse registry (`config.json`,
//! index files), the publish, yank and unyank API and `.crate` downloads. Errors are cargo's
//! `{"errors":[{"detail":…}]}`, which it prints.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::{Buf as _, Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use reliquary_core::kit::FormatRules;
use reliquary_http::AppState;
use reliquary_http::endpoint::{self, Dialect, EndpointError, FormatEndpoint, PackageRequest};
use serde_json::json;

use super::rules::{self, CargoRules};
use super::{self as format, MAX_METADATA_BYTES};

/// Cargo's endpoint and error dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cargo;

impl Dialect for Cargo {
    const NAME: &'static str = "cargo";
    /// cargo answers a 401 carrying this challenge by sending its token; `login_url` is what
    /// it shows a user who has none.
    const CHALLENGE: &'static str = "Cargo login_url=\"https://docs.aws.amazon.com/codeartifact/latest/ug/configure-use-cargo.html\"";

    fn render(status: StatusCode, message: &str) -> Response {
        (status, json_body(&format::error_body(message))).into_response()
    }
}

impl FormatEndpoint for Cargo {
    fn rules(&self) -> Arc<dyn FormatRules> {
        Arc::new(CargoRules)
    }

    fn router(&self) -> Router<AppState> {
        Router::new().route("/cargo/d/{domain_owner}/{repository}/{*rest}", any(handle))
    }
}

type CargoError = EndpointError<Cargo>;

fn json_body(value: &serde_json::Value) -> ([(header::HeaderName, &'static str); 1], Vec<u8>) {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

async fn handle(endpoint: PackageRequest<Cargo>, request: Request) -> Result<Response, CargoError> {
    let (service, repo) = (&*endpoint.service, &endpoint.repository);
    let segments: Vec<&str> = endpoint.segments.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    match (&method, segments.as_slice()) {
        (_, ["config.json"]) if read => {
            let base = service.endpoint_base("cargo", repo);
            let config = json!({
                "dl": format!("{base}/api/v1/crates"),
                "api": base,
                "auth-required": true,
            });
            Ok(json_body(&config).into_response())
        }
        (&Method::PUT, ["api", "v1", "crates", "new"]) => publish(&endpoint, request).await,
        (&Method::DELETE, ["api", "v1", "crates", name, version, "yank"]) => {
            yank(&endpoint, name, version, true).await
        }
        (&Method::PUT, ["api", "v1", "crates", name, version, "unyank"]) => {
            yank(&endpoint, name, version, false).await
        }
        (_, ["api", "v1", "crates", name, version, "download"]) if read => {
            let download = rules::download(service, repo, name, version).await?;
            endpoint::download(service, &method, request.headers(), download).await
        }
        (_, ["api", ..]) => Err(CargoError::not_found(format!(
            "This registry has no API {method} /{}",
            segments.join("/")
        ))),
        (_, path) if read => {
            let Some(name) = format::name_from_index_path(path) else {
                return Err(CargoError::not_found(format!(
                    "/{} is not a path of the sparse index layout",
                    segments.join("/")
                )));
            };
            let rendered = endpoint
                .rendered("index", async {
                    let body = rules::index_file(service, repo, &name).await?;
                    Ok((body, "text/plain; charset=utf-8"))
                })
                .await?;
            Ok(endpoint::document(request.headers(), &rendered))
        }
        _ => Err(CargoError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on /{}", segments.join("/")),
        )),
    }
}

async fn yank(
    endpoint: &PackageRequest<Cargo>,
    name: &str,
    version: &str,
    yanked: bool,
) -> Result<Response, CargoError> {
    rules::set_yanked(
        &endpoint.service,
        &endpoint.caller,
        &endpoint.repository,
        name,
        version,
        yanked,
    )
    .await?;
    Ok(json_body(&json!({"ok": true})).into_response())
}

/// `cargo publish`: a `u32` LE length and the JSON metadata (bounded), a `u32` LE length and
/// the `.crate`, which streams into staging (never whole in memory) and is checked there.
async fn publish(
    endpoint: &PackageRequest<Cargo>,
    request: Request,
) -> Result<Response, CargoError> {
    let (service, repo) = (&*endpoint.service, &endpoint.repository);
    let mut body = Framed::new(request.into_body());
    let json_len = body.read_u32().await?;
    if json_len > MAX_METADATA_BYTES {
        return Err(CargoError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the publish metadata is {json_len} bytes; at most {MAX_METADATA_BYTES} are accepted"
            ),
        ));
    }
    let json = body.read_exact(json_len as usize).await?;
    let new = format::parse_new_crate(&json).map_err(|e| CargoError::bad_request(e.to_string()))?;
    drop(json);
    let crate_len = body.read_u32().await?;
    rules::check_new(service, repo, &new).await?;
    let staged = service.stage(body.take(u64::from(crate_len))).await?;
    rules::publish(service, repo, &new, staged, u64::from(crate_len)).await?;
    Ok(json_body(&json!({
        "warnings": {"invalid_categories": [], "invalid_badges": [], "other": []}
    }))
    .into_response())
}

/// A request body read as cargo frames its publish: small prefixes into memory, then the rest
/// as a stream of a given length.
struct Framed {
    stream: BoxStream<'static, Result<Bytes, axum::Error>>,
    buffer: BytesMut,
}

fn truncated() -> CargoError {
    CargoError::bad_request("the publish body ended before the length its prefix announced")
}

impl Framed {
    fn new(body: Body) -> Self {
        Self {
            stream: body.into_data_stream().boxed(),
            buffer: BytesMut::new(),
        }
    }

    /// Buffers until `n` bytes are at hand (or the body ends: `false`).
    async fn fill(&mut self, n: usize) -> Result<bool, CargoError> {
        while self.buffer.len() < n {
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    return Err(CargoError::bad_request(format!(
                        "the publish body could not be read: {e}"
                    )));
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    async fn read_u32(&mut self) -> Result<u32, CargoError> {
        if !self.fill(4).await? {
            return Err(truncated());
        }
        Ok(self.buffer.get_u32_le())
    }

    async fn read_exact(&mut self, n: usize) -> Result<Bytes, CargoError> {
        if !self.fill(n).await? {
            return Err(truncated());
        }
        Ok(self.buffer.split_to(n).freeze())
    }

    /// The next `n` bytes as a stream; it ends early (without an error) when the body does, so
    /// the staged size tells a truncated body apart from a failing blob store.
    fn take(self, n: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Unpin {
        let Self { stream, buffer } = self;
        let head = futures::stream::iter((!buffer.is_empty()).then(|| Ok(buffer.freeze())));
        let mut left = n;
        head.chain(stream)
            .take_while(|item| std::future::ready(item.is_ok()))
            .filter_map(move |item| {
                let out = match item {
                    Ok(mut chunk) if left > 0 => {
                        if chunk.len() as u64 > left {
                            chunk.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                        }
                        left -= chunk.len() as u64;
                        Some(Ok(chunk))
                    }
                    _ => None,
                };
                std::future::ready(out)
            })
            .boxed()
    }
}
