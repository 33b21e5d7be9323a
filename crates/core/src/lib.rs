//! The operations' rules. Knows no HTTP, no SQL and no wire shapes: the HTTP layer converts wire
//! requests into calls on [`Service`], and the store executes each business step atomically.

mod error;
mod npm;
mod packages;
mod pagination;
mod pypi;
mod service;
mod token;

pub use error::{Error, Result};
pub use npm::{ExternalError, ExternalRegistry, NPM_ASSET, NoExternalRegistry, Packument};
pub use packages::{
    AssetDownload, BatchOutcome, CopyRequest, FailureCode, MAX_BATCH_VERSIONS, PackageRef,
    VersionListing, VersionSelection, check_generic_asset_name, check_namespace,
};
pub use pagination::PageToken;
pub use pypi::{ProjectPage, StagedUpload};
pub use reliquary_blob::{BlobStore, S3Settings};
pub use service::{Caller, Config, Page, Quotas, RepositoryListing, Service, TokenGrant};
pub use token::{AuthToken, TokenError};
