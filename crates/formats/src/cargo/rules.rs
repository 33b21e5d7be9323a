//! Cargo's rules over the format kit: publishes into single-file versions, index files merged
//! over the upstream graph, `.crate` downloads resolved through upstreams and the
//! `public:crates-io` external connection, yank and unyank as status changes (yanked =
//! Unlisted: not offered to new resolutions, still downloadable for lockfiles).

use std::collections::BTreeMap;
use std::sync::Arc;

use reliquary_core::kit::{ExternalVersions, FormatRules, Ingest, Ingested, MergeSource, Staged};
use reliquary_core::{
    AssetDownload, Caller, Error, FailureCode, PackageRef, Result, Service, VersionSelection,
};
use reliquary_store::VersionWithAssets;
use reliquary_store::{PackageCursor, PackageFilter, PublishAsset, RepositoryKey, ResourceKind};
use reliquary_types::{
    Dependency, ExternalConnection, License, PackageFormat, PackageKey, Timestamp, VersionMetadata,
    VersionStatus,
};

use super::{self as format, CrateContents, IndexLine, NewCrate};

/// Largest index file read from an external registry.
const MAX_REMOTE_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// Largest `config.json` read from an external registry.
const MAX_REMOTE_CONFIG_BYTES: u64 = 64 * 1024;

/// Cargo's rules as the shared operations see them (the defaults).
#[derive(Debug, Clone, Copy, Default)]
pub struct CargoRules;

impl FormatRules for CargoRules {
    fn format(&self) -> PackageFormat {
        PackageFormat::Cargo
    }
}

fn cargo_key(name: &str) -> PackageKey {
    PackageKey {
        format: PackageFormat::Cargo,
        namespace: None,
        name: format::package_name(name),
    }
}

fn not_found(what: &str) -> Error {
    Error::not_found(
        ResourceKind::Package,
        what,
        format!("{what} is not in this registry"),
    )
}

/// The index line kept with a stored version.
fn stored_line(metadata: &VersionMetadata) -> Option<IndexLine> {
    let line = metadata.extra.as_ref()?.get("index")?;
    serde_json::from_value(line.clone()).ok()
}

/// What a version keeps: its index line (yanked cleared, the status says it) and the rest of
/// the metadata ListPackageVersionDependencies and DescribePackageVersion read.
fn version_metadata(
    line: &IndexLine,
    new: Option<&NewCrate>,
    readme: Option<String>,
) -> VersionMetadata {
    let mut line = line.clone();
    line.yanked = false;
    let dependencies = line
        .deps
        .iter()
        .map(|d| Dependency {
            namespace: None,
            package: d.package.clone().unwrap_or_else(|| d.name.clone()),
            dependency_type: Some(d.kind.clone()),
            version_requirement: Some(d.req.clone()),
        })
        .collect();
    VersionMetadata {
        display_name: Some(line.name.clone()),
        summary: new.and_then(|n| n.description.clone()),
        home_page: new.and_then(|n| n.homepage.clone()),
        source_code_repository: new.and_then(|n| n.repository.clone()),
        licenses: new
            .and_then(|n| n.license.clone())
            .map(|name| License {
                name: Some(name),
                url: None,
            })
            .into_iter()
            .collect(),
        dependencies,
        readme,
        extra: Some(serde_json::json!({ "index": line })),
    }
}

/// The `.crate` download URL of a version on an external registry, from its `config.json`'s
/// `dl` (a template with `{crate}`, `{version}`, `{prefix}`, `{lowerprefix}`,
/// `{sha256-checksum}` markers, or a base to which `/{crate}/{version}/download` is added).
fn download_url(dl: &str, line: &IndexLine) -> String {
    let markers = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !markers.iter().any(|m| dl.contains(m)) {
        return format!(
            "{}/{}/{}/download",
            dl.trim_end_matches('/'),
            line.name,
            line.vers
        );
    }
    let prefix = index_prefix(&line.name);
    dl.replace("{crate}", &line.name)
        .replace("{version}", &line.vers)
        .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
        .replace("{prefix}", &prefix)
        .replace("{sha256-checksum}", &line.cksum)
}

