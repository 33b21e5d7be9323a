//! Packages, versions and assets: the values every layer shares, and the pure rules over them
//! (revision, status transitions).

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::PackageFormat;

/// A package within a repository: format, optional namespace (npm scope without `@`, Maven
/// groupId, generic namespace) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageKey {
    pub format: PackageFormat,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for PackageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}:{}/{}", self.format, ns, self.name),
            None => write!(f, "{}:{}", self.format, self.name),
        }
    }
}

/// ALLOW or BLOCK, for the two package origin restrictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Allow {
    Allow,
    Block,
}

impl Allow {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Block => "BLOCK",
        }
    }

    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ALLOW" => Some(Self::Allow),
            "BLOCK" => Some(Self::Block),
            _ => None,
        }
    }
}

/// A package's origin controls (`spec/digest.md` §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OriginRestrictions {
    pub publish: Allow,
    pub upstream: Allow,
}

impl OriginRestrictions {
    /// The default of a package whose first version was published directly.
    pub const PUBLISHED_FIRST: Self = Self {
        publish: Allow::Allow,
        upstream: Allow::Block,
    };
    /// The default of a package whose first version came from an upstream or external connection.
    pub const INGESTED_FIRST: Self = Self {
        publish: Allow::Block,
        upstream: Allow::Allow,
    };
}

/// The statuses a stored version can have. `Deleted` is not stored: a deleted version has no row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VersionStatus {
    Published,
    Unfinished,
    Unlisted,
    Archived,
    Disposed,
}

impl VersionStatus {
    pub const ALL: [Self; 5] = [
        Self::Published,
        Self::Unfinished,
        Self::Unlisted,
        Self::Archived,
        Self::Disposed,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Published => "Published",
            Self::Unfinished => "Unfinished",
            Self::Unlisted => "Unlisted",
            Self::Archived => "Archived",
            Self::Disposed => "Disposed",
        }
    }

    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Whether the version's assets can be downloaded (`spec/digest.md` §4.6).
    #[must_use]
    pub fn assets_downloadable(self) -> bool {
        matches!(self, Self::Published | Self::Unlisted)
    }

    /// Whether package managers see the version in their version lists.
    #[must_use]
    pub fn listed(self) -> bool {
        self == Self::Published
    }

    /// Whether UpdatePackageVersionsStatus may move a version from `self` to `target`
    /// (`target` is one of Published, Unlisted, Archived: the request-level check).
    #[must_use]
    pub fn can_update_to(self, target: Self) -> bool {
        self != Self::Disposed && target != Self::Unfinished && target != Self::Disposed
    }

    /// Whether CopyPackageVersions copies a version in this status (`docs/compatibility.md`).
    #[must_use]
    pub fn copyable(self) -> bool {
        matches!(self, Self::Published | Self::Unlisted | Self::Archived)
    }
}

impl fmt::Display for VersionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a version first entered the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OriginType {
    Internal,
    External,
    Unknown,
}

impl OriginType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Internal => "INTERNAL",
            Self::External => "EXTERNAL",
            Self::Unknown => "UNKNOWN",
        }
    }

    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Internal, Self::External, Self::Unknown]
            .into_iter()
            .find(|o| o.as_str() == value)
    }
}

/// Where a version entered the domain: a repository it was published to, or an external
/// connection it was ingested from. It never changes afterwards, also not by a copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionOrigin {
    pub origin_type: OriginType,
    pub repository: Option<String>,
    pub external_connection: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub package: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_requirement: Option<String>,
}

/// Version-level metadata, as the format's client sent it. Stored as JSON; part of the revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_code_repository: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<License>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readme: Option<String>,
    /// Format-specific document kept verbatim (npm version manifest, PyPI metadata fields …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

/// An asset's four digests, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssetHashes {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

/// An asset of a version: its name in the version and the content it points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Asset {
    pub name: String,
    pub size: u64,
    pub hashes: AssetHashes,
}

/// The version revision (`design.md` §3): base64 SHA-256 over the sorted (asset name, SHA-256)
/// list and the version's metadata, excluding status. Equal revisions mean identical content.
#[must_use]
pub fn revision(assets: &[Asset], metadata: &VersionMetadata) -> String {
    let mut pairs: Vec<(&str, &str)> = assets
        .iter()
        .map(|a| (a.name.as_str(), a.hashes.sha256.as_str()))
        .collect();
    pairs.sort_unstable();
    let mut hasher = Sha256::new();
    hasher.update(b"reliquary-revision-v1\0");
    for (name, sha256) in pairs {
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update(sha256.as_bytes());
    }
    // serde_json writes struct fields in declaration order and maps sorted, so this is canonical.
    hasher.update(serde_json::to_vec(metadata).unwrap_or_default());
    base64::engine::general_purpose::STANDARD.encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(name: &str, sha: &str) -> Asset {
        Asset {
            name: name.into(),
            size: 1,
            hashes: AssetHashes {
                md5: String::new(),
                sha1: String::new(),
                sha256: sha.into(),
                sha512: String::new(),
            },
        }
    }

    #[test]
    fn revision_ignores_asset_order_and_depends_on_content_and_metadata() {
        let meta = VersionMetadata::default();
        let a = revision(&[asset("a", "11"), asset("b", "22")], &meta);
        assert_eq!(a, revision(&[asset("b", "22"), asset("a", "11")], &meta));
        assert_ne!(a, revision(&[asset("a", "11"), asset("b", "23")], &meta));
        assert_ne!(a, revision(&[asset("a", "11")], &meta));
        let described = VersionMetadata {
            summary: Some("x".into()),
            ..VersionMetadata::default()
        };
        assert_ne!(
            a,
            revision(&[asset("a", "11"), asset("b", "22")], &described)
        );
        assert_eq!(a.len(), 44);
    }

    #[test]
    fn status_rules_follow_the_documented_table() {
        use VersionStatus::*;
        assert!(Published.can_update_to(Archived));
        assert!(Archived.can_update_to(Published));
        assert!(Unfinished.can_update_to(Published));
        assert!(!Disposed.can_update_to(Published));
        assert!(!Published.can_update_to(Unfinished));
        assert!(Unlisted.assets_downloadable());
        assert!(!Archived.assets_downloadable());
        assert!(!Unfinished.copyable());
        assert!(!Disposed.copyable());
        assert!(Archived.copyable());
    }
}
