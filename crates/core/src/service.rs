use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rand::RngCore as _;
use reliquary_store::{
    Domain, DomainKey, NewDomain, NewRepository, Repository, RepositoryCursor, RepositoryFilter,
    RepositoryUpdate, ResourceKind, Store, Tag, TaggedResource,
};
use reliquary_types::{
    AccountId, DomainName, ExternalConnection, MAX_DIRECT_UPSTREAMS, PackageFormat, RepositoryName,
    Timestamp,
};

use reliquary_blob::BlobStore;

use crate::kit::{DocumentCache, ExternalRegistry, FormatRules, HotPath, NoExternalRegistry};
use crate::token::AuthToken;
use crate::{Error, PageToken, Result};

/// Per-account and per-resource limits (`spec/digest.md` §6); AWS's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub domains_per_account: u32,
    pub repositories_per_domain: u32,
    pub tags_per_resource: u32,
    pub assets_per_version: u32,
    pub asset_size_bytes: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            domains_per_account: 10,
            repositories_per_domain: 1000,
            tags_per_resource: 50,
            assets_per_version: 150,
            asset_size_bytes: 5 * 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The region written into ARNs.
    pub region: String,
    /// Base URL of the package endpoints, without a trailing slash.
    pub public_url: String,
    pub quotas: Quotas,
    /// How long a document fetched from an external registry is served before it is
    /// revalidated.
    pub external_document_max_age: std::time::Duration,
}

/// The authenticated principal a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: AccountId,
    pub access_key_id: String,
}

/// One page of a listing; `next` is the token for the following page, absent on the last.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// An authorization token and its expiry (epoch seconds).
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub token: String,
    pub expires: i64,
}

/// Which repositories ListRepositories / ListRepositoriesInDomain return.
#[derive(Debug, Clone, Default)]
pub struct RepositoryListing {
    pub domain: Option<(DomainName, Option<AccountId>)>,
    pub administrator: Option<AccountId>,
    pub prefix: Option<String>,
}

/// Default page size of every List operation (AWS documents 50 for ListPackageVersions only).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// GetAuthorizationToken's default and maximum lifetime: 12 hours.
pub const MAX_TOKEN_SECONDS: i64 = 43_200;
const MIN_TOKEN_SECONDS: i64 = 900;
/// About this much memory holds external registries' documents and their parsed forms (each
/// counted as three times its bytes: some 85 MiB of documents).
const DOCUMENT_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// The CodeArtifact operations, over a metadata store.
pub struct Service {
    store: Arc<dyn Store>,
    externals: Arc<dyn ExternalRegistry>,
    documents: DocumentCache,
    pub(crate) hot: HotPath,
    formats: BTreeMap<PackageFormat, Arc<dyn FormatRules>>,
    blobs: BlobStore,
    config: Config,
    token_key: Vec<u8>,
    principals: Option<PrincipalCheck>,
    pages: PageToken,
}

/// Whether `(account, access key id)` is a principal of this server now: a token minted by a
/// principal that is gone (credentials rotated or removed) is refused.
pub type PrincipalCheck = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// How far past the longest lifetime a token's expiry may lie (clock skew between nodes).
const TOKEN_CLOCK_SKEW_SECONDS: i64 = 300;

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("backend", &self.store.backend())
            .field("config", &self.config)
            .finish()
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

impl Service {
    /// Loads (or on first start stores) the server's signing keys.
    ///
    /// # Errors
    /// The store cannot be reached.
    pub async fn new(store: Arc<dyn Store>, blobs: BlobStore, config: Config) -> Result<Self> {
        let token_key = store.signing_key("auth-token", &random_key()).await?;
        let page_key = store.signing_key("page-token", &random_key()).await?;
        Ok(Self {
            store,
            externals: Arc::new(NoExternalRegistry),
            documents: DocumentCache::new(config.external_document_max_age, DOCUMENT_CACHE_BYTES),
            hot: HotPath::new(config.external_document_max_age),
            formats: BTreeMap::new(),
            blobs,
            config,
            token_key,
            principals: None,
            pages: PageToken::new(page_key),
        })
    }

    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Uses `externals` to reach public registries through external connections.
    #[must_use]
    pub fn with_external_registry(mut self, externals: Arc<dyn ExternalRegistry>) -> Self {
        self.externals = externals;
        self
    }

