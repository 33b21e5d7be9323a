//! The HTTP client behind external connections: one streaming GET against the public registries
//! (or whatever URL each connection is configured with). What is fetched, and how it is parsed,
//! is the formats' business.

use std::collections::HashMap;

use futures::StreamExt as _;
use reliquary_core::kit::{
    ExternalError, ExternalRegistry, ExternalRequest, ExternalResponse, Target,
};
use reliquary_types::ExternalConnection;

/// Where one external connection points, the token it sends (as `Bearer`), if any, and the
/// other origins (`scheme://host[:port]`) its documents may name files on (PyPI's pages name
/// `https://files.pythonhosted.org`). Nothing is fetched from, or redirected to, any other.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub url: String,
    pub token: Option<String>,
    pub file_origins: Vec<String>,
}

impl Upstream {
    /// Whether `url` is on the connection's own origin or one of its file origins.
    fn allows(&self, url: &str) -> bool {
        let wanted = origin(url);
        wanted.eq_ignore_ascii_case(origin(&self.url))
            || self
                .file_origins
                .iter()
                .any(|allowed| wanted.eq_ignore_ascii_case(allowed.trim_end_matches('/')))
    }
}

/// Redirects followed at most for one request.
const MAX_REDIRECTS: usize = 5;

/// External registries reached over HTTP: one client per connection, whose redirects stay on
/// that connection's origins.
#[derive(Debug, Clone)]
pub struct RemoteRegistries {
    upstreams: HashMap<ExternalConnection, (Upstream, reqwest::Client)>,
}

impl RemoteRegistries {
    /// # Errors
    /// An HTTP client cannot be built.
    pub fn new(upstreams: HashMap<ExternalConnection, Upstream>) -> Result<Self, reqwest::Error> {
        let upstreams = upstreams
            .into_iter()
            .map(|(connection, upstream)| {
                let allowed = upstream.clone();
                let policy = reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() >= MAX_REDIRECTS {
                        attempt.error("too many redirects")
                    } else if allowed.allows(attempt.url().as_str()) {
                        attempt.follow()
                    } else {
                        attempt.error("a redirect to a host not configured for the connection")
                    }
                });
                let client = reqwest::Client::builder()
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .read_timeout(std::time::Duration::from_secs(60))
                    .redirect(policy)
                    .user_agent(concat!("reliquary/", env!("CARGO_PKG_VERSION")))
                    .build()?;
                Ok((connection, (upstream, client)))
            })
            .collect::<Result<_, reqwest::Error>>()?;
        Ok(Self { upstreams })
    }

    fn upstream(
        &self,
        connection: ExternalConnection,
    ) -> Result<&(Upstream, reqwest::Client), ExternalError> {
        self.upstreams.get(&connection).ok_or_else(|| {
            ExternalError::Unavailable(format!("{} is not configured", connection.name()))
        })
    }

    fn request(
        client: &reqwest::Client,
        upstream: &Upstream,
        url: &str,
    ) -> reqwest::RequestBuilder {
        let request = client.get(url);
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
        let (upstream, client) = self.upstream(connection)?;
        let url = match request.target {
            Target::Path(path) => format!("{}/{path}", upstream.url.trim_end_matches('/')),
            Target::Url(url) if upstream.allows(url) => url.to_owned(),
            // A document naming a file elsewhere (another host, a loopback or internal address)
            // is not followed: the connection reaches only the hosts configured for it.
            Target::Url(url) => {
                tracing::warn!(
                    connection = connection.name(),
                    url,
                    "not fetched: a host not configured for the connection"
                );
                return Err(ExternalError::Unavailable(format!(
                    "{url} is not on a host configured for {}",
                    connection.name()
                )));
            }
        };
        let mut builder =
            Self::request(client, upstream, &url).header(reqwest::header::ACCEPT, request.accept);
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

    #[test]
    fn files_are_fetched_from_the_connection_and_its_file_origins_only() {
        let upstream = super::Upstream {
            url: "https://pypi.org/simple".to_owned(),
            token: None,
            file_origins: vec!["https://files.pythonhosted.org/".to_owned()],
        };
        assert!(upstream.allows("https://pypi.org/simple/x/"));
        assert!(upstream.allows("https://FILES.pythonhosted.org/packages/a.whl"));
        assert!(!upstream.allows("http://pypi.org/simple/x/"));
        assert!(!upstream.allows("https://pypi.org.evil.example/x"));
        assert!(!upstream.allows("http://127.0.0.1:8080/internal/admin"));
    }
}
