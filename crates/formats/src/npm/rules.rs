//! npm's rules over the format kit (`spec/digest.md` §4.3–4.5): publishing, packuments merged
//! across the upstream graph, tarballs resolved through upstreams and the `public:npmjs`
//! external connection, dist-tags, deprecate and unpublish.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reliquary_core::kit::{
    ExternalDocument, ExternalVersions, FormatRules, Ingest, Ingested, MergeSource, Staged,
};
use reliquary_core::time::{iso8601, parse_iso8601};
use reliquary_core::{AssetDownload, Error, Result, Service};
use reliquary_store::{
    PackageListing, PackageVersion, PublishAsset, RepositoryKey, ResourceKind, StoreError,
    VersionWithAssets,
};
use reliquary_types::{
    ExternalConnection, PackageFormat, PackageKey, Timestamp, VersionMetadata, VersionStatus,
};
use sha2::{Digest as _, Sha256};

use super::{self as format, PackumentVersion, PublishDocument, ReceivedTarball};

/// npm versions have exactly one asset, under this name.
pub const NPM_ASSET: &str = "package.tgz";
/// Largest packument read from an external registry.
const MAX_REMOTE_PACKUMENT_BYTES: u64 = 64 * 1024 * 1024;

/// npm's rules as the shared operations see them: packages carry dist-tags.
#[derive(Debug, Clone, Copy, Default)]
pub struct NpmRules;

impl FormatRules for NpmRules {
    fn format(&self) -> PackageFormat {
        PackageFormat::Npm
    }

    fn dist_tags(&self) -> bool {
        true
    }
}

/// Which packument document to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packument {
    /// The whole document (`application/json`).
    Full,
    /// What `npm install` asks for (`application/vnd.npm.install-v1+json`).
    Abbreviated,
}

fn npm_not_found(full_name: &str) -> Error {
    Error::not_found(
        ResourceKind::Package,
        full_name,
        format!("{full_name} is not in this registry"),
    )
}

fn npm_key(scope: Option<&str>, name: &str) -> PackageKey {
    PackageKey {
        format: PackageFormat::Npm,
        namespace: scope.map(str::to_owned),
        name: name.to_owned(),
    }
}

/// One version visible to npm, from whichever repository of the graph holds it. Cheap to clone:
/// a registry's packument is parsed once per fetched copy and its versions shared.
#[derive(Clone)]
struct Visible {
    version: String,
    manifest: Option<Arc<serde_json::Value>>,
    metadata: Arc<VersionMetadata>,
    published: Timestamp,
}

/// What npm keeps of a registry's packument, parsed once per fetched copy (the kit keeps it with
/// the cached document).
struct RemotePackument {
    versions: BTreeMap<String, Visible>,
    dist_tags: Vec<(String, String)>,
}

impl RemotePackument {
    fn parse(full_name: &str, document: &ExternalDocument) -> std::result::Result<Self, String> {
        let mut remote: serde_json::Value = serde_json::from_slice(&document.body)
            .map_err(|e| format!("{}: invalid JSON: {e}", document.url))?;
        let times = remote.get("time").cloned();
        let dist_tags = remote
            .get("dist-tags")
            .and_then(|t| t.as_object())
            .into_iter()
            .flatten()
            .filter_map(|(tag, v)| v.as_str().map(|v| (tag.clone(), v.to_owned())))
            .collect();
        let versions = match remote.get_mut("versions").map(serde_json::Value::take) {
            Some(serde_json::Value::Object(versions)) => versions,
            _ => serde_json::Map::new(),
        };
        let versions = versions
            .into_iter()
            .map(|(version, manifest)| {
                let published = times
                    .as_ref()
                    .and_then(|t| t.get(&version))
                    .and_then(|t| t.as_str())
                    .and_then(parse_iso8601)
                    .unwrap_or(Timestamp(0));
                let mut metadata = format::version_metadata(&manifest, full_name);
                // The manifest is kept once, beside the metadata rather than in it.
                metadata.extra = None;
                let visible = Visible {
                    version: version.clone(),
                    manifest: Some(Arc::new(manifest)),
                    metadata: Arc::new(metadata),
                    published,
                };
                (version, visible)
            })
            .collect();
        Ok(Self {
            versions,
            dist_tags,
        })
    }
}