/// The directories of a crate's index path, in the name's own case (`{prefix}`).
fn index_prefix(name: &str) -> String {
    let part = |range: std::ops::Range<usize>| name.get(range).unwrap_or_default();
    match name.len() {
        0..=2 => name.len().to_string(),
        3 => format!("3/{}", part(0..1)),
        _ => format!("{}/{}", part(0..2), part(2..4)),
    }
}

/// The `dl` of an external registry's `config.json`.
async fn remote_dl(
    service: &Service,
    connection: ExternalConnection,
) -> std::result::Result<Option<String>, String> {
    let Some(config) = service
        .external_document(
            connection,
            "config.json",
            "application/json",
            MAX_REMOTE_CONFIG_BYTES,
        )
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let config: serde_json::Value =
        serde_json::from_slice(&config.body).map_err(|e| format!("config.json: {e}"))?;
    Ok(config.get("dl").and_then(|d| d.as_str()).map(str::to_owned))
}

/// The lines an external registry's index lists for a crate (fetched, cached and parsed once
/// per fetched copy by the kit); `Ok(None)` when it does not know the crate.
async fn remote_lines(
    service: &Service,
    connection: ExternalConnection,
    name: &str,
) -> std::result::Result<Option<Arc<Vec<IndexLine>>>, String> {
    // Only names that follow the rules leave the server (an index path cannot be escaped).
    if format::check_name(name).is_err() {
        return Ok(None);
    }
    let path = format::index_path(name);
    service
        .external_parsed(
            connection,
            &path,
            "text/plain",
            MAX_REMOTE_INDEX_BYTES,
            |document| Ok(format::parse_index_file(&document.body)),
        )
        .await
}

/// Where Cargo's merged listing and resolution read: stored versions' index lines, and the
/// external registry's index.
struct Lines;

#[async_trait::async_trait]
impl MergeSource for Lines {
    type Version = IndexLine;

    fn stored(&self, _: &RepositoryKey, stored: VersionWithAssets) -> Option<IndexLine> {
        let v = &stored.version;
        let yanked = match v.status {
            VersionStatus::Published => false,
            VersionStatus::Unlisted => true,
            _ => return None,
        };
        let mut line = stored_line(&v.metadata)?;
        line.yanked = yanked;
        Some(line)
    }

    async fn external(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
    ) -> std::result::Result<Option<ExternalVersions<IndexLine>>, String> {
        let Some(lines) = remote_lines(service, connection, &key.name).await? else {
            return Ok(None);
        };
        let versions = lines
            .iter()
            .filter(|l| format::package_name(&l.name) == key.name)
            .map(|l| (l.vers.clone(), l.clone()))
            .collect();
        Ok(Some(ExternalVersions {
            versions,
            dist_tags: Vec::new(),
        }))
    }
}

#[async_trait::async_trait]
impl Ingest for Lines {
    async fn fetch(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
        version: &str,
        asset: &str,
    ) -> Result<Option<Ingested>> {
        if asset != format::crate_filename(&key.name, version) {
            return Ok(None);
        }
        let unavailable = |e: String| {
            tracing::warn!(error.detail = %e, package = %key, "external registry unavailable");
        };
        let line = match remote_lines(service, connection, &key.name).await {
            Ok(Some(lines)) => lines
                .iter()
                .find(|l| l.vers == version && format::package_name(&l.name) == key.name)
                .cloned(),
            Ok(None) => None,
            Err(e) => {
                unavailable(e);
                None
            }
        };
        let Some(line) = line else { return Ok(None) };
        let dl = match remote_dl(service, connection).await {
            Ok(Some(dl)) => dl,
            Ok(None) => return Ok(None),
            Err(e) => {
                unavailable(e);
                return Ok(None);
            }
        };
        let url = download_url(&dl, &line);
        let Some(file) = service
            .fetch_external_file(connection, &url, asset, |hashes| {
                line.cksum.eq_ignore_ascii_case(&hashes.sha256)
            })
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Ingested {
            assets: vec![file],
            metadata: version_metadata(&line, None, None),
        }))
    }
}

