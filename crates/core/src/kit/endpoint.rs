//! Who a package-endpoint request acts as, and on which repository.

use reliquary_store::RepositoryKey;
use reliquary_types::{AccountId, DomainName, RepositoryName};

use crate::service::{Caller, Service};
use crate::{Error, Result};

impl Service {
    /// Authenticates a package-endpoint request: the token must be valid, unexpired and scoped
    /// to the domain named in the path (`{domain}-{owner}`); the repository must exist.
    ///
    /// # Errors
    /// `AccessDenied` for any token problem (rendered 401 by the endpoints), `Validation` for a
    /// malformed path, `NotFound`.
    pub async fn endpoint_repository(
        &self,
        domain_and_owner: &str,
        repository: &str,
        token: Option<&str>,
        now_seconds: i64,
    ) -> Result<(Caller, RepositoryKey)> {
        let denied = |why: &str| Error::AccessDenied {
            message: why.to_owned(),
        };
        let token = token.ok_or_else(|| denied("An authorization token is required"))?;
        let claims = self
            .verify_token(token, now_seconds)
            .map_err(|e| denied(&e.to_string()))?;
        let (domain, owner) = domain_and_owner
            .rsplit_once('-')
            .ok_or_else(|| Error::validation(format!("Invalid domain path {domain_and_owner}")))?;
        if claims.domain != domain || claims.domain_owner != owner {
            return Err(denied("The token is not valid for this domain"));
        }
        let parse = || {
            Error::validation(format!(
                "Invalid repository path {domain_and_owner}/{repository}"
            ))
        };
        let account = AccountId::parse(&claims.account).map_err(|_| parse())?;
        let caller = Caller {
            account,
            access_key_id: claims.principal,
        };
        let cache_key = (domain_and_owner.to_owned(), repository.to_owned());
        let stamp = self.store().changes();
        if let Some(key) = self.hot.repositories.get(&cache_key, stamp) {
            return Ok((caller, key));
        }
        let domain = DomainName::parse(domain).map_err(|_| parse())?;
        let owner = AccountId::parse(owner).map_err(|_| parse())?;
        let name = RepositoryName::parse(repository).map_err(|_| parse())?;
        let key = self
            .repository_key(&caller, domain, Some(owner), &name)
            .await?;
        self.hot.repositories.insert(cache_key, stamp, key.clone());
        Ok((caller, key))
    }

    /// `{public-url}/{format}/d/{domain}-{owner}/{repo}`, the base of a repository's endpoint
    /// URLs as the format's documents link them (no trailing slash).
    #[must_use]
    pub fn endpoint_base(&self, format: &str, repository: &RepositoryKey) -> String {
        format!(
            "{}/{format}/d/{}-{}/{}",
            self.config().public_url,
            repository.domain.name,
            repository.domain.owner,
            repository.name
        )
    }
}
