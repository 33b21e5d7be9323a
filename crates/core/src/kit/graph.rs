//! A repository's upstream graph and a package's merged listing over it (`spec/digest.md`
//! §4.3): the repository itself first, then its upstreams depth-first in list order (at most 25),
//! each with the external connection it has for the package's format.
//!
//! One rule for every format: a package whose origin configuration in the requested repository
//! blocks upstreams (`upstream: BLOCK`) lists and serves nothing from upstream repositories or
//! external connections, and nothing is fetched for it. Likewise an upstream's external
//! connection is not used for a package whose origin configuration in that upstream blocks
//! upstreams: the store refuses to ingest there, so it is neither listed nor fetched.

use std::collections::BTreeMap;

use reliquary_store::{Package, PackageListing, Repository, RepositoryKey, VersionWithAssets};
use reliquary_types::{Allow, ExternalConnection, PackageKey, VersionStatus, search_order};

use crate::Result;
use crate::service::Service;

/// One repository of a search order, with its external connection for the format asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchStop {
    pub repository: RepositoryKey,
    pub connection: Option<ExternalConnection>,
}

/// A package's versions as a repository sees them through its upstream graph.
#[derive(Debug, Clone)]
pub struct Merged<V> {
    /// Version → what the format keeps of it, from the first repository (or connection) of the
    /// search order that has it.
    pub versions: BTreeMap<String, V>,
    /// npm dist-tags: an upstream's tag wins over a downstream one of the same name.
    pub dist_tags: BTreeMap<String, String>,
    /// The requested repository's own record of the package, if it has one.
    pub own: Option<Package>,
}

/// What a format reads of one version, from the store or from its external registry.
#[async_trait::async_trait]
pub trait MergeSource: Sync {
    /// What the format keeps of one version.
    type Version: Send;

    /// A stored version of `repository`, or `None` to leave it out (a status the format does
    /// not show).
    fn stored(
        &self,
        repository: &RepositoryKey,
        version: VersionWithAssets,
    ) -> Option<Self::Version>;

    /// The versions (and dist-tags) the registry behind `connection` lists for the package;
    /// `Ok(None)` when it does not know the package.
    ///
    /// # Errors
    /// The registry's document cannot be read; the merge logs it and goes on.
    async fn external(
        &self,
        service: &Service,
        connection: ExternalConnection,
        key: &PackageKey,
    ) -> std::result::Result<Option<ExternalVersions<Self::Version>>, String>;
}

/// What an external registry lists of a package.
#[derive(Debug)]
pub struct ExternalVersions<V> {
    pub versions: Vec<(String, V)>,
    pub dist_tags: Vec<(String, String)>,
}

pub(crate) fn repository_key_of(repository: &Repository) -> RepositoryKey {
    RepositoryKey {
        domain: repository.domain.clone(),
        name: repository.name.clone(),
    }
}

impl Service {
    /// The records of the repository and its upstreams, in search order (depth-first in list
    /// order, at most 25): one query (`upstream_closure`), whatever the size of the domain.
    ///
    /// # Errors
    /// `NotFound` (domain, repository).
    pub async fn upstream_graph(&self, start: &RepositoryKey) -> Result<Vec<Repository>> {
        let mut closure = self.store().upstream_closure(start).await?;
        if closure.is_empty() {
            // `NotFound` for whichever of the domain and the repository is missing. Found after
            // all, it was created since: read its graph again (gone again, it is searched alone).
            let first = self
                .describe_repository_by_key(&start.domain, &start.name)
                .await?;
            closure = self.store().upstream_closure(start).await?;
            if closure.is_empty() {
                closure.push(first);
            }
        }
        if let [only] = closure.as_slice()
            && only.upstreams.is_empty()
        {
            return Ok(closure);
        }
        let mut records: BTreeMap<String, Repository> = closure
            .into_iter()
            .map(|repository| (repository.name.to_string(), repository))
            .collect();
        let graph: BTreeMap<String, Vec<String>> = records
            .iter()
            .map(|(name, repository)| {
                (
                    name.clone(),
                    repository
                        .upstreams
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                )
            })
            .collect();
        Ok(search_order(&graph, start.name.as_str())
            .into_iter()
            .filter_map(|name| records.remove(&name))
            .collect())
    }