/// The packument of `full_name` from the registry behind `connection`, parsed (both cached by
/// the kit: a registry's copy is fetched and parsed once per change or maximum age).
async fn remote_packument(
    service: &Service,
    connection: ExternalConnection,
    full_name: &str,
) -> std::result::Result<Option<Arc<RemotePackument>>, String> {
    // Names were validated by `parse_name`; the scope's `/` is the only character to escape.
    let path = full_name.replace('/', "%2f");
    let full_name = full_name.to_owned();
    service
        .external_parsed(
            connection,
            &path,
            "application/json",
            MAX_REMOTE_PACKUMENT_BYTES,
            move |document| RemotePackument::parse(&full_name, document),
        )
        .await
}

/// Where npm's merged listing reads versions: stored manifests, and remote packuments.
struct Versions<'a> {
    full_name: &'a str,
}

#[async_trait::async_trait]
impl MergeSource for Versions<'_> {
    type Version = Visible;

    fn stored(&self, _: &RepositoryKey, stored: VersionWithAssets) -> Option<Visible> {
        let mut metadata = stored.version.metadata;
        Some(Visible {
            version: stored.version.version,
            manifest: metadata.extra.take().map(Arc::new),
            metadata: Arc::new(metadata),
            published: stored.version.published,
        })
    }

    async fn external(
        &self,
        service: &Service,
        connection: ExternalConnection,
        _: &PackageKey,
    ) -> std::result::Result<Option<ExternalVersions<Visible>>, String> {
        let Some(remote) = remote_packument(service, connection, self.full_name).await? else {
            return Ok(None);
        };
        Ok(Some(ExternalVersions {
            versions: remote
                .versions
                .iter()
                .map(|(version, visible)| (version.clone(), visible.clone()))
                .collect(),
            dist_tags: remote.dist_tags.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl Ingest for Versions<'_> {
    async fn fetch(
        &self,
        service: &Service,
        connection: ExternalConnection,
        _: &PackageKey,
        version: &str,
        _: &str,
    ) -> Result<Option<Ingested>> {
        let remote = match remote_packument(service, connection, self.full_name).await {
            Ok(Some(remote)) => remote,
            Ok(None) => return Ok(None),
            Err(detail) => {
                tracing::warn!(error.detail = %detail, package = %self.full_name, "external registry unavailable");
                return Ok(None);
            }
        };
        let Some(manifest) = remote
            .versions
            .get(version)
            .and_then(|v| v.manifest.as_deref())
        else {
            return Ok(None);
        };
        let Some(url) = manifest
            .get("dist")
            .and_then(|d| d.get("tarball"))
            .and_then(|t| t.as_str())
        else {
            return Ok(None);
        };
        let Some(asset) = service
            .fetch_external_file(connection, url, NPM_ASSET, |hashes| {
                dist_matches(manifest, &hashes.sha1, &hashes.sha512)
            })
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Ingested {
            assets: vec![asset],
            metadata: format::version_metadata(manifest, self.full_name),
        }))
    }
}

fn tarball_url(
    service: &Service,
    repository: &RepositoryKey,
    full_name: &str,
    name: &str,
    version: &str,
) -> String {
    format!(
        "{}/{full_name}/-/{}",
        service.endpoint_base("npm", repository),
        format::tarball_filename(name, version)
    )
}

/// The packument of a package as the requested repository sees it: its own Published
/// versions, then those of each upstream (and external connection) not seen yet; dist-tags
/// merged with the upstream winning a conflict.
///
/// # Errors
/// `NotFound` when no repository of the graph knows the package.
pub async fn npm_packument(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    shape: Packument,
) -> Result<serde_json::Value> {
    let key = npm_key(scope, name);
    let full_name = format::full_name(scope, name);
    // `_rev` is read before the versions: if the package changes in between, the document
    // pairs newer versions with an older revision, and a metadata PUT of it is refused (409),
    // never the other way round (a revision vouching for versions the client did not see).
    let rev = match shape {
        Packument::Abbreviated => None,
        Packument::Full => Some(packument_rev(
            service
                .store()
                .package_listing(repository, &key, None, false)
                .await?
                .as_ref(),
        )),
    };
    let source = Versions {
        full_name: &full_name,
    };
    let Some(merged) = service
        .merged_listing(
            repository,
            &key,
            Some(VersionStatus::Published),
            false,
            &source,
        )
        .await?
    else {
        return Err(npm_not_found(&full_name));
    };
    let versions = merged.versions;
    let mut tags = merged.dist_tags;
    tags.retain(|_, v| versions.contains_key(v));
    if !tags.contains_key("latest")
        && let Some(newest) = versions.values().max_by_key(|v| v.published)
    {
        tags.insert("latest".to_owned(), newest.version.clone());
    }
    let listing: Vec<PackumentVersion<'_>> = versions
        .values()
        .map(|v| {
            let dist = v.manifest.as_deref().and_then(|m| m.get("dist"));
            let text = |field: &str| {
                dist.and_then(|d| d.get(field))
                    .and_then(|s| s.as_str())
                    .unwrap_or("")
            };
            PackumentVersion {
                version: &v.version,
                manifest: v.manifest.as_deref(),
                metadata: &v.metadata,
                tarball_url: tarball_url(service, repository, &full_name, name, &v.version),
                shasum: text("shasum"),
                integrity: text("integrity").to_owned(),
                published: Some(iso8601(v.published)),
            }
        })
        .collect();
    let mut document = match shape {
        Packument::Full => format::packument(&full_name, &listing, &tags),
        Packument::Abbreviated => format::abbreviated_packument(&full_name, &listing, &tags),
    };
    if let (Some(rev), Some(object)) = (rev, document.as_object_mut()) {
        object.insert("_rev".to_owned(), serde_json::Value::String(rev));
    }
    Ok(document)
}

/// A tarball, resolved by the kit: this repository, its upstreams (retained), then
/// `public:npmjs` (ingested).
///
/// # Errors
/// `NotFound` when nothing in the graph has a downloadable version.
pub async fn npm_tarball(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    version: &str,
) -> Result<AssetDownload> {
    let key = npm_key(scope, name);
    let full_name = format::full_name(scope, name);
    let source = Versions {
        full_name: &full_name,
    };
    service
        .resolve_asset(repository, &key, version, NPM_ASSET, &source)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => npm_not_found(&format!("{full_name}@{version}")),
            other => other,
        })
}

