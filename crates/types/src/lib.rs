//! Validated names, identifiers and the small pure rules shared by every layer.
//!
//! Nothing here does I/O. Each identifier is a newtype whose only constructor is `parse`,
//! so a value that exists is valid (`design.md` §2: preconditions in types).

mod format;
mod names;
mod package;
mod upstreams;

pub use format::{ExternalConnection, PackageFormat};
pub use names::{AccountId, DomainName, InvalidName, RepositoryName};
pub use package::{
    Allow, Asset, AssetHashes, Dependency, License, OriginRestrictions, OriginType, PackageKey,
    VersionMetadata, VersionOrigin, VersionStatus, revision,
};
pub use upstreams::{MAX_DIRECT_UPSTREAMS, MAX_SEARCHED_REPOSITORIES, find_cycle, search_order};

/// Milliseconds since the Unix epoch. Stored as an integer in both databases.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    #[must_use]
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    /// Epoch seconds with millisecond fraction, the restJson1 wire form.
    #[must_use]
    #[expect(
        clippy::cast_precision_loss,
        reason = "epoch milliseconds fit in f64's 53-bit mantissa"
    )]
    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}
