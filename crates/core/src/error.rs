use reliquary_store::{ResourceKind, StoreError};

pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, in the product's vocabulary. The HTTP layer renders each variant as the
/// model's error shape of the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Validation { message: String },
    #[error("{message}")]
    NotFound {
        resource_type: Option<&'static str>,
        resource_id: Option<String>,
        message: String,
    },
    #[error("{message}")]
    Conflict {
        resource_type: Option<&'static str>,
        resource_id: Option<String>,
        message: String,
    },
    #[error("{message}")]
    QuotaExceeded {
        resource_type: Option<&'static str>,
        resource_id: Option<String>,
        message: String,
    },
    #[error("{message}")]
    AccessDenied { message: String },
    /// The database or blob store cannot be reached right now.
    #[error("{message}")]
    Unavailable { message: String },
    #[error("{message}")]
    Internal { message: String },
}

impl Error {
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation {
            message: message.into(),
        }
    }

    pub fn not_found(
        kind: ResourceKind,
        id: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::NotFound {
            resource_type: Some(kind.as_str()),
            resource_id: Some(id.into()),
            message: message.into(),
        }
    }

    pub fn conflict(kind: ResourceKind, id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            resource_type: Some(kind.as_str()),
            resource_id: Some(id.into()),
            message: message.into(),
        }
    }

    pub fn quota(kind: ResourceKind, id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::QuotaExceeded {
            resource_type: Some(kind.as_str()),
            resource_id: Some(id.into()),
            message: message.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind, id } => {
                let message = format!("{} {id} not found", capitalized(kind));
                Self::not_found(kind, id, message)
            }
            StoreError::AlreadyExists { kind, id } => {
                let message = format!("{} {id} already exists", capitalized(kind));
                Self::conflict(kind, id, message)
            }
            StoreError::DomainNotEmpty { domain, count } => Self::conflict(
                ResourceKind::Domain,
                domain.clone(),
                format!(
                    "Domain {domain} cannot be deleted because it contains {count} repositories"
                ),
            ),
            StoreError::RepositoryIsUpstream {
                repository,
                downstreams,
            } => Self::conflict(
                ResourceKind::Repository,
                repository.clone(),
                format!(
                    "Repository {repository} cannot be deleted because it is an upstream of {}",
                    downstreams.join(", ")
                ),
            ),
            StoreError::UpstreamNotFound(name) => Self::not_found(
                ResourceKind::Repository,
                name.clone(),
                format!("Upstream repository {name} not found in the domain"),
            ),
            StoreError::UpstreamCycle(path) => Self::validation(format!(
                "Upstream repositories may not form a cycle: {}",
                path.join(" -> ")
            )),
            StoreError::QuotaExceeded { kind, limit } => Self::QuotaExceeded {
                resource_type: Some(kind.as_str()),
                resource_id: None,
                message: format!("The quota of {limit} {kind} resources has been reached"),
            },
            StoreError::ExternalConnectionExists(name) => Self::conflict(
                ResourceKind::Repository,
                name.clone(),
                format!(
                    "The repository already has the external connection {name}; a repository can have one"
                ),
            ),
            StoreError::NotAllowed(message) => Self::AccessDenied { message },
            StoreError::InvalidState(message) => Self::Conflict {
                resource_type: None,
                resource_id: None,
                message,
            },
            StoreError::Contention => Self::Conflict {
                resource_type: None,
                resource_id: None,
                message: "A concurrent request changed the same resources; retry the request"
                    .to_owned(),
            },
            StoreError::Unavailable(detail) => {
                tracing::error!(error.detail = %detail, "store unavailable");
                Self::Unavailable {
                    message: "The metadata store is unavailable".to_owned(),
                }
            }
            StoreError::Internal(detail) => {
                tracing::error!(error.detail = %detail, "store internal error");
                Self::Internal {
                    message: "Internal error".to_owned(),
                }
            }
        }
    }
}

fn capitalized(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Domain => "Domain",
        ResourceKind::Repository => "Repository",
        ResourceKind::Package => "Package",
        ResourceKind::PackageVersion => "Package version",
        ResourceKind::Asset => "Asset",
        ResourceKind::Tag => "Tag",
    }
}