/// Publishes the versions of an npm PUT that carry a tarball, or applies a metadata-only
/// PUT (deprecate, unpublish of single versions). `url_rev` is the revision named in the
/// URL (`/pkg/-rev/<rev>`, sent by `npm unpublish`); a publish ignores it and `_rev`.
/// `tarballs` are the attachments' contents, staged while the body streamed in: a published
/// version's is committed, every other one discarded.
///
/// # Errors
/// `Validation` (document, integrity), `Conflict` (the version exists here or in a reachable
/// upstream), `AccessDenied` (publish BLOCK).
pub async fn npm_put(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    document: &PublishDocument,
    url_rev: Option<&str>,
    tarballs: Vec<(String, Staged)>,
) -> Result<()> {
    let mut staged: BTreeMap<String, Staged> = tarballs.into_iter().collect();
    let outcome = put(
        service,
        repository,
        scope,
        name,
        document,
        url_rev,
        &mut staged,
    )
    .await;
    for (_, unused) in staged {
        service.discard(unused).await;
    }
    outcome
}

/// [`npm_put`], taking from `staged` the tarballs it commits.
async fn put(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    document: &PublishDocument,
    url_rev: Option<&str>,
    staged: &mut BTreeMap<String, Staged>,
) -> Result<()> {
    let key = npm_key(scope, name);
    let full_name = format::full_name(scope, name);
    if document.name != full_name {
        return Err(Error::validation(format!(
            "The document names {} but the request path names {full_name}",
            document.name
        )));
    }
    if document.attachments.is_empty() {
        return npm_update(service, repository, &key, document, url_rev).await;
    }
    let received = received_tarballs(service, document, staged).await?;
    let mut published = Vec::new();
    for version in document.versions.keys() {
        let Ok(file) = format::verify_version(document, version, &received) else {
            // Versions without an attachment in a publish body are the existing ones npm echoes.
            if document
                .attachments
                .keys()
                .any(|a| a.ends_with(&format!("-{version}.tgz")))
            {
                format::verify_version(document, version, &received)
                    .map_err(|e| Error::validation(e.to_string()))?;
            }
            continue;
        };
        if service
            .check_publish(repository, &key, version)
            .await?
            .exists
        {
            return Err(Error::conflict(
                ResourceKind::PackageVersion,
                version.as_str(),
                format!("{full_name}@{version} already exists; versions cannot be published over"),
            ));
        }
        let manifest = &document.versions[version];
        let tarball = staged.remove(file).ok_or_else(|| {
            Error::validation(format!("The attachment {file} serves two versions"))
        })?;
        let asset = match service.commit(&tarball, NPM_ASSET).await {
            Ok(asset) => asset,
            Err(e) => {
                service.discard(tarball).await;
                return Err(e);
            }
        };
        let publish = PublishAsset {
            repository: repository.clone(),
            package: key.clone(),
            version: version.clone(),
            asset,
            unfinished: false,
            metadata: format::version_metadata(manifest, &full_name),
            now: Timestamp::now(),
            max_assets_per_version: 1,
            append_to_published: false,
            new_version_only: true,
        };
        match service.publish_asset(publish).await {
            Ok(_) => published.push(version.clone()),
            // Another publish of the same version won: a version is published once.
            Err(Error::Conflict { .. }) => {
                return Err(Error::conflict(
                    ResourceKind::PackageVersion,
                    version.as_str(),
                    format!("{full_name}@{version} already exists"),
                ));
            }
            Err(other) => return Err(other),
        }
    }
    if published.is_empty() {
        return Err(Error::validation(
            "The publish document has no version with a tarball",
        ));
    }
    for (tag, version) in &document.dist_tags {
        if published.contains(version) {
            service
                .store()
                .set_dist_tag(repository, &key, tag, version)
                .await?;
        }
    }
    Ok(())
}