/// The key a requested name reads: the name itself (lowercase) or, when the repository holds
/// the crate under another spelling of `-`/`_`, that one.
async fn key_for(service: &Service, repository: &RepositoryKey, name: &str) -> Result<PackageKey> {
    let key = cargo_key(name);
    if service.store().package(repository, &key).await?.is_some() {
        return Ok(key);
    }
    Ok(other_spelling(service, repository, name)
        .await?
        .unwrap_or(key))
}

/// The repository's crate that `name` names under another spelling of `-`/`_`, asked only once
/// the name as given found nothing (reads of the name as published touch no listing).
async fn other_spelling(
    service: &Service,
    repository: &RepositoryKey,
    name: &str,
) -> Result<Option<PackageKey>> {
    if !name.contains(['-', '_']) {
        return Ok(None);
    }
    let key = cargo_key(name);
    Ok(same_crate(service, repository, name)
        .await?
        .filter(|other| *other != key))
}

/// A package of the repository that is `name` under another spelling (case, `-`/`_`).
async fn same_crate(
    service: &Service,
    repository: &RepositoryKey,
    name: &str,
) -> Result<Option<PackageKey>> {
    let lower = format::package_name(name);
    let stem: String = lower
        .chars()
        .take_while(|c| *c != '-' && *c != '_')
        .collect();
    let filter = PackageFilter {
        format: Some(PackageFormat::Cargo),
        name_prefix: Some(stem),
        ..PackageFilter::default()
    };
    let wanted = format::canonical(name);
    let mut after: Option<PackageCursor> = None;
    loop {
        let page = service
            .store()
            .list_packages(repository, &filter, after.as_ref(), 1000)
            .await?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        after = Some(PackageCursor {
            format: last.key.format,
            namespace: String::new(),
            name: last.key.name.clone(),
        });
        if let Some(found) = page
            .into_iter()
            .find(|p| format::canonical(&p.key.name) == wanted)
        {
            return Ok(Some(found.key));
        }
    }
}

/// The crate's index file as the requested repository sees it: one line per version, its own
/// first, then each upstream's (and the external index's) for versions not seen yet.
///
/// # Errors
/// `NotFound` when no repository of the graph lists a version of the crate.
pub async fn index_file(
    service: &Service,
    repository: &RepositoryKey,
    name: &str,
) -> Result<Vec<u8>> {
    let mut merged = service
        .merged_listing(repository, &cargo_key(name), None, false, &Lines)
        .await?;
    if merged.is_none()
        && let Some(other) = other_spelling(service, repository, name).await?
    {
        merged = service
            .merged_listing(repository, &other, None, false, &Lines)
            .await?;
    }
    let Some(merged) = merged.filter(|m| !m.versions.is_empty()) else {
        return Err(not_found(name));
    };
    let mut lines: Vec<&IndexLine> = merged.versions.values().collect();
    lines.sort_by(|a, b| semver_order(&a.vers, &b.vers));
    let mut body = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut body, line).map_err(|e| Error::Internal {
            message: format!("rendering an index line: {e}"),
        })?;
        body.push(b'\n');
    }
    Ok(body)
}

/// Versions in ascending precedence of their numbers (pre-releases and build tags compared as
/// text), so index files read in release order.
fn semver_order(a: &str, b: &str) -> std::cmp::Ordering {
    let numbers = |v: &str| -> Vec<u64> {
        v.split(['-', '+'])
            .next()
            .unwrap_or_default()
            .split('.')
            .map(|n| n.parse().unwrap_or(0))
            .collect()
    };
    numbers(a)
        .cmp(&numbers(b))
        .then_with(|| b.contains('-').cmp(&a.contains('-')))
        .then_with(|| a.cmp(b))
}