    /// The search order of `start` for packages of `key`'s format: each repository with the
    /// external connection it has for that format.
    ///
    /// # Errors
    /// `NotFound` (domain, repository).
    pub async fn search_order(
        &self,
        start: &RepositoryKey,
        key: &PackageKey,
    ) -> Result<Vec<SearchStop>> {
        Ok(self
            .upstream_graph(start)
            .await?
            .iter()
            .map(|repository| SearchStop {
                repository: repository_key_of(repository),
                connection: repository
                    .external_connections
                    .iter()
                    .filter_map(|c| ExternalConnection::parse(c))
                    .find(|c| c.format() == key.format),
            })
            .collect())
    }

    /// Whether a version of the package is stored in an upstream repository of `start`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn version_in_upstream(
        &self,
        start: &RepositoryKey,
        key: &PackageKey,
        version: &str,
    ) -> Result<bool> {
        for stop in self.search_order(start, key).await?.into_iter().skip(1) {
            if self
                .store()
                .version(&stop.repository, key, version)
                .await?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The package as `start` sees it: its own versions, then each upstream's and external
    /// connection's versions not seen yet, in search order (the upstream BLOCK rule applies).
    /// `None` when no repository or registry of the graph knows the package.
    ///
    /// # Errors
    /// `NotFound` (domain, repository), store failures.
    pub async fn merged_listing<S: MergeSource>(
        &self,
        start: &RepositoryKey,
        key: &PackageKey,
        status: Option<VersionStatus>,
        with_assets: bool,
        source: &S,
    ) -> Result<Option<Merged<S::Version>>> {
        let own = self
            .store()
            .package_listing(start, key, status, with_assets)
            .await?;
        let blocked = own
            .as_ref()
            .is_some_and(|l| l.package.origin.upstream == Allow::Block);
        let mut merged = Merged {
            versions: BTreeMap::new(),
            dist_tags: BTreeMap::new(),
            own: None,
        };
        let mut found = false;
        if let Some(listing) = own {
            found = true;
            merged.own = Some(listing.package.clone());
            merge_stored(&mut merged, start, listing, source);
        }
        if !blocked {
            for (index, stop) in self.search_order(start, key).await?.into_iter().enumerate() {
                // An upstream whose own package blocks upstreams cannot ingest from its external
                // connection (the store refuses), so that registry's versions are not offered:
                // they would be listed, then 404 (`resolve::ingest` fetches nothing for it).
                let mut connection = stop.connection;
                if index > 0
                    && let Some(listing) = self
                        .store()
                        .package_listing(&stop.repository, key, status, with_assets)
                        .await?
                {
                    found = true;
                    if listing.package.origin.upstream == Allow::Block {
                        connection = None;
                    }
                    merge_stored(&mut merged, &stop.repository, listing, source);
                }
                if let Some(connection) = connection {
                    match source.external(self, connection, key).await {
                        Ok(Some(external)) => {
                            found = true;
                            for (version, value) in external.versions {
                                merged.versions.entry(version).or_insert(value);
                            }
                            merged.dist_tags.extend(external.dist_tags);
                        }
                        Ok(None) => {}
                        Err(detail) => {
                            tracing::warn!(error.detail = %detail, connection = connection.name(), package = %key, "external registry unavailable");
                        }
                    }
                }
            }
        }
        Ok(found.then_some(merged))
    }
}

fn merge_stored<S: MergeSource>(
    merged: &mut Merged<S::Version>,
    repository: &RepositoryKey,
    listing: PackageListing,
    source: &S,
) {
    for version in listing.versions {
        if merged.versions.contains_key(&version.version.version) {
            continue;
        }
        let name = version.version.version.clone();
        if let Some(value) = source.stored(repository, version) {
            merged.versions.insert(name, value);
        }
    }
    merged.dist_tags.extend(listing.dist_tags);
}