/// What each of the document's attachments received: its size and digests from staging, its
/// `package.json` (and its SHA-384 when an integrity asks for one) read from the staged bytes on
/// the blocking pool.
async fn received_tarballs(
    service: &Service,
    document: &PublishDocument,
    staged: &BTreeMap<String, Staged>,
) -> Result<BTreeMap<String, ReceivedTarball>> {
    let sha384 = format::needs_sha384(document);
    let mut received = BTreeMap::new();
    for (file, tarball) in staged {
        if !document.attachments.contains_key(file) {
            continue;
        }
        let (package_json, sha384) = service
            .inspect_staged(tarball, move |reader| {
                format::inspect_tarball(reader, sha384)
            })
            .await?;
        let hashes = tarball.hashes();
        received.insert(
            file.clone(),
            ReceivedTarball {
                size: tarball.size(),
                sha1: hashes.sha1.clone(),
                sha256: hashes.sha256.clone(),
                sha512: hashes.sha512.clone(),
                sha384,
                package_json,
            },
        );
    }
    Ok(received)
}

/// A PUT without tarballs (`npm deprecate`, `npm unpublish pkg@v`): npm sends back the full
/// packument it was shown, edited. A document holds only what its client was shown, and an
/// omission is not a deletion unless the client saw what it omits, so:
/// - a `_rev` sent (in the body, in the URL, or both) must be the current [`packument_rev`],
///   else `Conflict` and nothing changes: the client edited an older state, and a version
///   published since is missing from its document without having been unpublished;
/// - only the versions the packument shows, this repository's Published ones, are touched:
///   those missing from the document are unpublished, those whose `deprecated` changed are
///   updated. Unlisted, Archived, Disposed and Unfinished versions are never shown, so they
///   are left as they are whatever the document says;
/// - dist-tags pointing at a remaining shown version are applied, except a tag that points
///   at a hidden version (the packument did not show it).
async fn npm_update(
    service: &Service,
    repository: &RepositoryKey,
    key: &PackageKey,
    document: &PublishDocument,
    url_rev: Option<&str>,
) -> Result<()> {
    let full_name = format::full_name(key.namespace.as_deref(), &key.name);
    let listing = service
        .store()
        .package_listing(repository, key, None, false)
        .await?
        .ok_or_else(|| npm_not_found(&full_name))?;
    let current = packument_rev(Some(&listing));
    if let Some(sent) = document
        .rev
        .as_deref()
        .into_iter()
        .chain(url_rev)
        .find(|sent| *sent != current)
    {
        return Err(Error::conflict(
            ResourceKind::Package,
            full_name.as_str(),
            format!(
                "{full_name} changed since revision {sent} (it is now at {current}); \
                 fetch it again and retry"
            ),
        ));
    }
    // What the packument showed: the other statuses are out of this PUT's reach.
    let (shown, hidden): (Vec<PackageVersion>, Vec<PackageVersion>) = listing
        .versions
        .into_iter()
        .map(|v| v.version)
        .partition(|v| v.status == VersionStatus::Published);
    // The packument leaves out tags on hidden versions too (it may show a computed `latest`
    // in their place): a document cannot have meant to move a tag its client never saw.
    let unseen_tags: BTreeSet<&str> = listing
        .dist_tags
        .iter()
        .filter(|(_, version)| hidden.iter().any(|h| h.version == *version))
        .map(|(tag, _)| tag.as_str())
        .collect();
    let mut removed = Vec::new();
    for version in &shown {
        let Some(manifest) = document.versions.get(&version.version) else {
            removed.push(version.clone());
            continue;
        };
        let wanted = manifest.get("deprecated").cloned();
        let current = version
            .metadata
            .extra
            .as_ref()
            .and_then(|m| m.get("deprecated"))
            .cloned();
        if wanted != current {
            let mut metadata = version.metadata.clone();
            let mut extra = metadata
                .extra
                .take()
                .unwrap_or_else(|| serde_json::json!({}));
            if let Some(object) = extra.as_object_mut() {
                match wanted {
                    Some(message) if message.as_str().is_some_and(|m| !m.is_empty()) => {
                        object.insert("deprecated".to_owned(), message);
                    }
                    _ => {
                        object.remove("deprecated");
                    }
                }
            }
            metadata.extra = Some(extra);
            service
                .store()
                .update_version_metadata(
                    repository,
                    key,
                    &version.version,
                    &version.revision,
                    metadata,
                )
                .await
                .map_err(|e| match e {
                    StoreError::Contention => Error::conflict(
                        ResourceKind::PackageVersion,
                        version.version.as_str(),
                        "The version changed concurrently; retry",
                    ),
                    other => other.into(),
                })?;
        }
    }
    if !removed.is_empty() {
        let changes: Vec<reliquary_store::VersionChange> = removed
            .iter()
            .map(|v| reliquary_store::VersionChange {
                version: v.version.clone(),
                expected_status: v.status,
                expected_revision: v.revision.clone(),
                action: reliquary_store::VersionAction::Delete,
            })
            .collect();
        service
            .store()
            .change_versions(repository, key, &changes)
            .await
            .map_err(|e| match e {
                StoreError::Contention => Error::conflict(
                    ResourceKind::Package,
                    full_name.as_str(),
                    "The package changed concurrently; retry",
                ),
                other => other.into(),
            })?;
    }
    let remaining: BTreeSet<&str> = shown
        .iter()
        .filter(|v| !removed.contains(v))
        .map(|v| v.version.as_str())
        .collect();
    for (tag, version) in &document.dist_tags {
        if remaining.contains(version.as_str()) && !unseen_tags.contains(tag.as_str()) {
            service
                .store()
                .set_dist_tag(repository, key, tag, version)
                .await?;
        }
    }
    Ok(())
}

