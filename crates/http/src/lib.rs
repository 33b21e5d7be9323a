//! The HTTP surfaces on one listener (`design.md` §1.2): the CodeArtifact control plane under
//! `/v1` (SigV4), `/health`, and the package-format endpoints registered with [`router`] (the
//! format kit's HTTP half is [`endpoint`]). Converts wire shapes to core calls and core errors
//! to the model's error shapes.

mod control_plane;
mod convert;
mod credentials;
pub mod endpoint;
mod error;
mod packages;
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
    health_timeout: std::time::Duration,
}

/// How long `/health` waits for each of its probes by default.
pub const DEFAULT_HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

impl AppState {
    #[must_use]
    pub fn new(service: Arc<reliquary_core::Service>, credentials: Arc<Credentials>) -> Self {
        Self {
            service,
            credentials,
            health_timeout: DEFAULT_HEALTH_TIMEOUT,
        }
    }

    /// How long `/health` waits for the database and the blob store (each probed at once).
    #[must_use]
    pub fn with_health_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.health_timeout = timeout;
        self
    }

    /// The operations, for the format endpoints.
    #[must_use]
    pub fn service(&self) -> &Arc<reliquary_core::Service> {
        &self.service
    }
}

/// The whole server's routes: the control plane, `/health`, and each format's endpoint (each
/// request to one logged once by the kit).
pub fn router(state: AppState, formats: &[Box<dyn endpoint::FormatEndpoint>]) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/v1", any(control_plane::handle))
        .route("/v1/{*rest}", any(control_plane::handle));
    for format in formats {
        router = router.merge(
            format
                .router()
                .layer(axum::middleware::from_fn(endpoint::log_request)),
        );
    }
    router.with_state(state)
}

/// 200 once the server accepts requests, 503 while the database cannot be reached.
/// 200 when the metadata store and the blob store both answer, each probed at once with its
/// own timeout; else 503 naming what did not answer, within that timeout.
async fn health(State(state): State<AppState>) -> (StatusCode, String) {
    let timeout = state.health_timeout;
    let (store, blobs) = tokio::join!(
        tokio::time::timeout(timeout, state.service.ping_store()),
        tokio::time::timeout(timeout, state.service.ping_blobs()),
    );
    let down: Vec<&str> = [
        (matches!(store, Ok(Ok(()))), "database"),
        (matches!(blobs, Ok(Ok(()))), "blob store"),
    ]
    .into_iter()
    .filter_map(|(up, what)| (!up).then_some(what))
    .collect();
    if down.is_empty() {
        (StatusCode::OK, "ok\n".to_owned())
    } else {
        tracing::warn!(unavailable = ?down, "health check failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unavailable: {}\n", down.join(", ")),
        )
    }
}