/// The checks made before a `.crate` is received: the name must be spelled as the crate's
/// published versions spell it, and must not be another spelling of a crate the repository
/// holds, and the kit's publish checks (publish BLOCK, a version present
/// upstream).
///
/// # Errors
/// `Conflict`, `AccessDenied`.
pub async fn check_new(
    service: &Service,
    repository: &RepositoryKey,
    new: &NewCrate,
) -> Result<()> {
    let key = cargo_key(&new.name);
    let taken = |as_name: &str| {
        Err(Error::conflict(
            ResourceKind::Package,
            new.name.as_str(),
            format!(
                "crate {} is already in this repository as {as_name}; names differing only in case or `-`/`_` are the same crate",
                new.name
            ),
        ))
    };
    match service
        .store()
        .package_listing(repository, &key, None, false)
        .await?
    {
        // Every version of a crate carries one spelling of its name (cargo matches it exactly).
        Some(listing) => {
            let published = listing
                .versions
                .iter()
                .find_map(|v| stored_line(&v.version.metadata))
                .map(|line| line.name);
            if let Some(name) = published
                && name != new.name
            {
                return taken(&name);
            }
        }
        None => {
            if let Some(other) = same_crate(service, repository, &new.name).await? {
                return taken(&other.name);
            }
        }
    }
    service.check_publish(repository, &key, &new.vers).await?;
    Ok(())
}

/// Publishes a received `.crate`: its size must be the one the body announced, its contents
/// must agree with the metadata; then it is committed and the version published (immutable:
/// the same bytes again are accepted, different bytes are a `Conflict`). The staged upload is
/// discarded when anything is refused.
///
/// # Errors
/// `Validation` (size, contents), `Conflict`, `AccessDenied`.
pub async fn publish(
    service: &Service,
    repository: &RepositoryKey,
    new: &NewCrate,
    upload: Staged,
    announced: u64,
) -> Result<()> {
    let contents = match check_crate(service, new, &upload, announced).await {
        Ok(contents) => contents,
        Err(e) => {
            service.discard(upload).await;
            return Err(e);
        }
    };
    let key = cargo_key(&new.name);
    let filename = format::crate_filename(&key.name, &new.vers);
    let asset = service.commit(&upload, &filename).await?;
    let line = format::index_line(new, &asset.hashes.sha256);
    let readme = contents.readme.or_else(|| new.readme.clone());
    service
        .publish_asset(PublishAsset {
            repository: repository.clone(),
            package: key,
            version: new.vers.clone(),
            asset,
            unfinished: false,
            metadata: version_metadata(&line, Some(new), readme),
            now: Timestamp::now(),
            max_assets_per_version: service.config().quotas.assets_per_version,
            append_to_published: false,
            // The same `.crate` again is accepted (C5): a crate's metadata comes from its manifest.
            new_version_only: false,
        })
        .await?;
    Ok(())
}

async fn check_crate(
    service: &Service,
    new: &NewCrate,
    upload: &Staged,
    announced: u64,
) -> Result<CrateContents> {
    if upload.size() != announced {
        return Err(Error::validation(format!(
            "the body ended after {} of the {announced} bytes of the .crate its length prefix announced",
            upload.size()
        )));
    }
    let (name, vers, readme_file) = (new.name.clone(), new.vers.clone(), new.readme_file.clone());
    service
        .inspect_staged(upload, move |reader| {
            format::inspect_crate(reader, &name, &vers, readme_file.as_deref())
        })
        .await?
        .map_err(|e| Error::validation(e.to_string()))
}