/// `npm unpublish pkg --force` (`DELETE /{package}/-rev/{rev}`): the package and all its
/// versions, whatever their status (the command names the package, as DeletePackage does), if
/// `rev` is the current [`packument_rev`]: a client that was shown an older state (a version
/// published since) gets `Conflict` and nothing is deleted.
///
/// # Errors
/// `NotFound`, `Conflict`.
pub async fn npm_delete_package(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    url_rev: &str,
) -> Result<()> {
    let key = npm_key(scope, name);
    let full_name = format::full_name(scope, name);
    let listing = service
        .store()
        .package_listing(repository, &key, None, false)
        .await?
        .ok_or_else(|| npm_not_found(&full_name))?;
    let current = packument_rev(Some(&listing));
    if url_rev != current {
        return Err(Error::conflict(
            ResourceKind::Package,
            full_name.as_str(),
            format!(
                "{full_name} changed since revision {url_rev} (it is now at {current}); \
                 fetch it again and retry"
            ),
        ));
    }
    service
        .store()
        .delete_package(repository, &key)
        .await
        .map_err(|e| match e {
            StoreError::NotFound {
                kind: ResourceKind::Package,
                ..
            } => npm_not_found(&full_name),
            other => other.into(),
        })?;
    Ok(())
}

/// The dist-tags npm sees (merged across the graph, as in the packument).
///
/// # Errors
/// `NotFound`.
pub async fn npm_dist_tags(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
) -> Result<serde_json::Value> {
    let packument = npm_packument(service, repository, scope, name, Packument::Abbreviated).await?;
    Ok(packument
        .get("dist-tags")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({})))
}

