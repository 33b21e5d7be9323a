//! The metadata store's use-case-shaped traits (`design.md` §3).
//!
//! Each method is one atomic business step: it opens and commits its own transaction, and takes
//! its preconditions as data (limits, expected state). Backends (`reliquary-store-sqlite`,
//! `reliquary-store-postgres`) implement every trait; [`conformance`] is the one suite both run.

use async_trait::async_trait;
use reliquary_types::{
    AccountId, DomainName, MAX_SEARCHED_REPOSITORIES, RepositoryName, Timestamp,
};

#[cfg(feature = "conformance")]
pub mod conformance;
mod packages;
#[cfg(feature = "sql")]
pub mod sql;

pub use packages::{
    CopyItem, CopyPlan, CopyVersions, IngestVersion, Package, PackageCursor, PackageFilter,
    PackageListing, PackageStore, PackageVersion, PublishAsset, Published, VersionAction,
    VersionChange, VersionCursor, VersionFilter, VersionOrder, VersionWithAssets,
};

pub type Result<T> = std::result::Result<T, StoreError>;

/// What went wrong in the store, in the store's vocabulary; core maps it to API errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} not found: {id}")]
    NotFound { kind: ResourceKind, id: String },
    #[error("{kind} already exists: {id}")]
    AlreadyExists { kind: ResourceKind, id: String },
    /// The domain still has repositories.
    #[error("domain {domain} still contains {count} repositories")]
    DomainNotEmpty { domain: String, count: i64 },
    /// The repository is an upstream of other repositories.
    #[error("repository {repository} is an upstream of {downstreams:?}")]
    RepositoryIsUpstream {
        repository: String,
        downstreams: Vec<String>,
    },
    /// An upstream named in a create/update does not exist in the domain.
    #[error("upstream repository not found: {0}")]
    UpstreamNotFound(String),
    /// The update would make the upstream graph cyclic; the cycle is given by name.
    #[error("upstream cycle: {0:?}")]
    UpstreamCycle(Vec<String>),
    /// A count limit passed in by the caller would be exceeded.
    #[error("{kind} quota of {limit} exceeded")]
    QuotaExceeded { kind: ResourceKind, limit: u32 },
    /// The repository already has an external connection (one per repository).
    #[error("repository already has external connection {0}")]
    ExternalConnectionExists(String),
    /// The operation is not allowed by the resource's configuration (e.g. publish BLOCK).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The resource is in a state that forbids the operation (e.g. adding an asset to a
    /// Published version).
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// A concurrent writer got there first; the caller may retry.
    #[error("conflicting concurrent update")]
    Contention,
    /// The database cannot be reached.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("store internal error: {0}")]
    Internal(String),
}

/// The resource types of the model's `ResourceType` enum (and tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Domain,
    Repository,
    Package,
    PackageVersion,
    Asset,
    Tag,
}

impl ResourceKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::Repository => "repository",
            Self::Package => "package",
            Self::PackageVersion => "package-version",
            Self::Asset => "asset",
            Self::Tag => "tag",
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Identifies a domain: its owner account and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainKey {
    pub owner: AccountId,
    pub name: DomainName,
}

/// A repository: its domain and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepositoryKey {
    pub domain: DomainKey,
    pub name: RepositoryName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub key: DomainKey,
    pub encryption_key: String,
    pub created: Timestamp,
    /// Number of repositories, computed on read.
    pub repository_count: i64,
    /// Total bytes of the domain's assets, computed on read (0 until assets exist).
    pub asset_size_bytes: i64,
}

#[derive(Debug, Clone)]
pub struct NewDomain {
    pub key: DomainKey,
    pub encryption_key: String,
    pub created: Timestamp,
    pub tags: Vec<Tag>,
    /// Refuse with `QuotaExceeded` if the owner already has this many domains.
    pub max_domains_per_account: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub domain: DomainKey,
    pub name: RepositoryName,
    pub administrator_account: AccountId,
    pub description: Option<String>,
    /// Ordered: the order is the search priority.
    pub upstreams: Vec<RepositoryName>,
    /// External connection names (`public:npmjs` …); at most one today.
    pub external_connections: Vec<String>,
    pub created: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewRepository {
    pub domain: DomainKey,
    pub name: RepositoryName,
    pub administrator_account: AccountId,
    pub description: Option<String>,
    /// Must all exist in the domain (else `UpstreamNotFound`); the caller checks count and duplicates.
    pub upstreams: Vec<RepositoryName>,
    pub created: Timestamp,
    pub tags: Vec<Tag>,
    /// Refuse with `QuotaExceeded` if the domain already has this many repositories.
    pub max_repositories_per_domain: u32,
}

/// A change to a repository. `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct RepositoryUpdate {
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    /// Replaces the whole list; checked for existence and cycles in the same transaction.
    pub upstreams: Option<Vec<RepositoryName>>,
}

/// Which repositories a listing returns.
#[derive(Debug, Clone, Default)]
pub struct RepositoryFilter {
    /// Only repositories of this domain.
    pub domain: Option<DomainKey>,
    /// Only repositories administered by this account.
    pub administrator: Option<AccountId>,
    /// Only names starting with this prefix.
    pub name_prefix: Option<String>,
}

/// The keyset position after which a repository listing continues. Listings are ordered by
/// (name, domain owner, domain name), so a cursor stays correct while repositories are added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryCursor {
    pub name: String,
    pub domain_owner: String,
    pub domain_name: String,
}