/// Yanks (Unlisted) or unyanks (Published) a version of this repository.
///
/// # Errors
/// `NotFound` (no such version here), `Conflict` (a status that cannot change so).
pub async fn set_yanked(
    service: &Service,
    caller: &Caller,
    repository: &RepositoryKey,
    name: &str,
    version: &str,
    yanked: bool,
) -> Result<()> {
    let key = key_for(service, repository, name).await?;
    let Some(current) = service.store().version(repository, &key, version).await? else {
        return Err(not_found(&format!("{name} {version}")));
    };
    let status = current.version.status;
    if !matches!(status, VersionStatus::Published | VersionStatus::Unlisted) {
        return Err(Error::conflict(
            ResourceKind::PackageVersion,
            version,
            format!(
                "{name} {version} is {status}: only Published and Unlisted (yanked) versions are yanked and unyanked"
            ),
        ));
    }
    let package = PackageRef {
        domain: repository.domain.name.clone(),
        domain_owner: Some(repository.domain.owner.clone()),
        repository: repository.name.clone(),
        package: key,
    };
    let selection = VersionSelection {
        versions: vec![version.to_owned()],
        revisions: BTreeMap::new(),
    };
    let target = if yanked {
        VersionStatus::Unlisted
    } else {
        VersionStatus::Published
    };
    let outcome = service
        .update_versions_status(caller, &package, &selection, None, target)
        .await?;
    match outcome.failed.get(version) {
        None => Ok(()),
        Some((FailureCode::NotFound, _)) => Err(not_found(&format!("{name} {version}"))),
        Some((_, message)) => Err(Error::conflict(
            ResourceKind::PackageVersion,
            version,
            message.clone(),
        )),
    }
}

/// A version's `.crate`, resolved by the kit: this repository, its upstreams (retained), then
/// `public:crates-io` (ingested).
///
/// # Errors
/// `NotFound`.
pub async fn download(
    service: &Service,
    repository: &RepositoryKey,
    name: &str,
    version: &str,
) -> Result<AssetDownload> {
    let resolve = |key: PackageKey| async move {
        let filename = format::crate_filename(&key.name, version);
        service
            .resolve_asset(repository, &key, version, &filename, &Lines)
            .await
    };
    let missing = || not_found(&format!("{name} {version}"));
    match resolve(cargo_key(name)).await {
        Err(Error::NotFound { .. }) => match other_spelling(service, repository, name).await? {
            Some(other) => resolve(other).await.map_err(|e| match e {
                Error::NotFound { .. } => missing(),
                other => other,
            }),
            None => Err(missing()),
        },
        found => found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, vers: &str) -> IndexLine {
        IndexLine {
            name: name.to_owned(),
            vers: vers.to_owned(),
            deps: Vec::new(),
            cksum: "abc".to_owned(),
            features: BTreeMap::new(),
            features2: None,
            yanked: false,
            links: None,
            rust_version: None,
            v: None,
        }
    }

    #[test]
    fn download_urls_follow_the_dl_template() {
        let l = line("Serde", "1.0.0");
        assert_eq!(
            download_url("https://static.crates.io/crates", &l),
            "https://static.crates.io/crates/Serde/1.0.0/download"
        );
        assert_eq!(
            download_url(
                "https://x/{lowerprefix}/{crate}-{version}.crate?s={sha256-checksum}",
                &l
            ),
            "https://x/se/rd/Serde-1.0.0.crate?s=abc"
        );
        assert_eq!(
            download_url("https://x/{prefix}/{crate}", &l),
            "https://x/Se/rd/Serde"
        );
        assert_eq!(
            download_url("https://x/{prefix}/{crate}", &line("abc", "1.0.0")),
            "https://x/3/a/abc"
        );
        assert_eq!(
            download_url("https://x/{prefix}/{crate}", &line("ab", "1.0.0")),
            "https://x/2/ab"
        );
    }

    #[test]
    fn versions_sort_by_precedence() {
        let mut v = vec!["1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.9"];
        v.sort_by(|a, b| semver_order(a, b));
        assert_eq!(v, ["0.9.9", "1.2.0-rc.1", "1.2.0", "1.10.0"]);
    }
}