/// # Errors
/// `NotFound` when the version is not in this repository.
pub async fn npm_set_dist_tag(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    tag: &str,
    version: &str,
) -> Result<()> {
    Ok(service
        .store()
        .set_dist_tag(repository, &npm_key(scope, name), tag, version)
        .await?)
}

/// # Errors
/// `NotFound` when the tag does not exist.
pub async fn npm_remove_dist_tag(
    service: &Service,
    repository: &RepositoryKey,
    scope: Option<&str>,
    name: &str,
    tag: &str,
) -> Result<()> {
    Ok(service
        .store()
        .remove_dist_tag(repository, &npm_key(scope, name), tag)
        .await?)
}

/// Whether a manifest's `dist.shasum` / `dist.integrity` (those present) describe a file of
/// these SHA-1 and SHA-512 (hex).
fn dist_matches(manifest: &serde_json::Value, sha1: &str, sha512: &str) -> bool {
    let dist = manifest.get("dist");
    let field = |name: &str| dist.and_then(|d| d.get(name)).and_then(|v| v.as_str());
    let shasum_ok = field("shasum").is_none_or(|s| s.eq_ignore_ascii_case(sha1));
    let integrity_ok = field("integrity")
        .filter(|i| i.starts_with("sha512-"))
        .is_none_or(|i| i == format::integrity_from_sha512_hex(sha512));
    shasum_ok && integrity_ok
}

