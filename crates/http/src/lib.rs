//! The HTTP surfaces on one listener (`design.md` §1.2): the CodeArtifact control plane under
//! `/v1` (SigV4) and `/health`. Converts wire shapes to core calls and core errors to the
//! model's error shapes; nothing else in the workspace knows HTTP.

mod control_plane;
mod credentials;
mod error;
mod npm;
mod packages;
mod pypi;
mod remote;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{any, get};

pub use credentials::Credentials;
pub use error::ApiError;
pub use remote::{RemoteRegistries, Upstream};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    service: Arc<reliquary_core::Service>,
    credentials: Arc<Credentials>,
}

impl AppState {
    #[must_use]
    pub fn new(service: Arc<reliquary_core::Service>, credentials: Arc<Credentials>) -> Self {
        Self {
            service,
            credentials,
        }
    }
}

/// The whole server's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1", any(control_plane::handle))
        .route("/v1/{*rest}", any(control_plane::handle))
        .route(
            "/npm/d/{domain_owner}/{repository}/{*rest}",
            any(npm::handle),
        )
        .route(
            "/pypi/d/{domain_owner}/{repository}",
            any(pypi::handle_root),
        )
        .route(
            "/pypi/d/{domain_owner}/{repository}/",
            any(pypi::handle_root),
        )
        .route(
            "/pypi/d/{domain_owner}/{repository}/{*rest}",
            any(pypi::handle),
        )
        .with_state(state)
}

/// 200 once the server accepts requests, 503 while the database cannot be reached.
async fn health(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.service.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n"),
    }
}