/// How many upstream links [`RepositoryStore::upstream_closure`] follows from its start. A
/// repository that [`reliquary_types::search_order`] reaches is at most this many links away: it
/// stops at [`MAX_SEARCHED_REPOSITORIES`], and the path that led to any repository it takes runs
/// through repositories it took before.
pub const UPSTREAM_CLOSURE_DEPTH: usize = MAX_SEARCHED_REPOSITORIES - 1;

/// A taggable resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaggedResource {
    Domain(DomainKey),
    Repository(DomainKey, RepositoryName),
}

#[async_trait]
pub trait DomainStore: Send + Sync {
    /// Creates the domain with its tags. `AlreadyExists` if the owner has a domain of that name.
    async fn create_domain(&self, domain: NewDomain) -> Result<Domain>;
    async fn domain(&self, key: &DomainKey) -> Result<Option<Domain>>;
    /// The owner's domains ordered by name, strictly after `after`, at most `limit`.
    async fn list_domains(
        &self,
        owner: &AccountId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Domain>>;
    /// Deletes the domain and its tags. `NotFound`, or `DomainNotEmpty` while it has repositories.
    async fn delete_domain(&self, key: &DomainKey) -> Result<Domain>;
}

#[async_trait]
pub trait RepositoryStore: Send + Sync {
    /// `NotFound(domain)`, `AlreadyExists`, `UpstreamNotFound`, `QuotaExceeded`.
    async fn create_repository(&self, repository: NewRepository) -> Result<Repository>;
    async fn repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Option<Repository>>;
    /// `NotFound`, `UpstreamNotFound`, `UpstreamCycle`.
    async fn update_repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        update: RepositoryUpdate,
    ) -> Result<Repository>;
    /// Deletes the repository, its tags and (later) its contents.
    /// `NotFound`, or `RepositoryIsUpstream` while another repository lists it as an upstream.
    async fn delete_repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Repository>;
    /// The repository `start` and the repositories reachable from it through upstream links,
    /// transitively, each once and in no particular order: the records [`Self::repository`]
    /// returns. Repositories more than [`UPSTREAM_CLOSURE_DEPTH`] links away are left out (no
    /// upstream search reaches them). Empty when the domain or the repository does not exist.
    ///
    /// One read, whose cost grows with the repositories reached, never with the domain.
    async fn upstream_closure(&self, start: &RepositoryKey) -> Result<Vec<Repository>>;
    /// Ordered by (name, domain owner, domain name), strictly after `after`, at most `limit`.
    async fn list_repositories(
        &self,
        filter: &RepositoryFilter,
        after: Option<&RepositoryCursor>,
        limit: u32,
    ) -> Result<Vec<Repository>>;
    /// Adds an external connection. `NotFound`, or `ExternalConnectionExists` if it has one.
    async fn associate_external_connection(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository>;
    /// Removes an external connection. `NotFound` (kind `Repository`) when the repository or the
    /// connection is absent; the id then names what was missing.
    async fn disassociate_external_connection(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository>;
}

#[async_trait]
pub trait TagStore: Send + Sync {
    /// Tags ordered by key. `NotFound` when the resource does not exist.
    async fn tags(&self, resource: &TaggedResource) -> Result<Vec<Tag>>;
    /// Adds or overwrites tags. `NotFound`; `QuotaExceeded(Tag)` if the resource would end up
    /// with more than `max_tags` tags (then nothing changes).
    async fn tag_resource(
        &self,
        resource: &TaggedResource,
        tags: &[Tag],
        max_tags: u32,
    ) -> Result<()>;
    /// Removes the keys that exist; absent keys are ignored. `NotFound` for a missing resource.
    async fn untag_resource(&self, resource: &TaggedResource, keys: &[String]) -> Result<()>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The server's secret signing key for `purpose` (e.g. `"auth-token"`): stored on first use
    /// (`candidate` is inserted if none exists), the stored one returned ever after, so every node
    /// sharing the database signs and verifies with the same key.
    async fn signing_key(&self, purpose: &str, candidate: &[u8]) -> Result<Vec<u8>>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store: DomainStore + RepositoryStore + TagStore + KeyStore + PackageStore {
    /// Cheap liveness check for `/health`.
    async fn ping(&self) -> Result<()>;
    /// The backend's name for logs ("sqlite", "postgres").
    fn backend(&self) -> &'static str;
    /// A counter that moves whenever a write may have changed what a read returns: bumped after
    /// every committed write of this process, and (PostgreSQL, once [`Store::watch_changes`] runs)
    /// of any process sharing the database. A cache stamped with its value before a read stays
    /// valid while it does not move.
    fn changes(&self) -> u64;
    /// Starts following other processes' writes (PostgreSQL `LISTEN`); a no-op where the process
    /// is the only writer. Called once by the server.
    ///
    /// # Errors
    /// The listener cannot connect.
    async fn watch_changes(&self) -> Result<()> {
        Ok(())
    }
    /// The right to run a garbage sweep, held until the returned lease is dropped: at most one
    /// sweep at a time among every process sharing the database (PostgreSQL: a session advisory
    /// lock; SQLite: within this process). `None` while another sweep holds it.
    ///
    /// # Errors
    /// The database cannot be reached.
    async fn try_sweep_lease(&self) -> Result<Option<SweepLease>>;
}

/// Held while a garbage sweep runs; dropping it lets the next sweep start.
pub struct SweepLease {
    /// What holds the right (a lock guard, a database session); released when dropped.
    _held: Box<dyn Send + Sync>,
}

impl SweepLease {
    /// A lease that ends when `held` is dropped.
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        Self {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for SweepLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SweepLease")
    }
}