/// The revision (`_rev`) of a full packument: CouchDB-shaped `"{n}-{hex}"`, `n` the number of
/// versions the package has in this repository (any status), `hex` 128 bits of a SHA-256 over
/// its (version, revision, status) rows and dist-tags, sorted. It changes whenever this
/// repository's package does (a version added or removed, a status or revision changed, a
/// dist-tag set, moved or removed), and not when upstreams change, since a metadata PUT only
/// edits this repository. No package here: `0-` and the digest of nothing.
fn packument_rev(listing: Option<&PackageListing>) -> String {
    fn field(hasher: &mut Sha256, text: &str) {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    let mut rows: Vec<(&str, &str, &str)> = listing
        .map(|l| {
            l.versions
                .iter()
                .map(|v| {
                    let v = &v.version;
                    (v.version.as_str(), v.revision.as_str(), v.status.as_str())
                })
                .collect()
        })
        .unwrap_or_default();
    rows.sort_unstable();
    let mut tags: Vec<(&str, &str)> = listing
        .map(|l| {
            l.dist_tags
                .iter()
                .map(|(tag, version)| (tag.as_str(), version.as_str()))
                .collect()
        })
        .unwrap_or_default();
    tags.sort_unstable();
    let mut hasher = Sha256::new();
    hasher.update((rows.len() as u64).to_le_bytes());
    for (version, revision, status) in &rows {
        field(&mut hasher, version);
        field(&mut hasher, revision);
        field(&mut hasher, status);
    }
    hasher.update((tags.len() as u64).to_le_bytes());
    for (tag, version) in &tags {
        field(&mut hasher, tag);
        field(&mut hasher, version);
    }
    let digest = hasher.finalize();
    let hex: String = digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{}-{hex}", rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reliquary_types::OriginRestrictions;

    fn listing(rows: &[(&str, &str, VersionStatus)], tags: &[(&str, &str)]) -> PackageListing {
        let key = npm_key(None, "demo");
        let version =
            |&(version, revision, status): &(&str, &str, VersionStatus)| VersionWithAssets {
                version: PackageVersion {
                    package: key.clone(),
                    version: version.to_owned(),
                    status,
                    revision: revision.to_owned(),
                    published: Timestamp(0),
                    origin: reliquary_types::VersionOrigin {
                        origin_type: reliquary_types::OriginType::Internal,
                        repository: None,
                        external_connection: None,
                    },
                    metadata: reliquary_types::VersionMetadata::default(),
                },
                assets: Vec::new(),
            };
        PackageListing {
            package: reliquary_store::Package {
                key: key.clone(),
                origin: OriginRestrictions::INGESTED_FIRST,
            },
            versions: rows.iter().map(version).collect(),
            dist_tags: tags
                .iter()
                .map(|&(tag, version)| (tag.to_owned(), version.to_owned()))
                .collect(),
        }
    }

    #[test]
    fn packument_rev_follows_every_change_of_the_package() {
        use VersionStatus::{Published, Unlisted};
        let rev = |rows: &[(&str, &str, VersionStatus)], tags: &[(&str, &str)]| {
            packument_rev(Some(&listing(rows, tags)))
        };
        let base = rev(
            &[("1.0.0", "r1", Published), ("1.1.0", "r2", Unlisted)],
            &[("latest", "1.0.0"), ("next", "1.1.0")],
        );
        assert!(base.starts_with("2-") && base.len() == 34, "{base}");
        assert!(base[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{base}");
        // The same state listed in another order.
        assert_eq!(
            base,
            rev(
                &[("1.1.0", "r2", Unlisted), ("1.0.0", "r1", Published)],
                &[("next", "1.1.0"), ("latest", "1.0.0")],
            )
        );
        let changed = [
            (
                "removed",
                rev(&[("1.0.0", "r1", Published)], &[("latest", "1.0.0")]),
            ),
            (
                "added",
                rev(
                    &[
                        ("1.0.0", "r1", Published),
                        ("1.1.0", "r2", Unlisted),
                        ("2.0.0", "r3", Published),
                    ],
                    &[("latest", "1.0.0"), ("next", "1.1.0")],
                ),
            ),
            (
                "status",
                rev(
                    &[("1.0.0", "r1", Published), ("1.1.0", "r2", Published)],
                    &[("latest", "1.0.0"), ("next", "1.1.0")],
                ),
            ),
            (
                "revision",
                rev(
                    &[("1.0.0", "r9", Published), ("1.1.0", "r2", Unlisted)],
                    &[("latest", "1.0.0"), ("next", "1.1.0")],
                ),
            ),
            (
                "tag moved",
                rev(
                    &[("1.0.0", "r1", Published), ("1.1.0", "r2", Unlisted)],
                    &[("latest", "1.1.0"), ("next", "1.1.0")],
                ),
            ),
            (
                "tag removed",
                rev(
                    &[("1.0.0", "r1", Published), ("1.1.0", "r2", Unlisted)],
                    &[("latest", "1.0.0")],
                ),
            ),
            (
                "field boundaries",
                rev(
                    &[("1.0.0r", "1", Published), ("1.1.0", "r2", Unlisted)],
                    &[("latest", "1.0.0"), ("next", "1.1.0")],
                ),
            ),
        ];
        for (what, other) in changed {
            assert_ne!(other, base, "{what}");
        }
        assert!(packument_rev(None).starts_with("0-"));
    }
}
