//! Publishing through a package endpoint, the checks every format makes (`spec/digest.md`
//! §4.5): the package's origin configuration must allow publishing into the repository; a new
//! version must not already be reachable in an upstream while the package allows upstreams; one
//! mapping of the store's refusals to the product's errors.

use std::time::Duration;

use reliquary_store::{PublishAsset, Published, RepositoryKey, ResourceKind, StoreError};
use reliquary_types::{Allow, PackageKey};

use crate::service::Service;
use crate::{Error, Result};

/// How often a publish is tried again when a concurrent writer changed its version.
const CONTENTION_ATTEMPTS: u32 = 8;

/// What [`Service::check_publish`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishCheck {
    /// The repository already holds the version.
    pub exists: bool,
}

/// "Publishing is blocked …", the answer to a publish under `publish: BLOCK`.
#[must_use]
pub fn publish_blocked(key: &PackageKey) -> Error {
    Error::AccessDenied {
        message: format!(
            "Publishing is blocked for package {} by its origin configuration",
            key.name
        ),
    }
}

pub(crate) async fn backoff(attempt: u32) {
    let jitter = u64::from(rand::random::<u8>() % 8);
    tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5 + jitter)).await;
}

impl Service {
    /// The pre-checks of a publish of `version`, before any bytes are committed: publish BLOCK
    /// is `AccessDenied`; a version the repository does not hold yet that a reachable upstream
    /// holds, while the package allows upstreams, is a `Conflict`.
    ///
    /// # Errors
    /// As above; store failures.
    pub async fn check_publish(
        &self,
        repository: &RepositoryKey,
        key: &PackageKey,
        version: &str,
    ) -> Result<PublishCheck> {
        let package = self.store().package(repository, key).await?;
        if package
            .as_ref()
            .is_some_and(|p| p.origin.publish == Allow::Block)
        {
            return Err(publish_blocked(key));
        }
        let exists = self
            .store()
            .version(repository, key, version)
            .await?
            .is_some();
        if !exists
            && package.is_some_and(|p| p.origin.upstream == Allow::Allow)
            && self.version_in_upstream(repository, key, version).await?
        {
            return Err(Error::conflict(
                ResourceKind::PackageVersion,
                version,
                format!("{} {version} exists in an upstream repository", key.name),
            ));
        }
        Ok(PublishCheck { exists })
    }

    /// Adds one committed asset to a version (creating it), retrying a bounded number of times
    /// when a concurrent writer changed the version, and answering every refusal of the store
    /// the same way for every format.
    ///
    /// # Errors
    /// `AccessDenied` (publish BLOCK), `Conflict` (a different asset of that name, a version
    /// that takes no more assets), `QuotaExceeded` (assets per version).
    pub async fn publish_asset(&self, publish: PublishAsset) -> Result<Published> {
        let mut attempt = 0;
        loop {
            match self.store().publish_asset(publish.clone()).await {
                Ok(published) => return Ok(published),
                Err(StoreError::Contention) if attempt < CONTENTION_ATTEMPTS => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                Err(e) => return Err(publish_refused(&publish, e)),
            }
        }
    }
}

fn publish_refused(publish: &PublishAsset, err: StoreError) -> Error {
    let (key, version, name) = (&publish.package, &publish.version, &publish.asset.name);
    match err {
        StoreError::NotAllowed(_) => publish_blocked(key),
        StoreError::AlreadyExists {
            kind: ResourceKind::Asset,
            ..
        } => Error::conflict(
            ResourceKind::Asset,
            name.as_str(),
            format!(
                "Asset {name} already exists in package version {version} of {} with different content",
                key.name
            ),
        ),
        StoreError::AlreadyExists { .. } | StoreError::InvalidState(_) => Error::conflict(
            ResourceKind::PackageVersion,
            version.as_str(),
            format!(
                "Package version {version} of {} takes no new assets in its current status",
                key.name
            ),
        ),
        StoreError::QuotaExceeded {
            kind: ResourceKind::Asset,
            limit,
        } => Error::quota(
            ResourceKind::Asset,
            name.as_str(),
            format!("A package version can have at most {limit} assets"),
        ),
        StoreError::Contention => Error::Conflict {
            resource_type: Some(ResourceKind::Package.as_str()),
            resource_id: None,
            message: "The package was changed concurrently by other requests; retry the request"
                .to_owned(),
        },
        other => other.into(),
    }
}
