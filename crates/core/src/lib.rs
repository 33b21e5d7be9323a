//! The operations' rules. Knows no HTTP, no SQL and no wire shapes: the HTTP layer converts wire
//! requests into calls on [`Service`], and the store executes each business step atomically.

mod error;
pub mod kit;
mod packages;
mod pagination;
mod service;
pub mod time;
mod token;

pub use error::{Error, Result};
pub use kit::AssetDownload;
pub use packages::{
    BatchOutcome, CopyRequest, FailureCode, MAX_BATCH_VERSIONS, PackageRef, VersionListing,
    VersionSelection, check_generic_asset_name, check_namespace,
};
pub use pagination::PageToken;
pub use reliquary_blob::{BlobStore, S3Settings};
pub use service::{
    Caller, Config, Page, PrincipalCheck, Quotas, RepositoryListing, Service, TokenGrant,
};
pub use token::{AuthToken, TokenError};
