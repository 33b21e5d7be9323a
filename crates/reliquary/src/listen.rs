//! The HTTP/1.1 server loop: hyper under the axum router, with the limits a production server
//! sets (design: slow or idle clients must not hold the server's sockets forever).
//!
//! - at most `max_connections` open connections: further clients wait in the listen backlog;
//! - a request's headers must arrive within `header_timeout` of the connection becoming ready to
//!   read them, which is also how long an idle keep-alive connection stays open;
//! - a request body may pause at most `body_timeout` between two chunks;
//! - on shutdown, no new connection is accepted, idle ones close, and in-flight requests finish.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutBody;

/// The most a request's line and headers may take: 431 beyond. hyper's read buffer is capped at
/// this too, but a head that arrives in one read can exceed it, so it is also counted.
const MAX_HEAD_BYTES: usize = 128 * 1024;

/// The bytes of a request's target and headers, as sent (near enough).
fn head_bytes<B>(request: &hyper::Request<B>) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + target
}

/// Connection limits and timeouts (`serve --max-connections`, `--header-timeout-seconds`,
/// `--body-timeout-seconds`).
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // The read buffer bounds a request's head: larger headers are refused with 431.
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY a response written in two parts (headers, then a streamed body)
        // waits for the client's delayed ACK: 40 ms per small tarball on Linux.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let too_large = head_bytes(&request) > MAX_HEAD_BYTES;
            let request =
                request.map(|body| axum::body::Body::new(TimeoutBody::new(body_timeout, body)));
            let app = app.clone();
            async move {
                if too_large {
                    return Ok::<_, Infallible>(
                        hyper::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response(),
                    );
                }
                Ok(app.oneshot(request).await.unwrap_or_else(|e| match e {}))
            }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
