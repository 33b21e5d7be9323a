//! The HTTP client behind external connections: fetches packuments and tarballs from the public
//! registries (or whatever URL each connection is configured with).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use reliquary_core::{ExternalError, ExternalRegistry};
use reliquary_types::ExternalConnection;

/// Where one external connection points, and the token it sends (as `Bearer`), if any.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub url: String,
    pub token: Option<String>,
}

/// External registries reached over HTTP.
#[derive(Debug, Clone)]
pub struct RemoteRegistries {
    client: reqwest::Client,
    upstreams: HashMap<ExternalConnection, Upstream>,
}

impl RemoteRegistries {
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(upstreams: HashMap<ExternalConnection, Upstream>) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(120))
            .user_agent(concat!("reliquary/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, upstreams })
    }

    fn upstream(&self, connection: ExternalConnection) -> Result<&Upstream, ExternalError> {
        self.upstreams.get(&connection).ok_or_else(|| {
            ExternalError::Unavailable(format!("{} is not configured", connection.name()))
        })
    }

    fn request(&self, upstream: &Upstream, url: &str) -> reqwest::RequestBuilder {
        let request = self.client.get(url);
        // The token is only for the configured registry's host, never for another one.
        match &upstream.token {
            Some(token) if origin(url) == origin(&upstream.url) => request.bearer_auth(token),
            _ => request,
        }
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url.get(after_scheme..)
        .and_then(|rest| rest.find('/'))
        .map_or(url, |slash| &url[..after_scheme + slash])
}

fn unavailable(e: &reqwest::Error) -> ExternalError {
    ExternalError::Unavailable(e.to_string())
}

#[async_trait::async_trait]
impl ExternalRegistry for RemoteRegistries {
    async fn npm_packument(
        &self,
        connection: ExternalConnection,
        full_name: &str,
    ) -> Result<serde_json::Value, ExternalError> {
        let upstream = self.upstream(connection)?;
        let url = format!(
            "{}/{}",
            upstream.url.trim_end_matches('/'),
            full_name.replace('/', "%2f")
        );
        let response = self
            .request(upstream, &url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => Err(ExternalError::NotFound),
            status if status.is_success() => {
                let body = response.bytes().await.map_err(|e| unavailable(&e))?;
                serde_json::from_slice(&body).map_err(|e| {
                    ExternalError::Unavailable(format!("{url} sent invalid JSON: {e}"))
                })
            }
            status => Err(ExternalError::Unavailable(format!(
                "{url} answered {status}"
            ))),
        }
    }

    async fn pypi_project_page(
        &self,
        connection: ExternalConnection,
        project: &str,
    ) -> Result<(Bytes, String, String), ExternalError> {
        let upstream = self.upstream(connection)?;
        let url = format!("{}/{project}/", upstream.url.trim_end_matches('/'));
        let response = self
            .request(upstream, &url)
            .header(
                reqwest::header::ACCEPT,
                "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1",
            )
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => Err(ExternalError::NotFound),
            status if status.is_success() => {
                let content_type = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("text/html")
                    .to_owned();
                let final_url = response.url().to_string();
                let body = response.bytes().await.map_err(|e| unavailable(&e))?;
                Ok((body, content_type, final_url))
            }
            status => Err(ExternalError::Unavailable(format!(
                "{url} answered {status}"
            ))),
        }
    }

    async fn fetch(
        &self,
        connection: ExternalConnection,
        url: &str,
        max_bytes: u64,
    ) -> Result<Bytes, ExternalError> {
        let upstream = self.upstream(connection)?;
        let response = self
            .request(upstream, url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => return Err(ExternalError::NotFound),
            status if !status.is_success() => {
                return Err(ExternalError::Unavailable(format!(
                    "{url} answered {status}"
                )));
            }
            _ => {}
        }
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| unavailable(&e))?;
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(ExternalError::Unavailable(format!(
                    "{url} exceeds {max_bytes} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_origin_of_a_url_is_scheme_host_and_port() {
        assert_eq!(
            super::origin("http://127.0.0.1:8080/pypi/x/simple/"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            super::origin("https://registry.npmjs.org"),
            "https://registry.npmjs.org"
        );
        assert_eq!(super::origin("https://a.example/b"), "https://a.example");
    }
}