    /// Checks, for every token, that the principal which minted it still exists.
    #[must_use]
    pub fn with_principals(mut self, principals: PrincipalCheck) -> Self {
        self.principals = Some(principals);
        self
    }

    /// Registers a package format's rules (see `kit`).
    #[must_use]
    pub fn with_format(mut self, rules: Arc<dyn FormatRules>) -> Self {
        self.formats.insert(rules.format(), rules);
        self
    }

    /// Whether packages of `format` carry dist-tags (a registered format's rule).
    pub(crate) fn has_dist_tags(&self, format: PackageFormat) -> bool {
        self.formats.get(&format).is_some_and(|r| r.dist_tags())
    }

    pub(crate) fn externals(&self) -> &dyn ExternalRegistry {
        &*self.externals
    }

    pub(crate) fn documents(&self) -> &DocumentCache {
        &self.documents
    }

    /// The metadata store, for the formats' own reads and writes.
    #[must_use]
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub(crate) fn pages(&self) -> &PageToken {
        &self.pages
    }

    /// `/health`: is the store reachable?
    ///
    /// # Errors
    /// The store cannot be reached.
    pub async fn ping(&self) -> Result<()> {
        self.ping_store().await?;
        self.ping_blobs().await
    }

    /// Whether the metadata store answers.
    ///
    /// # Errors
    /// It cannot be reached.
    pub async fn ping_store(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Whether the blob store answers.
    ///
    /// # Errors
    /// It cannot be reached.
    pub async fn ping_blobs(&self) -> Result<()> {
        self.blobs.ping().await.map_err(|e| {
            tracing::error!(error.detail = %e, "blob store unavailable");
            Error::Unavailable {
                message: "The blob store is unavailable".to_owned(),
            }
        })
    }

    // ---- ARNs -------------------------------------------------------------------------------

    #[must_use]
    pub fn domain_arn(&self, key: &DomainKey) -> String {
        format!(
            "arn:aws:codeartifact:{}:{}:domain/{}",
            self.config.region, key.owner, key.name
        )
    }

    #[must_use]
    pub fn repository_arn(&self, domain: &DomainKey, name: &RepositoryName) -> String {
        format!(
            "arn:aws:codeartifact:{}:{}:repository/{}/{}",
            self.config.region, domain.owner, domain.name, name
        )
    }

    #[must_use]
    pub fn default_encryption_key(&self, account: &AccountId) -> String {
        format!(
            "arn:aws:kms:{}:{account}:alias/aws/codeartifact",
            self.config.region
        )
    }

    fn domain_key(caller: &Caller, name: DomainName, owner: Option<AccountId>) -> DomainKey {
        DomainKey {
            owner: owner.unwrap_or_else(|| caller.account.clone()),
            name,
        }
    }

    async fn existing_domain(&self, key: &DomainKey) -> Result<Domain> {
        self.store
            .domain(key)
            .await?
            .ok_or_else(|| domain_not_found(key))
    }

    // ---- Domains ----------------------------------------------------------------------------

    /// # Errors
    /// `Conflict` if it exists, `QuotaExceeded` past the domain quota.
    pub async fn create_domain(
        &self,
        caller: &Caller,
        name: DomainName,
        encryption_key: Option<String>,
        tags: Vec<Tag>,
    ) -> Result<Domain> {
        check_unique_tag_keys(&tags)?;
        check_tag_count(tags.len(), self.config.quotas.tags_per_resource)?;
        let key = DomainKey {
            owner: caller.account.clone(),
            name,
        };
        let encryption_key =
            encryption_key.unwrap_or_else(|| self.default_encryption_key(&caller.account));
        Ok(self
            .store
            .create_domain(NewDomain {
                key,
                encryption_key,
                created: Timestamp::now(),
                tags,
                max_domains_per_account: self.config.quotas.domains_per_account,
            })
            .await?)
    }

    /// # Errors
    /// `NotFound`.
    pub async fn describe_domain(
        &self,
        caller: &Caller,
        name: DomainName,
        owner: Option<AccountId>,
    ) -> Result<Domain> {
        self.existing_domain(&Self::domain_key(caller, name, owner))
            .await
    }

    /// # Errors
    /// `NotFound`, or `Conflict` while the domain has repositories.
    pub async fn delete_domain(
        &self,
        caller: &Caller,
        name: DomainName,
        owner: Option<AccountId>,
    ) -> Result<Domain> {
        Ok(self
            .store
            .delete_domain(&Self::domain_key(caller, name, owner))
            .await?)
    }

    /// The caller's domains, by name.
    ///
    /// # Errors
    /// An invalid token.
    pub async fn list_domains(
        &self,
        caller: &Caller,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> Result<Page<Domain>> {
        const OP: &str = "ListDomains";
        let after: Option<String> = next_token.map(|t| self.pages.decode(OP, t)).transpose()?;
        let limit = page_size(max_results);
        let mut items = self
            .store
            .list_domains(&caller.account, after.as_deref(), limit + 1)
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|d| self.pages.encode(OP, &d.key.name.as_str()))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    // ---- Repositories -------------------------------------------------------------------------

    /// # Errors
    /// `NotFound` (domain or an upstream), `Conflict`, `Validation`, `QuotaExceeded`.
    #[expect(clippy::too_many_arguments, reason = "one argument per request member")]
    pub async fn create_repository(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        name: RepositoryName,
        description: Option<String>,
        upstreams: Vec<RepositoryName>,
        tags: Vec<Tag>,
    ) -> Result<Repository> {
        check_upstreams(&name, &upstreams)?;
        check_unique_tag_keys(&tags)?;
        check_tag_count(tags.len(), self.config.quotas.tags_per_resource)?;
        let domain = Self::domain_key(caller, domain, owner);
        Ok(self
            .store
            .create_repository(NewRepository {
                domain,
                name,
                administrator_account: caller.account.clone(),
                description,
                upstreams,
                created: Timestamp::now(),
                tags,
                max_repositories_per_domain: self.config.quotas.repositories_per_domain,
            })
            .await?)
    }

    /// # Errors
    /// `NotFound` for the domain or the repository.
    pub async fn describe_repository(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        name: &RepositoryName,
    ) -> Result<Repository> {
        let domain = Self::domain_key(caller, domain, owner);
        self.existing_repository(&domain, name).await
    }

    pub(crate) async fn describe_repository_by_key(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Repository> {
        self.existing_repository(domain, name).await
    }

    async fn existing_repository(
        &self,
        domain: &DomainKey,
        name: &RepositoryName,
    ) -> Result<Repository> {
        if let Some(repository) = self.store.repository(domain, name).await? {
            return Ok(repository);
        }
        self.existing_domain(domain).await?;
        Err(repository_not_found(name))
    }

    /// # Errors
    /// `NotFound` (domain, repository or an upstream), `Validation` (cycle, self, duplicates),
    /// `QuotaExceeded` (more than ten upstreams).
    pub async fn update_repository(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        name: &RepositoryName,
        update: RepositoryUpdate,
    ) -> Result<Repository> {
        if let Some(upstreams) = &update.upstreams {
            check_upstreams(name, upstreams)?;
        }
        let domain = Self::domain_key(caller, domain, owner);
        self.existing_repository(&domain, name).await?;
        Ok(self.store.update_repository(&domain, name, update).await?)
    }

    /// # Errors
    /// `NotFound`, or `Conflict` while it is another repository's upstream.
    pub async fn delete_repository(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        name: &RepositoryName,
    ) -> Result<Repository> {
        let domain = Self::domain_key(caller, domain, owner);
        self.existing_repository(&domain, name).await?;
        Ok(self.store.delete_repository(&domain, name).await?)
    }

    /// ListRepositories (no domain: every repository the caller administers) and
    /// ListRepositoriesInDomain (one domain, optionally filtered by administrator).
    ///
    /// # Errors
    /// `NotFound` for a missing domain, `Validation` for an invalid token.
    pub async fn list_repositories(
        &self,
        caller: &Caller,
        listing: RepositoryListing,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> Result<Page<Repository>> {
        let (op, filter) = match listing.domain {
            Some((name, owner)) => {
                let key = Self::domain_key(caller, name, owner);
                self.existing_domain(&key).await?;
                let filter = RepositoryFilter {
                    domain: Some(key),
                    administrator: listing.administrator,
                    name_prefix: listing.prefix,
                };
                ("ListRepositoriesInDomain", filter)
            }
            None => {
                let filter = RepositoryFilter {
                    domain: None,
                    administrator: Some(caller.account.clone()),
                    name_prefix: listing.prefix,
                };
                ("ListRepositories", filter)
            }
        };
        let after: Option<(String, String, String)> =
            next_token.map(|t| self.pages.decode(op, t)).transpose()?;
        let after = after.map(|(name, domain_owner, domain_name)| RepositoryCursor {
            name,
            domain_owner,
            domain_name,
        });
        let limit = page_size(max_results);
        let mut items = self
            .store
            .list_repositories(&filter, after.as_ref(), limit + 1)
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|r| {
                self.pages.encode(
                    op,
                    &(
                        r.name.as_str(),
                        r.domain.owner.as_str(),
                        r.domain.name.as_str(),
                    ),
                )
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// # Errors
    /// `Validation` for an unknown connection name, `NotFound`, `Conflict` if it has one.
    pub async fn associate_external_connection(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository> {
        let connection = parse_external_connection(connection)?;
        let domain = Self::domain_key(caller, domain, owner);
        self.existing_repository(&domain, name).await?;
        Ok(self
            .store
            .associate_external_connection(&domain, name, connection.name())
            .await?)
    }

    /// # Errors
    /// `Validation` for an unknown connection name, `NotFound` for the repository or connection.
    pub async fn disassociate_external_connection(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        name: &RepositoryName,
        connection: &str,
    ) -> Result<Repository> {
        let connection = parse_external_connection(connection)?;
        let domain = Self::domain_key(caller, domain, owner);
        let repository = self.existing_repository(&domain, name).await?;
        if !repository
            .external_connections
            .iter()
            .any(|c| c == connection.name())
        {
            return Err(Error::not_found(
                ResourceKind::Repository,
                connection.name(),
                format!(
                    "Repository {name} has no external connection {}",
                    connection.name()
                ),
            ));
        }
        Ok(self
            .store
            .disassociate_external_connection(&domain, name, connection.name())
            .await?)
    }

    /// `{public-url}/{format}/d/{domain}-{owner}/{repo}/` (`design.md` §1.2).
    ///
    /// # Errors
    /// `NotFound` for the domain or repository.
    pub async fn repository_endpoint(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        name: &RepositoryName,
        format: PackageFormat,
    ) -> Result<String> {
        let domain = Self::domain_key(caller, domain, owner);
        self.existing_repository(&domain, name).await?;
        Ok(format!(
            "{}/{format}/d/{}-{}/{name}/",
            self.config.public_url, domain.name, domain.owner
        ))
    }

    // ---- Tokens -------------------------------------------------------------------------------

    /// # Errors
    /// `Validation` for a duration of 1–899 s, `NotFound` for the domain.
    pub async fn authorization_token(
        &self,
        caller: &Caller,
        domain: DomainName,
        owner: Option<AccountId>,
        duration_seconds: Option<i64>,
        now_seconds: i64,
    ) -> Result<TokenGrant> {
        let seconds = match duration_seconds {
            None | Some(0) => MAX_TOKEN_SECONDS,
            Some(s) if (MIN_TOKEN_SECONDS..=MAX_TOKEN_SECONDS).contains(&s) => s,
            Some(s) => {
                return Err(Error::validation(format!(
                    "durationSeconds must be 0 or between {MIN_TOKEN_SECONDS} and {MAX_TOKEN_SECONDS}, got {s}"
                )));
            }
        };
        let key = Self::domain_key(caller, domain, owner);
        self.existing_domain(&key).await?;
        let expires = now_seconds + seconds;
        let claims = AuthToken {
            account: caller.account.to_string(),
            principal: caller.access_key_id.clone(),
            domain_owner: key.owner.to_string(),
            domain: key.name.to_string(),
            expires,
        };
        Ok(TokenGrant {
            token: claims.sign(&self.token_key),
            expires,
        })
    }

    /// Checks a package-endpoint token: its signature, its expiry (passed, or further ahead than
    /// the longest lifetime GetAuthorizationToken grants), and that its principal still exists.
    ///
    /// # Errors
    /// The token is forged, for another server, expired, outlives the maximum lifetime, or its
    /// principal is gone.
    pub fn verify_token(
        &self,
        token: &str,
        now_seconds: i64,
    ) -> std::result::Result<AuthToken, crate::TokenError> {
        let claims = AuthToken::verify(token, &self.token_key, now_seconds)?;
        if claims.expires - now_seconds > MAX_TOKEN_SECONDS + TOKEN_CLOCK_SKEW_SECONDS {
            return Err(crate::TokenError::Invalid);
        }
        if let Some(exists) = &self.principals
            && !exists(&claims.account, &claims.principal)
        {
            return Err(crate::TokenError::UnknownPrincipal);
        }
        Ok(claims)
    }

    // ---- Tags ---------------------------------------------------------------------------------

    /// Resolves a domain or repository ARN of this server to the resource it names.
    fn tagged_resource(&self, arn: &str) -> Result<TaggedResource> {
        let malformed = || Error::validation(format!("Invalid ARN: {arn}"));
        let rest = arn
            .strip_prefix("arn:aws:codeartifact:")
            .ok_or_else(malformed)?;
        let mut parts = rest.splitn(3, ':');
        let (Some(region), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let owner = AccountId::parse(account).map_err(|_| malformed())?;
        let not_found = || Error::NotFound {
            resource_type: None,
            resource_id: Some(arn.to_owned()),
            message: format!("Resource {arn} not found"),
        };
        let segments: Vec<&str> = resource.split('/').collect();
        let resource = match segments.as_slice() {
            ["domain", domain] => {
                let name = DomainName::parse(domain).map_err(|_| malformed())?;
                TaggedResource::Domain(DomainKey { owner, name })
            }
            ["repository", domain, repository] => {
                let name = DomainName::parse(domain).map_err(|_| malformed())?;
                let repository = RepositoryName::parse(repository).map_err(|_| malformed())?;
                TaggedResource::Repository(DomainKey { owner, name }, repository)
            }
            ["package-group", ..] | ["package", ..] => return Err(not_found()),
            _ => return Err(malformed()),
        };
        if region != self.config.region {
            return Err(not_found());
        }
        Ok(resource)
    }

    fn with_resource<T>(arn: &str, result: reliquary_store::Result<T>) -> Result<T> {
        result.map_err(|e| match e {
            reliquary_store::StoreError::NotFound { .. } => Error::NotFound {
                resource_type: None,
                resource_id: Some(arn.to_owned()),
                message: format!("Resource {arn} not found"),
            },
            other => other.into(),
        })
    }

    /// # Errors
    /// `Validation` (malformed ARN), `NotFound`.
    pub async fn list_tags(&self, arn: &str) -> Result<Vec<Tag>> {
        let resource = self.tagged_resource(arn)?;
        Self::with_resource(arn, self.store.tags(&resource).await)
    }

    /// # Errors
    /// `Validation`, `NotFound`, `QuotaExceeded` past the tags-per-resource quota.
    pub async fn tag_resource(&self, arn: &str, tags: Vec<Tag>) -> Result<()> {
        check_unique_tag_keys(&tags)?;
        let resource = self.tagged_resource(arn)?;
        let limit = self.config.quotas.tags_per_resource;
        let result = self.store.tag_resource(&resource, &tags, limit).await;
        if let Err(reliquary_store::StoreError::QuotaExceeded { limit, .. }) = result {
            // The model's ResourceType has no `tag`: name the resource that is full of tags.
            let (resource_type, resource_id) = match &resource {
                TaggedResource::Domain(key) => ("domain", key.name.to_string()),
                TaggedResource::Repository(_, name) => ("repository", name.to_string()),
            };
            return Err(Error::QuotaExceeded {
                resource_type: Some(resource_type),
                resource_id: Some(resource_id),
                message: format!("The resource {arn} already has the most tags allowed, {limit}"),
            });
        }
        Self::with_resource(arn, result)
    }

    /// # Errors
    /// `Validation`, `NotFound`.
    pub async fn untag_resource(&self, arn: &str, keys: Vec<String>) -> Result<()> {
        let resource = self.tagged_resource(arn)?;
        Self::with_resource(arn, self.store.untag_resource(&resource, &keys).await)
    }
}

pub(crate) fn page_size(max_results: Option<i32>) -> u32 {
    max_results
        .and_then(|m| u32::try_from(m).ok())
        .filter(|m| *m > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
}

fn domain_not_found(key: &DomainKey) -> Error {
    Error::not_found(
        ResourceKind::Domain,
        key.name.as_str(),
        format!("Domain {} not found", key.name),
    )
}

fn repository_not_found(name: &RepositoryName) -> Error {
    Error::not_found(
        ResourceKind::Repository,
        name.as_str(),
        format!("Repository {name} not found"),
    )
}

fn parse_external_connection(name: &str) -> Result<ExternalConnection> {
    ExternalConnection::parse(name).ok_or_else(|| {
        let known: Vec<&str> = ExternalConnection::ALL.iter().map(|c| c.name()).collect();
        Error::validation(format!(
            "Unknown external connection {name}; supported: {}",
            known.join(", ")
        ))
    })
}

fn check_upstreams(name: &RepositoryName, upstreams: &[RepositoryName]) -> Result<()> {
    if upstreams.len() > MAX_DIRECT_UPSTREAMS {
        return Err(Error::quota(
            ResourceKind::Repository,
            name.as_str(),
            format!("A repository can have at most {MAX_DIRECT_UPSTREAMS} upstream repositories"),
        ));
    }
    if upstreams.contains(name) {
        return Err(Error::validation(format!(
            "Repository {name} cannot be its own upstream"
        )));
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = upstreams.iter().find(|u| !seen.insert(u.as_str())) {
        return Err(Error::validation(format!(
            "Upstream repository {dup} is listed more than once"
        )));
    }
    Ok(())
}

fn check_unique_tag_keys(tags: &[Tag]) -> Result<()> {
    let mut seen = BTreeSet::new();
    if let Some(dup) = tags.iter().find(|t| !seen.insert(t.key.as_str())) {
        return Err(Error::validation(format!(
            "Tag key {} is given more than once",
            dup.key
        )));
    }
    Ok(())
}

fn check_tag_count(count: usize, limit: u32) -> Result<()> {
    if count > limit as usize {
        return Err(Error::QuotaExceeded {
            resource_type: None,
            resource_id: None,
            message: format!("A resource can have at most {limit} tags"),
        });
    }
    Ok(())
}
