//! The format kit, core half: what every package format's endpoint shares, written once.
//! A format (`crates/formats/src/<name>/`) implements [`FormatRules`] for the rules that differ
//! and calls the shared machinery:
//! - [`Service::merged_listing`]: a package's versions over the upstream graph and external
//!   connections, with the upstream BLOCK rule;
//! - [`Service::resolve_asset`]: own → upstreams (retained) → external connection (ingested,
//!   through the format's [`Ingest`]);
//! - [`Service::check_publish`] and [`Service::publish_asset`]: origin controls, upstream
//!   presence, one mapping of the store's refusals;
//! - [`Service::stage`], [`Service::commit`], [`Service::fetch_external_file`]: bytes stream
//!   through the blob store's staging path, never whole in memory;
//! - [`Service::external_document`]: registry documents, cached and revalidated;
//! - [`Service::endpoint_repository`]: token and repository of a request.

mod cache;
mod endpoint;
mod external;
mod graph;
mod hot;
mod publish;
mod resolve;

pub(crate) use external::DocumentCache;
pub use external::{
    ExternalDocument, ExternalError, ExternalRegistry, ExternalRequest, ExternalResponse,
    NoExternalRegistry, Target,
};
pub(crate) use graph::repository_key_of;
pub use graph::{ExternalVersions, MergeSource, Merged, SearchStop};
pub(crate) use hot::HotPath;
pub use hot::Rendered;
pub(crate) use publish::backoff;
pub use publish::{PublishCheck, publish_blocked};
pub(crate) use resolve::blob_error;
pub use resolve::{AssetDownload, Ingest, Ingested, SEEKABLE_WINDOW, SeekableRead, Staged};

use reliquary_types::PackageFormat;

/// The rules of one package format that the shared operations consult (the control plane's
/// copy, delete and reads), so shared code never asks which format it is.
pub trait FormatRules: Send + Sync + 'static {
    fn format(&self) -> PackageFormat;

    /// Whether packages of the format carry dist-tags (npm): a copy carries the tags of the
    /// versions it copies, and the `latest` tag names the default display version.
    fn dist_tags(&self) -> bool {
        false
    }
}
