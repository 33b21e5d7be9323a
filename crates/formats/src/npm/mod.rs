//! npm, in one folder: package names, the `npm publish` document and its tarball checks, version
//! metadata, packuments full and abbreviated (`install-v1`) — and, on the format kit, its rules
//! (`rules`) and its endpoint (`endpoint`).

mod accept;
mod endpoint;
mod metadata;
mod names;
mod packument;
mod publish;
mod receive;
mod rules;
mod stream;

pub use accept::wants_abbreviated;
pub use endpoint::Npm;
pub use metadata::version_metadata;
pub use names::{full_name, parse_name, tarball_filename};
pub use packument::{
    PackumentVersion, abbreviated_packument, integrity_from_sha512_hex, packument,
};
pub use publish::{
    Attachment, PublishDocument, ReceivedTarball, inspect_tarball, needs_sha384, parse_publish,
    verify_version,
};
pub use rules::{NPM_ASSET, NpmRules, Packument};
pub use stream::{MAX_ATTACHMENTS, MAX_SKELETON_BYTES, PublishReader, Step};

/// The longest package name npm accepts, scope included.
pub const MAX_NAME_LENGTH: usize = 214;

/// The media type of the abbreviated packument.
pub const ABBREVIATED_MEDIA_TYPE: &str = "application/vnd.npm.install-v1+json";

/// Why an npm request or document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpmError {
    /// The package name breaks npm's naming rules.
    #[error("invalid package name: {0}")]
    InvalidName(String),
    /// The publish document is not the JSON npm sends, or a field in it has the wrong shape.
    #[error("invalid publish document: {0}")]
    InvalidDocument(String),
    /// The publish document has no tarball for the version.
    #[error("missing attachment: {0}")]
    MissingAttachment(String),
    /// The tarball's length or digests differ from those the document states.
    #[error("integrity mismatch: {0}")]
    IntegrityMismatch(String),
    /// The version's manifest and the document or tarball disagree on name or version.
    #[error("manifest mismatch: {0}")]
    ManifestMismatch(String),
    /// The tarball is not a gzipped tar with a readable `package.json` at depth 1.
    #[error("invalid tarball: {0}")]
    InvalidTarball(String),
    /// The publish document, without its attachments, is larger than the server keeps.
    #[error("publish document too large: {0}")]
    TooLarge(String),
}

/// The npm error body: `{"error": message}`.
#[must_use]
pub fn error_body(message: &str) -> serde_json::Value {
    serde_json::json!({ "error": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_npm_shape() {
        assert_eq!(
            error_body("not found"),
            serde_json::json!({"error": "not found"})
        );
    }
}
