//! The HTTP client behind external connections: one streaming GET against the public registries
//! (or whatever URL each connection is configured with). What is fetched, and how it is parsed,
//! is the formats' business.

use std::collections::HashMap;

use futures::StreamExt as _;
use reliquary_core::kit::{
    ExternalError, ExternalRegistry, ExternalRequest, ExternalResponse, Target,
};
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
            .read_timeout(std::time::Duration::from_secs(60))
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
    async fn get(
        &self,
        connection: ExternalConnection,
        request: ExternalRequest<'_>,
    ) -> Result<ExternalResponse, ExternalError> {
        let upstream = self.upstream(connection)?;
        let url = match request.target {
            Target::Path(path) => format!("{}/{path}", upstream.url.trim_end_matches('/')),
            Target::Url(url) => url.to_owned(),
        };
        let mut builder = self
            .request(upstream, &url)
            .header(reqwest::header::ACCEPT, request.accept);
        if let Some(etag) = request.if_none_match {
            builder = builder.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(since) = request.if_modified_since {
            builder = builder.header(reqwest::header::IF_MODIFIED_SINCE, since);
        }
        let response = builder.send().await.map_err(|e| unavailable(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ExternalError::NotFound);
        }
        if !status.is_success() && status != reqwest::StatusCode::NOT_MODIFIED {
            return Err(ExternalError::Unavailable(format!(
                "{url} answered {status}"
            )));
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let final_url = response.url().to_string();
        Ok(ExternalResponse {
            not_modified: status == reqwest::StatusCode::NOT_MODIFIED,
            url: final_url,
            content_type,
            etag,
            last_modified,
            body: response
                .bytes_stream()
                .map(|chunk| chunk.map_err(std::io::Error::other))
                .boxed(),
        })
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
